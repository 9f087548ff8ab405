"""Chapter 4: deep and bidirectional stacks of RNN, LSTM and GRU layers.

Shapes use one letter per dimension throughout the course:
N batch, T time steps, D input features, H hidden units, L layers.

A stack is torch.nn.RNN / LSTM / GRU with num_layers=L and, when
bidirectional, two directions per layer. Its weights are a dict named like
the module's state_dict, so

    weights = {k: v.detach().numpy() for k, v in module.state_dict().items()}

goes straight in: layer k's forward direction has weight_ih_l{k}
(G*H, D for k = 0, G*H, 2H or G*H, H after), weight_hh_l{k} (G*H, H),
bias_ih_l{k}, bias_hh_l{k} (G*H,), with G = 1 (RNN), 4 (LSTM), 3 (GRU);
its backward direction has the same names with the suffix _reverse.

Torch's layouts, which stack_forward returns exactly:
- output (T, N, 2H) when bidirectional, (T, N, H) if not ((N, T, ...)
  when batch_first): the last layer's hidden states, forward direction in
  output[..., :H], backward direction in output[..., H:];
- h_n, c_n (L*2, N, H) or (L, N, H), whatever batch_first says: every
  layer's final states, layer-major, direction-minor: h_n[2*k] is layer k
  forward, h_n[2*k + 1] layer k backward. The backward direction reads the
  sequence from t = T-1 down to 0, so its final state sits at output[0]
  and the forward one at output[-1].

Every line is at most 79 characters wide, for chapter 4's exercise.

Checks: against torch.nn.RNN / LSTM / GRU in float64 with rtol=1e-10, and
the layer-normalised LSTM cell against torch.nn.functional.layer_norm
(tests/test_stacks_reference.py).
"""
import numpy as np

from solutions.lstm import (gru_step_forward, lstm_step_forward,
                            rnn_param_count, sigmoid)
from solutions.rnn import rnn_step_forward

GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # G: weight blocks per cell type


# -------------------------------------------------------------------- weights
def layer_weights(weights, layer, reverse=False):
    """One layer's and one direction's weights out of a stack's dict.

    Inputs:
    - weights: dict named like torch's state_dict, e.g. weight_ih_l0,
      bias_hh_l1_reverse
    - layer: k, from 0 (the layer that reads x) to L - 1
    - reverse: the backward direction's weights (suffix _reverse)

    Returns a tuple (W_ih, W_hh, b_ih, b_hh): W_ih (G*H, D_k),
    W_hh (G*H, H), b_ih and b_hh (G*H,); zeros for biases a module made
    with bias=False does not have
    """
    name = f"_l{layer}" + ("_reverse" if reverse else "")
    W_ih, W_hh = weights["weight_ih" + name], weights["weight_hh" + name]
    zeros = np.zeros(W_hh.shape[0])
    return (W_ih, W_hh, weights.get("bias_ih" + name, zeros),
            weights.get("bias_hh" + name, zeros))


def one_layer(weights, layer):
    """Layer k's weights, both directions, renamed as a one-layer stack's.

    Inputs:
    - weights: dict named like torch's state_dict
    - layer: k

    Returns:
    - dict with the entries of layer k named _l0 (and _l0_reverse): what
      deep_forward or bidirectional_forward read with num_layers=1
    """
    renamed = {}
    for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        for suffix in ("", "_reverse"):
            name = f"{key}_l{layer}{suffix}"
            if name in weights:
                renamed[f"{key}_l0{suffix}"] = weights[name]
    return renamed


def stack_weights(D, H, cell="lstm", num_layers=1, bidirectional=False,
                  rng=None):
    """Random weights for a stack, named and drawn as torch initialises them.

    Inputs:
    - D: input features; H: hidden units
    - cell: "rnn", "lstm" or "gru"
    - num_layers: L; bidirectional: two directions per layer
    - rng: a numpy Generator (seeded, for results that repeat)

    Returns:
    - weights: dict in state_dict's order, every entry drawn uniformly from
      (-1/sqrt(H), 1/sqrt(H)); layers after the first read D_k = 2H
      features when bidirectional, H if not
    """
    rng = np.random.default_rng(0) if rng is None else rng
    G, k = GATES[cell], 1.0 / np.sqrt(H)
    dirs = 2 if bidirectional else 1
    weights = {}
    for layer in range(num_layers):
        D_k = D if layer == 0 else dirs * H
        for suffix in ["", "_reverse"][:dirs]:
            name = f"_l{layer}" + suffix
            shapes = {"weight_ih": (G * H, D_k), "weight_hh": (G * H, H),
                      "bias_ih": (G * H,), "bias_hh": (G * H,)}
            for key, shape in shapes.items():
                weights[key + name] = rng.uniform(-k, k, size=shape)
    return weights


