"""Chapter 3: LSTM and GRU, equation by equation, in numpy.

Shapes use one letter per dimension throughout the course:
N batch, T time steps, D input features, H hidden units.

Weights follow ``torch.nn.LSTM`` / ``torch.nn.GRU`` so parity tests copy them
straight across: the gates' weights are stacked along axis 0, in torch's order,

    LSTM: W_ih (4H, D), W_hh (4H, H), b_ih (4H,), b_hh (4H,), gates i, f, g, o
    GRU:  W_ih (3H, D), W_hh (3H, H), b_ih (3H,), b_hh (3H,), gates r, z, n

and the equations are torch's (s is the logistic sigmoid, * elementwise):

    LSTM: i = s(W_ii x + b_ii + W_hi h + b_hi)
          f = s(W_if x + b_if + W_hf h + b_hf)
          g = tanh(W_ig x + b_ig + W_hg h + b_hg)
          o = s(W_io x + b_io + W_ho h + b_ho)
          c' = f * c + i * g
          h' = o * tanh(c')

    GRU:  r = s(W_ir x + b_ir + W_hr h + b_hr)
          z = s(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
          h' = (1 - z) * n + z * h

Other sources order and store the same numbers differently (reorder_gates,
to_keras, from_keras): Keras keeps kernels transposed, (D, 4H) and (H, 4H),
one LSTM bias, LSTM gates i, f, c, o (c is torch's g) and GRU gates z, r, h
(h is torch's n); CS231n's assignment uses Wx (D, 4H), Wh (H, 4H), one bias
and the order i, f, o, g.

Every line is at most 79 characters wide, for chapter 3's exercise.

Forward functions return their outputs and a cache; the backward functions
consume the cache. Checks: against torch in float64 with rtol=1e-10, and
against centred differences (eps=1e-5) with a relative error below 1e-7
(tests/test_lstm_reference.py).
"""
import numpy as np


def sigmoid(z):
    """The logistic function 1 / (1 + exp(-z)), elementwise, overflow-free.

    exp is only taken of -|z| <= 0: with e = exp(-|z|), the result is
    1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    """
    e = np.exp(-np.abs(z))
    return np.where(np.asarray(z) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------- LSTM forward
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """One time step of an LSTM layer (torch.nn.LSTMCell).

    Inputs:
    - x_t: inputs at time t, shape (N, D)
    - h_prev, c_prev: hidden and cell states at time t-1, shape (N, H)
    - W_ih: input-to-hidden weights, shape (4H, D), gates stacked i, f, g, o
    - W_hh: hidden-to-hidden weights, shape (4H, H), same order
    - b_ih, b_hh: biases, shape (4H,)

    Returns a tuple of:
    - h_next: hidden states at time t, shape (N, H)
    - c_next: cell states at time t, shape (N, H)
    - cache: (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next), for
      the backward pass; the gates are activated, each (N, H)
    """
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # each (N, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    cache = (x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)
    return h_next, c_next, cache


def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, batch_first=False):
    """Run an LSTM layer over a whole sequence (torch.nn.LSTM, one layer).

    Inputs:
    - x: input sequence, shape (T, N, D), or (N, T, D) when batch_first
    - h0, c0: initial hidden and cell states, shape (N, H)
    - W_ih (4H, D), W_hh (4H, H), b_ih (4H,), b_hh (4H,): the weights,
      shared by every step
    - batch_first: layout of x and of out, as in torch.nn.LSTM

    Returns a tuple of:
    - (out, (h_n, c_n)), as torch.nn.LSTM returns them:
      out: hidden states at every step, shape (T, N, H), or (N, T, H) when
      batch_first; h_n, c_n: the last hidden and cell states, shape (N, H)
      (torch's have a leading axis of length 1, one layer)
    - cache: list of the T step caches, time-major, for lstm_backward
    """
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
    return (out, (h, c)), cache


