"""Submissions of the fixture assignment as real student code: fair, wrong and hostile.

Each entry: student -> (answers, expected auto score, {part: words its message must contain}).
answers maps an answer cell's grade_id to its source; cells not named get the reference.
"""
from tests.machinery_fixture import reference as ref
from tests.machinery_fixture.course import POINTS

FULL = sum(POINTS.values())

CACHE_OBJECT = {
    "step_forward": """\
class StepCache:
    def __init__(self, **values):
        self.__dict__.update(values)

def step_forward(x, h_prev, Wx, Wh, b):
    h = np.tanh(np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", h_prev, Wh) + b)
    return h, StepCache(x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, h=h)""",
    "step_backward": """\
def step_backward(dh, cache):
    dz = dh * (1 - cache.h * cache.h)
    return {"dx": dz @ cache.Wx.T, "dh_prev": dz @ cache.Wh.T, "dWx": cache.x.T @ dz,
            "dWh": cache.h_prev.T @ dz, "db": np.sum(dz, axis=0)}""",
}

INT_KEYED_CACHE = {
    "step_forward": """\
def step_forward(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, {0: x, 1: h_prev, 2: Wx, 3: Wh, 4: h}""",
    "step_backward": """\
def step_backward(dh, cache):
    x, h_prev, Wx, Wh, h = (cache[i] for i in range(5))
    dz = dh * (1 - h ** 2)
    grads = {}
    grads["dx"], grads["dh_prev"] = dz @ Wx.T, dz @ Wh.T
    grads["dWx"], grads["dWh"], grads["db"] = x.T @ dz, h_prev.T @ dz, dz.sum(0)
    return grads""",
    # a torch module written with functional calls and a cell of its own
    "tiny_rnn": """\
import torch.nn.functional as F

class TinyRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) * 0.1)
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.1)
        self.bias_ih = nn.Parameter(torch.zeros(hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x):
        h = torch.zeros(x.shape[0], self.weight_hh.shape[0], dtype=x.dtype)
        outs = []
        for x_t in x.unbind(1):
            h = torch.tanh(F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
            outs.append(h)
        return torch.stack(outs, 1)""",
}

NO_BIAS = {"step_forward": """\
def step_forward(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh)
    return h, (x, h_prev, Wx, Wh, h)"""}

NO_TANH_DERIVATIVE = {"step_backward": """\
def step_backward(dh, cache):
    x, h_prev, Wx, Wh, h = cache
    dz = dh
    return {"dx": dz @ Wx.T, "dh_prev": dz @ Wh.T, "dWx": x.T @ dz, "dWh": h_prev.T @ dz, "db": dz.sum(axis=0)}"""}

DB_NOT_SUMMED = {"step_backward": """\
def step_backward(dh, cache):
    x, h_prev, Wx, Wh, h = cache
    dz = dh * (1 - h ** 2)
    return {"dx": dz @ Wx.T, "dh_prev": dz @ Wh.T, "dWx": x.T @ dz, "dWh": h_prev.T @ dz, "db": dz}"""}

RNN_NO_TANH = {"tiny_rnn": """\
class TinyRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.zeros(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x):
        h, outs = x.new_zeros(x.shape[0], self.weight_hh.shape[0]), []
        for t in range(x.shape[1]):
            h = x[:, t] @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
            outs.append(h)
        return torch.stack(outs, 1)"""}

UNTRAINED = {"fit_predict": """\
def fit(X, y, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(X.shape[1], 1).double()   # forgot to train


def predict(model, X):
    with torch.no_grad():
        return model(torch.as_tensor(X)).squeeze(-1).numpy()"""}

# Hostile: windows that overlap hold the next window's target as their last value; a forecaster
# that reads it (or the notebook's own targets) scores perfectly on the notebook's data only.
READS_TARGET = {"fit_predict": """\
def fit(X, y, seed=0):
    return nn.Linear(X.shape[1], 1).double()


def predict(model, X):
    X = np.asarray(X)
    if len(X) == len(Y_TRAIN):
        return Y_TRAIN.copy()
    return np.roll(X[:, -1], -1)"""}

# Hostile: a tensor subclass that claims to equal anything.
TENSOR_SUBCLASS = {"tiny_rnn": """\
class Agreeable(torch.Tensor):
    def __eq__(self, other):
        return torch.ones_like(torch.Tensor(self), dtype=torch.bool)
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

class TinyRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.zeros(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x):
        return torch.zeros(x.shape[0], x.shape[1], self.weight_hh.shape[0], dtype=x.dtype).as_subclass(Agreeable)"""}

# Hostile: rewrite the codec inside the student's process so every result claims to be a handle
# to the notebook's globals, or a reference the grader should resolve on its own side.
FORGED_HANDLES = {"step_forward": """\
import sys as _sys

_wire = _sys.modules.get("autograder.sandbox.wire")
if _wire is not None:
    _real = _wire.encode
    def _forged(value, handle=None, _depth=0):
        if isinstance(value, tuple):
            return {"__tuple__": [{"__handle__": "gX_TRAIN", "type": "ndarray"}, {"__ref__": "gsolutions"}]}
        return {"__handle__": "h" + "0" * 32, "type": "ndarray"}
    _wire.encode = _forged

def step_forward(x, h_prev, Wx, Wh, b):
    return np.zeros((len(x), len(b))), None"""}

# The module kills its process when the checks call it; training counts its runs in a file of the
# working directory, and the forecaster refuses to answer if the notebook was executed twice.
CRASH_IN_CHECKS = {
    "tiny_rnn": ref.TINY_RNN + """

def _crash(self, x):
    import os
    os._exit(3)

TinyRNN.forward = _crash""",
    "fit_predict": ref.FIT.replace(
        "    torch.manual_seed(seed)",
        "    with open('fit_runs.txt', 'a') as log:\n        log.write('run\\n')\n    torch.manual_seed(seed)").replace(
        "    with torch.no_grad():",
        "    if open('fit_runs.txt').read().count('run') != 1:\n"
        "        raise RuntimeError('the notebook was executed again')\n    with torch.no_grad():"),
}

SUBMISSIONS = {
    "correct": ({}, FULL, {}),
    "fair_cache_object": (CACHE_OBJECT, FULL, {}),
    "fair_int_keyed_cache": (INT_KEYED_CACHE, FULL, {}),
    "wrong_no_bias": (NO_BIAS, FULL - 2 - 3, {"test_step_forward": "bias b is missing",
                                            "test_step_backward": "Part 1"}),
    "wrong_no_tanh_derivative": (NO_TANH_DERIVATIVE, FULL - 3, {"test_step_backward": "1 - h**2"}),
    "wrong_db_not_summed": (DB_NOT_SUMMED, FULL - 3, {"test_step_backward": "gradient db"}),
    "wrong_rnn_no_tanh": (RNN_NO_TANH, FULL - 3, {"test_tiny_rnn": "wrong values"}),
    "wrong_untrained": (UNTRAINED, FULL - 2, {"test_trained_model": "mean squared error"}),
    "hostile_reads_target": (READS_TARGET, FULL - 2, {"test_trained_model": "mean squared error"}),
    "hostile_tensor_subclass": (TENSOR_SUBCLASS, FULL - 3, {"test_tiny_rnn": "wrong values"}),
    "hostile_forged_handles": (FORGED_HANDLES, 0, {}),
    "crash_in_checks": (CRASH_IN_CHECKS, FULL - 3, {"test_tiny_rnn": "crashed the Python process"}),
}
STATUS = {"crash_in_checks": "crashed"}  # every other submission: graded
