"""Read a submitted notebook without trusting it, and put what the student wrote into the trusted release.

The grader never runs a cell the student could edit as a test: the notebook that runs is made of
the *released* notebook's own read-only and test cells and the student's code, in the order of the
student's notebook (README, "How a submission is graded"):

- a cell is the release's cell ``g`` when it carries nbgrader's grade_id ``g``, or, without
  metadata, when its text is that cell's text; the release's text is what runs (an edited
  read-only or test cell is tampering), once, however many copies the notebook has;
- every other code cell is the student's and runs where the student put it (an answer cell that
  lost its metadata is matched to its answer by the names it defines); test cells never run in
  the student's process, with or without metadata;
- a release cell the notebook lacks is put back after the release cell that precedes it; a
  deleted answer's stub is put back without the names the student defined in other cells, so it
  never overwrites the student's code.

A notebook in the release's order therefore runs as the release with its answer cells filled in
and the student's added cells after the cell they follow.
"""
import ast
import json
import warnings
from collections import defaultdict
from pathlib import Path

import nbformat

# Text a student's notebook never needs: the instructor's hidden tests (see autograder/authoring.py).
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "run_hidden_check")
# Cell magics that run their body as ordinary code in the notebook's namespace.
TRANSPARENT_MAGICS = ("time", "capture")


class Unreadable(Exception):
    pass


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbg if isinstance(nbg, dict) else {}


