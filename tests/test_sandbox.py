"""The sandbox denies by default and nothing passes from one student to the next.

Hostile chapter-1 submissions, graded one after another on ONE worker, each followed by an honest
student who must still get full marks:
- `s1_decoys` looks for answers outside the course: a copy of the course with its reference
  package and an instructor's inbox with a classmate's notebook, both world-readable in a folder
  of their own; the grader's command line in /proc; the course's own submitted folder; it also
  tries to lift the read-only mounts from a user namespace of its own. Any route that worked
  would fill its (blank) answers: a 0 proves none did;
- `s3_leftovers` leaves daemons, a System V shared memory segment, a POSIX shared memory file
  and a /tmp file behind; `s4_after_leftovers`, next on the same worker, looks for them and forks
  40 processes (the process limit is 64: leftovers would use it up).
The same tests, and tests/test_grading_robustness.py, run as root (a uid per worker) and, through
`test_the_sandbox_holds_without_root`, as an unprivileged user the test creates (user namespaces).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, REPO, build_submission, printed_probe, write_submissions

from autograder.sandbox.isolation import userns_available
from autograder.supervise import Limits

if os.geteuid() != 0 and not userns_available():
    pytest.skip("without root, the sandbox needs user namespaces, which this machine does not allow: "
                "student code is not isolated here (the grader prints a warning)", allow_module_level=True)

LIMITS = Limits(cell_timeout=5, notebook_timeout=30, memory_mb=1024)
FULL = 12.0
TOKEN = uuid.uuid4().hex[:12]
SHM_KEY = 0x524E4E00 + int(TOKEN[:4], 16) % 255  # a System V key of this run's own
NAMES = ["rnn_step_scalar", "rnn_step_forward", "combine_weights", "rnn_step_combined", "rnn_forward",
         "many_to_one_forward"]

PRELUDE = """\
import ctypes, json, os, sys
routes, found = {}, {}
NAMES = @NAMES@

def route(name, fn):
    try:
        got = fn()
        routes[name] = "ok"
        if isinstance(got, dict):
            found.update({k: v for k, v in got.items() if k in NAMES and callable(v)})
    except BaseException as exc:
        routes[name] = type(exc).__name__
"""

DECOYS_CELL = PRELUDE + """\
def module_file(path):
    ns = {}
    exec(open(path).read(), ns)
    return ns

def notebook(path):
    ns = {"np": np, "activation": activation, "output_layer": output_layer}
    for cell in json.load(open(path))["cells"]:
        if cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), ns)
    return ns

def imported(folder):
    sys.path.insert(0, folder)
    import solutions.rnn as ref
    return vars(ref)

def from_command_lines():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for part in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0"):
                folder = part.decode(errors="replace")
                if os.path.isdir(os.path.join(folder, "classmate")):
                    return notebook(os.path.join(folder, "classmate", @ASSIGNMENT@ + ".ipynb"))
    raise FileNotFoundError("no inbox on any command line")

def lift_read_only_mounts():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000 | 0x00020000) != 0:  # a user and a mount namespace of its own
        raise PermissionError(os.strerror(ctypes.get_errno()))
    target = sys.prefix.encode()
    if libc.umount2(target, 2) == 0 or libc.mount(None, target, None, 32 | 4096, None) == 0:
        open(os.path.join(sys.prefix, "@TOKEN@"), "w").write("written from the sandbox")
        return {}
    raise PermissionError(os.strerror(ctypes.get_errno()))

route("read the decoy course's reference", lambda: module_file(@DECOY@ + "/course/solutions/rnn.py"))
route("import the decoy course's reference", lambda: imported(@DECOY@ + "/course"))
route("read a classmate's notebook in the decoy inbox", lambda: notebook(@DECOY@ + "/inbox/classmate/" + @ASSIGNMENT@ + ".ipynb"))
route("find the inbox on the grader's command line", from_command_lines)
route("read a classmate in the course's submitted folder",
      lambda: notebook(@COURSE@ + "/submitted/s2_honest/" + @ASSIGNMENT@ + "/" + @ASSIGNMENT@ + ".ipynb"))
