"""Plausible mistakes and fair alternatives of chapter 5's exercise, as real student code (the mutation gate, autograder/mutation.py).

Each mutant is one mistake in one answer cell (the other cells keep the reference answer), written
as a student would type it: the reference with one edit (`edit`, which fails if the edit does
not apply) or a short function of its own. MUTANTS are in order of how common we expect the
mistake to be; the first half must be stopped by the visible self-check of the part where the
mistake is, with the words given in `visible`. FAIR are correct answers written another way:
each must get full marks and pass every visible self-check.

Teacher forcing at prediction time cannot be written against this interface: `decode` gets no
targets when it forecasts (targets=None), and forecast_recursive never gets any. Its training-time
relative, a decoder fed the value it predicts, is here, with the no-peeking check that stops it.
"""
from autograder.mutation import AnswerCells, Fair, edit

WINDOWS = '''\
def make_windows(y, window, horizon, stop=None, stride=1):
    stop = len(y) if stop is None else stop
    start = np.arange(0, stop - window - horizon + 1, stride)  # (N,)
    idx = start[:, None] + np.arange(window + horizon)  # (N, W + h)
    xy = np.asarray(y)[idx]
    return xy[:, :window], xy[:, window:]'''

MASE = '''\
def mase(y, f, x, period):
    x = np.asarray(x, dtype=np.float64)
    scale = np.mean(np.abs(x[period:] - x[:-period]))  # training part only
    return np.mean(np.abs(np.asarray(y) - f), axis=-1) / scale'''

DECODE = '''\
def decode(step, state, first, horizon, targets=None):
    prev, preds = first, []
    for k in range(horizon):
        pred, state = step(prev, state)
        preds.append(pred)
        prev = pred if targets is None else targets[:, k, None, None]
    return torch.cat(preds, dim=1)[..., 0]'''

RECURSIVE = '''\
def forecast_recursive(model, x, horizon):
    was_training = model.training
    model.eval()  # dropout off: a forecast is not a random draw
    preds = []
    with torch.no_grad():  # no graph through h steps of the model
        for _ in range(horizon):
            pred = model(x)[:, :1]  # (N, 1)
            preds.append(pred)
            x = torch.cat([x[:, 1:], pred[:, :, None]], dim=1)  # (N, W, 1)
    model.train(was_training)
    return torch.cat(preds, dim=1)'''

P1, P2, P3, P4 = "test_make_windows", "test_mase", "test_decode", "test_forecast_recursive"
CELLS = AnswerCells({"make_windows": (WINDOWS, P1), "mase": (MASE, P2), "decode": (DECODE, P3),
                     "forecast_recursive": (RECURSIVE, P4)})
_mutant, _written = CELLS.mutant, CELLS.written

STARTS = "start = np.arange(0, stop - window - horizon + 1, stride)"
SCALE = "scale = np.mean(np.abs(x[period:] - x[:-period]))"
FEED = "prev = pred if targets is None else targets[:, k, None, None]"
SHIFT = "x = torch.cat([x[:, 1:], pred[:, :, None]], dim=1)"

DECODE_Y_K = '''\
def decode(step, state, first, horizon, targets=None):
    prev, preds = first, []
    for k in range(horizon):
        if targets is not None:
            prev = targets[:, k, None, None]  # teacher forcing
        pred, state = step(prev, state)
        preds.append(pred)
        prev = pred
    return torch.cat(preds, dim=1)[..., 0]'''

DECODE_WRAP = '''\
def decode(step, state, first, horizon, targets=None):
    prev, preds = first, []
    for k in range(horizon):
        if targets is not None:
            prev = targets[:, k - 1, None, None]  # the previous true value
        pred, state = step(prev, state)
        preds.append(pred)
        prev = pred
    return torch.cat(preds, dim=1)[..., 0]'''

MASE_TEST_PART = '''\
def mase(y, f, x, period):
    h = len(y)
    snaive = x[len(x) - period + np.arange(h) % period]
    scale = np.mean(np.abs(y - snaive))  # how well seasonal naive does
    return np.mean(np.abs(y - f)) / scale'''

MASE_WHOLE = '''\
def mase(y, f, x, period):
    series = np.concatenate([x, y])
    scale = np.mean(np.abs(series[period:] - series[:-period]))
    return np.mean(np.abs(y - f)) / scale'''

MASE_RATIOS = '''\
def mase(y, f, x, period):
    h = len(y)
    naive_errors = np.abs(x[-h:] - x[-h - period:len(x) - period])
    return np.mean(np.abs(y - f) / naive_errors)'''

MASE_SQUARED = '''\
def mase(y, f, x, period):
    mse = np.mean((y - f) ** 2)
    scale = np.mean((x[period:] - x[:-period]) ** 2)
    return np.sqrt(mse / scale)'''

RECURSIVE_GRAD = '''\
def forecast_recursive(model, x, horizon):
    was_training = model.training
    model.eval()
    preds = []
    for _ in range(horizon):
        pred = model(x)[:, :1]  # (N, 1)
        preds.append(pred)
        x = torch.cat([x[:, 1:], pred[:, :, None]], dim=1)
    model.train(was_training)
    return torch.cat(preds, dim=1).detach()'''

