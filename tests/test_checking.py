"""The checking helpers: mismatches are explained in words, correct variations pass."""
import re

import numpy as np
import pytest

from autograder.sandbox import wire as sandbox
from autograder.checking import CheckFailed, StudentCodeError, check_cases, check_function, compare, pair_first
from solutions import rnn


def test_compare_accepts_equal_values_and_float32_within_its_tolerance():
    a = np.linspace(-1, 1, 12).reshape(3, 4)
    assert compare(a.copy(), a) is None
    assert compare(a.astype(np.float32), a, rtol=1e-4, atol=1e-5) is None
    assert compare([1.0, 2.0], np.array([1.0, 2.0])) is None
    assert compare(np.float64(0.5), 0.5) is None and compare(np.array([0.5]), 0.5) is None


@pytest.mark.parametrize("got, words", [
    (np.zeros((4, 3)), "looks transposed"),
    (np.zeros(12), "arranged differently"),
    (np.zeros((3, 5)), "should have shape (3, 4)"),
    (np.full((3, 4), np.nan), "NaN"),
    (None, "it is None"),
    (sandbox.Opaque("FakeArray"), "FakeArray"),
    ("text", "should be an array"),
])
def test_compare_explains_structural_mistakes(got, words):
    problem = compare(got, np.ones((3, 4)))
    assert problem is not None and words in problem, problem


def test_compare_reports_the_largest_difference_and_its_index():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[1, 2] = 0.5
    problem = compare(got, expected)
    assert "1 of 6 differ" in problem and "(1, 2)" in problem and "got 0.5" in problem


def test_compare_walks_tuples_and_dicts():
    assert "[1] has shape" in compare((np.ones(2), np.ones(3)), (np.ones(2), np.ones(4)))
    assert "missing the key" in compare({"dW": np.ones(2)}, {"dW": np.ones(2), "db": np.ones(1)})
    assert "['db']" in compare({"dW": np.ones(2), "db": np.zeros(1)}, {"dW": np.ones(2), "db": np.ones(1)})
    assert "should have 2 items" in compare((np.ones(1),), (np.ones(1), 0.0))


def test_compare_matches_none_with_none_only():
    """An expected None (an RNN stack's c_n) is matched by None alone, item by item."""
    assert compare(None, None) is None and compare((np.ones(2), None), (np.ones(2), None)) is None
    assert compare(np.zeros((2, 3)), None, what="c_n") == "c_n should be None, but it is an array of shape (2, 3)"
    assert compare((np.ones(2), 0.0), (np.ones(2), None)) == "the result[1] should be None, but it is a float"
    assert "should be an array of shape (2,), but it is None" in compare((np.ones(2), None), (np.ones(2), np.ones(2)))


def _case():
    rng = np.random.default_rng(0)
    return {"x_t": rng.normal(size=(4, 3)), "h_prev": rng.normal(size=(4, 7)), "W_ih": rng.normal(size=(7, 3)),
            "W_hh": rng.normal(size=(7, 7)), "b_ih": rng.normal(size=7), "b_hh": rng.normal(size=7)}


