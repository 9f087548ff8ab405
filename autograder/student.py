"""The student's code as hidden checks see it: ``student.f(...)``, and handles to objects.

``student.f(*args)`` calls the student's ``f``. Arguments and results cross as data (arrays,
tensors, numbers, containers; autograder/sandbox/wire.py); any other result (a cache object, an
``nn.Module``, an optimiser) stays with the student's code and comes back as a `Remote`, which a
check can pass back to later calls, call (``h(x)``), ask to call a method (``h.call("forward", x)``),
read an attribute of (``h.get("hidden_size")``) or fetch as data (``h.value()``). A global of
the notebook is reached the same way: ``student.model`` is a Remote.

Two students stand behind this interface with the same codec, so they reach the same verdict:
`SandboxStudent` (our grader: the code runs in a sandboxed process) and `KernelStudent`
(``nbgrader validate`` and plain ``nbgrader autograde``: the code runs in the notebook's kernel).
"""
import json

from autograder.checking import StudentCodeError
from autograder.received import cap
from autograder.sandbox import wire
from autograder.sandbox.dispatch import Dispatcher


class Remote:
    """An object that lives with the student's code. Never data: compare() rejects it."""

    def __init__(self, student, token, type_name, label, origin=None):
        self._student, self._token, self._origin = student, token, origin
        self.type_name, self.label = type_name, label

    __wire__ = True  # crosses the wire as a reference to the object it stands for

    @property
    def __name__(self):
        return self.label

    def __call__(self, *args, **kwargs):
        return self._student._request("call", self, self.label, args=args, kwargs=kwargs)

    def call(self, method, *args, **kwargs):
        return self._student._request("call", self, f"{self.label}.{method}", method=method,
                                      args=args, kwargs=kwargs)

    def get(self, attr):
        return self._student._request("attr", self, f"{self.label}.{attr}", attr=attr)

    def value(self):
        """The object itself: data if it is data (a global number or array), else a Remote again."""
        return self._student._request("attr", self, self.label, attr=None)

    def __repr__(self):
        return f"<{self.type_name} object of the student's>"


class StaleHandle(StudentCodeError):
    pass


class Student:
    """What both students share: names become Remotes, requests go through the codec."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return Remote(self, "g" + name, "function", name)

    def _connection(self):
        raise NotImplementedError

    def _send(self, connection, message):
        raise NotImplementedError

    def _reference(self, remote):
        """The token for a Remote passed back to the student's code; only where it was made."""
        if remote._student is not self or (remote._origin is not None and remote._origin is not self._connection()):
            raise StaleHandle(remote.label, "StaleHandle",
                              "an object from another process (another part or student) was passed")
        return remote._token

    def _request(self, op, remote, label, args=(), kwargs=None, **fields):
        connection = self._connection()
        try:
            message = {"op": op, "ref": self._reference(remote), **fields}
            if op == "call":
                message["args"] = [wire.encode(a, ref=self._reference) for a in args]
                message["kwargs"] = {str(k): wire.encode(v, ref=self._reference) for k, v in (kwargs or {}).items()}
        except StaleHandle as exc:
            raise StaleHandle(label, exc.ename, exc.evalue) from None
        reply = self._send(connection, message)
        if not reply.get("ok"):
            # capped here too: the student's process capped them, but that process is the student's
            raise StudentCodeError(label, cap(reply.get("ename", "Error"), 100), cap(reply.get("evalue", "")),
                                   cap(reply.get("traceback", "")), reply.get("missing", False),
                                   reply.get("memory", False))
        try:
            return wire.decode(reply["value"], handle=lambda token, type_name: Remote(
                self, token, type_name, type_name, origin=connection))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise StudentCodeError(label, "ValueError", f"the result could not be read ({exc})") from None


class SandboxStudent(Student):
    """The student's code in its sandboxed process (the fork lent to the current part)."""

    def __init__(self, run):
        self._run = run

    def _connection(self):
        from autograder.checking import StudentDied

        if self._run.current is None:
            raise StudentDied("no process for this part")
        return self._run.current

    def _send(self, connection, message):
        return self._run.call(connection, message)


class KernelStudent(Student):
    """The student's code in the notebook's own kernel (``nbgrader validate``): no sandbox.

    Requests and replies still go through JSON and the codec, so the student's functions get
    the same fresh copies and the checks the same plain values as in the sandbox.
    """

    def __init__(self, namespace):
        self._dispatcher = Dispatcher(namespace)

    def _connection(self):
        return self._dispatcher

    def _send(self, connection, message):
        reply = connection.handle(json.loads(json.dumps(message)))
        return json.loads(json.dumps(reply))
