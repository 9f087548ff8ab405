"""The checking helpers: mismatches are explained in words, correct variations pass."""
import numpy as np
import pytest

from autograder.sandbox import wire as sandbox
from autograder.checking import CheckFailed, StudentCodeError, check_function, compare, pair_first
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