def test_check_function_names_a_recognised_mistake():
    def no_bias(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
        return np.tanh(x_t @ W_ih.T + h_prev @ W_hh.T), None

    variants = [("the bias is missing", lambda b_ih, b_hh, **c: rnn.rnn_step_forward(b_ih=0 * b_ih, b_hh=0 * b_hh, **c))]
    with pytest.raises(CheckFailed, match="the bias is missing"):
        check_function(no_bias, rnn.rnn_step_forward, [_case()], name="step", select=pair_first, variants=variants)


def test_check_function_passes_a_correct_einsum_version_and_float32_inputs():
    def einsum_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
        return np.tanh(np.einsum("nd,hd->nh", x_t, W_ih) + np.einsum("nk,hk->nh", h_prev, W_hh) + b_ih + b_hh), {}

    case32 = {k: v.astype(np.float32) for k, v in _case().items()}
    check_function(einsum_step, rnn.rnn_step_forward, [_case(), case32], name="step", select=pair_first)


def test_check_cases_finds_and_names_the_students_function_by_name():
    """A reference built in the check (a lambda) grades the student's function called ``name``."""
    def no_bias(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
        return np.tanh(x_t @ W_ih.T + h_prev @ W_hh.T), None

    reference = lambda **case: rnn.rnn_step_forward(**case)  # noqa: E731
    check_cases(KernelStudent({"step": rnn.rnn_step_forward}), reference, [_case()], name="step", select=pair_first)
    with pytest.raises(CheckFailed, match=r"^the output of `step` has wrong values.*\(inputs: x_t of shape"):
        check_cases(KernelStudent({"step": no_bias}), reference, [_case()], name="step", select=pair_first)


def test_check_function_says_when_the_pair_is_missing_or_the_code_raises():
    with pytest.raises(CheckFailed, match=r"should return a pair `\(out, cache\)`"):
        check_function(lambda **c: rnn.rnn_step_forward(**c)[0], rnn.rnn_step_forward, [_case()],
                       name="step", select=pair_first)

    def raising(**case):
        raise StudentCodeError("step", "ValueError", "matmul: Input operand 1 has a mismatch", "line 3")

    with pytest.raises(CheckFailed, match="Hint: check the weight layout"):
        check_function(raising, rnn.rnn_step_forward, [_case()], name="step",
                       hints=[("matmul", "check the weight layout")])


def test_values_cross_the_sandbox_boundary_as_plain_data_only():
    class Impostor(np.ndarray):
        def __eq__(self, other):
            return True

    value = (np.arange(3.0).view(Impostor), {"h": np.float32(2.5)}, [1, None, "s"], object())
    decoded = sandbox.decode(sandbox.encode(value))
    assert type(decoded[0]) is np.ndarray and decoded[0].tolist() == [0.0, 1.0, 2.0]
    assert decoded[1]["h"] == np.float32(2.5) and decoded[2] == [1, None, "s"]
    assert isinstance(decoded[3], sandbox.Opaque)
    with pytest.raises(ValueError):
        sandbox.decode({"__nd__": "bm90IGFuIGFycmF5"})  # "not an array"


# ----------------------------------------------------------------------------- issue 6: new check kinds
from autograder.checking import check_causal, check_gradient, check_metric, numerical_gradient  # noqa: E402
from autograder.student import KernelStudent  # noqa: E402

GRADS = {"dx": "x", "dh_prev": "h_prev", "dW_ih": "W_ih", "dW_hh": "W_hh", "db": "b"}


def _tanh_step(x, h_prev, W_ih, W_hh, b):
    return np.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)


def _grad_case(seed=0, N=3, D=4, H=5):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(N, D)), "h_prev": rng.normal(size=(N, H)), "W_ih": rng.normal(size=(H, D)),
            "W_hh": rng.normal(size=(H, H)) / H, "b": rng.normal(size=H)}


def _hand_gradients(dout, x, h_prev, W_ih, W_hh, b, derivative=True):
    """Gradients of sum(tanh(z) * dout), derived by hand (dz = dout * (1 - h^2))."""
    h = _tanh_step(x, h_prev, W_ih, W_hh, b)
    dz = dout * (1 - h ** 2) if derivative else dout
    return {"dx": dz @ W_ih, "dh_prev": dz @ W_hh, "dW_ih": dz.T @ x, "dW_hh": dz.T @ h_prev, "db": dz.sum(0)}


def test_numerical_gradient_matches_a_closed_form_and_leaves_the_inputs_alone():
    inputs = {"a": np.array([0.3, -1.2, 2.0])}
    before = inputs["a"].copy()
    grad = numerical_gradient(lambda a: np.sum(np.sin(a)), inputs, "a")
    assert np.allclose(grad, np.cos(before), rtol=1e-8) and np.array_equal(inputs["a"], before)


def test_check_gradient_accepts_hand_derived_gradients_and_names_a_missing_derivative():
    case = _grad_case()
    dout = np.random.default_rng(1).normal(size=(3, 5))
    copies = {k: v.copy() for k, v in case.items()}
    f = lambda **inputs: np.sum(_tanh_step(**inputs) * dout)
    check_gradient(_hand_gradients(dout, **case), f, case, name="step_backward", wrt=GRADS)
    assert all(np.array_equal(case[k], copies[k]) for k in case), "inputs were perturbed in place"
    wrong = _hand_gradients(dout, **case, derivative=False)
    with pytest.raises(CheckFailed, match="1 - h"):
        check_gradient(wrong, f, case, name="step_backward", wrt=GRADS,
                       variants=[("the derivative of tanh, 1 - h**2, is missing", lambda: wrong)])
    with pytest.raises(CheckFailed, match=r"gradient dx does not match finite differences.*relative error"):
        check_gradient(wrong, f, case, name="step_backward", wrt=GRADS)


@pytest.mark.parametrize("change, words", [
    (lambda g: {k: v for k, v in g.items() if k != "db"}, "missing: db"),
    (lambda g: dict(g, db=np.tile(g["db"], (3, 1))), "gradient db from `step_backward` should have the shape of b"),
    (lambda g: list(g.values()), "should return a dict of gradients"),
])
def test_check_gradient_explains_structural_mistakes(change, words):
    case = _grad_case()
    dout = np.ones((3, 5))
    with pytest.raises(CheckFailed, match=re.escape(words)):
        check_gradient(change(_hand_gradients(dout, **case)), lambda **i: np.sum(_tanh_step(**i) * dout), case,
                       name="step_backward", wrt=GRADS)


