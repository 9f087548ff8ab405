"""Grading robustness (issue #3): broken, hostile and unusual submissions, graded for real.

Every submission here is a notebook built from the release (or bytes standing for a broken file)
and graded by the real engine: sandboxed processes, hidden checks, gradebook. One module-scoped
batch grades all of them in one `autograde` call (so a hostile student shares the run, and the
worker processes, with the honest ones); each test then asserts one student's status, score and
the words its feedback needs. Expected scores come from the assignment's points (12 automatic
points: 2 + 3 + 2 + 3 + 2), never from the grader's own output.

Sandbox probes print a line ``PROBE {json}`` from an added cell; the autograded notebook keeps
each cell's output, so the tests read what the student's code could (or could not) reach. Each
probe names a target that exists on the grader's side (asserted here), so a sandbox that let the
student through would fail the test.
"""
import hashlib
import json
import os
import select
import shutil
import socket
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, REPO, build_submission, printed_probe, solution_sources, write_submissions

from autograder.mutants.ch01_rnn_by_hand import EINSUM, FLOAT32, LOOPS  # fair answers of the gate
from autograder.sandbox.isolation import userns_available
from autograder.supervise import UID_BASE, Limits

# Without root or user namespaces the sandbox only limits resources (README, "What the grader enforces"): the students
# that probe the file system, the network and other processes are then left out of the batch.
ISOLATED = os.geteuid() == 0 or userns_available()
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="the sandbox needs root or user namespaces")

LIMITS = Limits(cell_timeout=2, notebook_timeout=20, memory_mb=1024)
POINTS = {"test_rnn_step_scalar": 2.0, "test_rnn_step_forward": 3.0, "test_rnn_step_combined": 2.0,
          "test_rnn_forward": 3.0, "test_many_to_one": 2.0}
FULL = sum(POINTS.values())  # 12 automatic points; written_answer (2) is graded by hand
TOKEN = f"PWNED_{uuid.uuid4().hex[:12]}"  # a name no honest file has: searched for after grading

# Graded a second time on the same course, for the determinism test: a mix of outcomes.
REGRADED = ["blank", "correct", "crash_cell", "edited_test_wrong", "fair_float32", "forger", "hog_list_call",
            "loop_call", "mistakes", "no_notebook", "text_file"]


# ----------------------------------------------------------------------------- notebook surgery
def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def add_cell(nb, after, source):
    """Add a code cell of the student's own right after the cell ``after`` (a grade_id)."""
    nb.cells.insert(_index(nb, after) + 1, nbformat.v4.new_code_cell(source))
    return nb


def _digest(paths):
    out = {}
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ----------------------------------------------------------------------------- student code
# Correct implementations written differently from the reference: LOOPS, EINSUM and FLOAT32 are
# the mutation gate's fair answers (autograder/mutants/ch01_rnn_by_hand.py).

# Helpers in a cell the student added; the answers only call them.
HELPER_CELL = """\
def _affine(inputs, weights, bias):
    return inputs @ np.transpose(weights) + bias

def _squash(z, kind="tanh"):
    return np.tanh(z) if kind == "tanh" else np.where(z > 0, z, 0.0)
"""
HELPERS = {
    "rnn_step_scalar": "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return _squash(w_x * x_t + w_h * h_prev + b)",
    "rnn_step_forward": """\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    new_state = _squash(_affine(x_t, W_ih, b_ih) + _affine(h_prev, W_hh, b_hh), nonlinearity)
    return new_state, (x_t, h_prev, W_ih, W_hh, new_state, nonlinearity)""",
    "combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.block([W_ih, W_hh])",
    "rnn_step_combined": """\
def rnn_step_combined(x_t, h_prev, W, b):
    return _squash(_affine(np.hstack([x_t, h_prev]), W, b))""",
    "rnn_forward": """\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    seq = np.moveaxis(x, 1, 0) if batch_first else x
    hidden, history = h0, []
    for frame in seq:
        hidden = rnn_step_forward(frame, hidden, W_ih, W_hh, b_ih, b_hh, nonlinearity)[0]
        history.append(hidden)
    history = np.array(history)
    return (np.moveaxis(history, 0, 1) if batch_first else history), None""",
    "many_to_one_forward": """\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    return _affine(rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)[0][-1], V, c)""",
}

# Every function casts its inputs to float32 and computes (and returns) float32.

NOISY_CELL = """\
import sys, warnings
warnings.simplefilter("always")
warnings.warn("this is only a warning from the student's notebook")
print("some progress on stderr", file=sys.stderr)
print("log(0) =", np.log(0.0 * np.ones(1)))  # RuntimeWarning: divide by zero
"""
NOISY_SCALAR = """\
import sys, warnings
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    warnings.warn("called rnn_step_scalar")
    print("computing a step", file=sys.stderr)
    np.log(np.zeros(2))  # RuntimeWarning, every call
    return np.tanh(w_x * x_t + w_h * h_prev + b)"""

