"""Chapter 2: backpropagation through time (BPTT) for the vanilla RNN, numpy.

Shapes use one letter per dimension throughout the course:
N batch, T time steps, D input features, H hidden units, O outputs.

The forward pass is chapter 1's (``solutions.rnn``): ``rnn_step_forward``
returns the step cache ``(x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)`` and
``rnn_forward`` the list of the T step caches. The backward functions here
consume exactly those caches. Both nonlinearities have a derivative that can
be written with the output ``h = act(z)`` alone, so the cache needs no ``z``:

    tanh'(z) = 1 - h**2,    relu'(z) = 1 if h > 0 else 0  (0 at z = 0: torch)

Time is indexed as in the lesson: h_0 is the initial state, h_t = out[t - 1]
for t = 1..T. Parameters of the training task are a dict
``{"W_ih", "W_hh", "b_ih", "b_hh", "V", "c"}``; gradients are named after what
they differentiate (``"dW_ih"``...).

Every function is at most 79 characters wide: chapter 2's exercise shows them
(autograder/source/ch02_bptt, `python -m autograder sync`).

Checks: against torch autograd in float64 with rtol=1e-10, and against centred
differences (eps=1e-6) with a relative error of at most 1e-6
(tests/test_bptt_reference.py).
"""
import numpy as np

from solutions.rnn import output_layer, rnn_forward


# ------------------------------------------------------------- backward passes
def activation_derivative(h, nonlinearity):
    """act'(z) written with the output h = act(z); shape of h."""
    if nonlinearity == "tanh":
        return 1.0 - h ** 2
    if nonlinearity == "relu":
        return (h > 0).astype(h.dtype)
    raise ValueError(
        f"unknown nonlinearity {nonlinearity!r}: use 'tanh' or 'relu'")


def rnn_step_backward(dh_next, cache):
    """Backward pass of one RNN step (chapter 1's rnn_step_forward).

    Inputs:
    - dh_next: gradient of the loss w.r.t. h_next, shape (N, H); at step t
      of a sequence this is the gradient from the output at t plus the one
      coming back from step t + 1
    - cache: (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity) from
      rnn_step_forward

    Returns a dict of gradients:
    - dx_t (N, D), dh_prev (N, H), dW_ih (H, D), dW_hh (H, H), db_ih (H,),
      db_hh (H,)
    """
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dz = dh_next * activation_derivative(h_next, nonlinearity)  # (N, H)
    return {"dx_t": dz @ W_ih, "dh_prev": dz @ W_hh,
            "dW_ih": dz.T @ x_t, "dW_hh": dz.T @ h_prev,
            "db_ih": dz.sum(axis=0), "db_hh": dz.sum(axis=0)}


def rnn_backward(dout, cache, dh_n=None):
    """Backward pass over a whole sequence (chapter 1's rnn_forward,
    time-major).

    Inputs:
    - dout: gradient of the loss w.r.t. every hidden state out,
      shape (T, N, H)
    - cache: the list of T step caches from rnn_forward
    - dh_n: optional gradient w.r.t. the final state h_T, shape (N, H)
      (torch's h_n); it adds to dout[-1], since h_n and out[-1] are the
      same state

    Returns a dict of gradients:
    - dx (T, N, D), dh0 (N, H), dW_ih (H, D), dW_hh (H, H), db_ih (H,),
      db_hh (H,)
    The hidden-state gradient is carried backwards: at step t it is dout[t]
    plus dh_prev from step t + 1. The weights are shared by every step, so
    their gradients are summed over steps.
    """
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
    return {"dx": dx, "dh0": dh, **grads}


# ----------------------------------------------------- vanishing and exploding
def step_jacobian(cache_t):
    """Jacobian of one step, d h_t / d h_{t-1} = diag(act'(z_t)) W_hh, for
    every sequence.

    Inputs:
    - cache_t: one step cache from rnn_step_forward

    Returns:
    - J: shape (N, H, H), J[n, i, j] = d h_t[n, i] / d h_{t-1}[n, j]
    """
    _, _, _, W_hh, h_next, nonlinearity = cache_t
    return activation_derivative(h_next, nonlinearity)[:, :, None] * W_hh


