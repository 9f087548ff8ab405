"""solutions.bptt against independent sources: torch autograd through torch.nn.RNN / RNNCell /
Linear / MSELoss with copied weights (float64), torch's clipping utilities, torch.optim.SGD
replaying truncated BPTT, centred finite differences written out in the test, and the one-neuron
example of chapter 1 differentiated by hand (closed forms evaluated here)."""
import math

import numpy as np
import pytest

from conftest import torch_weights as _weights  # the `torch` fixture comes from conftest too

from solutions import bptt, rnn

RTOL = 1e-10  # against torch autograd, float64
GRAD_TOL = 1e-7  # against centred differences: max relative error |a - n| / max(|a| + |n|, 1e-8)
GRAD_EPS = 1e-5  # their step: in float64 the error is then ~1e-9 (eps = 1e-6 reaches ~1e-7 by rounding)
KEYS = ("dW_ih", "dW_hh", "db_ih", "db_hh")




def _problem(seed, T, N, D, H, nonlinearity="tanh", scale=1.0):
    """Random asymmetric weights, non-zero biases and initial state, as a dict of rnn_forward's inputs."""
    rng = np.random.default_rng(seed)
    return dict(x=rng.normal(size=(T, N, D)), h0=rng.normal(size=(N, H)),
                W_ih=scale * rng.normal(size=(H, D)) / math.sqrt(D),
                W_hh=scale * rng.normal(size=(H, H)) / math.sqrt(H),
                b_ih=rng.normal(size=H) * 0.3, b_hh=rng.normal(size=H) * 0.3, nonlinearity=nonlinearity)


# ----------------------------------------------------------------------------- against torch autograd
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (5, 3, 4, 6), (9, 2, 3, 5)])
@pytest.mark.parametrize("with_dh_n", [True, False])
def test_rnn_backward_matches_torch_autograd(torch, nonlinearity, T, N, D, H, with_dh_n):
    seed = 10 * T + H
    torch.manual_seed(seed)
    module = torch.nn.RNN(D, H, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(seed)
    x, h0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H))
    dout, dh_n = rng.normal(size=(T, N, H)), rng.normal(size=(N, H)) if with_dh_n else None

    out, cache = rnn.rnn_forward(x, h0, **_weights(module), nonlinearity=nonlinearity)
    grads = bptt.rnn_backward(dout, cache, dh_n=dh_n)

    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    out_t, h_n = module(xt, h0t)
    loss = (out_t * torch.from_numpy(dout)).sum()
    if with_dh_n:
        loss = loss + (h_n[0] * torch.from_numpy(dh_n)).sum()
    loss.backward()
    expected = {"dx": xt.grad, "dh0": h0t.grad[0], "dW_ih": module.weight_ih_l0.grad,
                "dW_hh": module.weight_hh_l0.grad, "db_ih": module.bias_ih_l0.grad, "db_hh": module.bias_hh_l0.grad}
    assert set(grads) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value.numpy(), rtol=RTOL, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_step_backward_matches_torch_rnn_cell(torch, nonlinearity):
    torch.manual_seed(7)
    cell = torch.nn.RNNCell(4, 6, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(7)
    x, h, dh_next = rng.normal(size=(5, 4)), rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    _, cache = rnn.rnn_step_forward(x, h, **_weights(cell, suffix=""), nonlinearity=nonlinearity)
    grads = bptt.rnn_step_backward(dh_next, cache)

    xt, ht = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    (cell(xt, ht) * torch.from_numpy(dh_next)).sum().backward()
    expected = {"dx_t": xt.grad, "dh_prev": ht.grad, "dW_ih": cell.weight_ih.grad, "dW_hh": cell.weight_hh.grad,
                "db_ih": cell.bias_ih.grad, "db_hh": cell.bias_hh.grad}
    assert set(grads) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value.numpy(), rtol=RTOL, atol=1e-12, err_msg=key)


