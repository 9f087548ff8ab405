"""One source of truth: instructor notebooks equal `solutions/` (code) and the manifests (points)."""
import copy
import dataclasses

import nbformat
import pytest

from autograder.course import Course
from autograder.sync import SyncError, cell_text, solution_functions, sync

COURSE = Course()
ASSIGNMENTS = COURSE.assignments()


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _cell(notebook, grade_id):
    return next(c for c in notebook.cells if _nbgrader(c).get("grade_id") == grade_id)


def _copy(assignment, tmp_path, edit):
    """A copy of ``assignment``'s instructor notebook with ``edit(notebook)`` applied."""
    notebook = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    edit(notebook)
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(notebook, str(path))
    return path


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_source_notebook_matches_solutions_and_manifest(assignment):
    drift = sync(COURSE.source_notebook(assignment), COURSE.assignment(assignment))
    assert drift == [], f"{assignment}: cells {drift} differ; run `python -m autograder sync --write`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_cells_carry_the_manifests_points(assignment):
    """Read directly, not through sync: the notebook's points are the manifest's, cell for cell."""
    manifest = COURSE.assignment(assignment)
    notebook = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    points = {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in notebook.cells if _nbgrader(c).get("grade")}
    assert points == {**{n: p.points for n, p in manifest.parts.items()}, **manifest.written}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_answer_cell_has_a_reference_function(assignment):
    notebook = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    code_answers = {_nbgrader(c)["grade_id"] for c in notebook.cells
                    if _nbgrader(c).get("solution") and c.cell_type == "code"}
    assert code_answers
    assert code_answers <= set(solution_functions(COURSE.assignment(assignment))), "an answer cell has no reference function"


def _first_code_answer(notebook):
    return next(c for c in notebook.cells if _nbgrader(c).get("solution") and c.cell_type == "code")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_drifted_cell_is_detected_and_rewritten(assignment, tmp_path):
    def edit(notebook):
        cell = _first_code_answer(notebook)
        cell.source = cell.source.replace("### END SOLUTION", "    x = 1  # an edit made in the notebook only\n    ### END SOLUTION")

    path = _copy(assignment, tmp_path, edit)
    manifest = COURSE.assignment(assignment)
    grade_id = _nbgrader(_first_code_answer(nbformat.read(path, as_version=4)))["grade_id"]
    assert sync(path, manifest) == [grade_id]
    sync(path, manifest, write=True)
    assert sync(path, manifest) == []
    assert _first_code_answer(nbformat.read(path, as_version=4)).source == \
        _first_code_answer(nbformat.read(COURSE.source_notebook(assignment), as_version=4)).source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_drifted_points_are_detected_and_rewritten_from_the_manifest(assignment, tmp_path):
    manifest = COURSE.assignment(assignment)
    part = next(iter(manifest.parts))
    written = next(iter(manifest.written), None)
    drifted = [part] + ([written] if written else [])

    def edit(notebook):
        for grade_id in drifted:
            _nbgrader(_cell(notebook, grade_id))["points"] += 5

    path = _copy(assignment, tmp_path, edit)
    before = nbformat.read(path, as_version=4)
    assert sorted(sync(path, manifest)) == sorted(drifted)
    assert nbformat.read(path, as_version=4) == before, "without --write nothing is changed"
    sync(path, manifest, write=True)
    after = nbformat.read(path, as_version=4)
    assert _nbgrader(_cell(after, part))["points"] == manifest.parts[part].points
    if written:
        assert _nbgrader(_cell(after, written))["points"] == manifest.written[written]
    assert [c.source for c in after.cells] == [c.source for c in before.cells], "the cells' code stays as it is"
    assert sync(path, manifest) == []


def _problems(assignment, tmp_path, edit, manifest=None):
    path = _copy(assignment, tmp_path, edit)
    with pytest.raises(SyncError) as error:
        sync(path, manifest or COURSE.assignment(assignment), write=True)
    return str(error.value)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_graded_cell_missing_from_the_manifest_is_named(assignment, tmp_path):
    def edit(notebook):
        extra = copy.deepcopy(_cell(notebook, next(iter(COURSE.assignment(assignment).parts))))
        extra.metadata["nbgrader"]["grade_id"] = "test_not_in_manifest"
        extra["id"] = "not-in-manifest"
        notebook.cells.append(extra)

    assert "graded cell test_not_in_manifest has no [parts.test_not_in_manifest]" in _problems(assignment, tmp_path, edit)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_manifest_part_without_its_cell_is_named(assignment, tmp_path):
    part = list(COURSE.assignment(assignment).parts)[-1]

    def edit(notebook):
        notebook.cells.remove(_cell(notebook, part))

    assert f"manifest [parts.{part}] has no graded cell" in _problems(assignment, tmp_path, edit)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_part_grading_a_cell_that_is_no_answer_is_named(assignment, tmp_path):
    manifest = COURSE.assignment(assignment)
    part = next(iter(manifest.parts.values()))
    wrong_part = dataclasses.replace(part, answers=part.answers + ("no_such_cell",))
    wrong = dataclasses.replace(manifest, parts={**manifest.parts, part.name: wrong_part})
    assert f"part {part.name} grades no_such_cell, which is not an answer cell" in \
        _problems(assignment, tmp_path, lambda notebook: None, wrong)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_test_cell_listed_as_a_written_answer_is_named(assignment, tmp_path):
    manifest = COURSE.assignment(assignment)
    last = list(manifest.parts)[-1]
    parts = {n: p for n, p in manifest.parts.items() if n != last}
    wrong = dataclasses.replace(manifest, parts=parts, written={**manifest.written, last: manifest.parts[last].points})
    assert f"manifest [written.{last}] names a test cell" in _problems(assignment, tmp_path, lambda notebook: None, wrong)


def test_a_failed_sync_leaves_the_notebook_as_it_was(tmp_path):
    assignment = ASSIGNMENTS[0]
    part = list(COURSE.assignment(assignment).parts)[-1]
    path = _copy(assignment, tmp_path, lambda notebook: notebook.cells.remove(_cell(notebook, part)))
    before = path.read_text()
    with pytest.raises(SyncError):
        sync(path, COURSE.assignment(assignment), write=True)
    assert path.read_text() == before


def test_solution_markers_wrap_exactly_the_body_after_the_docstring():
    from solutions import rnn

    text = cell_text(rnn.rnn_step_scalar, solution=True)
    before, body = text.split("    ### BEGIN SOLUTION\n")
    assert before.startswith("def rnn_step_scalar(") and before.rstrip().endswith('"""')
    assert body == "    return np.tanh(w_x * x_t + w_h * h_prev + b)\n    ### END SOLUTION"
