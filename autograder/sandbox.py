"""The untrusted side of grading: run a student's code in an isolated, limited process.

A *zygote* process imports numpy and IPython once, then forks one child per submission. The
child cuts itself off (mount and network namespaces, the course and repository hidden under
empty tmpfs mounts, a private /tmp, an unprivileged uid of its own, rlimits) and then serves
two requests from the grader over a socket: run a cell, and call a function the student defined.

This module imports nothing from the project on purpose: a child inherits the zygote's memory,
and no reference solution or hidden check may be in it. Values cross the socket as plain data
(JSON plus .npy bytes), so an object that only pretends to be an array cannot reach the grader.
"""
import base64
import ctypes
import io
import json
import os
import resource
import socket
import struct
import sys
import traceback

MAX_MESSAGE = 64 << 20  # bytes; a bigger reply is refused and counts against the submission
OUTPUT_CHARS = 4000  # characters of stdout/stderr kept per cell


# ----------------------------------------------------------------------------- wire format
def send_message(sock, obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock, n):
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the student's process closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv_message(sock, limit=MAX_MESSAGE):
    (n,) = struct.unpack("!I", _recv_exact(sock, 4))
    if n > limit:
        raise ValueError(f"a reply of {n} bytes is over the {limit}-byte limit")
    return json.loads(_recv_exact(sock, n))


def encode(value, _depth=0):
    """Turn a value into JSON-able plain data; arrays travel as .npy bytes."""
    import numpy as np

    if _depth > 20:
        return {"__object__": "deeply nested value"}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return {"__tensor__": encode(value.detach().cpu().numpy())}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            return {"__object__": "numpy array of Python objects"}
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)  # keeps 0-d arrays 0-d
        key = "__nd__" if isinstance(value, np.ndarray) else "__npscalar__"
        return {key: base64.b64encode(buf.getvalue()).decode()}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return {"__float__": repr(float(value))} if isinstance(value, float) else value
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, list):
        return {"__list__": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, _depth + 1) for k, v in value.items()}}
    return {"__object__": type(value).__name__}


class Opaque:
    """Stands for a value the grader cannot take as data (an object of some other type)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object>"


def decode(data):
    """Inverse of encode, strict: only plain numbers, strings, containers and numeric arrays."""
    import numpy as np

    if data is None or isinstance(data, (bool, int, str)):
        return data
    if isinstance(data, float):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError("malformed value")
    (key, inner), = data.items()
    if key == "__float__":
        return float(inner)
    if key in ("__nd__", "__npscalar__"):
        arr = np.lib.format.read_array(io.BytesIO(base64.b64decode(inner)), allow_pickle=False)
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"array of dtype {arr.dtype}")
        return arr if key == "__nd__" else arr[()]
    if key == "__tensor__":
        return decode(inner)
    if key == "__tuple__":
        return tuple(decode(v) for v in inner)
    if key == "__list__":
        return [decode(v) for v in inner]
    if key == "__dict__":
        return {str(k): decode(v) for k, v in inner.items()}
    if key == "__object__":
        return Opaque(str(inner))
    raise ValueError(f"unknown value tag {key!r}")


# ----------------------------------------------------------------------------- isolation
_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18


def _mount(source, target, fstype, flags, options=None):
    enc = lambda s: None if s is None else s.encode()
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(options)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _outermost(paths):
    paths = sorted({os.path.realpath(p) for p in paths if p})
    kept = []
    for p in paths:
        if not any(p == q or p.startswith(q + os.sep) for q in kept):
            kept.append(p)
    return kept


def isolate(hide, keep, tmp_mb):
    """Enter new mount and network namespaces; hide folders; keep some paths readable.

    hide: folders replaced by empty tmpfs mounts (the course, the repository, $HOME...)
    keep: paths inside hidden folders (or /tmp) that stay readable, read-only (the Python installation)
    /tmp, /dev/shm and the other world-writable folders (/var/tmp, /run/lock) become private tmpfs mounts.
    """
    if _libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    # every world-writable folder gets a private tmpfs: files left there would outlive the sandbox
    shared = [os.path.realpath(p) for p in ("/tmp", "/var/tmp", "/run/lock")]
    covers = [c for c in _outermost(list(hide) + shared) if os.path.isdir(c) and c != "/"]
    inside = lambda path: any(path.startswith(c + os.sep) for c in covers)
    keep = sorted({os.path.realpath(k) for k in keep if os.path.exists(k)})
    stage = []  # bind the kept paths aside (on the private /dev/shm) before covering their parents
    for j, path in enumerate(k for k in keep if inside(k)):
        spot = f"/dev/shm/.keep{j}"
        os.mkdir(spot) if os.path.isdir(path) else open(spot, "w").close()
        _mount(path, spot, None, MS_BIND | MS_REC)
        stage.append((spot, path))
    for cover in covers:
        options = (f"size={tmp_mb}m,mode=1777" if cover == "/tmp" else
                   "size=1m,mode=1777" if cover in shared else "size=1m,mode=755")
        _mount("tmpfs", cover, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for spot, path in stage:
        if os.path.isdir(spot):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        _mount(spot, path, None, MS_MOVE)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        os.rmdir(spot) if os.path.isdir(spot) else os.unlink(spot)


def drop_privileges(uid, memory_mb, workdir):
    os.makedirs(workdir, exist_ok=True)
    os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    limits = {
        resource.RLIMIT_AS: memory_mb << 20,
        resource.RLIMIT_NPROC: 64,
        resource.RLIMIT_FSIZE: 64 << 20,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NOFILE: 256,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(workdir)
    os.environ.update(HOME=workdir, MPLCONFIGDIR=workdir + "/.matplotlib", IPYTHONDIR=workdir + "/.ipython")


# ----------------------------------------------------------------------------- the child
class _CappedText(io.TextIOBase):
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
    libraries = tuple({sys.prefix, sys.base_prefix, os.path.dirname(os.__file__)})
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename != __file__ and not f.filename.startswith(libraries)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-OUTPUT_CHARS:]


def _error_reply(exc):
    return {
        "ok": False,
        "ename": type(exc).__name__,
        "evalue": str(exc)[:OUTPUT_CHARS],
        "traceback": _student_traceback(exc),
        "memory": isinstance(exc, MemoryError),
    }


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
        self.sock = sock

    def run(self, source):
        out, err = _CappedText(), _CappedText()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            result = self.shell.run_cell(source, store_history=False)
        finally:
            sys.stdout, sys.stderr = saved
        exc = result.error_before_exec or result.error_in_exec
        reply = {"ok": exc is None, "stdout": out.text(), "stderr": err.text()}
        if exc is not None:
            reply.update(_error_reply(exc), stdout=out.text(), stderr=err.text())
        return reply

    def call(self, name, args, kwargs):
        fn = self.shell.user_ns.get(name)
        if fn is None:
            return {"ok": False, "missing": True, "ename": "NameError", "evalue": f"name {name!r} is not defined"}
        if not callable(fn):
            return {"ok": False, "missing": True, "ename": "TypeError", "evalue": f"{name} is a {type(fn).__name__}, not a function"}
        out = _CappedText()
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        try:
            value = fn(*[decode(a) for a in args], **{k: decode(v) for k, v in kwargs.items()})
            return {"ok": True, "value": encode(value), "stdout": out.text()}
        except BaseException as exc:  # the student's code may raise anything, SystemExit included
            return _error_reply(exc)
        finally:
            sys.stdout, sys.stderr = saved

    def serve(self):
        while True:
            try:
                request = recv_message(self.sock)
            except (EOFError, OSError):
                return
            op = request.get("op")
            if op == "run":
                reply = self.run(request["source"])
            elif op == "call":
                reply = self.call(request["name"], request.get("args", []), request.get("kwargs", {}))
            elif op == "exit":
                return
            else:
                reply = {"ok": False, "ename": "ProtocolError", "evalue": f"unknown op {op!r}"}
            try:
                send_message(self.sock, reply)
            except (TypeError, ValueError) as exc:  # unserialisable output: report, carry on
                send_message(self.sock, {"ok": False, "ename": "ValueError", "evalue": str(exc)})


def _child_main(sock, config):
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, sock.fileno())
    os.closerange(sock.fileno() + 1, 1 << 16)
    if config.get("isolate"):
        isolate(config["hide"], config["keep"], config["tmp_mb"])
    drop_privileges(config["uid"], config["memory_mb"], config["workdir"])
    under = lambda path, roots: any(path == r or path.startswith(r + os.sep) for r in roots)
    hidden, kept = _outermost(config["hide"]), [os.path.realpath(k) for k in config["keep"]]
    sys.path[:] = [p for p in sys.path
                   if not under(os.path.realpath(p or "."), hidden) or under(os.path.realpath(p or "."), kept)]
    send_message(sock, {"ok": True, "ready": True})
    Child(sock).serve()


# ----------------------------------------------------------------------------- the zygote
def zygote(ctrl_fd, preload):
    """Import once, then fork a child per request; reap children on request."""
    for name in preload:
        __import__(name)
    import numpy  # noqa: F401  (every assignment uses it)
    from IPython.core import interactiveshell  # noqa: F401
    import traitlets.config  # noqa: F401

    ctrl = socket.socket(fileno=ctrl_fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 4)
        except OSError:
            return
        if not msg:
            return
        request = json.loads(msg)
        if request["op"] == "fork":
            pid = os.fork()
            if pid == 0:
                ctrl.close()
                child_sock = socket.socket(fileno=fds[0])
                code = 0
                try:
                    _child_main(child_sock, request["config"])
                except BaseException as exc:  # report why set-up failed, if the socket still works
                    code = 3
                    try:
                        send_message(child_sock, {"ok": False, "ename": type(exc).__name__, "evalue": str(exc)})
                    except Exception:
                        pass
                os._exit(code)
            for fd in fds:
                os.close(fd)
            ctrl.send(json.dumps({"pid": pid}).encode())
        elif request["op"] == "wait":
            try:
                _, status = os.waitpid(request["pid"], 0)
                reply = {"exit": os.waitstatus_to_exitcode(status)}
            except ChildProcessError:
                reply = {"exit": None}
            ctrl.send(json.dumps(reply).encode())


if __name__ == "__main__":
    zygote(int(sys.argv[1]), [m for m in sys.argv[2:] if m])
