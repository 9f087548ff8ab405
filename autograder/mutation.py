"""The mutation gate: an assignment's plausible mistakes and fair alternatives, graded for real.

Each assignment may name, in its manifest (`mutants = "autograder.mutants.<name>"`), a module
with two lists written as real student code:
- ``MUTANTS``: `Mutant` entries, most common first: the mistake, the answer cells that carry it,
  the words each affected part's hidden message must contain, and (for the common ones) the
  words the first visible self-check that stops it must contain;
- ``FAIR``: `Fair` entries, correct answers written another way.

`run_gate` builds every one into a submission from the release, grades them with the real grader
(`autograde`, in a scratch copy of the course) and runs the release's visible self-checks on each
in the sandbox. `python -m autograder mutants [assignment]` (`make mutants`) prints the table;
tests/test_mutants.py asserts the gate for every assignment that has a list.
"""
import contextlib
import io
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.assemble import assemble
from autograder.course import Course, collect
from autograder.submissions import build_submission, write_submissions


def edit(source, *changes):
    """A mutant's code: ``source`` (the reference as a student types it) with each (old, new)
    replaced; each old must occur exactly once, so an edit that no longer applies fails loudly."""
    for old, new in changes:
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
        source = source.replace(old, new)
    return source


@dataclass
class Mutant:
    name: str
    answers: dict  # grade_id of an answer cell -> its source, as a student would type it
    named: dict = field(default_factory=dict)  # part -> words its hidden message must contain
    visible: str | None = None  # words of the first visible self-check that must stop it


class AnswerCells:
    """A chapter's reference answers, {answer cell: (source, the part that grades it)}, and the
    mutants made from them."""

    def __init__(self, cells):
        self.cells = cells

    def mutant(self, name, cell, changes, words, visible=True):
        """The reference answer of ``cell`` with ``changes`` (edit); its part's hidden message
        must say ``words`` and, when ``visible`` is True, its visible self-check too (or the words
        given; False or None: no visible self-check is required to stop it)."""
        source = self.cells[cell][0]
        return self.written(name, cell, edit(source, *changes), words, visible)

    def written(self, name, cell, source, words, visible=True):
        """A mutant written as a whole answer cell of its own."""
        part = self.cells[cell][1]
        return Mutant(name, {cell: source}, {part: words},
                      words if visible is True else visible or None)


@dataclass
class Fair:
    name: str
    answers: dict


@dataclass
class Row:
    kind: str  # "mutant" or "fair"
    entry: object
    score: float
    full: float
    messages: dict  # part -> hidden message
    visible_part: str | None  # the first test cell whose visible self-check failed
    visible_message: str

    def hidden_named(self):
        """Every part the mutant names lost its points, and its message says the words."""
        return all(self.messages.get(part, "") != "All checks passed." and words.lower() in self.messages[part].lower()
                   for part, words in self.entry.named.items())

    def problems(self):
        """Why this entry fails the gate (empty when it passes)."""
        e, found = self.entry, []
        if self.kind == "fair":
            if self.score != self.full:
                lost = [p for p, m in self.messages.items() if m != "All checks passed."]
                found.append(f"fair alternative scored {self.score:g}/{self.full:g} (lost {', '.join(lost)})")
            if self.visible_part:
                found.append(f"fair alternative fails the visible self-check of {self.visible_part}: "
                             f"{self.visible_message}")
            return found
        if self.score >= self.full:
            found.append("mutant got full marks")
        for part, words in e.named.items():
            message = self.messages.get(part, "")
            if message == "All checks passed.":
                found.append(f"{part} passed")
            elif words.lower() not in message.lower():
                found.append(f"{part}'s message does not say {words!r}: {message[:300]!r}")
        if e.visible is not None:
            if self.visible_part not in e.named:
                found.append(f"the first visible self-check to fail is {self.visible_part or 'none'}, "
                             f"not one of {', '.join(e.named)}")
            elif e.visible.lower() not in self.visible_message.lower():
                found.append(f"the visible self-check of {self.visible_part} does not say {e.visible!r}: "
                             f"{self.visible_message[:300]!r}")
        return found


def entries(assignment):
    """(MUTANTS, FAIR) of an `Assignment`, or ([], []) when its manifest names no list."""
    if not assignment.mutants:
        return [], []
    import importlib

    module = importlib.import_module(assignment.mutants)
    return list(module.MUTANTS), list(module.FAIR)


