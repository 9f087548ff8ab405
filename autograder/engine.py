"""Grade one submission: rebuild it from the trusted release, run it sandboxed, check it here.

The grader never runs a cell the student could edit as a test: the notebook that runs is the
*released* notebook with only the student's answer cells (and cells the student added) put in.
Test cells do not run in the student's process at all; their hidden checks run in this process
(autograder/checks/<assignment>.py) and reach the student's functions through `SandboxStudent`,
which sends arguments and receives results as plain data.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import sandbox
from autograder.checking import CheckFailed, StudentCodeError, StudentDied, StudentTimeout

SANDBOX_PY = Path(sandbox.__file__).resolve()
# Sandboxed code runs as uid UID_BASE + the worker's pid (root only): unique among every grading
# process on the machine, so two grading runs at once never share (or kill) each other's uid.
UID_BASE = 100000

# What a status means, most severe first; a submission's status is its most severe event.
STATUSES = ["unreadable", "grader error", "crashed", "out of memory", "timed out", "tampered", "graded"]


@dataclass
class Limits:
    cell_timeout: float = 30.0  # seconds for one cell or one call of a student's function
    notebook_timeout: float = 180.0  # seconds for the whole submission
    memory_mb: int = 2048  # address-space limit of the student's process (RLIMIT_AS)
    tmp_mb: int = 256  # size of the private /tmp
    max_restarts: int = 3  # fresh processes after a crash or a timeout, per submission


@dataclass
class Job:
    assignment: str
    student: str
    submission: str | None  # path of the submitted notebook, None when there is none
    release: str  # path of the released (student) notebook: the trusted template
    autograded_dir: str  # where the autograded notebook and the result JSON go
    limits: Limits = field(default_factory=Limits)
    reason: str = ""  # why there is no notebook, when submission is None
    note: str = ""  # what collecting noticed (e.g. a renamed file), shown in the feedback
    hide: list = field(default_factory=list)  # folders the student's code must not see


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


# ----------------------------------------------------------------------------- processes
def isolation_available():
    """Namespaces and a uid switch need root; without them the sandbox only limits resources."""
    return os.geteuid() == 0 and sys.platform.startswith("linux")


class Zygote:
    """A clean process that has imported numpy and IPython and forks student processes."""

    def __init__(self, preload=()):
        self.ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/tmp",
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
            # one thread per student process: we run one process per core, and results stay bitwise stable
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        }
        self.proc = subprocess.Popen([sys.executable, str(SANDBOX_PY), str(theirs.fileno()), *preload],
                                     pass_fds=[theirs.fileno()], env=env, cwd="/",
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        theirs.close()

    def fork(self, config):
        ours, theirs = socket.socketpair()
        socket.send_fds(self.ctrl, [json.dumps({"op": "fork", "config": config}).encode()], [theirs.fileno()])
        theirs.close()
        pid = json.loads(self.ctrl.recv(1 << 16))["pid"]
        return pid, ours

    def wait(self, pid):
        self.ctrl.send(json.dumps({"op": "wait", "pid": pid}).encode())
        return json.loads(self.ctrl.recv(1 << 16))["exit"]

    def close(self):
        self.ctrl.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _kill_uid(uid):
    """Kill every process running as ``uid`` (what a student's code may have forked)."""
    for _ in range(10):
        found = False
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        os.kill(int(entry.name), signal.SIGKILL)
                        found = True
                except (OSError, ProcessLookupError):
                    pass
        if not found:
            return
        time.sleep(0.01)


class Sandbox:
    """One student process: run cells, call functions, with timeouts; restartable."""

    def __init__(self, zygote, uid, limits, hide, deadline):
        self.zygote, self.uid, self.limits, self.deadline = zygote, uid, limits, deadline
        isolate = isolation_available()
        keep = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        self.config = {
            "isolate": isolate, "uid": uid if isolate else os.getuid(),
            "hide": [str(p) for p in hide], "keep": sorted(keep),
            "memory_mb": limits.memory_mb, "tmp_mb": limits.tmp_mb,
            "workdir": "/tmp/work" if isolate else None,
        }
        self.pid = self.sock = None
        self.exit_code = None

    def start(self, workdir):
        if not self.config["isolate"]:
            self.config["workdir"] = workdir
        self.pid, self.sock = self.zygote.fork(self.config)
        reply = self._receive(self.limits.cell_timeout)
        if not reply.get("ok"):
            self.kill()
            raise RuntimeError(f"the sandbox could not start: {reply.get('ename')}: {reply.get('evalue')}")

    def _receive(self, timeout):
        left = self.deadline - time.monotonic()
        self.sock.settimeout(max(0.01, min(timeout, left)))
        try:
            reply = sandbox.recv_message(self.sock)
        except socket.timeout:
            self.kill()
            raise StudentTimeout() from None
        except (EOFError, ConnectionError):
            self.kill()
            raise StudentDied(self.exit_code) from None
        except (ValueError, RecursionError) as exc:  # oversized, garbled or absurdly nested reply
            self.kill()
            raise StudentDied(str(exc)) from None
        if not isinstance(reply, dict) or not all(isinstance(reply.get(k, ""), str) for k in
                                                  ("stdout", "stderr", "ename", "evalue", "traceback")):
            # not one of ours: the student's code wrote on the socket
            self.kill()
            raise StudentDied("a malformed reply")
        return reply

    def request(self, message):
        if self.sock is None:
            raise StudentDied(self.exit_code)
        if time.monotonic() >= self.deadline:
            self.kill()
            raise StudentTimeout()
        try:
            sandbox.send_message(self.sock, message)
        except OSError:
            self.kill()
            raise StudentDied(self.exit_code) from None
        return self._receive(self.limits.cell_timeout)

    def kill(self):
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.config["isolate"]:
            _kill_uid(self.uid)
        self.exit_code = self.zygote.wait(self.pid)
        self.sock.close()
        self.pid = self.sock = None

    def close(self):
        if self.sock is not None:
            try:
                sandbox.send_message(self.sock, {"op": "exit"})
            except OSError:
                pass
        self.kill()


class SandboxStudent:
    """``student.f(*args)`` calls the student's ``f`` in the sandbox; results come back as data."""

    def __init__(self, run):
        self._run = run

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            reply = self._run.call(name, [sandbox.encode(a) for a in args],
                                   {k: sandbox.encode(v) for k, v in kwargs.items()})
            if not reply.get("ok"):
                raise StudentCodeError(name, reply.get("ename", "Error"), reply.get("evalue", ""),
                                       reply.get("traceback", ""), reply.get("missing", False),
                                       reply.get("memory", False))
            try:
                return sandbox.decode(reply["value"])
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                raise StudentCodeError(name, "ValueError", f"the result could not be read ({exc})") from None

        return call


class Run:
    """Executes a submission's cells in a sandbox; re-runs them in a fresh one after a crash."""

    def __init__(self, zygote, uid, limits, hide, cells, workdir):
        self.zygote, self.uid, self.limits, self.hide = zygote, uid, limits, hide
        self.cells, self.workdir = cells, workdir
        self.deadline = time.monotonic() + limits.notebook_timeout
        self.events = set()  # "timed out", "crashed", "out of memory"
        self.bad_cells = set()  # cells that hung or crashed: skipped after a restart
        self.outputs = {}
        self.restarts = 0
        self.box = None

    def _may_restart(self):
        if self.restarts >= self.limits.max_restarts or time.monotonic() >= self.deadline:
            return False
        self.restarts += 1
        return True

    def execute(self):
        """Run the cells in a fresh process, skipping cells that hung or crashed in an earlier one.

        Returns False when no process is left (restart budget or notebook deadline spent).
        """
        while True:
            if self.box is not None:
                self.box.kill()
            self.box = Sandbox(self.zygote, self.uid, self.limits, self.hide, self.deadline)
            self.box.start(self.workdir)
            for index, (role, cell) in enumerate(self.cells):
                if role not in ("setup", "solution", "added") or index in self.bad_cells:
                    continue
                try:
                    reply = self.box.request({"op": "run", "source": cell.source})
                except StudentTimeout:
                    self.events.add("timed out")
                    self.bad_cells.add(index)
                    self.outputs[index] = {"ok": False, "ename": "TimeoutError", "evalue":
                                           f"this cell did not finish within {self.limits.cell_timeout:g} s and was stopped"}
                    break
                except StudentDied:
                    code = self.box.exit_code
                    self.events.add("crashed")
                    self.bad_cells.add(index)
                    how = f" (exit code {code})" if code is not None else ""
                    self.outputs[index] = {"ok": False, "ename": "KernelDied",
                                           "evalue": f"the Python process died while running this cell{how}"}
                    break
                if reply.get("memory"):
                    self.events.add("out of memory")
                self.outputs[index] = reply
            else:
                return True
            if not self._may_restart():
                self.box = None
                return False

    def call(self, name, args, kwargs):
        if self.box is None or self.box.sock is None:
            if not (self._may_restart() and self.execute()):
                raise StudentDied("no process left")
        try:
            reply = self.box.request({"op": "call", "name": name, "args": args, "kwargs": kwargs})
        except StudentTimeout:
            self.events.add("timed out")
            raise
        except StudentDied:
            self.events.add("crashed")
            raise
        if reply.get("memory"):  # a function that hit the memory limit when called, as for a cell
            self.events.add("out of memory")
        return reply

    def close(self):
        if self.box is not None:
            self.box.close()


# ----------------------------------------------------------------------------- grading
def _test_parts(template):
    return [(nbgrader_meta(c)["grade_id"], float(nbgrader_meta(c).get("points", 0)))
            for c in template.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]


def _manual_parts(template):
    return [(nbgrader_meta(c)["grade_id"], float(nbgrader_meta(c).get("points", 0)))
            for c in template.cells if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("solution")]


def _title(checks, grade_id):
    doc = getattr(getattr(checks, grade_id, None), "__doc__", None) or grade_id
    return doc.strip().splitlines()[0]


def run_checks(checks, template, run):
    parts, errors = {}, []
    student = SandboxStudent(run)
    for grade_id, points in _test_parts(template):
        check = getattr(checks, grade_id, None)
        part = {"title": _title(checks, grade_id), "points": points, "score": 0.0}
        if check is None:
            part["message"] = "no hidden check is defined for this part (tell your instructor)"
            errors.append(f"no check named {grade_id}")
        else:
            try:
                check(student)
                part.update(score=points, message="All checks passed.")
            except CheckFailed as exc:
                part["message"] = str(exc)
            except StudentTimeout:
                part["message"] = (f"Your function did not return within {run.limits.cell_timeout:g} s "
                                   "(an endless loop?), so this part could not be checked.")
            except StudentDied:
                part["message"] = ("Your code crashed the Python process (or exceeded the grader's "
                                   "limits) while this part was checked.")
            except Exception as exc:  # a bug in a check: never blame the student silently
                part["message"] = "The grader could not check this part (an internal error); your instructor has been told."
                errors.append(f"{grade_id}: {type(exc).__name__}: {exc}")
        failed_before = [parts[d]["title"] for d in getattr(checks, "DEPENDS", {}).get(grade_id, ())
                         if d in parts and parts[d]["score"] < parts[d]["points"]]
        if part["score"] < points and failed_before:
            part["message"] += (f"\nNote: this part calls your code from {' and '.join(failed_before)}, "
                                "which did not pass; fixing that first may fix this part too.")
        parts[grade_id] = part
    return parts, errors


def _status(events):
    return next(s for s in STATUSES if s in events or s == "graded")


def _autograded_notebook(template, cells, outputs, parts):
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
                mark = "✓" if part["score"] == part["points"] else "✗"
                text = f"{mark} {part['title']}: {part['score']:g} / {part['points']:g}\n{part['message']}\n"
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        nb.cells.append(cell)
    return nb


def grade(job, zygote, checks):
    """Grade one submission; always returns a result dict (never raises for the student's sake)."""
    started = time.monotonic()
    template = nbformat.read(job.release, as_version=4)
    result = {"assignment": job.assignment, "student": job.student, "notes": [], "events": [],
              "parts": {}, "manual": {g: p for g, p in _manual_parts(template)}}
    blank = {g: {"title": _title(checks, g), "points": p, "score": 0.0} for g, p in _test_parts(template)}
    out_dir = Path(job.autograded_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if job.submission is None:
            raise Unreadable(job.reason or "no notebook was submitted")
        submitted = read_submission(job.submission)
    except Unreadable as exc:
        result.update(status="unreadable", detail=str(exc),
                      parts={g: dict(p, message=f"Not graded: {exc}.") for g, p in blank.items()})
        return _finish(result, started, out_dir, job)

    cells, notes, tampering = assemble(template, submitted)
    result["notes"] = ([job.note] if job.note else []) + notes + tampering
    events = {"tampered"} if tampering else set()
    run = Run(zygote, UID_BASE + os.getpid(), job.limits, job.hide, cells, str(out_dir / ".work"))
    try:
        run.execute()
        parts, errors = run_checks(checks, template, run)
    except RuntimeError as exc:  # the sandbox itself failed: the grader's problem, say so
        parts, errors = {g: dict(p, message="Not graded: the grader failed.") for g, p in blank.items()}, [str(exc)]
    finally:
        run.close()
    events |= run.events
    if errors:
        events.add("grader error")
    result.update(parts=parts, events=sorted(events), status=_status(events),
                  detail="; ".join(errors + result["notes"] + _event_details(run)))
    nb = _autograded_notebook(template, cells, run.outputs, parts)
    nbformat.write(nb, str(out_dir / f"{job.assignment}.ipynb"))
    return _finish(result, started, out_dir, job)


def _event_details(run):
    details = []
    for index in sorted(run.bad_cells):
        reply = run.outputs.get(index, {})
        details.append(f"cell {index + 1}: {reply.get('evalue', 'stopped')}")
    for index, reply in sorted(run.outputs.items()):
        if reply.get("memory") and index not in run.bad_cells:
            details.append(f"cell {index + 1}: MemoryError (over the {run.limits.memory_mb} MB limit)")
    return details


def _finish(result, started, out_dir, job):
    result["score"] = sum(p["score"] for p in result["parts"].values())
    result["max_score"] = sum(p["points"] for p in result["parts"].values()) + sum(result["manual"].values())
    result["seconds"] = round(time.monotonic() - started, 3)
    (out_dir / "result.json").write_text(json.dumps(result, indent=1))
    return result
