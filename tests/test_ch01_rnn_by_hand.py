"""Chapter 1's exercise beyond what every assignment gets (tests/test_assignments.py): its named
mistakes and their messages, its numpy-only notebook, and the learner's visible self-checks."""
import re

import nbformat
import numpy as np
import pytest

from conftest import REPO, build_submission, copy_released, grade_submissions, solution_sources

from autograder.course import Course

ASSIGNMENT = "ch01_rnn_by_hand"
MANIFEST = Course().assignment(ASSIGNMENT)
POINTS = {name: part.points for name, part in MANIFEST.parts.items()}
FULL = MANIFEST.auto_points


def _release(course):
    return nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)


def test_student_notebook_imports_nothing_but_numpy(released_course):
    for cell in _release(released_course).cells:
        if cell.cell_type == "code":
            imports = set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", cell.source, re.M))
            assert imports <= {"numpy"}, f"cell {cell.metadata['nbgrader']['grade_id']} imports {imports}"


def test_self_checks_compare_worked_values_and_never_mention_the_grader(released_course):
    text = released_course.release_notebook(ASSIGNMENT).read_text()
    assert "autograder" not in text
    tests = [c for c in _release(released_course).cells if c.metadata.get("nbgrader", {}).get("grade")
             and not c.metadata["nbgrader"].get("solution")]
    assert all("check_close" in c.source or "assert" in c.source for c in tests), "every part has a visible self-check"


def _run(notebook, tmp_path):
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_self_checks_pass_with_the_reference_in_a_plain_kernel(tmp_path, released_course):
    """A learner who completes the notebook sees every self-check pass (run with nbclient)."""
    notebook = build_submission(released_course)
    _run(notebook, tmp_path)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert "".join(o.get("text", "") for o in outputs).count("✓") >= 15
    assert not any(o.output_type == "error" for o in outputs)


def test_self_checks_stop_a_wrong_answer_with_a_message(tmp_path, released_course):
    """The learner's visible check on Part 1 says which call is wrong and names the mistake."""
    from nbclient.exceptions import CellExecutionError

    wrong = "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return np.tanh(w_x * x_t + w_h * h_prev)"
    with pytest.raises(CellExecutionError) as failure:
        _run(build_submission(released_course, {"rnn_step_scalar": wrong}), tmp_path)
    assert "h_t for x_t = -1, h_prev = 0.5, w_x = 2, w_h = -0.6, b = 0.5: the bias b is missing" in str(failure.value)