def hidden_jacobians(cache):
    """Jacobians of the last state w.r.t. every state, as a product of step
    Jacobians.

    Inputs:
    - cache: the list of T step caches from rnn_forward

    Returns:
    - J: shape (T + 1, N, H, H),
      J[t] = d h_T / d h_t = J_T J_{T-1} ... J_{t+1} (J[T] = identity);
      the lag of J[t] is T - t
    """
    N, H = cache[-1][4].shape
    chain = [np.broadcast_to(np.eye(H), (N, H, H)).copy()]
    for step in reversed(cache):
        chain.append(chain[-1] @ step_jacobian(step))
    return np.stack(chain[::-1])


def hidden_jacobian_norms(cache, ord=2):
    """Norms ||d h_T / d h_t|| for t = 0..T, for plotting against the lag
    T - t.

    Inputs:
    - cache: the list of T step caches from rnn_forward
    - ord: matrix norm as in np.linalg.norm: 2 (largest singular value) or
      "fro"

    Returns:
    - norms: shape (T + 1, N), norms[t, n] for sequence n
    """
    return np.linalg.norm(hidden_jacobians(cache), ord=ord, axis=(-2, -1))


# -------------------------------------------------------------------- clipping
def global_norm(grads):
    """The 2-norm of all gradients together, as if flattened into one
    vector (a float)."""
    return float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))


def clip_grad_norm(grads, max_norm):
    """Rescale all gradients together when their global norm is above
    max_norm.

    Same rule as torch.nn.utils.clip_grad_norm_ (norm_type 2):
    scale = max_norm / (norm + 1e-6), applied when it is below 1; the
    direction of the whole gradient is kept.

    Inputs:
    - grads: dict name -> array
    - max_norm: a positive float

    Returns a tuple of:
    - clipped: a new dict, same keys and shapes (the input arrays are not
      modified)
    - norm: the global norm before clipping (what torch returns)
    """
    total = global_norm(grads)
    scale = min(max_norm / (total + 1e-6), 1.0)
    return {k: g * scale for k, g in grads.items()}, total


def clip_grad_value(grads, clip):
    """Clip every gradient entry to [-clip, clip], as
    torch.nn.utils.clip_grad_value_.

    Each entry is clipped on its own, so the direction of the gradient may
    change. Returns a new dict, same keys and shapes.
    """
    return {k: np.clip(g, -clip, clip) for k, g in grads.items()}


# ----------------------------------------------------------- read-out and loss
def readout_forward(h, V, c):
    """Linear read-out of hidden states, y = h @ V.T + c (chapter 1's
    output_layer).

    Inputs:
    - h: shape (..., H), e.g. (T, N, H); V: shape (O, H); c: shape (O,)

    Returns a tuple of:
    - y: shape (..., O)
    - cache: (h, V)
    """
    return output_layer(h, V, c), (h, V)


def readout_backward(dy, cache):
    """Backward pass of readout_forward.

    Inputs:
    - dy: shape (..., O); cache: (h, V) from readout_forward

    Returns a dict of gradients: dh (..., H), dV (O, H), dc (O,)
    """
    h, V = cache
    dy2, h2 = dy.reshape(-1, dy.shape[-1]), h.reshape(-1, h.shape[-1])
    return {"dh": dy @ V, "dV": dy2.T @ h2, "dc": dy2.sum(axis=0)}


def mse_loss(pred, target):
    """Mean squared error over every entry (torch.nn.MSELoss()) and its
    gradient.

    Inputs:
    - pred, target: same shape, e.g. (T, N, O)

    Returns a tuple of:
    - loss: a float, mean((pred - target) ** 2)
    - dpred: gradient w.r.t. pred, shape of pred
    """
    diff = pred - target
    return float(np.mean(diff ** 2)), 2.0 * diff / diff.size


