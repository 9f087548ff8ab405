"""Benchmark: our parallel sandboxed grader against plain `nbgrader autograde`, side by side.

    make bench-autograde [BENCH_ARGS="--k 40 --seed 0"]

Releases ch01_rnn_by_hand into a temporary course, writes K seeded submissions (about 60%
correct, 25% partly wrong, 15% broken), copies the course twice and grades the same submissions
with `python -m autograder ... autograde` in one copy and `nbgrader autograde --force` in the
other, timing each whole command. Prints throughput, our overhead per notebook, and where the two
graders' scores differ. Exits 1 when a target is missed: throughput at least --min-ratio times
nbgrader's, overhead at most --max-overhead seconds per notebook, full marks for every correct
submission from our grader.
"""
import argparse
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from autograder.course import Course  # noqa: E402
from autograder.submissions import build_submission  # noqa: E402

ASSIGNMENT = "ch01_rnn_by_hand"

FULL_MARKS = 12.0  # auto points of ch01 (the written answer is graded by hand)
BIN = Path(sys.executable).parent

# Plausible mistakes: (what, grade_id, answer cell as a student would type it).
MISTAKES = [
    ("scalar step without tanh", "rnn_step_scalar",
     "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return w_x * x_t + w_h * h_prev + b"),
    ("scalar step without bias", "rnn_step_scalar",
     "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return np.tanh(w_x * x_t + w_h * h_prev)"),
    ("batched step without biases", "rnn_step_forward",
     "def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\"):\n"
     "    h_next = activation(nonlinearity)(x_t @ W_ih.T + h_prev @ W_hh.T)\n"
     "    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)"),
    ("batched step always tanh", "rnn_step_forward",
     "def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\"):\n"
     "    h_next = np.tanh(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)\n"
     "    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)"),
    ("combined blocks swapped", "combine_weights",
     "def combine_weights(W_ih, W_hh):\n    return np.concatenate([W_hh, W_ih], axis=1)"),
    ("sequence in reversed time", "rnn_forward",
     "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\", batch_first=False):\n"
     "    if batch_first:\n        x = x.transpose(1, 0, 2)\n"
     "    h, hs, cache = h0, [], []\n"
     "    for x_t in x[::-1]:\n"
     "        h, c = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)\n"
     "        hs.append(h)\n        cache.append(c)\n"
     "    out = np.stack(hs)\n"
     "    return (out.transpose(1, 0, 2) if batch_first else out), cache"),
    ("state not carried", "rnn_forward",
     "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\", batch_first=False):\n"
     "    if batch_first:\n        x = x.transpose(1, 0, 2)\n"
     "    steps = [rnn_step_forward(x_t, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity) for x_t in x]\n"
     "    out = np.stack([h for h, _ in steps])\n"
     "    return (out.transpose(1, 0, 2) if batch_first else out), [c for _, c in steps]"),
    ("prediction from the first state", "many_to_one_forward",
     "def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):\n"
     "    out, _ = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)\n"
     "    return output_layer(out[0], V, c)"),
]

# Raises NameError when the cell runs, so rnn_forward is never defined.
RAISES_AT_DEFINITION = ("def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=DEFAULT_NONLINEARITY,\n"
                        "                batch_first=False):\n    return None, []")
BROKEN = ["invalid JSON", "answer cell raises at definition", "blank release notebook", "answer cell deleted"]


# ----------------------------------------------------------------------------- the course
def make_course(root):
    """A temporary course with ch01 released (its own gradebook)."""
    course = Course(root)
    shutil.copytree(REPO / "autograder" / "source", course.path("source"))
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", course.path("nbgrader_config.py"))
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    return course


