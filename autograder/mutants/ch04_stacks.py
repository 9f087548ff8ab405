"""Plausible mistakes and fair alternatives of chapter 4's exercise, as real student code (the mutation gate, autograder/mutation.py).

Each mutant is one mistake in one answer cell (the other cells keep the reference answer), written
as a student would type it: the reference with one edit (`edit`, which fails if the edit does
not apply) or a short function of its own. MUTANTS are in order of how common we expect the
mistake to be; the first half must be stopped by the visible self-check of the part where the
mistake is, with the words given in `visible`. FAIR are correct answers written another way:
each must get full marks and pass every visible self-check.
"""
from autograder.mutation import AnswerCells, Fair

DEEP = '''\
def deep_forward(x, h0, c0, weights, num_layers, cell="rnn",
                 nonlinearity="tanh"):
    h_n, c_n = [], []
    for k in range(num_layers):
        c0_k = None if c0 is None else c0[k]
        x, h, c = direction_forward(x, h0[k], c0_k, layer_weights(weights, k),
                                    cell, nonlinearity)
        h_n.append(h)
        c_n.append(c)
    return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)'''

BIDIRECTIONAL = '''\
def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn",
                          nonlinearity="tanh"):
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
    return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)'''

FINAL = '''\
def final_states(h_n, num_layers, bidirectional):
    dirs = 2 if bidirectional else 1
    by_layer = h_n.reshape((num_layers, dirs) + h_n.shape[1:])  # h_n.view
    last = by_layer[-1]  # (dirs, N, H): the last layer, forward first
    return last[0], (last[1] if bidirectional else None)'''

NORM = '''\
def layer_norm(z, gain, bias, eps=1e-5):
    mean = z.mean(axis=-1, keepdims=True)
    var = z.var(axis=-1, keepdims=True)
    return (z - mean) / np.sqrt(var + eps) * gain + bias'''

LN_STEP = '''\
def ln_lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b, ln_ih, ln_hh,
                         ln_c, eps=1e-5):
    a = (layer_norm(x_t @ W_ih.T, *ln_ih, eps)
         + layer_norm(h_prev @ W_hh.T, *ln_hh, eps) + b)  # (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # each (N, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(layer_norm(c_next, *ln_c, eps))
    return h_next, c_next, (x_t, h_prev, c_prev, (i, f, g, o), c_next)'''

P1, P2, P3, P4 = "test_deep_forward", "test_bidirectional_forward", "test_final_states", "test_ln_lstm_step_forward"
CELLS = AnswerCells({"deep_forward": (DEEP, P1), "bidirectional_forward": (BIDIRECTIONAL, P2),
                     "final_states": (FINAL, P3), "layer_norm": (NORM, P4), "ln_lstm_step_forward": (LN_STEP, P4)})
_mutant, _written = CELLS.mutant, CELLS.written

DEEP_CALL = "x, h, c = direction_forward(x, h0[k], c0_k, layer_weights(weights, k),"
DEEP_RETURN = 'return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)'
SEQ = "seq = x if d == 0 else x[::-1]  # backward: read from T-1"
BACK = "outs.append(out if d == 0 else out[::-1])  # back to x's time"
CONCAT = "x = np.concatenate(outs, axis=-1)  # (T, N, 2H)"
A_LN = ("a = (layer_norm(x_t @ W_ih.T, *ln_ih, eps)\n"
        "         + layer_norm(h_prev @ W_hh.T, *ln_hh, eps) + b)  # (N, 4H)")
H_LN = "h_next = o * np.tanh(layer_norm(c_next, *ln_c, eps))"

DIRECTION_MAJOR = '''\
def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn",
                          nonlinearity="tanh"):
    h_fwd, h_bwd, c_fwd, c_bwd = [], [], [], []
    for k in range(num_layers):
        c0_f = None if c0 is None else c0[2 * k]
        c0_b = None if c0 is None else c0[2 * k + 1]
        out_f, h, c = direction_forward(x, h0[2 * k], c0_f,
                                        layer_weights(weights, k), cell,
                                        nonlinearity)
        h_fwd.append(h)
        c_fwd.append(c)
        out_b, h, c = direction_forward(x[::-1], h0[2 * k + 1], c0_b,
                                        layer_weights(weights, k, True), cell,
                                        nonlinearity)
        h_bwd.append(h)
        c_bwd.append(c)
        x = np.concatenate([out_f, out_b[::-1]], axis=-1)
    c_n = np.stack(c_fwd + c_bwd) if cell == "lstm" else None
    return x, np.stack(h_fwd + h_bwd), c_n'''