def sequence_loss(params, x, y, h0, n_loss=None, nonlinearity="tanh"):
    """Forward and backward through an RNN with a read-out, MSE on the last
    n_loss steps.

    Inputs:
    - params: dict with W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,),
      V (O, H), c (O,)
    - x: inputs, shape (T, N, D); y: targets, shape (T, N, O)
    - h0: initial state, shape (N, H)
    - n_loss: the loss covers the last n_loss steps (all T when None);
      earlier steps only pass the gradient back (the overlap of truncated
      BPTT with k2 > k1)

    Returns a tuple of:
    - loss: a float, the mean squared error over the last n_loss steps
    - grads: dict dW_ih, dW_hh, db_ih, db_hh, dV, dc (shapes of the
      parameters) and dh0 (N, H)
    - out: the hidden states, shape (T, N, H)
    """
    T = len(x)
    first = T - (T if n_loss is None else n_loss)
    out, cache = rnn_forward(x, h0, params["W_ih"], params["W_hh"],
                             params["b_ih"], params["b_hh"], nonlinearity)
    pred, readout_cache = readout_forward(out[first:], params["V"],
                                          params["c"])
    loss, dpred = mse_loss(pred, y[first:])
    dread = readout_backward(dpred, readout_cache)
    dout = np.zeros_like(out)
    dout[first:] = dread["dh"]
    grads = rnn_backward(dout, cache)
    del grads["dx"]
    return loss, {**grads, "dV": dread["dV"], "dc": dread["dc"]}, out


# -------------------------------------------------------------- truncated BPTT
def init_params(D, H, O, rng=None):
    """Parameters drawn as torch.nn.RNN and torch.nn.Linear draw them:
    U(-1/sqrt(H), 1/sqrt(H)).

    Returns a dict W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,), V (O, H),
    c (O,).
    """
    rng = np.random.default_rng(rng)
    k = 1.0 / np.sqrt(H)
    shapes = {"W_ih": (H, D), "W_hh": (H, H), "b_ih": (H,), "b_hh": (H,),
              "V": (O, H), "c": (O,)}
    return {name: rng.uniform(-k, k, size=shape)
            for name, shape in shapes.items()}


def truncation_segments(T, k1, randomised=False, rng=None):
    """Split time steps 0..T-1 into consecutive segments [start, stop), one
    update each.

    Regular truncation: every segment has k1 steps (the last one may be
    shorter). Randomised truncation: each length is drawn uniformly from
    1..2*k1-1 (mean k1), so the truncation points move from one pass to the
    next instead of always cutting the same lags.

    Returns a list of (start, stop) pairs covering 0..T-1 once, in order.
    """
    rng = np.random.default_rng(rng)
    segments, start = [], 0
    while start < T:
        length = int(rng.integers(1, 2 * k1)) if randomised else k1
        segments.append((start, min(start + length, T)))
        start = segments[-1][1]
    return segments


def train_tbptt(x, y, params, k1, k2=None, lr=0.1, epochs=1, clip=None,
                randomised=False, rng=None, nonlinearity="tanh"):
    """Train an RNN with a read-out by truncated BPTT(k1, k2) and plain SGD.

    The sequence is read one segment of k1 steps at a time, carrying the
    hidden state from one segment to the next. After each segment: the loss
    of its k1 steps is backpropagated through k2 >= k1 steps (the segment
    and the k2 - k1 steps before it, rerun from their stored start state
    with the current parameters); the gradient stops there; clip; SGD step.
    k1 = k2 = T is full BPTT, one update per pass. With randomised=True the
    segment lengths are drawn per segment (truncation_segments) and each one
    backpropagates k2 - k1 extra steps. No compensation of the bias of
    truncation is done (Tallec & Ollivier's ARTBP adds one).

    Inputs:
    - x: inputs, shape (T, N, D); y: targets, shape (T, N, O)
    - params: dict as from init_params (not modified)
    - k1: steps between updates; k2: steps backpropagated per update
      (default k1)
    - lr: SGD step size; epochs: passes over the sequence, each starting
      from h_0 = 0
    - clip: None, or the max_norm of clip_grad_norm
    - randomised, rng: randomised truncation and its seed or Generator

    Returns a tuple of:
    - params: the trained parameters, a new dict
    - history: dict of lists, one entry per update: "loss" (the segment's
      MSE before the update) and "grad_norm" (global norm of the gradient
      before clipping)
    """
    k2 = k1 if k2 is None else k2
    if k2 < k1:
        raise ValueError(f"k2 = {k2} must be at least k1 = {k1}")
    rng = np.random.default_rng(rng)
    params = {name: np.array(value, dtype=np.float64)
              for name, value in params.items()}
    T, N = x.shape[:2]
    H = params["W_hh"].shape[0]
    history = {"loss": [], "grad_norm": []}
    for _ in range(epochs):
        states = [np.zeros((N, H))]  # states[t] = h_t
        for start, stop in truncation_segments(T, k1, randomised, rng):
            first = max(0, start - (k2 - k1))  # where the gradient is cut
            loss, grads, out = sequence_loss(
                params, x[first:stop], y[first:stop], states[first],
                n_loss=stop - start, nonlinearity=nonlinearity)
            states.extend(out[start - first:])  # h_{start+1} .. h_stop
            grads = {name: grads["d" + name] for name in params}
            if clip is None:
                norm = global_norm(grads)
            else:
                grads, norm = clip_grad_norm(grads, clip)
            params = {name: params[name] - lr * grads[name]
                      for name in params}
            history["loss"].append(loss)
            history["grad_norm"].append(norm)
    return params, history


