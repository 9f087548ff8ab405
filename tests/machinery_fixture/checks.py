"""Hidden checks of the fixture assignment: one per part, each a different kind of check."""
import numpy as np

from autograder.checking import CheckFailed, check_causal, check_function, check_gradient, check_metric, pair_first
from tests.machinery_fixture import reference as ref

GRADIENTS = {"dx": "x", "dh_prev": "h_prev", "dWx": "Wx", "dWh": "Wh", "db": "b"}
HELD_OUT_SEED = 8675309  # the notebook never sees data drawn from this seed


def _step_cases():
    cases = []
    for seed, (N, D, H) in enumerate([(3, 4, 5), (2, 3, 3)]):
        rng = np.random.default_rng(seed)
        cases.append({"x": rng.normal(size=(N, D)), "h_prev": rng.uniform(-1, 1, size=(N, H)),
                      "Wx": rng.normal(size=(D, H)), "Wh": rng.normal(size=(H, H)) / H, "b": rng.normal(size=H)})
    return cases


def test_step_forward(student):
    """Part 1: a forward step and its cache"""
    check_function(student, ref.step_forward, _step_cases(), select=pair_first,
                   variants=[("the bias b is missing", lambda b, **c: ref.step_forward(b=0 * b, **c))])


def test_step_backward(student):
    """Part 2: the backward step, through your own cache"""
    for seed, case in enumerate(_step_cases()):
        h, cache = student.step_forward(**case)  # the student's cache: data or an object of theirs
        dh = np.random.default_rng(10 + seed).normal(size=np.shape(h))
        grads = student.step_backward(dh, cache)
        h_ref, cache_ref = ref.step_forward(**case)
        x, h_prev, Wx, Wh, _ = cache_ref

        def missing_derivative():
            dz = dh
            return {"dx": dz @ Wx.T, "dh_prev": dz @ Wh.T, "dWx": x.T @ dz, "dWh": h_prev.T @ dz, "db": dz.sum(0)}

        check_gradient(grads, lambda **inputs: np.sum(ref.step_forward(**inputs)[0] * dh), case,
                       name="step_backward", wrt=GRADIENTS,
                       variants=[("the derivative of tanh, 1 - h**2, is missing", missing_derivative)])


def _torch_case(seed, N=3, T=6, D=2, H=4):
    import torch

    rng = np.random.default_rng(seed)
    state = {"weight_ih": rng.normal(size=(H, D)), "weight_hh": rng.normal(size=(H, H)) / H,
             "bias_ih": rng.normal(size=H), "bias_hh": rng.normal(size=H)}
    return {k: torch.from_numpy(v) for k, v in state.items()}, torch.from_numpy(rng.normal(size=(N, T, D)))


def _torch_rnn(state, x):
    """The expected output, from torch.nn.RNN with the same weights (independent of the exercise)."""
    import torch

    rnn = torch.nn.RNN(x.shape[2], state["weight_hh"].shape[0], batch_first=True).double()
    with torch.no_grad():
        for name, value in state.items():
            getattr(rnn, name + "_l0").copy_(value)
        return rnn(x)[0]


def test_tiny_rnn(student):
    """Part 3: a torch module"""
    state, x = _torch_case(0)
    model = student.TinyRNN(2, 4)
    model.call("double")
    model.call("load_state_dict", state)
    check_function(lambda x: model(x), lambda x: _torch_rnn(state, x), [{"x": x}], name="TinyRNN.forward")
    check_causal(lambda x: model(__import__("torch").as_tensor(x)), x.numpy(), times=[1, 3, 5], name="TinyRNN.forward")
    names = model.call("state_dict")
    if not isinstance(names, dict) or sorted(names) != sorted(state):
        raise CheckFailed("`TinyRNN` should have exactly the parameters weight_ih, weight_hh, bias_ih, bias_hh.")


def test_trained_model(student):
    """Part 4: a trained forecaster"""
    X, y = ref.make_series(400, seed=HELD_OUT_SEED)
    model = student.model  # trained by the notebook's own cell; stays in the student's process
    noise = 0.1 ** 2
    check_metric(lambda X: student.predict(model, X), {"X": X}, y, lambda p, t: np.mean((p - t) ** 2),
                 threshold=1.5 * noise, name="predict", metric_name="mean squared error")
