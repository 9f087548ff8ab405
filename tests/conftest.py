"""Shared fixtures: a released copy of the course, and submissions built from the release."""
import copy
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

from autograder.course import Course, copy_course  # noqa: E402

ASSIGNMENT = "ch01_rnn_by_hand"


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """A course folder with the source notebooks, released once per test session."""
    root = tmp_path_factory.mktemp("released") / "course"
    course = copy_course(Course(), root)
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    return course


@pytest.fixture
def course(released_course, tmp_path):
    """A fresh copy of the released course (its own gradebook) for one test."""
    root = tmp_path / "course"
    shutil.copytree(released_course.root, root)
    return Course(root)


def solution_sources(assignment=ASSIGNMENT):
    """grade_id -> the reference code as a student would type it (no solution markers); written
    answers get a student's own sentence, never the model answer."""
    source = nbformat.read(REPO / "autograder" / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "markdown":
            answers[meta["grade_id"]] = "A student's own answer: weights are shared across time steps."
        elif meta.get("solution"):
            answers[meta["grade_id"]] = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", cell.source).strip()
    return answers


def build_submission(course, answers=None, assignment=ASSIGNMENT, blank=False):
    """A notebook from the release with every answer filled in (the reference unless overridden).

    answers: grade_id -> source replacing that answer cell.
    blank: keep the release's stubs except for the answers given.
    """
    notebook = nbformat.read(course.release_notebook(assignment), as_version=4)
    reference = {} if blank else solution_sources(assignment)
    reference.update(answers or {})
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in reference:
            cell.source = reference[grade_id]
    return notebook


def write_submissions(folder, submissions, assignment=ASSIGNMENT):
    """submissions: student -> notebook node, bytes, or None (an empty folder)."""
    folder = Path(folder)
    for student, content in submissions.items():
        target = folder / student
        target.mkdir(parents=True, exist_ok=True)
        if content is None:
            continue
        path = target / f"{assignment}.ipynb"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nbformat.write(copy.deepcopy(content), str(path))
    return folder


def grade_submissions(course, submissions, tmp_path, assignment=ASSIGNMENT, jobs=2, limits=None):
    """Collect and autograde; returns {student: result}."""
    from autograder.autograde import autograde
    from autograder.course import collect

    inbox = write_submissions(tmp_path / "inbox", submissions, assignment)
    collect(course, assignment, inbox)
    return {r.student: r.to_dict() for r in autograde(course, assignment, jobs, limits=limits)}
