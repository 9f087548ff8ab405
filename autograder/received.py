"""What the grader receives from a student, capped and made writable before anything reaches the disk.

The student's process caps its own output, but that process is the student's: its code can lift
the cap, or write its own replies. So everything that came from a submission is capped again here,
in the grader: each text of a cell (stdout, stderr, error message, traceback), all cells' output of a
notebook together, each part's message; and a notebook file too big or nested too deep is not read at
all. Text that UTF-8 cannot hold (a lone surrogate such as "\\ud800", which a student can print or
put in a notebook's JSON) is replaced, never fatal: the autograded notebook, result.json, the
feedback page, the gradebook and the CSV are all written from cleaned text.
"""
from pathlib import Path

from autograder.sandbox.dispatch import OUTPUT_CHARS  # the student's process keeps as much of each text
NOTEBOOK_OUTPUT_CHARS = 100_000  # all cells' outputs of one notebook together
MESSAGE_CHARS = 10_000  # one part's message (it quotes the student's error and traceback)
DETAIL_CHARS = 4000  # the instructor's detail of one submission (the CSV's last column)
TRACE_CHARS = 20_000  # the grader's own traceback
NOTE_CHARS = 1000  # one note for the student
MAX_NOTES = 50
MAX_NOTEBOOK_BYTES = 20_000_000  # a notebook file over this is unreadable
MAX_JSON_DEPTH = 64  # a notebook nests about 6 levels; deeper than this is unreadable
TAIL_SLACK = 64  # room for a "[N more characters not shown]" line the student's process added
TEXT_KEYS = ("stdout", "stderr", "evalue", "traceback")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
OUTPUT_NOT_SHOWN = (f"[the rest of this notebook's output is not shown: it is over the grader's limit of "
                    f"{NOTEBOOK_OUTPUT_CHARS} characters]")


def clean(text):
    """``text`` as a str any UTF-8 file can hold: paired surrogates joined, lone ones replaced by U+FFFD."""
    if not isinstance(text, str):
        text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def describe(exc):
    """``Type: message`` of an exception (its message may quote the student), even one that cannot say it."""
    try:
        return cap(f"{type(exc).__name__}: {exc}", OUTPUT_CHARS)
    except Exception:
        return type(exc).__name__


def cap(text, limit=OUTPUT_CHARS):
    """``text`` cleaned and cut to ``limit`` characters, saying how many more there were.

    A little over the limit is let through, so a text the child cut already keeps its own count.
    """
    if not isinstance(text, str):
        text = str(text)
    if len(text) <= limit + TAIL_SLACK:
        return clean(text)
    return clean(text[:limit]) + f"\n... [{len(text) - limit} more characters not shown]"


def cell_outputs(outputs):
    """{cell index: reply} as the grader keeps it: each text capped, all cells within the notebook's budget.

    Once the budget is spent, the cell that spent it says so and later cells keep no output text.
    """
    kept, budget = {}, NOTEBOOK_OUTPUT_CHARS
    for index in sorted(outputs):
        reply = dict(outputs[index]) if isinstance(outputs[index], dict) else {}
        reply["ename"] = cap(reply.get("ename") or "Error", 100)
        for key in TEXT_KEYS:
            text = reply.get(key)
            if not text:
                continue
            text = text if isinstance(text, str) else str(text)
            if budget <= 0:
                reply[key] = ""
                continue
            room = min(OUTPUT_CHARS, budget)
            reply[key] = cap(text, room)
            budget -= min(len(text), room)
            if budget <= 0:
                reply[key] += "\n" + OUTPUT_NOT_SHOWN
        kept[index] = reply
    return kept


def check_notebook_file(path):
    """Refuse a notebook file too big or nested too deep to read safely: raise Unreadable saying why.

    Anything else wrong with the file is left to `read_submission`, which says what it found.
    """
    from autograder.assemble import Unreadable

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size > MAX_NOTEBOOK_BYTES:
        raise Unreadable(f"the file is {size:,} bytes, over the grader's limit of "
                         f"{MAX_NOTEBOOK_BYTES / 1e6:g} MB for a notebook; it was not read")
    try:
        raw = path.read_bytes()
    except OSError:
        return
    if json_depth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise Unreadable(f"the notebook's JSON is nested more than {MAX_JSON_DEPTH} levels deep "
                         "(a notebook needs fewer than 10); it was not read")


def json_depth(raw, stop=None):
    """How deep the arrays and objects of JSON text ``raw`` (bytes) nest, without parsing or recursion.

    Brackets inside strings do not count. Counting stops once past ``stop``.
    """
    import re

    outside_strings = re.sub(rb'"[^"\\]*(?:\\.[^"\\]*)*"', b"", raw, flags=re.DOTALL)
    brackets = outside_strings.translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop is not None and deepest > stop:
                    break
        else:
            depth -= 1
    return deepest
