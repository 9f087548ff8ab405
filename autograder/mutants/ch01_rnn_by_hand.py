"""Plausible mistakes and fair alternatives of chapter 1's exercise, as real student code (the mutation gate, autograder/mutation.py).

Each mutant is one mistake in one answer cell (the other cells keep the reference answer), written
as a student would type it: the reference with one edit (`edit`, which fails if the edit does
not apply) or a short function of its own. MUTANTS are in order of how common we expect the
mistake to be; the first half must be stopped by the visible self-check of the part where the
mistake is, with the words given in `visible`. FAIR are correct answers written another way:
each must get full marks and pass every visible self-check.
"""
from autograder.mutation import Fair, Mutant, edit


SCALAR = '''\
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    return np.tanh(w_x * x_t + w_h * h_prev + b)'''

STEP = '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    z = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # (N, H)
    h_next = activation(nonlinearity)(z)
    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)'''

COMBINE = '''\
def combine_weights(W_ih, W_hh):
    return np.concatenate([W_ih, W_hh], axis=1)'''

COMBINED_STEP = '''\
def rnn_step_combined(x_t, h_prev, W, b):
    xh = np.concatenate([x_t, h_prev], axis=1)  # (N, D + H)
    return np.tanh(xh @ W.T + b)'''

FORWARD = '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    if batch_first:
        x = x.transpose(1, 0, 2)  # (T, N, D)
    h, hs, cache = h0, [], []
    for x_t in x:
        h, step_cache = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)
        hs.append(h)
        cache.append(step_cache)
    out = np.stack(hs)  # (T, N, H)
    if batch_first:
        out = out.transpose(1, 0, 2)  # (N, T, H)
    return out, cache'''

MANY_TO_ONE = '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    out, _ = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    return output_layer(out[-1], V, c)'''

P1, P2, P3, P4, P5 = ("test_rnn_step_scalar", "test_rnn_step_forward", "test_rnn_step_combined",
                      "test_rnn_forward", "test_many_to_one")


def _scalar(name, new, words, visible=True):
    return Mutant(name, {"rnn_step_scalar": edit(SCALAR, ("np.tanh(w_x * x_t + w_h * h_prev + b)", new))},
                  {P1: words}, words if visible else None)


def _step(name, changes, words, visible=True):
    return Mutant(name, {"rnn_step_forward": edit(STEP, *changes)}, {P2: words}, words if visible else None)


def _forward(name, changes, words, visible=True):
    return Mutant(name, {"rnn_forward": edit(FORWARD, *changes)}, {P4: words}, words if visible else None)


def _many_to_one(name, changes, words, visible=True):
    return Mutant(name, {"many_to_one_forward": edit(MANY_TO_ONE, *changes)}, {P5: words},
                  words if visible else None)


Z = "x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh"
LOOP_STEP = "h, step_cache = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)"