# ----------------------------------------------------------------- directions
def direction_forward(x, h0, c0, w, cell="rnn", nonlinearity="tanh"):
    """Run one layer's cell over a sequence, from t = 0 to T - 1.

    Inputs:
    - x: input sequence, shape (T, N, D_k), time-major
    - h0: initial hidden states, shape (N, H)
    - c0: initial cell states, shape (N, H), for an LSTM (else None)
    - w: (W_ih, W_hh, b_ih, b_hh) of this layer and direction
    - cell: "rnn" (chapter 1), "lstm" or "gru" (chapter 3)
    - nonlinearity: "tanh" or "relu", for cell="rnn"

    Returns a tuple of:
    - out: hidden states at every step, shape (T, N, H)
    - h_n: the last hidden states, shape (N, H), equal to out[-1]
    - c_n: the last cell states, shape (N, H), for an LSTM (else None)
    """
    if cell not in ("rnn", "lstm", "gru"):
        raise ValueError(f"unknown cell {cell!r}: use 'rnn', 'lstm', 'gru'")
    h, c, hs = h0, c0, []
    for x_t in x:
        if cell == "lstm":
            h, c, _ = lstm_step_forward(x_t, h, c, *w)
        elif cell == "gru":
            h, _ = gru_step_forward(x_t, h, *w)
        else:
            h, _ = rnn_step_forward(x_t, h, *w, nonlinearity)
        hs.append(h)
    return np.stack(hs), h, c


def reverse_forward(x, h0, c0, w, cell="rnn", nonlinearity="tanh"):
    """The backward direction: run the cell over the time-reversed input,
    then reverse its outputs back, so that out[t] belongs to x[t].

    Inputs: as direction_forward

    Returns a tuple of:
    - out: shape (T, N, H), out[t] has read x[T-1], ..., x[t]
    - h_n: the final hidden states, after reading x[0]: equal to out[0],
      not out[-1]
    - c_n: the final cell states for an LSTM (else None)
    """
    out, h_n, c_n = direction_forward(x[::-1], h0, c0, w, cell,
                                      nonlinearity)
    return out[::-1], h_n, c_n


def concat_directions(out_fwd, out_bwd):
    """A bidirectional layer's output: both directions side by side.

    Inputs:
    - out_fwd, out_bwd: shape (T, N, H) each, aligned in time

    Returns:
    - out: shape (T, N, 2H), forward first: out[..., :H] is out_fwd; this
      is the next layer's input
    """
    return np.concatenate([out_fwd, out_bwd], axis=-1)


# ------------------------------------------------------ deep, bidirectional
def deep_forward(x, h0, c0, weights, num_layers, cell="rnn",
                 nonlinearity="tanh"):
    """A unidirectional stack of num_layers layers (torch.nn.RNN / LSTM /
    GRU with num_layers=L): layer k + 1 reads layer k's outputs.

    Inputs:
    - x: input sequence, shape (T, N, D), time-major
    - h0: initial hidden states, shape (L, N, H), h0[k] for layer k
    - c0: initial cell states, shape (L, N, H), for an LSTM (else None)
    - weights: dict named like torch's state_dict: weight_ih_l{k}
      (G*H, D for k = 0, G*H, H after), weight_hh_l{k} (G*H, H),
      bias_ih_l{k}, bias_hh_l{k} (G*H,); layer_weights picks one layer's
    - num_layers: L
    - cell: "rnn", "lstm" or "gru"; nonlinearity: "tanh" or "relu" (rnn)

    Returns a tuple of:
    - output: the last layer's hidden states, shape (T, N, H)
    - h_n: every layer's final hidden states, shape (L, N, H)
    - c_n: every layer's final cell states, shape (L, N, H), for an LSTM
      (else None)
    """
    h_n, c_n = [], []
    for k in range(num_layers):
        c0_k = None if c0 is None else c0[k]
        x, h, c = direction_forward(x, h0[k], c0_k, layer_weights(weights, k),
                                    cell, nonlinearity)
        h_n.append(h)
        c_n.append(c)
    return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)


