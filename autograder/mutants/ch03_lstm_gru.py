"""Plausible mistakes and fair alternatives of chapter 3's exercise, as real student code (the mutation gate, autograder/mutation.py).

Each mutant is one mistake in one answer cell (the other cells keep the reference answer), written
as a student would type it: the reference with one edit (`edit`, which fails if the edit does
not apply) or a short function of its own. MUTANTS are in order of how common we expect the
mistake to be; the first half must be stopped by the visible self-check of the part where the
mistake is, with the words given in `visible`. FAIR are correct answers written another way:
each must get full marks and pass every visible self-check.
"""
from autograder.mutation import AnswerCells, Fair, edit

STEP = '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # each (N, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    cache = (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)
    return h_next, c_next, cache'''

SEQUENCE = '''\
def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, batch_first=False):
    if batch_first:
        x = x.transpose(1, 0, 2)  # (T, N, D)
    h, c, hs, cache = h0, c0, [], []
    for x_t in x:
        h, c, step_cache = (
            lstm_step_forward(x_t, h, c, W_ih, W_hh, b_ih, b_hh))
        hs.append(h)
        cache.append(step_cache)
    out = np.stack(hs)  # (T, N, H)
    if batch_first:
        out = out.transpose(1, 0, 2)  # (N, T, H)
    return (out, (h, c)), cache'''

BACKWARD = '''\
def lstm_step_backward(dh_next, dc_next, cache):
    x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next = cache
    tanh_c = np.tanh(c_next)
    dc = dc_next + dh_next * o * (1.0 - tanh_c ** 2)  # (N, H)
    da = np.concatenate([  # gradients of the pre-activations, (N, 4H)
        dc * g * i * (1.0 - i),
        dc * c_prev * f * (1.0 - f),
        dc * i * (1.0 - g ** 2),
        dh_next * tanh_c * o * (1.0 - o)], axis=1)
    return {"dx_t": da @ W_ih, "dh_prev": da @ W_hh, "dc_prev": dc * f,
            "dW_ih": da.T @ x_t, "dW_hh": da.T @ h_prev,
            "db_ih": da.sum(axis=0), "db_hh": da.sum(axis=0)}'''

GRU = '''\
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    H = h_prev.shape[1]
    a_x = x_t @ W_ih.T + b_ih  # (N, 3H)
    a_h = h_prev @ W_hh[:2 * H].T + b_hh[:2 * H]  # (N, 2H), for r and z
    r = sigmoid(a_x[:, :H] + a_h[:, :H])
    z = sigmoid(a_x[:, H:2 * H] + a_h[:, H:])
    if reset_after:
        a_hn = h_prev @ W_hh[2 * H:].T + b_hh[2 * H:]
        n = np.tanh(a_x[:, 2 * H:] + r * a_hn)
    else:
        a_hn = (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:]
        n = np.tanh(a_x[:, 2 * H:] + a_hn)
    h_next = (1.0 - z) * n + z * h_prev
    return h_next, (x_t, h_prev, W_ih, W_hh, (r, z, n), a_hn, reset_after)'''

P1, P2, P3, P4 = "test_lstm_step_forward", "test_lstm_forward", "test_lstm_step_backward", "test_gru_step_forward"
CELLS = AnswerCells({"lstm_step_forward": (STEP, P1), "lstm_forward": (SEQUENCE, P2), "lstm_step_backward": (BACKWARD, P3),
                     "gru_step_forward": (GRU, P4)})

_mutant, _written = CELLS.mutant, CELLS.written


SPLIT = "a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)"
ACTS = "i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)"
CELL = "c_next = f * c_prev + i * g"
HIDDEN = "h_next = o * np.tanh(c_next)"
DC = "dc = dc_next + dh_next * o * (1.0 - tanh_c ** 2)"
CALL = "lstm_step_forward(x_t, h, c, W_ih, W_hh, b_ih, b_hh))"
BACK_OUT = "    if batch_first:\n        out = out.transpose(1, 0, 2)  # (N, T, H)\n"
BACK_IN = "    if batch_first:\n        x = x.transpose(1, 0, 2)  # (T, N, D)\n"
MIX = "h_next = (1.0 - z) * n + z * h_prev"
N_AFTER = "n = np.tanh(a_x[:, 2 * H:] + r * a_hn)"
N_BEFORE = "n = np.tanh(a_x[:, 2 * H:] + a_hn)"
BIASES = '"db_ih": da.sum(axis=0), "db_hh": da.sum(axis=0)'

GRU_CHO_ALWAYS = '''\
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    H = h_prev.shape[1]
    a_x = x_t @ W_ih.T + b_ih
    a_h = h_prev @ W_hh[:2 * H].T + b_hh[:2 * H]
    r = sigmoid(a_x[:, :H] + a_h[:, :H])
    z = sigmoid(a_x[:, H:2 * H] + a_h[:, H:])
    n = np.tanh(a_x[:, 2 * H:] + (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:])
    return (1 - z) * n + z * h_prev, (x_t, h_prev, W_ih, W_hh, (r, z, n))'''

GRU_TORCH_ALWAYS = '''\
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    a_x = x_t @ W_ih.T + b_ih
    a_h = h_prev @ W_hh.T + b_hh
    x_r, x_z, x_n = np.split(a_x, 3, axis=1)
    h_r, h_z, h_n = np.split(a_h, 3, axis=1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev, (x_t, h_prev, W_ih, W_hh, (r, z, n))'''

MUTANTS = [  # most common first: the first half must be stopped by a visible self-check
    _mutant("LSTM gates read in CS231n's order i, f, o, g", "lstm_step_forward",
            [(SPLIT, "a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)")], "CS231n's order"),
    _mutant("no forget gate: c = i * g", "lstm_step_forward", [(CELL, "c_next = i * g")], "forget gate is missing"),
    _mutant("sigmoid on the candidate g", "lstm_step_forward", [("np.tanh(a_g)", "sigmoid(a_g)")],
            "g uses the sigmoid"),
    _mutant("tanh(c) missing in h: h = o * c", "lstm_step_forward", [(HIDDEN, "h_next = o * c_next")],
            "tanh(c) is missing"),
    _mutant("h from the old cell state: o * tanh(c_prev)", "lstm_step_forward",
            [(HIDDEN, "h_next = o * np.tanh(c_prev)")], "old cell state c_prev"),
    _mutant("lstm_forward: the cell state not carried (c0 at every step)", "lstm_forward",
            [(CALL, "lstm_step_forward(x_t, h, c0, W_ih, W_hh, b_ih, b_hh))")], "cell state is not carried"),
    _mutant("input and forget gates swapped", "lstm_step_forward",
            [(SPLIT, "a_f, a_i, a_g, a_o = np.split(a, 4, axis=1)")], "input and forget gates are swapped"),
    _mutant("backward: dc misses the path through h", "lstm_step_backward", [(DC, "dc = dc_next")],
            "misses the path through h"),
    _mutant("backward: dc_prev = dc (no forget gate)", "lstm_step_backward",
            [('"dc_prev": dc * f', '"dc_prev": dc')], "dc_prev misses the forget gate"),
    _written("GRU: reset before the product (Cho et al.) whatever reset_after says", "gru_step_forward",
             GRU_CHO_ALWAYS, "applied before the matrix product", visible="does not multiply b_hn"),
    _mutant("GRU: z and 1 - z swapped", "gru_step_forward", [(MIX, "h_next = z * n + (1.0 - z) * h_prev")],
            "z and 1 - z are swapped"),
    _mutant("LSTM: b_hh dropped", "lstm_step_forward",
            [("a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh", "a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T")],
            "b_hh is missing"),
    _mutant("tanh on the output gate", "lstm_step_forward", [("sigmoid(a_o)", "np.tanh(a_o)")],
            "output gate uses tanh"),
    _mutant("lstm_forward: out not transposed back with batch_first", "lstm_forward", [(BACK_OUT, "")],
            "not transposed back", visible="transpose it back"),
    _mutant("lstm_forward: batch_first ignored", "lstm_forward", [(BACK_IN, ""), (BACK_OUT, "")],
            "batch_first=True is ignored", visible="x has shape (N, T, D)"),
    _mutant("GRU: r and z swapped (Keras's z, r order)", "gru_step_forward",
            [("r = sigmoid(a_x[:, :H] + a_h[:, :H])", "r = sigmoid(a_x[:, H:2 * H] + a_h[:, H:])"),
             ("z = sigmoid(a_x[:, H:2 * H] + a_h[:, H:])", "z = sigmoid(a_x[:, :H] + a_h[:, :H])")],
            "r and z are swapped"),
    _written("GRU: torch's reset placement whatever reset_after says", "gru_step_forward", GRU_TORCH_ALWAYS,
             "reset_after=False is ignored"),
    _mutant("backward: tanh'(c) missing in dc", "lstm_step_backward", [(DC, "dc = dc_next + dh_next * o")],
            "tanh'(c_next) is missing"),
    _mutant("backward: da_f uses c_next", "lstm_step_backward",
            [("dc * c_prev * f * (1.0 - f)", "dc * c_next * f * (1.0 - f)")], "da_f uses c_next"),
    _mutant("lstm_forward: (c_n, h_n) returned", "lstm_forward",
            [("return (out, (h, c)), cache", "return (out, (c, h)), cache")], "h_n and c_n are swapped"),
    _mutant("backward: gate gradients stacked i, f, o, g", "lstm_step_backward",
            [("        dc * i * (1.0 - g ** 2),\n        dh_next * tanh_c * o * (1.0 - o)], axis=1)",
              "        dh_next * tanh_c * o * (1.0 - o),\n        dc * i * (1.0 - g ** 2)], axis=1)")],
            "stacked i, f, o, g"),
    _mutant("backward: da_o without tanh(c)", "lstm_step_backward",
            [("dh_next * tanh_c * o * (1.0 - o)", "dh_next * o * (1.0 - o)")], "da_o misses tanh(c_next)"),
    _written("GRU: b_hn outside the reset gate", "gru_step_forward", edit(
        GRU, ("a_hn = h_prev @ W_hh[2 * H:].T + b_hh[2 * H:]\n        n = np.tanh(a_x[:, 2 * H:] + r * a_hn)",
              "a_hn = h_prev @ W_hh[2 * H:].T\n        n = np.tanh(a_x[:, 2 * H:] + r * a_hn + b_hh[2 * H:])")),
             "b_hn is outside the reset gate", visible="does not multiply b_hn"),
    _written("LSTM gates read unit by unit (interleaved)", "lstm_step_forward", edit(
        STEP, (SPLIT, "a4 = a.reshape(len(a), -1, 4)\n    a_i, a_f, a_g, a_o = (a4[:, :, k] for k in range(4))")),
             "interleaved"),
    _mutant("lstm_forward: the hidden state not carried (h0 at every step)", "lstm_forward",
            [(CALL, "lstm_step_forward(x_t, h0, c, W_ih, W_hh, b_ih, b_hh))")], "hidden state is not carried"),
    _mutant("forget gate fixed at 1: c = c_prev + i * g", "lstm_step_forward",
            [(CELL, "c_next = c_prev + i * g")], "fixed at 1"),
    _mutant("backward: db summed over axis 1", "lstm_step_backward",
            [(BIASES, '"db_ih": da.sum(axis=1), "db_hh": da.sum(axis=1)')], "wrong axis", visible=False),
    _mutant("backward: dW_ih = x_t.T @ da (transposed)", "lstm_step_backward",
            [('"dW_ih": da.T @ x_t,', '"dW_ih": x_t.T @ da,')], "dW_ih is transposed", visible="transposed"),
    _mutant("backward: da_g with 1 - g", "lstm_step_backward", [("(1.0 - g ** 2)", "(1.0 - g)")],
            "da_g uses 1 - g"),
    _mutant("GRU: sigmoid on the candidate n", "gru_step_forward",
            [(N_AFTER, "n = sigmoid(a_x[:, 2 * H:] + r * a_hn)"), (N_BEFORE, "n = sigmoid(a_x[:, 2 * H:] + a_hn)")],
            "n uses the sigmoid"),
    _mutant("GRU: reset gate in the update too", "gru_step_forward",
            [(MIX, "h_next = (1.0 - z) * n + z * (r * h_prev)")], "in the update too"),
    _mutant("LSTM: the h_prev term dropped", "lstm_step_forward",
            [("a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh", "a = x_t @ W_ih.T + b_ih + b_hh")],
            "h_prev term is missing"),
    _mutant("cache holds the pre-activations", "lstm_step_forward",
            [("(i, f, g, o), c_next)", "(a_i, a_f, a_g, a_o), c_next)")], "pre-activations"),
    _mutant("lstm_forward: out includes h0", "lstm_forward",
            [("h, c, hs, cache = h0, c0, [], []", "h, c, hs, cache = h0, c0, [h0], []")], "out includes h0",
            visible=False),
    _mutant("backward: db averaged over the batch", "lstm_step_backward",
            [(BIASES, '"db_ih": da.mean(axis=0), "db_hh": da.mean(axis=0)')], "means over the batch",
            visible=False),
    _mutant("backward: db_hh left out (zero)", "lstm_step_backward",
            [(BIASES, '"db_ih": da.sum(axis=0), "db_hh": np.zeros(da.shape[1])')], "db_hh is missing"),
    _mutant("GRU: tanh on r and z", "gru_step_forward",
            [("r = sigmoid(", "r = np.tanh("), ("z = sigmoid(", "z = np.tanh(")], "r and z use tanh"),
    _mutant("backward: da_i without i * (1 - i)", "lstm_step_backward",
            [("dc * g * i * (1.0 - i),", "dc * g,")], "da_i misses"),
    _mutant("tanh on the gates i, f, o", "lstm_step_forward",
            [(ACTS, "i, f, g, o = np.tanh(a_i), np.tanh(a_f), np.tanh(a_g), np.tanh(a_o)")],
            "the gates i, f, o use tanh"),
    _mutant("backward: dc_next ignored", "lstm_step_backward", [(DC, "dc = dh_next * o * (1.0 - tanh_c ** 2)")],
            "dc_next is ignored"),
]

# ----------------------------------------------------------------------------- fair alternatives
FAIR = [
    Fair("einsum everywhere", {
        "lstm_step_forward": '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    a = np.einsum("nd,gd->ng", x_t, W_ih) + np.einsum("nk,gk->ng", h_prev, W_hh) + b_ih + b_hh
    H = h_prev.shape[1]
    i, f, o = (sigmoid(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H])
    c_next = np.einsum("nh,nh->nh", f, c_prev) + np.einsum("nh,nh->nh", i, g)
    h_next = np.einsum("nh,nh->nh", o, np.tanh(c_next))
    return h_next, c_next, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)''',
        "lstm_step_backward": '''\
def lstm_step_backward(dh_next, dc_next, cache):
    x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next = cache
    t = np.tanh(c_next)
    dc = dc_next + np.einsum("nh,nh->nh", dh_next, o * (1 - t * t))
    da = np.hstack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                    dh_next * t * o * (1 - o)])
    return {"dx_t": np.einsum("ng,gd->nd", da, W_ih), "dh_prev": np.einsum("ng,gk->nk", da, W_hh),
            "dc_prev": np.einsum("nh,nh->nh", dc, f), "dW_ih": np.einsum("ng,nd->gd", da, x_t),
            "dW_hh": np.einsum("ng,nk->gk", da, h_prev), "db_ih": np.einsum("ng->g", da),
            "db_hh": np.einsum("ng->g", da)}''',
    }),
    Fair("per-gate weight matrices by slicing, in a loop", {
        "lstm_step_forward": '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    gates = {}
    for k, name in enumerate("ifgo"):
        rows = slice(k * H, (k + 1) * H)
        pre = x_t @ W_ih[rows].T + h_prev @ W_hh[rows].T + b_ih[rows] + b_hh[rows]
        gates[name] = np.tanh(pre) if name == "g" else sigmoid(pre)
    i, f, g, o = gates["i"], gates["f"], gates["g"], gates["o"]
    c_next = f * c_prev + i * g
    return o * np.tanh(c_next), c_next, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)''',
    }),
    Fair("sigmoid through tanh, 0.5 * (1 + tanh(z / 2)); np.array_split", {
        "lstm_step_forward": '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    def s(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    a_i, a_f, a_g, a_o = np.array_split(x_t @ W_ih.T + h_prev @ W_hh.T + (b_ih + b_hh), 4, axis=-1)
    i, f, g, o = s(a_i), s(a_f), np.tanh(a_g), s(a_o)
    c = f * c_prev + i * g
    return o * np.tanh(c), c, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c)''',
    }),
    Fair("GRU: sigmoid as 1 / (1 + exp(-z)), one product of h_prev, h' = n + z (h - n)", {
        "gru_step_forward": '''\
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    H = h_prev.shape[1]
    gx = x_t @ W_ih.T + b_ih
    gh = h_prev @ W_hh.T + b_hh
    r = sig(gx[:, :H] + gh[:, :H])
    z = sig(gx[:, H:2 * H] + gh[:, H:2 * H])
    if reset_after:
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    else:
        n = np.tanh(gx[:, 2 * H:] + (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:])
    return n + z * (h_prev - n), (x_t, h_prev, W_ih, W_hh, (r, z, n))''',
    }),
    Fair("GRU: np.split of the weights, einsum, helpers for each placement", {
        "gru_step_forward": '''\
def _after(r, h, W, b):
    return r * (np.einsum("nk,hk->nh", h, W) + b)

def _before(r, h, W, b):
    return np.einsum("nk,hk->nh", r * h, W) + b

def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    W_ir, W_iz, W_in = np.split(W_ih, 3)
    W_hr, W_hz, W_hn = np.split(W_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    r = sigmoid(np.einsum("nd,hd->nh", x_t, W_ir) + b_ir + np.einsum("nk,hk->nh", h_prev, W_hr) + b_hr)
    z = sigmoid(np.einsum("nd,hd->nh", x_t, W_iz) + b_iz + np.einsum("nk,hk->nh", h_prev, W_hz) + b_hz)
    term = (_after if reset_after else _before)(r, h_prev, W_hn, b_hn)
    n = np.tanh(np.einsum("nd,hd->nh", x_t, W_in) + b_in + term)
    return (1 - z) * n + z * h_prev, None''',
    }),
    Fair("lstm_forward: preallocated out, x[:, t] for batch_first, np.swapaxes", {
        "lstm_forward": '''\
def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, batch_first=False):
    T = x.shape[1] if batch_first else x.shape[0]
    out = np.empty((T,) + h0.shape, dtype=np.result_type(x, h0))
    h, c, cache = h0, c0, []
    for t in range(T):
        x_t = x[:, t] if batch_first else x[t]
        h, c, step = lstm_step_forward(x_t, h, c, W_ih, W_hh, b_ih, b_hh)
        out[t] = h
        cache.append(step)
    if batch_first:
        out = np.swapaxes(out, 0, 1)
    return (out, (h, c)), cache''',
    }),
    Fair("lstm_forward: keywords, np.moveaxis, a tuple of caches", {
        "lstm_forward": '''\
def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, batch_first=False):
    xs = np.moveaxis(x, 1, 0) if batch_first else x
    state, hs, caches = (h0, c0), [], ()
    for x_t in xs:
        h, c, step = lstm_step_forward(x_t=x_t, h_prev=state[0], c_prev=state[1],
                                       W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh)
        state = (h, c)
        hs.append(h)
        caches += (step,)
    out = np.array(hs)
    return ((np.transpose(out, (1, 0, 2)) if batch_first else out), state), list(caches)''',
    }),
    Fair("backward: da filled by slices of a preallocated array; sigmoid' as s - s**2", {
        "lstm_step_backward": '''\
def lstm_step_backward(dh_next, dc_next, cache):
    x_t, h_prev, c_prev, W_ih, W_hh, gates, c_next = cache
    i, f, g, o = gates
    N, H = i.shape
    t = np.tanh(c_next)
    dc = dh_next * o * (1 - t ** 2) + dc_next
    da = np.empty((N, 4 * H), dtype=np.result_type(i, dh_next))
    da[:, :H] = dc * g * (i - i ** 2)
    da[:, H:2 * H] = dc * c_prev * (f - f ** 2)
    da[:, 2 * H:3 * H] = dc * i * (1 - g ** 2)
    da[:, 3 * H:] = dh_next * t * (o - o ** 2)
    db = da.sum(0)
    return dict(dx_t=da.dot(W_ih), dh_prev=da.dot(W_hh), dc_prev=f * dc,
                dW_ih=da.T.dot(x_t), dW_hh=da.T.dot(h_prev), db_ih=db, db_hh=db.copy())''',
    }),
    Fair("backward: tanh(c) recomputed from the gates, weights by sums of outer products", {
        "lstm_step_backward": '''\
def lstm_step_backward(dh_next, dc_next, cache):
    x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), _ = cache
    tc = np.tanh(f * c_prev + i * g)
    dc = dc_next + dh_next * o * (1 - tc ** 2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g ** 2), dh_next * tc * o * (1 - o)], axis=1)
    dW_ih = sum(np.outer(d, x) for d, x in zip(da, x_t))
    dW_hh = sum(np.outer(d, h) for d, h in zip(da, h_prev))
    return {"dx_t": da @ W_ih, "dh_prev": da @ W_hh, "dc_prev": dc * f, "dW_ih": dW_ih, "dW_hh": dW_hh,
            "db_ih": np.sum(da, axis=0), "db_hh": np.sum(da, axis=0)}''',
    }),
    Fair("helpers defined in an answer cell and used by the others", {
        "lstm_step_forward": '''\
def affine(x, W, b):
    return x @ W.T + b

def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = np.split(affine(x_t, W_ih, b_ih) + affine(h_prev, W_hh, b_hh), 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    return o * np.tanh(c), c, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c)''',
        "gru_step_forward": '''\
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    H = h_prev.shape[1]
    ax = affine(x_t, W_ih, b_ih)
    r = sigmoid(ax[:, :H] + affine(h_prev, W_hh[:H], b_hh[:H]))
    z = sigmoid(ax[:, H:2 * H] + affine(h_prev, W_hh[H:2 * H], b_hh[H:2 * H]))
    if reset_after:
        n = np.tanh(ax[:, 2 * H:] + r * affine(h_prev, W_hh[2 * H:], b_hh[2 * H:]))
    else:
        n = np.tanh(ax[:, 2 * H:] + affine(r * h_prev, W_hh[2 * H:], b_hh[2 * H:]))
    return (1 - z) * n + z * h_prev, (r, z, n)''',
    }),
    Fair("explicit Python loops over the batch and the units", {
        "lstm_step_forward": '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    N, H = h_prev.shape
    gates = [np.zeros((N, H)) for _ in range(4)]
    for n in range(N):
        for k in range(4):
            for u in range(H):
                row = k * H + u
                v = float(np.dot(W_ih[row], x_t[n]) + np.dot(W_hh[row], h_prev[n]) + b_ih[row] + b_hh[row])
                gates[k][n, u] = np.tanh(v) if k == 2 else 1 / (1 + np.exp(-v))
    i, f, g, o = gates
    c_next = f * c_prev + i * g
    return o * np.tanh(c_next), c_next, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)''',
    }),
    Fair("float64 copies of the inputs first (float32 given, float64 returned)", {
        "lstm_step_forward": '''\
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    x, h, c = (np.asarray(v, dtype=np.float64) for v in (x_t, h_prev, c_prev))
    a = x @ np.asarray(W_ih, float).T + h @ np.asarray(W_hh, float).T + (b_ih + b_hh)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new, (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_new)''',
        "gru_step_forward": '''\
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    x, h = np.asarray(x_t, np.float64), np.asarray(h_prev, np.float64)
    r_x, z_x, n_x = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    W_hr, W_hz, W_hn = np.split(W_hh, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    r = sigmoid(r_x + h @ W_hr.T + b_hr)
    z = sigmoid(z_x + h @ W_hz.T + b_hz)
    rec = r * (h @ W_hn.T + b_hn) if reset_after else (r * h) @ W_hn.T + b_hn
    n = np.tanh(n_x + rec)
    return (1 - z) * n + z * h, (x_t, h_prev, W_ih, W_hh, (r, z, n), rec, reset_after)''',
    }),
]
