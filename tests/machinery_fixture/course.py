"""Write the fixture assignment into a course folder: its manifest and its instructor notebook."""
import inspect
import textwrap

from autograder import authoring
from tests.machinery_fixture import reference as ref

NAME = "fixture_machinery"
POINTS = {"test_step_forward": 2, "test_step_backward": 3, "test_tiny_rnn": 3, "test_trained_model": 2}
WRITTEN = {"written_answer": 1}

MANIFEST = """\
title = "Grading machinery fixture"
checks = "tests.machinery_fixture.checks"
preload = ["torch", "torch._dynamo"]   # the notebook trains: an optimiser imports torch._dynamo

[limits]
cell_timeout = 20
notebook_timeout = 120
memory_mb = 1024

[parts.test_step_forward]
points = 2
answers = ["step_forward"]

[parts.test_step_backward]
points = 3
answers = ["step_backward"]
depends = ["test_step_forward"]

[parts.test_tiny_rnn]
points = 3
answers = ["tiny_rnn"]

[parts.test_trained_model]
points = 2
answers = ["fit_predict"]

[written.written_answer]
points = 1
"""

SETUP = "import numpy as np\nimport torch\nfrom torch import nn\n\n\n" + inspect.getsource(ref.make_series)

VISIBLE = {
    "test_step_forward": """\
h, cache = step_forward(np.ones((1, 2)), np.zeros((1, 2)), np.eye(2), np.eye(2), np.zeros(2))
assert np.allclose(h, np.tanh(1.0)), "h = tanh(x Wx + h_prev Wh + b)"
""",
    "test_step_backward": """\
h, cache = step_forward(np.ones((1, 2)), np.zeros((1, 2)), np.eye(2), np.eye(2), np.zeros(2))
grads = step_backward(np.ones((1, 2)), cache)
assert np.allclose(grads["db"], 1 - np.tanh(1.0) ** 2), "db = sum over the batch of dh * (1 - h**2)"
""",
    "test_tiny_rnn": """\
out = TinyRNN(2, 3)(torch.zeros(4, 5, 2))
assert tuple(out.shape) == (4, 5, 3), "out has shape (N, T, H)"
""",
    "test_trained_model": """\
X_CHECK, Y_CHECK = make_series(200, seed=2)
assert np.mean((predict(model, X_CHECK) - Y_CHECK) ** 2) < 0.02, "the forecaster should beat 0.02 MSE"
""",
}


def notebook_cells():
    return [
        authoring.text("intro", "# Fixture: caches, gradients, torch modules, trained models"),
        authoring.given("setup", SETUP),
        authoring.answer("step_forward", _body(ref.step_forward)),
        authoring.test(NAME, "test_step_forward", POINTS["test_step_forward"], VISIBLE["test_step_forward"]),
        authoring.answer("step_backward", _body(ref.step_backward)),
        authoring.test(NAME, "test_step_backward", POINTS["test_step_backward"], VISIBLE["test_step_backward"]),
        authoring.answer("tiny_rnn", ref.TINY_RNN),
        authoring.test(NAME, "test_tiny_rnn", POINTS["test_tiny_rnn"], VISIBLE["test_tiny_rnn"]),
        authoring.answer("fit_predict", ref.FIT),
        authoring.given("train", "X_TRAIN, Y_TRAIN = make_series(300, seed=1)\nmodel = fit(X_TRAIN, Y_TRAIN)"),
        authoring.test(NAME, "test_trained_model", POINTS["test_trained_model"], VISIBLE["test_trained_model"]),
        authoring.written("written_answer", WRITTEN["written_answer"],
                          "Why must the forecaster never see the test targets?"),
    ]


def _body(fn):
    return textwrap.dedent(inspect.getsource(fn)).rstrip()


def write_course(root, release=True):
    """A course at ``root`` listing only the fixture assignment, released when asked."""
    return authoring.write_course(root, NAME, notebook_cells(), MANIFEST, release)


