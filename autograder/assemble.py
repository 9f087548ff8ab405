"""Read a submitted notebook without trusting it, and put its answers into the trusted release.

The grader never runs a cell the student could edit as a test: the notebook that runs is the
*released* notebook with only the student's answer cells (and cells the student added) put in.
"""
import json
from collections import defaultdict
from pathlib import Path

import nbformat


class Unreadable(Exception):
    pass


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbg if isinstance(nbg, dict) else {}


def read_submission(path):
    """Read a submitted notebook without trusting it; raise Unreadable saying why."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise Unreadable(f"the file could not be read ({exc.strerror})") from None
    if not raw.strip():
        raise Unreadable("the file is empty")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unreadable(f"the file is not a notebook: it is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise Unreadable("the file is JSON but not a notebook (no list of cells)")
    try:
        notebook = nbformat.reads(raw.decode(), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise Unreadable(f"the notebook is malformed ({type(exc).__name__}: {exc})") from None
    for cell in notebook.cells:
        if not isinstance(cell.get("source"), str) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise Unreadable("the notebook has a malformed cell")
    return notebook


def _same_text(a, b):
    norm = lambda s: "\n".join(line.rstrip() for line in s.strip().splitlines())
    return norm(a) == norm(b)


def assemble(template, submitted):
    """Put the student's answers into the trusted template.

    Returns (cells, notes, tampering): cells are (role, cell) with role one of "markdown",
    "setup", "solution", "added", "test"; notes and tampering are sentences for the feedback.
    """
    known = {nbgrader_meta(c).get("grade_id"): c for c in template.cells if nbgrader_meta(c).get("grade_id")}
    answers, added, anchor = defaultdict(list), defaultdict(list), None
    for cell in submitted.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in known:
            answers[grade_id].append(cell)
            anchor = grade_id
        elif cell.cell_type == "code":
            added[anchor].append(cell)
    cells, notes, tampering = [], [], []
    for cell in [None] + list(template.cells):
        grade_id = None
        if cell is not None:
            meta = nbgrader_meta(cell)
            grade_id = meta.get("grade_id")
            found = answers.get(grade_id, [])
            if meta.get("solution"):
                usable = [c for c in found if c.cell_type == cell.cell_type]
                if len(usable) < len(found):
                    tampering.append(f"the answer cell `{grade_id}` was changed to another cell type; "
                                     "the original empty cell was used")
                if not found:
                    notes.append(f"the answer cell `{grade_id}` was deleted; the original empty cell was used")
                if len(usable) > 1:
                    notes.append(f"the answer cell `{grade_id}` appears {len(usable)} times; all copies "
                                 "were run in order, as in your notebook")
                for answer in usable or [cell]:
                    merged = nbformat.from_dict(dict(cell))
                    merged.source = answer.source
                    cells.append(("solution" if cell.cell_type == "code" else "markdown", merged))
            else:
                if grade_id is not None and not found:
                    tampering.append(f"the read-only cell `{grade_id}` was deleted; it was restored")
                elif any(c.cell_type != cell.cell_type or not _same_text(c.source, cell.source) for c in found):
                    tampering.append(f"the read-only cell `{grade_id}` was edited; the original was used")
                role = "markdown" if cell.cell_type != "code" else ("test" if meta.get("grade") else "setup")
                cells.append((role, nbformat.from_dict(dict(cell))))
        for extra in added.get(grade_id, []):
            cells.append(("added", nbformat.v4.new_code_cell(extra.source)))
    return cells, notes, tampering