def test_readout_and_mse_match_torch_linear_and_mse_loss(torch):
    torch.manual_seed(8)
    linear = torch.nn.Linear(5, 2).double()
    rng = np.random.default_rng(8)
    h, target = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 3, 2))
    V, c = linear.weight.detach().numpy().copy(), linear.bias.detach().numpy().copy()
    pred, cache = bptt.readout_forward(h, V, c)
    loss, dpred = bptt.mse_loss(pred, target)
    grads = bptt.readout_backward(dpred, cache)

    ht = torch.tensor(h, requires_grad=True)
    loss_t = torch.nn.MSELoss()(linear(ht), torch.from_numpy(target))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    np.testing.assert_allclose(grads["dh"], ht.grad.numpy(), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(grads["dV"], linear.weight.grad.numpy(), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(grads["dc"], linear.bias.grad.numpy(), rtol=RTOL, atol=1e-14)


# ----------------------------------------------------------------------------- against finite differences
def _loss_of_outputs(dout, dh_n):
    """f(**inputs) = sum(out * dout) + sum(h_T * dh_n): its gradient is what rnn_backward(dout, cache, dh_n) returns."""
    def f(**p):
        out, _ = rnn.rnn_forward(**p)
        return np.sum(out * dout) + np.sum(out[-1] * dh_n)
    return f


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_backward_passes_grad_check(nonlinearity):
    inputs = _problem(20, T=4, N=3, D=2, H=5, nonlinearity=nonlinearity)
    rng = np.random.default_rng(21)
    dout, dh_n = rng.normal(size=(4, 3, 5)), rng.normal(size=(3, 5))
    _, cache = rnn.rnn_forward(**inputs)
    grads = bptt.rnn_backward(dout, cache, dh_n)
    errors = bptt.grad_check(_loss_of_outputs(dout, dh_n), inputs, grads, eps=GRAD_EPS)
    assert set(errors) == {"dx", "dh0", *KEYS}
    assert max(errors.values()) < GRAD_TOL, errors


def _every_backward(seed, nonlinearity):
    """(name, f, inputs, analytic) for each backward pass of solutions.bptt: f(**inputs) is a scalar
    whose gradient the backward pass returns (a random projection dout of a forward's output)."""
    p = _problem(seed, T=4, N=3, D=2, H=5, nonlinearity=nonlinearity)
    rng = np.random.default_rng(seed + 1)
    step_in = dict(x_t=p["x"][0], h_prev=p["h0"], W_ih=p["W_ih"], W_hh=p["W_hh"], b_ih=p["b_ih"],
                   b_hh=p["b_hh"], nonlinearity=nonlinearity)
    dh_next = rng.normal(size=(3, 5))
    _, step_cache = rnn.rnn_step_forward(**step_in)
    yield ("rnn_step_backward", lambda **a: np.sum(rnn.rnn_step_forward(**a)[0] * dh_next), step_in,
           {k: v for k, v in bptt.rnn_step_backward(dh_next, step_cache).items()})
    dout = rng.normal(size=(4, 3, 5))
    _, cache = rnn.rnn_forward(**p)
    yield ("rnn_backward", _loss_of_outputs(dout, 0.0), p, bptt.rnn_backward(dout, cache))
    read_in = dict(h=rng.normal(size=(4, 3, 5)), V=rng.normal(size=(2, 5)), c=rng.normal(size=2))
    dy = rng.normal(size=(4, 3, 2))
    _, read_cache = bptt.readout_forward(**read_in)
    yield ("readout_backward", lambda **a: np.sum(bptt.readout_forward(**a)[0] * dy), read_in,
           bptt.readout_backward(dy, read_cache))
    target = rng.normal(size=(4, 3, 2))
    mse_in = dict(pred=rng.normal(size=(4, 3, 2)), target=target)
    yield ("mse_loss", lambda pred, target: bptt.mse_loss(pred, target)[0], mse_in,
           {"dpred": bptt.mse_loss(**mse_in)[1]})
    params = {k: v * 2 for k, v in bptt.init_params(2, 5, 2, rng=seed).items()}
    x, y, h0 = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2)), rng.normal(size=(3, 5))
    _, grads, _ = bptt.sequence_loss(params, x, y, h0, n_loss=2, nonlinearity=nonlinearity)

    def loss_of(h0, **weights):
        return bptt.sequence_loss(weights, x, y, h0, n_loss=2, nonlinearity=nonlinearity)[0]
    yield "sequence_loss", loss_of, {**params, "h0": h0}, grads
    # d h_t / d h_{t-1}: row i of the Jacobian is the gradient of h_t[n, i]
    J = bptt.step_jacobian(step_cache)
    for n, i in [(0, 0), (2, 4)]:
        def unit(h_prev, n=n, i=i, **rest):
            return rnn.rnn_step_forward(h_prev=h_prev, **rest)[0][n, i]
        row = np.zeros((3, 5))
        row[n] = J[n, i]
        yield f"step_jacobian[{n}, {i}]", unit, step_in, {"dh_prev": row}


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("seed", [30, 31, 32])
def test_every_reference_backward_passes_a_float64_grad_check(seed, nonlinearity):
    """Every backward pass (and the step Jacobian) against centred differences, every gradient it
    returns: relative error ||a - n|| / (||a|| + ||n||) below 1e-7. (Entry by entry, as grad_check
    measures, an entry of size ~1e-7 that the sum in dW_hh happens to cancel reaches 1.5e-7 with an
    absolute error of 1e-14, so the entrywise test gets an absolute floor instead.)"""
    checked = []
    for name, f, inputs, analytic in _every_backward(seed, nonlinearity):
        for key, grad in analytic.items():
            numeric = bptt.numerical_gradient(f, inputs, key[1:] if key[1:] in inputs else key, GRAD_EPS)
            error = np.linalg.norm(grad - numeric) / max(np.linalg.norm(grad) + np.linalg.norm(numeric), 1e-12)
            assert error < GRAD_TOL, (name, key, error)
            np.testing.assert_allclose(grad, numeric, rtol=GRAD_TOL * 10, atol=1e-9, err_msg=f"{name} {key}")
        checked.append(name)
    assert len(checked) == 7