def visible_verdicts(course, assignment, notebooks, limits):
    """student -> (grade_id of the first test cell whose visible self-check failed, its message).

    Runs each notebook as the grader does, but with the release's test cells (visible
    self-checks only: the release holds no hidden test) run in the student's process, in order.
    """
    from autograder.autograde import hide_from_students
    from autograder.grading import UID_BASE
    from autograder.supervise import Run, Zygote

    template = nbformat.read(course.release_notebook(assignment.name), as_version=4)
    zygote = Zygote(assignment.preload)
    verdicts = {}
    try:
        with tempfile.TemporaryDirectory(prefix="rnn-mutants-") as work:
            for student, notebook in notebooks.items():
                cells, _, _ = assemble(template, notebook)
                cells = [("added" if role == "test" else role, cell) for role, cell in cells]
                run = Run(zygote, UID_BASE + os.getpid(), limits, hide_from_students(course), cells,
                          str(Path(work) / student))
                try:
                    run.execute()
                finally:
                    run.close()
                verdicts[student] = (None, "")
                for index, (role, cell) in enumerate(cells):
                    reply = run.outputs.get(index, {})
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code" \
                            and not reply.get("ok", True):
                        verdicts[student] = (grade_id, f"{reply.get('ename')}: {reply.get('evalue', '')}".strip())
                        break
    finally:
        zygote.close()
    return verdicts


def run_gate(assignment_name, course=None, workers=2):
    """Grade every mutant and fair alternative of the assignment; a Row for each, in list order."""
    from autograder.autograde import autograde
    from autograder.course import copy_course
    from autograder.supervise import Limits

    source = course or Course()
    assignment = source.assignment(assignment_name)
    mutants, fair = entries(assignment)
    listed = [("mutant", m) for m in mutants] + [("fair", f) for f in fair]
    if not listed:
        return []
    with tempfile.TemporaryDirectory(prefix="rnn-gate-") as tmp:
        scratch = copy_course(source, Path(tmp) / "course")
        scratch.nbgrader("generate_assignment", assignment.name, "--force")
        students = {f"{kind[0]}{i:03d}": build_submission(scratch, entry.answers, assignment.name)
                    for i, (kind, entry) in enumerate(listed)}
        write_submissions(Path(tmp) / "inbox", students, assignment.name)
        collect(scratch, assignment.name, Path(tmp) / "inbox")
        limits = Limits(**assignment.limits)
        with contextlib.redirect_stdout(io.StringIO()):  # the table says what matters
            results = {r.student: r for r in autograde(scratch, assignment.name, workers, limits=limits)}
        visible = visible_verdicts(scratch, assignment, students, limits)
    rows = []
    for (student, _), (kind, entry) in zip(students.items(), listed):
        r = results[student]
        rows.append(Row(kind, entry, r.score, assignment.auto_points,
                        {p: part.message for p, part in r.parts.items()}, *visible[student]))
    return rows


def required_visible(mutants):
    """How many of the first mutants (the most common) a visible self-check must stop: half, rounded up."""
    return math.ceil(len(mutants) / 2)


def gate_problems(rows):
    """Every way the rows fail the gate, as sentences (empty: the gate passes)."""
    problems = [f"{r.kind} {r.entry.name!r}: {p}" for r in rows for p in r.problems()]
    mutants = [r.entry for r in rows if r.kind == "mutant"]
    top = mutants[:required_visible(mutants)]
    unstopped = [m.name for m in top if m.visible is None]
    if unstopped:
        problems.append(f"the most common half of the mutants must be stopped by a visible self-check; "
                        f"not declared so: {', '.join(unstopped)}")
    return problems


def print_table(assignment, rows, out=None):
    import sys

    out = out or sys.stdout
    mutants = [r for r in rows if r.kind == "mutant"]
    fair = [r for r in rows if r.kind == "fair"]
    print(f"{assignment}: {len(mutants)} mutants, {len(fair)} fair alternatives", file=out)
    print(f"{'':3}{'entry':<46}{'visible self-check':<42}{'hidden':>8}  message", file=out)
    for r in rows:
        mark = "ok " if not r.problems() else "!! "
        seen = f"{r.visible_part}: {r.visible_message}" if r.visible_part else "passes"
        message = next((m for m in r.messages.values() if m != "All checks passed."), "All checks passed.")
        print(f"{mark}{_clip(r.entry.name, 45):<46}{_clip(seen, 41):<42}{r.score:>5g}/{r.full:<2g}  "
              f"{_clip(' '.join(message.split()), 90)}", file=out)
    named = sum(1 for r in mutants if r.entry.named and r.hidden_named())
    stopped = sum(1 for r in mutants if r.visible_part)
    full = sum(1 for r in fair if r.score == r.full and not r.visible_part)
    print(f"mutants losing marks: {sum(r.score < r.full for r in mutants)}/{len(mutants)}; named by the hidden "
          f"checks: {named}/{len(mutants)}; stopped by a visible self-check: {stopped}/{len(mutants)} "
          f"(required: the first {required_visible(mutants)}); fair alternatives at full marks and passing "
          f"every visible self-check: {full}/{len(fair)}", file=out)
    problems = gate_problems(rows)
    print("gate: passed" if not problems else "gate: FAILED\n  " + "\n  ".join(problems), file=out)
    return problems


def _clip(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"
