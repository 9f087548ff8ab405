"""A lesson downloaded from the site runs for a learner, on the learner's own exercise.

The learner has the lesson's notebook (the page's `{download}` link, or the theme's .ipynb button)
and their completed exercise notebook saved beside it as `exercise.ipynb`; they do not have this
repository, so `solutions` and `autograder` cannot be imported. Each test runs the notebook in a
temporary folder with a Jupyter kernel whose Python has the venv's packages but not the repository
(`python -I`, and the repository's entry that the venv's .pth file adds removed from sys.path).
Without a finished exercise the notebook must stop at its first code cell with a plain message.
Every assignment's lesson (its manifest's chapter folder) is covered; SHOWN adds, per lesson, a few
numbers its worked examples must print.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENTS

from autograder import submissions
from autograder.course import Course

REPO = Path(__file__).resolve().parent.parent
LESSONS = {a: f"{Course().assignment(a).chapter}/lesson" for a in ASSIGNMENTS}
SHOWN = {  # numbers of a lesson's worked examples, computed by the learner's functions
    "ch01_rnn_by_hand": ["0.5370"],  # h_1 = tanh(0.6)
    "ch02_bptt": ["0.6183"],  # dL/dw_h of the one-neuron example, by hand
    "ch04_stacks": ["0.1154", "-0.2665"],  # h_n of the 3-layer LSTM stack's worked example
    "ch05_seq2seq": ["0.5683"],  # MASE of the worked example (seasonal naive on one M3 series)
}
TIMEOUT = 300  # per cell


def _boot(blocked=()):
    """Python code that makes this interpreter a learner's: no folder holding the course (this
    repository, or the checkout the venv's .pth file names) on sys.path, and the modules in
    `blocked` impossible to import, as if not installed."""
    return ("import os, sys; "
            "sys.path[:] = [p for p in sys.path if not any("
            "os.path.exists(os.path.join(p or '.', m)) for m in ('solutions', 'autograder', 'lessonkit.py'))]; "
            f"sys.modules.update(dict.fromkeys({list(blocked)!r})); ")


def _learner_python(code, blocked=()):
    return subprocess.run([sys.executable, "-I", "-c", _boot(blocked) + code],
                          cwd="/", capture_output=True, text=True)


@pytest.fixture
def learner_kernel(tmp_path, monkeypatch):
    """Returns kernel_name(blocked=()): a kernelspec whose kernel cannot import the course."""
    def kernel_name(blocked=()):
        name = "learner-" + "-".join(sorted(b.replace("_", "") for b in blocked)) if blocked else "learner"
        spec = tmp_path / "jupyter" / "kernels" / name
        spec.mkdir(parents=True, exist_ok=True)
        boot = _boot(blocked) + "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-I", "-c", boot, "-f", "{connection_file}"],
            "display_name": "a learner's Python (no course repository)", "language": "python"}))
        return name

    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    return kernel_name


def test_the_learner_python_cannot_import_the_course():
    """The premise of every test below, checked with the same interpreter and sys.path."""
    for module in ("solutions", "autograder", "lessonkit"):
        proc = _learner_python(f"import {module}")
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, \
            f"`import {module}` must fail for the learner's Python: {proc.stdout}{proc.stderr}"
    proc = _learner_python("import numpy, matplotlib, ipykernel, torch")
    assert proc.returncode == 0, proc.stderr
    proc = _learner_python("import torch", blocked=["torch"])
    assert proc.returncode != 0 and "import of torch halted" in proc.stderr


def _downloads(site, lesson):
    """The lesson's notebook as the page offers it: {link text or button: path in _build/html}."""
    page = site / f"{lesson}.html"
    html = page.read_text()
    found = {}
    for cls, key in (("reference download internal", "download link"),
                     ("btn-download-notebook-button", "download button")):
        hrefs = {h for h in re.findall(rf'<a [^>]*class="[^"]*{cls}[^"]*"[^>]*href="([^"]+\.ipynb)"', html)}
        hrefs |= {h for h in re.findall(rf'<a [^>]*href="([^"]+\.ipynb)"[^>]*class="[^"]*{cls}[^"]*"', html)}
        assert len(hrefs) == 1, f"{page.name} should offer one .ipynb through its {key}, found {hrefs}"
        found[key] = (page.parent / hrefs.pop()).resolve()
        assert found[key].is_file(), f"the {key} of {page.name} points at a missing file"
    return found


def _learner_folder(tmp_path, notebook, exercise=None):
    """A folder with the downloaded lesson and, if given, the learner's exercise.ipynb."""
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "lesson.ipynb").write_bytes(notebook.read_bytes())
    if exercise is not None:
        nbformat.write(exercise, str(folder / "exercise.ipynb"))
    return folder


