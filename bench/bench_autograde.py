"""Benchmark: our parallel sandboxed grader against plain `nbgrader autograde`, side by side.

    make bench-autograde [BENCH_ARGS="--k 40 --k-torch 24 --k-ch05 24 --seed 0 --only numpy"]

For each exercise (bench/exercises.py: chapter 1 in numpy, a small LSTM module in torch, and
chapter 5 in numpy and torch),
releases it into a temporary course, writes K seeded submissions (about 60% correct, 25% partly
wrong, 15% broken), copies the course twice and grades the same submissions with
`python -m autograder ... autograde` in one copy and `nbgrader autograde --force` in the other,
timing each whole command. Prints one row per exercise and grader: throughput, our overhead per
notebook, and where the two graders' scores differ. Exits 1 when a target is missed: throughput
at least --min-ratio times nbgrader's, overhead at most --max-overhead seconds per notebook, full
marks for every correct submission from our grader.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.course import Course  # noqa: E402
from bench import report  # noqa: E402
from bench.exercises import EXERCISES  # noqa: E402


def timed(cmd, cwd, log, course):
    # RNN_COURSE_ROOT: plain nbgrader's kernels find the hidden checks of this course (autograder/hidden.py)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=report.env(RNN_COURSE_ROOT=str(course.root)), capture_output=True,
                          text=True)
    wall = time.monotonic() - started
    Path(log).write_text(f"$ {shlex.join(cmd)}\n# exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return wall, proc


def run_ours(course, name):
    cmd = [sys.executable, "-m", "autograder", "--course", str(course.root), "autograde", name]
    return timed(cmd, REPO, course.root / "bench.log", course)


def run_nbgrader(course, name):
    cmd = [sys.executable, "-m", "nbgrader", "autograde", name, "--force",
           f"--CourseDirectory.db_url={course.db_url}"]
    return timed(cmd, course.root, course.root / "bench.log", course)


def auto_scores(course, name, students):
    """student -> auto-graded points from the gradebook (None: no submission recorded)."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(course.db_url) as gb:
        for student in students:
            try:
                sub = gb.find_submission(name, student)
            except MissingEntry:
                scores[student] = None
                continue
            scores[student] = sum(g.score for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code")
    return scores


def our_results(course, name, students):
    return {s: json.loads(course.path("autograded", s, name, "result.json").read_text()) for s in students}


def nbgrader_failures(stderr):
    return sorted(set(re.findall(r"error processing assignment '[^']*' for student '([^']*)'", stderr)))




@dataclass
class Row:
    label: str
    k: int
    workers: int
    wall_ours: float
    wall_nbgrader: float
    inside: float  # median in-sandbox seconds per notebook (result.json "seconds")
    fair: bool

    @property
    def ratio(self):
        return self.wall_nbgrader / self.wall_ours

    @property
    def per_core(self):
        return self.wall_ours * self.workers / self.k

    @property
    def overhead(self):
        return self.per_core - self.inside


def bench(exercise, k, seed, tmp):
    """Grade K planned submissions of one exercise with both graders; print the details; a Row."""
    print(f"\n== {exercise.label}: {k} submissions, seed {seed}", flush=True)
    base = exercise.make_course(tmp / "base")
    planned = exercise.plan(k, seed)
    exercise.write_submissions(base, planned)
    counts = {kind: sum(1 for v in planned.values() if v[0] == kind) for kind in ("correct", "wrong", "broken")}
    print("mix: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())
          + "; broken: " + ", ".join(sorted({w for kind, w in planned.values() if kind == "broken"})))
    ours_course = Course(shutil.copytree(base.root, tmp / "ours"))
    their_course = Course(shutil.copytree(base.root, tmp / "nbgrader"))
    print("grading with ours ...", flush=True)
    wall_ours, proc = run_ours(ours_course, exercise.name)
    if proc.returncode != 0:
        raise SystemExit(f"our grader exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    print("grading with plain nbgrader ...", flush=True)
    wall_nbg, proc = run_nbgrader(their_course, exercise.name)
    failed = nbgrader_failures(proc.stderr)
    if proc.returncode != 0:
        print(f"nbgrader exited {proc.returncode}; it failed on {len(failed)} submission(s): "
              f"{', '.join(f'{s} ({planned[s][1]})' for s in failed) or 'none named'} "
              f"(log: {their_course.root / 'bench.log'}); none was left out of its run")
    students = list(planned)
    results = our_results(ours_course, exercise.name, students)
    ours = auto_scores(ours_course, exercise.name, students)
    theirs = auto_scores(their_course, exercise.name, students)
    fair = report.compare(planned, ours, theirs, results, failed, exercise.full_marks(base))
    inside = statistics.median(r["seconds"] for r in results.values())
    return Row(exercise.label, k, min(os.cpu_count() or 1, k), wall_ours, wall_nbg, inside, fair)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=40, help="numpy submissions (default 40)")
    parser.add_argument("--k-torch", type=int, default=24, help="torch submissions (default 24)")
    parser.add_argument("--k-ch05", type=int, default=24, help="chapter 5 submissions (default 24)")
    parser.add_argument("--only", choices=sorted(EXERCISES), help="run one exercise only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-ratio", type=float, default=4.0, help="throughput target, ours / nbgrader")
    parser.add_argument("--max-overhead", type=float, default=1.0, help="overhead target, s per notebook")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses (path printed)")
    args = parser.parse_args(argv)
    report.header()
    sizes = {"numpy": args.k, "torch": args.k_torch, "ch05": args.k_ch05}
    tmp = Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    try:
        rows = [bench(EXERCISES[key], sizes[key], args.seed, tmp / key)
                for key in EXERCISES if args.only in (None, key)]
        missed = report.summary(rows, args.min_ratio, args.max_overhead)
        return 1 if missed else 0
    finally:
        if args.keep:
            print(f"kept the courses in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
