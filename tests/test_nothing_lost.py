"""Nothing lost, ever, and the grader caps what it receives (issue: hostile chapter-1 submissions).

Output is capped inside the student's process, but that process is the student's: a cell can lift
its own cap and send 30 MB. So the grader caps again on its side (per cell, per notebook, per
part message), refuses a notebook file that is too big or nested too deep as `unreadable` with
the reason, and replaces text that cannot be written (a lone surrogate) before anything reaches
the disk. When the grader itself fails after some parts were checked, those parts keep their
points, the rest say why they are missing, and the submission still gets a full CSV row and a
feedback page.

Every submission here is real: chapter 1's release with answers filled in, collected and graded
by `autograde` on ONE worker, so each hostile student is followed on the same worker (and by the
same sandbox zygote) by an honest one, who must get full marks. Two grader failures are simulated
by patching the grader's functions before the worker is forked (the worker inherits the patch);
they fire only for a notebook carrying a marker cell. Expected scores come from the manifest's
points, never from the grader's output.
"""
import csv
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import ASSIGNMENT, REPO, solution_sources

from autograder import grading
from autograder.course import Course, collect, copy_course
from autograder.received import MAX_NOTEBOOK_BYTES
from autograder.submissions import build_submission, write_submissions
from autograder.supervise import Limits

LIMITS = Limits(cell_timeout=10, notebook_timeout=60, memory_mb=1024)
POINTS = {"test_rnn_step_scalar": 2.0, "test_rnn_step_forward": 3.0, "test_rnn_step_combined": 2.0,
          "test_rnn_forward": 3.0, "test_many_to_one": 2.0}
FULL = sum(POINTS.values())  # 12 automatic points
MAX_SCORE = FULL + 2.0  # and the written answer (2 points), graded by hand
SMALL = 1_000_000  # bytes: what a page or a notebook of a capped submission stays under
MARKER = "SIMULATE_GRADER_FAILURE_"  # a cell's source naming which simulated failure to fire


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def add_cells(nb, after, *sources):
    """Cells of the student's own right after the answer cell ``after``."""
    at = _index(nb, after) + 1
    nb.cells[at:at] = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def as_bytes(nb):
    """The notebook file as written by a tool that escapes what UTF-8 cannot hold (as JSON allows)."""
    return json.dumps(nb, ensure_ascii=True).encode()


# ----------------------------------------------------------------------------- hostile students
# The child caps each cell's output at 4000 characters, in its own process: the student lifts it
# (and stays under the 64 MB a reply may have, so that the reply is received).
LIFT_CAPS = """\
import sys
for stream in (sys.stdout, sys.stderr):
    stream.limit = 10**9
sys.modules["autograder.sandbox.dispatch"].OUTPUT_CHARS = 10**9
"""
HUGE_CELL = LIFT_CAPS + """\
print("x" * 30_000_000)
print("e" * 10_000_000, file=sys.stderr)
raise ValueError("v" * 5_000_000)
"""
# A checked call that prints 10 MB and raises with a 10 MB message (and so a 10 MB traceback).
HUGE_CALL = """\
import sys
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    sys.stdout.limit = 10**9
    sys.modules["autograder.sandbox.dispatch"].OUTPUT_CHARS = 10**9
    print("y" * 10_000_000)
    raise ValueError("m" * 10_000_000)
"""
# Printed, written to stderr and raised: a character UTF-8 cannot encode (a lone surrogate).
SURROGATE_CELL = 'import sys\nprint("lone: \\ud800 end")\nprint("err: \\udfff", file=sys.stderr)'
SURROGATE_SCALAR = """\
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    raise ValueError("a message with \\ud800 in it")
"""


