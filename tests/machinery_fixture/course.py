"""Write the fixture assignment into a course folder: its manifest and its instructor notebook."""
import inspect
import shutil

import nbformat

from autograder.course import DEFAULT_ROOT, Course
from autograder.sync import cell_text
from tests.machinery_fixture import reference as ref

NAME = "fixture_machinery"
POINTS = {"test_step_forward": 2, "test_step_backward": 3, "test_tiny_rnn": 3, "test_trained_model": 2}
WRITTEN = {"written_answer": 1}

MANIFEST = f"""\
title = "Grading machinery fixture"
checks = "tests.machinery_fixture.checks"
preload = ["torch"]

[limits]
cell_timeout = 20
notebook_timeout = 120
memory_mb = 1024

[parts.test_step_forward]
points = 2
answers = ["step_forward"]

[parts.test_step_backward]
points = 3
answers = ["step_backward"]
depends = ["test_step_forward"]

[parts.test_tiny_rnn]
points = 3
answers = ["tiny_rnn"]

[parts.test_trained_model]
points = 2
answers = ["fit_predict"]

[written.written_answer]
points = 1
"""

SETUP = "import numpy as np\nimport torch\nfrom torch import nn\n\n\n" + inspect.getsource(ref.make_series)

VISIBLE = {
    "test_step_forward": """\
h, cache = step_forward(np.ones((1, 2)), np.zeros((1, 2)), np.eye(2), np.eye(2), np.zeros(2))
assert np.allclose(h, np.tanh(1.0)), "h = tanh(x Wx + h_prev Wh + b)"
""",
    "test_step_backward": """\
h, cache = step_forward(np.ones((1, 2)), np.zeros((1, 2)), np.eye(2), np.eye(2), np.zeros(2))
grads = step_backward(np.ones((1, 2)), cache)
assert np.allclose(grads["db"], 1 - np.tanh(1.0) ** 2), "db = sum over the batch of dh * (1 - h**2)"
""",
    "test_tiny_rnn": """\
out = TinyRNN(2, 3)(torch.zeros(4, 5, 2))
assert tuple(out.shape) == (4, 5, 3), "out has shape (N, T, H)"
""",
    "test_trained_model": """\
X_CHECK, Y_CHECK = make_series(200, seed=2)
assert np.mean((predict(model, X_CHECK) - Y_CHECK) ** 2) < 0.02, "the forecaster should beat 0.02 MSE"
""",
}


def _meta(grade_id, *, grade=False, solution=False, locked=True, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _solution(grade_id, source):
    return nbformat.v4.new_code_cell(source, metadata=_meta(grade_id, solution=True, locked=False))


def _test(grade_id):
    hidden = (f"### BEGIN HIDDEN TESTS\nfrom autograder.hidden import run_hidden_check\n"
              f"run_hidden_check({NAME!r}, {grade_id!r}, globals())\n### END HIDDEN TESTS")
    return nbformat.v4.new_code_cell(VISIBLE[grade_id] + hidden, metadata=_meta(grade_id, grade=True, points=POINTS[grade_id]))


def _wrapped(source):
    """A whole cell as the solution: the release replaces all of it by the stub."""
    return f"### BEGIN SOLUTION\n{source}\n### END SOLUTION"


def notebook():
    cells = [
        nbformat.v4.new_markdown_cell("# Fixture: caches, gradients, torch modules, trained models",
                                      metadata=_meta("intro")),
        nbformat.v4.new_code_cell(SETUP, metadata=_meta("setup")),
        _solution("step_forward", cell_text(ref.step_forward, solution=True)), _test("test_step_forward"),
        _solution("step_backward", cell_text(ref.step_backward, solution=True)), _test("test_step_backward"),
        _solution("tiny_rnn", _wrapped(ref.TINY_RNN)), _test("test_tiny_rnn"),
        _solution("fit_predict", _wrapped(ref.FIT)),
        nbformat.v4.new_code_cell("X_TRAIN, Y_TRAIN = make_series(300, seed=1)\nmodel = fit(X_TRAIN, Y_TRAIN)",
                                  metadata=_meta("train")),
        _test("test_trained_model"),
        nbformat.v4.new_markdown_cell("Why must the forecaster never see the test targets?",
                                      metadata=_meta("written_answer", grade=True, solution=True, locked=False,
                                                     points=WRITTEN["written_answer"])),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def write_course(root, release=True):
    """A course at ``root`` listing only the fixture assignment, released when asked."""
    course = Course(root)
    (course.path("source", NAME)).mkdir(parents=True)
    nbformat.write(notebook(), str(course.source_notebook(NAME)))
    course.path("assignments").mkdir()
    course.path("assignments", f"{NAME}.toml").write_text(MANIFEST)
    shutil.copy(DEFAULT_ROOT / "nbgrader_config.py", course.path("nbgrader_config.py"))
    if release:
        course.nbgrader("generate_assignment", NAME, "--force")
    return course


def answer_sources():
    """grade_id -> the reference answer as a student would type it."""
    strip = lambda text: "\n".join(l for l in text.splitlines() if "### " not in l)
    return {"step_forward": strip(cell_text(ref.step_forward, solution=True)),
            "step_backward": strip(cell_text(ref.step_backward, solution=True)),
            "tiny_rnn": ref.TINY_RNN, "fit_predict": ref.FIT,
            "written_answer": "The targets are the future; seeing them makes the score meaningless."}
