"""Plausible mistakes and fair alternatives of chapter 2's exercise, as real student code (the mutation gate, autograder/mutation.py).

Each mutant is one mistake in one answer cell (the other cells keep the reference answer), written
as a student would type it: the reference with one edit (`edit`, which fails if the edit does
not apply) or a short function of its own. MUTANTS are in order of how common we expect the
mistake to be; the first half must be stopped by the visible self-check of the part where the
mistake is, with the words given in `visible`. FAIR are correct answers written another way:
each must get full marks and pass every visible self-check.

Not listed: modifying an input array in place (`dout[-1] += dh_n`, `g *= scale`). The hidden
checks cannot see it (the student's function receives copies of the arrays), so it loses no
marks; the visible self-checks of Parts 2 and 3 stop it with a message.
"""
from autograder.mutation import AnswerCells, Fair, edit


DERIVATIVE = '''\
def activation_derivative(h, nonlinearity):
    if nonlinearity == "tanh":
        return 1.0 - h ** 2
    if nonlinearity == "relu":
        return (h > 0).astype(h.dtype)
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")'''

STEP = '''\
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dz = dh_next * activation_derivative(h_next, nonlinearity)  # (N, H)
    return {"dx_t": dz @ W_ih, "dh_prev": dz @ W_hh,
            "dW_ih": dz.T @ x_t, "dW_hh": dz.T @ h_prev,
            "db_ih": dz.sum(axis=0), "db_hh": dz.sum(axis=0)}'''

BACKWARD = '''\
def rnn_backward(dout, cache, dh_n=None):
    x_0, h0, W_ih, W_hh, _, _ = cache[0]
    dx = np.zeros((len(cache),) + x_0.shape)
    if dh_n is None:
        dh = np.zeros_like(h0, dtype=np.float64)
    else:
        dh = np.array(dh_n, dtype=np.float64)
    grads = {"dW_ih": np.zeros(W_ih.shape), "dW_hh": np.zeros(W_hh.shape),
             "db_ih": np.zeros(W_hh.shape[0]),
             "db_hh": np.zeros(W_hh.shape[0])}
    for t in reversed(range(len(cache))):
        step = rnn_step_backward(dh + dout[t], cache[t])
        dx[t], dh = step["dx_t"], step["dh_prev"]
        for name in grads:
            grads[name] += step[name]
    return {"dx": dx, "dh0": dh, **grads}'''

CLIP_NORM = '''\
def clip_grad_norm(grads, max_norm):
    total = global_norm(grads)
    scale = min(max_norm / (total + 1e-6), 1.0)
    return {k: g * scale for k, g in grads.items()}, total'''

CLIP_VALUE = '''\
def clip_grad_value(grads, clip):
    return {k: np.clip(g, -clip, clip) for k, g in grads.items()}'''

STEP_JACOBIAN = '''\
def step_jacobian(cache_t):
    _, _, _, W_hh, h_next, nonlinearity = cache_t
    return activation_derivative(h_next, nonlinearity)[:, :, None] * W_hh'''

HIDDEN_JACOBIANS = '''\
def hidden_jacobians(cache):
    N, H = cache[-1][4].shape
    chain = [np.broadcast_to(np.eye(H), (N, H, H)).copy()]
    for step in reversed(cache):
        chain.append(chain[-1] @ step_jacobian(step))
    return np.stack(chain[::-1])'''

NORMS = '''\
def hidden_jacobian_norms(cache, ord=2):
    return np.linalg.norm(hidden_jacobians(cache), ord=ord, axis=(-2, -1))'''

P1, P2, P3, P4 = "test_rnn_step_backward", "test_rnn_backward", "test_clipping", "test_gradient_norms"
CELLS = AnswerCells({"activation_derivative": (DERIVATIVE, P1), "rnn_step_backward": (STEP, P1), "rnn_backward": (BACKWARD, P2),
                     "clip_grad_norm": (CLIP_NORM, P3), "clip_grad_value": (CLIP_VALUE, P3),
                     "step_jacobian": (STEP_JACOBIAN, P4), "hidden_jacobians": (HIDDEN_JACOBIANS, P4),
                     "hidden_jacobian_norms": (NORMS, P4)})

