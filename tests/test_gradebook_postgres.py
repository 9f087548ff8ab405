"""The gradebook on a real PostgreSQL server (Debian's packages; .ci/run installs them)."""
import csv

import pytest

import servers
from conftest import build_submission, grade_submissions


@pytest.fixture
def postgres():
    try:
        with servers.postgres() as urls:
            yield urls["gradebook"]
    except servers.Unavailable as exc:
        pytest.skip(f"PostgreSQL: {exc}")


def test_release_autograde_and_export_on_postgresql(postgres, released_course, tmp_path):
    from nbgrader.api import Gradebook

    from autograder.course import copy_course
    from autograder.feedback import write_feedback
    from autograder.grades import export_grades

    course = copy_course(released_course, tmp_path / "course", db_url=postgres)
    course.nbgrader("generate_assignment", "ch01_rnn_by_hand", "--force")
    results = grade_submissions(course, {"alice": build_submission(course), "bob": b""}, tmp_path)
    assert (results["alice"]["status"], results["alice"]["score"]) == ("graded", 12.0)
    assert results["bob"]["status"] == "unreadable"
    with Gradebook(postgres) as gb:  # an instructor's override, as formgrader writes it
        gb.find_grade("test_rnn_forward", "ch01_rnn_by_hand", "ch01_rnn_by_hand", "alice").manual_score = 1.5
        gb.db.commit()
    rows = {r["student"]: r for r in export_grades(course, tmp_path / "grades.csv")}
    assert rows["alice"]["score"] == 10.5 and rows["alice"]["test_rnn_forward"] == 1.5
    assert rows["bob"]["status"] == "unreadable"
    [page] = [p.read_text() for p in write_feedback(course, "ch01_rnn_by_hand") if p.parts[-3] == "alice"]
    assert "score: <b>10.5 / 14</b>" in page
    assert not (tmp_path / "course" / "gradebook.db").exists(), "everything went to PostgreSQL"
    course.nbgrader("export", "--to", str(tmp_path / "nbgrader.csv"))
    assert {r["student_id"] for r in csv.DictReader(open(tmp_path / "nbgrader.csv"))} == {"alice", "bob"}