def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn",
                          nonlinearity="tanh"):
    """A bidirectional stack (torch's bidirectional=True): in every layer a
    forward direction reads t = 0 .. T-1 and a backward direction, with its
    own weights, reads t = T-1 .. 0; their outputs, aligned in time, are
    concatenated (forward first) and layer k + 1 reads them.

    Inputs:
    - x: input sequence, shape (T, N, D), time-major
    - h0: initial hidden states, shape (2L, N, H), in h_n's order
    - c0: initial cell states, shape (2L, N, H), for an LSTM (else None)
    - weights: dict named like torch's state_dict; the backward
      direction's names end in _reverse; layer k >= 1 reads 2H features
    - num_layers: L
    - cell: "rnn", "lstm" or "gru"; nonlinearity: "tanh" or "relu" (rnn)

    Returns a tuple of:
    - output: the last layer's outputs, shape (T, N, 2H): output[t, :, :H]
      forward (has read x[0..t]), output[t, :, H:] backward (x[t..T-1])
    - h_n: final hidden states, shape (2L, N, H), layer-major and
      direction-minor: h_n[2k] layer k forward, h_n[2k + 1] backward
    - c_n: final cell states, shape (2L, N, H) in the same order, for an
      LSTM (else None)
    """
    h_n, c_n = [], []
    for k in range(num_layers):
        outs = []
        for d in range(2):  # 0 forward, 1 backward
            j = 2 * k + d  # layer-major, direction-minor, as torch
            c0_j = None if c0 is None else c0[j]
            w = layer_weights(weights, k, reverse=d == 1)
            seq = x if d == 0 else x[::-1]  # backward: read from T-1
            out, h, c = direction_forward(seq, h0[j], c0_j, w, cell,
                                          nonlinearity)
            outs.append(out if d == 0 else out[::-1])  # back to x's time
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outs, axis=-1)  # (T, N, 2H)
    return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)


# -------------------------------------------------------- between the layers
def dropout_mask(shape, p, rng):
    """torch's inverted dropout mask: each entry kept with probability
    1 - p and scaled by 1 / (1 - p), so that the mean is unchanged.

    Inputs:
    - shape: the shape of what is dropped, e.g. (T, N, 2H)
    - p: the probability of dropping an entry, 0 <= p <= 1
    - rng: a numpy Generator

    Returns:
    - mask: shape `shape`, entries 0 or 1 / (1 - p) (all 0 when p = 1)
    """
    if p == 1:
        return np.zeros(shape)
    return (rng.random(shape) < 1.0 - p) / (1.0 - p)


def layer_dropout(y, p, training=True, mask=None, rng=None):
    """Dropout on one layer's output, as torch applies it between layers.

    Inputs:
    - y: a layer's output, e.g. shape (T, N, 2H)
    - p: dropout probability; training: False turns dropout off (eval)
    - mask: entries 0 or 1 / (1 - p), shape of y (dropout_mask);
      a mask of ones is no dropout
    - rng: a numpy Generator to draw the mask with, when none is given

    Returns:
    - y * mask in training with p > 0, else y itself
    """
    if not training or p == 0:
        return y
    if mask is None:
        if rng is None:
            raise ValueError("dropout in training needs a mask or an rng")
        mask = dropout_mask(y.shape, p, rng)
    return y * mask