def _deep_json(levels=100_000):
    return b'{"cells": ' + b"[" * levels + b"]" * levels + b', "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _students(course):
    """student -> notebook or bytes; each hostile student is followed by an honest one, ``NNz_honest``."""
    nb = lambda answers=None: build_submission(course, answers, ASSIGNMENT)
    hostile = {}
    hostile["huge_cell"] = add_cells(nb(), "rnn_step_scalar", HUGE_CELL)
    # 400 cells of 4000 characters each: within the child's own cap, 1.6 MB in all
    hostile["many_cells"] = add_cells(nb(), "rnn_step_scalar", *[f"print({i}, 'z' * 4000)" for i in range(400)])
    hostile["huge_call"] = nb(dict(rnn_step_scalar=HUGE_CALL))
    hostile["deep_json"] = _deep_json()
    big = nb()
    big.cells.append(nbformat.v4.new_markdown_cell("w" * MAX_NOTEBOOK_BYTES))  # a valid notebook, just too big
    hostile["oversize"] = as_bytes(big)
    lone = add_cells(nb(dict(rnn_step_scalar=SURROGATE_SCALAR)), "rnn_step_forward", SURROGATE_CELL,
                     "x_lone = 1  # a lone surrogate in the source itself: \ud800")
    hostile["surrogate"] = as_bytes(lone)
    hostile["fails_midway"] = add_cells(nb(), "rnn_step_scalar", f"# {MARKER}midway")
    hostile["fails_writing"] = add_cells(nb(), "rnn_step_scalar", f"# {MARKER}writing")
    ordered = {}
    for i, (name, content) in enumerate(hostile.items()):
        ordered[f"{i:02d}_{name}"] = content
        ordered[f"{i:02d}z_honest"] = nb()  # sorts right after it: the next job on the worker
    return ordered


def _student(batch, name):
    return next(s for s in batch["results"] if s[3:] == name)


def _honest_after(batch, name):
    return _student(batch, name)[:2] + "z_honest"


# ----------------------------------------------------------------------------- simulated failures
def _marked(cells, which):
    return any(f"{MARKER}{which}" in cell.source for _, cell in cells)


def _patch_failures(monkeypatch):
    """Grader failures for marked notebooks: while checking the third part, and when writing."""
    check_part, notebook = grading._check_part, grading.autograded_notebook
    third = list(POINTS)[2]

    def failing_check_part(check, student, run):
        if _marked(run.cells, "midway") and getattr(check, "__name__", "") == third:
            raise RuntimeError("simulated failure of the grader while checking a part")
        return check_part(check, student, run)

    def failing_notebook(template, cells, outputs, parts):
        if _marked(cells, "writing"):
            raise OSError(28, "No space left on device (simulated)")
        return notebook(template, cells, outputs, parts)

    monkeypatch.setattr(grading, "_check_part", failing_check_part)
    monkeypatch.setattr(grading, "autograded_notebook", failing_notebook)


def cli(course, *args):
    proc = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), *args],
                          capture_output=True, text=True, cwd=REPO)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from autograder.autograde import autograde

    tmp = tmp_path_factory.mktemp("nothing_lost")
    course = copy_course(Course(), tmp / "course")
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    students = _students(course)
    inbox = write_submissions(tmp / "inbox", students, ASSIGNMENT)
    collect(course, ASSIGNMENT, inbox)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch_failures(monkeypatch)
        results = {r.student: r for r in autograde(course, ASSIGNMENT, 1, limits=LIMITS)}  # ONE worker
    feedback = cli(course, "feedback", ASSIGNMENT)
    out = tmp / "grades.csv"
    grades = cli(course, "grades", "--out", str(out))
    rows = {row["student"]: row for row in csv.DictReader(open(out, encoding="utf-8"))} if out.exists() else {}
    return {"course": course, "results": results, "feedback": feedback, "grades": grades, "rows": rows,
            "csv": out, "tmp": tmp}


def _files(batch, student):
    course = batch["course"]
    folder = course.path("autograded", student, ASSIGNMENT)
    return (folder / f"{ASSIGNMENT}.ipynb", folder / "result.json",
            course.path("feedback", student, ASSIGNMENT, f"{ASSIGNMENT}.html"))