# --------------------------------------------------------------- LSTM backward
def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step (lstm_step_forward).

    Inputs:
    - dh_next: gradient of the loss w.r.t. h_next, shape (N, H)
    - dc_next: gradient of the loss w.r.t. c_next from later steps,
      shape (N, H)
    - cache: from lstm_step_forward

    Returns a dict of gradients:
    - dx_t (N, D), dh_prev (N, H), dc_prev (N, H), dW_ih (4H, D),
      dW_hh (4H, H), db_ih (4H,), db_hh (4H,)
    The cell state receives gradient twice: from the next step (dc_next)
    and through h_next = o * tanh(c_next).
    """
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
            "db_ih": da.sum(axis=0), "db_hh": da.sum(axis=0)}


def lstm_backward(dout, cache, dh_n=None, dc_n=None):
    """Backward pass over a whole sequence (lstm_forward, time-major).

    Inputs:
    - dout: gradient of the loss w.r.t. every hidden state out,
      shape (T, N, H)
    - cache: the list of T step caches from lstm_forward
    - dh_n, dc_n: optional gradients w.r.t. the final states h_n and c_n,
      shape (N, H); dh_n adds to dout[-1], since h_n and out[-1] are the
      same state

    Returns a dict of gradients:
    - dx (T, N, D), dh0 (N, H), dc0 (N, H), dW_ih (4H, D), dW_hh (4H, H),
      db_ih (4H,), db_hh (4H,)
    Both states' gradients are carried backwards from step to step; the
    weight gradients are summed over steps.
    """
    x_0, h0, c0, W_ih, W_hh, _, _ = cache[0]
    dx = np.zeros((len(cache),) + x_0.shape)
    dh = np.zeros(h0.shape) if dh_n is None else np.array(dh_n, dtype=float)
    dc = np.zeros(c0.shape) if dc_n is None else np.array(dc_n, dtype=float)
    grads = {"dW_ih": np.zeros(W_ih.shape), "dW_hh": np.zeros(W_hh.shape),
             "db_ih": np.zeros(W_hh.shape[0]),
             "db_hh": np.zeros(W_hh.shape[0])}
    for t in reversed(range(len(cache))):
        step = lstm_step_backward(dh + dout[t], dc, cache[t])
        dx[t], dh, dc = step["dx_t"], step["dh_prev"], step["dc_prev"]
        for name in grads:
            grads[name] += step[name]
    return {"dx": dx, "dh0": dh, "dc0": dc, **grads}


# ----------------------------------------------------------------- GRU forward
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    """One time step of a GRU layer (torch.nn.GRUCell when reset_after).

    Inputs:
    - x_t: inputs at time t, shape (N, D)
    - h_prev: hidden states at time t-1, shape (N, H)
    - W_ih: input-to-hidden weights, shape (3H, D), gates stacked r, z, n
    - W_hh: hidden-to-hidden weights, shape (3H, H), same order
    - b_ih, b_hh: biases, shape (3H,)
    - reset_after: where the reset gate acts in the candidate n:
      True (torch, cuDNN, Keras's default):
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
      False (Cho et al. 2014's equation, Keras's reset_after=False):
          n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)

    Returns a tuple of:
    - h_next = (1 - z) * n + z * h_prev, shape (N, H)
    - cache: (x_t, h_prev, W_ih, W_hh, (r, z, n), a_hn, reset_after), where
      a_hn (N, H) is the candidate's recurrent term: W_hn h + b_hn before
      the reset gate when reset_after, W_hn (r * h) + b_hn otherwise
    """
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
    return h_next, (x_t, h_prev, W_ih, W_hh, (r, z, n), a_hn, reset_after)


def gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh, reset_after=True,
                batch_first=False):
    """Run a GRU layer over a whole sequence (torch.nn.GRU, one layer, when
    reset_after).

    Inputs:
    - x: input sequence, shape (T, N, D), or (N, T, D) when batch_first
    - h0: initial hidden states, shape (N, H)
    - W_ih (3H, D), W_hh (3H, H), b_ih (3H,), b_hh (3H,): the weights,
      shared by every step
    - reset_after: as in gru_step_forward
    - batch_first: layout of x and of out, as in torch.nn.GRU

    Returns a tuple of:
    - out: hidden states at every step, shape (T, N, H), or (N, T, H) when
      batch_first; the last step is torch's h_n for one layer
    - cache: list of the T step caches, time-major
    """
    if batch_first:
        x = x.transpose(1, 0, 2)  # (T, N, D)
    h, hs, cache = h0, [], []
    for x_t in x:
        h, step_cache = (
            gru_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, reset_after))
        hs.append(h)
        cache.append(step_cache)
    out = np.stack(hs)  # (T, N, H)
    if batch_first:
        out = out.transpose(1, 0, 2)  # (N, T, H)
    return out, cache


# ----------------------------------------------------------------- gate orders
GATE_ALIASES = {"c": "g", "h": "n"}  # Keras's names of torch's LSTM g, GRU n


def reorder_gates(W, from_order, to_order, axis=0):
    """Rearrange the gate blocks of a stacked weight or bias.

    Inputs:
    - W: gate blocks stacked along ``axis``, e.g. W_ih (4H, D), W_hh (4H, H)
      or b (4H,) in torch's layout; a Keras kernel (D, 4H) has its gates
      along axis 1
    - from_order, to_order: one letter per gate, e.g. "ifgo" (torch LSTM),
      "ifco" (Keras LSTM: the same order, c is g), "ifog" (CS231n),
      "rzn" (torch GRU), "zrh" (Keras GRU: h is n)
    - axis: the axis along which the gates are stacked

    Returns:
    - the same blocks in to_order, a new array of the shape of W
    """
    source = [GATE_ALIASES.get(k, k) for k in from_order]
    target = [GATE_ALIASES.get(k, k) for k in to_order]
    if sorted(source) != sorted(target) or len(set(source)) != len(source):
        raise ValueError(
            f"{to_order!r} is not a rearrangement of {from_order!r}")
    if W.shape[axis] % len(source):
        raise ValueError(f"axis {axis} of length {W.shape[axis]} does not "
                         f"split into {len(source)} gates")
    blocks = np.split(W, len(source), axis=axis)
    return np.concatenate([blocks[source.index(k)] for k in target],
                          axis=axis)


def to_keras(W_ih, W_hh, b_ih, b_hh):
    """torch LSTM or GRU weights as a Keras LSTM or GRU layer's weights
    (GRU with Keras's default reset_after=True).

    Inputs:
    - torch's weights: W_ih (4H, D) or (3H, D), W_hh (4H, H) or (3H, H),
      b_ih and b_hh (4H,) or (3H,)

    Returns a tuple (kernel, recurrent_kernel, bias), Keras's get_weights():
    - LSTM: kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,) =
      b_ih + b_hh, gates i, f, c, o
    - GRU: kernel (D, 3H), recurrent_kernel (H, 3H), bias (2, 3H) =
      [b_ih, b_hh], gates z, r, h
    """
    gates = W_hh.shape[0] // W_hh.shape[1]
    order = {4: ("ifgo", "ifco"), 3: ("rzn", "zrh")}[gates]
    kernel = reorder_gates(W_ih, *order).T
    recurrent_kernel = reorder_gates(W_hh, *order).T
    b_ih, b_hh = reorder_gates(b_ih, *order), reorder_gates(b_hh, *order)
    bias = b_ih + b_hh if gates == 4 else np.stack([b_ih, b_hh])
    return kernel, recurrent_kernel, bias


def from_keras(kernel, recurrent_kernel, bias):
    """A Keras LSTM or GRU layer's weights (GRU with reset_after=True) as
    torch's: the inverse of to_keras.

    Inputs:
    - kernel (D, 4H) or (D, 3H), recurrent_kernel (H, 4H) or (H, 3H),
      bias (4H,) or (2, 3H)

    Returns a tuple (W_ih, W_hh, b_ih, b_hh) in torch's layout and order;
    an LSTM's one bias goes to b_ih, and b_hh is zeros (only the sum of
    the two biases matters).
    """
    gates = kernel.shape[1] // recurrent_kernel.shape[0]
    order = {4: ("ifco", "ifgo"), 3: ("zrh", "rzn")}[gates]
    W_ih = reorder_gates(kernel.T, *order)
    W_hh = reorder_gates(recurrent_kernel.T, *order)
    if gates == 4:
        return W_ih, W_hh, reorder_gates(bias, *order), np.zeros(bias.shape)
    b_ih, b_hh = reorder_gates(bias[0], *order), reorder_gates(bias[1], *order)
    return W_ih, W_hh, b_ih, b_hh


# ------------------------------------------------------------ parameter counts
def rnn_param_count(D, H):
    """Parameters of a one-layer torch.nn.RNN: W_ih (H, D), W_hh (H, H),
    b_ih (H,), b_hh (H,)."""
    return H * D + H * H + 2 * H


def lstm_param_count(D, H):
    """Parameters of a one-layer torch.nn.LSTM: four gates, each a vanilla
    RNN's worth."""
    return 4 * rnn_param_count(D, H)


