"""Supervise the student's processes: start them from the zygote, time them, kill and restart them.

A submission's cells run in one sandboxed process (`Sandbox`). Each part's checks then run in a
fork of it (`Fork`): the notebook's state (a trained model too) is shared copy-on-write, a part
cannot change what the next part sees, and a crash or a hang while a part is checked costs that
part alone, without running the notebook again.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from autograder.checking import StudentDied, StudentTimeout
from autograder.sandbox import wire

REPO = Path(__file__).resolve().parent.parent
# Sandboxed code runs as uid UID_BASE + the worker's pid (root only): unique among every grading
# process on the machine, so two grading runs at once never share (or kill) each other's uid.
UID_BASE = 100000
REPLY_KEYS = ("stdout", "stderr", "ename", "evalue", "traceback")


@dataclass
class Limits:
    cell_timeout: float = 30.0  # seconds for one cell or one call of a student's function
    notebook_timeout: float = 180.0  # seconds for the whole submission
    memory_mb: int = 2048  # address space for the student's own work, above the preloaded modules
    tmp_mb: int = 256  # size of the private /tmp
    max_restarts: int = 3  # fresh processes after a crash or a timeout while cells run


def isolation_mode(userns_allowed):
    """"root", "userns" or None (resource limits only): see autograder/sandbox/isolation.py."""
    if not sys.platform.startswith("linux") or os.environ.get("RNN_SANDBOX") == "off":
        return None
    if os.geteuid() == 0:
        return "root"
    return "userns" if userns_allowed else None


class Zygote:
    """A clean process that has imported numpy, IPython (and torch if asked) and forks students."""

    def __init__(self, preload=()):
        self.ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/tmp",
            "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
            # one thread per student process: we run one process per core, and results stay bitwise stable
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        }
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.sandbox.zygote", str(theirs.fileno()),
                                      *preload], pass_fds=[theirs.fileno()], env=env, cwd="/",
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        theirs.close()
        self._hello = None

    @property
    def hello(self):
        if self._hello is None:
            self._hello = json.loads(self.ctrl.recv(1 << 16))
            if not self._hello.get("ready"):
                raise RuntimeError(f"the sandbox's zygote could not start: {self._hello.get('error')}")
        return self._hello

    @property
    def footprint_mb(self):
        """The zygote's virtual memory after its imports: every child starts with this much."""
        return self.hello["vm_mb"]

    @property
    def isolation(self):
        """How its children are cut off from the host: "root", "userns" or None."""
        return isolation_mode(self.hello.get("userns"))

    def fork(self, config):
        self.footprint_mb  # noqa: B018  (wait for the imports before the first fork)
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


class Connection:
    """A socket to one process serving the student's code, with the per-call and notebook deadlines."""

    def __init__(self, limits, deadline):
        self.limits, self.deadline = limits, deadline
        self.sock = None
        self.exit_code = None

    @property
    def alive(self):
        return self.sock is not None

    def _receive(self, timeout):
        left = self.deadline - time.monotonic()
        self.sock.settimeout(max(0.01, min(timeout, left)))
        try:
            reply = wire.recv_message(self.sock)
        except socket.timeout:
            self.kill()
            raise StudentTimeout() from None
        except (EOFError, ConnectionError, OSError):
            self.kill()
            raise StudentDied(self.exit_code) from None
        except (ValueError, RecursionError) as exc:  # oversized, garbled or absurdly nested reply
            self.kill()
            raise StudentDied(str(exc)) from None
        if not isinstance(reply, dict) or not all(isinstance(reply.get(k, ""), str) for k in REPLY_KEYS):
            self.kill()  # not one of ours: the student's code wrote on the socket
            raise StudentDied("a malformed reply")
        return reply

    def request(self, message):
        if self.sock is None:
            raise StudentDied(self.exit_code)
        if time.monotonic() >= self.deadline:
            self.kill()
            raise StudentTimeout()
        try:
            wire.send_message(self.sock, message)
        except OSError:
            self.kill()
            raise StudentDied(self.exit_code) from None
        return self._receive(self.limits.cell_timeout)

    def fork(self):
        """A copy of this process serving its own socket (autograder/sandbox/child.py, fork)."""
        self.request_raw({"op": "fork"})
        try:
            self.sock.settimeout(self.limits.cell_timeout)
            _, fds, _, _ = socket.recv_fds(self.sock, 1, 1)
        except (OSError, socket.timeout):
            self.kill()
            raise StudentDied("could not fork") from None
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            self.kill()
            raise StudentDied("a malformed reply")
        copy = Fork(self, socket.socket(fileno=fds[0]))
        reply = self._receive(self.limits.cell_timeout)
        pid = reply.get("pid")
        if not reply.get("ok") or not isinstance(pid, int):
            copy.sock.close()
            self.kill()
            raise StudentDied("a malformed reply")
        copy.pid = pid
        ready = copy._receive(self.limits.cell_timeout)
        if not ready.get("ready"):
            copy.kill()
            raise StudentDied("a malformed reply")
        return copy

    def request_raw(self, message):
        if self.sock is None:
            raise StudentDied(self.exit_code)
        try:
            wire.send_message(self.sock, message)
        except OSError:
            self.kill()
            raise StudentDied(self.exit_code) from None

    def kill(self):
        raise NotImplementedError

    def close(self):
        if self.sock is not None:
            try:
                wire.send_message(self.sock, {"op": "exit"})
            except OSError:
                pass
        self.kill()