def check(batch, name, status, score, honest=True):
    """The hostile student's status and score, its CSV row, and the honest student after it."""
    student = _student(batch, name)
    result = batch["results"][student]
    summary = (result.status, result.detail[:500], {g: (p.score, p.message[:200]) for g, p in result.parts.items()})
    assert result.status == status, summary
    assert result.score == score, summary
    assert result.max_score == MAX_SCORE, summary
    assert batch["feedback"][0] == 0, batch["feedback"][1][-3000:]
    assert batch["grades"][0] == 0, batch["grades"][1][-3000:]
    row = batch["rows"][student]
    assert row["status"] == status and float(row["auto_score"]) == score, row
    assert float(row["max_score"]) == MAX_SCORE, row
    assert all(row[part] != "" for part in POINTS), row  # every part has its column filled
    _, result_json, page = _files(batch, student)
    assert result_json.exists() and page.exists(), student
    assert result_json.stat().st_size < SMALL and page.stat().st_size < SMALL
    if honest:
        after = batch["results"][_honest_after(batch, name)]
        assert (after.status, after.score) == ("graded", FULL), (after.status, after.detail[:500])
    return result, row


# ----------------------------------------------------------------------------- output the grader receives
def test_a_cell_that_lifts_its_cap_and_prints_30_mb_is_capped_by_the_grader(batch):
    check(batch, "huge_cell", "graded", FULL)
    notebook, _, page = _files(batch, _student(batch, "huge_cell"))
    assert notebook.stat().st_size < SMALL and page.stat().st_size < SMALL
    text = notebook.read_text()
    assert "more characters not shown" in text and "x" * 4000 in text  # the start is kept, the rest counted
    assert "more characters not shown" in page.read_text()


def test_many_cells_of_allowed_output_are_capped_per_notebook(batch):
    check(batch, "many_cells", "graded", FULL)
    notebook, _, page = _files(batch, _student(batch, "many_cells"))
    assert notebook.stat().st_size < SMALL and page.stat().st_size < SMALL
    text = nbformat.read(notebook, as_version=4)
    shown = [o for c in text.cells for o in c.get("outputs", []) if "z" * 100 in o.get("text", "")]
    assert 0 < len(shown) < 400  # the first cells' output is kept
    assert "this notebook's output is not shown" in notebook.read_text()
    assert "✓" in notebook.read_text()  # the check messages of the test cells are still there


def test_a_checked_call_with_huge_output_and_message_costs_only_its_part_and_is_capped(batch):
    result, _ = check(batch, "huge_call", "graded", FULL - POINTS["test_rnn_step_scalar"])
    message = result.parts["test_rnn_step_scalar"].message
    assert "ValueError" in message and "more characters not shown" in message
    assert len(message) < 20_000, len(message)
    for path in _files(batch, _student(batch, "huge_call")):
        assert path.stat().st_size < SMALL, path


# ----------------------------------------------------------------------------- files the grader refuses
def test_a_notebook_nested_100000_levels_deep_is_unreadable_with_its_reason(batch):
    result, row = check(batch, "deep_json", "unreadable", 0.0)
    assert "nested" in result.detail and "nested" in row["detail"], result.detail
    assert all("nested" in p.message for p in result.parts.values())
    assert row["needs_manual_grading"] == "no"  # nothing to grade by hand: there is no answer to read
    _, _, page = _files(batch, _student(batch, "deep_json"))
    assert "nested" in page.read_text()


def test_an_oversized_notebook_file_is_unreadable_with_its_reason(batch):
    result, row = check(batch, "oversize", "unreadable", 0.0)
    assert "MB" in result.detail and "limit" in result.detail, result.detail
    assert "MB" in row["detail"]
    notebook, _, page = _files(batch, _student(batch, "oversize"))
    assert not notebook.exists()
    assert "w" * 10_000 not in page.read_text()


# ----------------------------------------------------------------------------- text that cannot be written
def test_a_lone_surrogate_printed_raised_or_in_the_source_is_replaced_never_fatal(batch):
    result, _ = check(batch, "surrogate", "graded", FULL - POINTS["test_rnn_step_scalar"])
    assert "a message with" in result.parts["test_rnn_step_scalar"].message
    notebook, result_json, page = _files(batch, _student(batch, "surrogate"))
    text = notebook.read_text(encoding="utf-8")  # strict: fails on anything UTF-8 cannot hold
    assert "lone: \ufffd end" in text and "err: \ufffd" in text
    json.dumps(json.loads(result_json.read_text()), ensure_ascii=False).encode("utf-8")  # no lone surrogate
    assert "a message with \ufffd" in page.read_text(encoding="utf-8")
    batch["csv"].read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- the grader fails
