"""Chapter 5: recurrent forecasters in torch: one-step (recursive), direct multi-output and
seq2seq encoder-decoder, trained on any device with early stopping on a validation split by time.

Importing this module imports torch; the numpy parts of the chapter (windows, scalers, baselines,
metrics) are in ``solutions.forecast`` and never import it.

Shapes (batch first, as the window gather produces them): N windows, W input steps, h horizon,
D input features (feature 0 is the series itself), H hidden units, L layers.

Teacher forcing is a training device only. The three models share one rule that makes a leak
impossible by construction:

- ``model(x, horizon)`` forecasts from the inputs x alone; the forecasting functions
  (``forecast_recursive``, ``forecast_direct``, ``forecast_seq2seq``, ``forecast_windows``)
  never receive the targets;
- ``model.train_forward(x, y, sample_prob)`` is the training path, the only one that reads y.
  For the seq2seq model it is teacher forcing: the decoder's input at step k is the true y_{k-1}
  (the last input value at k = 0), all h steps in **one fused nn.LSTM call** (cuDNN on a GPU);
  with scheduled sampling (Bengio et al. 2015, sample_prob > 0) each step's input is the
  model's own previous prediction with probability sample_prob (detached), one step at a time.

At prediction time the seq2seq decoder's input at step k is its own prediction at step k - 1.

Device: ``pick_device()`` is cuda when available, else cpu; ``WindowSet`` holds the padded series
on the device once and gathers batches of windows there by index, so no batch is copied from the
host during training. Checks: tests/test_forecast.py.
"""
import copy
import math
import platform
from pathlib import Path

import numpy as np
import torch
from torch import nn