# ---------------------------------------------------------------------- stack
def stack_forward(x, h0, weights, cell="rnn", num_layers=1,
                  bidirectional=False, batch_first=False, c0=None,
                  nonlinearity="tanh", dropout=0.0, training=True,
                  masks=None, rng=None, residual=False):
    """A deep, optionally bidirectional stack: torch.nn.RNN / LSTM / GRU.

    Inputs:
    - x: input sequence, shape (T, N, D), or (N, T, D) when batch_first
    - h0: initial hidden states, shape (L*2, N, H) when bidirectional,
      else (L, N, H), in h_n's order; None for zeros
    - weights: dict named like the module's state_dict (layer_weights)
    - cell: "rnn", "lstm" or "gru"
    - num_layers: L; layer k + 1 reads layer k's output
    - bidirectional: a forward and a backward direction in every layer,
      their outputs concatenated, forward first
    - batch_first: layout of x and of output (not of h0, h_n, c_n)
    - c0: initial cell states for an LSTM, shape of h0; None for zeros
    - nonlinearity: "tanh" or "relu", for cell="rnn"
    - dropout, training: dropout with probability p = dropout on the
      output of every layer but the last, in training only (torch's)
    - masks: L - 1 dropout masks (dropout_mask), each shaped like
      output; or rng, a numpy Generator to draw them with
    - residual: add layer k's input to its output, for k >= 1 (not a
      torch.nn option: Wu et al. 2016's deep LSTMs); output then no
      longer contains the final states h_n

    Returns, as torch does (no cache: stacks have no backward here):
    - (output, h_n) for "rnn" and "gru", (output, (h_n, c_n)) for "lstm":
      output: the last layer's hidden states, shape (T, N, 2H) or
      (T, N, H), or (N, T, ...) when batch_first; h_n, c_n: every layer's
      and direction's final states, shape of h0, h_n[k*2 + d] for layer k
      and direction d (0 forward, 1 backward)
    """
    if batch_first:
        x = x.swapaxes(0, 1)  # (T, N, D)
    dirs = 2 if bidirectional else 1
    shape = (num_layers * dirs, x.shape[1], weights["weight_hh_l0"].shape[1])
    h0 = np.zeros(shape) if h0 is None else h0
    c0 = np.zeros(shape) if c0 is None and cell == "lstm" else c0
    run = bidirectional_forward if bidirectional else deep_forward
    h_n, c_n = [], []
    for k in range(num_layers):  # one layer at a time, for what goes between
        j = slice(k * dirs, (k + 1) * dirs)  # layer k's rows of h_n
        y, h, c = run(x, h0[j], None if c0 is None else c0[j],
                      one_layer(weights, k), 1, cell, nonlinearity)
        h_n.append(h)
        c_n.append(c)
        if residual and k > 0:
            y = y + x
        if k < num_layers - 1:
            mask = None if masks is None else masks[k]
            if mask is not None and batch_first:
                mask = mask.swapaxes(0, 1)
            y = layer_dropout(y, dropout, training, mask, rng)
        x = y  # the next layer's input
    output = x.swapaxes(0, 1) if batch_first else x
    if cell == "lstm":
        return output, (np.concatenate(h_n), np.concatenate(c_n))
    return output, np.concatenate(h_n)


# -------------------------------------------------------------- final states
def states_by_layer(h_n, num_layers, bidirectional):
    """torch's h_n.view(L, D, N, H): h_n with layers and directions apart.

    Inputs:
    - h_n (or c_n): shape (L*2, N, H) when bidirectional, else (L, N, H)
    - num_layers: L; bidirectional: two directions per layer

    Returns:
    - states: shape (L, 2, N, H) or (L, 1, N, H); states[k, d] is layer k,
      direction d (0 forward, 1 backward)
    """
    dirs = 2 if bidirectional else 1
    return h_n.reshape((num_layers, dirs) + h_n.shape[1:])


def final_states(h_n, num_layers, bidirectional):
    """The last layer's final states, what a classifier usually reads.

    Inputs:
    - h_n (or c_n): shape (L*2, N, H) when bidirectional, else (L, N, H)
    - num_layers: L; bidirectional: two directions per layer

    Returns a tuple of:
    - forward: shape (N, H), equal to output[-1, :, :H] (time-major): the
      forward direction has read the whole sequence at t = T - 1
    - backward: shape (N, H), equal to output[0, :, H:]: the backward
      direction has read the whole sequence at t = 0 (output[-1, :, H:]
      has read x[T-1] only); None when not bidirectional
    """
    dirs = 2 if bidirectional else 1
    by_layer = h_n.reshape((num_layers, dirs) + h_n.shape[1:])  # h_n.view
    last = by_layer[-1]  # (dirs, N, H): the last layer, forward first
    return last[0], (last[1] if bidirectional else None)


# ------------------------------------------------------------ parameter count
def stack_param_count(D, H, cell="lstm", num_layers=1, bidirectional=False,
                      bias=True):
    """Parameters of torch.nn.RNN / LSTM / GRU(D, H, num_layers, bias,
    bidirectional=...): sum(p.numel() for p in module.parameters()).

    Every direction of layer 0 reads D features, of later layers 2H when
    bidirectional (H if not); each has G times a vanilla RNN's weights.
    """
    G, dirs = GATES[cell], 2 if bidirectional else 1
    total = 0
    for k in range(num_layers):
        D_k = D if k == 0 else dirs * H
        total += dirs * G * (rnn_param_count(D_k, H) - (0 if bias else 2 * H))
    return total


