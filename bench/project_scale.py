"""Projection: wall time to grade 5,000 submissions of each assignment on K machines.

    python bench/project_scale.py [--k 4] [--students 5000] [--cores 2] [--machines 1 4 16 64]

Measures, for every assignment the course lists (Course().assignments()), what one notebook
costs: K correct submissions (every check runs) graded by `autograde --jobs 1`. The run's
'gradebook writes' line gives w, the seconds to record one result; each result.json gives the
seconds the notebook spent in its sandbox; c, the cost of a notebook on one core, is their
median plus w, and s, the fixed cost of a run (imports, sandbox zygote, opening the gradebook),
is what the run's wall time leaves over. (The difference between runs of K and of 1
submissions would give c too, but on a shared machine the noise of two start-ups swamps it.)
Then, for K machines with --cores cores each, one shard per machine with one worker per core:

    T(K) = s + n_max(K) * max(c / cores, w)

n_max is the largest shard: shards split by a hash of the student id, so a shard's size is
binomial, and n_max = N/K + 2 sqrt(N/K (1 - 1/K)) (about the 98th percentile). c / cores
assumes the cores of a machine grade as fast as one core alone (bench/bench_shards.py measures
how far this machine is from it); w bounds a shard whose recorder cannot keep up.
"""
import argparse
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.course import Course, copy_course  # noqa: E402
from autograder.submissions import build_submission, write_submissions  # noqa: E402
from bench import report  # noqa: E402


def timed_run(course, assignment, students):
    """Grade ``students`` (already collected) with one worker; (wall seconds, seconds per write)."""
    cmd = [sys.executable, "-m", "autograder", "--course", str(course.root), "autograde", assignment,
           "--jobs", "1", *[a for s in students for a in ("--student", s)]]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=report.env(), capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    found = report.gradebook_writes(proc.stdout)
    if "graded" not in proc.stdout or not found:
        raise SystemExit(f"unexpected output from {shlex.join(cmd)}:\n{proc.stdout}")
    written, seconds = found
    return wall, seconds / max(written, 1)


def measure(course, assignment, k):
    """(c, s, w): seconds per notebook on one core, fixed seconds per run, seconds per write.

    c is the median time a notebook spent in its sandbox (result.json 'seconds': running the
    notebook and its checks), plus w; s is what the run's wall time leaves over.
    """
    import json
    import statistics

    from autograder.course import collect

    submission = build_submission(course, assignment=assignment)
    students = [f"p{i:02d}" for i in range(k)]
    inbox = write_submissions(Path(course.root) / f"inbox-{assignment}", {s: submission for s in students},
                              assignment)
    collect(course, assignment, inbox)
    wall, w = timed_run(course, assignment, students)
    inside = statistics.median(
        json.loads(course.path("autograded", s, assignment, "result.json").read_text())["seconds"] for s in students)
    c = inside + w
    return c, max(wall - k * c, 0.0), w


def largest_shard(n, machines):
    mean = n / machines
    return mean + 2 * math.sqrt(mean * (1 - 1 / machines))


def human(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4, help="submissions per measurement (default 4)")
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--cores", type=int, default=2, help="cores per machine (default 2, like this one)")
    parser.add_argument("--machines", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--only", help="one assignment")
    args = parser.parse_args(argv)
    report.header()
    tmp = Path(tempfile.mkdtemp(prefix="project-scale-"))
    try:
        course = copy_course(Course(), tmp / "course")
        names = [args.only] if args.only else course.assignments()
        costs = {}
        for name in names:
            try:
                course.nbgrader("generate_assignment", name, "--force")
                costs[name] = measure(course, name, args.k)
            except (RuntimeError, SystemExit) as exc:  # e.g. an assignment still being written
                print(f"{name}: not measured: {str(exc).strip().splitlines()[0]}", flush=True)
                continue
            c, s, w = costs[name]
            print(f"{name}: {c:.2f} s per notebook on one core, {s:.1f} s per run, {w * 1000:.0f} ms per "
                  f"gradebook write (SQLite; {args.k} correct submissions)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.students
    print(f"\nprojected wall time for {n:,} submissions, K machines of {args.cores} cores, one shard each:")
    print(f"{'assignment':<22}" + "".join(f"{'K = ' + str(m):>10}" for m in args.machines))
    for name, (c, s, w) in costs.items():
        cells = [human(s + largest_shard(n, m) * max(c / args.cores, w)) for m in args.machines]
        print(f"{name:<22}" + "".join(f"{cell:>10}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