# One recognisable mistake per part.
MISTAKES = {
    "rnn_step_scalar": "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return w_x * x_t + w_h * h_prev + b",
    "rnn_step_forward": """\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    h = activation(nonlinearity)(x_t @ W_ih.T + h_prev @ W_hh.T)
    return h, None""",
    "combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.concatenate([W_ih, W_hh], axis=1).T",
    "rnn_forward": """\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    if batch_first:
        x = x.transpose(1, 0, 2)
    h, hs = np.zeros_like(h0), []
    for x_t in x:
        h = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)[0]
        hs.append(h)
    out = np.stack(hs)
    return (out.transpose(1, 0, 2) if batch_first else out), None""",
    "many_to_one_forward": """\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    h_first = np.tanh(x[0] @ W_ih.T + b_ih + h0 @ W_hh.T + b_hh)  # the state after the FIRST step
    return output_layer(h_first, V, c)""",
}

# Wrong answers of the right shapes, and a cell that rebinds every comparison helper it can.
ZEROS = {
    "rnn_step_scalar": "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return 0.0",
    "rnn_step_forward": "def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity='tanh'):\n"
                        "    return np.zeros((len(x_t), len(W_ih))), None",
    "combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.zeros((len(W_ih), W_ih.shape[1] + W_hh.shape[1]))",
    "rnn_step_combined": "def rnn_step_combined(x_t, h_prev, W, b):\n    return np.zeros(h_prev.shape)",
    "rnn_forward": "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity='tanh', batch_first=False):\n"
                   "    return np.zeros(x.shape[:2] + (len(W_ih),)), None",
    "many_to_one_forward": "def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):\n"
                           "    return np.zeros((x.shape[1], len(V)))",
}
PATCH_CELL = """\
import builtins, numpy, numpy.testing
np.allclose = numpy.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.array_equal = np.array_equiv = lambda *a, **k: True
np.testing.assert_allclose = np.testing.assert_array_almost_equal = lambda *a, **k: None
np.testing.assert_array_equal = np.testing.assert_equal = lambda *a, **k: None
check_close = lambda *a, **k: print("✓ (patched)")
builtins.AssertionError = type("AssertionError", (Exception,), {})
"""

IMPOSTOR_CELL = """\
class AlwaysEqual:
    def __init__(self, shape=()):
        self.shape = shape
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape)
    def __float__(self):
        return 0.0

class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)
    def __ne__(self, other):
        return np.zeros(self.shape, dtype=bool)

class LyingFloat(float):
    def __eq__(self, other):
        return True

def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    return AlwaysEqual()

def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return AlwaysEqual((len(x_t), len(W_ih))), None

def combine_weights(W_ih, W_hh):
    return np.zeros((len(W_ih), W_ih.shape[1] + W_hh.shape[1])).view(LyingArray)

def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    return np.zeros(x.shape[:2] + (len(W_ih),)).view(LyingArray), None

def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    return [[LyingFloat(0.0)] * len(c)] * x.shape[1]
"""

# Shared by the probing students: run each route, record its outcome; "ok" means it worked.
PROBE_PRELUDE = """\
import gc, importlib, json, os, signal, socket, sys, time, types
COURSE, REPO, INBOX, HOME, TOKEN = @COURSE@, @REPO@, @INBOX@, @HOME@, @TOKEN@
A = "ch01_rnn_by_hand"
NAMES = ["rnn_step_scalar", "rnn_step_forward", "combine_weights", "rnn_step_combined", "rnn_forward", "many_to_one_forward"]
routes, stolen = {}, {}

def route(name, fn):
    try:
        got = fn()
        routes[name] = "ok"
        if isinstance(got, dict):
            stolen.update({k: v for k, v in got.items() if k in NAMES and callable(v)})
    except BaseException as exc:
        routes[name] = type(exc).__name__

def from_notebook(path):
    cells = json.load(open(path))["cells"]
    ns = {"np": np, "activation": activation, "output_layer": output_layer}
    for cell in cells:
        if cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), ns)
    return {k: ns[k] for k in NAMES}

def listing_shows(folder, names):
    seen = set(os.listdir(folder)) & set(names)
    if not seen:
        raise FileNotFoundError("nothing of it visible")
    return sorted(seen)

def grader_pids():
    if os.getppid() == 0:  # pid 1 of a PID namespace of its own: the host's pids, as the test knows them
        return @GRADER@, @GRADER@
    zygote = os.getppid()
    status = open(f"/proc/{zygote}/status").read()
    grader = int(next(l.split()[1] for l in status.splitlines() if l.startswith("PPid:")))
    return zygote, grader
"""