MUTANTS = [  # most common first: the first half must be stopped by a visible self-check
    _step("h_prev @ W_hh without the transpose", [(Z, "x_t @ W_ih.T + b_ih + h_prev @ W_hh + b_hh")],
          "transpose"),
    _forward("rnn_forward does not pass nonlinearity on",
             [(LOOP_STEP, "h, step_cache = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh)")], "nonlinearity"),
    _scalar("scalar step without the tanh", "w_x * x_t + w_h * h_prev + b", "tanh is missing"),
    _step("b_ih left out", [(Z, "x_t @ W_ih.T + h_prev @ W_hh.T + b_hh")], "b_ih is missing"),
    _many_to_one("many-to-one starts from zeros, not h0",
                 [("rnn_forward(x, h0,", "rnn_forward(x, np.zeros_like(h0),")], "h0 is ignored"),
    _forward("state not carried: every step from h0",
             [("rnn_step_forward(x_t, h, W_ih", "rnn_step_forward(x_t, h0, W_ih")], "not carried"),
    _forward("batch_first ignored", [("    if batch_first:\n        x = x.transpose(1, 0, 2)  # (T, N, D)\n", ""),
                                     ("    if batch_first:\n        out = out.transpose(1, 0, 2)  # (N, T, H)\n", "")],
             "batch_first=True is ignored"),
    _step("x_t @ W_ih without the transpose", [(Z, "x_t @ W_ih + b_ih + h_prev @ W_hh.T + b_hh")], "transpose"),
    _step("step always tanh, nonlinearity ignored", [("activation(nonlinearity)(z)", "np.tanh(z)")],
          "'relu' is ignored"),
    _step("both biases left out", [(Z, "x_t @ W_ih.T + h_prev @ W_hh.T")], "biases are missing"),
    _forward("rnn_forward returns out only, no cache", [("    return out, cache", "    return out")], "pair"),
    _forward("state stored before the update (out[0] = h0)",
             [("        " + LOOP_STEP + "\n        hs.append(h)\n",
               "        hs.append(h)\n        " + LOOP_STEP + "\n")], "before step t"),
    _many_to_one("many-to-one reads the first state out[0]", [("out[-1]", "out[0]")], "LAST"),
    _forward("rnn_forward starts from zeros, not h0", [("h, hs, cache = h0, [], []", "h, hs, cache = 0 * h0, [], []")],
             "h0 is ignored"),
    Mutant("combine_weights with the blocks swapped",
           {"combine_weights": edit(COMBINE, ("[W_ih, W_hh]", "[W_hh, W_ih]"))}, {P3: "wrong order"}, "wrong order"),
    Mutant("combined step stacks [h_prev, x_t]",
           {"rnn_step_combined": edit(COMBINED_STEP, ("[x_t, h_prev]", "[h_prev, x_t]"))}, {P3: "wrong order"},
           "wrong order"),
    _scalar("scalar step with a sigmoid", "1 / (1 + np.exp(-(w_x * x_t + w_h * h_prev + b)))", "sigmoid"),
    _forward("batch_first: out not transposed back",
             [("    if batch_first:\n        out = out.transpose(1, 0, 2)  # (N, T, H)\n", "")], "back"),
    _step("b_hh left out", [(Z, "x_t @ W_ih.T + b_ih + h_prev @ W_hh.T")], "b_hh is missing"),
    _many_to_one("many-to-one without the output bias c", [("output_layer(out[-1], V, c)", "out[-1] @ V.T")],
                 "bias c is missing"),
    _step("step returns only h_next", [("return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)",
                                        "return h_next")], "pair"),
    _forward("time processed backwards", [("for x_t in x:", "for x_t in x[::-1]:")], "reverse"),
    _forward("state updated in place and stored at every step",
             [("        " + LOOP_STEP, "        h_new, step_cache = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, "
               "b_hh, nonlinearity)\n        h[:] = h_new")], "in place"),
    _scalar("scalar step without the bias", "np.tanh(w_x * x_t + w_h * h_prev)", "bias b is missing"),
    _scalar("scalar step with w_x and w_h swapped", "np.tanh(w_h * x_t + w_x * h_prev + b)", "swapped"),
    _scalar("scalar step with a relu", "max(w_x * x_t + w_h * h_prev + b, 0.0)", "relu"),
    _forward("loop over range(T - 1): last step missing",
             [("    for x_t in x:\n", "    for t in range(len(x) - 1):\n        x_t = x[t]\n")], "last step is missing"),
    _forward("states stacked along axis 1", [("out = np.stack(hs)", "out = np.stack(hs, axis=1)")], "axis"),
    _forward("batch_first by reshape instead of transpose",
             [("x = x.transpose(1, 0, 2)", "x = x.reshape(x.shape[1], x.shape[0], x.shape[2])"),
              ("out = out.transpose(1, 0, 2)", "out = out.reshape(out.shape[1], out.shape[0], out.shape[2])")],
             "reshape"),
    _forward("out includes h0 (T + 1 states)", [("h, hs, cache = h0, [], []", "h, hs, cache = h0, [h0], []")],
             "T + 1"),
    Mutant("combine_weights stacks along axis 0",
           {"combine_weights": edit(COMBINE, ("axis=1", "axis=0"))}, {P3: "one above the other"},
           "one above the other"),
    _many_to_one("many-to-one reads out[:, -1]", [("out[-1]", "out[:, -1]")], "out[:, -1]"),
    _many_to_one("many-to-one from the average state", [("out[-1]", "out.mean(axis=0)")], "average"),
    _scalar("scalar step with the bias outside the tanh", "np.tanh(w_x * x_t + w_h * h_prev) + b", "after the tanh"),
    _step("biases added after the activation",
          [(Z, "x_t @ W_ih.T + h_prev @ W_hh.T"), ("activation(nonlinearity)(z)", "activation(nonlinearity)(z) + b_ih + b_hh")],
          "after the activation"),
    _step("W_ih and W_hh swapped", [(Z, "x_t @ W_hh.T + b_ih + h_prev @ W_ih.T + b_hh")], "swapped"),
    _step("recurrent term left out", [(Z, "x_t @ W_ih.T + b_ih + b_hh")], "recurrent term is missing"),
    _step("step with a sigmoid", [("activation(nonlinearity)(z)", "1 / (1 + np.exp(-z))")], "sigmoid"),
    _scalar("scalar step without the recurrent term", "np.tanh(w_x * x_t + b)", "recurrent term"),
    _forward("loop over range(1, T): first input skipped",
             [("    for x_t in x:\n", "    for t in range(1, len(x)):\n        x_t = x[t]\n")], "first input"),
    _many_to_one("many-to-one returns (y, out)",
                 [("return output_layer(out[-1], V, c)", "return output_layer(out[-1], V, c), out")], "only"),
    _step("products written the other way round: h_next is (H, N)",
          [(Z + "  # (N, H)", "W_ih @ x_t.T + W_hh @ h_prev.T + (b_ih + b_hh)[:, None]  # (H, N)")], "transposed"),
    # Mistakes that raise in the self-checks: numpy's error, on the student's own line, is what they see.
    Mutant("combined step without the transpose (xh @ W)",
           {"rnn_step_combined": edit(COMBINED_STEP, ("xh @ W.T", "xh @ W"))}, {P3: "W.T"}),
    Mutant("combined step stacks [x_t, h_prev] along axis 0",
           {"rnn_step_combined": edit(COMBINED_STEP, ("axis=1", "axis=0"))}, {P3: "side by side"}),
    _many_to_one("output layer without the transpose (out[-1] @ V + c)",
                 [("output_layer(out[-1], V, c)", "out[-1] @ V + c")], "V.T", visible=False),
    _many_to_one("many-to-one forgets to unpack rnn_forward's pair",
                 [("out, _ = rnn_forward", "out = rnn_forward")], "unpack", visible=False),
]

