"""Serve the grader's requests on the student's objects: call, call a method, read an attribute.

One `Dispatcher` holds the student's namespace and the objects handed out as handles. The
sandboxed child serves it over a socket; `nbgrader validate` (autograder/student.py, KernelStudent)
calls it in the kernel. Both paths therefore send every argument and every result through the
same codec, so they see the same values and reach the same verdict.
"""
import io
import os
import secrets
import sys
import traceback

from autograder.sandbox import wire

OUTPUT_CHARS = 4000  # characters of stdout/stderr kept per cell or call
MAX_HANDLES = 10000  # objects kept for the grader per process


class CappedText(io.TextIOBase):
    def __init__(self, limit=OUTPUT_CHARS):
        self.parts, self.size, self.limit, self.dropped = [], 0, limit, 0

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self):
        tail = f"\n... [{self.dropped} more characters not shown]" if self.dropped else ""
        return "".join(self.parts) + tail


def _student_traceback(exc):
    """The traceback lines of the student's own code: no frames of the grader or of libraries."""
    libraries = tuple({sys.prefix, sys.base_prefix, os.path.dirname(os.__file__), os.path.dirname(__file__)})
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(libraries)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-OUTPUT_CHARS:]


def error_reply(exc):
    try:
        evalue = str(exc)[:OUTPUT_CHARS]
    except BaseException:  # a student's exception whose __str__ raises
        evalue = "(its message could not be read)"
    return {"ok": False, "ename": type(exc).__name__[:100], "evalue": evalue,
            "traceback": _student_traceback(exc), "memory": isinstance(exc, MemoryError)}


class Unknown(Exception):
    """A request named a global the student's notebook does not define."""


class Gone(Exception):
    """A request referred to an object this process does not hold (from another process, or forged)."""


class Dispatcher:
    def __init__(self, namespace):
        self.namespace = namespace
        self.handles = {}

    # handles ------------------------------------------------------------------
    def keep(self, obj):
        if len(self.handles) >= MAX_HANDLES:
            raise MemoryError("too many objects kept for the grader")
        token = "h" + secrets.token_hex(16)
        self.handles[token] = obj
        return token

    def resolve(self, token):
        """A handle the grader passes back: one of ours, or "g<name>" for a global of the notebook."""
        if token.startswith("g"):
            if token[1:] not in self.namespace:
                raise Unknown(f"name {token[1:]!r} is not defined")
            return self.namespace[token[1:]]
        if token in self.handles:
            return self.handles[token]
        raise Gone("an object passed to your code does not exist in this process")

    def _decode(self, data):
        return wire.decode(data, ref=self.resolve)

    # requests -----------------------------------------------------------------
    def handle(self, request):
        """Serve one "call" or "attr" request; always returns a reply dict."""
        op = request.get("op")
        out = CappedText()
        saved = sys.stdout, sys.stderr
        try:
            target = self.resolve(str(request.get("ref")))
            sys.stdout = sys.stderr = out
            if op == "attr":  # no name: the object itself, as data where it is data
                value = target if request.get("attr") is None else getattr(target, str(request["attr"]))
            elif op == "call":
                method = request.get("method")
                fn = getattr(target, method) if method else target
                if not callable(fn):
                    return {"ok": False, "missing": True, "ename": "TypeError",
                            "evalue": f"it is a {type(fn).__name__}, not a function"}
                args = [self._decode(a) for a in request.get("args", [])]
                kwargs = {str(k): self._decode(v) for k, v in request.get("kwargs", {}).items()}
                value = fn(*args, **kwargs)
            else:
                return {"ok": False, "ename": "ProtocolError", "evalue": f"unknown op {op!r}"}
            return {"ok": True, "value": wire.encode(value, handle=self.keep), "stdout": out.text()}
        except Unknown as exc:
            return {"ok": False, "missing": True, "ename": "NameError", "evalue": str(exc)}
        except Gone as exc:
            return {"ok": False, "ename": "StaleHandle", "evalue": str(exc)}
        except BaseException as exc:  # the student's code may raise anything, SystemExit included
            return error_reply(exc)
        finally:
            sys.stdout, sys.stderr = saved