def test_a_grader_failure_while_checking_keeps_the_parts_checked_before(batch):
    before = POINTS["test_rnn_step_scalar"] + POINTS["test_rnn_step_forward"]  # the two parts checked first
    result, row = check(batch, "fails_midway", "grader error", before)
    parts = list(result.parts.values())
    assert all(p.passed for p in parts[:2]), parts
    assert all(p.score == 0 and "the grader failed" in p.message for p in parts[2:]), parts
    assert "simulated failure" in result.detail and "simulated failure" in result.trace
    assert "Traceback" in result.trace
    assert row["needs_manual_grading"] == "yes"  # the written answer still waits for the instructor
    assert float(row["test_rnn_step_scalar"]) == POINTS["test_rnn_step_scalar"]
    _, _, page = _files(batch, _student(batch, "fails_midway"))
    assert "the grader failed" in page.read_text()


def test_a_grader_failure_writing_the_notebook_keeps_every_part(batch):
    result, row = check(batch, "fails_writing", "grader error", FULL)
    assert "No space left on device (simulated)" in result.detail and "Traceback" in result.trace
    assert row["needs_manual_grading"] == "yes"
    notebook, _, page = _files(batch, _student(batch, "fails_writing"))
    assert not notebook.exists()
    assert "the grader failed" in page.read_text().lower() or "could not be shown" in page.read_text()


def test_every_submission_has_a_feedback_page_and_a_csv_row(batch):
    assert batch["feedback"][0] == 0, batch["feedback"][1][-3000:]
    assert set(batch["rows"]) == set(batch["results"])
    for student in batch["results"]:
        assert _files(batch, student)[2].exists(), student
    assert batch["csv"].stat().st_size < SMALL


def test_a_lost_result_or_a_damaged_notebook_still_gets_a_feedback_page(batch, tmp_path):
    from autograder.feedback import write_feedback

    root = shutil.copytree(batch["course"].root, tmp_path / "course", ignore=shutil.ignore_patterns("submitted"))
    course = Course(root)
    lost, damaged = _student(batch, "huge_cell"), _honest_after(batch, "huge_cell")
    course.path("autograded", lost, ASSIGNMENT, "result.json").unlink()
    course.path("autograded", damaged, ASSIGNMENT, f"{ASSIGNMENT}.ipynb").write_text('{"cells": [')
    assert len(write_feedback(course, ASSIGNMENT)) == len(batch["results"])
    page = lambda student: course.path("feedback", student, ASSIGNMENT, f"{ASSIGNMENT}.html").read_text()
    assert "report on this part is missing" in page(lost) and f"{FULL:g} / {MAX_SCORE:g}" in page(lost)
    assert "could not be shown" in page(damaged) and "All checks passed." in page(damaged)


def test_a_result_the_gradebook_refuses_never_stops_the_others(released_course, tmp_path, monkeypatch, capsys):
    from autograder.autograde import autograde
    from autograder.gradebook import Recorder, read_scores

    course = Course(shutil.copytree(released_course.root, tmp_path / "course"))
    inbox = write_submissions(tmp_path / "inbox", {s: build_submission(course, None, ASSIGNMENT)
                                                   for s in ("a_first", "b_refused", "c_last")}, ASSIGNMENT)
    collect(course, ASSIGNMENT, inbox)
    save = Recorder._save_outcome

    def refuse_one(self, result):  # as a database constraint or a dropped connection would
        if result.student == "b_refused":
            raise RuntimeError("simulated database error")
        save(self, result)

    monkeypatch.setattr(Recorder, "_save_outcome", refuse_one)
    results = {r.student: r for r in autograde(course, ASSIGNMENT, 1, limits=LIMITS)}
    assert [results[s].score for s in sorted(results)] == [FULL, FULL, FULL]
    assert "b_refused could not be written to the gradebook" in capsys.readouterr().err
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        scores = read_scores(gb, ASSIGNMENT)
    for student in ("a_first", "c_last"):  # recorded, before and after the refused one
        assert sum(scores[student][g].auto_score for g in POINTS) == FULL, scores