# ----------------------------------------------------------------------------- fair alternatives
EINSUM = {
    "rnn_step_scalar": "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n"
                       "    return np.tanh(np.einsum('i,i->', np.array([w_x, w_h]), np.array([x_t, h_prev])) + b)",
    "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    a = np.einsum("nd,hd->nh", x_t, W_ih) + np.einsum("nk,hk->nh", h_prev, W_hh) + (b_ih + b_hh)
    return activation(nonlinearity)(a), None''',
    "combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.hstack((W_ih, W_hh))",
    "rnn_step_combined": '''\
def rnn_step_combined(x_t, h_prev, W, b):
    return np.tanh(np.einsum("nk,hk->nh", np.hstack((x_t, h_prev)), W) + b)''',
    "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    xs = np.swapaxes(x, 0, 1) if batch_first else x
    out = np.empty((xs.shape[0],) + h0.shape, dtype=np.result_type(xs, h0, W_ih))
    h = h0
    for t, x_t in enumerate(xs):
        h = activation(nonlinearity)(np.einsum("nd,hd->nh", x_t, W_ih) + np.einsum("nk,hk->nh", h, W_hh) + b_ih + b_hh)
        out[t] = h
    return (np.swapaxes(out, 0, 1) if batch_first else out), []''',
    "many_to_one_forward": '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    return np.einsum("nh,oh->no", rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)[0][-1], V) + c''',
}

