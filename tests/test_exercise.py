"""The chapter exercises as nbgrader assignments: validation, stubs, scores, and messages."""
import re

import nbformat
import pytest

from conftest import ASSIGNMENT, build_submission, grade_submissions, solution_sources

POINTS = {"test_rnn_step_scalar": 2, "test_rnn_step_forward": 3, "test_rnn_step_combined": 2,
          "test_rnn_forward": 3, "test_many_to_one": 2}
FULL = sum(POINTS.values())


def test_instructor_source_validates(released_course):
    proc = released_course.nbgrader("validate", str(released_course.source_notebook(ASSIGNMENT)))
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr


def test_every_graded_test_fails_on_the_released_stubs(released_course):
    proc = released_course.nbgrader("validate", "--invert", str(released_course.release_notebook(ASSIGNMENT)))
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout + proc.stderr


def test_release_has_stubs_visible_checks_and_no_hidden_tests(released_course):
    text = released_course.release_notebook(ASSIGNMENT).read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "run_hidden_check" not in text and "autograder" not in text
    release = nbformat.read(released_course.release_notebook(ASSIGNMENT), as_version=4)
    answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert all("YOUR CODE HERE" in c.source or "YOUR ANSWER HERE" in c.source for c in answers)
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
             and not c.metadata["nbgrader"].get("solution")]
    assert sorted(c.metadata["nbgrader"]["grade_id"] for c in tests) == sorted(POINTS)
    assert all("check_close" in c.source or "assert" in c.source for c in tests), "every part has a visible self-check"
    assert sum(c.metadata["nbgrader"]["points"] for c in tests) == FULL


def test_student_notebook_imports_nothing_but_numpy(released_course):
    release = nbformat.read(released_course.release_notebook(ASSIGNMENT), as_version=4)
    for cell in release.cells:
        if cell.cell_type == "code":
            imports = set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", cell.source, re.M))
            assert imports <= {"numpy"}, f"cell {cell.metadata['nbgrader']['grade_id']} imports {imports}"


def test_self_checks_pass_with_the_reference_in_a_plain_kernel(tmp_path, released_course):
    """A learner who completes the notebook sees every self-check pass (run with nbclient)."""
    from nbclient import NotebookClient

    notebook = build_submission(released_course)
    NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert outputs.count("✓") >= 15
    assert not any(o.output_type == "error" for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    """One grading run: correct, blank, and one wrong part at a time."""
    import shutil

    from autograder.course import Course

    tmp = tmp_path_factory.mktemp("exercise")
    shutil.copytree(released_course.root, tmp / "course")
    course = Course(tmp / "course")
    wrong = {
        "wrong_scalar": {"rnn_step_scalar": "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return w_x * x_t + w_h * h_prev + b"},
        "wrong_step_relu": {"rnn_step_forward": solution_sources()["rnn_step_forward"].replace("activation(nonlinearity)(z)", "np.tanh(z)")},
        "wrong_step_bias": {"rnn_step_forward": solution_sources()["rnn_step_forward"].replace(" + b_ih", "").replace(" + b_hh", "")},
        "wrong_combined_order": {"combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.concatenate([W_hh, W_ih], axis=1)"},
        "wrong_many_to_one": {"many_to_one_forward": solution_sources()["many_to_one_forward"].replace("out[-1]", "out[0]")},
    }
    submissions = {"correct": build_submission(course), "blank": build_submission(course, blank=True)}
    submissions.update({name: build_submission(course, answers) for name, answers in wrong.items()})
    return grade_submissions(course, submissions, tmp)


def test_correct_submission_scores_full_marks(graded):
    result = graded["correct"]
    assert result["status"] == "graded"
    assert {g: p["score"] for g, p in result["parts"].items()} == POINTS
    assert result["score"] == FULL and result["max_score"] == FULL + 2  # + the written answer


def test_blank_release_scores_zero_and_says_not_implemented(graded):
    result = graded["blank"]
    assert result["status"] == "graded" and result["score"] == 0
    assert all("not implemented" in p["message"] for p in result["parts"].values())


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
    assert all(p["score"] == p["points"] for g, p in result["parts"].items() if g != part)


def test_a_wrong_step_is_named_where_later_parts_reuse_it(graded):
    """rnn_forward and many_to_one_forward call the student's step: the messages say so."""
    result = graded["wrong_step_bias"]
    assert "bias is missing" in result["parts"]["test_rnn_step_forward"]["message"]
    for later in ("test_rnn_forward", "test_many_to_one"):
        assert result["parts"][later]["score"] == 0
        assert "Part 2" in result["parts"][later]["message"], result["parts"][later]["message"]
    assert result["parts"]["test_rnn_step_scalar"]["score"] == 2


def test_self_checks_stop_a_wrong_answer_with_a_message(tmp_path, released_course):
    """The learner's visible check on Part 1 names the worked-example value that is wrong."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    wrong = "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return np.tanh(w_x * x_t + w_h * h_prev)"
    notebook = build_submission(released_course, {"rnn_step_scalar": wrong})
    with pytest.raises(CellExecutionError) as failure:
        NotebookClient(notebook, timeout=60, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "h_1 of the worked example: values differ" in str(failure.value)
