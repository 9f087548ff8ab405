"""Keep the instructor notebooks' code in step with the `solutions` package (one source of truth).

Rule: a code cell of a source notebook whose nbgrader ``grade_id`` is the name of a function in
the assignment's solution modules (``solutions`` in its manifest, autograder/assignments/) holds
exactly that function's source. In a solution cell the function body after the docstring sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, so the student's stub keeps the
signature and the shape-documented docstring. `python -m autograder sync` reports drift;
`--write` rewrites the cells from `solutions/` (edit `solutions/`, never the notebook cells).
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


def sync(path, assignment, write=False):
    """Return the grade_ids whose cells differ from `solutions`; rewrite them when ``write``."""
    notebook = nbformat.read(path, as_version=4)
    drift = [c.metadata["nbgrader"]["grade_id"] for c, text in synced_cells(notebook, assignment)
             if c.source != text]
    if write and drift:
        for cell, text in synced_cells(notebook, assignment):
            cell.source = text
        nbformat.write(notebook, path)
    return drift