LOOPS = {
    "rnn_step_scalar": '''\
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    pre = b
    for weight, value in ((w_x, x_t), (w_h, h_prev)):
        pre = pre + weight * value
    return float(np.tanh(pre))''',
    "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    n_rows, n_hidden = len(x_t), len(W_ih)
    result = np.zeros((n_rows, n_hidden))
    for row in range(n_rows):
        for unit in range(n_hidden):
            acc = b_ih[unit] + b_hh[unit]
            for k in range(len(x_t[row])):
                acc += x_t[row][k] * W_ih[unit][k]
            for k in range(len(h_prev[row])):
                acc += h_prev[row][k] * W_hh[unit][k]
            result[row, unit] = np.tanh(acc) if nonlinearity == "tanh" else max(acc, 0.0)
    return result, {"inputs": x_t, "state": h_prev}''',
    "combine_weights": '''\
def combine_weights(W_ih, W_hh):
    return np.array([list(a) + list(b) for a, b in zip(W_ih, W_hh)])''',
    "rnn_step_combined": '''\
def rnn_step_combined(x_t, h_prev, W, b):
    rows = []
    for xs, hs in zip(x_t, h_prev):
        joined = np.array(list(xs) + list(hs))
        rows.append([np.tanh(sum(w_k * v_k for w_k, v_k in zip(w_row, joined)) + b_j)
                     for w_row, b_j in zip(W, b)])
    return np.array(rows)''',
    "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    steps = x.shape[1] if batch_first else x.shape[0]
    states, state, caches = [], h0, []
    for t in range(steps):
        inputs = x[:, t, :] if batch_first else x[t]
        state, step = rnn_step_forward(inputs, state, W_ih, W_hh, b_ih, b_hh, nonlinearity)
        states.append(state)
        caches.append(step)
    stacked = np.stack(states, axis=1 if batch_first else 0)
    return stacked, caches''',
    "many_to_one_forward": '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    state = h0
    for t in range(len(x)):
        state = rnn_step_forward(x[t], state, W_ih, W_hh, b_ih, b_hh)[0]
    return np.array([[sum(v * s for v, s in zip(V[o], row)) + c[o] for o in range(len(c))] for row in state])''',
}

FLOAT32 = {
    "rnn_step_scalar": '''\
def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    f = np.float32
    return np.tanh(f(w_x) * f(x_t) + f(w_h) * f(h_prev) + f(b))''',
    "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    x_t, h_prev, W_ih, W_hh, b_ih, b_hh = (np.asarray(a, dtype=np.float32) for a in (x_t, h_prev, W_ih, W_hh, b_ih, b_hh))
    h = activation(nonlinearity)(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).astype(np.float32)
    return h, (x_t, h_prev, W_ih, W_hh, h, nonlinearity)''',
    "combine_weights": "def combine_weights(W_ih, W_hh):\n"
                       "    return np.concatenate([W_ih, W_hh], axis=1).astype(np.float32)",
    "rnn_step_combined": '''\
def rnn_step_combined(x_t, h_prev, W, b):
    xh = np.concatenate([x_t, h_prev], axis=1).astype(np.float32)
    return np.tanh(xh @ W.astype(np.float32).T + b.astype(np.float32))''',
    "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    x = x.astype(np.float32)
    if batch_first:
        x = x.transpose(1, 0, 2)
    h, hs = h0.astype(np.float32), []
    for x_t in x:
        h, _ = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)
        hs.append(h)
    out = np.stack(hs)
    return (out.transpose(1, 0, 2) if batch_first else out), None''',
    "many_to_one_forward": '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    out, _ = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    return output_layer(out[-1], V.astype(np.float32), c.astype(np.float32))''',
}

