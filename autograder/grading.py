"""Grade one submission: rebuild it from the trusted release, run it sandboxed, check it here.

Test cells do not run in the student's process at all: each part's hidden check
(``checks`` of the assignment's manifest) runs in this process against a fork of the student's
executed notebook, reaching the student's code through `SandboxStudent`.
"""
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.assemble import Unreadable, assemble, nbgrader_meta, read_submission
from autograder.checking import CheckFailed, StudentCodeError, StudentDied, StudentTimeout, explain_error
from autograder.received import (MESSAGE_CHARS, NOTE_CHARS, OUTPUT_CHARS, cap, cell_outputs, check_notebook_file,
                                 clean, describe)
from autograder.result import STATUSES, PartResult, Result
from autograder.student import SandboxStudent
from autograder.supervise import UID_BASE, Limits, Run

NOT_CHECKED = "Not graded: the grader failed before checking this part (your instructor has been told)."
GRADER_FAILED = ("the grader itself failed while grading this submission (your instructor has been told): "
                 "the parts it had checked keep their scores, the others say they were not graded")


@dataclass
class Job:
    assignment: object  # manifest.Assignment
    student: str
    submission: str | None  # path of the submitted notebook, None when there is none
    release: str  # path of the released (student) notebook: the trusted template
    autograded_dir: str  # where the autograded notebook and result.json go
    limits: Limits = field(default_factory=Limits)
    reason: str = ""  # why there is no notebook, when submission is None
    note: str = ""  # what collecting noticed (e.g. a renamed file), shown in the feedback
    hide: list = field(default_factory=list)  # folders the student's code must not see


def title(checks, grade_id):
    doc = getattr(getattr(checks, grade_id, None), "__doc__", None) or grade_id
    return doc.strip().splitlines()[0]


def _check_part(check, student, run):
    """Run one part's check; (passed, message, grader error or None)."""
    if check is None:
        return False, "No hidden check is defined for this part (tell your instructor).", "no check defined"
    try:
        with run.part():
            check(student)
        return True, "All checks passed.", None
    except CheckFailed as exc:
        return False, str(exc), None
    except StudentCodeError as exc:  # the student's code raised in a call the check made itself
        return False, explain_error(exc.name, exc), None
    except StudentTimeout:
        return False, (f"Your function did not return within {run.limits.cell_timeout:g} s "
                       "(an endless loop?), so this part could not be checked."), None
    except StudentDied:
        return False, ("Your code crashed the Python process (or exceeded the grader's "
                       "limits) while this part was checked."), None
    except (Exception, SystemExit) as exc:  # a bug in a check: never blame the student silently
        return False, ("The grader could not check this part (an internal error); your instructor "
                       "has been told."), f"{type(exc).__name__}: {exc}"


def run_checks(assignment, checks, run, parts=None, errors=None):
    """Check every autograded part in order: (grade_id -> PartResult, the grader's own errors).

    ``parts`` and ``errors``, when given, are filled in place as each part is checked, so whoever
    holds them keeps what was found before a failure of the grader itself.
    """
    parts = {} if parts is None else parts
    errors = [] if errors is None else errors
    checked = {}
    student = SandboxStudent(run)
    for name, spec in assignment.parts.items():
        part = PartResult(title(checks, name), spec.points)
        passed, message, error = _check_part(getattr(checks, name, None), student, run)
        part.message = cap(message, MESSAGE_CHARS)
        if passed:
            part.score = spec.points
        if error:
            errors.append(f"{name}: {cap(error, OUTPUT_CHARS)}")
        failed_before = [checked[d].title for d in spec.depends if d in checked and not checked[d].passed]
        if not passed and failed_before:
            part.message += (f"\nNote: this part calls your code from {' and '.join(failed_before)}, "
                             "which did not pass; fixing that first may fix this part too.")
        checked[name] = parts[name] = part
    return parts, errors


def _status(events):
    return next(s for s in STATUSES if s in events or s == "graded")