def test_rnn_backward_matches_a_direct_finite_difference_loop():
    """Centred differences written out here, without grad_check: perturb one entry of a copy, rerun."""
    inputs = _problem(22, T=3, N=2, D=2, H=3)
    rng = np.random.default_rng(23)
    dout, dh_n = rng.normal(size=(3, 2, 3)), rng.normal(size=(2, 3))
    f = _loss_of_outputs(dout, dh_n)
    _, cache = rnn.rnn_forward(**inputs)
    grads = bptt.rnn_backward(dout, cache, dh_n)
    eps = 1e-6
    for name in ("x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"):
        numeric = np.zeros_like(inputs[name])
        for i in range(inputs[name].size):
            plus, minus = dict(inputs), dict(inputs)
            plus[name], minus[name] = inputs[name].copy(), inputs[name].copy()
            plus[name].flat[i] += eps
            minus[name].flat[i] -= eps
            numeric.flat[i] = (f(**plus) - f(**minus)) / (2 * eps)
        np.testing.assert_allclose(grads["d" + name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_grad_check_finds_right_and_wrong_gradients_and_leaves_inputs_alone():
    rng = np.random.default_rng(24)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)).astype(np.float32)
    a_before, b_before = a.copy(), b.copy()
    seen = []

    def f(a, b):
        seen.append(b.dtype)
        value = np.sum(a * b ** 2)
        a += 1.0  # a careless f that modifies its inputs must not spoil later evaluations
        return value

    errors = bptt.grad_check(f, {"a": a, "b": b}, {"da": b.astype(np.float64) ** 2, "b": 2 * a * b.astype(np.float64)})
    assert set(errors) == {"da", "b"}
    assert max(errors.values()) < 1e-8, errors  # float32 b is differentiated on float64 copies
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(b, b_before)
    assert b.dtype == np.float32

    db = 2 * a * b
    db[1, 0] /= 2  # one entry missing its factor 2: the error reported is the largest, not an average
    wrong = bptt.grad_check(lambda a, b: np.sum(a * b ** 2), {"a": a, "b": b}, {"db": db})
    assert wrong["db"] == pytest.approx(1 / 3, rel=1e-5)  # |2ab - ab| / (|2ab| + |ab|)
    with pytest.raises(ValueError, match="dz"):
        bptt.grad_check(f, {"a": a}, {"dz": a})
    with pytest.raises(ValueError, match="shape"):
        bptt.grad_check(lambda a: np.sum(a), {"a": a}, {"da": np.ones(2)})  # would broadcast against (3, 2)


