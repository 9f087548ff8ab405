"""solutions.stacks against independent sources: torch.nn.RNN (tanh, relu) / LSTM / GRU with num_layers 1-3,
both directions and both batch layouts (state_dict copied straight across, float64), torch's h_n.view(L, D, N, H),
torch's own dropout masks (drawn again from torch's generator) and a layer-by-layer torch oracle for dropout and
residual connections, a layer-normalised LSTM written here with torch.nn.functional.layer_norm, and parameter counts
of torch modules. Last, plausible mistakes in the reference (code mutants) are shown to be caught by these
comparisons."""
import types
from pathlib import Path

import numpy as np
import pytest

from solutions import stacks

RTOL, ATOL = 1e-10, 1e-12  # against torch, float64
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]
SHAPES = {0: (5, 3, 4, 6), 1: (7, 2, 3, 5), 2: (1, 1, 2, 1)}  # seed -> (T, N, D, H): non-square, and tiny


@pytest.fixture(scope="module")
def torch(torch):
    """conftest's torch on one thread: the machine is shared."""
    torch.set_num_threads(1)
    return torch


def _module(torch, cell, nonlinearity, D, H, seed, **kwargs):
    torch.manual_seed(seed)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    return cls(D, H, **kwargs).double()


def _state_dict(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _problem(seed, T, N, D, H, L, dirs, batch_first):
    """x in the requested layout, non-zero h0 and c0 (L*dirs, N, H)."""
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(size=(N, T, D) if batch_first else (T, N, D))
    return x, rng.normal(size=(L * dirs, N, H)), rng.normal(size=(L * dirs, N, H))


def _run_torch(torch, module, cell, x, h0, c0):
    """torch's (output, h_n, c_n or None) as numpy."""
    with torch.no_grad():
        if cell == "lstm":
            out, (h_n, c_n) = module(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
            return out.numpy(), h_n.numpy(), c_n.numpy()
        out, h_n = module(torch.from_numpy(x), torch.from_numpy(h0))
        return out.numpy(), h_n.numpy(), None


def _run_mine(m, cell, nonlinearity, weights, x, h0, c0, L, bidirectional, batch_first, **kwargs):
    """The reference's (output, h_n, c_n or None); m is solutions.stacks or a mutant of it."""
    result = m.stack_forward(x, h0, weights, cell=cell, num_layers=L, bidirectional=bidirectional,
                             batch_first=batch_first, c0=c0 if cell == "lstm" else None,
                             nonlinearity=nonlinearity or "tanh", **kwargs)
    if cell == "lstm":
        out, (h_n, c_n) = result
        return out, h_n, c_n
    out, h_n = result
    return out, h_n, None


def _assert_same(mine, theirs, what=""):
    for name, a, b in zip(("output", "h_n", "c_n"), mine, theirs):
        if b is None:
            assert a is None, f"{what} {name}: expected None"
            continue
        assert a.shape == b.shape, f"{what} {name}: shape {a.shape}, torch's {b.shape}"
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{what} {name}")


# ----------------------------------------------------------------------------- stacks against torch
@pytest.mark.parametrize("seed", sorted(SHAPES))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("cell, nonlinearity", CELLS, ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_stack_forward_matches_torch(torch, cell, nonlinearity, num_layers, bidirectional, batch_first, seed):
    T, N, D, H = SHAPES[seed]
    dirs = 2 if bidirectional else 1
    module = _module(torch, cell, nonlinearity, D, H, seed, num_layers=num_layers, bidirectional=bidirectional,
                     batch_first=batch_first)
    x, h0, c0 = _problem(seed, T, N, D, H, num_layers, dirs, batch_first)
    expected = _run_torch(torch, module, cell, x, h0, c0)
    mine = _run_mine(stacks, cell, nonlinearity, _state_dict(module), x, h0, c0, num_layers, bidirectional,
                     batch_first)
    _assert_same(mine, expected)
    assert mine[0].shape == ((N, T, dirs * H) if batch_first else (T, N, dirs * H))
    assert mine[1].shape == (num_layers * dirs, N, H)


def _run_exercise_stack(m, cell, nonlinearity, weights, x, h0, c0, L, bidirectional):
    """deep_forward or bidirectional_forward (chapter 4's exercise) of m: (output, h_n, c_n or None)."""
    run = m.bidirectional_forward if bidirectional else m.deep_forward
    return run(x, h0, c0 if cell == "lstm" else None, weights, L, cell, nonlinearity or "tanh")


@pytest.mark.parametrize("seed", [0, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("cell, nonlinearity", CELLS, ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_deep_and_bidirectional_forward_match_torch(torch, cell, nonlinearity, num_layers, bidirectional, seed):
    """The exercise's two stacks, time-major, every state given, c_n None unless an LSTM."""
    T, N, D, H = SHAPES[seed]
    dirs = 2 if bidirectional else 1
    module = _module(torch, cell, nonlinearity, D, H, seed, num_layers=num_layers, bidirectional=bidirectional)
    x, h0, c0 = _problem(seed, T, N, D, H, num_layers, dirs, False)
    mine = _run_exercise_stack(stacks, cell, nonlinearity, _state_dict(module), x, h0, c0, num_layers,
                               bidirectional)
    _assert_same(mine, _run_torch(torch, module, cell, x, h0, c0))
    assert mine[0].shape == (T, N, dirs * H) and mine[1].shape == (num_layers * dirs, N, H)


@pytest.mark.parametrize("cell, nonlinearity", CELLS, ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_zero_initial_states_and_no_biases_as_torch(torch, cell, nonlinearity):
    """h0 = None (and c0 = None) are zeros, as torch's hx = None; bias=False modules have no bias keys."""
    T, N, D, H = 4, 3, 5, 2
    module = _module(torch, cell, nonlinearity, D, H, seed=9, num_layers=2, bidirectional=True, bias=False)
    weights = _state_dict(module)
    assert not any(k.startswith("bias") for k in weights)
    x = np.random.default_rng(9).normal(size=(T, N, D))
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x))
    result = stacks.stack_forward(x, None, weights, cell=cell, num_layers=2, bidirectional=True,
                                  nonlinearity=nonlinearity or "tanh")
    mine_out, mine_h = result[0], (result[1][0] if cell == "lstm" else result[1])
    np.testing.assert_allclose(mine_out, out.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mine_h, (h_n[0] if cell == "lstm" else h_n).numpy(), rtol=RTOL, atol=ATOL)
    if cell == "lstm":
        np.testing.assert_allclose(result[1][1], h_n[1].numpy(), rtol=RTOL, atol=ATOL)


def test_one_direction_at_a_time_matches_a_one_layer_torch_module(torch):
    """direction_forward is the forward half, reverse_forward the backward half of a bidirectional layer."""
    T, N, D, H = 6, 2, 3, 4
    module = _module(torch, "gru", None, D, H, seed=11, bidirectional=True)
    weights = _state_dict(module)
    x, h0, _ = _problem(11, T, N, D, H, 1, 2, False)
    out, h_n, _ = _run_torch(torch, module, "gru", x, h0, None)
    fwd = stacks.direction_forward(x, h0[0], None, stacks.layer_weights(weights, 0), "gru")
    bwd = stacks.reverse_forward(x, h0[1], None, stacks.layer_weights(weights, 0, reverse=True), "gru")
    np.testing.assert_allclose(fwd[0], out[..., :H], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(bwd[0], out[..., H:], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(fwd[1], h_n[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(bwd[1], h_n[1], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(bwd[1], bwd[0][0])  # the backward final state is at t = 0
    assert fwd[2] is None and bwd[2] is None
    np.testing.assert_array_equal(stacks.concat_directions(fwd[0], bwd[0])[..., :H], fwd[0])


def test_unknown_cell_is_a_clear_error():
    weights = stacks.stack_weights(2, 3, "rnn")
    with pytest.raises(ValueError, match="'rnn', 'lstm', 'gru'"):
        stacks.stack_forward(np.zeros((2, 1, 2)), None, weights, cell="elman")


# ----------------------------------------------------------------------------- final states
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_final_states_are_slices_of_torchs_view(torch, cell, batch_first, num_layers):
    T, N, D, H = 5, 3, 4, 6
    module = _module(torch, cell, None, D, H, seed=num_layers, num_layers=num_layers, bidirectional=True,
                     batch_first=batch_first)
    x, h0, c0 = _problem(num_layers, T, N, D, H, num_layers, 2, batch_first)
    out, h_n, c_n = _run_torch(torch, module, cell, x, h0, c0)
    view = h_n.reshape(num_layers, 2, N, H)  # torch's h_n.view(L, D, N, H), on torch's own tensor below
    with torch.no_grad():
        np.testing.assert_array_equal(view, torch.from_numpy(h_n).view(num_layers, 2, N, H).numpy())
    np.testing.assert_array_equal(stacks.states_by_layer(h_n, num_layers, True), view)
    forward, backward = stacks.final_states(h_n, num_layers, True)
    np.testing.assert_array_equal(forward, view[-1, 0])
    np.testing.assert_array_equal(backward, view[-1, 1])
    # the classic confusion: the backward direction's final state is at t = 0, not at t = T - 1
    time_major = out.swapaxes(0, 1) if batch_first else out
    np.testing.assert_allclose(forward, time_major[-1, :, :H], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(backward, time_major[0, :, H:], rtol=RTOL, atol=ATOL)
    assert np.abs(backward - time_major[-1, :, H:]).max() > 1e-3
    if cell == "lstm":
        forward_c, backward_c = stacks.final_states(c_n, num_layers, True)
        np.testing.assert_array_equal(forward_c, c_n[-2])
        np.testing.assert_array_equal(backward_c, c_n[-1])


def test_final_states_of_a_one_direction_stack(torch):
    module = _module(torch, "rnn", "tanh", 3, 4, seed=5, num_layers=3)
    x, h0, _ = _problem(5, 6, 2, 3, 4, 3, 1, False)
    out, h_n, _ = _run_torch(torch, module, "rnn", x, h0, None)
    forward, backward = stacks.final_states(h_n, 3, False)
    assert backward is None and stacks.states_by_layer(h_n, 3, False).shape == (3, 1, 2, 4)
    np.testing.assert_allclose(forward, out[-1], rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------------------- weights
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_weights_have_torchs_names_shapes_and_range(torch, cell, bidirectional):
    D, H, L = 3, 5, 3
    weights = stacks.stack_weights(D, H, cell, L, bidirectional, rng=np.random.default_rng(0))
    module = _module(torch, cell, "tanh", D, H, seed=0, num_layers=L, bidirectional=bidirectional)
    reference = _state_dict(module)
    assert list(weights) == list(reference)
    assert all(weights[k].shape == reference[k].shape for k in weights)
    assert max(np.abs(w).max() for w in weights.values()) <= 1 / np.sqrt(H)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})  # loads as it is
    x = np.random.default_rng(1).normal(size=(4, 2, D))
    expected = _run_torch(torch, module, cell, x, *_problem(1, 4, 2, D, H, L, 2 if bidirectional else 1, False)[1:])
    mine = _run_mine(stacks, cell, "tanh", weights, x, *_problem(1, 4, 2, D, H, L, 2 if bidirectional else 1,
                                                                 False)[1:], L, bidirectional, False)
    _assert_same(mine, expected)


# ----------------------------------------------------------------------------- dropout between layers
def _torch_masks(torch, seed, shape, p, count):
    """The masks torch's CPU recurrent modules draw in training, drawn again: one bernoulli_(1 - p) per layer but
    the last, on the time-major layer output, divided by 1 - p (ATen's dropout)."""
    torch.manual_seed(seed)
    return [torch.empty(shape, dtype=torch.float64).bernoulli_(1 - p).div_(1 - p).numpy() for _ in range(count)]


@pytest.mark.parametrize("cell, nonlinearity", CELLS, ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_dropout_in_training_matches_torch_with_its_own_masks(torch, cell, nonlinearity, batch_first):
    T, N, D, H, L, p = 5, 3, 4, 6, 3, 0.4
    module = _module(torch, cell, nonlinearity, D, H, seed=21, num_layers=L, bidirectional=True, dropout=p,
                     batch_first=batch_first)
    x, h0, c0 = _problem(21, T, N, D, H, L, 2, batch_first)
    module.train()
    torch.manual_seed(77)
    expected = _run_torch(torch, module, cell, x, h0, c0)
    masks = _torch_masks(torch, 77, (T, N, 2 * H), p, L - 1)
    assert all(set(np.unique(m)) == {0.0, 1 / (1 - p)} for m in masks)
    if batch_first:
        masks = [m.swapaxes(0, 1) for m in masks]  # the reference takes masks shaped like output
    mine = _run_mine(stacks, cell, nonlinearity, _state_dict(module), x, h0, c0, L, True, batch_first, dropout=p,
                     masks=masks)
    _assert_same(mine, expected, "train")
    no_dropout = _run_mine(stacks, cell, nonlinearity, _state_dict(module), x, h0, c0, L, True, batch_first)
    assert np.abs(mine[0] - no_dropout[0]).max() > 1e-3  # the masks did something
    np.testing.assert_array_equal(mine[1][:2], no_dropout[1][:2])  # layer 0 is before any dropout
    module.eval()  # no dropout in evaluation, whatever the masks
    expected = _run_torch(torch, module, cell, x, h0, c0)
    mine = _run_mine(stacks, cell, nonlinearity, _state_dict(module), x, h0, c0, L, True, batch_first, dropout=p,
                     training=False, masks=masks)
    _assert_same(mine, expected, "eval")
    _assert_same(mine, no_dropout, "eval")


def test_dropout_masks_of_ones_are_no_dropout_and_one_layer_has_none(torch):
    T, N, D, H, L, p = 4, 2, 3, 5, 2, 0.5
    weights = stacks.stack_weights(D, H, "lstm", L, True, rng=np.random.default_rng(3))
    x, h0, c0 = _problem(3, T, N, D, H, L, 2, False)
    plain = _run_mine(stacks, "lstm", None, weights, x, h0, c0, L, True, False)
    ones = _run_mine(stacks, "lstm", None, weights, x, h0, c0, L, True, False, dropout=p,
                     masks=[np.ones((T, N, 2 * H))])
    _assert_same(ones, plain)
    one_layer = {k: v for k, v in weights.items() if "_l0" in k}
    alone = _run_mine(stacks, "lstm", None, one_layer, x, h0[:2], c0[:2], 1, True, False)
    dropped = _run_mine(stacks, "lstm", None, one_layer, x, h0[:2], c0[:2], 1, True, False, dropout=p,
                        rng=np.random.default_rng(0))
    _assert_same(dropped, alone)  # torch drops between layers only: nothing after the last layer
    # the last layer's output is never dropped: its final states are still in it
    drawn = _run_mine(stacks, "lstm", None, weights, x, h0, c0, L, True, False, dropout=p,
                      rng=np.random.default_rng(0))
    np.testing.assert_array_equal(drawn[0][-1, :, :H], drawn[1][-2])
    np.testing.assert_array_equal(drawn[0][0, :, H:], drawn[1][-1])


def test_dropout_mask_scaling_and_rng():
    p = 0.3
    mask = stacks.dropout_mask((200, 50), p, np.random.default_rng(0))
    assert set(np.unique(mask)) == {0.0, 1 / (1 - p)}
    assert abs((mask == 0).mean() - p) < 0.02 and abs(mask.mean() - 1) < 0.03  # inverted dropout keeps the mean
    np.testing.assert_array_equal(mask, stacks.dropout_mask((200, 50), p, np.random.default_rng(0)))
    np.testing.assert_array_equal(stacks.dropout_mask((3, 4), 0.0, np.random.default_rng(0)), np.ones((3, 4)))
    np.testing.assert_array_equal(stacks.dropout_mask((3, 4), 1.0, np.random.default_rng(0)), np.zeros((3, 4)))
    y = np.random.default_rng(1).normal(size=(4, 2, 6))
    given = stacks.dropout_mask(y.shape, p, np.random.default_rng(2))
    np.testing.assert_array_equal(stacks.layer_dropout(y, p, mask=given), y * given)
    assert stacks.layer_dropout(y, p, training=False) is y and stacks.layer_dropout(y, 0.0) is y
    with pytest.raises(ValueError, match="mask or an rng"):
        stacks.layer_dropout(y, p)


# ----------------------------------------------------------------------------- residual connections
def _torch_layer_by_layer(torch, cell, nonlinearity, weights, x, h0, c0, L, masks=None, residual=False):
    """An independent stack: one bidirectional one-layer torch module per layer, its weights renamed to _l0,
    masks multiplied and inputs added in between (time-major)."""
    inp, h_n, c_n = x, [], []
    for k in range(L):
        module = _module(torch, cell, nonlinearity, inp.shape[2], h0.shape[2], seed=0, bidirectional=True)
        module.load_state_dict({name.replace(f"_l{k}", "_l0"): torch.from_numpy(v)
                                for name, v in weights.items() if f"_l{k}" in name})
        states = slice(2 * k, 2 * k + 2)
        out, h, c = _run_torch(torch, module, cell, inp, h0[states], None if c0 is None else c0[states])
        if residual and k > 0:
            out = out + inp
        if masks is not None and k < L - 1:
            out = out * masks[k]
        inp = out
        h_n.append(h)
        c_n.append(c)
    return inp, np.concatenate(h_n), None if c0 is None else np.concatenate(c_n)


@pytest.mark.parametrize("cell, nonlinearity", [("rnn", "relu"), ("lstm", None), ("gru", None)])
def test_residual_connections_against_a_layer_by_layer_torch_stack(torch, cell, nonlinearity):
    T, N, D, H, L, p = 5, 3, 4, 3, 3, 0.25
    weights = stacks.stack_weights(D, H, cell, L, True, rng=np.random.default_rng(4))
    x, h0, c0 = _problem(4, T, N, D, H, L, 2, False)
    c0 = c0 if cell == "lstm" else None
    masks = [stacks.dropout_mask((T, N, 2 * H), p, np.random.default_rng(k)) for k in range(L - 1)]
    for residual in (False, True):
        mine = _run_mine(stacks, cell, nonlinearity, weights, x, h0, c0, L, True, False, residual=residual,
                         dropout=p, masks=masks)
        _assert_same(mine, _torch_layer_by_layer(torch, cell, nonlinearity, weights, x, h0, c0, L, masks, residual),
                     f"residual={residual}")
    plain = _run_mine(stacks, cell, nonlinearity, weights, x, h0, c0, L, True, False)
    added = _run_mine(stacks, cell, nonlinearity, weights, x, h0, c0, L, True, False, residual=True)
    np.testing.assert_array_equal(added[1][:2], plain[1][:2])  # nothing is added into layer 0 (D != 2H)
    assert np.abs(added[0] - plain[0]).max() > 1e-2


# ----------------------------------------------------------------------------- parameter counts
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_counts_match_torch_modules(torch, cell, num_layers, bidirectional, bias):
    for D, H in [(1, 1), (3, 7), (300, 64)]:
        module = _module(torch, cell, "tanh", D, H, seed=0, num_layers=num_layers, bidirectional=bidirectional,
                         bias=bias)
        assert stacks.stack_param_count(D, H, cell, num_layers, bidirectional, bias) == sum(
            p.numel() for p in module.parameters()), (D, H)


def test_layer_norm_lstm_parameter_count(torch):
    D, H = 7, 5
    params = stacks.ln_lstm_params(D, H)
    mine = sum(np.size(a) for v in params.values() for a in (v if isinstance(v, tuple) else (v,)))
    norms = [torch.nn.LayerNorm(4 * H), torch.nn.LayerNorm(4 * H), torch.nn.LayerNorm(H)]
    theirs = sum(p.numel() for m in [torch.nn.LSTMCell(D, H, bias=False), *norms] for p in m.parameters()) + 4 * H
    assert stacks.ln_lstm_param_count(D, H) == mine == theirs


# ----------------------------------------------------------------------------- layer-normalised LSTM
def _ln_params(seed, D, H):
    """Non-trivial gains and biases (a fresh ln_lstm_params has gains 1 and biases 0)."""
    rng = np.random.default_rng(seed)
    p = stacks.ln_lstm_params(D, H, rng)
    p["b"] = rng.normal(size=4 * H) * 0.5
    p["ln_ih"] = (1 + 0.3 * rng.normal(size=4 * H), 0.2 * rng.normal(size=4 * H))
    p["ln_hh"] = (1 + 0.3 * rng.normal(size=4 * H), 0.2 * rng.normal(size=4 * H))
    p["ln_c"] = (1 + 0.3 * rng.normal(size=H), 0.2 * rng.normal(size=H))
    return p


def _torch_ln_lstm(torch, x, h0, c0, p, eps):
    """Ba, Kiros & Hinton (2016)'s layer-normalised LSTM, written with torch.nn.functional.layer_norm."""
    F = torch.nn.functional
    t = torch.from_numpy
    H = h0.shape[1]
    h, c, outs = t(h0), t(c0), []
    for x_t in t(x):
        a = (F.layer_norm(x_t @ t(p["W_ih"]).T, (4 * H,), t(p["ln_ih"][0]), t(p["ln_ih"][1]), eps)
             + F.layer_norm(h @ t(p["W_hh"]).T, (4 * H,), t(p["ln_hh"][0]), t(p["ln_hh"][1]), eps) + t(p["b"]))
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(F.layer_norm(c, (H,), t(p["ln_c"][0]), t(p["ln_c"][1]), eps))
        outs.append(h)
    return torch.stack(outs).numpy(), h.numpy(), c.numpy()


def test_layer_norm_matches_torch(torch):
    rng = np.random.default_rng(0)
    z, gain, bias = rng.normal(size=(6, 8)) * 3 + 1, rng.normal(size=8), rng.normal(size=8)
    layer = torch.nn.LayerNorm(8).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gain))
        layer.bias.copy_(torch.from_numpy(bias))
        expected = layer(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(stacks.layer_norm(z, gain, bias), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("eps", [1e-5, 0.0])
def test_layer_norm_lstm_matches_a_torch_implementation(torch, seed, eps):
    T, N, D, H = [(6, 4, 3, 5), (3, 2, 7, 4), (1, 1, 2, 3)][seed]
    p = _ln_params(seed, D, H)
    rng = np.random.default_rng(50 + seed)
    x, h0, c0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    (out, (h_n, c_n)), cache = stacks.ln_lstm_forward(x, h0, c0, p, eps=eps)
    expected = _torch_ln_lstm(torch, x, h0, c0, p, eps)
    for name, mine, theirs in zip(("out", "h_n", "c_n"), (out, h_n, c_n), expected):
        np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, err_msg=name)
    assert len(cache) == T and cache[-1][-1] is c_n
    h1, c1, _ = stacks.ln_lstm_step_forward(x[0], h0, c0, **p, eps=eps)
    np.testing.assert_allclose(h1, out[0], rtol=1e-15, atol=0)


def test_layer_norm_lstm_normalises_all_gates_together_and_ignores_weight_scale(torch):
    """Per-gate normalisation (each gate's H entries apart) is a different model; scaling W_ih or W_hh by a
    positive factor changes nothing when eps = 0: the point of the normalisation."""
    T, N, D, H = 5, 3, 4, 6
    p = _ln_params(7, D, H)
    rng = np.random.default_rng(7)
    x, h0, c0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    (out, _), _ = stacks.ln_lstm_forward(x, h0, c0, p, eps=0.0)
    scaled = dict(p, W_ih=37.0 * p["W_ih"], W_hh=0.01 * p["W_hh"])
    np.testing.assert_allclose(stacks.ln_lstm_forward(x, h0, c0, scaled, eps=0.0)[0][0], out, rtol=1e-9, atol=1e-12)
    F, t = torch.nn.functional, torch.from_numpy
    z = x[0] @ p["W_ih"].T
    per_gate = torch.cat([F.layer_norm(b, (H,)) for b in t(z).chunk(4, dim=1)], dim=1).numpy()
    assert np.abs(per_gate - stacks.layer_norm(z, 1.0, 0.0)).max() > 1e-2


# ----------------------------------------------------------------------------- the checks catch mistakes
SOURCE = Path(stacks.__file__).read_text()
MUTANTS = [  # (mistake, text of the reference, replacement)
    ("h_n direction-major", "j = 2 * k + d  # layer-major", "j = d * num_layers + k  # layer-major"),
    ("reverse outputs not reversed back", "outs.append(out if d == 0 else out[::-1])", "outs.append(out)"),
    ("backward final state taken after reading x[T-1] only",
     "# back to x's time\n            h_n.append(h)", "# back to x's time\n            h_n.append(outs[-1][-1])"),
    ("reverse pass reads x forwards", "seq = x if d == 0 else x[::-1]", "seq = x"),
    ("directions concatenated backward first", "x = np.concatenate(outs, axis=-1)",
     "x = np.concatenate(outs[::-1], axis=-1)"),
    ("next layer fed the forward direction only", "x = np.concatenate(outs, axis=-1)",
     "x = np.concatenate(outs, axis=-1) if k == num_layers - 1 else outs[0]"),
    ("backward direction with the forward weights", "w = layer_weights(weights, k, reverse=d == 1)",
     "w = layer_weights(weights, k)"),
    ("every bidirectional layer starts from layer 0's states", "out, h, c = direction_forward(seq, h0[j]",
     "out, h, c = direction_forward(seq, h0[d]"),
    ("LSTM cell states of the wrong layer", "c0_j = None if c0 is None else c0[j]",
     "c0_j = None if c0 is None else c0[k]"),
    ("x fed to every layer of a deep stack", "        x, h, c = direction_forward(x, h0[k], c0_k,",
     "        y, h, c = direction_forward(x, h0[k], c0_k,"),
    ("every deep layer starts from layer 0's states", "direction_forward(x, h0[k], c0_k,",
     "direction_forward(x, h0[0], c0_k,"),
    ("every deep layer with layer 0's weights", "c0_k, layer_weights(weights, k),",
     "c0_k, layer_weights(weights, 0),"),
    ("a stack's h_n rows of the wrong layer", "j = slice(k * dirs, (k + 1) * dirs)", "j = slice(k, k + dirs)"),
    ("one_layer keeps only the forward direction", 'for suffix in ("", "_reverse"):', 'for suffix in ("",):'),
    ("dropout after the last layer too", "if k < num_layers - 1:", "if k < num_layers:"),
    ("dropout in evaluation too", "if not training or p == 0:", "if p == 0:"),
    ("dropout without rescaling", "< 1.0 - p) / (1.0 - p)", "< 1.0 - p) * 1.0"),
    ("batch_first masks not transposed", "mask = mask.swapaxes(0, 1)", "mask = mask"),
    ("final states of the first layer", "last = by_layer[-1]", "last = by_layer[0]"),
    ("final states read direction-major", "h_n.reshape((num_layers, dirs) + h_n.shape[1:])  # h_n.view",
     "h_n.reshape((dirs, num_layers) + h_n.shape[1:]).swapaxes(0, 1)  # h_n.view"),
    ("final states' directions swapped", "return last[0], (last[1] if", "return last[-1], (last[0] if"),
    ("h_n viewed direction-major", "return h_n.reshape((num_layers, dirs) + h_n.shape[1:])",
     "return h_n.reshape((dirs, num_layers) + h_n.shape[1:]).swapaxes(0, 1)"),
    ("residual added into layer 0 too", "if residual and k > 0:", "if residual and k >= 0 and y.shape == x.shape:"),
    ("one norm over the summed pre-activations", "a = (layer_norm(x_t @ W_ih.T, *ln_ih, eps)\n"
     "         + layer_norm(h_prev @ W_hh.T, *ln_hh, eps) + b)",
     "a = (layer_norm(x_t @ W_ih.T + h_prev @ W_hh.T, *ln_ih, eps) + b)"),
    ("cell state carried normalised", "c_next = f * c_prev + i * g\n    h_next = o * np.tanh(layer_norm(c_next, *ln_c",
     "c_next = layer_norm(f * c_prev + i * g, *ln_c, eps)\n    h_next = o * np.tanh(layer_norm(c_next, *ln_c"),
    ("layer norm with the unbiased variance", "var = z.var(axis=-1, keepdims=True)",
     "var = z.var(axis=-1, keepdims=True, ddof=1)"),
    ("eps outside the square root", "np.sqrt(var + eps)", "(np.sqrt(var) + eps)"),
]


def _parity_failures(torch, module_dict):
    """The comparisons above, once each, on a mutated copy of solutions.stacks; names what failed."""
    m = types.SimpleNamespace(**module_dict)
    failures = []
    T, N, D, H, L, p = 5, 3, 4, 6, 3, 0.4
    configs = [("lstm", None, 3, True, False), ("gru", None, 2, True, True), ("rnn", "relu", 2, False, False)]
    for cell, nonlinearity, layers, bidirectional, batch_first in configs:
        try:
            module = _module(torch, cell, nonlinearity, D, H, seed=40, num_layers=layers,
                             bidirectional=bidirectional, batch_first=batch_first)
            x, h0, c0 = _problem(40, T, N, D, H, layers, 2 if bidirectional else 1, batch_first)
            _assert_same(_run_mine(m, cell, nonlinearity, _state_dict(module), x, h0, c0, layers, bidirectional,
                                   batch_first), _run_torch(torch, module, cell, x, h0, c0))
            if bidirectional:
                h_n = _run_torch(torch, module, cell, x, h0, c0)[1]
                view = torch.from_numpy(h_n).view(layers, 2, N, H).numpy()
                forward, backward = m.final_states(h_n, layers, True)
                assert np.array_equal(forward, view[-1, 0]) and np.array_equal(backward, view[-1, 1])
                assert np.array_equal(m.states_by_layer(h_n, layers, True), view)
        except Exception as error:  # a mutant may also crash
            failures.append(f"{cell}: {type(error).__name__}: {str(error)[:80]}")
    for cell, nonlinearity, layers, bidirectional in [("lstm", None, 3, True), ("rnn", "tanh", 3, False),
                                                      ("gru", None, 2, True), ("lstm", None, 2, False)]:
        try:  # the exercise's stacks, time-major
            module = _module(torch, cell, nonlinearity, 5, 5, seed=42, num_layers=layers,
                             bidirectional=bidirectional)  # D = H: x fed to every layer fits
            x, h0, c0 = _problem(42, T, N, 5, 5, layers, 2 if bidirectional else 1, False)
            _assert_same(_run_exercise_stack(m, cell, nonlinearity, _state_dict(module), x, h0, c0, layers,
                                             bidirectional), _run_torch(torch, module, cell, x, h0, c0))
        except Exception as error:
            failures.append(f"exercise {cell}: {type(error).__name__}: {str(error)[:80]}")
    for batch_first in (False, True):
        try:  # dropout in training with torch's masks, then in evaluation
            module = _module(torch, "lstm", None, D, H, seed=41, num_layers=L, bidirectional=True, dropout=p,
                             batch_first=batch_first)
            x, h0, c0 = _problem(41, T, N, D, H, L, 2, batch_first)
            out, (h_n, _) = m.stack_forward(x, h0, _state_dict(module), "lstm", L, True, batch_first, c0,
                                            dropout=p, rng=np.random.default_rng(0))
            last = out.swapaxes(0, 1)[-1] if batch_first else out[-1]
            assert np.array_equal(last[:, :H], h_n[-2]), "the last layer's output was dropped"
            torch.manual_seed(5)
            expected = _run_torch(torch, module.train(), "lstm", x, h0, c0)
            masks = _torch_masks(torch, 5, (T, N, 2 * H), p, L - 1)
            masks = [mk.swapaxes(0, 1) for mk in masks] if batch_first else masks
            _assert_same(_run_mine(m, "lstm", None, _state_dict(module), x, h0, c0, L, True, batch_first,
                                   dropout=p, masks=masks), expected)
            _assert_same(_run_mine(m, "lstm", None, _state_dict(module), x, h0, c0, L, True, batch_first,
                                   dropout=p, training=False, masks=masks),
                         _run_torch(torch, module.eval(), "lstm", x, h0, c0))
            mask = m.dropout_mask((1000,), p, np.random.default_rng(0))
            assert set(np.unique(mask)) == {0.0, 1 / (1 - p)}
        except Exception as error:
            failures.append(f"dropout: {type(error).__name__}: {str(error)[:80]}")
    try:  # residual connections, with D = 2H so that a wrong residual into layer 0 would fit
        weights = stacks.stack_weights(2 * 3, 3, "gru", 2, True, rng=np.random.default_rng(6))
        x, h0, _ = _problem(6, T, N, 6, 3, 2, 2, False)
        _assert_same(_run_mine(m, "gru", None, weights, x, h0, None, 2, True, False, residual=True),
                     _torch_layer_by_layer(torch, "gru", None, weights, x, h0, None, 2, residual=True))
    except Exception as error:
        failures.append(f"residual: {type(error).__name__}: {str(error)[:80]}")
    try:  # the layer-normalised LSTM
        params = _ln_params(8, D, H)
        rng = np.random.default_rng(8)
        x, h0, c0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
        (out, (h_n, c_n)), _ = m.ln_lstm_forward(x, h0, c0, params)
        _assert_same((out, h_n, c_n), _torch_ln_lstm(torch, x, h0, c0, params, 1e-5))
    except Exception as error:
        failures.append(f"layer norm: {type(error).__name__}: {str(error)[:80]}")
    return failures


def test_the_reference_passes_the_mutation_harness(torch):
    assert _parity_failures(torch, vars(stacks)) == []


@pytest.mark.parametrize("mistake, old, new", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_mutant_of_the_reference_is_caught(torch, mistake, old, new):
    assert SOURCE.count(old) == 1, f"the mutant {mistake!r} no longer applies to solutions/stacks.py"
    namespace = {"__name__": "stacks_mutant"}
    exec(compile(SOURCE.replace(old, new), "stacks_mutant.py", "exec"), namespace)
    assert _parity_failures(torch, namespace), f"{mistake} passes the checks"