CHEATER_CELL = PROBE_PRELUDE + """\
def from_module(name):
    module = importlib.import_module(name)
    module = getattr(module, "ref", module)  # the checks module keeps the reference as `ref`
    return {k: getattr(module, k) for k in NAMES}

def with_repo_on_path(fn):
    sys.path.insert(0, REPO)
    try:
        return fn()
    finally:
        sys.path.remove(REPO)

def exec_file(path):
    ns = {}
    exec(open(path).read(), ns)
    return {k: ns[k] for k in NAMES}

def loaded_modules():
    mine = lambda f: f.startswith(REPO + "/") and not f.startswith(REPO + "/.venv/")
    found = [m for n, m in list(sys.modules.items())
             if n.startswith(("solutions", "autograder")) or mine(str(getattr(m, "__file__", "") or ""))]
    if not found:
        raise LookupError("no such module loaded")
    return {k: getattr(found[0], k) for k in NAMES}

def foreign_functions():
    found = {f.__name__: f for f in gc.get_objects()
             if isinstance(f, types.FunctionType) and f.__name__ in NAMES and f.__globals__ is not globals()}
    if not found:
        raise LookupError("no reference function in memory")
    return found

def through_proc(kind):
    zygote, grader = grader_pids()
    pid = grader if kind == "grader" else zygote
    return from_notebook(f"/proc/{pid}/root{COURSE}/source/{A}/{A}.ipynb")

route("gc scan for reference functions", foreign_functions)
route("sys.modules scan", loaded_modules)
route("import solutions", lambda: from_module("solutions.rnn"))
route("import solutions with the repository on sys.path", lambda: with_repo_on_path(lambda: from_module("solutions.rnn")))
route("import autograder.checks", lambda: with_repo_on_path(lambda: from_module(f"autograder.checks.{A}")))
route("read solutions/rnn.py", lambda: exec_file(f"{REPO}/solutions/rnn.py"))
route("read the hidden checks", lambda: open(f"{REPO}/autograder/checks/{A}.py").read())
route("read the repository's source notebook", lambda: from_notebook(f"{REPO}/autograder/source/{A}/{A}.ipynb"))
route("list the repository", lambda: listing_shows(REPO, ["solutions", "autograder", "tests"]))
route("read the course's source notebook", lambda: from_notebook(f"{COURSE}/source/{A}/{A}.ipynb"))
route("list the course", lambda: listing_shows(COURSE, ["source", "submitted", "release", "gradebook.db"]))
route("read the gradebook", lambda: open(f"{COURSE}/gradebook.db", "rb").read(16))
route("read another student's submission", lambda: from_notebook(f"{COURSE}/submitted/correct/{A}/{A}.ipynb"))
route("read another student's original", lambda: from_notebook(f"{INBOX}/correct/{A}.ipynb"))
route("read the course through /proc/<grader>/root", lambda: through_proc("grader"))
route("read the course through /proc/<zygote>/root", lambda: through_proc("zygote"))
route("list the grader's cwd", lambda: os.listdir(f"/proc/{grader_pids()[1]}/cwd"))
route("read the grader's environment", lambda: open(f"/proc/{grader_pids()[1]}/environ").read())
route("list the home folder", lambda: listing_shows(HOME, @HOME_NAMES@))

def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    # at call time, look for the reference in memory: loaded modules and the callers' frames
    for name, module in list(sys.modules.items()):
        if name.startswith(("solutions", "autograder")) and hasattr(module, "many_to_one_forward"):
            return module.many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c)
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
            ref = getattr(value, "many_to_one_forward", None)
            if callable(ref) and ref is not many_to_one_forward:
                return ref(x, h0, W_ih, W_hh, b_ih, b_hh, V, c)
        frame = frame.f_back
    raise NotImplementedError()

globals().update(stolen)  # whatever was found replaces the stubs: full marks if anything leaked
print("PROBE " + json.dumps(routes))
"""

WRITER_CELL = PROBE_PRELUDE + """\
def overwrite(path):
    with open(path, "w") as handle:
        handle.write("overwritten by " + TOKEN)

def append(path):
    with open(path, "ab") as handle:
        handle.write(TOKEN.encode())

def create(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "x") as handle:
        handle.write(TOKEN)

route("overwrite the course's source notebook", lambda: overwrite(f"{COURSE}/source/{A}/{A}.ipynb"))
route("overwrite the release", lambda: overwrite(f"{COURSE}/release/{A}/{A}.ipynb"))
route("overwrite another student's submission", lambda: overwrite(f"{COURSE}/submitted/correct/{A}/{A}.ipynb"))
route("delete another student's submission", lambda: os.remove(f"{COURSE}/submitted/blank/{A}/{A}.ipynb"))
route("append to the gradebook", lambda: append(f"{COURSE}/gradebook.db"))
route("plant a result", lambda: create(f"{COURSE}/autograded/correct/{A}/{TOKEN}.json"))
route("overwrite another student's original", lambda: overwrite(f"{INBOX}/correct/{A}.ipynb"))
route("create a file in solutions/", lambda: create(f"{REPO}/solutions/{TOKEN}.py"))
route("create a file in autograder/checks/", lambda: create(f"{REPO}/autograder/checks/{TOKEN}.py"))
route("create a file in the home folder", lambda: create(f"{HOME}/{TOKEN}"))
route("write through /proc/<grader>/root", lambda: create(f"/proc/{grader_pids()[1]}/root{COURSE}/{TOKEN}"))
route("write into /var/tmp", lambda: create(f"/var/tmp/{TOKEN}"))
route("write into /run/lock", lambda: create(f"/run/lock/{TOKEN}"))
print("PROBE " + json.dumps(routes))
"""