_mutant, _written = CELLS.mutant, CELLS.written


DZ = "dz = dh_next * activation_derivative(h_next, nonlinearity)"
LOOP_STEP = "step = rnn_step_backward(dh + dout[t], cache[t])"
LOOP = "for t in reversed(range(len(cache))):"
DH_N = '''    if dh_n is None:
        dh = np.zeros_like(h0, dtype=np.float64)
    else:
        dh = np.array(dh_n, dtype=np.float64)
'''
ZERO_DH = "    dh = np.zeros_like(h0, dtype=np.float64)\n"
BIASES = '"db_ih": dz.sum(axis=0), "db_hh": dz.sum(axis=0)'
RETURN_CLIPPED = "return {k: g * scale for k, g in grads.items()}, total"

MUTANTS = [  # most common first: the first half must be stopped by a visible self-check
    _mutant("dz without act'(z) (dz = dh_next)", "rnn_step_backward", [(DZ, "dz = dh_next")], "act'(z) is missing"),
    _mutant("hidden-state gradient not accumulated (dh_prev not carried)", "rnn_backward",
            [(LOOP_STEP, "step = rnn_step_backward(dout[t], cache[t])")], "not accumulated"),
    _mutant("dx_t = dz @ W_ih.T", "rnn_step_backward", [('"dx_t": dz @ W_ih,', '"dx_t": dz @ W_ih.T,')],
            "W_ih is transposed"),
    _mutant("tanh applied twice: 1 - tanh(h)**2", "activation_derivative",
            [("return 1.0 - h ** 2", "return 1.0 - np.tanh(h) ** 2")], "tanh to h"),
    _mutant("weight gradients not summed over steps (= instead of +=)", "rnn_backward",
            [("grads[name] += step[name]", "grads[name] = step[name]")], "only the first step's"),
    _mutant("off by one: dout[t - 1] at step t", "rnn_backward",
            [(LOOP_STEP, "step = rnn_step_backward(dh + dout[t - 1], cache[t])")], "off by one"),
    _mutant("time loop skips step 0: range(1, T)", "rnn_backward",
            [(LOOP, "for t in reversed(range(1, len(cache))):")], "first step", "is skipped"),
    _mutant("dh_n ignored", "rnn_backward", [(DH_N, ZERO_DH)], "dh_n is ignored"),
    _mutant("db summed over axis 1", "rnn_step_backward",
            [(BIASES, '"db_ih": dz.sum(axis=1), "db_hh": dz.sum(axis=1)')], "wrong axis"),
    _mutant("derivative taken at h_prev", "rnn_step_backward",
            [(DZ, "dz = dh_next * activation_derivative(h_prev, nonlinearity)")], "taken at h_prev"),
    _mutant("relu derivative with h >= 0", "activation_derivative",
            [("(h > 0).astype(h.dtype)", "(h >= 0).astype(h.dtype)")], "h > 0"),
    _written("clip_grad_norm clips each array by its own norm", "clip_grad_norm", '''\
def clip_grad_norm(grads, max_norm):
    clipped = {}
    for k, g in grads.items():
        norm = np.linalg.norm(g)
        clipped[k] = g * min(max_norm / (norm + 1e-6), 1.0)
    return clipped, global_norm(grads)''', "on its own"),
    _mutant("dh_prev = dz @ W_hh.T", "rnn_step_backward", [('"dh_prev": dz @ W_hh,', '"dh_prev": dz @ W_hh.T,')],
            "W_hh is transposed"),
    _mutant("dW_ih = x_t.T @ dz (transposed)", "rnn_step_backward", [('"dW_ih": dz.T @ x_t,', '"dW_ih": x_t.T @ dz,')],
            "dW_ih is transposed"),
    _mutant("step_jacobian with W_hh.T", "step_jacobian", [("[:, :, None] * W_hh", "[:, :, None] * W_hh.T")],
            "W_hh is transposed"),
    _mutant("hidden_jacobians: product in the wrong order", "hidden_jacobians",
            [("chain[-1] @ step_jacobian(step)", "step_jacobian(step) @ chain[-1]")], "wrong order"),
    _mutant("clip_grad_value clips only the top", "clip_grad_value", [("np.clip(g, -clip, clip)", "np.minimum(g, clip)")],
            "only the top"),
    _mutant("clip_grad_norm scales up below max_norm", "clip_grad_norm",
            [("scale = min(max_norm / (total + 1e-6), 1.0)", "scale = max_norm / (total + 1e-6)")], "scaled up"),
    _mutant("clip_grad_norm returns the norm after clipping", "clip_grad_norm",
            [(RETURN_CLIPPED, "clipped = {k: g * scale for k, g in grads.items()}\n"
                              "    return clipped, global_norm(clipped)")], "after clipping"),
    _mutant("Jacobian norms: ord not passed (Frobenius)", "hidden_jacobian_norms", [("ord=ord, ", "")], "Frobenius"),
    _written("hidden_jacobians without the identity at t = T", "hidden_jacobians", '''\
def hidden_jacobians(cache):
    N, H = cache[-1][4].shape
    J = np.broadcast_to(np.eye(H), (N, H, H))
    chain = []
    for step in reversed(cache):
        J = J @ step_jacobian(step)
        chain.append(J)
    return np.stack(chain[::-1])''', "identity, is missing"),
    _mutant("hidden_jacobians in reverse time order", "hidden_jacobians",
            [("np.stack(chain[::-1])", "np.stack(chain)")], "reverse time order"),
    _mutant("dW_hh = dz.T @ h_next", "rnn_step_backward", [('"dW_hh": dz.T @ h_prev,', '"dW_hh": dz.T @ h_next,')],
            "uses h_next"),
    _written("step_jacobian without act'", "step_jacobian", '''\
def step_jacobian(cache_t):
    _, _, _, W_hh, h_next, nonlinearity = cache_t
    return np.broadcast_to(W_hh, (len(h_next),) + W_hh.shape)''', "act'(z) is missing"),
    _mutant("BPTT walked forwards in time", "rnn_backward", [(LOOP, "for t in range(len(cache)):")], "forwards"),
    _mutant("dout[t] dropped: only the carried gradient", "rnn_backward",
            [(LOOP_STEP, "step = rnn_step_backward(dh, cache[t])")], "dout[t] is dropped"),
    _written("dx stacked in the order the steps were visited", "rnn_backward", '''\
def rnn_backward(dout, cache, dh_n=None):
    W_ih, W_hh = cache[0][2], cache[0][3]
    dh = np.zeros(dout.shape[1:]) if dh_n is None else dh_n
    dxs = []
    grads = {"dW_ih": np.zeros(W_ih.shape), "dW_hh": np.zeros(W_hh.shape),
             "db_ih": np.zeros(len(W_hh)), "db_hh": np.zeros(len(W_hh))}
    for t in reversed(range(len(cache))):
        step = rnn_step_backward(dh + dout[t], cache[t])
        dxs.append(step["dx_t"])
        dh = step["dh_prev"]
        for name in grads:
            grads[name] += step[name]
    return {"dx": np.stack(dxs), "dh0": dh, **grads}''', "reverse time order"),
    _mutant("db averaged over the batch", "rnn_step_backward",
            [(BIASES, '"db_ih": dz.mean(axis=0), "db_hh": dz.mean(axis=0)')], "mean"),
    _mutant("rnn_step_backward always uses tanh's derivative", "rnn_step_backward",
            [(DZ, "dz = dh_next * (1 - h_next ** 2)")], "'relu' is ignored"),
    _mutant("step_jacobian: derivative taken at h_prev", "step_jacobian",
            [("_, _, _, W_hh, h_next, nonlinearity = cache_t", "_, h_prev, _, W_hh, h_next, nonlinearity = cache_t"),
             ("activation_derivative(h_next, nonlinearity)", "activation_derivative(h_prev, nonlinearity)")],
            "taken at h_prev"),
    _mutant("step_jacobian: act' scales the columns", "step_jacobian", [("[:, :, None] * W_hh", "[:, None, :] * W_hh")],
            "columns"),
    _mutant("clip_grad_value loses the sign", "clip_grad_value",
            [("np.clip(g, -clip, clip)", "np.clip(np.abs(g), -clip, clip)")], "sign is lost"),
    _mutant("clip_grad_norm: scale upside down", "clip_grad_norm",
            [("scale = min(max_norm / (total + 1e-6), 1.0)", "scale = total / max_norm if total > max_norm else 1.0")],
            "upside down"),
    _written("dh0 returned as the gradient reaching h_1", "rnn_backward", edit(
        BACKWARD, (LOOP_STEP, "dh_next = dh + dout[t]\n        step = rnn_step_backward(dh_next, cache[t])"),
        ('return {"dx": dx, "dh0": dh, **grads}', 'return {"dx": dx, "dh0": dh_next, **grads}')), "h_1"),
    _mutant("time loop skips the last step: range(T - 1)", "rnn_backward",
            [(LOOP, "for t in reversed(range(len(cache) - 1)):")], "last step"),
    _written("2-norm as the largest |eigenvalue|", "hidden_jacobian_norms", '''\
def hidden_jacobian_norms(cache, ord=2):
    J = hidden_jacobians(cache)
    if ord == 2:
        return np.abs(np.linalg.eigvals(J)).max(axis=-1)
    return np.linalg.norm(J, ord=ord, axis=(-2, -1))''', "eigenvalue", visible="spectral radius"),
    _written("clip_grad_norm returns only the clipped dict", "clip_grad_norm", edit(
        CLIP_NORM, (RETURN_CLIPPED, "return {k: g * scale for k, g in grads.items()}")), "pair"),
    _mutant("tanh derivative with the sign flipped", "activation_derivative",
            [("return 1.0 - h ** 2", "return h ** 2 - 1.0")], "sign"),
    _mutant("clip_grad_value into [0, clip]", "clip_grad_value", [("np.clip(g, -clip, clip)", "np.clip(g, 0, clip)")],
            "[0, clip]"),
    _mutant("Jacobian norms transposed to (N, T + 1)", "hidden_jacobian_norms",
            [("axis=(-2, -1))", "axis=(-2, -1)).T")], "transposed"),
    _written("hidden_jacobians: each step's Jacobian alone, not chained", "hidden_jacobians", '''\
def hidden_jacobians(cache):
    N, H = cache[-1][4].shape
    J = [step_jacobian(step) for step in cache]
    return np.stack(J + [np.broadcast_to(np.eye(H), (N, H, H))])''', "multiply the steps together"),
    _mutant("dh_n added to every dout[t] (dout + dh_n)", "rnn_backward",
            [(DH_N, ZERO_DH + "    if dh_n is not None:\n        dout = dout + dh_n\n")], "every step"),
    _mutant("global norm as the sum of the arrays' norms", "clip_grad_norm",
            [("total = global_norm(grads)", "total = sum(np.linalg.norm(g) for g in grads.values())")],
            "sum of the arrays' own norms", visible=False),
]

