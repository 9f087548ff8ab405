"""solutions.lstm against independent sources: torch.nn.LSTM / LSTMCell / GRU / GRUCell with copied
weights and torch autograd (float64), torch.autograd.functional.jacobian, centred finite differences,
the GRU of Cho et al. (2014) and the Keras and CS231n layouts written out here from their equations,
and parameter counts of torch modules. Last, plausible mistakes in the reference (code mutants) are
shown to be caught by these comparisons."""
import itertools
import math
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import torch_weights as _weights  # the `torch` fixture comes from conftest too

from solutions import bptt, lstm, rnn

RTOL = 1e-10  # against torch, float64
GRAD_TOL = 1e-7  # against centred differences (solutions.bptt.grad_check's relative error) ...
GRAD_EPS = 1e-5  # ... with this step: at 1e-6 rounding alone gives up to 2e-7 on small entries
SHAPES = [(6, 5, 3, 7), (9, 2, 4, 3), (1, 1, 1, 1)]  # (T, N, D, H)




def _module(torch, cls, D, H, seed, **kwargs):
    torch.manual_seed(seed)
    return cls(D, H, **kwargs).double()


def _lstm_problem(seed, T, N, D, H, scale=1.0):
    """Asymmetric weights, non-zero biases and initial states, as a dict of lstm_forward's inputs."""
    rng = np.random.default_rng(seed)
    return dict(x=rng.normal(size=(T, N, D)), h0=rng.normal(size=(N, H)), c0=rng.normal(size=(N, H)),
                W_ih=scale * rng.normal(size=(4 * H, D)) / math.sqrt(D),
                W_hh=scale * rng.normal(size=(4 * H, H)) / math.sqrt(H),
                b_ih=rng.normal(size=4 * H) * 0.5, b_hh=rng.normal(size=4 * H) * 0.5)


# ----------------------------------------------------------------------------- forward against torch
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("T, N, D, H", SHAPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_forward_matches_torch(torch, seed, T, N, D, H, batch_first):
    module = _module(torch, torch.nn.LSTM, D, H, seed, batch_first=batch_first)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D) if batch_first else (T, N, D))
    h0, c0 = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    (out, (h_n, c_n)), cache = lstm.lstm_forward(x, h0, c0, **_weights(module), batch_first=batch_first)
    expected, (h_t, c_t) = module(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    assert out.shape == ((N, T, H) if batch_first else (T, N, H)) and h_n.shape == c_n.shape == (N, H)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(h_n, h_t[0].detach().numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(c_n, c_t[0].detach().numpy(), rtol=RTOL, atol=1e-12)
    assert len(cache) == T


def test_lstm_step_forward_matches_torch_lstm_cell(torch):
    cell = _module(torch, torch.nn.LSTMCell, 4, 6, seed=3)
    rng = np.random.default_rng(3)
    x, h, c = rng.normal(size=(8, 4)), rng.normal(size=(8, 6)), rng.normal(size=(8, 6))
    h_next, c_next, cache = lstm.lstm_step_forward(x, h, c, **_weights(cell, suffix=""))
    h_t, c_t = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    np.testing.assert_allclose(h_next, h_t.detach().numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(c_next, c_t.detach().numpy(), rtol=RTOL, atol=1e-12)
    assert cache[-1] is c_next


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("T, N, D, H", SHAPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_gru_forward_matches_torch(torch, seed, T, N, D, H, batch_first):
    module = _module(torch, torch.nn.GRU, D, H, seed, batch_first=batch_first)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D) if batch_first else (T, N, D))
    h0 = rng.normal(size=(N, H))
    out, cache = lstm.gru_forward(x, h0, **_weights(module), batch_first=batch_first)
    expected, h_n = module(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(out[:, -1] if batch_first else out[-1], h_n[0].detach().numpy(), rtol=RTOL,
                               atol=1e-12)
    assert len(cache) == T


def test_gru_step_forward_matches_torch_gru_cell(torch):
    cell = _module(torch, torch.nn.GRUCell, 4, 6, seed=4)
    rng = np.random.default_rng(4)
    x, h = rng.normal(size=(8, 4)), rng.normal(size=(8, 6))
    h_next, cache = lstm.gru_step_forward(x, h, **_weights(cell, suffix=""))
    np.testing.assert_allclose(h_next, cell(torch.from_numpy(x), torch.from_numpy(h)).detach().numpy(),
                               rtol=RTOL, atol=1e-12)
    assert cache[-1] is True


# ----------------------------------------------------------------------------- GRU: where the reset gate acts
def _cho_gru(x, h0, W_ih, W_hh, b_ih, b_hh):
    """Cho et al. (2014), eq. 5-8, one gate at a time, in torch's notation and sign of z:
    r = s(W_r x + U_r h), z = s(W_z x + U_z h), n = tanh(W x + U (r * h)), h' = (1 - z) n + z h,
    each with its two biases."""
    H = h0.shape[1]
    (W_r, W_z, W_n), (U_r, U_z, U_n) = (W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]), (W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:])
    (b_r, b_z, b_n), (c_r, c_z, c_n) = (b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]), (b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:])
    s = lambda v: 1 / (1 + np.exp(-v))
    h, outs = h0, []
    for x_t in x:
        r = s(x_t @ W_r.T + b_r + h @ U_r.T + c_r)
        z = s(x_t @ W_z.T + b_z + h @ U_z.T + c_z)
        n = np.tanh(x_t @ W_n.T + b_n + (r * h) @ U_n.T + c_n)
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs)


