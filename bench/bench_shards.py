"""Benchmark: 2 shards at once on this machine against 1 process with 2 workers, same batch.

    python bench/bench_shards.py [--k 40] [--exercise numpy|torch] [--db auto|postgresql|sqlite]

Writes K seeded submissions of one exercise (bench/exercises.py: about 60% correct, 25% wrong,
15% broken), collects them once, and grades them twice into two gradebooks of the same kind:
`autograde --jobs 2` in one process, then `autograde --shard 0/2 --jobs 1` and `--shard 1/2
--jobs 1` started together, as two machines of a cluster would run them (here they share the
machine's cores). Prints each run's wall time and throughput, the ratio, the gradebook's write
rate (results recorded per second of recording, from each run's own count), and whether the two
grades CSVs are identical. --db auto: a PostgreSQL server from Debian's packages when this
machine can start one (root), else SQLite.
"""
import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from autograder.course import Course  # noqa: E402
from bench import report  # noqa: E402
from bench.exercises import EXERCISES  # noqa: E402
import servers  # noqa: E402  (tests/servers.py)


def grader(course, *args):
    return [sys.executable, "-m", "autograder", "--course", str(course.root), "--db-url", course.db_url, *args]


def run_together(commands, log_dir, label):
    """Start every command at once; (wall seconds, [stdout]) once all have finished."""
    started = time.monotonic()
    procs = []
    for i, cmd in enumerate(commands):
        log = open(log_dir / f"{label}-{i}.log", "w")
        procs.append((subprocess.Popen(cmd, env=report.env(), stdout=log, stderr=subprocess.STDOUT), log))
    for proc, log in procs:
        proc.wait()
        log.close()
    wall = time.monotonic() - started
    outputs = [(log_dir / f"{label}-{i}.log").read_text() for i in range(len(commands))]
    for (proc, _), out in zip(procs, outputs):
        if proc.returncode != 0:
            raise SystemExit(f"{label}: a grader exited {proc.returncode}:\n{out[-3000:]}")
    return wall, outputs


def writes(outputs):
    """(results written, seconds spent writing) summed over the runs' outputs."""
    found = [report.gradebook_writes(out) for out in outputs]
    if not all(found):
        raise SystemExit("a run printed no 'gradebook writes' line")
    return sum(n for n, _ in found), sum(seconds for _, seconds in found)


def course_copy(base, root, db_url):
    shutil.copytree(base.root, root)
    (Path(root) / "gradebook.db").unlink(missing_ok=True)
    return Course(root, db_url)  # None: the course's own SQLite gradebook.db


def bench(exercise, k, seed, tmp, urls):
    from autograder.grades import export_grades

    base = exercise.make_course(tmp / "base")
    planned = exercise.plan(k, seed)
    exercise.write_submissions(base, planned)
    counts = {kind: sum(1 for v in planned.values() if v[0] == kind) for kind in ("correct", "wrong", "broken")}
    print("mix: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()), flush=True)
    single = course_copy(base, tmp / "single", urls.get("single"))
    sharded = course_copy(base, tmp / "sharded", urls.get("sharded"))
    for course in (single, sharded):  # the release, once, into each gradebook
        course.nbgrader("generate_assignment", exercise.name, "--force")
    logs = tmp / "logs"
    logs.mkdir()
    print("1 process, 2 workers ...", flush=True)
    wall_1, out_1 = run_together([grader(single, "autograde", exercise.name, "--jobs", "2")], logs, "single")
    print("2 shards at once, 1 worker each ...", flush=True)
    wall_2, out_2 = run_together([grader(sharded, "autograde", exercise.name, "--shard", f"{i}/2", "--jobs", "1")
                                  for i in range(2)], logs, "shards")
    export_grades(single, tmp / "single.csv")
    export_grades(sharded, tmp / "sharded.csv")
    same = (tmp / "single.csv").read_bytes() == (tmp / "sharded.csv").read_bytes()
    return wall_1, out_1, wall_2, out_2, same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=40, help="submissions (default 40)")
    parser.add_argument("--exercise", choices=sorted(EXERCISES), default="numpy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", choices=["auto", "postgresql", "sqlite"], default="auto")
    args = parser.parse_args(argv)
    report.header()
    tmp = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        with contextlib.ExitStack() as stack:
            urls, kind = {}, "sqlite"
            if args.db != "sqlite":
                try:
                    urls = stack.enter_context(servers.postgres(databases=("single", "sharded")))
                    kind = "postgresql"
                except servers.Unavailable as exc:
                    if args.db == "postgresql":
                        raise SystemExit(f"PostgreSQL: {exc}")
                    print(f"PostgreSQL unavailable ({str(exc).splitlines()[0]}); using SQLite")
            print(f"gradebook: {kind} (both runs); exercise {args.exercise}, {args.k} submissions, seed {args.seed}")
            wall_1, out_1, wall_2, out_2, same = bench(EXERCISES[args.exercise], args.k, args.seed, tmp, urls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    k = args.k
    n1, s1 = writes(out_1)
    n2, s2 = writes(out_2)
    print(f"\n{'run':<34}{'wall s':>8}{'nb/s':>8}{'results':>9}{'write s':>9}{'writes/s':>10}")
    print(f"{'1 process, 2 workers':<34}{wall_1:>8.1f}{k / wall_1:>8.2f}{n1:>9}{s1:>9.2f}{n1 / s1:>10.1f}")
    print(f"{'2 shards at once, 1 worker each':<34}{wall_2:>8.1f}{k / wall_2:>8.2f}{n2:>9}{s2:>9.2f}{n2 / s2:>10.1f}")
    print(f"throughput ratio (2 shards / 1 process): {wall_1 / wall_2:.2f}x")
    print(f"gradebook write rate ({kind}): {n1 / s1:.1f} results/s in one process; "
          f"{n2 / s2:.1f} results/s per shard with 2 shards writing ({n2 / s2 * 2:.1f} combined)")
    print(f"grades CSVs identical: {'yes' if same else 'NO'}")
    return 0 if same and n1 == n2 == k else 1


if __name__ == "__main__":
    sys.exit(main())