NETWORK_CELL = PROBE_PRELUDE + """\
def connect(address, family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        s.connect(address)
        s.sendall(TOKEN.encode())

route("connect to the grader machine (127.0.0.1)", lambda: connect(("127.0.0.1", @PORT@)))
route("connect to an external address", lambda: connect(("1.1.1.1", 53)))
route("resolve a host name", lambda: socket.getaddrinfo("pypi.org", 443))
route("connect to an abstract unix socket", lambda: connect(@UNIX@, socket.AF_UNIX))
print("PROBE " + json.dumps(routes))

def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    try:
        connect(("127.0.0.1", @PORT@))
        return 0.0  # reaching the network costs this part its marks
    except OSError:
        return np.tanh(w_x * x_t + w_h * h_prev + b)
"""

# Replies forged on the sandbox's own socket: not a list, not strings, nested past any recursion
# limit, or a value that cannot be decoded. Each must count against this student only.
FORGE_CELL = """\
import gc, socket, struct

def forge(data):
    sock = next(o for o in gc.get_objects() if isinstance(o, socket.socket) and o.fileno() != -1)
    sock.sendall(struct.pack("!I", len(data)) + data)
"""
FORGED = {
    "rnn_step_scalar": """\
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    forge(b"[" * 100000 + b"]" * 100000)
    return np.tanh(w_x * x_t + w_h * h_prev + b)""",
    "many_to_one_forward": """\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    forge(b'{"ok": true, "value": {"__dict__": 5}}')
    return output_layer(rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)[0][-1], V, c)""",
}

KILLER_CELL = PROBE_PRELUDE + """\
def kill(pid, sig=signal.SIGKILL, group=False):
    (os.killpg if group else os.kill)(pid, sig)

zygote, grader = grader_pids()
routes["own pid"] = os.getpid()
route("kill pid 1", lambda: kill(1))
route("kill the zygote", lambda: kill(zygote))
route("kill the grader", lambda: kill(grader))
route("kill the grader's process group", lambda: kill(os.getpgid(grader), group=True))
route("stop the grader", lambda: kill(grader, signal.SIGSTOP))
# other students' sandboxes (uids from UID_BASE), looked for over a while so that one runs meanwhile
others, killed = set(), []
until = time.monotonic() + 1.0
while time.monotonic() < until:
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            uid = entry.stat().st_uid
        except OSError:
            continue
        if uid >= @UID_BASE@:
            others.add(int(entry.name))
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except OSError:
                pass
    time.sleep(0.02)
routes["other sandboxes seen"] = len(others)
routes["other sandboxes killed"] = len(killed)
print("PROBE " + json.dumps(routes))
"""