def test_gru_reset_before_matmul_is_cho_et_al_and_differs_from_torch(torch):
    module = _module(torch, torch.nn.GRU, 3, 5, seed=6)
    w = _weights(module)
    rng = np.random.default_rng(6)
    x, h0 = rng.normal(size=(7, 4, 3)), rng.normal(size=(4, 5))
    out, _ = lstm.gru_forward(x, h0, **w, reset_after=False)
    np.testing.assert_allclose(out, _cho_gru(x, h0, **w), rtol=1e-12, atol=1e-14)
    torch_out = module(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].detach().numpy()
    assert np.abs(out - torch_out).max() > 1e-2  # the two placements are different models
    np.testing.assert_allclose(lstm.gru_forward(x, h0, **w)[0], torch_out, rtol=RTOL, atol=1e-12)


def test_gru_reset_placement_by_hand():
    """One unit, one step, numbers worked out here: r = s(0.4), z = s(-0.2); the reset gate
    multiplies U_n h + c_n (torch) or h before U_n (Cho), which differ by (1 - r) * c_n."""
    w = dict(W_ih=np.array([[0.3], [-0.5], [0.7]]), W_hh=np.array([[0.2], [0.6], [-0.4]]),
             b_ih=np.array([0.1, 0.1, -0.2]), b_hh=np.array([-0.1, -0.2, 0.5]))
    x, h = np.array([[1.0]]), np.array([[0.5]])
    r = 1 / (1 + math.exp(-(0.3 + 0.1 + 0.2 * 0.5 - 0.1)))  # s(0.4)
    z = 1 / (1 + math.exp(-(-0.5 + 0.1 + 0.6 * 0.5 - 0.2)))  # s(-0.3)
    n_after = math.tanh(0.7 - 0.2 + r * (-0.4 * 0.5 + 0.5))
    n_before = math.tanh(0.7 - 0.2 + (-0.4) * (r * 0.5) + 0.5)
    for reset_after, n in [(True, n_after), (False, n_before)]:
        h_next, _ = lstm.gru_step_forward(x, h, **w, reset_after=reset_after)
        assert h_next.item() == pytest.approx((1 - z) * n + z * 0.5, abs=1e-15)
    assert abs(n_after - n_before) > 0.05