def test_relative_error_definition():
    np.testing.assert_allclose(bptt.relative_error([1.0, 0.0, 3.0, -1.0], [3.0, 0.0, 3.0, 1.0]), [0.5, 0.0, 0.0, 1.0])
    assert bptt.relative_error(1e-9, 0.0) == pytest.approx(0.1)  # floor 1e-8 on the denominator


# ----------------------------------------------------------------------------- the one neuron of chapter 1, by hand
def test_one_neuron_three_steps_by_hand():
    # Chapter 1's example: w_x = 0.5, w_h = 0.8, b = 0.1, h_0 = 0, x = (1, 0.5, -1).
    wx, wh, b, xs = 0.5, 0.8, 0.1, (1.0, 0.5, -1.0)
    h = [0.0]
    for x_t in xs:
        h.append(math.tanh(wx * x_t + wh * h[-1] + b))
    p = dict(x=np.array(xs).reshape(3, 1, 1), h0=np.zeros((1, 1)), W_ih=np.array([[wx]]), W_hh=np.array([[wh]]),
             b_ih=np.array([b]), b_hh=np.array([0.0]))
    _, cache = rnn.rnn_forward(**p)

    # L = h_3 (a gradient on the final state only): delta_t = dL/dz_t.
    d3 = 1 - h[3] ** 2
    d2 = d3 * wh * (1 - h[2] ** 2)
    d1 = d2 * wh * (1 - h[1] ** 2)
    g = bptt.rnn_backward(np.zeros((3, 1, 1)), cache, dh_n=np.ones((1, 1)))
    assert g["dW_ih"].item() == pytest.approx(d1 * 1.0 + d2 * 0.5 + d3 * -1.0, abs=1e-15)
    assert g["dW_hh"].item() == pytest.approx(d1 * h[0] + d2 * h[1] + d3 * h[2], abs=1e-15)
    assert g["db_ih"].item() == g["db_hh"].item() == pytest.approx(d1 + d2 + d3, abs=1e-15)
    assert g["dh0"].item() == pytest.approx(d1 * wh, abs=1e-15)
    np.testing.assert_allclose(g["dx"].ravel(), [d1 * wx, d2 * wx, d3 * wx], rtol=0, atol=1e-15)

    # L = h_1 + h_2 + h_3: each state also receives the gradient of its own output (accumulation).
    e3 = 1.0 * (1 - h[3] ** 2)
    e2 = (1.0 + e3 * wh) * (1 - h[2] ** 2)
    e1 = (1.0 + e2 * wh) * (1 - h[1] ** 2)
    g = bptt.rnn_backward(np.ones((3, 1, 1)), cache)
    assert g["dW_hh"].item() == pytest.approx(e2 * h[1] + e3 * h[2], abs=1e-15)
    assert g["dW_ih"].item() == pytest.approx(e1 * 1.0 + e2 * 0.5 + e3 * -1.0, abs=1e-15)
    assert g["dh0"].item() == pytest.approx(e1 * wh, abs=1e-15)

    # d h_3 / d h_t is a product of w_h (1 - h_s^2) over the steps s after t.
    norms = bptt.hidden_jacobian_norms(cache)[:, 0]
    expected = [wh ** 3 * (1 - h[1] ** 2) * (1 - h[2] ** 2) * (1 - h[3] ** 2),
                wh ** 2 * (1 - h[2] ** 2) * (1 - h[3] ** 2), wh * (1 - h[3] ** 2), 1.0]
    np.testing.assert_allclose(norms, expected, rtol=1e-14)