FORWARD_HALF_ONLY = '''\
def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn",
                          nonlinearity="tanh"):
    h_n, c_n = [], []
    for k in range(num_layers):
        outs = []
        for d in range(2):
            c0_j = None if c0 is None else c0[2 * k + d]
            seq = x if d == 0 else x[::-1]
            out, h, c = direction_forward(seq, h0[2 * k + d], c0_j,
                                          layer_weights(weights, k, d == 1),
                                          cell, nonlinearity)
            outs.append(out if d == 0 else out[::-1])
            h_n.append(h)
            c_n.append(c)
        output = np.concatenate(outs, axis=-1)
        x = outs[0]  # the next layer reads this layer's output
    return output, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)'''

FIRST_LAYER_OUTPUT = '''\
def deep_forward(x, h0, c0, weights, num_layers, cell="rnn",
                 nonlinearity="tanh"):
    outputs, h_n, c_n = [], [], []
    inp = x
    for k in range(num_layers):
        out, h, c = direction_forward(inp, h0[k],
                                      None if c0 is None else c0[k],
                                      layer_weights(weights, k), cell,
                                      nonlinearity)
        outputs.append(out)
        h_n.append(h)
        c_n.append(c)
        inp = out
    return outputs[0], np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)'''

PER_GATE = '''\
def ln_lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b, ln_ih, ln_hh,
                         ln_c, eps=1e-5):
    H = h_prev.shape[1]
    a = b.copy() * np.ones((len(x_t), 4 * H))
    for k in range(4):  # normalise each gate's block
        rows = slice(k * H, (k + 1) * H)
        a[:, rows] += layer_norm(x_t @ W_ih[rows].T, ln_ih[0][rows], ln_ih[1][rows], eps)
        a[:, rows] += layer_norm(h_prev @ W_hh[rows].T, ln_hh[0][rows], ln_hh[1][rows], eps)
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(layer_norm(c_next, *ln_c, eps))
    return h_next, c_next, (x_t, h_prev, c_prev, (i, f, g, o), c_next)'''