# ----------------------------------------------------------------------------- LSTM backward
@pytest.mark.parametrize("T, N, D, H", SHAPES)
@pytest.mark.parametrize("with_final", [True, False])
def test_lstm_backward_matches_torch_autograd(torch, T, N, D, H, with_final):
    seed = 10 * T + H
    module = _module(torch, torch.nn.LSTM, D, H, seed)
    rng = np.random.default_rng(seed)
    x, h0, c0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    dout = rng.normal(size=(T, N, H))
    dh_n, dc_n = (rng.normal(size=(N, H)), rng.normal(size=(N, H))) if with_final else (None, None)

    _, cache = lstm.lstm_forward(x, h0, c0, **_weights(module))
    grads = lstm.lstm_backward(dout, cache, dh_n=dh_n, dc_n=dc_n)

    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0[None], c0[None]))
    out, (h_n, c_n) = module(xt, (h0t, c0t))
    loss = (out * torch.from_numpy(dout)).sum()
    if with_final:
        loss = loss + (h_n[0] * torch.from_numpy(dh_n)).sum() + (c_n[0] * torch.from_numpy(dc_n)).sum()
    loss.backward()
    expected = {"dx": xt.grad, "dh0": h0t.grad[0], "dc0": c0t.grad[0], "dW_ih": module.weight_ih_l0.grad,
                "dW_hh": module.weight_hh_l0.grad, "db_ih": module.bias_ih_l0.grad, "db_hh": module.bias_hh_l0.grad}
    assert set(grads) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value.numpy(), rtol=RTOL, atol=1e-12, err_msg=key)


def test_lstm_step_backward_matches_torch_lstm_cell(torch):
    cell = _module(torch, torch.nn.LSTMCell, 4, 6, seed=7)
    rng = np.random.default_rng(7)
    x, h, c = rng.normal(size=(5, 4)), rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    dh_next, dc_next = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    _, _, cache = lstm.lstm_step_forward(x, h, c, **_weights(cell, suffix=""))
    grads = lstm.lstm_step_backward(dh_next, dc_next, cache)

    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    h_t, c_t = cell(xt, (ht, ct))
    ((h_t * torch.from_numpy(dh_next)).sum() + (c_t * torch.from_numpy(dc_next)).sum()).backward()
    expected = {"dx_t": xt.grad, "dh_prev": ht.grad, "dc_prev": ct.grad, "dW_ih": cell.weight_ih.grad,
                "dW_hh": cell.weight_hh.grad, "db_ih": cell.bias_ih.grad, "db_hh": cell.bias_hh.grad}
    assert set(grads) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value.numpy(), rtol=RTOL, atol=1e-12, err_msg=key)


def _loss_of_outputs(dout, dh_n, dc_n):
    """f(**inputs) = sum(out * dout) + sum(h_T * dh_n) + sum(c_T * dc_n): its gradient is what
    lstm_backward(dout, cache, dh_n, dc_n) returns."""
    def f(**p):
        (out, (h_n, c_n)), _ = lstm.lstm_forward(**p)
        return np.sum(out * dout) + np.sum(h_n * dh_n) + np.sum(c_n * dc_n)
    return f


