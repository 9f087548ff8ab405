"""Chapter 1: the vanilla (Elman) RNN forward pass in numpy.

Shapes use one letter per dimension throughout the course:
N batch, T time steps, D input features, H hidden units, O outputs.

Weights follow ``torch.nn.RNN`` so parity tests copy them straight across:
``W_ih`` (H, D), ``W_hh`` (H, H), ``b_ih`` (H,), ``b_hh`` (H,), and

    h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)

Forward functions return ``(out, cache)``; chapter 2's backward functions consume the cache.
Checks compare against torch in float64 with rtol=1e-10 (tests/test_rnn_reference.py).
"""
import numpy as np


def activation(name):
    """Return the elementwise nonlinearity ``name`` ("tanh" or "relu")."""
    if name == "tanh":
        return np.tanh
    if name == "relu":
        return lambda z: np.maximum(z, 0.0)
    raise ValueError(f"unknown nonlinearity {name!r}: use 'tanh' or 'relu'")


def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):
    """One step of a single recurrent neuron.

    Inputs (all scalars):
    - x_t: input at time t
    - h_prev: hidden state at time t-1
    - w_x, w_h, b: input weight, recurrent weight, bias

    Returns:
    - h_t = tanh(w_x * x_t + w_h * h_prev + b), a scalar
    """
    return np.tanh(w_x * x_t + w_h * h_prev + b)


def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh,
                     nonlinearity="tanh"):
    """One time step of a batched RNN layer.

    Inputs:
    - x_t: inputs at time t, shape (N, D)
    - h_prev: hidden states at time t-1, shape (N, H)
    - W_ih: input-to-hidden weights, shape (H, D)
    - W_hh: hidden-to-hidden weights, shape (H, H)
    - b_ih, b_hh: biases, shape (H,)
    - nonlinearity: "tanh" or "relu"

    Returns a tuple of:
    - h_next: hidden states at time t, shape (N, H)
    - cache: (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity), for the
      backward pass
    """
    z = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # (N, H)
    h_next = activation(nonlinearity)(z)
    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)


def combine_weights(W_ih, W_hh):
    """Stack the two weight matrices side by side: W = [W_ih, W_hh].

    Inputs:
    - W_ih: shape (H, D)
    - W_hh: shape (H, H)

    Returns:
    - W: shape (H, D + H), so that
      [x_t, h_prev] @ W.T == x_t @ W_ih.T + h_prev @ W_hh.T
    """
    return np.concatenate([W_ih, W_hh], axis=1)


def rnn_step_combined(x_t, h_prev, W, b):
    """One tanh RNN step with the combined weight matrix: one matmul, not two.

    Inputs:
    - x_t: shape (N, D)
    - h_prev: shape (N, H)
    - W: combined weights [W_ih, W_hh], shape (H, D + H)
    - b: combined bias b_ih + b_hh, shape (H,)

    Returns:
    - h_next: shape (N, H)
    """
    xh = np.concatenate([x_t, h_prev], axis=1)  # (N, D + H)
    return np.tanh(xh @ W.T + b)


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh",
                batch_first=False):
    """Run an RNN layer over a whole sequence, one step at a time.

    Inputs:
    - x: input sequence, shape (T, N, D), or (N, T, D) when batch_first
    - h0: initial hidden states, shape (N, H)
    - W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,): the weights, shared by
      every step
    - nonlinearity: "tanh" or "relu"
    - batch_first: layout of x and of the output, as in torch.nn.RNN

    Returns a tuple of:
    - out: hidden states at every step, shape (T, N, H), or (N, T, H) when
      batch_first; the last step, out[-1] (out[:, -1] when batch_first), is
      torch's h_n for one layer
    - cache: list of the T step caches, for the backward pass
    """
    if batch_first:
        x = x.transpose(1, 0, 2)  # (T, N, D)
    h, hs, cache = h0, [], []
    for x_t in x:
        h, step_cache = (
            rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity))
        hs.append(h)
        cache.append(step_cache)
    out = np.stack(hs)  # (T, N, H)
    if batch_first:
        out = out.transpose(1, 0, 2)  # (N, T, H)
    return out, cache


def output_layer(h, V, c):
    """Affine read-out of hidden states: y = h @ V.T + c.

    Inputs:
    - h: hidden states, shape (..., H), e.g. (N, H) or (T, N, H)
    - V: output weights, shape (O, H)
    - c: output bias, shape (O,)

    Returns:
    - y: shape (..., O)
    """
    return h @ V.T + c


def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
    """Read a whole sequence, predict once from its last hidden state.

    Inputs:
    - x: shape (T, N, D); h0: shape (N, H)
    - W_ih, W_hh, b_ih, b_hh: tanh RNN weights as in rnn_forward
    - V: shape (O, H); c: shape (O,)

    Returns:
    - y: one prediction per sequence, shape (N, O)
    """
    out, _ = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    return output_layer(out[-1], V, c)