def autograded_notebook(template, cells, outputs, parts):
    nb = nbformat.v4.new_notebook(metadata=template.metadata)
    for index, (role, cell) in enumerate(cells):
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            reply = outputs.get(index)
            if reply:
                for stream in ("stdout", "stderr"):
                    if reply.get(stream):
                        cell.outputs.append(nbformat.v4.new_output("stream", name=stream, text=reply[stream]))
                if not reply.get("ok"):
                    cell.outputs.append(nbformat.v4.new_output(
                        "error", ename=reply.get("ename", "Error"), evalue=reply.get("evalue", ""),
                        traceback=[reply.get("traceback") or f"{reply.get('ename')}: {reply.get('evalue')}"]))
            part = parts.get(nbgrader_meta(cell).get("grade_id")) if role == "test" else None
            if part:
                mark = "✓" if part.passed else "✗"
                text = f"{mark} {part.title}: {part.score:g} / {part.points:g}\n{part.message}\n"
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        nb.cells.append(cell)
    return nb


def _event_details(run, outputs):
    details = []
    for index in sorted(run.bad_cells):
        reply = outputs.get(index, {})
        details.append(f"cell {index + 1}: {reply.get('evalue', 'stopped')}")
    for index, reply in sorted(outputs.items()):
        if reply.get("memory") and index not in run.bad_cells:
            details.append(f"cell {index + 1}: MemoryError (over the {run.limits.memory_mb} MB limit)")
    return details


def grade(job, zygote, checks):
    """Grade one submission; always returns a Result (never raises for the student's sake).

    The Result is filled in step by step, each part as soon as it is checked, so a failure of the
    grader itself (a bug, a full disk) keeps what was found before it: the status becomes
    "grader error", the parts not checked say so, and the traceback is kept in ``trace``.
    """
    started = time.monotonic()
    assignment = job.assignment
    result = Result(assignment.name, job.student, manual=dict(assignment.written),
                    parts={name: PartResult(title(checks, name), spec.points, message=NOT_CHECKED)
                           for name, spec in assignment.parts.items()})
    out_dir = Path(job.autograded_dir)
    try:
        _grade_into(result, job, zygote, checks, out_dir)
    except (Exception, SystemExit) as exc:  # the grader's own failure: recorded, never lost
        grader_failed(result, exc)
    return _finish(result, started, out_dir)


def _grade_into(result, job, zygote, checks, out_dir):
    """The steps of `grade`; each records what it found in ``result`` before the next one starts."""
    assignment = job.assignment
    notebook = out_dir / f"{assignment.name}.ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook.unlink(missing_ok=True)  # never a notebook of an earlier grading beside this result
    try:
        if job.submission is None:
            raise Unreadable(job.reason or "no notebook was submitted")
        check_notebook_file(job.submission)
        submitted = read_submission(job.submission)
    except Unreadable as exc:
        reason = cap(exc, NOTE_CHARS)
        for part in result.parts.values():
            part.message = f"Not graded: {reason}."
        result.status, result.detail = "unreadable", reason
        return

    template = nbformat.read(job.release, as_version=4)
    cells, notes, tampering = assemble(template, submitted)
    result.notes = ([job.note] if job.note else []) + notes + tampering
    events = {"tampered"} if tampering else set()
    errors = []
    run = Run(zygote, UID_BASE + os.getpid(), job.limits, job.hide, cells, str(out_dir / ".work"))
    try:
        run.execute()
        run_checks(assignment, checks, run, result.parts, errors)
    finally:
        result.events = sorted(events | run.events)  # what the student's code did, kept whatever happens next
        run.close()
    if errors:
        result.events = sorted(set(result.events) | {"grader error"})
    result.status = _status(result.events)
    outputs = cell_outputs(run.outputs)
    result.detail = "; ".join(errors + result.notes + _event_details(run, outputs))
    _write_notebook(autograded_notebook(template, cells, outputs, result.parts), notebook)


def grader_failed(result, exc):
    """Record a failure of the grader in ``result``: what was found before it stays as it is."""
    result.events = sorted(set(result.events) | {"grader error"})
    result.status = _status(result.events)
    result.detail = "; ".join(filter(None, [f"the grader failed: {describe(exc)}", result.detail]))
    result.trace = traceback.format_exc()
    result.notes.append(GRADER_FAILED)


def _write_notebook(nb, path):
    """Write the autograded notebook whole or not at all, as text that UTF-8 can hold."""
    text = clean(nbformat.writes(nb))
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _finish(result, started, out_dir):
    result.seconds = round(time.monotonic() - started, 3)
    try:
        result.write(out_dir / "result.json")  # capped and cleaned first (Result.write)
    except OSError as exc:  # the gradebook still gets the result; the feedback falls back on it
        result.detail += f"; result.json could not be written: {exc}"
    return result