def gru_param_count(D, H):
    """Parameters of a one-layer torch.nn.GRU: three gates, each a vanilla
    RNN's worth."""
    return 3 * rnn_param_count(D, H)


# ----------------------------------------------------------------- long memory
def lstm_step_jacobian(cache_t):
    """Jacobian of one LSTM step w.r.t. its state s = [h, c], for every
    sequence.

    Inputs:
    - cache_t: one step cache from lstm_step_forward

    Returns:
    - J: shape (N, 2H, 2H), J[n] = d [h_t, c_t] / d [h_{t-1}, c_{t-1}] for
      sequence n; the block J[:, H:, H:] = diag(f_t) is the cell path (the
      "constant error carousel" when f = 1)
    """
    _, _, c_prev, _, W_hh, (i, f, g, o), c_next = cache_t
    H = c_prev.shape[1]
    W_i, W_f, W_g, W_o = np.split(W_hh, 4, axis=0)  # each (H, H)
    tanh_c = np.tanh(c_next)

    def rows(v):  # diag(v) @ W for every sequence: (N, H) -> (N, H, 1)
        return v[:, :, None]

    dc_dh = (rows(c_prev * f * (1 - f)) * W_f + rows(g * i * (1 - i)) * W_i
             + rows(i * (1 - g ** 2)) * W_g)  # (N, H, H)
    dc_dc = rows(f) * np.eye(H)
    dh_dh = (rows(tanh_c * o * (1 - o)) * W_o
             + rows(o * (1 - tanh_c ** 2)) * dc_dh)
    dh_dc = rows(o * (1 - tanh_c ** 2)) * dc_dc
    return np.block([[dh_dh, dh_dc], [dc_dh, dc_dc]])


