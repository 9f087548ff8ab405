"""Cut a freshly forked student process off from the host: deny by default.

The student's code gets a root filesystem of its own, a tmpfs that holds only:
- the Python installation and the system libraries, read-only (`visible_paths`);
- `/tmp` (its working directory is `/tmp/work`) and `/dev/shm`, private tmpfs mounts;
- `/dev/null`, `zero`, `full`, `random`, `urandom`; an `/etc` with a passwd entry for itself;
- a `/proc` of its own PID namespace, so it sees only its own processes.
It also gets new IPC (no shared memory with anyone), network (a loopback that is down) and UTS
namespaces. Its PID namespace dies with it: every process it started is killed and reaped before
the grader starts the next submission.

Two modes, the same view: as root, the code runs as an unprivileged uid of its own; without root,
inside an unprivileged user namespace with every capability dropped (mounts made there cannot be
undone from inside: the kernel locks them once capabilities are gone).
"""
import ctypes
import os
import platform
import resource
import signal
import stat

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine())

# Read-only, besides the Python installation: where shared libraries and time zones live.
SYSTEM_PATHS = ["/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/lib", "/lib64", "/lib32",
                "/usr/local/lib", "/usr/share/zoneinfo", "/etc/ld.so.cache", "/etc/ld.so.conf",
                "/etc/ld.so.conf.d", "/etc/localtime"]
DEVICES = ["null", "zero", "full", "random", "urandom"]
SANDBOX_HOME = "/tmp/work"


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, options=None):
    enc = lambda s: None if s is None else s.encode()
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(options)), f"mount {target}")


def outermost(paths):
    paths = sorted({os.path.realpath(p) for p in paths if p})
    kept = []
    for p in paths:
        if not any(p == q or p.startswith(q + os.sep) for q in kept):
            kept.append(p)
    return kept


def visible_paths(keep):
    """The host paths the student's code sees, read-only: ``keep`` (the Python installation) and
    the system's library folders. Symbolic links among them are recreated, not followed."""
    return [p for p in dict.fromkeys(list(keep) + SYSTEM_PATHS) if os.path.lexists(p)]


def userns_available():
    """Can this process make an unprivileged user namespace with the others inside? (forks to try)"""
    if SYS_PIVOT_ROOT is None:
        return False
    pid = os.fork()
    if pid == 0:
        ok = _libc.unshare(CLONE_NEWUSER) == 0 and _libc.unshare(NAMESPACES) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


# ----------------------------------------------------------------------------- the process tree
def isolate(mode, uid, keep, tmp_mb):
    """Enter the sandbox. Returns in the student's process (pid 1 of a new PID namespace).

    The calling process stays outside as its keeper: it waits for the student's process and exits
    with its status; SIGTERM makes it kill the student's process, whose namespace then takes every
    process the student started with it. mode: "root" or "userns".
    """
    if mode == "userns":
        real_uid, real_gid = os.getuid(), os.getgid()
        _check(_libc.unshare(CLONE_NEWUSER), "unshare(user)")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{real_uid} {real_uid} 1")
        _write("/proc/self/gid_map", f"{real_gid} {real_gid} 1")
    _check(_libc.unshare(NAMESPACES), "unshare")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the keeper outlives the next line
    pid = os.fork()
    if pid != 0:
        _keep(pid)  # never returns
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    _enter_root(visible_paths(keep), uid, tmp_mb)
    try:
        _libc.sethostname(b"sandbox", 7)
    except OSError:
        pass


def _keep(init):
    """The keeper: relay the student's process's exit status; on SIGTERM, end it (and its namespace)."""
    os.closerange(3, 1 << 16)  # hold nothing of the student's (its socket above all)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(init, signal.SIGKILL))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        _, status = os.waitpid(init, 0)  # returns once every process of the namespace is gone
        code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        code = 1
    os._exit(code if code >= 0 else 128 - code)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


# ----------------------------------------------------------------------------- the filesystem
def _bind_readonly(fd, target):
    """Bind the host path open as ``fd`` at ``target``, read-only, keeping the flags the host set."""
    _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    flags = os.statvfs(target).f_flag
    locked = ((MS_NOSUID if flags & os.ST_NOSUID else 0) | (MS_NODEV if flags & os.ST_NODEV else 0)
              | (MS_NOEXEC if flags & os.ST_NOEXEC else 0) | (MS_NOATIME if flags & os.ST_NOATIME else 0)
              | (MS_NODIRATIME if flags & os.ST_NODIRATIME else 0) | (MS_RELATIME if flags & os.ST_RELATIME else 0))
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | locked)


def _place(root, path):
    """The spot under ``root`` for host ``path``, with its parent folders."""
    spot = root + path
    os.makedirs(os.path.dirname(spot), mode=0o755, exist_ok=True)
    return spot


def _enter_root(paths, uid, tmp_mb):
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # open everything first: the new root's tmpfs may cover where a path lives (e.g. under /tmp)
    links = {p: os.readlink(p) for p in paths if os.path.islink(p)}
    fds = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in outermost(p for p in paths if p not in links)}
    devices = {d: os.open(f"/dev/{d}", os.O_PATH | os.O_CLOEXEC) for d in DEVICES if os.path.exists(f"/dev/{d}")}
    root = "/tmp"
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    os.makedirs(root + "/tmp")  # first: a Python installation under the host's /tmp is bound inside it
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=1777")
    for path, target in sorted(links.items()):
        if not os.path.lexists(root + path):
            os.symlink(target, _place(root, path))
    for path, fd in fds.items():
        spot = _place(root, path)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(spot, exist_ok=True)
        else:
            open(spot, "w").close()
        _bind_readonly(fd, spot)
        os.close(fd)
    os.makedirs(root + "/dev", exist_ok=True)
    for name, fd in devices.items():
        open(root + f"/dev/{name}", "w").close()
        _mount(f"/proc/self/fd/{fd}", root + f"/dev/{name}", None, MS_BIND)
        os.close(fd)
    for name, target in {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                         "stderr": "/proc/self/fd/2"}.items():
        os.symlink(target, root + f"/dev/{name}")
    os.makedirs(root + "/dev/shm", exist_ok=True)
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    os.makedirs(root + "/etc", exist_ok=True)
    _write(root + "/etc/passwd", f"student:x:{uid}:{uid}:student:{SANDBOX_HOME}:/nonexistent\n")
    _write(root + "/etc/group", f"student:x:{uid}:\n")
    os.makedirs(root + "/proc", exist_ok=True)
    # our own PID namespace's /proc; mounted while the host's /proc is still in view, as the kernel
    # requires inside a user namespace
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # the host's root, stacked under ours
    os.chdir("/")


# ----------------------------------------------------------------------------- privileges
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities():
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: no such cap
            break
    _libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # version 3: two 32-bit words
    _check(_libc.syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")


def drop_privileges(mode, uid, memory_mb, workdir):
    os.makedirs(workdir, exist_ok=True)
    if mode == "root":
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
    if mode == "root":
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    elif mode == "userns":
        _drop_capabilities()
    if mode:
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    os.chdir(workdir)
    os.environ.update(HOME=workdir, MPLCONFIGDIR=workdir + "/.matplotlib", IPYTHONDIR=workdir + "/.ipython")