def plan(k, seed):
    """student -> (kind, what): ~60% correct, ~25% partly wrong, ~15% broken, shuffled."""
    rng = random.Random(seed)
    n_broken, n_wrong = round(0.15 * k), round(0.25 * k)
    kinds = [("broken", BROKEN[i % len(BROKEN)]) for i in range(n_broken)]
    for _ in range(n_wrong):
        picks = rng.sample(MISTAKES, rng.choice([1, 2]))
        while len({m[1] for m in picks}) < len(picks):  # two mistakes in one cell: keep one
            picks = picks[:1]
        kinds.append(("wrong", " + ".join(m[0] for m in picks)))
    kinds += [("correct", "reference answers")] * (k - len(kinds))
    rng.shuffle(kinds)
    return {f"s{i + 1:03d}": kind for i, kind in enumerate(kinds)}


def submission(course, kind, what):
    """The notebook (node or raw bytes) for one planned submission."""
    if kind == "wrong":
        answers = {gid: src for name, gid, src in MISTAKES if name in what.split(" + ")}
        return build_submission(course, answers)
    if what == "invalid JSON":
        text = nbformat.writes(build_submission(course))
        return text[: len(text) // 2].encode()
    if what == "answer cell raises at definition":
        return build_submission(course, {"rnn_forward": RAISES_AT_DEFINITION})
    if what == "blank release notebook":
        return nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    if what == "answer cell deleted":
        nb = build_submission(course)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "rnn_step_combined"]
        return nb
    return build_submission(course)


def write_submissions(course, planned):
    for student, (kind, what) in planned.items():
        folder = course.path("submitted", student, ASSIGNMENT)
        folder.mkdir(parents=True)
        content = submission(course, kind, what)
        path = folder / f"{ASSIGNMENT}.ipynb"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nbformat.write(content, str(path))


# ----------------------------------------------------------------------------- grading
def timed(cmd, cwd, log):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(REPO))
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    Path(log).write_text(f"$ {shlex.join(cmd)}\n# exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return wall, proc


def run_ours(course):
    cmd = [sys.executable, "-m", "autograder", "--course", str(course.root), "autograde", ASSIGNMENT]
    return timed(cmd, REPO, course.root / "bench.log")


def run_nbgrader(course):
    cmd = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force",
           f"--CourseDirectory.db_url={course.db_url}"]
    return timed(cmd, course.root, course.root / "bench.log")


