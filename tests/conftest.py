"""Shared fixtures: a released copy of the course, and submissions built from the release.

The submission builders live in autograder/submissions.py (benchmarks use them too); the wrappers
here default to ASSIGNMENT for the tests that grade chapter 1's notebook as their subject.
"""
import ast
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

from autograder import submissions  # noqa: E402
from autograder.course import Course, copy_course  # noqa: E402

ASSIGNMENT = "ch01_rnn_by_hand"  # the notebook the robustness and instructor-flow tests submit
ASSIGNMENTS = Course().assignments()  # every assignment the course lists: the generic tests cover each


@pytest.fixture(scope="session")
def site():
    """The book, built once per session as `make book` builds it: the student notebooks released
    into the chapters, MathJax and the notebook twins prepared (_ext/prepare_site.py), then
    `jupyter-book build . -n -W --keep-going` from an empty _build. tests/test_book.py checks its
    files, tests/test_site_browser.py opens it in a browser.

    RNN_REUSE_BUILD=1 uses the _build/html already there (to look again at a build: quicker,
    but it checks whatever was built last)."""
    html = REPO / "_build" / "html"
    if os.environ.get("RNN_REUSE_BUILD") == "1" and (html / "index.html").exists():
        return html
    subprocess.run([sys.executable, "-m", "autograder", "release", "--site"], cwd=REPO, check=True)
    subprocess.run([sys.executable, str(REPO / "_ext" / "prepare_site.py")], cwd=REPO, check=True)
    shutil.rmtree(REPO / "_build", ignore_errors=True)
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-n", "-W", "--keep-going"],
                          cwd=REPO, capture_output=True, text=True)
    reports = "\n".join(p.read_text() for p in (html / "reports").glob("**/*.log")) if (html / "reports").exists() else ""
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}\n{reports}"
    return html


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """A course folder with the source notebooks, every listed assignment released once per session."""
    root = tmp_path_factory.mktemp("released") / "course"
    course = copy_course(Course(), root)
    for assignment in course.assignments():
        course.nbgrader("generate_assignment", assignment, "--force")
    return course


@pytest.fixture
def course(released_course, tmp_path):
    """A fresh copy of the released course (its own gradebook) for one test."""
    return copy_released(released_course, tmp_path / "course")


def copy_released(released_course, root):
    shutil.copytree(released_course.root, root)
    return Course(root)


def solution_sources(assignment=ASSIGNMENT):
    """grade_id -> the reference answer as a student would type it (see autograder/submissions.py)."""
    return submissions.solution_sources(assignment)


def build_submission(course, answers=None, assignment=ASSIGNMENT, blank=False):
    """The release of ``assignment`` with every answer filled in (see autograder/submissions.py)."""
    return submissions.build_submission(course, answers, assignment, blank)


def write_submissions(folder, submitted, assignment=ASSIGNMENT):
    """submitted: student -> notebook node, bytes, or None (an empty folder)."""
    return submissions.write_submissions(folder, submitted, assignment)


def grade_submissions(course, submitted, tmp_path, assignment=ASSIGNMENT, jobs=2, limits=None):
    """Collect and autograde; returns {student: result}."""
    from autograder.autograde import autograde
    from autograder.course import collect

    inbox = write_submissions(tmp_path / "inbox", submitted, assignment)
    collect(course, assignment, inbox)
    return {r.student: r.to_dict() for r in autograde(course, assignment, jobs, limits=limits)}


def printed_probe(course, student, assignment=ASSIGNMENT):
    """The dict a probing student's cell printed as ``PROBE {json}``, from its autograded notebook."""
    import json

    import nbformat

    path = course.path("autograded", student, assignment, f"{assignment}.ipynb")
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("PROBE "):
                    return json.loads(line[len("PROBE "):])
    raise AssertionError(f"{student}'s probe printed nothing; its cells' outputs are in {path}")


@pytest.fixture(scope="module")
def torch():
    """torch, for the tests that compare with torch.nn; they are skipped where it is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def S(torch):
    """solutions.seq2seq, chapter 5's torch reference (imports torch)."""
    from solutions import seq2seq
    return seq2seq


def seq2seq_model(torch, S, hidden=5, layers=2, seed=0):
    """A seeded float64 Seq2Seq with non-zero biases everywhere."""
    torch.manual_seed(seed)
    model = S.Seq2Seq(hidden=hidden, layers=layers).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def torch_weights(module, suffix="_l0"):
    """A torch recurrent module's layer weights as numpy arrays named like the reference's:
    W_ih, W_hh, b_ih, b_hh (float64 when the module is .double())."""
    w = {k: v.detach().numpy().copy() for k, v in module.named_parameters()}
    return dict(W_ih=w["weight_ih" + suffix], W_hh=w["weight_hh" + suffix],
                b_ih=w["bias_ih" + suffix], b_hh=w["bias_hh" + suffix])


def release_cell_sources(assignment):
    """(grade_id, source) of the instructor notebook's code cells as the release has them: hidden
    tests removed; answer cells keep their markers (run_release_cells fills them)."""
    import nbformat

    notebook = nbformat.read(Course().source_notebook(assignment), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            meta = cell.metadata.get("nbgrader", {})
            yield meta, re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source,
                               flags=re.S)


def release_cell_imports(assignment):
    """{grade_id: top-level modules imported} of the release's code cells."""
    return {meta["grade_id"]: {(node.module if isinstance(node, ast.ImportFrom) else alias.name)
                               .split(".")[0]
                               for node in ast.walk(ast.parse(source))
                               if isinstance(node, (ast.Import, ast.ImportFrom))
                               for alias in node.names}
            for meta, source in release_cell_sources(assignment)}


def run_release_cells(assignment, answers=None):
    """The release's code cells (no hidden tests, no solution markers), answer cells filled with
    the reference or with `answers`, run in this process. Returns what they printed; an
    AssertionError of a visible self-check propagates."""
    from autograder.submissions import solution_sources as reference

    filled = {**reference(assignment), **(answers or {})}
    namespace, out = {}, io.StringIO()
    with contextlib.redirect_stdout(out):
        for meta, source in release_cell_sources(assignment):
            if meta.get("solution"):
                source = filled[meta["grade_id"]]
            exec(compile(source, meta["grade_id"], "exec"), namespace)
    return out.getvalue()