# ----------------------------------------------------------------------------- fair alternatives
FAIR = [
    Fair("einsum everywhere", {
        "rnn_step_backward": '''\
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dz = np.einsum("nh,nh->nh", dh_next, activation_derivative(h_next, nonlinearity))
    return {"dx_t": np.einsum("nh,hd->nd", dz, W_ih), "dh_prev": np.einsum("nh,hk->nk", dz, W_hh),
            "dW_ih": np.einsum("nh,nd->hd", dz, x_t), "dW_hh": np.einsum("nh,nk->hk", dz, h_prev),
            "db_ih": np.einsum("nh->h", dz), "db_hh": np.einsum("nh->h", dz)}''',
        "step_jacobian": '''\
def step_jacobian(cache_t):
    W_hh, h_next, nonlinearity = cache_t[3], cache_t[4], cache_t[5]
    return np.einsum("ni,ij->nij", activation_derivative(h_next, nonlinearity), W_hh)''',
        "hidden_jacobians": '''\
def hidden_jacobians(cache):
    N, H = cache[-1][4].shape
    J = np.einsum("n,ij->nij", np.ones(N), np.eye(H))
    out = [J]
    for step in cache[::-1]:
        J = np.einsum("nij,njk->nik", J, step_jacobian(step))
        out.insert(0, J)
    return np.array(out)''',
        "hidden_jacobian_norms": '''\
def hidden_jacobian_norms(cache, ord=2):
    J = hidden_jacobians(cache)
    if ord == "fro":
        return np.sqrt(np.einsum("tnij,tnij->tn", J, J))
    return np.linalg.norm(J, ord=2, axis=(2, 3))''',
    }),
    Fair("explicit Python loops over the batch and the units", {
        "activation_derivative": '''\
def activation_derivative(h, nonlinearity):
    out = np.zeros(np.shape(h))
    for idx in np.ndindex(out.shape):
        v = h[idx]
        out[idx] = 1 - v * v if nonlinearity == "tanh" else (1.0 if v > 0 else 0.0)
    return out''',
        "rnn_step_backward": '''\
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    N, D = x_t.shape
    H = W_hh.shape[0]
    dz = dh_next * activation_derivative(h_next, nonlinearity)
    g = {"dx_t": np.zeros((N, D)), "dh_prev": np.zeros((N, H)), "dW_ih": np.zeros((H, D)),
         "dW_hh": np.zeros((H, H)), "db_ih": np.zeros(H), "db_hh": np.zeros(H)}
    for n in range(N):
        for i in range(H):
            for d in range(D):
                g["dx_t"][n, d] += dz[n, i] * W_ih[i, d]
                g["dW_ih"][i, d] += dz[n, i] * x_t[n, d]
            for j in range(H):
                g["dh_prev"][n, j] += dz[n, i] * W_hh[i, j]
                g["dW_hh"][i, j] += dz[n, i] * h_prev[n, j]
            g["db_ih"][i] += dz[n, i]
            g["db_hh"][i] += dz[n, i]
    return g''',
        "clip_grad_value": '''\
def clip_grad_value(grads, clip):
    out = {}
    for k, g in grads.items():
        c = np.array(g, dtype=float)
        for idx in np.ndindex(c.shape):
            c[idx] = min(max(c[idx], -clip), clip)
        out[k] = c
    return out''',
    }),
    Fair("np.outer sums for the weights; dz computed twice, inline", {
        "rnn_step_backward": '''\
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dW_ih = sum(np.outer(g * activation_derivative(h, nonlinearity), x)
                for g, h, x in zip(dh_next, h_next, x_t))
    dW_hh = sum(np.outer(g * activation_derivative(h, nonlinearity), p)
                for g, h, p in zip(dh_next, h_next, h_prev))
    db = (dh_next * activation_derivative(h_next, nonlinearity)).sum(axis=0)
    return {"dW_ih": dW_ih, "dW_hh": dW_hh, "db_ih": db, "db_hh": db.copy(),
            "dx_t": (dh_next * activation_derivative(h_next, nonlinearity)) @ W_ih,
            "dh_prev": (dh_next * activation_derivative(h_next, nonlinearity)) @ W_hh}''',
    }),
    Fair("relu derivative via np.where, tanh's as (1 - h)(1 + h); step_jacobian via np.diag", {
        "activation_derivative": '''\
def activation_derivative(h, nonlinearity):
    if nonlinearity == "relu":
        return np.where(h > 0, 1.0, 0.0)
    return (1 - h) * (1 + h)''',
        "step_jacobian": '''\
def step_jacobian(cache_t):
    W_hh, h_next = cache_t[3], cache_t[4]
    d = activation_derivative(h_next, cache_t[5])
    return np.stack([np.diag(row) @ W_hh for row in d])''',
    }),
    Fair("dh_n added into a copy of dout; accumulation in place on fresh arrays; dx as a list", {
        "rnn_backward": '''\
def rnn_backward(dout, cache, dh_n=None):
    dout = np.array(dout, dtype=float)
    if dh_n is not None:
        dout[-1] += dh_n
    W_ih, W_hh = cache[0][2], cache[0][3]
    dW_ih, dW_hh = np.zeros_like(W_ih, dtype=float), np.zeros_like(W_hh, dtype=float)
    db = np.zeros(W_hh.shape[0])
    carry = np.zeros_like(dout[0])
    dx = [None] * len(cache)
    for t in range(len(cache) - 1, -1, -1):
        g = rnn_step_backward(dout[t] + carry, cache[t])
        dW_ih += g["dW_ih"]
        dW_hh += g["dW_hh"]
        db += g["db_ih"]
        dx[t] = g["dx_t"]
        carry = g["dh_prev"]
    return {"dx": np.array(dx), "dh0": carry, "dW_ih": dW_ih, "dW_hh": dW_hh, "db_ih": db, "db_hh": db.copy()}''',
    }),
    Fair("BPTT in one function, without rnn_step_backward; float32 kept for float32 inputs", {
        "rnn_backward": '''\
def rnn_backward(dout, cache, dh_n=None):
    T = len(cache)
    dx = np.zeros((T,) + cache[0][0].shape, dtype=dout.dtype)
    dh = np.zeros_like(dout[0]) if dh_n is None else dh_n.astype(dout.dtype)
    sums = {k: 0 for k in ("dW_ih", "dW_hh", "db_ih", "db_hh")}
    for t in range(T - 1, -1, -1):
        x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache[t]
        dz = (dh + dout[t]) * activation_derivative(h_next, nonlinearity)
        dx[t] = dz @ W_ih
        dh = dz @ W_hh
        sums["dW_ih"] = sums["dW_ih"] + dz.T @ x_t
        sums["dW_hh"] = sums["dW_hh"] + dz.T @ h_prev
        sums["db_ih"] = sums["db_ih"] + dz.sum(0)
        sums["db_hh"] = sums["db_hh"] + dz.sum(0)
    return {"dx": dx, "dh0": dh, **sums}''',
    }),
    Fair("clipping without torch's 1e-6, own norm from one long vector; clip by value with np.minimum/np.maximum", {
        "clip_grad_norm": '''\
def clip_grad_norm(grads, max_norm):
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    if norm > max_norm:
        return {k: g * (max_norm / norm) for k, g in grads.items()}, norm
    return {k: g.copy() for k, g in grads.items()}, norm''',
        "clip_grad_value": '''\
def clip_grad_value(grads, clip):
    return {k: np.maximum(np.minimum(g, clip), -clip) for k, g in grads.items()}''',
    }),
    Fair("Jacobian norms from np.linalg.svd", {
        "hidden_jacobian_norms": '''\
def hidden_jacobian_norms(cache, ord=2):
    s = np.linalg.svd(hidden_jacobians(cache), compute_uv=False)
    if ord == 2:
        return s[..., 0]
    return np.sqrt(np.sum(s ** 2, axis=-1))''',
    }),
    Fair("hidden_jacobians: each product from scratch, in forward order", {
        "hidden_jacobians": '''\
def hidden_jacobians(cache):
    T = len(cache)
    N, H = cache[0][1].shape
    out = np.zeros((T + 1, N, H, H))
    for t in range(T + 1):
        M = np.tile(np.eye(H), (N, 1, 1))
        for s in range(t, T):  # steps t+1 .. T, whose caches are cache[t] .. cache[T-1]
            M = step_jacobian(cache[s]) @ M
        out[t] = M
    return out''',
    }),
    Fair("helpers defined in an answer cell and used by the others", {
        "activation_derivative": '''\
def _masked(g, h, nonlinearity):
    return g * activation_derivative(h, nonlinearity)

def activation_derivative(h, nonlinearity):
    return 1.0 - h * h if nonlinearity == "tanh" else (h > 0) * 1.0''',
        "rnn_step_backward": '''\
def _linear_back(dz, inputs, weights):
    return dz @ weights, dz.T @ inputs

def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dz = _masked(dh_next, h_next, nonlinearity)
    dx_t, dW_ih = _linear_back(dz, x_t, W_ih)
    dh_prev, dW_hh = _linear_back(dz, h_prev, W_hh)
    return dict(dx_t=dx_t, dh_prev=dh_prev, dW_ih=dW_ih, dW_hh=dW_hh, db_ih=np.sum(dz, 0), db_hh=np.sum(dz, 0))''',
        "step_jacobian": '''\
def step_jacobian(cache_t):
    return _masked(np.ones_like(cache_t[4])[:, :, None], cache_t[4][:, :, None], cache_t[5]) * cache_t[3]''',
    }),
    Fair("clip_grad_norm with global_norm and an if; clip_grad_value with np.where", {
        "clip_grad_norm": '''\
def clip_grad_norm(grads, max_norm):
    norm = global_norm(grads)
    clipped = dict(grads)
    if norm > max_norm:
        factor = max_norm / (norm + 1e-6)
        clipped = {name: factor * g for name, g in grads.items()}
    return clipped, norm''',
        "clip_grad_value": '''\
def clip_grad_value(grads, clip):
    return {k: np.where(g > clip, clip, np.where(g < -clip, -clip, g)) for k, g in grads.items()}''',
    }),
    Fair("recursive rnn_backward over the remaining steps", {
        "rnn_backward": '''\
def rnn_backward(dout, cache, dh_n=None):
    dh = np.zeros_like(dout[-1]) if dh_n is None else dh_n
    step = rnn_step_backward(dout[-1] + dh, cache[-1])
    if len(cache) == 1:
        return {"dx": step["dx_t"][None], "dh0": step["dh_prev"],
                **{k: step[k] for k in ("dW_ih", "dW_hh", "db_ih", "db_hh")}}
    rest = rnn_backward(dout[:-1], cache[:-1], step["dh_prev"])
    return {"dx": np.concatenate([rest["dx"], step["dx_t"][None]]), "dh0": rest["dh0"],
            **{k: rest[k] + step[k] for k in ("dW_ih", "dW_hh", "db_ih", "db_hh")}}''',
    }),
    # Chapter 1's forward pass as the student pasted it: their own code, written another way,
    # with the cache chapter 1 suggests (the format this exercise asks for).
    Fair("chapter 1's forward pasted as written with einsum and a preallocated output", {
        "rnn_step_forward": '''\
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    z = np.einsum("nd,hd->nh", x_t, W_ih) + np.einsum("nk,hk->nh", h_prev, W_hh)
    h_next = activation(nonlinearity)(z + (b_ih + b_hh))
    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)''',
        "rnn_forward": '''\
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", batch_first=False):
    xs = np.swapaxes(x, 0, 1) if batch_first else x
    out = np.empty((len(xs),) + h0.shape)
    cache, h = [], h0
    for t in range(len(xs)):
        h, step = rnn_step_forward(xs[t], h, W_ih, W_hh, b_ih, b_hh, nonlinearity)
        out[t] = h
        cache.append(step)
    return (np.swapaxes(out, 0, 1) if batch_first else out), cache''',
    }),
]
