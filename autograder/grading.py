"""Grade one submission: rebuild it from the trusted release, run it sandboxed, check it here.

Test cells do not run in the student's process at all: each part's hidden check
(``checks`` of the assignment's manifest) runs in this process against a fork of the student's
executed notebook, reaching the student's code through `SandboxStudent`.
"""
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.assemble import Unreadable, assemble, nbgrader_meta, read_submission
from autograder.checking import CheckFailed, StudentCodeError, StudentDied, StudentTimeout, explain_error
from autograder.result import STATUSES, PartResult, Result
from autograder.student import SandboxStudent
from autograder.supervise import UID_BASE, Limits, Run


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
    except Exception as exc:  # a bug in a check: never blame the student silently
        return False, ("The grader could not check this part (an internal error); your instructor "
                       "has been told."), f"{type(exc).__name__}: {exc}"


def run_checks(assignment, checks, run):
    """grade_id -> PartResult for every autograded part, and the grader's own errors."""
    parts, errors = {}, []
    student = SandboxStudent(run)
    for name, spec in assignment.parts.items():
        part = PartResult(title(checks, name), spec.points)
        passed, part.message, error = _check_part(getattr(checks, name, None), student, run)
        if passed:
            part.score = spec.points
        if error:
            errors.append(f"{name}: {error}")
        failed_before = [parts[d].title for d in spec.depends if d in parts and not parts[d].passed]
        if not passed and failed_before:
            part.message += (f"\nNote: this part calls your code from {' and '.join(failed_before)}, "
                             "which did not pass; fixing that first may fix this part too.")
        parts[name] = part
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


def _event_details(run):
    details = []
    for index in sorted(run.bad_cells):
        reply = run.outputs.get(index, {})
        details.append(f"cell {index + 1}: {reply.get('evalue', 'stopped')}")
    for index, reply in sorted(run.outputs.items()):
        if reply.get("memory") and index not in run.bad_cells:
            details.append(f"cell {index + 1}: MemoryError (over the {run.limits.memory_mb} MB limit)")
    return details


def grade(job, zygote, checks):
    """Grade one submission; always returns a Result (never raises for the student's sake)."""
    started = time.monotonic()
    assignment = job.assignment
    template = nbformat.read(job.release, as_version=4)
    result = Result(assignment.name, job.student, manual=dict(assignment.written))
    blank = {name: PartResult(title(checks, name), spec.points) for name, spec in assignment.parts.items()}
    out_dir = Path(job.autograded_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if job.submission is None:
            raise Unreadable(job.reason or "no notebook was submitted")
        submitted = read_submission(job.submission)
    except Unreadable as exc:
        for part in blank.values():
            part.message = f"Not graded: {exc}."
        result.status, result.detail, result.parts = "unreadable", str(exc), blank
        return _finish(result, started, out_dir)

    cells, notes, tampering = assemble(template, submitted)
    result.notes = ([job.note] if job.note else []) + notes + tampering
    events = {"tampered"} if tampering else set()
    run = Run(zygote, UID_BASE + os.getpid(), job.limits, job.hide, cells, str(out_dir / ".work"))
    try:
        run.execute()
        parts, errors = run_checks(assignment, checks, run)
    except RuntimeError as exc:  # the sandbox itself failed: the grader's problem, say so
        for part in blank.values():
            part.message = "Not graded: the grader failed."
        parts, errors = blank, [str(exc)]
    finally:
        run.close()
    events |= run.events
    if errors:
        events.add("grader error")
    result.parts, result.events, result.status = parts, sorted(events), _status(events)
    result.detail = "; ".join(errors + result.notes + _event_details(run))
    nb = autograded_notebook(template, cells, run.outputs, parts)
    nbformat.write(nb, str(out_dir / f"{assignment.name}.ipynb"))
    return _finish(result, started, out_dir)


def _finish(result, started, out_dir):
    result.seconds = round(time.monotonic() - started, 3)
    result.write(out_dir / "result.json")
    return result