def auto_scores(course, students):
    """student -> auto-graded points from the gradebook (None: no submission recorded)."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(course.db_url) as gb:
        for student in students:
            try:
                sub = gb.find_submission(ASSIGNMENT, student)
            except MissingEntry:
                scores[student] = None
                continue
            scores[student] = sum(g.score for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code")
    return scores


def our_results(course, students):
    return {s: json.loads(course.path("autograded", s, ASSIGNMENT, "result.json").read_text()) for s in students}


def nbgrader_failures(stderr):
    return sorted(set(re.findall(r"error processing assignment '[^']*' for student '([^']*)'", stderr)))


# ----------------------------------------------------------------------------- report
def table(rows):
    print(f"{'grader':<26}{'notebooks':>10}{'wall s':>10}{'nb/s':>9}{'s/nb':>9}")
    for name, n, wall in rows:
        print(f"{name:<26}{n:>10}{wall:>10.1f}{n / wall:>9.2f}{wall / n:>9.3f}")


def line(s, planned, ours, theirs, results, failed):
    kind, what = planned[s]
    note = " (nbgrader failed on it)" if s in failed else " (not in nbgrader's gradebook)" if theirs[s] is None else ""
    return (f"{s} {kind:<8} {what:<50} ours {ours[s]:>4g} [{results[s]['status']}]  "
            f"nbgrader {theirs[s] or 0.0:>4g}{note}")


def compare(planned, ours, theirs, results, failed):
    """Print the full-marks check and every per-student disagreement; True if ours is fair."""
    correct = [s for s, (kind, _) in planned.items() if kind == "correct"]
    ours_full = [s for s in correct if ours[s] == FULL_MARKS]
    theirs_full = [s for s in correct if theirs[s] == FULL_MARKS]
    print(f"\ncorrect submissions with full marks ({FULL_MARKS:g} auto points): "
          f"ours {len(ours_full)}/{len(correct)}, nbgrader {len(theirs_full)}/{len(correct)}")
    agree = [s for s in correct if ours[s] == theirs[s]]
    print(f"both graders agree on the total of {len(agree)}/{len(correct)} correct submissions")
    print("broken submissions (nbgrader's 0 when it recorded nothing):")
    for s in [s for s, (kind, _) in planned.items() if kind == "broken"]:
        print(f"  {line(s, planned, ours, theirs, results, failed)}")
    differ = [s for s in planned if ours[s] != (theirs[s] or 0.0)]
    print(f"score disagreements (ours vs nbgrader): {len(differ)} of {len(planned)}")
    for s in differ:
        print(f"  {line(s, planned, ours, theirs, results, failed)}")
    return len(ours_full) == len(correct)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=40, help="number of submissions (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-ratio", type=float, default=4.0, help="throughput target, ours / nbgrader")
    parser.add_argument("--max-overhead", type=float, default=1.0, help="overhead target, s per notebook")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses (path printed)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cores: {cores}; load average before the run: {load} (other load skews the timings); "
          f"submissions: {args.k}; seed: {args.seed}")

    tmp = Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    try:
        base = make_course(tmp / "base")
        planned = plan(args.k, args.seed)
        write_submissions(base, planned)
        counts = {k: sum(1 for v in planned.values() if v[0] == k) for k in ("correct", "wrong", "broken")}
        print("mix: " + ", ".join(f"{n} {k}" for k, n in counts.items())
              + "; broken: " + ", ".join(sorted({w for k, w in planned.values() if k == 'broken'})))
        c1 = Course(shutil.copytree(base.root, tmp / "ours"))
        c2 = Course(shutil.copytree(base.root, tmp / "nbgrader"))

        print("grading with ours ...", flush=True)
        wall_ours, proc_ours = run_ours(c1)
        if proc_ours.returncode != 0:
            print(f"our grader exited {proc_ours.returncode}:\n{proc_ours.stdout}\n{proc_ours.stderr}")
            return 2
        print("grading with plain nbgrader ...", flush=True)
        wall_nbg, proc_nbg = run_nbgrader(c2)
        failed = nbgrader_failures(proc_nbg.stderr)
        if proc_nbg.returncode != 0:
            print(f"nbgrader exited {proc_nbg.returncode}; it failed on {len(failed)} submission(s): "
                  f"{', '.join(f'{s} ({planned[s][1]})' for s in failed) or 'none named'} "
                  f"(log: {c2.root / 'bench.log'}); none was left out of its run")

        students = list(planned)
        results = our_results(c1, students)
        ours, theirs = auto_scores(c1, students), auto_scores(c2, students)
        workers = min(cores, args.k)
        print()
        table([(f"ours ({workers} workers)", args.k, wall_ours), ("nbgrader (1 process)", args.k, wall_nbg)])
        ratio = wall_nbg / wall_ours
        per_core = wall_ours * workers / args.k
        inside = statistics.median(r["seconds"] for r in results.values())
        overhead = per_core - inside
        print(f"\nthroughput ratio (ours / nbgrader): {ratio:.1f}x   (target >= {args.min_ratio:g}x)")
        print(f"ours, wall per notebook per core (wall*{workers}/{args.k}): {per_core:.3f} s")
        print(f"ours, median in-sandbox time per notebook (result.json 'seconds'): {inside:.3f} s")
        print(f"ours, overhead per notebook: {overhead:.3f} s   (target <= {args.max_overhead:g} s)")
        fair = compare(planned, ours, theirs, results, failed)

        missed = []
        if ratio < args.min_ratio:
            missed.append(f"throughput ratio {ratio:.1f}x is below {args.min_ratio:g}x")
        if overhead > args.max_overhead:
            missed.append(f"overhead {overhead:.3f} s per notebook is above {args.max_overhead:g} s")
        if not fair:
            missed.append("our grader did not give full marks to every correct submission")
        print()
        for line in missed:
            print(f"TARGET FAILED: {line}")
        print("all targets met" if not missed else f"{len(missed)} target(s) failed")
        return 1 if missed else 0
    finally:
        if args.keep:
            print(f"kept the courses in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
