"""Feedback HTML per student: the score of every part with its explanation, then the notebook.

Built from the autograded notebook (the released template with the student's answers and our
check messages as the test cells' output), so hidden checks and reference code cannot appear:
they never enter it, and tracebacks only ever show the student's own code.
"""
import html
import json

import nbformat

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


def _row(title, score, points, message):
    ok = score == points and points > 0
    return (f"<tr><td>{html.escape(title)}</td><td class=\"{'ok' if ok else 'bad'}\">{score:g} / {points:g}</td>"
            f"<td><pre>{html.escape(message)}</pre></td></tr>")


def render(result, notebook_path, manual_scores):
    """Return the feedback page for one result (dict from engine.grade) as a string."""
    from nbconvert import HTMLExporter

    rows = [_row(p["title"], p["score"], p["points"], p.get("message", "")) for p in result["parts"].values()]
    pending = False
    for grade_id, points in result.get("manual", {}).items():
        score = manual_scores.get(grade_id)
        if score is None:
            pending = True
            rows.append(_row(f"{grade_id} (graded by your instructor)", 0, points, "Not graded yet."))
        else:
            rows.append(_row(f"{grade_id} (graded by your instructor)", score, points, "Graded by hand."))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.get("notes", []))
    body = "<p>(no notebook: nothing could be run)</p>"
    if notebook_path.exists():
        exporter = HTMLExporter(template_name="basic")
        body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    score = result["score"] + sum(s for s in manual_scores.values() if s is not None)
    return PAGE.format(
        assignment=html.escape(result["assignment"]), student=html.escape(result["student"]),
        status=html.escape(result["status"]), score=score, max_score=result["max_score"],
        pending=" (written answers not graded yet)" if pending else "",
        notes=f"<ul>{notes}</ul>" if notes else "", rows="\n".join(rows), notebook=body)


def write_feedback(course, assignment):
    """Write feedback/<student>/<assignment>/<assignment>.html for every autograded student."""
    from nbgrader.api import Gradebook, MissingEntry

    written = []
    folder = course.path("autograded")
    students = sorted(p.name for p in folder.iterdir() if (p / assignment / "result.json").exists()) if folder.is_dir() else []
    with Gradebook(course.db_url) as gb:
        for student in students:
            result = json.loads((folder / student / assignment / "result.json").read_text())
            manual = {}
            try:
                submission = gb.find_submission(assignment, student)
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.name in result.get("manual", {}):
                            manual[grade.name] = grade.manual_score
            except MissingEntry:
                pass
            page = render(result, folder / student / assignment / f"{assignment}.ipynb", manual)
            out = course.path("feedback", student, assignment, f"{assignment}.html")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(page)
            written.append(out)
    return written
