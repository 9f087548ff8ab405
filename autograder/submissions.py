"""Build submissions from a release: for tests, benchmarks and demos.

A submission is the released student notebook with its answer cells filled in as a student would
type them: the reference code without solution markers, a student's own sentence for written
answers, or whatever code the caller gives for a cell. Nothing here grades; the notebooks go
through `collect` and `autograde` like any learner's.
"""
import copy
import re
from pathlib import Path

import nbformat

from autograder.course import Course

# Written answers get a sentence of their own: a copy of the model answer would be a leak to test for.
STUDENT_SENTENCE = "A student's own answer: weights are shared across time steps."


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _answer_cells(notebook):
    """grade_id -> cell, for every answer (solution) cell."""
    return {_nbgrader(c)["grade_id"]: c for c in notebook.cells if _nbgrader(c).get("solution")}


def released_assignment(course):
    """The one assignment released in ``course`` (callers that name none mean that one)."""
    released = sorted(p.parent.name for p in course.path("release").glob("*/*.ipynb"))
    if len(released) != 1:
        raise ValueError(f"name the assignment: {course.root} has {len(released)} released ({', '.join(released)})")
    return released[0]


def solution_sources(assignment, course=None):
    """grade_id -> the reference answer as a student would type it (no solution markers); written
    answers get a student's own sentence, never the model answer. Read from ``course``'s
    instructor notebook (default: this repository's course)."""
    course = course or Course()
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    answers = {}
    for grade_id, cell in _answer_cells(source).items():
        if cell.cell_type == "markdown":
            answers[grade_id] = STUDENT_SENTENCE
        else:
            answers[grade_id] = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", cell.source).strip()
    return answers


def build_submission(course, answers=None, assignment=None, blank=False):
    """A notebook from ``course``'s release with every answer filled in (the reference unless overridden).

    answers: grade_id -> source replacing that answer cell.
    assignment: default the one assignment released in ``course``.
    blank: keep the release's stubs except for the answers given.
    """
    assignment = assignment or released_assignment(course)
    notebook = nbformat.read(course.release_notebook(assignment), as_version=4)
    filled = {} if blank else solution_sources(assignment, course)
    filled.update(answers or {})
    for grade_id, cell in _answer_cells(notebook).items():
        if grade_id in filled:
            cell.source = filled[grade_id]
    return notebook


def broken_part_submission(course, assignment, part):
    """The reference answers except for ``part``'s answer cells (from the manifest), which keep
    the release's stub (`raise NotImplementedError()`)."""
    answers = course.assignment(assignment).parts[part].answers
    stubs = _answer_cells(nbformat.read(course.release_notebook(assignment), as_version=4))
    missing = [a for a in answers if a not in stubs]
    if missing:
        raise ValueError(f"{assignment}: part {part}'s answers {missing} are not answer cells of the release")
    return build_submission(course, {a: stubs[a].source for a in answers}, assignment)


def write_submissions(folder, submissions, assignment):
    """Lay out ``folder/<student>/<assignment>.ipynb`` as an instructor's inbox would be.

    submissions: student -> notebook node, bytes (a file as received), or None (an empty folder).
    """
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
