"""Build an assignment in code: nbgrader cells, the instructor notebook, a course that lists it.

The course's own chapters keep their instructor notebooks in git (autograder/source/); this is
for assignments made on the fly: the fixture the tests grade and the benchmark's torch exercise.
"""
import shutil

import nbformat

from autograder.course import DEFAULT_ROOT, Course


def _meta(grade_id, *, grade=False, solution=False, locked=True, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def text(grade_id, source):
    """A read-only markdown cell."""
    return nbformat.v4.new_markdown_cell(source, metadata=_meta(grade_id))


def given(grade_id, source):
    """A read-only code cell (imports, data, a training run over the student's functions)."""
    return nbformat.v4.new_code_cell(source, metadata=_meta(grade_id))


def answer(grade_id, source):
    """An answer cell whose whole source is the solution: the release holds only the stub."""
    return nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{source}\n### END SOLUTION",
                                     metadata=_meta(grade_id, solution=True, locked=False))


def test(assignment, grade_id, points, visible):
    """A graded test cell: a visible self-check, then the hidden check (autograder/hidden.py)."""
    hidden = (f"### BEGIN HIDDEN TESTS\nfrom autograder.hidden import run_hidden_check\n"
              f"run_hidden_check({assignment!r}, {grade_id!r}, globals())\n### END HIDDEN TESTS")
    return nbformat.v4.new_code_cell(visible.rstrip("\n") + "\n" + hidden,
                                     metadata=_meta(grade_id, grade=True, points=points))


def written(grade_id, points, question):
    """A written answer, graded by hand."""
    return nbformat.v4.new_markdown_cell(question, metadata=_meta(grade_id, grade=True, solution=True,
                                                                 locked=False, points=points))


def write_course(root, name, cells, manifest, release=True):
    """A course at ``root`` listing one assignment ``name``: its notebook and manifest (TOML text)."""
    course = Course(root)
    course.path("source", name).mkdir(parents=True)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(course.source_notebook(name)))
    course.path("assignments").mkdir()
    course.path("assignments", f"{name}.toml").write_text(manifest)
    shutil.copy(DEFAULT_ROOT / "nbgrader_config.py", course.path("nbgrader_config.py"))
    if release:
        course.nbgrader("generate_assignment", name, "--force")
    return course

