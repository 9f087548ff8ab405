"""The grading machinery on a fixture assignment that needs all of it (issue #6).

The fixture (tests/machinery_fixture/) has a forward step whose cache may be any object, a
backward step graded through the student's own cache with finite differences, a torch module
checked against torch.nn.RNN and for causality, and a model trained by the notebook and scored
on held-out data the notebook never saw. Its submissions are real student code: fair
alternatives, plausible mistakes and hostile tricks. They go through release, autograde,
feedback and grades; a subset is also graded by plain nbgrader (the in-kernel path) and both
paths must agree part by part.
"""
import csv
import subprocess
import sys

import nbformat
import pytest

from conftest import REPO

from autograder.course import Course, collect
from autograder.submissions import build_submission
from tests.machinery_fixture.course import NAME, POINTS, WRITTEN, write_course
from tests.machinery_fixture.students import FULL, STATUS, SUBMISSIONS

IN_KERNEL = ["correct", "fair_cache_object", "wrong_no_tanh_derivative", "hostile_tensor_subclass"]


def cli(course, *args):
    proc = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), *args],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.autograde import autograde

    tmp = tmp_path_factory.mktemp("machinery")
    course = write_course(tmp / "course")
    inbox = tmp / "inbox"
    for student, (answers, _, _) in SUBMISSIONS.items():
        (inbox / student).mkdir(parents=True)
        nbformat.write(build_submission(course, answers, NAME), str(inbox / student / f"{NAME}.ipynb"))
    collect(course, NAME, inbox)
    results = {r.student: r for r in autograde(course, NAME, 2)}
    feedback = cli(course, "feedback", NAME)
    cli(course, "grades", "--out", str(tmp / "grades.csv"))
    rows = {row["student"]: row for row in csv.DictReader(open(tmp / "grades.csv"))}
    return {"course": course, "results": results, "rows": rows, "feedback": feedback, "tmp": tmp}


def test_the_release_has_stubs_and_no_hidden_checks(graded):
    text = graded["course"].release_notebook(NAME).read_text()
    assert "BEGIN SOLUTION" not in text and "run_hidden_check" not in text
    assert "np.einsum" not in text and "dz = dh * (1 - h ** 2)" not in text


@pytest.mark.parametrize("student", sorted(SUBMISSIONS))
def test_each_submission_scores_as_expected_with_named_messages(graded, student):
    _, expected, words = SUBMISSIONS[student]
    result = graded["results"][student]
    summary = {g: (p.score, p.message[:200]) for g, p in result.parts.items()}
    assert result.score == expected, summary
    assert result.max_score == FULL + sum(WRITTEN.values())
    for part, word in words.items():
        assert word in result.parts[part].message, (part, result.parts[part].message)
    assert result.status == STATUS.get(student, "graded"), (result.status, result.detail)


def test_fair_alternatives_with_object_caches_get_full_marks(graded):
    for student in ("fair_cache_object", "fair_int_keyed_cache"):
        result = graded["results"][student]
        assert result.score == FULL and result.status == "graded", result.detail


def test_forged_handles_get_nothing_and_are_never_taken_as_data(graded):
    result = graded["results"]["hostile_forged_handles"]
    assert result.score == 0
    messages = " ".join(p.message for p in result.parts.values())
    assert "could not be read" in messages or "object of type" in messages, messages


def test_grades_csv_and_feedback_cover_every_submission(graded):
    rows, course = graded["rows"], graded["course"]
    assert set(rows) == set(SUBMISSIONS)
    for student, (_, expected, _) in SUBMISSIONS.items():
        assert float(rows[student]["auto_score"]) == expected, (student, rows[student])
        page = course.path("feedback", student, NAME, f"{NAME}.html").read_text()
        assert "Part 3: a torch module" in page
        assert "tests.machinery_fixture" not in page and "HELD_OUT_SEED" not in page


def test_the_in_kernel_path_reaches_the_same_verdict_part_by_part(graded, tmp_path):
    """Plain `nbgrader autograde` runs the same checks through KernelStudent in each notebook's kernel."""
    import shutil

    from nbgrader.api import Gradebook

    course = Course(shutil.copytree(graded["course"].root, tmp_path / "course"))
    for student in set(SUBMISSIONS) - set(IN_KERNEL):
        shutil.rmtree(course.path("submitted", student))
    args = ["autograde", NAME, "--force"]
    proc = course.nbgrader(*args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(course.db_url) as gb:
        for student in IN_KERNEL:
            submission = gb.find_submission(NAME, student)
            kernel = {g.name: g.score for nb in submission.notebooks for g in nb.grades if g.name in POINTS}
            ours = {g: p.score for g, p in graded["results"][student].parts.items()}
            assert kernel == ours, (student, kernel, ours)
