"""What the benchmarks print: the run's header, per-student disagreements, then one row per
exercise and grader; and what they share to run the grader and read its output."""
import os
import re
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WRITES = re.compile(r"gradebook writes: (\d+) result\(s\) in ([\d.]+) s")  # autograde's last line


def header():
    """The command and the machine's cores and load, first thing, for every recorded timing."""
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cores: {os.cpu_count()}; load average before the run: {load} (other load skews the timings)")


def env(**extra):
    """The environment a benchmark runs the grader in: this venv's bin first on PATH, the repository
    on PYTHONPATH, and ``extra``."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                PYTHONPATH=str(REPO), **extra)


def gradebook_writes(output):
    """(results written, seconds spent writing) from an autograde run's output; None if it has no
    'gradebook writes' line."""
    found = WRITES.search(output)
    return (int(found.group(1)), float(found.group(2))) if found else None


def _line(s, planned, ours, theirs, results, failed):
    kind, what = planned[s]
    note = " (nbgrader failed on it)" if s in failed else " (not in nbgrader's gradebook)" if theirs[s] is None else ""
    return (f"{s} {kind:<8} {what:<50} ours {ours[s]:>4g} [{results[s]['status']}]  "
            f"nbgrader {theirs[s] or 0.0:>4g}{note}")


def compare(planned, ours, theirs, results, failed, full_marks):
    """Print the full-marks check and every per-student disagreement; True if ours is fair."""
    correct = [s for s, (kind, _) in planned.items() if kind == "correct"]
    ours_full = [s for s in correct if ours[s] == full_marks]
    theirs_full = [s for s in correct if theirs[s] == full_marks]
    print(f"correct submissions with full marks ({full_marks:g} auto points): "
          f"ours {len(ours_full)}/{len(correct)}, nbgrader {len(theirs_full)}/{len(correct)}")
    print("broken submissions (nbgrader's 0 when it recorded nothing):")
    for s in [s for s, (kind, _) in planned.items() if kind == "broken"]:
        print(f"  {_line(s, planned, ours, theirs, results, failed)}")
    differ = [s for s in planned if ours[s] != (theirs[s] or 0.0)]
    print(f"score disagreements (ours vs nbgrader): {len(differ)} of {len(planned)}")
    for s in differ:
        print(f"  {_line(s, planned, ours, theirs, results, failed)}")
    return len(ours_full) == len(correct)


def summary(rows, min_ratio, max_overhead):
    """The side-by-side table and the targets; returns the list of missed targets."""
    print(f"\n{'exercise':<26}{'grader':<22}{'notebooks':>10}{'wall s':>9}{'nb/s':>8}{'s/nb':>8}")
    for row in rows:
        for grader, wall in ((f"ours ({row.workers} workers)", row.wall_ours), ("nbgrader (1 process)", row.wall_nbgrader)):
            print(f"{row.label:<26}{grader:<22}{row.k:>10}{wall:>9.1f}{row.k / wall:>8.2f}{wall / row.k:>8.3f}")
    print(f"\n{'exercise':<26}{'ratio':>7}{'wall*workers/k':>16}{'median inside':>15}{'overhead':>10}")
    for row in rows:
        print(f"{row.label:<26}{row.ratio:>6.1f}x{row.per_core:>15.3f}s{row.inside:>14.3f}s{row.overhead:>9.3f}s")
    print(f"(targets: ratio >= {min_ratio:g}x, overhead <= {max_overhead:g} s per notebook; overhead is "
          "wall*workers/k minus the median time a notebook spent in its sandbox, result.json 'seconds')")
    missed = []
    for row in rows:
        if row.ratio < min_ratio:
            missed.append(f"{row.label}: throughput ratio {row.ratio:.1f}x is below {min_ratio:g}x")
        if row.overhead > max_overhead:
            missed.append(f"{row.label}: overhead {row.overhead:.3f} s per notebook is above {max_overhead:g} s")
        if not row.fair:
            missed.append(f"{row.label}: our grader did not give full marks to every correct submission")
    for line in missed:
        print(f"TARGET FAILED: {line}")
    print("all targets met" if not missed else f"{len(missed)} target(s) failed")
    return missed
