"""Grade every submission of an assignment in parallel; record each outcome; export grades."""
import csv
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

from autograder import grading
from autograder.grading import Job
from autograder.result import STATUSES, PartResult, Result
from autograder.supervise import Limits, Zygote, isolation_available

OUTCOME_TABLE = "rnn_course_outcome"

# ----------------------------------------------------------------------------- workers
_worker = {}


def _init_worker(preload):
    _worker["zygote"] = Zygote(preload)
    _worker["checks"] = {}


def _grade_job(job):
    name = job.assignment.name
    try:
        checks = _worker["checks"].get(name)
        if checks is None:
            checks = _worker["checks"][name] = job.assignment.checks_module()
        return grading.grade(job, _worker["zygote"], checks)
    except Exception as exc:  # the grader's own failure: recorded, never lost
        import traceback

        parts = {g: PartResult(g, p.points, message="Not graded: the grader failed (your instructor has been told).")
                 for g, p in job.assignment.parts.items()}
        return Result(name, job.student, status="grader error", detail=f"{type(exc).__name__}: {exc}",
                      trace=traceback.format_exc(), events=["grader error"], parts=parts,
                      manual=dict(job.assignment.written))


class Progress:
    def __init__(self, total, label, stream=sys.stderr):
        self.total, self.label, self.stream, self.done = total, label, stream, 0
        self.start = time.monotonic()
        self.tty = stream.isatty()
        self.last_printed = -1

    def step(self):
        self.done += 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        line = (f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{elapsed:5.1f}s elapsed, ETA {eta:4.0f}s")
        if self.tty:
            print("\r" + line, end="\n" if self.done == self.total else "", file=self.stream, flush=True)
        else:
            tenth = 10 * self.done // max(self.total, 1)
            if tenth != self.last_printed:
                self.last_printed = tenth
                print(line, file=self.stream, flush=True)


def make_jobs(course, assignment, limits):
    from autograder.course import REPO

    hide = [str(course.root), str(REPO), os.path.expanduser("~")]
    jobs = []
    for student in course.submitted_students(assignment):
        folder = course.path("submitted", student, assignment)
        notebook = folder / f"{assignment}.ipynb"
        reason = ""
        if not notebook.exists():
            missing = folder / "missing.txt"
            reason = missing.read_text().strip() if missing.exists() else "no notebook was submitted"
        note_file = folder / "collect_note.txt"
        jobs.append(Job(assignment=course.assignment(assignment), student=student,
                        note=note_file.read_text().strip() if note_file.exists() else "",
                        submission=str(notebook) if notebook.exists() else None,
                        release=str(course.release_notebook(assignment)),
                        autograded_dir=str(course.path("autograded", student, assignment)),
                        limits=limits, reason=reason, hide=hide))
    return jobs


def grade_all(jobs, workers, preload=(), progress_label="grading", on_result=None):
    """Grade jobs in a pool of worker processes; results in job order.

    on_result(result) runs in this process as each result arrives, while the workers go on.
    """
    if not jobs:
        return []
    # fork: workers start in milliseconds with this process's imports (they hold nothing secret:
    # student code runs in processes forked from each worker's separate, clean zygote)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    progress = Progress(len(jobs), progress_label)
    by_key = {}
    with ctx.Pool(workers, initializer=_init_worker, initargs=(tuple(preload),)) as pool:
        for result in pool.imap_unordered(_grade_job, jobs):
            by_key[result.student] = result
            if on_result is not None:
                on_result(result)
            progress.step()
        pool.close()
        pool.join()
    return [by_key[job.student] for job in jobs]


def autograde(course, assignment, jobs_count=None, limits=None, students=None):
    from autograder.course import release

    if not course.release_notebook(assignment).exists():
        release(course, [assignment])
    manifest = course.assignment(assignment)
    limits = limits or Limits(**manifest.limits)
    jobs = make_jobs(course, assignment, limits)
    if students:
        jobs = [j for j in jobs if j.student in students]
    if not jobs:
        print(f"no submissions of {assignment} in {course.path('submitted')}: run `make collect` first")
        return []
    workers = max(1, min(jobs_count or os.cpu_count() or 1, len(jobs)))
    if not isolation_available():
        print("warning: not running as root on Linux: student code runs with resource limits but "
              "without namespaces or a separate user (see README, 'What the grader enforces')",
              file=sys.stderr)
    started = time.monotonic()
    with Recorder(course) as recorder:
        results = grade_all(jobs, workers, manifest.preload, f"grading {assignment}",
                            on_result=recorder.add)
    elapsed = time.monotonic() - started
    print_summary(assignment, results, elapsed, workers, course)
    return results


def print_summary(assignment, results, elapsed, workers, course):
    counts = Counter(r.status for r in results)
    print(f"graded {len(results)} submission(s) of {assignment} in {elapsed:.1f} s "
          f"({len(results) / max(elapsed, 1e-9):.2f} per second, {workers} worker(s))")
    for status in reversed(STATUSES):
        print(f"  {status:<14}{counts.get(status, 0):>5}")
    if results:
        max_auto = max(sum(p.points for p in r.parts.values()) for r in results)
        mean = sum(r.score for r in results) / len(results)
        print(f"mean autograded score {mean:.2f} / {max_auto:g}")
    print(f"autograded notebooks: {course.path('autograded')}; gradebook: {course.db_url}")


# ----------------------------------------------------------------------------- gradebook
def _outcome_table(metadata):
    from sqlalchemy import Column, DateTime, Float, String, Table, Text

    return Table(OUTCOME_TABLE, metadata,
                 Column("assignment", String(128), primary_key=True),
                 Column("student", String(128), primary_key=True),
                 Column("status", String(32), nullable=False),
                 Column("score", Float, nullable=False),
                 Column("max_score", Float, nullable=False),
                 Column("parts", Text, nullable=False),
                 Column("detail", Text, nullable=False),
                 Column("graded_at", DateTime, nullable=False))


class Recorder:
    """Writes each result into nbgrader's gradebook and its outcome into our table beside it.

    Opened lazily on the first result, so importing nbgrader overlaps with the first gradings.
    """

    def __init__(self, course):
        self.course, self.gb = course, None

    def __enter__(self):
        return self

    def _open(self):
        import warnings

        from nbgrader.api import Gradebook
        from sqlalchemy import MetaData, create_engine
        from sqlalchemy.exc import SAWarning

        self.gb = Gradebook(self.course.db_url)
        self.db = create_engine(self.course.db_url)
        metadata = MetaData()
        self.table = _outcome_table(metadata)
        metadata.create_all(self.db)
        # nbgrader's update_or_create_submission trips SQLAlchemy autoflush warnings (harmless)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore", SAWarning)

    def add(self, result):
        import datetime

        result = result.to_dict()
        from sqlalchemy import delete, insert

        if self.gb is None:
            self._open()
        gb = self.gb
        gb.update_or_create_student(result["student"])
        submission = gb.update_or_create_submission(result["assignment"], result["student"])
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                part = result["parts"].get(grade.name)
                if part is not None:
                    grade.auto_score = part["score"]
                elif grade.name not in result["manual"] or result["status"] == "unreadable":
                    grade.auto_score = 0.0  # an unreadable file has nothing to grade by hand either
        gb.db.commit()
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        table = self.table
        with self.db.begin() as conn:
            conn.execute(delete(table).where(table.c.assignment == result["assignment"],
                                             table.c.student == result["student"]))
            conn.execute(insert(table).values(
                assignment=result["assignment"], student=result["student"], status=result["status"],
                score=result["score"], max_score=result["max_score"], detail=result.get("detail", ""),
                parts=json.dumps({g: p["score"] for g, p in result["parts"].items()}), graded_at=now))

    def __exit__(self, *exc):
        if self.gb is not None:
            self.gb.close()
            self.db.dispose()
            self.warnings.__exit__(None, None, None)
        return False


def export_grades(course, out):
    """One CSV row per graded submission: status beside the score, manual grades included."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import MetaData, create_engine, select

    db = create_engine(course.db_url)
    metadata = MetaData()
    table = _outcome_table(metadata)
    metadata.create_all(db)
    with db.connect() as conn:
        outcomes = [dict(row._mapping) for row in conn.execute(select(table).order_by(table.c.assignment, table.c.student))]
    db.dispose()
    part_names = []
    for row in outcomes:
        for name in json.loads(row["parts"]):
            if name not in part_names:
                part_names.append(name)
    rows = []
    with Gradebook(course.db_url) as gb:
        for row in outcomes:
            manual_score, needs_manual = 0.0, False
            try:
                submission = gb.find_submission(row["assignment"], row["student"])
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.cell.cell_type == "markdown":
                            if grade.manual_score is None and grade.auto_score is None:
                                needs_manual = True
                            manual_score += grade.manual_score or 0.0
            except MissingEntry:
                pass
            parts = json.loads(row["parts"])
            rows.append({"assignment": row["assignment"], "student": row["student"], "status": row["status"],
                         "score": round(row["score"] + manual_score, 4), "max_score": row["max_score"],
                         "auto_score": row["score"], "manual_score": manual_score,
                         "needs_manual_grading": "yes" if needs_manual else "no",
                         **{name: parts.get(name, "") for name in part_names}, "detail": row["detail"]})
    columns = ["assignment", "student", "status", "score", "max_score", "auto_score", "manual_score",
               "needs_manual_grading", *part_names, "detail"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows
