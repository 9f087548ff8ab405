"""The zygote: import once (numpy, IPython, torch for torch assignments), fork a child per request.

Started by the grader (autograder/supervise.py, Zygote) as
``python -m autograder.sandbox.zygote <socket fd> [module ...]``. It imports the preloaded
modules single-threaded, reports its memory footprint (so the grader can set each child's
memory limit above it) and whether it may make user namespaces (the sandbox without root), then
forks one child per submission and reaps them on request.
"""
import json
import os
import socket
import sys


def _vm_mb():
    """This process's virtual memory size in MB (what RLIMIT_AS counts)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def preload(modules):
    for name in modules:
        __import__(name)
    import numpy  # noqa: F401  (every assignment uses it)
    from IPython.core import interactiveshell  # noqa: F401
    import traitlets.config  # noqa: F401

    from autograder.sandbox import child  # noqa: F401

    torch = sys.modules.get("torch")
    if torch is not None:
        warm_up_torch(torch)


def warm_up_torch(torch):
    """One thread (one student process per core, and forks stay safe); a first backward pass.

    An optimiser's first use imports torch._dynamo (2-4 s): assignments that train list
    "torch._dynamo" in their manifest's preload, so that is paid here, once per worker."""
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    weight = torch.zeros(2, requires_grad=True)
    (weight * torch.ones(2)).sum().backward()


def serve(ctrl):
    from autograder.sandbox.child import child_main
    from autograder.sandbox.wire import send_message

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
                    child_main(child_sock, request["config"])
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


def main(argv):
    ctrl = socket.socket(fileno=int(argv[0]))
    try:
        from autograder.sandbox.isolation import userns_available

        userns = os.getuid() != 0 and userns_available()  # tried before any import starts a thread
        preload([m for m in argv[1:] if m])
        ctrl.send(json.dumps({"ready": True, "vm_mb": _vm_mb(), "userns": userns}).encode())
    except BaseException as exc:
        ctrl.send(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
        return
    serve(ctrl)


if __name__ == "__main__":
    main(sys.argv[1:])