# ------------------------------------------------- layer-normalised LSTM cell
def layer_norm(z, gain, bias, eps=1e-5):
    """Layer normalisation over the last axis (torch.nn.LayerNorm).

    Inputs:
    - z: shape (N, M), normalised over its M features, sequence by sequence
    - gain, bias: shape (M,)
    - eps: added to the variance, as torch does (the paper has none)

    Returns:
    - (z - mean) / sqrt(var + eps) * gain + bias, shape (N, M); mean and
      var (biased) of each row
    """
    mean = z.mean(axis=-1, keepdims=True)
    var = z.var(axis=-1, keepdims=True)
    return (z - mean) / np.sqrt(var + eps) * gain + bias


def ln_lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b, ln_ih, ln_hh,
                         ln_c, eps=1e-5):
    """One step of a layer-normalised LSTM: Ba, Kiros & Hinton (2016), the
    supplementary material's equations, in torch's gate order i, f, g, o
    (theirs is f, i, o, g; s is the logistic sigmoid):

        a  = LN(W_ih x; gain_ih, bias_ih) + LN(W_hh h; gain_hh, bias_hh) + b
        i, f, g, o = s(a_i), s(a_f), tanh(a_g), s(a_o)
        c' = f * c + i * g
        h' = o * tanh(LN(c'; gain_c, bias_c))

    The two pre-activations are normalised separately, each over all its 4H
    entries at once (some libraries normalise each gate's H entries apart);
    the cell state is normalised only inside the tanh: c' itself is carried
    to the next step. b is redundant with the norms' biases; the paper
    keeps it, and so does this cell.

    Inputs:
    - x_t: shape (N, D); h_prev, c_prev: shape (N, H)
    - W_ih: shape (4H, D); W_hh: shape (4H, H), no biases inside the norms
    - b: the gates' bias, shape (4H,)
    - ln_ih, ln_hh: (gain, bias) of each pre-activation's norm, each (4H,)
    - ln_c: (gain, bias) of the cell state's norm, each (H,)
    - eps: as in layer_norm

    Returns a tuple of:
    - h_next, c_next: shape (N, H)
    - cache: (x_t, h_prev, c_prev, (i, f, g, o), c_next)
    """
    a = (layer_norm(x_t @ W_ih.T, *ln_ih, eps)
         + layer_norm(h_prev @ W_hh.T, *ln_hh, eps) + b)  # (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # each (N, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(layer_norm(c_next, *ln_c, eps))
    return h_next, c_next, (x_t, h_prev, c_prev, (i, f, g, o), c_next)


def ln_lstm_forward(x, h0, c0, params, eps=1e-5):
    """Run a layer-normalised LSTM over a sequence.

    Inputs:
    - x: shape (T, N, D); h0, c0: shape (N, H)
    - params: dict with W_ih, W_hh, b, ln_ih, ln_hh, ln_c as in
      ln_lstm_step_forward (ln_lstm_params makes one)

    Returns a tuple of:
    - (out, (h_n, c_n)): out (T, N, H); h_n, c_n (N, H)
    - cache: list of the T step caches
    """
    h, c, hs, cache = h0, c0, [], []
    for x_t in x:
        h, c, step_cache = ln_lstm_step_forward(x_t, h, c, **params, eps=eps)
        hs.append(h)
        cache.append(step_cache)
    return (np.stack(hs), (h, c)), cache


def ln_lstm_params(D, H, rng=None):
    """Parameters of a layer-normalised LSTM: weights drawn as torch draws
    an LSTM's, gains 1 and biases 0 (torch.nn.LayerNorm's start).

    Returns:
    - params: dict for ln_lstm_forward: W_ih (4H, D), W_hh (4H, H),
      b (4H,), ln_ih and ln_hh ((4H,), (4H,)), ln_c ((H,), (H,))
    """
    rng = np.random.default_rng(0) if rng is None else rng
    k = 1.0 / np.sqrt(H)
    return {"W_ih": rng.uniform(-k, k, (4 * H, D)),
            "W_hh": rng.uniform(-k, k, (4 * H, H)), "b": np.zeros(4 * H),
            "ln_ih": (np.ones(4 * H), np.zeros(4 * H)),
            "ln_hh": (np.ones(4 * H), np.zeros(4 * H)),
            "ln_c": (np.ones(H), np.zeros(H))}


def ln_lstm_param_count(D, H):
    """Parameters of ln_lstm_params(D, H): an LSTM's weights, one bias
    (4H), and a gain and a bias for each of the three norms."""
    return 4 * H * (D + H) + 4 * H + 2 * (4 * H + 4 * H + H)