class Sandbox(Connection):
    """The student's process, forked from the zygote: runs the cells."""

    def __init__(self, zygote, uid, limits, hide, deadline):
        super().__init__(limits, deadline)
        self.zygote, self.uid = zygote, uid
        isolate = zygote.isolation
        keep = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        self.config = {
            "isolate": isolate, "uid": uid if isolate == "root" else os.getuid(),
            "hide": [str(p) for p in hide], "keep": sorted(keep),
            "memory_mb": limits.memory_mb + zygote.footprint_mb, "tmp_mb": limits.tmp_mb,
            "workdir": "/tmp/work" if isolate else None,
        }
        self.pid = None

    def start(self, workdir):
        if not self.config["isolate"]:
            self.config["workdir"] = workdir
        self.pid, self.sock = self.zygote.fork(self.config)
        reply = self._receive(self.limits.cell_timeout)
        if not reply.get("ok"):
            self.kill()
            raise RuntimeError(f"the sandbox could not start: {reply.get('ename')}: {reply.get('evalue')}")

    def kill(self):
        if self.pid is None:
            return
        try:
            if self.config["isolate"]:  # its keeper ends it and waits until its PID namespace is empty
                os.kill(self.pid, signal.SIGTERM)
            else:
                os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.exit_code = self.zygote.wait(self.pid)
        if self.sock is not None:
            self.sock.close()
        self.pid = self.sock = None


class Fork(Connection):
    """A copy of the student's process after its cells ran, for one part's checks."""

    def __init__(self, parent, sock):
        super().__init__(parent.limits, parent.deadline)
        self.parent, self.sock, self.pid = parent, sock, None

    def kill(self):
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        if self.pid is None:
            return
        try:  # the parent kills and reaps its copy; if it cannot, it goes too
            reply = self.parent.request({"op": "reap", "pid": self.pid})
            self.exit_code = reply.get("exit") if isinstance(reply.get("exit"), int) else None
        except (StudentDied, StudentTimeout):
            pass


class Run:
    """Executes a submission's cells in a sandbox, then lends a fork of it to each part's checks."""

    def __init__(self, zygote, uid, limits, hide, cells, workdir):
        self.zygote, self.uid, self.limits, self.hide = zygote, uid, limits, hide
        self.cells, self.workdir = cells, workdir
        self.deadline = time.monotonic() + limits.notebook_timeout
        self.events = set()  # "timed out", "crashed", "out of memory"
        self.bad_cells = set()  # cells that hung or crashed: skipped after a restart
        self.outputs = {}
        self.restarts = 0
        self.box = None
        self.current = None  # the connection the checks of the current part talk to

    def _may_restart(self):
        if self.restarts >= self.limits.max_restarts or time.monotonic() >= self.deadline:
            return False
        self.restarts += 1
        return True

    def _run_cell(self, index, cell):
        try:
            reply = self.box.request({"op": "run", "source": cell.source})
        except StudentTimeout:
            self.events.add("timed out")
            self.outputs[index] = {"ok": False, "ename": "TimeoutError", "evalue":
                                   f"this cell did not finish within {self.limits.cell_timeout:g} s and was stopped"}
            return False
        except StudentDied:
            code = self.box.exit_code
            self.events.add("crashed")
            how = f" (exit code {code})" if code is not None else ""
            self.outputs[index] = {"ok": False, "ename": "KernelDied",
                                   "evalue": f"the Python process died while running this cell{how}"}
            return False
        if reply.get("memory"):
            self.events.add("out of memory")
        self.outputs[index] = reply
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
                if role in ("setup", "solution", "added") and index not in self.bad_cells:
                    if not self._run_cell(index, cell):
                        self.bad_cells.add(index)
                        break
            else:
                return True
            if not self._may_restart():
                self.box = None
                return False

    @contextmanager
    def part(self):
        """A fork of the executed notebook for one part's checks; gone when the part is done."""
        if self.box is None or not self.box.alive:
            if not (self._may_restart() and self.execute()):
                raise StudentDied("no process left")
        self.current = self.box.fork()
        try:
            yield self.current
        finally:
            self.current.close()
            self.current = None

    def call(self, connection, message):
        """Send a check's request to the student's code; records timeouts, crashes, memory errors."""
        try:
            reply = connection.request(message)
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