MUTANTS = [  # most common first: the first half must be stopped by a visible self-check
    _mutant("deep: every layer reads x", "deep_forward",
            [(DEEP_CALL, "out, h, c = direction_forward(x, h0[k], c0_k, layer_weights(weights, k),"),
             (DEEP_RETURN, 'return out, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)')],
            "every layer reads x"),
    _written("bidirectional: h_n direction-major (all forward, then all backward)", "bidirectional_forward",
             DIRECTION_MAJOR, "direction-major"),
    _mutant("bidirectional: backward outputs not reversed back", "bidirectional_forward",
            [(BACK, "outs.append(out)")], "not reversed back"),
    _mutant("final_states: directions swapped (h_n[-1] as forward)", "final_states",
            [("return last[0], (last[1] if bidirectional else None)",
              "return last[-1], (last[0] if bidirectional else None)")], "directions are swapped"),
    _mutant("LN-LSTM: one norm over the summed pre-activations", "ln_lstm_step_forward",
            [(A_LN, "a = layer_norm(x_t @ W_ih.T + h_prev @ W_hh.T, *ln_ih, eps) + b")],
            "summed and then normalised once"),
    _mutant("layer_norm over the batch axis (batch norm)", "layer_norm",
            [("mean = z.mean(axis=-1, keepdims=True)\n    var = z.var(axis=-1, keepdims=True)",
              "mean = z.mean(axis=0, keepdims=True)\n    var = z.var(axis=0, keepdims=True)")], "over the batch"),
    _mutant("deep: every layer starts from h0[0]", "deep_forward",
            [("c0_k = None if c0 is None else c0[k]", "c0_k = None if c0 is None else c0[0]"),
             ("direction_forward(x, h0[k], c0_k,", "direction_forward(x, h0[0], c0_k,")],
            "every layer starts from h0[0]"),
    _mutant("bidirectional: the backward direction reads x forwards (no reversal)", "bidirectional_forward",
            [(SEQ, "seq = x"), (BACK, "outs.append(out)")], "reads x forwards"),
    _mutant("bidirectional: backward final state taken from output[-1]", "bidirectional_forward",
            [(BACK + "\n            h_n.append(h)", BACK + "\n            h_n.append(outs[-1][-1])")],
            "taken from output[-1]"),
    _mutant("LN-LSTM: the cell state not normalised in the output", "ln_lstm_step_forward",
            [(H_LN, "h_next = o * np.tanh(c_next)")], "not normalised in the output"),
    _mutant("deep: layer 0's weights in every layer", "deep_forward",
            [("layer_weights(weights, k),", "layer_weights(weights, 0),")], "layer 0's weights"),
    _written("bidirectional: the next layer reads the forward half only", "bidirectional_forward",
             FORWARD_HALF_ONLY, "both directions concatenated"),
    _mutant("LN-LSTM: W_hh h not normalised", "ln_lstm_step_forward",
            [(A_LN, "a = (layer_norm(x_t @ W_ih.T, *ln_ih, eps)\n         + h_prev @ W_hh.T + b)")],
            "W_hh h is not normalised"),
    _mutant("LN-LSTM: the cell state carried normalised", "ln_lstm_step_forward",
            [("c_next = f * c_prev + i * g\n    " + H_LN,
              "c_next = layer_norm(f * c_prev + i * g, *ln_c, eps)\n    h_next = o * np.tanh(c_next)")],
            "carried normalised"),
    _mutant("layer_norm with the unbiased variance (ddof=1)", "layer_norm",
            [("var = z.var(axis=-1, keepdims=True)", "var = z.var(axis=-1, keepdims=True, ddof=1)")], "unbiased"),
    _mutant("final_states: h_n read direction-major", "final_states",
            [("by_layer = h_n.reshape((num_layers, dirs) + h_n.shape[1:])",
              "by_layer = h_n.reshape((dirs, num_layers) + h_n.shape[1:]).swapaxes(0, 1)")], "direction-major"),
    _mutant("bidirectional: directions concatenated backward first", "bidirectional_forward",
            [(CONCAT, "x = np.concatenate(outs[::-1], axis=-1)")], "concatenated backward first"),
    _written("deep: the first layer's output returned", "deep_forward", FIRST_LAYER_OUTPUT,
             "output is the first layer's"),
    _written("LN-LSTM: each gate normalised apart", "ln_lstm_step_forward", PER_GATE, "normalised apart"),
    _mutant("bidirectional: the backward direction with the forward weights", "bidirectional_forward",
            [("w = layer_weights(weights, k, reverse=d == 1)", "w = layer_weights(weights, k)")],
            "forward direction's weights"),
    _mutant("layer_norm: eps added to the standard deviation", "layer_norm",
            [("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")], "added to the standard deviation"),
    _mutant("final_states: the first layer's states", "final_states",
            [("last = by_layer[-1]", "last = by_layer[0]")], "first layer's final states"),
    _mutant("deep: h_n lists the layers last first", "deep_forward",
            [("        h_n.append(h)\n        c_n.append(c)", "        h_n.insert(0, h)\n        c_n.insert(0, c)")],
            "last first"),
    _mutant("bidirectional: both directions start from h0[2k]", "bidirectional_forward",
            [("out, h, c = direction_forward(seq, h0[j], c0_j,",
              "out, h, c = direction_forward(seq, h0[2 * k], c0_j,"),
             ("c0_j = None if c0 is None else c0[j]", "c0_j = None if c0 is None else c0[2 * k]")],
            "both directions start from h0[2k]"),
    _mutant("LN-LSTM: the bias b left out", "ln_lstm_step_forward",
            [("*ln_hh, eps) + b)  # (N, 4H)", "*ln_hh, eps))  # (N, 4H)")], "bias b is missing"),
    _mutant("LN-LSTM: the norms' parameters swapped", "ln_lstm_step_forward",
            [(A_LN, "a = (layer_norm(x_t @ W_ih.T, *ln_hh, eps)\n"
                    "         + layer_norm(h_prev @ W_hh.T, *ln_ih, eps) + b)")], "parameters are swapped"),
    _mutant("deep: nonlinearity not passed on", "deep_forward",
            [("                                    cell, nonlinearity)", "                                    cell)")],
            "nonlinearity is ignored"),
    _mutant("bidirectional: every layer reads x", "bidirectional_forward",
            [(CONCAT, "y = np.concatenate(outs, axis=-1)"),
             ("    return x, np.stack(h_n)", "    return y, np.stack(h_n)")], "every layer reads x"),
    _written("final_states: bidirectional=False ignored (h_n[-2], h_n[-1])", "final_states",
             "def final_states(h_n, num_layers, bidirectional):\n    return h_n[-2], h_n[-1]",
             "bidirectional=False"),
    _mutant("layer_norm: gain and bias not applied", "layer_norm",
            [(" * gain + bias", "")], "gain and bias are not applied"),
    _mutant("LN-LSTM: the norm after the tanh", "ln_lstm_step_forward",
            [(H_LN, "h_next = o * layer_norm(np.tanh(c_next), *ln_c, eps)")], "norm is applied after the tanh"),
    _mutant("bidirectional: c_n None for an LSTM", "bidirectional_forward",
            [('return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)',
              "return x, np.stack(h_n), None")], "c_n is None for an LSTM"),
    _mutant("deep: c_n None for an LSTM", "deep_forward", [(DEEP_RETURN, "return x, np.stack(h_n), None")],
            "c_n is None for an LSTM"),
    _mutant("bidirectional: reads x forwards, only the outputs reversed", "bidirectional_forward",
            [(SEQ, "seq = x")], "only its outputs are reversed"),
    _mutant("LN-LSTM: b inside the first norm", "ln_lstm_step_forward",
            [(A_LN, "a = (layer_norm(x_t @ W_ih.T + b, *ln_ih, eps)\n"
                    "         + layer_norm(h_prev @ W_hh.T, *ln_hh, eps))")], "b is inside the first norm"),
    _mutant("deep: h_n and c_n swapped", "deep_forward",
            [(DEEP_RETURN, 'return x, (np.stack(c_n) if cell == "lstm" else None), np.stack(h_n)')],
            "swapped", visible=False),
]

