"""Cut a freshly forked student process off from the host: namespaces, mounts, uid, rlimits."""
import ctypes
import os
import resource

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18


def _mount(source, target, fstype, flags, options=None):
    enc = lambda s: None if s is None else s.encode()
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(options)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def outermost(paths):
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
    covers = [c for c in outermost(list(hide) + shared) if os.path.isdir(c) and c != "/"]
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