# ----------------------------------------------------------------------------- the batch
def _students(course, ctx):
    """student -> notebook, bytes, or None (an empty folder: the fixture puts other files in it)."""
    s = {}
    nb = lambda answers=None, blank=False: build_submission(course, answers, blank=blank)
    s["correct"] = nb()
    s["blank"] = nb(blank=True)

    # broken files
    s["invalid_json"] = b'{"cells": [{"cell_type": "code", "source": "x = 1"'
    s["empty_file"] = b""
    s["text_file"] = b"My answers are in the PDF I emailed you.\n"
    s["json_not_notebook"] = b'{"answer": 42}'
    s["wrong_name"] = None  # gets "my answers (final).ipynb"
    s["no_notebook"] = None  # gets only answers.py

    # cells duplicated, deleted, edited, retyped
    dup = nb(dict(rnn_step_forward="_FIRST_COPY_RAN = 1.0\n" + MISTAKES["rnn_step_forward"]))
    second = nbformat.from_dict(dict(dup.cells[_index(dup, "rnn_step_forward")]))
    second.id = uuid.uuid4().hex[:8]  # what Jupyter gives a copied cell; the metadata is the same
    second.source = solution_sources()["rnn_step_forward"].replace("h_next, (", "h_next * _FIRST_COPY_RAN, (")
    dup.cells.insert(_index(dup, "rnn_step_forward") + 1, second)
    s["duplicated"] = dup

    deleted = nb()
    del deleted.cells[_index(deleted, "combine_weights")]
    s["deleted_answer"] = deleted

    edited = nb()
    edited.cells[_index(edited, "test_rnn_forward")].source = 'print("✓ all checks passed")'
    edited.cells[_index(edited, "activation")].source = "def activation(name):\n    return lambda z: np.maximum(z, 0.0)"
    s["edited_test_correct"] = edited

    edited_wrong = nb(dict(rnn_forward=MISTAKES["rnn_forward"]))
    edited_wrong.cells[_index(edited_wrong, "test_rnn_forward")].source = "pass"
    s["edited_test_wrong"] = edited_wrong

    no_test = nb()
    del no_test.cells[_index(no_test, "test_many_to_one")]
    s["deleted_test"] = no_test

    retyped = nb()
    for grade_id in ("rnn_step_scalar", "test_rnn_step_combined"):
        i = _index(retyped, grade_id)
        old = retyped.cells[i]
        retyped.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata)
    s["retyped"] = retyped

    # kernel deaths, endless loops, memory, output
    ref = solution_sources()
    s["crash_cell"] = nb(dict(combine_weights=ref["combine_weights"] + "\nimport os\nos._exit(1)"))
    s["crash_call"] = nb(dict(rnn_step_scalar="import os\ndef rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    os._exit(1)"))
    s["loop_cell"] = nb(dict(rnn_step_scalar=ref["rnn_step_scalar"] + "\nwhile True:\n    pass"))
    s["loop_call"] = nb(dict(rnn_step_scalar="def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n"
                                             "    while True:\n        pass"))
    s["hog_array"] = add_cell(nb(), "rnn_step_scalar", "big = np.ones(10**11)")
    s["hog_list_cell"] = add_cell(nb(), "rnn_step_scalar",
                                  "def grow():\n    hog = []\n    while True:\n        hog.append(bytes(10**7))\n\ngrow()")
    s["hog_list_call"] = nb(dict(rnn_step_scalar="def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    hog = []\n"
                                                 "    while True:\n        hog.append(bytes(10**7))"))
    s["huge_output"] = add_cell(
        nb(dict(rnn_step_scalar="def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    print('y' * 10**6)\n"
                                "    return np.tanh(w_x * x_t + w_h * h_prev + b)")),
        "rnn_step_scalar", "print('x' * 10_000_000)\nimport sys\nprint('e' * 10_000_000, file=sys.stderr)")

    # hostile
    s["patch_np"] = add_cell(nb(ZEROS), "rnn_step_scalar", PATCH_CELL)
    s["impostor"] = add_cell(nb(blank=True), "many_to_one_forward", IMPOSTOR_CELL)
    forger = add_cell(nb(FORGED), "rnn_step_scalar", 'forge(b"[1]")')
    add_cell(forger, "rnn_step_scalar", 'forge(b\'{"ok": true, "stdout": 5}\')')
    s["forger"] = add_cell(forger, "rnn_step_scalar", FORGE_CELL)
    if ISOLATED:
        s["cheater"] = add_cell(nb(blank=True), "many_to_one_forward", ctx.fill(CHEATER_CELL))
        s["writer"] = add_cell(nb(), "many_to_one_forward", ctx.fill(WRITER_CELL))
        s["network"] = add_cell(nb(), "many_to_one_forward", ctx.fill(NETWORK_CELL))
        s["killer"] = add_cell(nb(), "many_to_one_forward", ctx.fill(KILLER_CELL))

    # fair: correct, written differently
    s["fair_loops"] = nb(LOOPS)
    s["fair_einsum"] = nb(EINSUM)
    s["fair_helpers"] = add_cell(nb(HELPERS), "rnn_step_scalar", HELPER_CELL)
    s["fair_helpers"].cells.insert(0, nbformat.v4.new_code_cell("import numpy as np  # my own first cell"))
    s["fair_float32"] = nb(FLOAT32)
    s["fair_warnings"] = add_cell(nb(dict(rnn_step_scalar=NOISY_SCALAR)), "rnn_step_forward", NOISY_CELL)

    s["mistakes"] = nb(MISTAKES)
    return s


class Context:
    """Paths and listeners the probing students are told about."""

    def __init__(self, course, inbox):
        self.course, self.inbox = course, inbox
        self.home = os.path.expanduser("~")
        kept = {Path(os.path.realpath(p)) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        kept_names = {p.relative_to(self.home).parts[0] for p in kept if p.is_relative_to(self.home)}
        self.home_names = sorted(set(os.listdir(self.home)) - kept_names) if os.path.isdir(self.home) else []
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.tcp.setblocking(False)
        self.unix_name = f"\0rnn-course-probe-{TOKEN}"
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.unix_name)
        self.unix.listen(8)
        self.unix.setblocking(False)

    def fill(self, source):
        for key, value in {"@COURSE@": str(self.course.root), "@REPO@": str(REPO), "@INBOX@": str(self.inbox),
                           "@HOME@": self.home, "@TOKEN@": TOKEN, "@HOME_NAMES@": self.home_names,
                           "@PORT@": self.tcp.getsockname()[1], "@UNIX@": self.unix_name,
                           "@UID_BASE@": UID_BASE, "@GRADER@": os.getpid()}.items():
            source = source.replace(key, repr(value))
        return source

    def connections(self):
        """How many connections reached our listeners (accepted now, none expected)."""
        ready, _, _ = select.select([self.tcp, self.unix], [], [], 0)
        return len(ready)

    def close(self):
        self.tcp.close()
        self.unix.close()


def _probe(batch, student):
    return printed_probe(batch["course"], student)


def _planted(trees, folders):
    """Files named with TOKEN: anywhere under ``trees``, or directly in ``folders``."""
    found = [os.path.join(d, f) for root in trees for d, _, files in os.walk(root) for f in files if TOKEN in f]
    return found + [os.path.join(d, f) for d in folders if os.path.isdir(d) for f in os.listdir(d) if TOKEN in f]


