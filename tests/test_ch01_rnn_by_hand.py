"""Chapter 1's exercise beyond what every assignment gets (tests/test_assignments.py): its named
mistakes and their messages, its numpy-only notebook, and the learner's visible self-checks."""
import re

import nbformat
import pytest

from conftest import build_submission, copy_released, grade_submissions, solution_sources

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
    """The learner's visible check on Part 1 names the worked-example value that is wrong."""
    from nbclient.exceptions import CellExecutionError

    wrong = "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return np.tanh(w_x * x_t + w_h * h_prev)"
    with pytest.raises(CellExecutionError) as failure:
        _run(build_submission(released_course, {"rnn_step_scalar": wrong}), tmp_path)
    assert "h_1 of the worked example: values differ" in str(failure.value)


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


@pytest.mark.parametrize("student, part, words", [
    ("wrong_scalar", "test_rnn_step_scalar", "tanh is missing"),
    ("wrong_step_relu", "test_rnn_step_forward", "'relu' is ignored"),
    ("wrong_combined_order", "test_rnn_step_combined", "wrong order"),
    ("wrong_many_to_one", "test_many_to_one", "LAST hidden state"),
])
def test_one_wrong_part_loses_exactly_its_points_and_is_explained(graded, student, part, words):
    result = graded[student]
    assert result["score"] == FULL - POINTS[part]
    assert result["parts"][part]["score"] == 0
    assert words in result["parts"][part]["message"], result["parts"][part]["message"]
    assert all(p["score"] == POINTS[g] for g, p in result["parts"].items() if g != part)


def test_a_wrong_step_is_named_where_later_parts_reuse_it(graded):
    """rnn_forward and many_to_one_forward call the student's step: the messages say so."""
    result = graded["wrong_step_bias"]
    assert "bias is missing" in result["parts"]["test_rnn_step_forward"]["message"]
    for later in ("test_rnn_forward", "test_many_to_one"):
        assert result["parts"][later]["score"] == 0
        assert "Part 2" in result["parts"][later]["message"], result["parts"][later]["message"]
    assert result["parts"]["test_rnn_step_scalar"]["score"] == POINTS["test_rnn_step_scalar"]
