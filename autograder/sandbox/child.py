"""The student's process: cut off from the host, it runs cells and serves the grader's requests.

Requests (one JSON message each, one reply each):
- ``run``: run a cell's source in the notebook's namespace (an IPython shell);
- ``call`` / ``attr``: call a student's function, a handle or a method; read an attribute
  (autograder/sandbox/dispatch.py);
- ``fork``: fork this process; the copy serves a new socket, passed back with the reply, so a
  part's checks run on the notebook's state without changing it, and a crash there costs
  only that part (a trained model is not trained again);
- ``reap``: stop and wait for a forked copy; ``exit``.

Nothing here imports from the project outside this package: a child inherits the zygote's memory,
and no reference solution or hidden check may be in it.
"""
import os
import signal
import socket
import sys

from autograder.sandbox import wire
from autograder.sandbox.dispatch import CappedText, Dispatcher, error_reply
from autograder.sandbox.isolation import drop_privileges, isolate, outermost


class Child:
    def __init__(self, sock):
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        config.InteractiveShell.colors = "nocolor"
        config.InteractiveShell.xmode = "Plain"
        self.shell = InteractiveShell.instance(config=config)
        self.shell.showtraceback = lambda *args, **kwargs: None  # errors travel in the reply
        self.dispatcher = Dispatcher(self.shell.user_ns)
        self.sock = sock
        self.forks = set()

    def run(self, source):
        out, err = CappedText(), CappedText()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            result = self.shell.run_cell(source, store_history=False)
        finally:
            sys.stdout, sys.stderr = saved
        exc = result.error_before_exec or result.error_in_exec
        reply = {"ok": exc is None, "stdout": out.text(), "stderr": err.text()}
        if exc is not None:
            reply.update(error_reply(exc), stdout=out.text(), stderr=err.text())
        return reply

    def fork(self):
        """Fork; the copy serves a fresh socket. Returns the reply, or None in the copy."""
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            self.sock.close()
            theirs.close()
            self.sock, self.forks = ours, set()
            return None
        ours.close()
        socket.send_fds(self.sock, [b"F"], [theirs.fileno()])
        theirs.close()
        self.forks.add(pid)
        return {"ok": True, "pid": pid}

    def reap(self, pid):
        if pid not in self.forks:
            return {"ok": False, "ename": "ProtocolError", "evalue": f"no fork {pid}"}
        self.forks.discard(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            _, status = os.waitpid(pid, 0)
            return {"ok": True, "exit": os.waitstatus_to_exitcode(status)}
        except ChildProcessError:
            return {"ok": True, "exit": None}

    def serve(self):
        while True:
            try:
                request = wire.recv_message(self.sock)
            except (EOFError, OSError, ValueError):
                return
            op = request.get("op")
            if op == "run":
                reply = self.run(request["source"])
            elif op in ("call", "attr"):
                reply = self.dispatcher.handle(request)
            elif op == "fork":
                reply = self.fork()
                if reply is None:  # the copy: serve the new socket
                    wire.send_message(self.sock, {"ok": True, "ready": True})
                    continue
            elif op == "reap":
                reply = self.reap(request.get("pid"))
            elif op == "exit":
                return
            else:
                reply = {"ok": False, "ename": "ProtocolError", "evalue": f"unknown op {op!r}"}
            try:
                wire.send_message(self.sock, reply)
            except (TypeError, ValueError) as exc:  # unserialisable output: report, carry on
                wire.send_message(self.sock, {"ok": False, "ename": "ValueError", "evalue": str(exc)})


def child_main(sock, config):
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, sock.fileno())
    os.closerange(sock.fileno() + 1, 1 << 16)
    mode = config.get("isolate")
    if mode:
        isolate(mode, config["uid"], config["keep"], config["tmp_mb"])
    drop_privileges(mode, config["uid"], config["memory_mb"], config["workdir"])
    under = lambda path, roots: any(path == r or path.startswith(r + os.sep) for r in roots)
    hidden, kept = outermost(config["hide"]), [os.path.realpath(k) for k in config["keep"]]
    sys.path[:] = [p for p in sys.path
                   if not under(os.path.realpath(p or "."), hidden) or under(os.path.realpath(p or "."), kept)]
    wire.send_message(sock, {"ok": True, "ready": True})
    Child(sock).serve()
