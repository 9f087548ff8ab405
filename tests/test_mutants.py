"""The mutation gate, for every assignment the course lists (autograder/mutation.py).

Each assignment's manifest names a module of plausible mistakes (mutants, most common first) and
fair alternatives, written as real student code. Every one is built into a submission from the
release and graded by the real grader; the release's visible self-checks run on it too. A mutant
must lose marks with a hidden message that names its mistake; the most common half must already
be stopped by the visible self-check of its own part, in words; a fair alternative must get full
marks and pass every visible self-check. `make mutants` prints the same table.
"""
import re

import pytest

from conftest import ASSIGNMENTS

from autograder.course import Course
from autograder.mutation import entries, gate_problems, required_visible, run_gate

LISTS = {a: entries(Course().assignment(a)) for a in ASSIGNMENTS}
MUTANTS = [(a, i, m.name) for a, (mutants, _) in LISTS.items() for i, m in enumerate(mutants)]
FAIR = [(a, i, f.name) for a, (mutants, fair) in LISTS.items() for i, f in enumerate(fair, start=len(mutants))]


@pytest.fixture(scope="module")
def rows():
    graded = {}

    def of(assignment):
        if assignment not in graded:
            graded[assignment] = run_gate(assignment)
        return graded[assignment]
    return of


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_has_mutants_and_fair_alternatives(assignment):
    mutants, fair = LISTS[assignment]
    assert mutants and fair, f"{assignment}: its manifest must name a module with MUTANTS and FAIR (autograder/mutation.py)"
    names = [e.name for e in mutants + fair]
    assert len(names) == len(set(names)), "each entry needs a name of its own"
    for m in mutants:
        assert m.named, f"mutant {m.name!r}: say which part's hidden message names it, in which words"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_most_common_half_of_the_mutants_is_declared_visible(assignment):
    mutants, _ = LISTS[assignment]
    top = mutants[:required_visible(mutants)]
    assert [m.name for m in top if m.visible is None] == []


@pytest.mark.parametrize("assignment,index,name", MUTANTS, ids=[f"{a}:{n}" for a, _, n in MUTANTS])
def test_each_mutant_loses_marks_and_is_named(rows, assignment, index, name):
    row = rows(assignment)[index]
    assert row.entry.name == name
    assert row.problems() == [], (row.score, row.visible_part, row.visible_message, row.messages)


@pytest.mark.parametrize("assignment,index,name", FAIR, ids=[f"{a}:{n}" for a, _, n in FAIR])
def test_each_fair_alternative_gets_full_marks_and_passes_every_visible_check(rows, assignment, index, name):
    row = rows(assignment)[index]
    assert row.entry.name == name and row.kind == "fair"
    assert row.problems() == [], (row.score, row.visible_part, row.visible_message, row.messages)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_gate_passes(rows, assignment):
    assert gate_problems(rows(assignment)) == []


def test_the_gate_fails_a_mutant_that_passes_and_a_fair_answer_that_does_not(tmp_path, monkeypatch):
    """The gate itself can fail: the reference listed as a mutant, a mistake listed as fair."""
    from autograder.course import copy_course
    from autograder.mutation import Fair, Mutant  # noqa: F401  (the module below imports them)

    (tmp_path / "upside_down.py").write_text(
        "from autograder.mutation import Fair, Mutant\n"
        "MUTANTS = [Mutant('the reference itself', {}, named={'test_rnn_step_scalar': 'tanh'}, visible='tanh')]\n"
        "FAIR = [Fair('no tanh', {'rnn_step_scalar': 'def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\\n'\n"
        "                                              '    return w_x * x_t + w_h * h_prev + b'})]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    course = copy_course(Course(), tmp_path / "course")
    manifest = course.path("assignments", "ch01_rnn_by_hand.toml")
    manifest.write_text(re.sub(r"(?m)^mutants = .*$", 'mutants = "upside_down"', manifest.read_text()))
    mutant, fair = run_gate("ch01_rnn_by_hand", course)
    assert mutant.score == mutant.full and fair.score < fair.full
    assert "mutant got full marks" in mutant.problems()
    assert "test_rnn_step_scalar passed" in mutant.problems()
    assert any("first visible self-check to fail is none" in p for p in mutant.problems())
    assert any("fair alternative scored" in p for p in fair.problems())
    assert any("fails the visible self-check of test_rnn_step_scalar" in p for p in fair.problems())