def _setup_namespace(course):
    """The release's setup cell (the self-checks' helpers), run here."""
    setup = next(c for c in _release(course).cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    namespace = {}
    exec(setup.source, namespace)
    return namespace


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_self_checks_use_the_graders_tolerance(released_course, dtype):
    """A result the hidden checks accept passes the visible ones and the other way round: the
    visible `same` and the grader's `compare` agree around the tolerance, in float64 and float32."""
    from autograder.checking import FLOAT32_TOL, FLOAT64_TOL, compare

    same = _setup_namespace(released_course)["same"]
    tol = FLOAT32_TOL if dtype == np.float32 else FLOAT64_TOL
    expected = np.array([[0.5, -2.0, 1e-9], [3.0, 0.0, -0.25]])
    for factor in (0.2, 0.9, 1.1, 5.0):
        got = (expected + factor * (tol["atol"] + tol["rtol"] * np.abs(expected))).astype(dtype)
        assert same(got, expected) == (compare(got, expected, **tol) is None), (dtype, factor)
        assert same(got, expected) == (factor < 1), (dtype, factor)


def test_self_check_helpers_name_a_known_mistake_and_a_wrong_structure(released_course):
    helpers = _setup_namespace(released_course)
    with pytest.raises(AssertionError, match="y: the bias is missing"):
        helpers["check_close"](np.array([1.0, 2.0]), [1.5, 2.5], "y", mistakes=[([1.0, 2.0], "the bias is missing")])
    with pytest.raises(AssertionError, match="looks transposed"):
        helpers["check_close"](np.ones((3, 2)), np.ones((2, 3)), "h")
    with pytest.raises(AssertionError, match="should return a pair"):
        helpers["first_of_pair"](np.ones((2, 3)), "rnn_step_forward")
    with pytest.raises(AssertionError, match="tuple of 2 items"):
        helpers["check_close"]((np.ones((2, 1)), []), np.ones((2, 1)), "y")


def test_the_part_5_self_check_reads_out_with_the_lessons_numbers(released_course):
    """The self-check's worked read-out uses the lesson's v and c (the lesson computes them)."""
    lesson = (REPO / "chapters" / "01_rnn_by_hand" / "lesson.md").read_text()
    v, c = re.search(r"^v, c = ([-\d.]+), ([-\d.]+)$", lesson, re.M).groups()
    part5 = next(cell.source for cell in _release(released_course).cells
                 if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_many_to_one")
    assert f"V = {float(v):g} and c = {float(c):g}" in part5
    assert f"V, c = np.array([[{v}]]), np.array([{c}])" in part5


def test_mutants_and_fair_alternatives_cover_every_part():
    """The mutation gate's list for this chapter (graded for real by tests/test_mutants.py): at
    least 30 mistakes, every part has some, and at least 10 fair alternatives."""
    from autograder.mutants import ch01_rnn_by_hand as listed

    assert len(listed.MUTANTS) >= 30 and len(listed.FAIR) >= 10
    assert {part for m in listed.MUTANTS for part in m.named} == set(POINTS)
    assert len({m.name for m in listed.MUTANTS}) == len(listed.MUTANTS)
    reference = solution_sources()
    for entry in listed.MUTANTS + listed.FAIR:
        assert entry.answers and all(source != reference[cell] for cell, source in entry.answers.items()), entry.name


# Plausible mistakes as a student would type them: student -> {answer cell: source}.
MISTAKES = {
    "wrong_scalar": {"rnn_step_scalar": "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return w_x * x_t + w_h * h_prev + b"},
    "wrong_step_relu": {"rnn_step_forward": solution_sources()["rnn_step_forward"].replace("activation(nonlinearity)(z)", "np.tanh(z)")},
    "wrong_step_bias": {"rnn_step_forward": solution_sources()["rnn_step_forward"].replace(" + b_ih", "").replace(" + b_hh", "")},
    "wrong_combined_order": {"combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.concatenate([W_hh, W_ih], axis=1)"},
    "wrong_many_to_one": {"many_to_one_forward": solution_sources()["many_to_one_forward"].replace("out[-1]", "out[0]")},
}


def test_every_mistake_really_changes_the_reference():
    reference = solution_sources()
    for student, answers in MISTAKES.items():
        assert all(source != reference[cell] for cell, source in answers.items()), f"{student} is the reference"


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    """One grading run of every mistake."""
    tmp = tmp_path_factory.mktemp(ASSIGNMENT)
    course = copy_released(released_course, tmp / "course")
    return grade_submissions(course, {s: build_submission(course, a) for s, a in MISTAKES.items()}, tmp)


@pytest.mark.parametrize("student, part, words, callers", [
    ("wrong_scalar", "test_rnn_step_scalar", "tanh is missing", []),
    # rnn_forward's relu cases call the student's step, so Part 4 fails too and says why
    ("wrong_step_relu", "test_rnn_step_forward", "'relu' is ignored", ["test_rnn_forward"]),
    ("wrong_combined_order", "test_rnn_step_combined", "wrong order", []),
    ("wrong_many_to_one", "test_many_to_one", "LAST hidden state", []),
])
def test_a_wrong_part_loses_its_points_and_is_explained(graded, student, part, words, callers):
    result = graded[student]
    assert result["score"] == FULL - POINTS[part] - sum(POINTS[c] for c in callers)
    assert result["parts"][part]["score"] == 0
    assert words in result["parts"][part]["message"], result["parts"][part]["message"]
    for caller in callers:
        assert "Part 2" in result["parts"][caller]["message"], result["parts"][caller]["message"]
    assert all(p["score"] == POINTS[g] for g, p in result["parts"].items() if g not in [part, *callers])


def test_a_wrong_step_is_named_where_later_parts_reuse_it(graded):
    """rnn_forward and many_to_one_forward call the student's step: the messages say so."""
    result = graded["wrong_step_bias"]
    assert "biases are missing" in result["parts"]["test_rnn_step_forward"]["message"]
    for later in ("test_rnn_forward", "test_many_to_one"):
        assert result["parts"][later]["score"] == 0
        assert "Part 2" in result["parts"][later]["message"], result["parts"][later]["message"]
    assert result["parts"]["test_rnn_step_scalar"]["score"] == POINTS["test_rnn_step_scalar"]