def lstm_state_jacobians(cache):
    """Jacobians of the last state w.r.t. every state, as a product of step
    Jacobians.

    Inputs:
    - cache: the list of T step caches from lstm_forward

    Returns:
    - J: shape (T + 1, N, 2H, 2H), J[t] = d [h_T, c_T] / d [h_t, c_t]
      (J[T] = identity); the lag of J[t] is T - t
    """
    N, H = cache[-1][-1].shape
    chain = [np.broadcast_to(np.eye(2 * H), (N, 2 * H, 2 * H)).copy()]
    for step in reversed(cache):
        chain.append(chain[-1] @ lstm_step_jacobian(step))
    return np.stack(chain[::-1])


def lstm_jacobian_norms(cache, block="cc", ord=2):
    """Norms of a block of d [h_T, c_T] / d [h_t, c_t] for t = 0..T, for
    plotting against the lag T - t.

    Inputs:
    - cache: the list of T step caches from lstm_forward
    - block: "cc" (d c_T / d c_t, the long memory), "hh", "hc"
      (d h_T / d c_t), "ch", or "all" (the whole 2H x 2H Jacobian)
    - ord: matrix norm as in np.linalg.norm: 2 (largest singular value) or
      "fro"

    Returns:
    - norms: shape (T + 1, N); compare solutions.bptt.hidden_jacobian_norms
      for a vanilla RNN
    """
    J = lstm_state_jacobians(cache)
    H = J.shape[-1] // 2
    part = {"h": slice(0, H), "c": slice(H, None)}
    if block != "all":
        J = J[..., part[block[0]], part[block[1]]]
    return np.linalg.norm(J, ord=ord, axis=(-2, -1))


def forget_products(cache):
    """The cell path alone: prod_{k=t+1..T} f_k, for t = 0..T.

    d c_T / d c_t would be the diagonal matrix of this product if the gates
    did not depend on the state (paths through h add to it); it stays near 1
    over long lags when the forget gates stay near 1.

    Inputs:
    - cache: the list of T step caches from lstm_forward

    Returns:
    - P: shape (T + 1, N, H), P[T] = 1
    """
    f = np.stack([step[5][1] for step in cache])  # (T, N, H)
    ones = np.ones((1,) + f.shape[1:])
    return np.concatenate([np.cumprod(f[::-1], axis=0)[::-1], ones])
