"""The grades CSV: one row per graded submission, its status beside its gradebook scores.

Columns: assignment, student, status, score (every part, autograded and written, as the gradebook
has it: formgrader's overrides included), max_score, auto_score (the autograded parts), manual_score
(the written answers), needs_manual_grading (a written answer has no grade yet), one column per
autograded part (its gradebook score), detail (the reason behind the status).
"""
import csv
from pathlib import Path

from autograder.gradebook import read_outcomes, read_scores, total_score
from autograder.received import clean

LEADING_COLUMNS = ["assignment", "student", "status", "score", "max_score", "auto_score", "manual_score",
                   "needs_manual_grading"]


def export_grades(course, out):
    """Write the CSV to ``out``; returns its rows as dicts."""
    from nbgrader.api import Gradebook

    outcomes = read_outcomes(course.db_url)
    with Gradebook(course.db_url) as gb:
        scores = {name: read_scores(gb, name) for name in {o.assignment for o in outcomes}}
    part_names = _in_first_seen_order(name for o in outcomes for name in o.parts)
    rows = [_row(o, scores[o.assignment].get(o.student, {}), part_names) for o in outcomes]
    _write_csv(out, [*LEADING_COLUMNS, *part_names, "detail"], rows)
    return rows


def _row(outcome, scores, part_names):
    """scores: {grade_id: GradeScore} of this submission (empty if the gradebook has none)."""
    auto = {g: s for g, s in scores.items() if g in outcome.parts}
    written = {g: s for g, s in scores.items() if g not in outcome.parts}
    return {"assignment": outcome.assignment, "student": outcome.student, "status": outcome.status,
            "score": total_score(scores), "max_score": outcome.max_score,
            "auto_score": sum(s.score for s in auto.values()),
            "manual_score": sum(s.score for s in written.values()),
            "needs_manual_grading": "yes" if any(not s.graded for s in written.values()) else "no",
            **{name: auto[name].score if name in auto else "" for name in part_names},
            "detail": outcome.detail}


def _in_first_seen_order(names):
    return list(dict.fromkeys(names))


def _write_csv(out, columns, rows):
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: clean(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)
