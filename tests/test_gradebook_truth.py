"""The gradebook is the one truth for scores: formgrader's overrides reach the CSV and the feedback.

A few submissions of chapter 1 are autograded (one full, one blank, one unreadable, one the grader
fails on); then parts are scored by hand exactly as formgrader does it, and the grades CSV and the
feedback pages, written by the instructor's commands, must show those scores and agree on totals.
"""
import csv
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ASSIGNMENT, REPO, build_submission, grade_submissions

OVERRIDES = {  # student -> {grade_id: manual score}, as an instructor would set them in formgrader
    "alice": {"test_rnn_forward": 1.5, "written_answer": 2.0},
    "bob": {"test_rnn_step_scalar": 2.0},
}
PAGE_SCORE = re.compile(r"score: <b>([\d.]+) / ([\d.]+)</b>")


def set_manual_scores(course, overrides):
    """What formgrader does when a grader types a score: Grade.manual_score, committed."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        for student, scores in overrides.items():
            for grade_id, score in scores.items():
                gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, student).manual_score = score
        gb.db.commit()


def instructor(course, *args):
    """`python -m autograder ...` on the course, as the Makefile runs it."""
    proc = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), *args],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def read_csv(path):
    return {row["student"]: row for row in csv.DictReader(open(path))}


def read_pages(course):
    return {p.parts[-3]: p.read_text() for p in course.path("feedback").rglob(f"{ASSIGNMENT}.html")}


def page_score(page):
    return tuple(float(x) for x in PAGE_SCORE.search(page).groups())


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    """Four submissions autograded (gina's trips the grader itself), then scored by hand."""
    from autograder import grading
    from autograder.course import Course

    tmp = tmp_path_factory.mktemp("truth")
    shutil.copytree(released_course.root, tmp / "course")
    course = Course(tmp / "course")
    real_grade = grading.grade

    def grade_or_fail(job, zygote, checks):
        if job.student == "gina":
            raise RuntimeError("the grader broke on purpose")
        return real_grade(job, zygote, checks)

    submissions = {"alice": build_submission(course), "bob": build_submission(course, blank=True),
                   "dave": b'{"cells": [', "gina": build_submission(course)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grading, "grade", grade_or_fail)  # the pool's workers fork with it
        results = grade_submissions(course, submissions, tmp)
    set_manual_scores(course, OVERRIDES)
    instructor(course, "grades", "--out", str(tmp / "grades.csv"))
    instructor(course, "feedback", ASSIGNMENT)
    return {"course": course, "results": results, "rows": read_csv(tmp / "grades.csv"),
            "pages": read_pages(course), "tmp": tmp}


def test_every_submission_has_a_row_and_a_page_whatever_its_status(graded):
    statuses = {s: r["status"] for s, r in graded["results"].items()}
    assert statuses == {"alice": "graded", "bob": "graded", "dave": "unreadable", "gina": "grader error"}
    assert {s: r["status"] for s, r in graded["rows"].items()} == statuses
    assert set(graded["pages"]) == set(statuses)
    assert "the grader broke on purpose" in graded["rows"]["gina"]["detail"]
    assert "grader error" in graded["pages"]["gina"] and "the grader failed" in graded["pages"]["gina"]
    assert "not valid JSON" in graded["pages"]["dave"]


def test_an_overridden_part_shows_its_gradebook_score_in_the_csv(graded):
    alice, bob = graded["rows"]["alice"], graded["rows"]["bob"]
    assert graded["results"]["alice"]["parts"]["test_rnn_forward"]["score"] == 3.0  # what the autograder found
    assert float(alice["test_rnn_forward"]) == 1.5 and float(alice["test_rnn_step_scalar"]) == 2.0
    assert float(alice["auto_score"]) == 12.0 - 3.0 + 1.5
    assert float(bob["test_rnn_step_scalar"]) == 2.0 and float(bob["score"]) == 2.0


def test_a_written_answer_graded_by_hand_counts_in_the_csv(graded):
    alice, bob = graded["rows"]["alice"], graded["rows"]["bob"]
    assert float(alice["manual_score"]) == 2.0 and alice["needs_manual_grading"] == "no"
    assert float(alice["score"]) == 12.0 - 3.0 + 1.5 + 2.0
    assert float(bob["manual_score"]) == 0.0 and bob["needs_manual_grading"] == "yes"


def test_the_feedback_page_shows_the_instructors_scores(graded):
    page = graded["pages"]["alice"]
    assert "1.5 / 3" in page and "Score set by your instructor (the autograder gave 3)." in page
    assert re.search(r"written_answer \(graded by your instructor\)</td><td[^>]*>2 / 2</td>", page)
    assert "Graded by hand." in page and "not graded yet" not in page
    assert "Score set by your instructor (the autograder gave 0)." in graded["pages"]["bob"]
    assert "(written answers not graded yet)" in graded["pages"]["bob"]


def test_the_page_total_is_the_csv_score_for_everyone(graded):
    for student, row in graded["rows"].items():
        assert page_score(graded["pages"][student]) == (float(row["score"]), float(row["max_score"])), student
    assert page_score(graded["pages"]["alice"]) == (12.5, 14.0)


def test_nbgrader_export_agrees_with_the_csv(graded):
    course, tmp = graded["course"], graded["tmp"]
    course.nbgrader("export", "--to", str(tmp / "nbgrader.csv"))
    # nbgrader lists every assignment of the gradebook for every student (0 where nothing was
    # submitted); the CSV has a row per recorded outcome: compare the assignment that was graded.
    theirs = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(open(tmp / "nbgrader.csv"))
              if r["assignment"] == ASSIGNMENT}
    assert theirs == {s: float(r["score"]) for s, r in graded["rows"].items()}