@pytest.fixture(scope="module")
def batch(released_course, tmp_path_factory):
    from autograder.autograde import autograde
    from autograder.course import Course, collect

    tmp = tmp_path_factory.mktemp("robustness")
    shutil.copytree(released_course.root, tmp / "course")
    course = Course(tmp / "course")
    inbox = tmp / "inbox"
    ctx = Context(course, inbox)
    students = _students(course, ctx)
    write_submissions(inbox, students)
    nbformat.write(build_submission(course), str(inbox / "wrong_name" / "my answers (final).ipynb"))
    (inbox / "no_notebook" / "answers.py").write_text("def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    pass\n")

    report = dict(collect(course, ASSIGNMENT, inbox))
    watched = [course.path("source"), course.path("release"), course.path("submitted"),
               course.path("nbgrader_config.py"), inbox]
    before = _digest(watched)
    try:
        results = {r.student: r.to_dict() for r in autograde(course, ASSIGNMENT, 2, limits=LIMITS)}
        again = {r.student: r.to_dict() for r in autograde(course, ASSIGNMENT, 2, limits=LIMITS, students=REGRADED)}
        after = _digest(watched)
        connections = ctx.connections()
    finally:
        ctx.close()
        planted = _planted([course.root, inbox, REPO / "solutions", REPO / "autograder"],
                           [ctx.home, "/var/tmp", "/run/lock"])
        for path in planted:  # never leave a hostile file behind, even when a test is about to fail
            os.remove(path)
    return {"course": course, "inbox": inbox, "students": students, "report": report, "results": results,
           "again": again, "before": before, "after": after, "connections": connections, "planted": planted,
           "ctx": ctx}


def check(batch, student, status, score, messages=None, notes=()):
    """Assert a student's status and score; messages: grade_id -> words its feedback must contain."""
    r = batch["results"][student]
    summary = {g: (p["score"], p.get("message", "")[:300]) for g, p in r["parts"].items()}
    assert r["status"] == status, (r["status"], r.get("detail"), summary)
    assert r["score"] == score, (r["score"], r.get("detail"), summary)
    assert r["max_score"] == FULL + 2.0  # the written answer's 2 points, graded by hand
    assert set(r["parts"]) == set(POINTS)
    for grade_id, words in (messages or {}).items():
        message = r["parts"][grade_id]["message"].lower()
        for word in [words] if isinstance(words, str) else words:
            assert word.lower() in message, (grade_id, message)
    for words in notes:
        assert any(words in note for note in r["notes"]), r["notes"]
    return r


def full_except(**lost):
    """The score when the named parts (grade_id=True) get nothing and every other part full marks."""
    return FULL - sum(POINTS[g] for g in lost)


# ----------------------------------------------------------------------------- other students
def test_a_correct_student_gets_exactly_full_marks_beside_hostile_ones(batch):
    r = check(batch, "correct", "graded", FULL)
    assert all(p["score"] == POINTS[g] for g, p in r["parts"].items())
    assert r["notes"] == [] and r["events"] == []


def test_a_blank_student_gets_zero_and_is_told_each_part_is_not_implemented(batch):
    check(batch, "blank", "graded", 0.0, {g: "not implemented" for g in POINTS})


def test_every_submission_ends_with_a_recorded_status(batch):
    from autograder.grades import export_grades
    from autograder.result import STATUSES

    results = batch["results"]
    assert set(results) == set(batch["students"])
    assert all(r["status"] in STATUSES for r in results.values())
    assert not [s for s, r in results.items() if r["status"] == "grader error"]
    rows = {row["student"]: row for row in export_grades(batch["course"], batch["course"].path("grades.csv"))}
    assert set(rows) == set(results)
    for student, r in results.items():
        assert rows[student]["status"] == r["status"] and float(rows[student]["auto_score"]) == r["score"]
    assert "no .ipynb notebook" in rows["no_notebook"]["detail"]  # the reason is in the exported grades


def test_submitted_files_are_never_modified(batch):
    assert batch["after"] == batch["before"]
    assert any(ASSIGNMENT in p for p in batch["before"])  # the watched folders hold the submissions


# ----------------------------------------------------------------------------- broken files
@pytest.mark.parametrize("student, words", [
    ("invalid_json", "not valid json"),
    ("empty_file", "empty"),
    ("text_file", "not valid json"),
    ("json_not_notebook", "not a notebook"),
])
def test_an_unreadable_file_is_recorded_with_its_reason(batch, student, words):
    r = check(batch, student, "unreadable", 0.0)
    assert words in r["detail"].lower()
    assert all(words in p["message"].lower() for p in r["parts"].values())


def test_a_folder_without_a_notebook_is_unreadable_and_says_what_was_found(batch):
    r = check(batch, "no_notebook", "unreadable", 0.0)
    assert "no .ipynb notebook" in r["detail"] and "answers.py" in r["detail"]
    assert "no .ipynb notebook" in batch["report"]["no_notebook"]