def noisy_periodic_signal(T, N=1, period=20, noise=0.1, seed=0):
    """A next-value prediction task: sin(2 pi t / period + phase) plus
    Gaussian noise.

    Each of the N sequences has its own random phase; the target is the next
    noisy value.

    Returns a tuple of:
    - x: shape (T, N, 1), the signal at steps 0..T-1
    - y: shape (T, N, 1), the signal at steps 1..T
    """
    rng = np.random.default_rng(seed)
    t = np.arange(T + 1)[:, None]
    phase = rng.uniform(0.0, 2 * np.pi, size=N)
    s = (np.sin(2 * np.pi * t / period + phase)
         + noise * rng.normal(size=(T + 1, N)))
    return s[:-1, :, None], s[1:, :, None]


# ------------------------------------------------------------- gradient checks
def relative_error(a, b):
    """Elementwise |a - b| / max(|a| + |b|, 1e-8), in float64."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)


def numerical_gradient(f, inputs, name, eps=1e-6):
    """d f(**inputs) / d inputs[name] by centred differences,
    (f(+eps) - f(-eps)) / (2 eps).

    Inputs:
    - f: called as f(**inputs), returns a scalar
    - inputs: dict name -> array (or any other argument, passed through
      unchanged)
    - name: the input to differentiate; eps: the step

    Returns:
    - grad: float64 array, shape of inputs[name]
    Every evaluation gets fresh float64 copies of the array inputs (numbers
    too, booleans excepted): the caller's arrays are never perturbed, and f
    may modify what it receives.
    """
    numeric = (np.ndarray, float, int, np.number)
    base = {k: np.array(v, dtype=np.float64)
            if isinstance(v, numeric) and not isinstance(v, bool) else v
            for k, v in inputs.items()}
    grad = np.zeros(base[name].shape)
    for idx in np.ndindex(grad.shape):
        values = []
        for step in (eps, -eps):
            moved = {k: v.copy() if isinstance(v, np.ndarray) else v
                     for k, v in base.items()}
            moved[name][idx] += step
            values.append(float(f(**moved)))
        grad[idx] = (values[0] - values[1]) / (2 * eps)
    return grad


def grad_check(f, inputs, analytic, eps=1e-6):
    """Largest relative error of each analytic gradient against centred
    differences.

    Inputs:
    - f: called as f(**inputs), returns a scalar loss; to check a backward
      pass given dout, use f = lambda **a: np.sum(forward(**a)[0] * dout)
    - inputs: dict name -> array
    - analytic: dict of gradients, keyed by input name ("W_hh") or by
      "d" + name ("dW_hh"), so a backward pass's dict can be passed as it is
    - eps: step of the centred differences

    Returns:
    - dict, same keys as analytic -> max over entries of relative_error
      (a float); a correct float64 gradient gives about 1e-7 or less
    """
    errors = {}
    for key, grad in analytic.items():
        name = key if key in inputs else None
        if name is None and key.startswith("d") and key[1:] in inputs:
            name = key[1:]
        if name is None:
            raise ValueError(f"gradient {key!r} matches no input "
                             f"(inputs: {', '.join(inputs)})")
        numeric = numerical_gradient(f, inputs, name, eps)
        if np.shape(grad) != numeric.shape:
            raise ValueError(f"gradient {key!r} has shape {np.shape(grad)}, "
                             f"input {name!r} has {numeric.shape}")
        errors[key] = (float(relative_error(grad, numeric).max())
                       if numeric.size else 0.0)
    return errors