route("read the repository's reference", lambda: module_file(@REPO@ + "/solutions/rnn.py"))
route("lift the read-only mounts", lift_read_only_mounts)
routes["root folder"] = sorted(os.listdir("/"))
routes["processes seen"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
globals().update(found)
print("PROBE " + json.dumps(routes))
"""

LEFTOVERS_CELL = """\
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
for _ in range(30):  # daemons: double fork, new session, a name the test looks for, sleep long
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            libc.prctl(15, b"lo@SHORT@", 0, 0, 0)  # PR_SET_NAME
            time.sleep(600)
        os._exit(0)
segment = libc.shmget(@SHM_KEY@, 4096, 0o1000 | 0o666)  # IPC_CREAT
open("/dev/shm/rnn-@TOKEN@", "w").write("left behind")
open("/tmp/rnn-@TOKEN@", "w").write("left behind")
print("LEFT", segment)
"""

AFTER_CELL = """\
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
probe = {"processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
         "shm segment": libc.shmget(@SHM_KEY@, 0, 0),
         "shm file": os.path.exists("/dev/shm/rnn-@TOKEN@"),
         "tmp file": os.path.exists("/tmp/rnn-@TOKEN@")}
children = []
for _ in range(40):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
probe["forked"] = len(children)
print("PROBE " + json.dumps(probe))
"""


def fill(source, **values):
    for key, value in values.items():
        source = source.replace(f"@{key}@", repr(value) if not isinstance(value, int) else str(value))
    return source.replace("@TOKEN@", TOKEN).replace("@SHORT@", TOKEN[:12])


def add_after(notebook, grade_id, source):
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def world_readable_decoys(course):
    """A folder outside the course, readable by anyone: a copy of the course and an inbox."""
    decoy = Path(tempfile.mkdtemp(prefix="rnn-decoy-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    shutil.copytree(REPO / "solutions", decoy / "course" / "solutions")
    write_submissions(decoy / "inbox", {"classmate": build_submission(course)})
    for folder, dirs, files in os.walk(decoy):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return decoy


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    from autograder.autograde import autograde
    from autograder.course import Course, collect

    root = tmp_path_factory.mktemp("sandbox") / "course"
    shutil.copytree(released_course.root, root)
    course = Course(root)
    decoy = world_readable_decoys(course)
    values = dict(NAMES=NAMES, ASSIGNMENT=ASSIGNMENT, DECOY=str(decoy), COURSE=str(course.root),
                  REPO=str(REPO), SHM_KEY=SHM_KEY)
    students = {
        "s1_decoys": add_after(build_submission(course, blank=True), "many_to_one_forward", fill(DECOYS_CELL, **values)),
        "s2_honest": build_submission(course),
        "s3_leftovers": add_after(build_submission(course), "many_to_one_forward", fill(LEFTOVERS_CELL, **values)),
        "s4_after_leftovers": add_after(build_submission(course), "many_to_one_forward", fill(AFTER_CELL, **values)),
        "s5_honest": build_submission(course),
    }
    inbox = tmp_path_factory.mktemp("inbox")
    write_submissions(inbox, students)
    collect(course, ASSIGNMENT, inbox)
    try:
        results = {r.student: r for r in autograde(course, ASSIGNMENT, 1, limits=LIMITS)}  # one worker, in order
        host = {"sandbox processes": _sandbox_processes(), "shm": _host_shm_keys(),
                "shm file": os.path.exists(f"/dev/shm/rnn-{TOKEN}"), "prefix file": _planted()}
    finally:
        shutil.rmtree(decoy)
        for path in _planted():
            os.remove(path)
    return {"course": course, "results": results, "host": host, "decoy": decoy}


def _sandbox_processes():
    """The daemons `s3_leftovers` started, if any is still on the host (zombies too)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                name = Path(entry.path, "comm").read_text().strip()
            except OSError:
                continue
            if name == f"lo{TOKEN[:12]}":
                found.append(int(entry.name))
    return found


def _host_shm_keys():
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return []
    return [int(line.split()[0]) for line in lines if line.split()]


def _planted():
    return [p for p in {os.path.join(sys.prefix, TOKEN), os.path.join(sys.base_prefix, TOKEN)} if os.path.exists(p)]


def _probe(graded, student):
    return printed_probe(graded["course"], student)


def _check(graded, student, status, score):
    r = graded["results"][student]
    assert (r.status, r.score) == (status, score), (r.status, r.score, r.detail,
                                                    {g: p.message[:200] for g, p in r.parts.items()})
    return r


def test_nothing_outside_the_sandbox_can_be_read(graded):
    _check(graded, "s1_decoys", "graded", 0.0)  # any route that worked would have filled its answers
    routes = _probe(graded, "s1_decoys")
    worked = [name for name, outcome in routes.items() if outcome == "ok"]
    assert not worked, routes
    for name in ("read the decoy course's reference", "read a classmate's notebook in the decoy inbox",
                 "read a classmate in the course's submitted folder", "read the repository's reference"):
        assert routes[name] == "FileNotFoundError", routes
    assert routes["import the decoy course's reference"] == "ModuleNotFoundError", routes
    assert routes["find the inbox on the grader's command line"] == "FileNotFoundError", routes  # no grader in its /proc
    assert routes["processes seen"] == [1], routes  # a PID namespace of its own
    assert routes["lift the read-only mounts"] in ("PermissionError", "OSError"), routes
    assert not graded["host"]["prefix file"]
    # deny by default: the root holds the system's libraries, the Python installation, and its own folders
    top = {Path(os.path.realpath(p)).parts[1] for p in (sys.prefix, sys.base_prefix)}
    assert set(routes["root folder"]) <= {"dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "tmp", "usr"} | top, routes
    _check(graded, "s2_honest", "graded", FULL)


def test_nothing_a_student_leaves_behind_reaches_the_next(graded):
    _check(graded, "s3_leftovers", "graded", FULL)
    probe = _probe(graded, "s4_after_leftovers")
    assert probe["processes"] == [1], probe  # none of the 30 daemons
    assert probe["shm segment"] == -1 and not probe["shm file"] and not probe["tmp file"], probe
    assert probe["forked"] == 40, probe  # the process limit was not used up by the daemons
    _check(graded, "s4_after_leftovers", "graded", FULL)
    _check(graded, "s5_honest", "graded", FULL)


def test_nothing_is_left_on_the_host(graded):
    host = graded["host"]
    assert host["sandbox processes"] == [], host
    assert SHM_KEY not in host["shm"], host
    assert not host["shm file"], host


# ----------------------------------------------------------------------------- without root
def _blocked_ancestors(paths):
    """Folders on the way to ``paths`` that other users cannot enter (e.g. a Python under /root)."""
    blocked = set()
    for path in paths:
        p = Path(os.path.realpath(path))
        for parent in list(reversed(p.parents))[1:]:
            if not os.stat(parent).st_mode & 0o001:
                blocked.add((str(parent), str(p.relative_to(parent).parts[0])))
                break
    return sorted(blocked)


@pytest.mark.skipif(os.environ.get("RNN_SANDBOX_TEST_USER") == "1", reason="this is the run without root")
def test_the_sandbox_holds_without_root():
    """Run this file's and the robustness file's hostile tests again as an unprivileged user."""
    if os.geteuid() != 0:
        pytest.skip("not root: the tests above already ran without root")
    tools = [shutil.which(t) for t in ("useradd", "unshare", "setpriv")]
    if not all(tools):
        pytest.skip(f"needs useradd, unshare and setpriv (found {tools})")
    user = "rnn-sandbox-test"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
    own = Path(tempfile.mkdtemp(prefix="rnn-sandbox-user-"))  # pytest's own temp folders are root's alone
    os.chown(own, uid, uid)
    # The machine's Python may live in a folder only root can enter (this one's is under /root):
    # in a private mount namespace, that folder is shown to the user with only the Python in it,
    # as on a machine with a system-wide Python.
    script = ["set -e"]
    blocked = {}
    for folder, child in _blocked_ancestors([sys.prefix, sys.base_prefix, REPO]):
        blocked.setdefault(folder, []).append(child)
    for n, (folder, children) in enumerate(sorted(blocked.items())):
        stages = [(f"/run/rnn-sandbox-stage{n}-{k}", child) for k, child in enumerate(children)]
        script += [f"mkdir -p {stage} && mount --bind '{folder}/{child}' {stage}" for stage, child in stages]
        script.append(f"mount -t tmpfs -o mode=755 tmpfs '{folder}'")
        script += [f"mkdir -p '{folder}/{child}' && mount --move {stage} '{folder}/{child}'" for stage, child in stages]
    env = f"HOME={own} PATH={Path(sys.executable).parent}:/usr/bin:/bin PYTHONPATH={REPO} " \
          "PYTHONDONTWRITEBYTECODE=1 RNN_SANDBOX_TEST_USER=1"
    script.append(f"exec setpriv --reuid={uid} --regid={uid} --clear-groups env {env} {sys.executable} -m pytest "
                  f"-q -p no:cacheprovider --basetemp={own / 'pytest'} {Path(__file__)} "
                  f"{Path(__file__).with_name('test_grading_robustness.py')}")
    try:
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)],
                              capture_output=True, text=True, cwd=REPO, timeout=600)
    finally:
        shutil.rmtree(own, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", last).group(1))
    # this file's three and every robustness test ran (none skipped for want of isolation)
    assert passed >= 3 + 38 and "failed" not in last and "error" not in last and re.search(r"\b1 skipped", last), last


def test_a_python_installation_under_the_hosts_tmp_stays_visible(tmp_path):
    """A checkout (and its .venv) under /tmp is kept, read-only, inside the private /tmp."""
    import time

    from autograder.supervise import UID_BASE, Sandbox, Zygote

    kept = Path(tempfile.mkdtemp(prefix="rnn-kept-", dir="/tmp"))
    try:
        (kept / "marker.txt").write_text("visible")
        os.chmod(kept, 0o755)
        os.chmod(kept / "marker.txt", 0o644)
        zygote = Zygote(["numpy"])
        box = Sandbox(zygote, UID_BASE + os.getpid(), LIMITS, [str(REPO)], time.monotonic() + 30)
        box.config["keep"].append(str(kept))
        box.start(str(tmp_path / "work"))
        try:
            read = box.request({"op": "run", "source": f"print(open({str(kept / 'marker.txt')!r}).read())"})
            write = box.request({"op": "run", "source": f"open({str(kept / 'new.txt')!r}, 'w')"})
            scratch = box.request({"op": "run", "source": "open('/tmp/scratch.txt', 'w').write('ok')"})
        finally:
            box.kill()
            zygote.close()
        assert read["stdout"].strip() == "visible", read
        assert not write["ok"] and write["ename"] in ("OSError", "PermissionError"), write  # read-only
        assert scratch["ok"], scratch  # the rest of /tmp is the student's
        assert not (kept / "new.txt").exists()
    finally:
        shutil.rmtree(kept)