def test_lstm_backward_passes_grad_check():
    T, N, D, H = 4, 3, 2, 3
    inputs = _lstm_problem(20, T, N, D, H)
    rng = np.random.default_rng(21)
    dout, dh_n, dc_n = rng.normal(size=(T, N, H)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, cache = lstm.lstm_forward(**inputs)
    grads = lstm.lstm_backward(dout, cache, dh_n, dc_n)
    errors = bptt.grad_check(_loss_of_outputs(dout, dh_n, dc_n), inputs, grads, eps=GRAD_EPS)
    assert set(errors) == {"dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"}
    assert max(errors.values()) < GRAD_TOL, errors


def test_lstm_step_backward_passes_grad_check():
    inputs = _lstm_problem(22, 1, 3, 2, 3)
    inputs = dict(x_t=inputs.pop("x")[0], h_prev=inputs.pop("h0"), c_prev=inputs.pop("c0"), **inputs)
    rng = np.random.default_rng(23)
    dh_next, dc_next = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    grads = lstm.lstm_step_backward(dh_next, dc_next, lstm.lstm_step_forward(**inputs)[2])

    def f(**p):
        h, c, _ = lstm.lstm_step_forward(**p)
        return np.sum(h * dh_next) + np.sum(c * dc_next)
    errors = bptt.grad_check(f, inputs, grads, eps=GRAD_EPS)
    assert len(errors) == 7 and max(errors.values()) < GRAD_TOL, errors


# ----------------------------------------------------------------------------- gate orders and other layouts
def test_reorder_gates_round_trips_and_rejects_other_letters():
    rng = np.random.default_rng(30)
    W, b = rng.normal(size=(4 * 3, 5)), rng.normal(size=4 * 3)
    for order in map("".join, itertools.permutations("ifgo")):
        np.testing.assert_array_equal(lstm.reorder_gates(lstm.reorder_gates(W, "ifgo", order), order, "ifgo"), W)
        np.testing.assert_array_equal(lstm.reorder_gates(lstm.reorder_gates(b, "ifgo", order), order, "ifgo"), b)
    moved = lstm.reorder_gates(W, "ifgo", "ifog")
    np.testing.assert_array_equal(moved[6:9], W[9:12])  # o's block now third
    np.testing.assert_array_equal(moved[9:12], W[6:9])  # g's block now last
    np.testing.assert_array_equal(lstm.reorder_gates(W, "ifgo", "ifco"), W)  # Keras's c is torch's g
    np.testing.assert_array_equal(lstm.reorder_gates(W.T, "ifgo", "goif", axis=1),
                                  lstm.reorder_gates(W, "ifgo", "goif").T)
    G = rng.normal(size=(3 * 2, 4))
    np.testing.assert_array_equal(lstm.reorder_gates(G, "rzn", "zrh"), G[[2, 3, 0, 1, 4, 5]])
    with pytest.raises(ValueError, match="rearrangement"):
        lstm.reorder_gates(W, "ifgo", "ifgx")
    with pytest.raises(ValueError, match="rearrangement"):
        lstm.reorder_gates(W, "ifgo", "iifo")
    with pytest.raises(ValueError, match="split"):
        lstm.reorder_gates(W[:10], "ifgo", "ifog")


def _keras_lstm(x, h, c, kernel, recurrent_kernel, bias):
    """Keras's LSTMCell.call: z = x @ kernel + h @ recurrent_kernel + bias, split i, f, c, o."""
    s = lambda v: 1 / (1 + np.exp(-v))
    H = h.shape[1]
    for x_t in x:
        z = x_t @ kernel + h @ recurrent_kernel + bias
        i, f, o = s(z[:, :H]), s(z[:, H:2 * H]), s(z[:, 3 * H:])
        c = f * c + i * np.tanh(z[:, 2 * H:3 * H])
        h = o * np.tanh(c)
    return h, c


def _cs231n_lstm(x, h, c, Wx, Wh, b):
    """CS231n's lstm_step_forward: a = x @ Wx + h @ Wh + b, Wx (D, 4H), split i, f, o, g."""
    s = lambda v: 1 / (1 + np.exp(-v))
    H = h.shape[1]
    for x_t in x:
        a = x_t @ Wx + h @ Wh + b
        i, f, o, g = s(a[:, :H]), s(a[:, H:2 * H]), s(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h, c


def _keras_gru(x, h, kernel, recurrent_kernel, bias):
    """Keras's GRUCell.call with reset_after=True: gates z, r, h; h' = z * h + (1 - z) * hh."""
    s = lambda v: 1 / (1 + np.exp(-v))
    H = h.shape[1]
    for x_t in x:
        mx, mh = x_t @ kernel + bias[0], h @ recurrent_kernel + bias[1]
        z, r = s(mx[:, :H] + mh[:, :H]), s(mx[:, H:2 * H] + mh[:, H:2 * H])
        hh = np.tanh(mx[:, 2 * H:] + r * mh[:, 2 * H:])
        h = z * h + (1 - z) * hh
    return h


def test_a_torch_lstm_runs_in_keras_and_cs231n_layouts(torch):
    module = _module(torch, torch.nn.LSTM, 3, 4, seed=31)
    w = _weights(module)
    rng = np.random.default_rng(31)
    x, h0, c0 = rng.normal(size=(6, 2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    _, (h_n, c_n) = module(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    expected = h_n[0].detach().numpy(), c_n[0].detach().numpy()

    kernel, recurrent_kernel, bias = lstm.to_keras(**w)
    assert kernel.shape == (3, 16) and recurrent_kernel.shape == (4, 16) and bias.shape == (16,)
    np.testing.assert_allclose(_keras_lstm(x, h0, c0, kernel, recurrent_kernel, bias), expected, rtol=RTOL)

    Wx, Wh = (lstm.reorder_gates(w[k], "ifgo", "ifog").T for k in ("W_ih", "W_hh"))
    b = lstm.reorder_gates(w["b_ih"] + w["b_hh"], "ifgo", "ifog")
    np.testing.assert_allclose(_cs231n_lstm(x, h0, c0, Wx, Wh, b), expected, rtol=RTOL)
    wrong = _cs231n_lstm(x, h0, c0, w["W_ih"].T, w["W_hh"].T, w["b_ih"] + w["b_hh"])  # forgot to reorder
    assert np.abs(wrong[0] - expected[0]).max() > 1e-2

    back = lstm.from_keras(kernel, recurrent_kernel, bias)
    np.testing.assert_array_equal(back[0], w["W_ih"])
    np.testing.assert_array_equal(back[1], w["W_hh"])
    np.testing.assert_allclose(back[2] + back[3], w["b_ih"] + w["b_hh"], rtol=1e-15)
    (_, state), _ = lstm.lstm_forward(x, h0, c0, *back)
    np.testing.assert_allclose(state, expected, rtol=RTOL)


def test_a_torch_gru_runs_in_keras_layout(torch):
    module = _module(torch, torch.nn.GRU, 3, 4, seed=32)
    w = _weights(module)
    rng = np.random.default_rng(32)
    x, h0 = rng.normal(size=(6, 2, 3)), rng.normal(size=(2, 4))
    expected = module(torch.from_numpy(x), torch.from_numpy(h0)[None])[1][0].detach().numpy()
    kernel, recurrent_kernel, bias = lstm.to_keras(**w)
    assert kernel.shape == (3, 12) and recurrent_kernel.shape == (4, 12) and bias.shape == (2, 12)
    np.testing.assert_allclose(_keras_gru(x, h0, kernel, recurrent_kernel, bias), expected, rtol=RTOL)
    for mine, theirs in zip(lstm.from_keras(kernel, recurrent_kernel, bias), w.values()):
        np.testing.assert_array_equal(mine, theirs)


# ----------------------------------------------------------------------------- parameter counts
@pytest.mark.parametrize("D, H", [(1, 1), (3, 7), (28, 128), (300, 64)])
def test_parameter_counts_match_torch_modules(torch, D, H):
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert lstm.rnn_param_count(D, H) == count(torch.nn.RNN(D, H))
    assert lstm.lstm_param_count(D, H) == count(torch.nn.LSTM(D, H)) == count(torch.nn.LSTMCell(D, H))
    assert lstm.gru_param_count(D, H) == count(torch.nn.GRU(D, H)) == count(torch.nn.GRUCell(D, H))
    assert lstm.lstm_param_count(D, H) == 4 * lstm.rnn_param_count(D, H)
    assert lstm.gru_param_count(D, H) == 3 * lstm.rnn_param_count(D, H)


# ----------------------------------------------------------------------------- long memory
def test_lstm_state_jacobians_match_torch(torch):
    from torch.autograd.functional import jacobian

    T, N, D, H = 5, 2, 3, 4
    module = _module(torch, torch.nn.LSTM, D, H, seed=33)
    w = _weights(module)
    rng = np.random.default_rng(33)
    x, h0, c0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, cache = lstm.lstm_forward(x, h0, c0, **w)
    J = lstm.lstm_state_jacobians(cache)
    assert J.shape == (T + 1, N, 2 * H, 2 * H)
    states = [(torch.from_numpy(h0), torch.from_numpy(c0))]
    with torch.no_grad():
        for x_t in torch.from_numpy(x):
            _, (h, c) = module(x_t[None], (states[-1][0][None], states[-1][1][None]))
            states.append((h[0], c[0]))
    for t in range(T + 1):
        def last_state(s, t=t):  # [h_t, c_t] (N, 2H) -> [h_T, c_T] (N, 2H)
            _, (h, c) = module(torch.from_numpy(x[t:]), (s[None, :, :H], s[None, :, H:]))
            return torch.cat([h[0], c[0]], dim=1)
        if t < T:
            full = jacobian(last_state, torch.cat(states[t], dim=1))  # (N, 2H, N, 2H)
            blocks = torch.stack([full[n, :, n, :] for n in range(N)])  # sequences do not mix
        else:
            blocks = torch.eye(2 * H, dtype=torch.float64).repeat(N, 1, 1)
        np.testing.assert_allclose(J[t], blocks.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"t={t}")
        cc = torch.linalg.matrix_norm(blocks[:, H:, H:], ord=2).numpy()
        np.testing.assert_allclose(lstm.lstm_jacobian_norms(cache)[t], cc, rtol=1e-10)  # default: "cc", 2-norm
        part = {"h": slice(0, H), "c": slice(H, None)}
        for block in ("hh", "hc", "ch", "all"):
            sub = blocks if block == "all" else blocks[:, part[block[0]], part[block[1]]]
            for ord in (2, "fro"):
                np.testing.assert_allclose(lstm.lstm_jacobian_norms(cache, block, ord)[t],
                                           torch.linalg.matrix_norm(sub, ord=ord).numpy(), rtol=1e-10, atol=1e-14,
                                           err_msg=f"t={t} {block} {ord}")


def test_forget_products_are_the_cell_jacobian_without_recurrent_weights():
    """With W_hh = 0 the gates do not depend on the state, so d c_T / d c_t = diag(prod f)."""
    p = _lstm_problem(34, T=6, N=2, D=3, H=4)
    p["W_hh"] *= 0.0
    _, cache = lstm.lstm_forward(**p)
    P, J = lstm.forget_products(cache), lstm.lstm_state_jacobians(cache)
    assert P.shape == (7, 2, 4)
    np.testing.assert_array_equal(P[-1], 1.0)
    for t in range(7):
        np.testing.assert_allclose(J[t][:, 4:, 4:], P[t][:, :, None] * np.eye(4), rtol=1e-12, atol=1e-15)
    f = np.stack([1 / (1 + np.exp(-(x_t @ p["W_ih"][4:8].T + p["b_ih"][4:8] + p["b_hh"][4:8]))) for x_t in p["x"]])
    np.testing.assert_allclose(P[2], f[2] * f[3] * f[4] * f[5], rtol=1e-12)


def test_lstm_cell_path_outlives_a_vanilla_rnn():
    """The lesson's plot: at lag 40, a vanilla RNN's ||dh_T/dh_t|| has vanished, while an LSTM whose
    forget gates sit near 1 (forget bias 3) keeps ||dc_T/dc_t|| of order 0.1 or more (paths through h
    add to the cell path's product of forget gates, so the norm is not that product alone)."""
    T, H = 40, 8
    p = _lstm_problem(35, T=T, N=1, D=1, H=H, scale=0.5)
    p["b_ih"][H:2 * H] = 3.0  # forget gates near s(3) = 0.95
    _, cache = lstm.lstm_forward(**p)
    lstm_norms = lstm.lstm_jacobian_norms(cache)[:, 0]
    r = np.random.default_rng(36)
    W_hh = 0.5 * r.normal(size=(H, H)) / math.sqrt(H)
    _, rnn_cache = rnn.rnn_forward(p["x"], np.zeros((1, H)), r.normal(size=(H, 1)), W_hh, np.zeros(H), np.zeros(H))
    rnn_norms = bptt.hidden_jacobian_norms(rnn_cache)[:, 0]
    assert rnn_norms[0] < 1e-6 and lstm_norms[0] > 0.05, (rnn_norms[0], lstm_norms[0])


# ----------------------------------------------------------------------------- sigmoid
def test_sigmoid_is_stable_and_matches_torch(torch):
    z = np.concatenate([np.linspace(-40, 40, 801), [-1000.0, -745.0, 0.0, 745.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow for any z
        s = lstm.sigmoid(z)
    # atol: at z = -745 exp(z) is the smallest subnormal, 5e-324, where torch's 1 / (1 + exp(-z)) gives 0
    np.testing.assert_allclose(s, torch.sigmoid(torch.from_numpy(z)).numpy(), rtol=1e-14, atol=1e-300)
    assert s[-5] == 0.0 and s[-1] == 1.0 and s[-3] == 0.5
    assert lstm.sigmoid(2.0) == pytest.approx(1 / (1 + math.exp(-2.0)), rel=1e-15)
    np.testing.assert_allclose(lstm.sigmoid(-z), 1 - s, atol=1e-15)


# ----------------------------------------------------------------------------- the checks catch mistakes
SOURCE = Path(lstm.__file__).read_text()
MUTANTS = [  # (mistake, text of the reference, replacement)
    ("gates in CS231n's order i, f, o, g", "a_i, a_f, a_g, a_o = np.split", "a_i, a_f, a_o, a_g = np.split"),
    ("sigmoid for the candidate g", "np.tanh(a_g)", "sigmoid(a_g)"),
    ("tanh for the output gate", "sigmoid(a_o)\n", "np.tanh(a_o)\n"),
    ("no forget gate", "c_next = f * c_prev + i * g", "c_next = c_prev + i * g"),
    ("h from c without tanh", "h_next = o * np.tanh(c_next)", "h_next = o * c_next"),
    ("one bias only", "+ h_prev @ W_hh.T + b_hh  # (N, 4H)", "+ h_prev @ W_hh.T  # (N, 4H)"),
    ("cell gradient not carried", "step[\"dc_prev\"]\n", "0 * step[\"dc_prev\"]\n"),
    ("cell gradient misses the path through h", "dc = dc_next + dh_next * o * (1.0 - tanh_c ** 2)",
     "dc = dc_next + dh_next * o"),
    ("dc_prev without the forget gate", "\"dc_prev\": dc * f,", "\"dc_prev\": dc,"),
    ("forget-gate gradient with c_next", "dc * c_prev * f * (1.0 - f)", "dc * c_next * f * (1.0 - f)"),
    ("dh_n dropped", "dh = np.zeros(h0.shape) if dh_n is None else", "dh = np.zeros(h0.shape) if True else"),
    ("GRU update gate the other way", "h_next = (1.0 - z) * n + z * h_prev", "h_next = z * n + (1.0 - z) * h_prev"),
    ("GRU reset before the matmul", "n = np.tanh(a_x[:, 2 * H:] + r * a_hn)",
     "n = np.tanh(a_x[:, 2 * H:] + (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:])"),
    ("GRU gates z, r, n", "r = sigmoid(a_x[:, :H] + a_h[:, :H])\n    z = sigmoid(a_x[:, H:2 * H] + a_h[:, H:])",
     "z = sigmoid(a_x[:, :H] + a_h[:, :H])\n    r = sigmoid(a_x[:, H:2 * H] + a_h[:, H:])"),
]


def _parity_failures(torch, module_dict):
    """The comparisons above, once each, on a mutated copy of solutions.lstm; names what failed."""
    m = types.SimpleNamespace(**module_dict)
    failures = []
    lstm_t = _module(torch, torch.nn.LSTM, 3, 4, seed=40)
    gru_t = _module(torch, torch.nn.GRU, 3, 4, seed=40)
    rng = np.random.default_rng(40)
    x, h0, c0, dout, dh_n = (rng.normal(size=s) for s in [(5, 2, 3), (2, 4), (2, 4), (5, 2, 4), (2, 4)])
    try:
        (out, _), cache = m.lstm_forward(x, h0, c0, **_weights(lstm_t))
        if not np.allclose(out, lstm_t(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
                           [0].detach().numpy(), rtol=RTOL, atol=1e-12):
            failures.append("lstm forward")
        inputs = dict(x=x, h0=h0, c0=c0, **_weights(lstm_t))
        grads = m.lstm_backward(dout, cache, dh_n=dh_n)
        f = _loss_of_outputs(dout, dh_n, np.zeros_like(h0))
        checked = {k: grads[k] for k in ("dx", "dh0", "dc0", "db_hh")}  # against the reference's forward
        if max(bptt.grad_check(f, inputs, checked, eps=GRAD_EPS).values()) > GRAD_TOL:
            failures.append("lstm backward")
        if not np.allclose(m.gru_forward(x, h0, **_weights(gru_t))[0],
                           gru_t(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].detach().numpy(), rtol=RTOL):
            failures.append("gru forward")
    except Exception as error:  # a mutant may also crash
        failures.append(f"{type(error).__name__}: {error}")
    return failures


def test_the_reference_passes_the_mutation_harness(torch):
    assert _parity_failures(torch, vars(lstm)) == []


@pytest.mark.parametrize("mistake, old, new", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_mutant_of_the_reference_is_caught(torch, mistake, old, new):
    assert SOURCE.count(old) == 1, f"the mutant {mistake!r} no longer applies to solutions/lstm.py"
    namespace = {"__name__": "lstm_mutant"}
    exec(compile(SOURCE.replace(old, new), "lstm_mutant.py", "exec"), namespace)
    assert _parity_failures(torch, namespace), f"{mistake} passes the checks"
