"""Keep the instructor notebooks' code in step with the `solutions` package (one source of truth).

Rule: a code cell of a source notebook whose nbgrader ``grade_id`` is the name of a function in
the assignment's solution modules (``solutions`` in its manifest, autograder/assignments/) holds
exactly that function's source. In a solution cell the function body after the docstring sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, so the student's stub keeps the
signature and the shape-documented docstring. `python -m autograder sync` reports drift;
`--write` rewrites the cells from `solutions/` (edit `solutions/`, never the notebook cells).

Points: the manifest (autograder/assignments/<name>.toml) is the truth. Every graded cell of the
notebook has a manifest entry of its kind (an autograded test cell a ``[parts.<grade_id>]``, a
graded answer cell a ``[written.<grade_id>]``) and vice versa, every part's ``answers`` are answer
cells, and each graded cell's nbgrader ``points`` equal the manifest's; `--write` copies the
manifest's points into the notebook. Cells missing on either side cannot be fixed by copying:
`sync` raises `SyncError` naming them.
"""
import ast
import inspect
import textwrap

import nbformat


def solution_functions(assignment):
    functions = {}
    for module in assignment.solution_modules():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                functions[name] = fn
    return functions


def cell_text(fn, solution):
    """The cell source for ``fn``: its exact source, with solution markers around the body."""
    source = textwrap.dedent(inspect.getsource(fn)).rstrip("\n")
    if not solution:
        return source
    node = ast.parse(source).body[0]
    body = node.body
    has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
        and isinstance(body[0].value.value, str)
    lines = source.split("\n")
    start = body[0].end_lineno if has_docstring else body[0].lineno - 1  # first line after the docstring
    body_line = lines[body[1].lineno - 1] if has_docstring else lines[start]
    indent = body_line[: len(body_line) - len(body_line.lstrip())]
    return "\n".join(lines[:start] + [indent + "### BEGIN SOLUTION"] + lines[start:]
                     + [indent + "### END SOLUTION"])


def synced_cells(notebook, assignment):
    """Yield (cell, expected_source) for every cell the rule covers."""
    functions = solution_functions(assignment)
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in functions:
            solution = cell.metadata["nbgrader"].get("solution", False)
            yield cell, cell_text(functions[grade_id], solution)


class SyncError(SystemExit):
    """The notebook and the manifest disagree on which cells exist; a person has to decide.

    A SystemExit, so `python -m autograder sync` stops with the message rather than a traceback."""


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def manifest_points(assignment):
    """grade_id -> points of every graded cell, as the manifest says."""
    return {**{name: part.points for name, part in assignment.parts.items()}, **assignment.written}


def graded_cells(notebook):
    """grade_id -> cell, for every cell nbgrader gives points to."""
    return {_nbgrader(c)["grade_id"]: c for c in notebook.cells if _nbgrader(c).get("grade")}


def structure_problems(notebook, assignment):
    """Sentences naming each disagreement between the notebook's cells and the manifest."""
    graded = graded_cells(notebook)
    answers = {_nbgrader(c)["grade_id"] for c in notebook.cells if _nbgrader(c).get("solution")}
    problems = [f"graded cell {g} has no [parts.{g}] or [written.{g}] in the manifest"
                for g in graded if g not in manifest_points(assignment)]
    for name in manifest_points(assignment):
        entry = f"[written.{name}]" if name in assignment.written else f"[parts.{name}]"
        if name not in graded:
            problems.append(f"manifest {entry} has no graded cell")
        elif _nbgrader(graded[name]).get("solution", False) != (name in assignment.written):
            # a written answer is graded by hand in its own answer cell; a part by a test cell
            cell_kind = "an answer cell" if _nbgrader(graded[name]).get("solution") else "a test cell"
            problems.append(f"manifest {entry} names {cell_kind}")
    for part in assignment.parts.values():
        problems += [f"part {part.name} grades {a}, which is not an answer cell" for a in part.answers
                     if a not in answers]
    return problems


def _as_written(points):
    """Whole points as ints, so a rewritten notebook's diff shows only the changed number."""
    return int(points) if float(points).is_integer() else points


def points_drift(notebook, assignment):
    """Yield (cell, manifest points) for every graded cell whose points differ from the manifest."""
    graded = graded_cells(notebook)
    for name, points in manifest_points(assignment).items():
        if name in graded and _nbgrader(graded[name]).get("points") != points:
            yield graded[name], _as_written(points)


def sync(path, assignment, write=False):
    """Return the grade_ids whose code differs from `solutions` or whose points differ from the
    manifest; rewrite those cells when ``write``. Raises SyncError when cells are missing."""
    notebook = nbformat.read(path, as_version=4)
    problems = structure_problems(notebook, assignment)
    if problems:
        raise SyncError(f"{path}: the notebook and {assignment.path or 'the manifest'} disagree:\n  "
                        + "\n  ".join(problems))
    code = [(c, text) for c, text in synced_cells(notebook, assignment) if c.source != text]
    points = list(points_drift(notebook, assignment))
    if write and (code or points):
        for cell, text in code:
            cell.source = text
        for cell, value in points:
            cell.metadata["nbgrader"]["points"] = value
        nbformat.write(notebook, path)
    drifted = {_nbgrader(c)["grade_id"] for c, _ in code + points}
    return [_nbgrader(c)["grade_id"] for c in notebook.cells if _nbgrader(c).get("grade_id") in drifted]