# ----------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_hidden_jacobians_match_torch_autograd_jacobian(torch, nonlinearity):
    T, N, D, H = 4, 2, 2, 3
    torch.manual_seed(30)
    module = torch.nn.RNN(D, H, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(30)
    x, h0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H))
    out, cache = rnn.rnn_forward(x, h0, **_weights(module), nonlinearity=nonlinearity)
    J = bptt.hidden_jacobians(cache)
    norms2, normsF = bptt.hidden_jacobian_norms(cache), bptt.hidden_jacobian_norms(cache, ord="fro")
    assert J.shape == (T + 1, N, H, H) and norms2.shape == normsF.shape == (T + 1, N)
    states = [h0] + list(out)  # states[t] = h_t
    xt = torch.from_numpy(x)
    for t in range(T + 1):
        def h_T_from(h_t, t=t):
            return module(xt[t:], h_t[None])[1][0] if t < T else h_t
        full = torch.autograd.functional.jacobian(h_T_from, torch.from_numpy(states[t]))  # (N, H, N, H)
        blocks = torch.stack([full[n, :, n, :] for n in range(N)])  # sequences do not mix
        np.testing.assert_allclose(J[t], blocks.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"t={t}")
        np.testing.assert_allclose(norms2[t], torch.linalg.matrix_norm(blocks, ord=2).numpy(), rtol=1e-10)
        np.testing.assert_allclose(normsF[t], torch.linalg.matrix_norm(blocks).numpy(), rtol=1e-10)


def test_jacobian_norms_vanish_and_explode_with_the_recurrent_scale():
    """The lesson's plot in two regimes: near h = 0 the product of Jacobians is W_hh^lag, which
    shrinks with the lag for a small W_hh; four times that W_hh makes it grow (despite saturation)."""
    small = _problem(31, T=30, N=1, D=1, H=8, scale=0.5)
    small["x"] *= 0.0  # states stay near 0, tanh' near 1: the product of Jacobians is about W_hh^lag
    small["h0"] *= 1e-3
    small["b_ih"] *= 0.0
    small["b_hh"] *= 0.0
    norms = bptt.hidden_jacobian_norms(rnn.rnn_forward(**small)[1])[:, 0]
    W = small["W_hh"]
    np.testing.assert_allclose(norms[0], np.linalg.norm(np.linalg.matrix_power(W, 30), 2), rtol=1e-3)
    assert norms[0] < 1e-3 < norms[-2]
    big = dict(small, W_hh=W * 4)
    assert bptt.hidden_jacobian_norms(rnn.rnn_forward(**big)[1])[0, 0] > 1e3


# ----------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch(torch, max_norm):
    rng = np.random.default_rng(40)
    grads = {"dW": rng.normal(size=(4, 3)), "db": rng.normal(size=4), "dV": rng.normal(size=(2, 4))}
    before = {k: v.copy() for k, v in grads.items()}
    clipped, norm = bptt.clip_grad_norm(grads, max_norm)
    params = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in grads.values()]
    for p, g in zip(params, grads.values()):
        p.grad = torch.tensor(g)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert norm == pytest.approx(total.item(), rel=1e-12)
    for (key, value), p in zip(clipped.items(), params):
        np.testing.assert_allclose(value, p.grad.numpy(), rtol=1e-12, err_msg=key)
        np.testing.assert_array_equal(grads[key], before[key])  # not in place
    assert (norm > max_norm) == (max_norm < 10)  # both sides of the threshold are exercised


