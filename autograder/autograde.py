"""`autograde`: grade every collected submission of an assignment and record each outcome.

The jobs come from the course's submitted/ folder; autograder.pool grades them in parallel,
autograder.gradebook records each result as it arrives, and a summary is printed at the end.
"""
import os
import sys
import time
from collections import Counter

from autograder.gradebook import Recorder
from autograder.grading import Job
from autograder.pool import grade_all
from autograder.result import STATUSES
from autograder.sandbox.isolation import userns_available
from autograder.supervise import Limits, isolation_mode


def hide_from_students(course):
    """Folders kept off the student's sys.path (the sandbox shows none of them anyway)."""
    from autograder.course import REPO

    return [str(course.root), str(REPO), os.path.expanduser("~")]


def make_jobs(course, assignment, limits, students=None):
    """One Job per collected submission (only those of ``students``, collected names, if given);
    a missing notebook becomes a Job with its reason."""
    manifest = course.assignment(assignment)
    hide = hide_from_students(course)
    if students is None:
        students = course.submitted_students(assignment)
    return [_job(course, manifest, student, limits, hide) for student in students]


def _job(course, manifest, student, limits, hide):
    folder = course.path("submitted", student, manifest.name)
    notebook = folder / f"{manifest.name}.ipynb"
    reason = ""
    if not notebook.exists():
        missing = folder / "missing.txt"
        reason = missing.read_text().strip() if missing.exists() else "no notebook was submitted"
    note_file = folder / "collect_note.txt"
    return Job(assignment=manifest, student=student,
               note=note_file.read_text().strip() if note_file.exists() else "",
               submission=str(notebook) if notebook.exists() else None,
               release=str(course.release_notebook(manifest.name)),
               autograded_dir=str(course.path("autograded", student, manifest.name)),
               limits=limits, reason=reason, hide=hide)


def warn_unless_isolated():
    """Say plainly when student code will not be sandboxed (README, 'What the grader enforces')."""
    if isolation_mode(os.geteuid() != 0 and userns_available()) is None:
        print("warning: this machine allows neither root nor user namespaces (or RNN_SANDBOX=off): "
              "student code runs with resource limits only, and can read and write whatever you can "
              "(see README, 'What the grader enforces')", file=sys.stderr)


def autograde(course, assignment, jobs_count=None, limits=None, students=None, shard=None):
    """Grade the submissions of ``assignment`` (only ``students`` if given); returns their Results.

    shard: (i, N) grades only the students of shard i of N (autograder/shard.py); the release
    and collection must already be there, made once for every shard. A shard whose results the
    gradebook did not all take exits non-zero once the others are written, so a scheduler
    retries it.
    """
    from autograder.course import release

    if not course.release_notebook(assignment).exists():
        if shard is not None:  # N shards releasing at once would race on the files and the gradebook
            raise SystemExit(f"{course.release_notebook(assignment)} is missing: release once before the "
                             f"shards (make release ASSIGNMENT={assignment} ...)")
        release(course, [assignment])
    manifest = course.assignment(assignment)
    limits = limits or Limits(**manifest.limits)
    names = course.submitted_students(assignment)
    if students:
        names = [s for s in names if s in students]
    if shard is not None:  # the names are filtered first: a job costs a few stat calls to make
        from autograder.shard import select

        collected = len(names)
        names = select(names, *shard)
        print(f"shard {shard[0]}/{shard[1]}: {len(names)} of the {collected} collected submission(s)")
        if not names and collected:
            return []
    jobs = make_jobs(course, assignment, limits, names)
    if not jobs:
        print(f"no submissions of {assignment} in {course.path('submitted')}: run `make collect` first")
        return []
    workers = max(1, min(jobs_count or os.cpu_count() or 1, len(jobs)))
    warn_unless_isolated()
    started = time.monotonic()
    with Recorder(course, [j.student for j in jobs]) as recorder:
        results = grade_all(jobs, workers, manifest.preload, f"grading {assignment}",
                            on_result=recorder.add, on_start=recorder.prepare)
    print_summary(assignment, results, time.monotonic() - started, workers, course)
    print(f"gradebook writes: {recorder.written} result(s) in {recorder.write_seconds:.2f} s "
          f"({recorder.written / max(recorder.write_seconds, 1e-9):.1f} per second)")
    if shard is not None and recorder.failed:  # a non-zero exit: Slurm or Kubernetes reruns the shard
        raise SystemExit(f"shard {shard[0]}/{shard[1]}: {len(recorder.failed)} result(s) could not be written "
                         "to the gradebook (see above); run this shard again")
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