def _run(folder, kernel):
    from nbclient import NotebookClient

    nb = nbformat.read(str(folder / "lesson.ipynb"), as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name=kernel,
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
        return nb, None
    except Exception as error:  # nbclient's CellExecutionError: ename, evalue
        return nb, error


def _outputs(nb):
    """All the text and markdown the executed notebook shows, and its number of images."""
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            data = out.get("data", {})
            texts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
            images += "image/png" in data
    return "\n".join(texts), images


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("download, blocked", [
    ("download link", ()),                              # a learner with PyTorch
    ("download button", ("torch", "myst_nb")),          # numpy and matplotlib only
], ids=["download-link-with-torch", "download-button-without-torch"])
def test_downloaded_lesson_runs_on_the_learners_exercise(site, released_course, learner_kernel, tmp_path,
                                                         download, blocked, assignment):
    notebook = _downloads(site, LESSONS[assignment])[download]
    assert "from lessonkit import" not in notebook.read_text(), \
        "the downloaded notebook imports the course's lessonkit, which a learner does not have"
    exercise = submissions.build_submission(released_course, assignment=assignment)  # every answer filled in
    folder = _learner_folder(tmp_path, notebook, exercise)
    nb, error = _run(folder, learner_kernel(blocked))
    if "torch" in blocked and Course().assignment(assignment).uses_torch:
        # the exercise itself needs PyTorch: without it the lesson stops plainly at its first cell
        assert error is not None and error.ename == "ExerciseNotReady" and "torch" in error.evalue, error
        return
    assert error is None, f"the lesson failed for a learner with a completed exercise:\n{error}"
    text, images = _outputs(nb)
    assert "Running on your functions from exercise.ipynb." in text, \
        "the lesson did not say that it runs on the learner's exercise"
    for number in SHOWN.get(assignment, []):
        assert number in text, f"the worked example's {number} is missing from the outputs"
    uses_torch = "optional_torch(" in "".join(c.source for c in nb.cells if c.cell_type == "code")
    # Figures: every one, except those a learner without PyTorch cannot draw (a torch experiment)
    figures = sum(c.cell_type == "code" and "figure" in c.metadata.get("mystnb", {})
                  and not ("torch" in blocked and "torch" in c.source) for c in nb.cells)
    assert images >= max(figures, 1), f"the lesson's figures were not drawn ({images} images, {figures} figures)"
    if "torch" in blocked and uses_torch:
        assert "PyTorch is not installed" in text and "Skipped" in text
    elif uses_torch:
        assert "PyTorch is not installed" not in text, "the lesson did not use the learner's PyTorch"


def _stubbed(course, assignment):
    return nbformat.read(course.release_notebook(assignment), as_version=4)


def _answer_functions(assignment, parts=None):
    """The code answer cells' function names, in notebook order: of `parts`, or every one when None
    (also answers no part grades, such as chapter 1's forward pass that chapter 2's learner pastes)."""
    source = nbformat.read(Course().source_notebook(assignment), as_version=4)
    answers = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    if parts is None:
        return answers
    manifest = Course().assignment(assignment)
    return [a for a in answers if any(a in manifest.parts[p].answers for p in parts)]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("case", ["missing", "released", "one-stub", "crashing-cell"])
def test_downloaded_lesson_stops_plainly_without_a_finished_exercise(site, released_course, learner_kernel,
                                                                    tmp_path, case, assignment):
    last_part = list(Course().assignment(assignment).parts)[-1]
    first_answer = _answer_functions(assignment)[0]
    stubs = {"released": _answer_functions(assignment), "one-stub": _answer_functions(assignment, [last_part])}
    expected = {
        "missing": "there is no exercise.ipynb in",
        "released": "exercise.ipynb is not finished (still raising NotImplementedError: ",
        "one-stub": "exercise.ipynb is not finished (still raising NotImplementedError: ",
        "crashing-cell": "of exercise.ipynb stops with NameError: name 'undefined_name' is not defined",
    }[case]
    exercise = {
        "missing": None,
        "released": _stubbed(released_course, assignment),  # the release as downloaded, nothing written
        "one-stub": submissions.broken_part_submission(released_course, assignment, last_part),
        "crashing-cell": submissions.build_submission(released_course, {
            first_answer: submissions.solution_sources(assignment)[first_answer] + "\nundefined_name"},
            assignment=assignment),
    }[case]
    folder = _learner_folder(tmp_path, _downloads(site, LESSONS[assignment])["download link"], exercise)
    nb, error = _run(folder, learner_kernel())
    assert error is not None, "the lesson ran without a finished exercise and without the course"
    assert error.ename == "ExerciseNotReady", f"not the plain error: {error.ename}: {error.evalue}"
    assert expected in error.evalue
    if case in stubs:  # the stubs the lesson uses are named: every graded one, and nothing else
        named = set(re.search(r"still raising NotImplementedError: ([\w, ]+)\)", error.evalue).group(1).split(", "))
        graded = set(_answer_functions(assignment, list(Course().assignment(assignment).parts)))
        assert named <= set(stubs[case]) and graded & set(stubs[case]) <= named, error.evalue
    assert "Save your completed exercise as exercise.ipynb in the folder of this notebook" in error.evalue
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = [o for o in code[0].outputs if o.output_type == "error"]
    assert shown and shown[0].traceback == [f"ExerciseNotReady: {error.evalue}"], \
        f"the learner should see the message alone, without a traceback: {shown}"
    assert not any(c.get("outputs") for c in code[1:]), "the lesson went on past its first cell"
