"""One source of truth: instructor notebook code cells equal the `solutions` package."""

import nbformat

from autograder.course import Course
from autograder.sync import cell_text, solution_functions, sync

COURSE = Course()


def test_every_source_notebook_matches_solutions():
    for assignment in COURSE.assignments():
        checks = COURSE.assignment(assignment)
        drift = sync(COURSE.source_notebook(assignment), checks)
        assert drift == [], f"{assignment}: cells {drift} differ from solutions/; run `python -m autograder sync --write`"


def test_every_reference_function_used_by_an_exercise_has_a_cell():
    for assignment in COURSE.assignments():
        checks = COURSE.assignment(assignment)
        notebook = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells}
        solution_ids = {c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
        assert solution_ids <= set(solution_functions(checks)), "an answer cell has no reference function"
        assert ids  # the notebook has nbgrader cells at all


def test_a_drifted_cell_is_detected(tmp_path):
    assignment = COURSE.assignments()[0]
    checks = COURSE.assignment(assignment)
    notebook = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    cell.source = cell.source.replace("### END SOLUTION", "    x = 1  # an edit made in the notebook only\n    ### END SOLUTION")
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, str(path))
    assert sync(path, checks) == [cell.metadata["nbgrader"]["grade_id"]]
    sync(path, checks, write=True)
    assert sync(path, checks) == []


def test_solution_markers_wrap_exactly_the_body_after_the_docstring():
    from solutions import rnn

    text = cell_text(rnn.rnn_step_scalar, solution=True)
    before, body = text.split("    ### BEGIN SOLUTION\n")
    assert before.startswith("def rnn_step_scalar(") and before.rstrip().endswith('"""')
    assert body == "    return np.tanh(w_x * x_t + w_h * h_prev + b)\n    ### END SOLUTION"