def test_the_outcome_table_keeps_no_copy_of_the_scores(graded):
    from sqlalchemy import create_engine, inspect

    from autograder.gradebook import OUTCOME_TABLE

    db = create_engine(graded["course"].db_url)
    columns = {c["name"] for c in inspect(db).get_columns(OUTCOME_TABLE)}
    db.dispose()
    assert columns == {"assignment", "student", "status", "max_score", "parts", "detail", "graded_at"}


def test_regrading_keeps_the_instructors_score_and_flags_it_for_review(graded, tmp_path):
    from nbgrader.api import Gradebook

    from autograder.autograde import autograde
    from autograder.course import Course
    from autograder.grades import export_grades

    shutil.copytree(graded["course"].root, tmp_path / "course")
    course = Course(tmp_path / "course")
    [result] = autograde(course, ASSIGNMENT, 1, students=["alice"])
    assert result.parts["test_rnn_forward"].score == 3.0
    rows = {r["student"]: r for r in export_grades(course, tmp_path / "grades.csv")}
    assert rows["alice"]["test_rnn_forward"] == 1.5 and rows["alice"]["score"] == 12.5
    with Gradebook(course.db_url) as gb:
        grade = gb.find_grade("test_rnn_forward", ASSIGNMENT, ASSIGNMENT, "alice")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (3.0, 1.5, True)


def test_an_outcome_table_from_before_loses_its_score_copies_but_no_row(graded, tmp_path):
    import json

    from sqlalchemy import create_engine, inspect, text

    from autograder.course import Course
    from autograder.gradebook import OUTCOME_TABLE
    from autograder.grades import export_grades

    shutil.copytree(graded["course"].root, tmp_path / "course")
    course = Course(tmp_path / "course")
    db = create_engine(course.db_url)
    with db.begin() as conn:  # the old layout: a score column, parts as {grade_id: score}
        conn.execute(text(f"ALTER TABLE {OUTCOME_TABLE} ADD COLUMN score FLOAT NOT NULL DEFAULT 99"))
        for student, result in graded["results"].items():
            old_parts = json.dumps({g: p["score"] for g, p in result["parts"].items()})
            conn.execute(text(f"UPDATE {OUTCOME_TABLE} SET parts = :parts WHERE student = :student"),
                         {"parts": old_parts, "student": student})
    rows = {r["student"]: r for r in export_grades(course, tmp_path / "grades.csv")}
    assert "score" not in {c["name"] for c in inspect(db).get_columns(OUTCOME_TABLE)}
    with db.connect() as conn:
        parts = conn.execute(text(f"SELECT parts FROM {OUTCOME_TABLE} WHERE student = 'alice'")).scalar()
    db.dispose()
    assert json.loads(parts) == list(graded["results"]["alice"]["parts"])
    assert {s: r["status"] for s, r in rows.items()} == {s: r["status"] for s, r in graded["rows"].items()}
    assert rows["alice"]["score"] == 12.5 and rows["alice"]["test_rnn_forward"] == 1.5