def test_clip_grad_norm_at_the_threshold_follows_torchs_epsilon(torch):
    g = {"d": np.array([3.0, 4.0])}  # norm 5: torch still scales by 5 / (5 + 1e-6)
    clipped, _ = bptt.clip_grad_norm(g, 5.0)
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([3.0, 4.0], dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([p], 5.0)
    np.testing.assert_array_equal(clipped["d"], p.grad.numpy())


@pytest.mark.parametrize("clip", [0.1, 1.0, 10.0])
def test_clip_grad_value_matches_torch(torch, clip):
    rng = np.random.default_rng(41)
    grads = {"dW": 2 * rng.normal(size=(4, 3)), "db": 2 * rng.normal(size=4)}
    before = {k: v.copy() for k, v in grads.items()}
    clipped = bptt.clip_grad_value(grads, clip)
    params = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in grads.values()]
    for p, g in zip(params, grads.values()):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(params, clip)
    for (key, value), p in zip(clipped.items(), params):
        np.testing.assert_array_equal(value, p.grad.numpy(), err_msg=key)
        np.testing.assert_array_equal(grads[key], before[key])


# ----------------------------------------------------------------------------- truncated BPTT
def _torch_model(torch, params):
    rnn_t = torch.nn.RNN(params["W_ih"].shape[1], params["W_hh"].shape[0]).double()
    linear = torch.nn.Linear(params["V"].shape[1], params["V"].shape[0]).double()
    with torch.no_grad():
        for p, name in [(rnn_t.weight_ih_l0, "W_ih"), (rnn_t.weight_hh_l0, "W_hh"), (rnn_t.bias_ih_l0, "b_ih"),
                        (rnn_t.bias_hh_l0, "b_hh"), (linear.weight, "V"), (linear.bias, "c")]:
            p.copy_(torch.from_numpy(params[name]))
    named = {"W_ih": rnn_t.weight_ih_l0, "W_hh": rnn_t.weight_hh_l0, "b_ih": rnn_t.bias_ih_l0,
             "b_hh": rnn_t.bias_hh_l0, "V": linear.weight, "c": linear.bias}
    return rnn_t, linear, named


def test_tbptt_with_k1_equal_k2_equal_T_is_one_step_of_full_bptt(torch):
    x, y = bptt.noisy_periodic_signal(12, N=3, seed=50)
    params = bptt.init_params(1, 4, 1, rng=50)
    before = {k: v.copy() for k, v in params.items()}
    lr = 0.7
    trained, history = bptt.train_tbptt(x, y, params, k1=12, k2=12, lr=lr, epochs=1)

    rnn_t, linear, named = _torch_model(torch, params)
    out, _ = rnn_t(torch.from_numpy(x), torch.zeros(1, 3, 4, dtype=torch.float64))
    loss = torch.nn.MSELoss()(linear(out), torch.from_numpy(y))
    loss.backward()
    assert history["loss"] == [pytest.approx(loss.item(), rel=RTOL)]
    norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in named.values()))
    assert history["grad_norm"] == [pytest.approx(norm, rel=RTOL)]
    for name, p in named.items():
        np.testing.assert_allclose(trained[name], params[name] - lr * p.grad.numpy(), rtol=RTOL, atol=1e-14,
                                   err_msg=name)
        np.testing.assert_array_equal(params[name], before[name])  # the caller's parameters are untouched


@pytest.mark.parametrize("k1, k2, randomised, clip", [(3, 3, False, None), (3, 5, False, None), (4, 7, False, 0.05),
                                                      (3, 4, True, None)])
