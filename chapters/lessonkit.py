"""Plumbing shared by every lesson: the exercise loader, tables, glued numbers, optional torch,
the boxes and arrows of the diagrams.

A lesson imports what it needs from here in its first (hidden) cell. On the site build the module
comes from chapters/ (the venv's .pth file puts that folder on the path). A learner who downloads a
lesson has no copy of it, so the downloaded notebook carries this module's code in place of that
import (_ext/prepare_site.py writes the .ipynb twins).
Nothing here is solution code: the lessons' functions come from the learner's exercise, or from
the course's `solutions` package when there is none (the site).
"""
import contextlib
import io
import json
from pathlib import Path

import numpy as np

try:
    from myst_nb import glue  # puts computed numbers into the web page's text
except ImportError:
    def glue(name, value, display=True):
        """Outside the site build there is no page to put numbers in."""


class ExerciseNotReady(Exception):
    def _render_traceback_(self):  # Jupyter shows the message alone, without a traceback
        return [f"ExerciseNotReady: {self}"]


def exercise_functions(names, files):
    """Run the exercise notebook's code cells, except its self-checks; return its `names`."""
    from IPython import get_ipython

    path = next((Path(f) for f in files if Path(f).exists()), None)
    if path is None:
        raise ExerciseNotReady(f"there is no {files[0]} in {Path.cwd()}")
    space = {}
    shell = get_ipython()
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"], 1):
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "code" or (grading.get("grade") and not grading.get("solution")):
            continue  # text, or a self-check
        code = "".join(cell["source"])
        code = shell.transform_cell(code) if shell is not None else code
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{path.name}, cell {i}", "exec"), space)
        except NotImplementedError:
            continue  # a given cell calling an unfinished function: named below, as a stub
        except Exception as error:
            raise ExerciseNotReady(f"cell {i} of {path.name} stops with "
                                   f"{type(error).__name__}: {error}") from None
    missing = [n for n in names if not callable(space.get(n))]
    stubs = [n for n in names if n not in missing and "NotImplementedError"
             in getattr(getattr(space[n], "__code__", None), "co_names", ())]
    problems = [f"{what}: {', '.join(which)}" for what, which in
                [("still raising NotImplementedError", stubs), ("not defined", missing)] if which]
    if problems:
        raise ExerciseNotReady(f"{path.name} is not finished ({'; '.join(problems)})")
    print(f"Running on your functions from {path.name}.")
    return {n: space[n] for n in names}


def load_exercise(chapter, names, assignment, fallback):
    """The functions `names` of chapter `chapter`'s exercise: the learner's, from exercise.ipynb
    (as downloaded) or <assignment>.ipynb (as released) beside the notebook; on the site, where no
    finished exercise is there, the course's modules `fallback` (e.g. ["solutions.rnn"])."""
    import importlib

    try:
        return exercise_functions(names, ["exercise.ipynb", f"{assignment}.ipynb"])
    except ExerciseNotReady as problem:
        try:
            modules = [importlib.import_module(m) for m in fallback]
        except ImportError:
            raise ExerciseNotReady(
                f"this lesson runs on the functions you write in chapter {chapter}'s exercise, but "
                f"{problem}. Save your completed exercise as exercise.ipynb in the folder of this "
                "notebook, with every `# YOUR CODE HERE` filled in, and run this cell again.") from None
        found = {}
        for name in names:
            module = next((m for m in modules if hasattr(m, name)), None)
            if module is None:
                raise ImportError(f"{name} is in none of {', '.join(fallback)}")
            found[name] = getattr(module, name)
        return found


def md_table(header, rows, fmt="{:.4f}"):
    """Show rows as a markdown table; floats are formatted with fmt."""
    from IPython.display import Markdown

    def cell(v):
        is_float = isinstance(v, (float, np.floating))
        return fmt.format(v) if is_float else str(v)
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return Markdown("\n".join(lines))


def put(name, value):
    """Glue a number under name, as a plain int or float, for the text."""
    is_int = isinstance(value, (int, np.integer))
    glue(name, int(value) if is_int else float(value), display=False)


def optional_torch(skipped):
    """torch if it is installed, else None after saying what is `skipped` without it."""
    try:
        import torch
    except ImportError:  # PyTorch is optional when you run a lesson yourself
        print(f"PyTorch is not installed: {skipped} is skipped.")
        return None
    return torch


# Colours of the diagrams' boxes: states and inputs, outputs (or decoders), losses and sums.
BLUE = dict(fc="#e8f0fe", ec="#3465a4")
ORANGE = dict(fc="#fdebd3", ec="#c17d11")
GREY = dict(fc="#f2f2f2", ec="#777777")


def node(ax, x, y, label, colors=BLUE, size=12):
    """A labelled box centred at (x, y)."""
    ax.text(x, y, label, ha="center", va="center", fontsize=size,
            bbox=dict(boxstyle="round,pad=0.35", **colors))


def link(ax, start, end, dashed=False, curve=0.0, color="#444444", shrink=13):
    """An arrow from start to end, optionally dashed or curved."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(
        arrowstyle="-|>", color=color, linestyle="--" if dashed else "-",
        shrinkA=shrink, shrinkB=shrink, connectionstyle=f"arc3,rad={curve}"))