FAIR = [
    Fair("einsum everywhere", EINSUM),
    Fair("explicit Python loops everywhere", LOOPS),
    Fair("float32 throughout", FLOAT32),
    Fair("helpers defined in an answer cell, used by the others", {
        "rnn_step_scalar": '''\
def _affine(inputs, weights, bias):
    return inputs @ np.transpose(weights) + bias

def _squash(z, kind="tanh"):
    return np.tanh(z) if kind == "tanh" else np.where(z > 0, z, 0.0)

def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    return _squash(w_x * x_t + w_h * h_prev + b)''',
        "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    new_state = _squash(_affine(x_t, W_ih, b_ih) + _affine(h_prev, W_hh, b_hh), nonlinearity)
    return new_state, (x_t, h_prev, W_ih, W_hh, new_state, nonlinearity)''',
        "rnn_step_combined": '''\
def rnn_step_combined(x_t, h_prev, W, b):
    return _squash(_affine(np.hstack([x_t, h_prev]), W, b))''',
        "many_to_one_forward": '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    return _affine(rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)[0][-1], V, c)''',
    }),
    Fair("math.tanh on Python floats; tanh written with exp", {
        "rnn_step_scalar": '''\
import math

def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    return math.tanh(float(w_x) * float(x_t) + float(w_h) * float(h_prev) + float(b))''',
        "rnn_step_combined": '''\
def rnn_step_combined(x_t, h_prev, W, b):
    z = np.concatenate([x_t, h_prev], axis=1) @ W.T + b
    return 1 - 2 / (np.exp(2 * z) + 1)  # tanh(z)''',
    }),
    Fair("products with the weights first, transposed back; an if for the nonlinearity; a list pair", {
        "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    z = (W_ih @ x_t.T + W_hh @ h_prev.T).T + b_ih + b_hh
    if nonlinearity == "relu":
        h_next = np.clip(z, 0, None)
    else:
        h_next = np.tanh(z)
    return [h_next, {"x_t": x_t, "h_prev": h_prev, "h_next": h_next}]''',
    }),
    Fair("preallocated output, filled with out[t] = h", {
        "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    if batch_first:
        x = np.moveaxis(x, 1, 0)
    T, N, _ = x.shape
    out = np.zeros((T, N, W_hh.shape[0]))
    cache = [None] * T
    h = h0.copy()
    for t in range(T):
        h, cache[t] = rnn_step_forward(x[t], h, W_ih, W_hh, b_ih, b_hh, nonlinearity=nonlinearity)
        out[t] = h
    if batch_first:
        out = np.moveaxis(out, 0, 1)
    return out, cache''',
    }),
    Fair("batch_first by calling itself; a while loop; the formula inline", {
        "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    if batch_first:
        out, cache = rnn_forward(np.swapaxes(x, 0, 1), h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)
        return np.swapaxes(out, 0, 1), cache
    act = activation(nonlinearity)
    states, cache, t = [], [], 0
    h = h0
    while t < len(x):
        cache.append({"x_t": x[t], "h_prev": h})
        h = act(x[t] @ W_ih.T + h @ W_hh.T + (b_ih + b_hh))
        states.append(h)
        t += 1
    return np.array(states), cache''',
    }),
    Fair("the combined matrix with np.block; the combined step split back into two products", {
        "combine_weights": "def combine_weights(W_ih, W_hh):\n    return np.block([W_ih, W_hh])",
        "rnn_step_combined": '''\
def rnn_step_combined(x_t, h_prev, W, b):
    D = x_t.shape[1]
    return np.tanh(x_t @ W[:, :D].T + h_prev @ W[:, D:].T + b)''',
    }),
    Fair("many-to-one reads every step out and keeps the last", {
        "many_to_one_forward": '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    states, _ = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False)
    return output_layer(states, V, c)[-1]''',
    }),
    Fair("many-to-one with batch_first and the last column", {
        "many_to_one_forward": '''\
def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    out, _ = rnn_forward(np.transpose(x, (1, 0, 2)), h0, W_ih, W_hh, b_ih, b_hh, batch_first=True)
    return out[:, -1] @ V.T + c''',
    }),
    Fair("cache left out: (h_next, None) and (out, None)", {
        "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return activation(nonlinearity)(np.dot(x_t, W_ih.T) + np.dot(h_prev, W_hh.T) + b_ih + b_hh), None''',
        "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    xs = x.swapaxes(0, 1) if batch_first else x
    hs = [h0]
    for x_t in xs:
        hs.append(rnn_step_forward(x_t, hs[-1], W_ih, W_hh, b_ih, b_hh, nonlinearity)[0])
    out = np.array(hs[1:])
    return (out.swapaxes(0, 1) if batch_first else out), None''',
    }),
]