MUTANTS = [  # most common first: the first half must be stopped by a visible self-check
    _mutant("windows read past stop (off by one)", "make_windows",
            [(STARTS, "start = np.arange(0, stop - window - horizon + 2, stride)")], "reads past stop"),
    _written("decoder fed y_k instead of y_{k-1} (teacher forcing shifted wrongly)", "decode", DECODE_Y_K,
             "the very value it predicts"),
    _mutant("MASE scaled by the naive forecast (lag 1), not seasonal naive", "mase",
            [(SCALE, "scale = np.mean(np.abs(x[1:] - x[:-1]))")], "naive forecast's error (lag 1"),
    _mutant("targets overlap the inputs (Y starts at the last input)", "make_windows",
            [("return xy[:, :window], xy[:, window:]",
              "return xy[:, :window], xy[:, window - 1:window - 1 + horizon]")], "overlap the inputs"),
    _mutant("recursive forecast without model.eval() (dropout on)", "forecast_recursive",
            [("    model.eval()  # dropout off: a forecast is not a random draw\n", "")], "training mode"),
    _written("MASE scaled on the test part (seasonal naive's test error)", "mase", MASE_TEST_PART,
             "computed on the test part"),
    _mutant("MASE scaled by the test part's own seasonal differences", "mase",
            [(SCALE, "scale = np.mean(np.abs(y[period:] - y[:-period]))")],
            "test part's own seasonal differences"),
    _mutant("recursive forecast appends the last observed value, not its prediction", "forecast_recursive",
            [(SHIFT, "x = torch.cat([x[:, 1:], x[:, -1:]], dim=1)")], "last observed value"),
    _mutant("stop ignored: windows from the whole series", "make_windows",
            [("stop = len(y) if stop is None else stop", "stop = len(y)")], "reads past stop"),
    _mutant("teacher forcing ignored: the decoder always reads its own predictions", "decode",
            [(FEED, "prev = pred")], "targets are ignored"),
    _written("MASE scaled on the whole series (training and test parts)", "mase", MASE_WHOLE, "whole series"),
    _mutant("recursive forecast drops the newest value of the window", "forecast_recursive",
            [(SHIFT, "x = torch.cat([x[:, :-1], pred[:, :, None]], dim=1)")], "newest value"),
    _mutant("first decoder input zero (a start token) instead of the last observed value", "decode",
            [("prev, preds = first, []", "prev, preds = torch.zeros_like(first), []")], "first input is zero"),
    _written("decoder reads targets[:, k - 1] at step 0 too (wraps to y_h)", "decode", DECODE_WRAP,
             "wraps around"),
    _written("MASE as a mean of ratios, step by step", "mase", MASE_RATIOS, "mean of ratios"),
    _written("recursive forecast with autograd on (no torch.no_grad)", "forecast_recursive", RECURSIVE_GRAD,
             "autograd on"),
    _mutant("the last window is missing (range of starts one short)", "make_windows",
            [(STARTS, "start = np.arange(0, stop - window - horizon, stride)")], "last window is missing"),
    _mutant("decoder state not carried between steps", "decode",
            [("pred, state = step(prev, state)", "pred, _ = step(prev, state)")], "state is not carried"),
    _mutant("MASE's seasonal differences divided by n, not n - m", "mase",
            [(SCALE, "scale = np.sum(np.abs(x[period:] - x[:-period])) / len(x)")], "divided by n"),
    _mutant("stride ignored", "make_windows",
            [(STARTS, "start = np.arange(0, stop - window - horizon + 1)")], "stride is ignored"),
    _mutant("recursive forecast puts the prediction at the start of the window", "forecast_recursive",
            [(SHIFT, "x = torch.cat([pred[:, :, None], x[:, :-1]], dim=1)")], "start of the window"),
    _mutant("decoder fed the last observed value at every step when forecasting", "decode",
            [(FEED, "prev = first if targets is None else targets[:, k, None, None]")], "every step is fed"),
    _mutant("MASE misses the first seasonal difference", "mase",
            [(SCALE, "scale = np.mean(np.abs(x[period + 1:] - x[1:-period]))")],
            "first seasonal difference is missing"),
    _mutant("recursive forecast from the same window at every step", "forecast_recursive",
            [("            " + SHIFT + "  # (N, W, 1)\n", "")], "same window"),
    _mutant("model's mode not restored after forecasting", "forecast_recursive",
            [("    model.train(was_training)\n", "")], "does not restore"),
    _mutant("decoder returns (N, h, 1)", "decode",
            [("return torch.cat(preds, dim=1)[..., 0]", "return torch.cat(preds, dim=1)")], "shape (N, h, 1)"),
    _written("MASE with squared errors (RMSSE)", "mase", MASE_SQUARED, "squared errors"),
    _mutant("MASE averaged over every axis of a batch, not over the horizon", "mase",
            [("np.mean(np.abs(np.asarray(y) - f), axis=-1)", "np.mean(np.abs(np.asarray(y) - f))")],
            "averaged over every axis"),
    _mutant("make_windows returns (Y, X)", "make_windows",
            [("return xy[:, :window], xy[:, window:]", "return xy[:, window:], xy[:, :window]")],
            "returns (Y, X)"),
    _mutant("model put back in training mode whatever it was", "forecast_recursive",
            [("model.train(was_training)", "model.train()")], "does not restore", visible=False),
    _mutant("recursive window grows (the oldest value never dropped)", "forecast_recursive",
            [(SHIFT, "x = torch.cat([x, pred[:, :, None]], dim=1)")], "must keep W values", visible=False),
    _mutant("decoder returns detached predictions (no gradient to the weights)", "decode",
            [("preds.append(pred)", "preds.append(pred.detach())")], "predictions are detached"),
    _mutant("decoder predictions stacked (h, N)", "decode",
            [("return torch.cat(preds, dim=1)[..., 0]", "return torch.stack([p[:, 0, 0] for p in preds])")],
            "transposed", visible=False),
    _mutant("targets of one value (the horizon ignored)", "make_windows",
            [("return xy[:, :window], xy[:, window:]", "return xy[:, :window], xy[:, window:window + 1]")],
            "should have shape", visible="one value"),
]