def test_a_notebook_with_another_name_is_graded_and_the_collect_note_says_so(batch):
    check(batch, "wrong_name", "graded", FULL)
    note = batch["report"]["wrong_name"]
    assert "my answers (final).ipynb" in note and f"{ASSIGNMENT}.ipynb" in note


# ----------------------------------------------------------------------------- cells moved about
def test_a_duplicated_answer_cell_runs_every_copy_in_order(batch):
    # the first copy is wrong and sets a flag the second (correct) copy multiplies by: full marks
    # only if both ran, in the notebook's order
    check(batch, "duplicated", "graded", FULL, notes=["`rnn_step_forward` appears 2 times"])


def test_a_deleted_answer_cell_scores_zero_for_its_part_with_a_note(batch):
    check(batch, "deleted_answer", "graded", full_except(test_rnn_step_combined=True),
          {"test_rnn_step_combined": ["combine_weights", "not implemented"]},
          notes=["`combine_weights` was deleted"])


def test_an_edited_read_only_cell_is_tampering_and_the_originals_decide(batch):
    # the edited test "passes" everything and the edited activation is relu: both are ignored,
    # and the correct answers still get every automatic mark
    r = check(batch, "edited_test_correct", "tampered", FULL,
              notes=["`test_rnn_forward` was edited", "`activation` was edited"])
    assert "tampered" in r["events"]


def test_editing_a_test_cell_does_not_make_a_wrong_answer_pass(batch):
    # its rnn_forward ignores h0, which many_to_one_forward (checked with a non-zero h0) passes on
    check(batch, "edited_test_wrong", "tampered", full_except(test_rnn_forward=True, test_many_to_one=True),
          {"test_rnn_forward": "h0", "test_many_to_one": "Part 4"}, notes=["`test_rnn_forward` was edited"])


def test_a_deleted_test_cell_is_tampering_and_is_restored(batch):
    check(batch, "deleted_test", "tampered", FULL, notes=["`test_many_to_one` was deleted"])


def test_cells_retyped_to_markdown_are_tampering(batch):
    check(batch, "retyped", "tampered", full_except(test_rnn_step_scalar=True),
          {"test_rnn_step_scalar": "not implemented"},
          notes=["`rnn_step_scalar` was changed to another cell type", "`test_rnn_step_combined` was edited"])


# ----------------------------------------------------------------------------- crashes and limits
def test_a_kernel_death_in_a_cell_is_a_crash_and_other_parts_are_still_scored(batch):
    r = check(batch, "crash_cell", "crashed", full_except(test_rnn_step_combined=True),
              {"test_rnn_step_combined": ["combine_weights", "not defined"]})
    assert "died" in r["detail"]


def test_a_kernel_death_inside_a_function_costs_only_its_part(batch):
    check(batch, "crash_call", "crashed", full_except(test_rnn_step_scalar=True),
          {"test_rnn_step_scalar": "crashed"})


def test_an_endless_loop_in_a_cell_times_out_and_other_parts_are_still_scored(batch):
    r = check(batch, "loop_cell", "timed out", full_except(test_rnn_step_scalar=True),
              {"test_rnn_step_scalar": ["rnn_step_scalar", "not defined"]})
    assert "did not finish within 2 s" in r["detail"]


def test_an_endless_loop_in_a_function_times_out_only_its_part(batch):
    check(batch, "loop_call", "timed out", full_except(test_rnn_step_scalar=True),
          {"test_rnn_step_scalar": ["did not return", "2 s"]})


def test_a_huge_array_is_out_of_memory_and_the_answers_still_count(batch):
    r = check(batch, "hog_array", "out of memory", FULL)
    assert "MemoryError" in r["detail"] and "1024 MB" in r["detail"]


def test_a_list_growing_forever_in_a_cell_is_out_of_memory(batch):
    r = check(batch, "hog_list_cell", "out of memory", FULL)
    assert "MemoryError" in r["detail"]


def test_a_list_growing_forever_in_a_function_is_out_of_memory_for_its_part(batch):
    check(batch, "hog_list_call", "out of memory", full_except(test_rnn_step_scalar=True),
          {"test_rnn_step_scalar": "memory"})


def test_huge_output_is_capped_and_graded_normally(batch):
    check(batch, "huge_output", "graded", FULL)
    path = batch["course"].path("autograded", "huge_output", ASSIGNMENT, f"{ASSIGNMENT}.ipynb")
    assert path.stat().st_size < 1_000_000  # 20 MB printed; a few kB kept
    assert "more characters not shown" in path.read_text()


# ----------------------------------------------------------------------------- hostile students
def test_rebinding_numpy_and_the_testing_helpers_does_not_pass_wrong_answers(batch):
    r = check(batch, "patch_np", "graded", 0.0)
    assert all("wrong values" in p["message"] for p in r["parts"].values()), r["parts"]


def test_objects_that_impersonate_arrays_get_no_marks(batch):
    r = check(batch, "impostor", "graded", 0.0,
              {"test_rnn_step_scalar": "AlwaysEqual", "test_rnn_step_forward": "AlwaysEqual",
               "test_rnn_step_combined": "wrong values", "test_rnn_forward": "wrong values",
               "test_many_to_one": "wrong values"})
    assert r["events"] == []