def test_tbptt_matches_a_torch_replay_with_sgd(torch, k1, k2, randomised, clip):
    """The spec replayed with torch.nn.RNN, Linear, MSELoss, clip_grad_norm_ and optim.SGD: each segment's
    loss backpropagates through the segment and the k2 - k1 steps before it, rerun from their stored
    (detached) start state with the current weights; the state is carried to the next segment."""
    T, N, H, lr, epochs, seed = 14, 2, 4, 0.3, 2, 51
    x, y = bptt.noisy_periodic_signal(T, N=N, seed=seed)
    params = bptt.init_params(1, H, 1, rng=seed)
    trained, history = bptt.train_tbptt(x, y, params, k1, k2, lr=lr, epochs=epochs, clip=clip,
                                        randomised=randomised, rng=seed)

    rnn_t, linear, named = _torch_model(torch, params)
    opt = torch.optim.SGD(list(named.values()), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    segment_rng = np.random.default_rng(seed)
    losses, norms = [], []
    for _ in range(epochs):
        states = [torch.zeros(N, H, dtype=torch.float64)]
        for start, stop in bptt.truncation_segments(T, k1, randomised, segment_rng):
            first = max(0, start - (k2 - k1))
            out, _ = rnn_t(xt[first:stop], states[first].detach()[None])
            loss = torch.nn.MSELoss()(linear(out[start - first:]), yt[start:stop])
            opt.zero_grad()
            loss.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(list(named.values()), clip or math.inf).item())
            opt.step()
            states.extend(out[start - first:].detach())
            losses.append(loss.item())
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-9)
    np.testing.assert_allclose(history["grad_norm"], norms, rtol=1e-9)  # before clipping
    for name, p in named.items():
        np.testing.assert_allclose(trained[name], p.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_truncation_segments_cover_the_sequence():
    assert bptt.truncation_segments(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert bptt.truncation_segments(8, 8) == [(0, 8)]
    segments = bptt.truncation_segments(2000, 5, randomised=True, rng=1)
    assert segments[0][0] == 0 and segments[-1][1] == 2000
    assert all(a < b and b == c for (a, b), (c, _) in zip(segments, segments[1:]))
    lengths = np.array([b - a for a, b in segments[:-1]])
    assert lengths.min() == 1 and lengths.max() == 9  # uniform on 1..2*k1-1
    assert abs(lengths.mean() - 5) < 0.3
    assert segments == bptt.truncation_segments(2000, 5, randomised=True, rng=1)  # seeded
    assert segments != bptt.truncation_segments(2000, 5, randomised=True, rng=2)
    with pytest.raises(ValueError, match="k2"):
        bptt.train_tbptt(np.zeros((4, 1, 1)), np.zeros((4, 1, 1)), bptt.init_params(1, 2, 1, 0), k1=3, k2=2)


def test_noisy_periodic_signal_is_a_seeded_next_value_task():
    x, y = bptt.noisy_periodic_signal(50, N=3, period=10, noise=0.0, seed=3)
    assert x.shape == y.shape == (50, 3, 1)
    np.testing.assert_array_equal(x[1:], y[:-1])  # the target is the next value
    np.testing.assert_allclose(x[10:], x[:-10], atol=1e-12)  # periodic without noise
    a, b = bptt.noisy_periodic_signal(50, N=3, seed=4), bptt.noisy_periodic_signal(50, N=3, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert np.std(a[0] - bptt.noisy_periodic_signal(50, N=3, noise=0.0, seed=4)[0]) == pytest.approx(0.1, rel=0.3)


@pytest.mark.parametrize("randomised", [False, True])
def test_training_on_the_noisy_periodic_signal_learns_to_predict(randomised):
    x, y = bptt.noisy_periodic_signal(400, N=8, period=20, noise=0.1, seed=0)
    params = bptt.init_params(1, 16, 1, rng=0)
    trained, history = bptt.train_tbptt(x, y, params, k1=10, k2=20, lr=0.2, epochs=5, clip=1.0,
                                        randomised=randomised, rng=0)
    # Held-out sequences with other phases and noise, read from h_0 = 0 without updates.
    x_test, y_test = bptt.noisy_periodic_signal(200, N=8, period=20, noise=0.1, seed=1)
    out, _ = rnn.rnn_forward(x_test, np.zeros((8, 16)), *(trained[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")))
    pred = rnn.output_layer(out, trained["V"], trained["c"])
    mse = float(np.mean((pred[20:] - y_test[20:]) ** 2))
    repeat_last = float(np.mean((x_test[20:] - y_test[20:]) ** 2))  # the naive forecast
    assert np.mean(history["loss"][:5]) > 0.2
    assert mse < 0.03 and mse < 0.5 * repeat_last, (mse, repeat_last)
    assert all(np.isfinite(history["grad_norm"]))


def test_unknown_nonlinearity_is_a_clear_error():
    with pytest.raises(ValueError, match="tanh"):
        bptt.activation_derivative(np.zeros(2), "sigmoid")
