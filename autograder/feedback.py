"""Feedback HTML per student: the score of every part with its explanation, then the notebook.

Scores come from the gradebook (so an instructor's override in formgrader shows, and the total
is the grades CSV's score); status, messages and notes come from the submission's result.json.
The notebook shown is the autograded one (the released template with the student's answers and our
check messages as the test cells' output), so hidden checks and reference code cannot appear:
they never enter it, and tracebacks only ever show the student's own code.
"""
import html

import nbformat

from autograder.gradebook import read_outcomes, read_scores, total_score
from autograder.received import clean, describe
from autograder.result import PartResult, Result

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {assignment} ({student})</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
td, th {{ border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
.ok {{ color: #0a6b2d; }} .bad {{ color: #a11; }} pre {{ white-space: pre-wrap; margin: 0; }}
.status {{ font-weight: bold; }}
</style></head><body>
<h1>Feedback: {assignment}</h1>
<p>Student: <b>{student}</b> &middot; status: <span class="status">{status}</span> &middot;
score: <b>{score:g} / {max_score:g}</b>{pending}</p>
{notes}
<table><tr><th>Part</th><th>Score</th><th>What the grader found</th></tr>
{rows}
</table>
<h2>Your notebook as graded</h2>
{notebook}
</body></html>
"""


NOT_IN_GRADEBOOK = "Not in the gradebook: ask your instructor."


def _row(title, score, points, message):
    ok = score == points and points > 0
    return (f"<tr><td>{html.escape(title)}</td><td class=\"{'ok' if ok else 'bad'}\">{score:g} / {points:g}</td>"
            f"<td><pre>{html.escape(message)}</pre></td></tr>")


def _part_row(part, grade):
    """An autograded part: the autograder's message, its score as the gradebook has it."""
    if grade is None:
        return _row(part.title, 0, part.points, f"{NOT_IN_GRADEBOOK}\n{part.message}")
    message = part.message
    if grade.set_by_instructor:
        found = f" (the autograder gave {grade.auto_score:g})" if grade.auto_score is not None else ""
        message = f"Score set by your instructor{found}.\n{message}"
    return _row(part.title, grade.score, part.points, message)


def _is_graded(grade):
    return grade is not None and grade.graded


def _written_row(grade_id, points, grade):
    """A written answer, graded by hand: its score once the instructor has given one."""
    title = f"{grade_id} (graded by your instructor)"
    if not _is_graded(grade):
        return _row(title, 0, points, "Not graded yet.")
    if grade.set_by_instructor:
        return _row(title, grade.score, points, "Graded by hand.")
    # the autograder scores a written answer only when the file could not be read (0)
    return _row(title, grade.score, points, "Not graded: there was no notebook to read it from.")


def render(result, notebook_path, scores):
    """The feedback page for one Result as a string.

    scores: {grade_id: GradeScore} of this submission in the gradebook (see autograder.gradebook).
    """
    from nbconvert import HTMLExporter

    rows = [_part_row(part, scores.get(grade_id)) for grade_id, part in result.parts.items()]
    rows += [_written_row(grade_id, points, scores.get(grade_id)) for grade_id, points in result.manual.items()]
    pending = not all(_is_graded(scores.get(grade_id)) for grade_id in result.manual)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    if result.status == "unreadable":
        body = "<p>(no notebook: nothing could be run)</p>"
    else:
        body = "<p>(the notebook as graded could not be shown: ask your instructor)</p>"
    if notebook_path.exists():
        try:
            body, _ = HTMLExporter(template_name="basic").from_notebook_node(nbformat.read(notebook_path, as_version=4))
        except Exception as exc:  # a damaged file costs its own display, never the page
            body = f"<p>(the notebook as graded could not be shown: {html.escape(describe(exc)[:300])})</p>"
    return PAGE.format(
        assignment=html.escape(result.assignment), student=html.escape(result.student),
        status=html.escape(result.status), score=total_score(scores), max_score=result.max_score,
        pending=" (written answers not graded yet)" if pending else "",
        notes=f"<ul>{notes}</ul>" if notes else "", rows="\n".join(rows), notebook=body)


def write_feedback(course, assignment):
    """Write feedback/<student>/<assignment>/<assignment>.html for every autograded student."""
    from nbgrader.api import Gradebook

    folder = course.path("autograded")
    outcomes = {o.student: o for o in read_outcomes(course.db_url) if o.assignment == assignment}
    students = sorted({p.parent.name for p in folder.glob(f"*/{assignment}") if (p / "result.json").exists()}
                      | set(outcomes))
    with Gradebook(course.db_url) as gb:
        scores = read_scores(gb, assignment)
    written = []
    for student in students:
        graded = folder / student / assignment
        result = _read_result(graded / "result.json", outcomes.get(student), course, assignment)
        page = render(result, graded / f"{assignment}.ipynb", scores.get(student, {}))
        out = course.path("feedback", student, assignment, f"{assignment}.html")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(clean(page), encoding="utf-8")
        written.append(out)
    return written


MISSING_REPORT = "The grader's report on this part is missing: ask your instructor."


def _read_result(path, outcome, course, assignment):
    """The submission's result.json; if it is missing or damaged, what the gradebook's outcome table says."""
    try:
        return Result.read(path).make_safe()
    except Exception:  # the page is still written, from the gradebook's record
        pass
    manifest = course.assignment(assignment)
    names = outcome.parts if outcome is not None else list(manifest.parts)
    parts = {g: PartResult(g, manifest.parts[g].points if g in manifest.parts else 0.0, message=MISSING_REPORT)
             for g in names}
    return Result(assignment, path.parent.parent.name, status=outcome.status if outcome else "grader error",
                  parts=parts, manual=dict(manifest.written))