@needs_isolation
def test_the_reference_and_other_submissions_cannot_be_read_or_imported(batch):
    # every route would copy the reference into the student's functions: 0 proves none worked
    check(batch, "cheater", "graded", 0.0, {g: "not implemented" for g in POINTS})
    routes = _probe(batch, "cheater")
    course = batch["course"]
    targets = [REPO / "solutions" / "rnn.py", REPO / "autograder" / "checks" / f"{ASSIGNMENT}.py",
               course.source_notebook(ASSIGNMENT), course.path("gradebook.db"),
               course.path("submitted", "correct", ASSIGNMENT, f"{ASSIGNMENT}.ipynb"),
               batch["inbox"] / "correct" / f"{ASSIGNMENT}.ipynb"]
    assert all(t.is_file() for t in targets)  # what the routes aim at exists for the grader
    assert len(routes) == 19 and not [name for name, outcome in routes.items() if outcome == "ok"], routes
    assert routes["import solutions"] == "ModuleNotFoundError"
    assert routes["import autograder.checks"] == "ModuleNotFoundError"
    assert routes["read another student's submission"] == "FileNotFoundError"
    assert routes["read the course through /proc/<grader>/root"] == "FileNotFoundError"  # not in its /proc


@needs_isolation
def test_writes_from_the_sandbox_never_reach_the_course_the_repository_or_home(batch):
    check(batch, "writer", "graded", FULL)
    routes = _probe(batch, "writer")
    assert len(routes) == 13, routes
    assert batch["planted"] == []  # no file named with the token anywhere it tried
    assert batch["after"] == batch["before"]
    assert TOKEN.encode() not in batch["course"].path("gradebook.db").read_bytes()
    check(batch, "correct", "graded", FULL)
    check(batch, "blank", "graded", 0.0)


@needs_isolation
def test_the_network_is_unreachable(batch):
    check(batch, "network", "graded", FULL)  # rnn_step_scalar loses its marks if it connects
    routes = _probe(batch, "network")
    assert len(routes) == 4 and not [n for n, o in routes.items() if o == "ok"], routes
    assert batch["connections"] == 0  # nothing reached the listeners this process kept open


def test_replies_forged_on_the_socket_count_against_that_student_only(batch):
    # two cells and one call forge replies the grader cannot take: each kills that process (a crash,
    # like any process that breaks the protocol); an undecodable value fails only its part
    r = check(batch, "forger", "crashed", full_except(test_rnn_step_scalar=True, test_many_to_one=True),
              {"test_rnn_step_scalar": "crashed", "test_many_to_one": "could not be read"})
    assert "grader error" not in r["events"]


@needs_isolation
def test_a_student_killing_processes_changes_no_grade(batch):
    check(batch, "killer", "graded", FULL)
    routes = _probe(batch, "killer")
    for name in ("kill the zygote", "kill the grader", "kill the grader's process group", "stop the grader"):
        assert routes[name] in ("PermissionError", "ProcessLookupError"), routes
    # pid 1 is the host's init, or (in a PID namespace) the student's own process, which survived it
    assert routes["kill pid 1"] in ("PermissionError", "ProcessLookupError") or routes["own pid"] == 1, routes
    assert routes["other sandboxes killed"] == 0, routes
    check(batch, "correct", "graded", FULL)
    assert not [s for s, r in batch["results"].items() if r["status"] == "grader error"]


# ----------------------------------------------------------------------------- fairness
@pytest.mark.parametrize("student", ["fair_loops", "fair_einsum", "fair_helpers", "fair_float32"])
def test_a_correct_implementation_written_differently_gets_full_marks(batch, student):
    r = check(batch, student, "graded", FULL)
    assert r["notes"] == []


def test_warnings_and_stderr_output_do_not_cost_marks(batch):
    check(batch, "fair_warnings", "graded", FULL)
    text = batch["course"].path("autograded", "fair_warnings", ASSIGNMENT, f"{ASSIGNMENT}.ipynb").read_text()
    assert "some progress on stderr" in text  # the output was kept for the feedback, not held against it


def test_mistakes_are_explained_in_words(batch):
    check(batch, "mistakes", "graded", 0.0, {
        "test_rnn_step_scalar": "tanh is missing",
        "test_rnn_step_forward": "bias",
        "test_rnn_step_combined": "transposed",
        "test_rnn_forward": "h0",
        "test_many_to_one": "last hidden state",
    })


# ----------------------------------------------------------------------------- determinism
def test_grading_the_same_submissions_again_gives_the_same_results(batch):
    assert sorted(batch["again"]) == sorted(REGRADED)
    for student in REGRADED:
        first, second = batch["results"][student], batch["again"][student]
        assert second["status"] == first["status"], student
        assert second["score"] == first["score"], student
        assert {g: (p["score"], p.get("message")) for g, p in second["parts"].items()} == \
               {g: (p["score"], p.get("message")) for g, p in first["parts"].items()}, student
        assert second["notes"] == first["notes"], student
