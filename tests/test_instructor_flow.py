"""The README's instructor commands, run through make on a course folder: inbox to grades CSV."""
import csv
import hashlib
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, REPO, build_submission, write_submissions


def make(*args, course):
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args, f"COURSE={course.root}"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"make {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def flow(released_course, tmp_path_factory):
    import shutil

    from autograder.course import Course

    tmp = tmp_path_factory.mktemp("flow")
    shutil.copytree(released_course.root, tmp / "course")
    course = Course(tmp / "course")
    inbox = write_submissions(tmp / "inbox", {
        "alice": build_submission(course),
        "bob": build_submission(course, blank=True),
        "dave": b'{"cells": [',
    })
    lms = tmp / "lms.zip"
    with zipfile.ZipFile(lms, "w") as archive:
        archive.writestr(f"erin_1234_5678_{ASSIGNMENT}.ipynb", nbformat.writes(build_submission(course)))
        archive.writestr("frank_late_1234_5679_Untitled.ipynb", nbformat.writes(build_submission(course, blank=True)))
    before = {"inbox": digest(inbox), "zip": hashlib.sha256(lms.read_bytes()).hexdigest()}
    out = {"autograde": make("autograde", f"ASSIGNMENT={ASSIGNMENT}", f"SUBMISSIONS={inbox}", course=course)}
    out["collect"] = make("collect", f"ASSIGNMENT={ASSIGNMENT}", f"SUBMISSIONS={lms}", course=course)
    out["autograde2"] = make("autograde", f"ASSIGNMENT={ASSIGNMENT}", course=course)
    out["feedback"] = make("feedback", f"ASSIGNMENT={ASSIGNMENT}", course=course)
    out["grades"] = make("grades", f"OUT={tmp / 'grades.csv'}", course=course)
    after = {"inbox": digest(inbox), "zip": hashlib.sha256(lms.read_bytes()).hexdigest()}
    rows = {r["student"]: r for r in csv.DictReader(open(tmp / "grades.csv"))}
    return {"course": course, "out": out, "rows": rows, "before": before, "after": after, "tmp": tmp}


def test_autograde_prints_progress_and_a_summary(flow):
    text = flow["out"]["autograde"]
    assert "3/3" in text and "graded 3 submission(s)" in text
    assert "unreadable" in text and "mean autograded score" in text


def test_grades_csv_has_a_status_and_score_for_everyone(flow):
    rows = flow["rows"]
    assert set(rows) == {"alice", "bob", "dave", "erin", "frank"}
    assert (rows["alice"]["status"], float(rows["alice"]["score"])) == ("graded", 12.0)
    assert (rows["erin"]["status"], float(rows["erin"]["score"])) == ("graded", 12.0)
    assert (rows["bob"]["status"], float(rows["bob"]["score"])) == ("graded", 0.0)
    assert rows["dave"]["status"] == "unreadable" and "not valid JSON" in rows["dave"]["detail"]
    assert float(rows["frank"]["score"]) == 0.0 and "Untitled" not in rows["frank"]["student"]
    assert all(float(r["max_score"]) == 14.0 for r in rows.values())
    assert rows["alice"]["needs_manual_grading"] == "yes" and rows["alice"]["test_rnn_forward"] == "3.0"


def test_lms_zip_names_are_mapped_to_students_with_a_note(flow):
    assert "frank: the notebook was named 'Untitled.ipynb'" in flow["out"]["collect"]
    assert "Untitled.ipynb" in flow["rows"]["frank"]["detail"], "the note reaches the CSV and feedback"


def test_submitted_files_are_never_modified(flow):
    assert flow["before"] == flow["after"]


def test_feedback_html_explains_every_part_and_leaks_nothing(flow):
    from test_book import _leaks

    feedback = flow["course"].path("feedback")
    pages = {p.parts[-3]: p.read_text() for p in feedback.rglob("*.html")}
    assert set(pages) == {"alice", "bob", "dave", "erin", "frank"}
    assert "12 / 14" in pages["alice"] and "All checks passed" in pages["alice"]
    assert "not implemented yet" in pages["bob"]
    assert "not valid JSON" in pages["dave"]
    for student, page in pages.items():
        assert _leaks(page) == [], student
        assert "autograder.checks" not in page and "solutions" not in page


def test_manual_grades_from_the_gradebook_reach_the_csv(flow):
    from nbgrader.api import Gradebook

    course = flow["course"]
    with Gradebook(course.db_url) as gb:
        grade = gb.find_grade("written_answer", ASSIGNMENT, ASSIGNMENT, "alice")
        grade.manual_score = 2.0
        gb.db.commit()
    make("grades", f"OUT={flow['tmp'] / 'after_manual.csv'}", course=course)
    rows = {r["student"]: r for r in csv.DictReader(open(flow["tmp"] / "after_manual.csv"))}
    assert float(rows["alice"]["score"]) == 14.0 and rows["alice"]["needs_manual_grading"] == "no"


def test_nbgrader_export_still_works_on_our_gradebook(flow):
    course = flow["course"]
    course.nbgrader("export", "--to", str(flow["tmp"] / "nbgrader_export.csv"))
    make("grades", f"OUT={flow['tmp'] / 'ours.csv'}", course=course)
    theirs = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(open(flow["tmp"] / "nbgrader_export.csv"))
              if r["assignment"] == ASSIGNMENT}  # nbgrader lists every assignment, submitted or not
    ours = {r["student"]: float(r["score"]) for r in csv.DictReader(open(flow["tmp"] / "ours.csv"))}
    assert theirs == ours and ours["bob"] == 0.0 and ours["erin"] == 12.0


def test_the_sites_download_name_is_taken_without_a_note(tmp_path):
    """The site offers each exercise as exercise.ipynb and the lessons ask learners to keep that
    name, so it is as good as the release's; the release's name wins when both are there."""
    from autograder.course import _pick_notebook

    site, release, other = (tmp_path / n for n in ("exercise.ipynb", f"{ASSIGNMENT}.ipynb", "Untitled.ipynb"))
    assert _pick_notebook([(site, site.name)], ASSIGNMENT) == (site, "")
    assert _pick_notebook([(site, site.name), (release, release.name)], ASSIGNMENT) == (release, "")
    path, note = _pick_notebook([(other, other.name)], ASSIGNMENT)
    assert path == other and note == f"the notebook was named 'Untitled.ipynb', not '{ASSIGNMENT}.ipynb'"
