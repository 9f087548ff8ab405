"""solutions.rnn against independent sources: torch.nn.RNN (float64), hand arithmetic, closed forms."""
import math

import numpy as np
import pytest

from solutions import rnn

RTOL = 1e-10


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _torch_rnn(torch, D, H, nonlinearity, batch_first, seed):
    torch.manual_seed(seed)
    module = torch.nn.RNN(D, H, nonlinearity=nonlinearity, batch_first=batch_first).double()
    weights = {k: v.detach().numpy().copy() for k, v in module.named_parameters()}
    return module, dict(W_ih=weights["weight_ih_l0"], W_hh=weights["weight_hh_l0"],
                        b_ih=weights["bias_ih_l0"], b_hh=weights["bias_hh_l0"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_rnn_forward_matches_torch(torch, seed, nonlinearity, batch_first):
    rng = np.random.default_rng(seed)
    T, N, D, H = 6, 5, 3, 7
    module, w = _torch_rnn(torch, D, H, nonlinearity, batch_first, seed)
    x = rng.normal(size=(N, T, D) if batch_first else (T, N, D))
    h0 = rng.normal(size=(N, H))
    out, cache = rnn.rnn_forward(x, h0, **w, nonlinearity=nonlinearity, batch_first=batch_first)
    expected, h_n = module(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=RTOL, atol=1e-12)
    last = out[:, -1] if batch_first else out[-1]
    np.testing.assert_allclose(last, h_n[0].detach().numpy(), rtol=RTOL, atol=1e-12)
    assert len(cache) == T


def test_rnn_step_forward_matches_torch_rnn_cell(torch):
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    cell = torch.nn.RNNCell(4, 6).double()
    w = {k: v.detach().numpy() for k, v in cell.named_parameters()}
    x, h = rng.normal(size=(8, 4)), rng.normal(size=(8, 6))
    h_next, cache = rnn.rnn_step_forward(x, h, w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"])
    np.testing.assert_allclose(h_next, cell(torch.from_numpy(x), torch.from_numpy(h)).detach().numpy(), rtol=RTOL)
    assert cache[-1] == "tanh" and cache[4] is h_next


def test_scalar_neuron_matches_hand_arithmetic():
    # The lesson's worked example: w_x = 0.5, w_h = 0.8, b = 0.1, h_0 = 0, x = (1, 0.5, -1).
    h1 = rnn.rnn_step_scalar(1.0, 0.0, 0.5, 0.8, 0.1)
    assert h1 == pytest.approx(math.tanh(0.6), abs=1e-15)
    h2 = rnn.rnn_step_scalar(0.5, h1, 0.5, 0.8, 0.1)
    assert h2 == pytest.approx(math.tanh(0.25 + 0.8 * math.tanh(0.6) + 0.1), abs=1e-15)
    h3 = rnn.rnn_step_scalar(-1.0, h2, 0.5, 0.8, 0.1)
    assert h3 == pytest.approx(math.tanh(-0.5 + 0.8 * h2 + 0.1), abs=1e-15)
    # tanh(0.6) to 10 digits, from tables: 0.5370495670
    assert round(float(h1), 10) == 0.5370495670


def test_scalar_step_is_the_one_unit_case_of_the_batched_step():
    h, _ = rnn.rnn_step_forward(np.array([[1.0]]), np.array([[0.0]]), np.array([[0.5]]),
                                np.array([[0.8]]), np.array([0.1]), np.array([0.0]))
    assert h[0, 0] == pytest.approx(rnn.rnn_step_scalar(1.0, 0.0, 0.5, 0.8, 0.1), abs=1e-15)


def test_combined_matrix_equals_two_matmuls():
    rng = np.random.default_rng(4)
    N, D, H = 64, 3, 7
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    W_ih, W_hh, b_ih, b_hh = rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=H), rng.normal(size=H)
    W = rnn.combine_weights(W_ih, W_hh)
    assert W.shape == (7, 10)
    np.testing.assert_allclose(rnn.rnn_step_combined(x, h, W, b_ih + b_hh),
                               rnn.rnn_step_forward(x, h, W_ih, W_hh, b_ih, b_hh)[0], rtol=1e-12)


def test_many_to_one_matches_torch_rnn_then_linear(torch):
    rng = np.random.default_rng(5)
    T, N, D, H, O = 7, 3, 2, 5, 4
    module, w = _torch_rnn(torch, D, H, "tanh", False, 5)
    linear = torch.nn.Linear(H, O).double()
    x, h0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H))
    y = rnn.many_to_one_forward(x, h0, **w, V=linear.weight.detach().numpy(), c=linear.bias.detach().numpy())
    _, h_n = module(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(y, linear(h_n[0]).detach().numpy(), rtol=RTOL)


def test_output_layer_applies_to_every_step(torch):
    rng = np.random.default_rng(6)
    linear = torch.nn.Linear(7, 2).double()
    h = rng.normal(size=(10, 64, 7))
    y = rnn.output_layer(h, linear.weight.detach().numpy(), linear.bias.detach().numpy())
    assert y.shape == (10, 64, 2)
    np.testing.assert_allclose(y, linear(torch.from_numpy(h)).detach().numpy(), rtol=RTOL)


def test_unknown_nonlinearity_is_a_clear_error():
    with pytest.raises(ValueError, match="tanh"):
        rnn.activation("sigmoid")