def _grade_id(cell):
    grade_id = nbgrader_meta(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def read_submission(path):
    """Read a submitted notebook without trusting it; raise Unreadable saying why.

    Read without nbformat's validation, which prints warnings (duplicate or missing cell ids,
    invalid fields) at the instructor for what is the student's notebook's business; the grader
    checks what it relies on itself.
    """
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.convert(nbformat.reader.reads(raw.decode()), 4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise Unreadable(f"the notebook is malformed ({type(exc).__name__}: {exc})") from None
    if not isinstance(notebook.get("cells"), list):
        raise Unreadable("the file is JSON but not a notebook (no list of cells)")
    for cell in notebook.cells:
        if (not isinstance(cell, dict) or not isinstance(cell.get("source"), str)
                or cell.get("cell_type") not in ("code", "markdown", "raw")):
            raise Unreadable("the notebook has a malformed cell")
    return notebook


def _norm(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _same_text(a, b):
    return _norm(a) == _norm(b)


# ----------------------------------------------------------------------------- names a cell defines
def _parse(source):
    """The cell as Python (IPython's magics and shell escapes translated); None if it does not parse."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # IPython missing, or a transform or parse failure: the cell is simply run as is
        return None
    # `%%time` and `%%capture` run their body in the notebook: what the body defines counts
    if (len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Call)
            and getattr(tree.body[0].value.func, "attr", None) == "run_cell_magic"):
        args = tree.body[0].value.args
        if (len(args) == 3 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args)
                and args[0].value in TRANSPARENT_MAGICS):
            return _parse(args[2].value)
    return tree


def _bind(target, names):
    if isinstance(target, ast.Name):
        names.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _bind(element, names)
    elif isinstance(target, ast.Starred):
        _bind(target.value, names)


def _statement_names(node):
    """Names one top-level statement binds in the notebook's namespace (not inside functions)."""
    names = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(node.name)
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            _bind(target, names)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        if not isinstance(node, ast.AnnAssign) or node.value is not None:
            _bind(node.target, names)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        names.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
    else:  # compound statements at top level: what their blocks bind is bound in the notebook too
        for field in ("target", "optional_vars"):
            _bind(getattr(node, field, None), names)
        for item in getattr(node, "items", ()):  # with
            _bind(item.optional_vars, names)
        blocks = [getattr(node, f, []) for f in ("body", "orelse", "finalbody")]
        for handler in getattr(node, "handlers", ()):  # try
            if handler.name:
                names.add(handler.name)
            blocks.append(handler.body)
        blocks += [case.body for case in getattr(node, "cases", ())]  # match
        for block in blocks:
            if isinstance(block, list):
                for child in block:
                    names |= _statement_names(child)
    return names


def _defined_names(source):
    """The top-level names a cell defines (functions, classes, assignments, imports); None when the
    cell does not parse (it is then run as is and defines nothing we know of)."""
    tree = _parse(source)
    if tree is None:
        return None
    names = set()
    for node in tree.body:
        names |= _statement_names(node)
    return names


def _stub_without(stub, defined):
    """The stub without its top-level statements that would redefine a name in ``defined``."""
    tree = ast.parse(stub)
    lines = stub.splitlines()
    kept = []
    for node in tree.body:
        if _statement_names(node) & defined:
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        kept.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n\n".join(kept)


def _listed(names):
    return ", ".join(f"`{n}`" for n in names)


# ----------------------------------------------------------------------------- assembling
def _copy(cell, source=None):
    cell = nbformat.from_dict(dict(cell))
    if source is not None:
        cell.source = source
    return cell


def _code_cell(source):
    cell = nbformat.v4.new_code_cell(source)
    del cell["id"]  # given one, unique and reproducible, once the notebook is assembled
    return cell


def _unique_ids(cells):
    """Give every cell an id of its own (nbformat warns at whoever writes a notebook with a duplicate):
    the release's where it is free, else one derived from it."""
    used = set()
    for position, (_, cell) in enumerate(cells):
        base = cell.get("id") if isinstance(cell.get("id"), str) and cell.get("id") else f"cell-{position + 1}"
        base, n, cell_id = base[:56], 1, base[:64]
        while cell_id in used:
            n += 1
            cell_id = f"{base}-{n}"
        cell["id"] = cell_id
        used.add(cell_id)


def assemble(template, submitted):
    """Put what the student wrote into the trusted template.

    Returns (cells, notes, tampering): cells are (role, cell) with role one of "markdown",
    "setup", "solution", "added", "test"; notes and tampering are sentences for the feedback.
    """
    release = list(template.cells)
    meta = [nbgrader_meta(c) for c in release]
    grade_ids = [_grade_id(c) for c in release]
    answer = [bool(m.get("solution")) for m in meta]
    by_id = {}
    for i, grade_id in enumerate(grade_ids):
        if grade_id:
            by_id.setdefault(grade_id, i)
    by_text = defaultdict(list)  # cells a copy without metadata is recognised by: all but answers
    for i, cell in enumerate(release):
        if not answer[i]:
            by_text[(cell.cell_type, _norm(cell.source))].append(i)
    stub_names = {i: _defined_names(c.source) or set()
                  for i, c in enumerate(release) if answer[i] and c.cell_type == "code"}

    # 1. what each cell of the notebook is, in the student's order
    items = []  # (kind, release index or None, cell)
    found = defaultdict(list)  # release index -> cells that carry its grade_id
    recognised = defaultdict(int)  # release index -> copies without its grade_id, recognised by their text
    stripped = set()  # release cells with a grade_id recognised from a copy without metadata
    anchor = None  # the last release cell seen
    for cell in submitted.cells:
        i = by_id.get(_grade_id(cell))
        if i is not None:
            found[i].append(cell)
            kind = "release" if not answer[i] else ("answer" if cell.cell_type == release[i].cell_type else "retyped")
            items.append((kind, i, cell))
            anchor = i
            continue
        same = by_text.get((cell.cell_type, _norm(cell.source)))
        if same:
            i = next((j for j in same if not found[j] and not recognised[j]), same[0])
            recognised[i] += 1
            if grade_ids[i]:
                stripped.add(i)
            items.append(("release", i, cell))
            anchor = i
        elif cell.cell_type != "code":
            # a written answer that lost its metadata: text right after the release cell before that answer
            after = 0 if anchor is None else anchor + 1
            if after < len(release) and answer[after] and release[after].cell_type == cell.cell_type:
                items.append(("written", after, cell))
        elif any(marker in cell.source for marker in HIDDEN_MARKERS):
            items.append(("hidden", None, cell))
        else:
            items.append(("student", None, cell))

    usable = {i: [c for c in found[i] if c.cell_type == release[i].cell_type] for i in range(len(release)) if answer[i]}
    missing = {i for i, cells in usable.items() if not cells}
    names = {id(c): _defined_names(c.source) or set() for kind, _, c in items if kind in ("answer", "student")}
    student_defines = set().union(*names.values())
    # the missing answer each loose cell stands for: the first whose stub defines a name it defines
    adopted = {}
    for kind, _, cell in items:
        if kind == "student":
            i = next((j for j in sorted(missing) if stub_names.get(j, set()) & names[id(cell)]
                      and j not in adopted.values()), None)
            if i is not None:
                adopted[id(cell)] = i

    # 2. the notebook that runs, in the student's order
    notes, tampering = [], []
    out, placed = [], set()  # out: (role, cell, release index or None); placed: release indices in out

    def emit(role, cell, i=None):
        out.append((role, cell, i))
        if i is not None:
            placed.add(i)

    def release_role(i):
        cell = release[i]
        if cell.cell_type != "code":
            return "markdown"
        if answer[i]:
            return "solution"
        return "test" if meta[i].get("grade") else "setup"

    written, hidden = defaultdict(list), []
    for kind, i, cell in items:
        if kind == "written" and i in missing:
            written[i].append(cell.source)
    for kind, i, cell in items:
        if kind == "release" and i not in placed:  # a copy of a cell already placed is not run twice
            emit(release_role(i), _copy(release[i]), i)
        elif kind == "answer":
            emit(release_role(i), _copy(release[i], cell.source), i)
        elif kind == "written" and i in written and i not in placed:  # the text of every such cell, once
            emit(release_role(i), _copy(release[i], "\n\n".join(written[i])), i)
        elif kind == "student" and id(cell) in adopted:
            i = adopted[id(cell)]
            emit(release_role(i), _copy(release[i], cell.source), i)
        elif kind == "student":
            emit("added", _code_cell(cell.source))
        elif kind == "hidden" and not hidden:
            hidden.append(cell)
            tampering.append("a cell of your notebook holds the instructor's hidden tests; it was not run")

    # 3. release cells the notebook lacks, put back after the release cell that precedes them
    def put_back(i, role, cell):
        before = max((j for j in placed if j < i), default=None)
        start = 0 if before is None else next(k for k, entry in enumerate(out) if entry[2] == before) + 1
        at = next((k for k in range(start, len(out)) if out[k][2] is not None and out[k][2] > i), len(out))
        out.insert(at, (role, cell, i))
        placed.add(i)

    for i, cell in enumerate(release):
        grade_id = grade_ids[i]
        if not answer[i]:
            if i not in placed:
                put_back(i, release_role(i), _copy(cell))
            if grade_id and not found[i] and not recognised[i]:
                tampering.append(f"the read-only cell `{grade_id}` was deleted; it was restored" if not stripped else
                                 f"the read-only cell `{grade_id}` was deleted, or edited in a cell without "
                                 "nbgrader metadata; the original was used")
            elif any(c.cell_type != cell.cell_type or not _same_text(c.source, cell.source) for c in found[i]):
                tampering.append(f"the read-only cell `{grade_id}` was edited; the original was used")
            continue
        retyped = len(usable[i]) < len(found[i])
        if len(usable[i]) > 1:
            notes.append(f"the answer cell `{grade_id}` appears {len(usable[i])} times; all copies "
                         "were run in order, as in your notebook")
        if i in placed:  # answered: with its metadata, or by a cell without it
            if retyped:
                tampering.append(f"the answer cell `{grade_id}` was changed to another cell type; "
                                 "that copy was not run")
            continue
        what = "was changed to another cell type" if retyped else "was deleted"
        report = tampering if retyped else notes
        ours = stub_names.get(i, set()) & student_defines
        if cell.cell_type != "code" or not ours:
            put_back(i, release_role(i), _copy(cell))
            report.append(f"the answer cell `{grade_id}` {what}; the original empty cell was used")
            continue
        rest = stub_names[i] - ours
        if rest:
            put_back(i, release_role(i), _copy(cell, _stub_without(cell.source, ours)))
        report.append(f"the answer cell `{grade_id}` {what}; your definition of {_listed(sorted(ours))} "
                      "elsewhere was graded" + (f", and the original empty {_listed(sorted(rest))}" if rest else ""))

    if stripped or adopted:
        notes.append(f"{len(stripped) + len(adopted)} cells of your notebook had no nbgrader metadata: read-only "
                     "and test cells were recognised by their text"
                     + (", your answers by the functions they define "
                        f"({_listed(grade_ids[i] for i in sorted(adopted.values()))})" if adopted else ""))
    cells = [(role, cell) for role, cell, _ in out]
    _unique_ids(cells)
    return cells, notes, tampering