def pick_device(prefer=None):
    """torch.device: ``prefer`` if given and usable, else cuda when available, else cpu."""
    if prefer is not None and (str(prefer) != "cuda" or torch.cuda.is_available()):
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device):
    """What a recorded timing ran on: the GPU's name, else the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------- windows on the device
class WindowSet:
    """Windows of padded series, kept on one device and gathered there by index.

    - values: float tensor (S, T_max) on the device (NaN padding is never gathered)
    - sid, start: long tensors (N,): window i reads values[sid[i], start[i] : start[i] + W + h]
    - window, horizon: W and h
    """

    def __init__(self, values, sid, start, window, horizon, device=None, dtype=torch.float32):
        device = pick_device(device)
        self.values = torch.as_tensor(np.asarray(values), dtype=dtype, device=device)
        self.sid = torch.as_tensor(np.asarray(sid), dtype=torch.long, device=device)
        self.start = torch.as_tensor(np.asarray(start), dtype=torch.long, device=device)
        self.window, self.horizon = int(window), int(horizon)
        self.offsets = torch.arange(self.window + self.horizon, device=device)

    def __len__(self):
        return len(self.sid)

    def gather(self, idx=None):
        """Windows idx (a long tensor on the device; None: all): x (n, W, 1) and y (n, h)."""
        sid, start = (self.sid, self.start) if idx is None else (self.sid[idx], self.start[idx])
        xy = self.values[sid[:, None], start[:, None] + self.offsets]  # (n, W + h)
        return xy[:, :self.window, None], xy[:, self.window:]


# ----------------------------------------------------------------------------- the decoder loop
def decode(step, state, first, horizon, targets=None):
    """Run a decoder for h steps, each fed the value before its own.

    Inputs:
    - step: function (prev, state) -> (pred, state), prev and pred (N, 1, 1)
    - state: the decoder's initial state (the encoder's final state)
    - first: the last observed value, the input of step 0, shape (N, 1, 1)
    - horizon: h, the number of steps
    - targets: the true values (N, h), for teacher forcing while training;
      None when forecasting

    Returns:
    - preds: shape (N, h). Step k > 0 reads targets[:, k - 1] when targets
      are given (teacher forcing), else its own prediction of step k - 1.
    """
    prev, preds = first, []
    for k in range(horizon):
        pred, state = step(prev, state)
        preds.append(pred)
        prev = pred if targets is None else targets[:, k, None, None]
    return torch.cat(preds, dim=1)[..., 0]


# ----------------------------------------------------------------------------- models
class Direct(nn.Module):
    """LSTM encoder and a linear head that emits all h steps at once (direct multi-output).

    With horizon=1 it is the one-step model that ``forecast_recursive`` iterates.
    """

    def __init__(self, hidden=64, horizon=1, layers=1, input_size=1):
        super().__init__()
        self.horizon = horizon
        self.encoder = nn.LSTM(input_size, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x, horizon=None):
        """x (N, W, D) -> forecast (N, h); horizon must be the trained one (or None)."""
        if horizon not in (None, self.horizon):
            raise ValueError(f"a direct model forecasts exactly {self.horizon} steps, not {horizon}")
        out, _ = self.encoder(x)  # (N, W, H)
        return self.head(out[:, -1])  # (N, h)

    def train_forward(self, x, y, sample_prob=0.0):
        """Training output: the same as forward (the targets are only the loss's)."""
        return self(x)


class Seq2Seq(nn.Module):
    """Encoder-decoder: an LSTM reads the window, its final (h, c) starts an LSTM decoder that
    emits one value per step from the previous value, read out by a linear layer.

    - encoder: nn.LSTM(D, H, L); decoder: nn.LSTM(1, H, L); head: nn.Linear(H, 1)
    """

    def __init__(self, hidden=64, layers=1, input_size=1):
        super().__init__()
        self.encoder = nn.LSTM(input_size, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(1, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def encode(self, x):
        """x (N, W, D) -> the encoder's final state ((L, N, H), (L, N, H))."""
        _, state = self.encoder(x)
        return state

    def decode_step(self, prev, state):
        """One decoder step: prev (N, 1, 1), state -> (prediction (N, 1, 1), new state)."""
        out, state = self.decoder(prev, state)
        return self.head(out), state

    def forward(self, x, horizon):
        """Forecast h steps from the inputs alone: x (N, W, D) -> (N, h).

        The decoder's input at step 0 is the last input value x[:, -1, 0]; at step k it is its
        own prediction at step k - 1.
        """
        return decode(self.decode_step, self.encode(x), x[:, -1:, :1], horizon)

    def train_forward(self, x, y, sample_prob=0.0):
        """Training output with teacher forcing: x (N, W, D), y (N, h) -> (N, h).

        sample_prob == 0: the decoder reads [x_W, y_1, ..., y_{h-1}] in one fused call.
        sample_prob > 0: scheduled sampling, step by step: each step's input is the model's own
        previous prediction (detached) with probability sample_prob, else the true value.
        """
        state = self.encode(x)
        prev = torch.cat([x[:, -1:, :1], y[:, :-1, None]], dim=1)  # (N, h, 1): inputs y_{k-1}
        if sample_prob == 0:
            out, _ = self.decoder(prev, state)  # (N, h, H), one call over the whole target
            return self.head(out)[..., 0]
        coins = torch.rand(y.shape, device=y.device) < sample_prob  # (N, h)
        inp, preds = prev[:, :1], []
        for k in range(y.shape[1]):
            pred, state = self.decode_step(inp, state)
            preds.append(pred)
            if k + 1 < y.shape[1]:
                own = pred.detach().to(prev.dtype)
                inp = torch.where(coins[:, k + 1, None, None], own, prev[:, k + 1:k + 2])
        return torch.cat(preds, dim=1)[..., 0]


# ----------------------------------------------------------------------------- forecasting (no targets)
def forecast_recursive(model, x, horizon):
    """Iterate a one-step model over the horizon, fed its own predictions.

    Inputs:
    - model: maps a window x (N, W, 1) to predictions (N, >= 1); column 0
      is the next value
    - x: the last W observed values, shape (N, W, 1)
    - horizon: h

    Returns:
    - preds: shape (N, h); each prediction is appended to the window and
      its oldest value dropped. The model runs in eval mode under
      torch.no_grad(); its mode is restored after.
    """
    was_training = model.training
    model.eval()  # dropout off: a forecast is not a random draw
    preds = []
    with torch.no_grad():  # no graph through h steps of the model
        for _ in range(horizon):
            pred = model(x)[:, :1]  # (N, 1)
            preds.append(pred)
            x = torch.cat([x[:, 1:], pred[:, :, None]], dim=1)  # (N, W, 1)
    model.train(was_training)
    return torch.cat(preds, dim=1)


@torch.no_grad()
def forecast_direct(model, x, horizon=None):
    """All h steps from one pass of a direct model: x (N, W, D) -> (N, h)."""
    return model(x, horizon)


@torch.no_grad()
def forecast_seq2seq(model, x, horizon):
    """Free-running decoder, fed its own predictions: x (N, W, D) -> (N, h)."""
    return model(x, horizon)


def forecast(model, x, horizon, strategy):
    """Dispatch on strategy: "recursive", "direct" or "seq2seq"; x (N, W, D) -> (N, h)."""
    fn = {"recursive": forecast_recursive, "direct": forecast_direct,
          "seq2seq": forecast_seq2seq}[strategy]
    was_training = model.training
    model.eval()
    try:
        return fn(model, x, horizon)
    finally:
        model.train(was_training)


def last_windows(values, sid, origin, window):
    """The W values before each origin, gathered where values is: values[sid, origin - W : origin].

    Inputs: values (S, T_max) tensor; sid, origin (N,) series and origins; window W.
    Returns a tensor (N, W) on values' device; nothing at or after an origin is read.
    """
    device = values.device
    sid = torch.as_tensor(np.asarray(sid), dtype=torch.long, device=device)
    first = torch.as_tensor(np.asarray(origin), dtype=torch.long, device=device) - window
    return values[sid[:, None], first[:, None] + torch.arange(window, device=device)]


def forecast_windows(model, values, sid, origin, window, horizon, strategy):
    """Forecast each series from the W values before its origin; nothing at or after it is read.

    Inputs:
    - values: (S, T_max) array or tensor (padded series; may contain the test part)
    - sid, origin: (N,) series and forecast origin: the input is values[sid, origin - W : origin]
    - window, horizon, strategy: W, h and "recursive" | "direct" | "seq2seq"

    Returns:
    - forecasts: numpy array (N, h), computed on the model's device
    """
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    v = torch.as_tensor(np.asarray(values), dtype=dtype, device=device)
    x = last_windows(v, sid, origin, window)[..., None]
    return forecast(model, x, horizon, strategy).cpu().numpy()


# ----------------------------------------------------------------------------- training
def loss_fn(pred, y, kind="mae"):
    """Mean absolute ("mae") or squared ("mse") error of pred against y (same shape): a scalar."""
    return (pred - y).abs().mean() if kind == "mae" else ((pred - y) ** 2).mean()


def train_step(model, optimizer, x, y, sample_prob=0.0, loss="mae", clip=1.0, amp_dtype=None):
    """One optimiser step on one batch through the training path; returns the loss tensor.

    amp_dtype: None (the parameters' dtype) or a lower precision (torch.bfloat16) for the forward
    pass and the loss under torch.autocast; the weights and the optimiser stay in float32.
    """
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        pred = model.train_forward(x, y, sample_prob)
        value = loss_fn(pred.float(), y[:, :pred.shape[1]], loss)
    value.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return value.detach()


@torch.no_grad()
def validation_loss(model, windows, strategy, loss="mae", batch_size=4096):
    """Loss of the *forecasts* (no teacher forcing) on every window of a WindowSet: a float."""
    total = 0.0
    for first in range(0, len(windows), batch_size):
        idx = torch.arange(first, min(first + batch_size, len(windows)), device=windows.sid.device)
        x, y = windows.gather(idx)
        pred = forecast(model, x, windows.horizon, strategy)
        total += float(loss_fn(pred, y, loss)) * len(idx)
    return total / len(windows)


def fit(model, train, val, strategy, epochs=50, batch_size=256, lr=3e-3, patience=5,
        steps_per_epoch=None, sample_prob=0.0, loss="mae", clip=1.0, amp_dtype=None, seed=0):
    """Train with Adam; stop when the validation loss has not improved for ``patience`` epochs.

    Inputs:
    - model: Direct or Seq2Seq (already on the device of the WindowSets)
    - train, val: WindowSet; val's windows come after train's in time (a split by time)
    - strategy: how val is forecast ("recursive" | "direct" | "seq2seq")
    - steps_per_epoch: batches per epoch (default: one pass over the training windows)
    - sample_prob: scheduled sampling probability, a float or a function epoch -> float
    - loss, clip, amp_dtype: as in train_step
    - seed: seeds the batch order and the scheduled-sampling coins (seed the model's
      initialisation yourself, before building it)

    Returns a dict: best_epoch, best_val, train_loss (per epoch), val_loss (per epoch);
    the model is left with the weights of its best validation epoch.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    device = train.sid.device
    steps = steps_per_epoch or math.ceil(len(train) / batch_size)
    history = {"train_loss": [], "val_loss": [], "best_epoch": -1, "best_val": math.inf}
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        p = sample_prob(epoch) if callable(sample_prob) else sample_prob
        model.train()
        order = torch.randperm(len(train), generator=gen).to(device)
        losses = []
        for step in range(steps):
            idx = order[(step * batch_size) % len(train):][:batch_size]
            x, y = train.gather(idx)
            losses.append(train_step(model, optimizer, x, y, p, loss, clip, amp_dtype))
        history["train_loss"].append(float(torch.stack(losses).mean()))
        history["val_loss"].append(validation_loss(model, val, strategy, loss))
        if history["val_loss"][-1] < history["best_val"]:
            history["best_val"], history["best_epoch"] = history["val_loss"][-1], epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - history["best_epoch"] >= patience:
            break
    model.load_state_dict(best_state)
    return history


# ----------------------------------------------------------------------------- small models for the exercise
def one_step_model(weights, bias=0.0, dropout=0.0):
    """A linear one-step forecaster that records how it is called.

    Inputs:
    - weights: shape (W,), the coefficients of the window's values, oldest
      first; bias: a float
    - dropout: probability of dropping an input value (training mode only)

    Returns an nn.Module (float64) mapping x (N, W, 1) to (N, 1); its list
    .calls holds (x, grad enabled, training mode) of every call.
    """
    class OneStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(len(weights), 1).double()
            self.dropout = nn.Dropout(dropout)
            self.calls = []

        def forward(self, x):
            self.calls.append((x.detach().clone(), torch.is_grad_enabled(),
                               self.training))
            return self.linear(self.dropout(x[..., 0]))

    model = OneStep()
    with torch.no_grad():
        model.linear.weight.copy_(torch.as_tensor(weights)[None])
        model.linear.bias.fill_(bias)
    return model


def seeded_decoder(hidden=8, seed=0):
    """A one-layer LSTM decoder with a linear read-out, seeded weights.

    Returns step(prev, state) -> (pred, state), float64, as the lesson's
    Seq2Seq.step: prev and pred (N, 1, 1), state a pair of
    (1, N, hidden) tensors. The same seed gives the same weights anywhere.
    """
    gen = torch.Generator().manual_seed(seed)
    lstm = nn.LSTM(1, hidden, batch_first=True).double()
    head = nn.Linear(hidden, 1).double()
    with torch.no_grad():
        for p in [*lstm.parameters(), *head.parameters()]:
            p.copy_(0.5 * torch.randn(p.shape, generator=gen,
                                      dtype=p.dtype))

    def step(prev, state):
        out, state = lstm(prev, state)
        return head(out), state
    return step