FAIR = [
    Fair("make_windows with a loop over starts", {"make_windows": '''\
def make_windows(y, window, horizon, stop=None, stride=1):
    if stop is None:
        stop = len(y)
    X, Y = [], []
    s = 0
    while s + window + horizon <= stop:
        X.append(y[s:s + window])
        Y.append(y[s + window:s + window + horizon])
        s += stride
    return np.array(X), np.array(Y)'''}),
    Fair("make_windows with sliding_window_view on y[:stop]", {"make_windows": '''\
def make_windows(y, window, horizon, stop=None, stride=1):
    seen = np.asarray(y)[:stop]  # y[:None] is all of y
    views = np.lib.stride_tricks.sliding_window_view(seen, window + horizon)
    views = views[::stride]
    return views[:, :window].copy(), views[:, window:].copy()'''}),
    Fair("mase with a loop, sums and counts", {"mase": '''\
def mase(y, f, x, period):
    n, h = len(x), np.shape(y)[-1]
    total = 0.0
    for t in range(period, n):
        total += abs(x[t] - x[t - period])
    scale = total / (n - period)
    return sum(abs(y[..., t] - f[..., t]) for t in range(h)) / h / scale'''}),
    Fair("mase from mean absolute errors of two forecasts", {"mase": '''\
def mase(y, f, x, period):
    in_sample = np.mean(np.abs(x[period:] - x[:len(x) - period]))
    return np.abs(np.subtract(y, f)).mean(axis=-1) / in_sample'''}),
    Fair("decode choosing each step's input at the top of the loop", {"decode": '''\
def decode(step, state, first, horizon, targets=None):
    preds = []
    for k in range(horizon):
        if k == 0:
            prev = first
        elif targets is not None:
            prev = targets[:, k - 1].reshape(-1, 1, 1)
        else:
            prev = preds[-1]
        pred, state = step(prev, state)
        preds.append(pred)
    return torch.cat(preds, dim=1).squeeze(-1)'''}),
    Fair("decode with the teacher-forced inputs built up front", {"decode": '''\
def decode(step, state, first, horizon, targets=None):
    if targets is not None:  # [first, y_1, ..., y_{h-1}], (N, h, 1)
        inputs = torch.cat([first, targets[:, :-1, None]], dim=1)
    out = []
    prev = first
    for k in range(horizon):
        if targets is not None:
            prev = inputs[:, k:k + 1]
        prev_pred, state = step(prev, state)
        out.append(prev_pred[:, 0, 0])
        prev = prev_pred
    return torch.stack(out, dim=1)'''}),
    Fair("decode feeding back detached predictions (as scheduled sampling does)", {"decode": edit(
        DECODE, (FEED, "prev = (pred.detach() if targets is None\n"
                       "                else targets[:, k, None, None])"))}),
    Fair("forecast_recursive under inference_mode, rolling a window in place, try/finally", {
        "forecast_recursive": '''\
def forecast_recursive(model, x, horizon):
    mode = model.training
    model.eval()
    try:
        with torch.inference_mode():
            window = x.clone()
            out = torch.empty(x.shape[0], horizon, dtype=x.dtype)
            for k in range(horizon):
                out[:, k] = model(window)[:, 0]
                window = torch.roll(window, -1, dims=1)
                window[:, -1, 0] = out[:, k]
        return out
    finally:
        model.train(mode)'''}),
    Fair("forecast_recursive with torch.no_grad as a decorator and torch.stack", {
        "forecast_recursive": '''\
@torch.no_grad()
def forecast_recursive(model, x, horizon):
    before = model.training
    model.train(False)
    preds = []
    for _ in range(horizon):
        nxt = model(x)[:, 0]  # (N,)
        preds.append(nxt)
        x = torch.cat([x[:, 1:, :], nxt.reshape(-1, 1, 1)], dim=1)
    model.train(before)
    return torch.stack(preds, dim=1)'''}),
]