def test_check_metric_sends_only_the_inputs_and_compares_with_the_threshold():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    seen = []

    def predict(**kwargs):
        seen.append(sorted(kwargs))
        return kwargs["X"] @ np.array([1.0, -2.0, 0.5]) + 0.01

    mse = lambda p, t: np.mean((p - t) ** 2)
    value = check_metric(predict, {"X": X}, y, mse, threshold=1e-3, name="predict", metric_name="MSE")
    assert np.isclose(value, 1e-4) and seen == [["X"]]
    with pytest.raises(CheckFailed, match=r"MSE on held-out data is 1(\.0+)?; it must be at most 0\.001"):
        check_metric(lambda X: X @ np.array([1.0, -2.0, 0.5]) + 1, {"X": X}, y, mse, threshold=1e-3,
                     name="predict", metric_name="MSE")
    with pytest.raises(CheckFailed, match=r"predictions of shape \(50,\)"):
        check_metric(lambda X: X, {"X": X}, y, mse, threshold=1e-3, name="predict", metric_name="MSE")


def test_check_causal_passes_a_causal_model_and_catches_one_that_reads_ahead():
    x = np.random.default_rng(0).normal(size=(2, 6, 3))
    causal = lambda x: np.cumsum(x, axis=1)
    check_causal(causal, x, times=[1, 3, 5], name="forward")
    peeks = lambda x: np.cumsum(x, axis=1) + 0.1 * np.roll(x, -1, axis=1)  # reads x[t+1]
    with pytest.raises(CheckFailed, match="reads the future: its output at time 0 changed"):
        check_causal(peeks, x, times=[1, 3, 5], name="forward")


def test_tensors_cross_as_plain_tensors_whatever_their_class():
    torch = pytest.importorskip("torch")

    class Agreeable(torch.Tensor):
        def __eq__(self, other):
            return True

    value = {"t": torch.arange(3.0).as_subclass(Agreeable), "b": torch.ones(2, dtype=torch.bfloat16),
             "p": torch.nn.Parameter(torch.zeros(2))}
    decoded = sandbox.decode(sandbox.encode(value))
    assert type(decoded["t"]) is torch.Tensor and decoded["t"].tolist() == [0.0, 1.0, 2.0]
    assert decoded["b"].dtype == torch.float32 and type(decoded["p"]) is torch.Tensor
    assert compare(decoded["t"], np.arange(3.0)) is None and compare(decoded["t"], np.ones(3)) is not None


def test_forged_handles_and_references_are_refused_or_stay_handles():
    with pytest.raises(ValueError, match="reference"):
        sandbox.decode({"__ref__": "gsolutions"})
    with pytest.raises(ValueError, match="malformed handle"):
        sandbox.decode({"__handle__": "h0", "type": "ndarray", "value": [1, 2]}, handle=lambda t, n: t)
    with pytest.raises(ValueError, match="malformed handle"):
        sandbox.decode({"__handle__": "h0", "type": "ndarray"})  # no owner to hold it


class _Cache:
    def __init__(self, h):
        self.h = h

    def doubled(self):
        return 2 * self.h


def test_objects_stay_behind_handles_that_checks_can_pass_back_call_and_read():
    namespace = {"forward": lambda x: (x + 1, _Cache(x + 1)), "backward": lambda d, cache: d * cache.h}
    student = KernelStudent(namespace)
    out, cache = student.forward(np.ones(2))
    assert cache.type_name == "_Cache" and "object of type _Cache" in compare(cache, np.ones(2))
    assert np.array_equal(student.backward(np.full(2, 3.0), cache), [6.0, 6.0])
    assert np.array_equal(cache.get("h"), [2.0, 2.0]) and np.array_equal(cache.call("doubled"), [4.0, 4.0])


def test_a_handle_from_another_student_is_refused():
    namespace = {"forward": lambda x: (x, _Cache(x)), "backward": lambda d, cache: d * cache.h}
    alice, bob = KernelStudent(dict(namespace)), KernelStudent(dict(namespace))
    _, alices_cache = alice.forward(np.ones(2))
    with pytest.raises(StudentCodeError, match="another process"):
        bob.backward(np.ones(2), alices_cache)


def test_an_error_in_the_students_code_names_the_call_that_failed():
    def student_forward(x, batch_first=False):
        if batch_first:  # as the sandbox reports an exception of the student's code
            raise StudentCodeError("rnn_forward", "ValueError", "operands could not be broadcast together")
        return x

    reference = lambda x, batch_first=False: x  # noqa: E731
    cases = [dict(x=np.zeros((5, 4, 3)), batch_first=False), dict(x=np.zeros((4, 5, 3)), batch_first=True)]
    words = lambda case: f"batch_first={case['batch_first']}, N=4, T=5"  # noqa: E731
    with pytest.raises(CheckFailed) as failed:
        check_function(student_forward, reference, cases, name="rnn_forward", describe=words)
    assert "raised ValueError" in str(failed.value) and "(inputs: batch_first=True, N=4, T=5)" in str(failed.value)