# ----------------------------------------------------------------------------- fair alternatives
FAIR = [
    Fair("deep: preallocated arrays, an explicit input variable, keywords", {
        "deep_forward": '''\
def deep_forward(x, h0, c0, weights, num_layers, cell="rnn",
                 nonlinearity="tanh"):
    h_n = np.empty(h0.shape)
    c_n = np.empty(h0.shape) if cell == "lstm" else None
    layer_input = x
    for k in range(num_layers):
        out, h_last, c_last = direction_forward(
            x=layer_input, h0=h0[k], c0=None if c_n is None else c0[k],
            w=layer_weights(weights, layer=k), cell=cell,
            nonlinearity=nonlinearity)
        h_n[k] = h_last
        if c_n is not None:
            c_n[k] = c_last
        layer_input = out
    return layer_input, h_n, c_n''',
    }),
    Fair("deep: recursion over the layers, np.array of lists", {
        "deep_forward": '''\
def deep_forward(x, h0, c0, weights, num_layers, cell="rnn",
                 nonlinearity="tanh", _k=0):
    if _k == num_layers:
        return x, [], []
    w = layer_weights(weights, _k)
    out, h, c = direction_forward(x, h0[_k], c0[_k] if cell == "lstm" else None, w, cell, nonlinearity)
    y, hs, cs = deep_forward(out, h0, c0, weights, num_layers, cell, nonlinearity, _k + 1)
    if _k > 0:
        return y, [h] + hs, [c] + cs
    return y, np.array([h] + hs), (np.array([c] + cs) if cell == "lstm" else None)''',
    }),
    Fair("bidirectional: the backward direction as its own time loop from T-1 down, no reversal", {
        "bidirectional_forward": '''\
def _step(x_t, h, c, w, cell, nonlinearity):
    if cell == "lstm":
        h, c, _ = lstm_step_forward(x_t, h, c, *w)
        return h, c
    h, _ = rnn_step_forward(x_t, h, *w, nonlinearity)
    return h, None

def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn",
                          nonlinearity="tanh"):
    T = len(x)
    h_n, c_n = [], []
    for k in range(num_layers):
        halves = []
        for d in (0, 1):
            w = layer_weights(weights, k, reverse=bool(d))
            h, c = h0[2 * k + d], (c0[2 * k + d] if c0 is not None else None)
            out = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                h, c = _step(x[t], h, c, w, cell, nonlinearity)
                out[t] = h
            halves.append(np.stack(out))
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(halves, axis=2)
    return x, np.stack(h_n), (np.stack(c_n) if cell == "lstm" else None)''',
    }),
    Fair("bidirectional: np.flip, h_n preallocated and filled by index", {
        "bidirectional_forward": '''\
def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn",
                          nonlinearity="tanh"):
    h_n = np.zeros_like(h0)
    c_n = np.zeros_like(h0) if cell == "lstm" else None
    for layer in range(num_layers):
        fwd, h_f, c_f = direction_forward(
            x, h0[2 * layer], None if c_n is None else c0[2 * layer],
            layer_weights(weights, layer), cell, nonlinearity)
        bwd, h_b, c_b = direction_forward(
            np.flip(x, axis=0), h0[2 * layer + 1],
            None if c_n is None else c0[2 * layer + 1],
            layer_weights(weights, layer, reverse=True), cell, nonlinearity)
        h_n[2 * layer], h_n[2 * layer + 1] = h_f, h_b
        if c_n is not None:
            c_n[2 * layer], c_n[2 * layer + 1] = c_f, c_b
        x = np.dstack([fwd, np.flip(bwd, axis=0)])
    return x, h_n, c_n''',
    }),
    Fair("final_states: index arithmetic", {
        "final_states": '''\
def final_states(h_n, num_layers, bidirectional):
    if bidirectional:
        return h_n[2 * num_layers - 2], h_n[2 * num_layers - 1]
    return h_n[num_layers - 1], None''',
    }),
    Fair("final_states: negative indices, a tuple built once", {
        "final_states": '''\
def final_states(h_n, num_layers, bidirectional):
    forward = h_n[-2] if bidirectional else h_n[-1]
    backward = h_n[-1] if bidirectional else None
    return (forward.copy(), None if backward is None else backward.copy())''',
    }),
    Fair("layer_norm by sums, ln step with einsum and slices", {
        "layer_norm": '''\
def layer_norm(z, gain, bias, eps=1e-5):
    M = z.shape[-1]
    mu = z.sum(axis=-1, keepdims=True) / M
    centred = z - mu
    sigma2 = (centred * centred).sum(axis=-1, keepdims=True) / M
    return gain * centred / np.sqrt(sigma2 + eps) + bias''',
        "ln_lstm_step_forward": '''\
def ln_lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b, ln_ih, ln_hh,
                         ln_c, eps=1e-5):
    H = h_prev.shape[1]
    a = (layer_norm(np.einsum("nd,gd->ng", x_t, W_ih), ln_ih[0], ln_ih[1], eps=eps)
         + layer_norm(np.einsum("nk,gk->ng", h_prev, W_hh), ln_hh[0], ln_hh[1], eps=eps) + b)
    i, f, o = (1 / (1 + np.exp(-a[:, s * H:(s + 1) * H])) for s in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    return o * np.tanh(layer_norm(c, ln_c[0], ln_c[1], eps=eps)), c, None''',
    }),
    Fair("layer_norm with np.std and float64; ln step with a helper and keyword arguments", {
        "layer_norm": '''\
def layer_norm(z, gain, bias, eps=1e-5):
    z = np.asarray(z, dtype=np.float64)
    mean = np.mean(z, axis=1, keepdims=True)
    std = np.sqrt(np.std(z, axis=1, keepdims=True) ** 2 + eps)
    return (z - mean) / std * gain + bias''',
        "ln_lstm_step_forward": '''\
def _normed(z, params, eps):
    gain, bias = params
    return layer_norm(z, gain=gain, bias=bias, eps=eps)

def ln_lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b, ln_ih, ln_hh,
                         ln_c, eps=1e-5):
    a = _normed(x_t @ W_ih.T, ln_ih, eps) + _normed(h_prev @ W_hh.T, ln_hh, eps) + b
    a_i, a_f, a_g, a_o = np.array_split(a, 4, axis=-1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_new = c_prev * f + g * i
    h_new = np.tanh(_normed(c_new, ln_c, eps)) * o
    return h_new, c_new, (x_t, h_prev, c_prev, (i, f, g, o), c_new)''',
    }),
    Fair("chapters 1 and 3's steps pasted with einsum and np.maximum", {
        "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    z = np.einsum("nd,hd->nh", x_t, W_ih) + np.einsum("nk,hk->nh", h_prev, W_hh) + b_ih + b_hh
    h_next = np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0.0)
    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)''',
        "lstm_step_forward": '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    a = np.einsum("nd,gd->ng", x_t, W_ih) + np.einsum("nk,gk->ng", h_prev, W_hh) + b_ih + b_hh
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)''',
    }),
]
