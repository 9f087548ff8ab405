"""Hidden checks for chapter 5, "Forecasting honestly: windows, MASE, the decoder loop".

No peeking is checked as well as values. make_windows first gets series whose values from
``stop`` on are NaN, so a window that reads past stop carries a NaN. decode's teacher-forced path
goes through `check_causal` on the sequence [first, y_1, ..., y_h]: prediction k may read only
first and y_1..y_{k-1} (a decoder fed y_k reads the value it predicts); a decoder whose values
are wrong in a way no known mistake explains is told that it peeks when it does, and one whose
values pass is checked for peeking all the same. At prediction time decode gets no targets at
all. forecast_recursive gets a model made in the student's process by the notebook's given
`one_step_model`, which records every call (its input window, whether autograd was on, and the
model's mode), so a forecast that runs with gradients, leaves dropout on or does not restore the
mode is named before its values are compared (a wrong window is named by its values); last,
`check_metric` scores the forecasts of held-out seasonal AR series (their future stays in the
grader) against seasonal naive's MASE.

The decoder's step is the notebook's given `seeded_decoder` (an LSTM with seeded weights), made
in the student's process; the expected values come from the same function here, with the same
seed, and solutions.seq2seq.decode, itself checked against Seq2Seq.train_forward's fused nn.LSTM
call and a loop written out (tests/test_ch05_seq2seq.py). A known mistake (a variant) is named
only when it explains every case where both run (`autograder.checking.check_cases`). The
mistakes these checks must name, and the fair answers they must accept, are student code in
autograder/mutants/ch05_seq2seq.py.
"""
import types

import numpy as np

from autograder.checking import (CheckFailed, StudentCodeError, WrongStructure, check_cases, check_causal,
                                 check_metric, describe_value, explain_error, mistakes_of)
from solutions import forecast as ref


def _seq2seq():
    from solutions import seq2seq  # imports torch: only the torch parts pay for it

    return seq2seq


def _given(student, name, *args):
    """A given function of the notebook, called in the student's process."""
    try:
        return getattr(student, name)(*args)
    except StudentCodeError as error:
        raise CheckFailed(explain_error(name, error) + f" (`{name}` is given in the notebook: run its "
                          "cell and do not redefine it)") from None


def _pair(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise WrongStructure(f"should return a pair (X, Y), but it returned {describe_value(result)}.")
    return tuple(result)


# ----------------------------------------------------------------------------- Part 1
WINDOW_HINTS = [
    ("index", "window i reads y[s : s + W] and y[s + W : s + W + h] for s = 0, stride, ... with "
              "s + W + h <= stop"),
    ("could not broadcast", "every input has W values and every target h values"),
]


def _window_cases():
    """Random values (a window read from the wrong place shows), y[stop:] NaN, stride 1 to 3, the
    last window ending exactly at stop, stop omitted once."""
    cases = []
    for seed, (T, window, horizon, stop, stride) in enumerate([
            (20, 4, 3, 15, 1), (30, 5, 2, 23, 2), (12, 3, 2, None, 1), (25, 2, 4, 21, 3), (9, 1, 1, 7, 1),
            (40, 6, 5, 33, 1)]):
        y = np.random.default_rng(500 + seed).normal(size=T)
        if stop is not None:
            y[stop:] = np.nan  # the test part: no window may read it
        case = {"y": y, "window": window, "horizon": horizon}
        if stop is not None:
            case["stop"] = stop
        if stride != 1:
            case["stride"] = stride
        cases.append(case)
    return cases


def _describe_window(case):
    stop = case.get("stop")
    where = f"stop={stop} (y[{stop}:] is NaN)" if stop is not None else "stop not given"
    return (f"y of length {len(case['y'])}, window={case['window']}, horizon={case['horizon']}, {where}, "
            f"stride={case.get('stride', 1)}")


def _windows(y, window, horizon, stop=None, stride=1, *, last=1, shift=0, swap=False, overlap=0):
    """make_windows with one mistake: ``last`` windows more (or fewer, negative) than the
    reference, targets starting ``overlap`` steps early, stride replaced, (Y, X)."""
    stop = len(y) if stop is None else stop
    start = np.arange(shift, stop - window - horizon + last, stride)
    X = y[start[:, None] + np.arange(window)]
    Y = y[start[:, None] + window - overlap + np.arange(horizon)]
    return (Y, X) if swap else (X, Y)


def _window_variants():
    mistake = mistakes_of(_windows)

    def no_stride(stride=1, **case):
        return _windows(**case)

    return [
        ("the targets overlap the inputs: Y[i] starts right after the window's last input, at "
         "y[s + W], so no target value is inside its own input", mistake(overlap=1)),
        ("the last window is missing: a window may end exactly at stop, s + W + h <= stop "
         "(the range of starts stops one too early)", mistake(last=0)),
        ("stride is ignored: the starts are 0, stride, 2 * stride, ...", no_stride),
        ("the first window is missing: the starts begin at 0", mistake(shift=1)),
        ("returns (Y, X): return the inputs first, (X, Y)", mistake(swap=True)),
    ]


def test_make_windows(student):
    """Part 1: leak-free windows"""
    for case in _window_cases():
        if "stop" not in case:
            continue
        try:
            result = _pair(student.make_windows(**case))
        except (StudentCodeError, WrongStructure):
            continue  # check_cases below says what is wrong, with the same inputs
        parts = (np.asarray(part) for part in result)  # one at a time, as any() reads them
        if any(np.isnan(part.astype(float)).any() for part in parts if part.dtype.kind in "fc"):
            raise CheckFailed(f"`make_windows` reads past stop: a window holds a NaN, a value of "
                              f"y[stop:] (the test part). The last window must end at stop: s + W + h "
                              f"<= stop (inputs: {_describe_window(case)}).")
    check_cases(student, ref.make_windows, _window_cases(), describe=_describe_window, select=_pair,
                variants=_window_variants(), hints=WINDOW_HINTS)


# ----------------------------------------------------------------------------- Part 2
MASE_HINTS = [
    ("could not be broadcast", "y and f have shape (h,) and x (n,): the scale is one number, from x alone"),
]


def _mase_cases():
    """Positive series with a seasonal cycle; m = 12, 4 and 1; h below and above m; n = m + 1 once
    (one seasonal difference); x longer than y everywhere."""
    cases = []
    for seed, (n, h, m) in enumerate([(40, 18, 12), (30, 6, 4), (10, 3, 1), (13, 5, 12), (25, 8, 4)]):
        rng = np.random.default_rng(520 + seed)
        t = np.arange(n + h)
        series = 10 + 0.2 * t + 3 * np.sin(2 * np.pi * t / max(m, 2)) + rng.uniform(0, 2, n + h)
        cases.append({"y": series[n:], "f": series[n:] + rng.normal(0, 1.5, h), "x": series[:n],
                      "period": m})
    return cases


def _describe_mase(case):
    return f"x of length {len(case['x'])}, y and f of length {len(case['y'])}, period={case['period']}"


def _scaled(scale):
    return lambda y, f, x, period: np.mean(np.abs(y - f)) / scale(y, f, x, period)


def _undefined():
    raise ValueError("the mistake gives NaN here: this case neither confirms nor refutes it")


def _mase_variants():
    def seasonal(z, m):
        return np.mean(np.abs(z[m:] - z[:-m]))

    def mean_of_ratios(y, f, x, period):
        h = len(y)
        steps = np.abs(x[-h:] - x[-h - period:len(x) - period])
        return np.mean(np.abs(y - f) / steps)

    return [
        ("the scale is the naive forecast's error (lag 1): MASE divides by the in-sample error of the "
         "seasonal naive forecast, |x_t - x_{t-m}| with m = period", _scaled(lambda y, f, x, m: seasonal(x, 1))),
        ("the scale is computed on the test part: it comes from the training part x only",
         _scaled(lambda y, f, x, m: np.mean(np.abs(y - ref.seasonal_naive(x, len(y), m))))),
        ("the scale is the test part's own seasonal differences, mean |y_t - y_{t-m}|: it comes from "
         "the training part x only, mean |x_t - x_{t-m}|",
         _scaled(lambda y, f, x, m: seasonal(y, m) if len(y) > m else _undefined())),
        ("the scale is computed on the whole series (training and test parts): it comes from the "
         "training part x only", _scaled(lambda y, f, x, m: seasonal(np.concatenate([x, y]), m))),
        ("a mean of ratios, step by step: MASE is the ratio of two means, mean |y - f| divided by "
         "mean |x_t - x_{t-m}| over the whole training part", mean_of_ratios),
        ("the seasonal differences are divided by n, not by their number n - m",
         _scaled(lambda y, f, x, m: np.sum(np.abs(x[m:] - x[:-m])) / len(x))),
        ("squared errors: MASE uses absolute errors, mean |y - f| / mean |x_t - x_{t-m}|",
         lambda y, f, x, period: np.sqrt(np.mean((y - f) ** 2) / np.mean((x[period:] - x[:-period]) ** 2))),
        ("the first seasonal difference is missing: t runs over m+1..n (1-based), x[m:] - x[:-m]",
         _scaled(lambda y, f, x, m: np.mean(np.abs(x[m + 1:] - x[1:-m])) if len(x) > m + 1 else _undefined())),
    ]


def _batched_mase_case():
    """Three forecasts of one series at once: y and f of shape (3, h), x of shape (n,)."""
    case = _mase_cases()[0]
    rng = np.random.default_rng(529)
    y = case["y"] + rng.uniform(-1, 1, (3, len(case["y"])))
    return {"y": y, "f": y + rng.normal(0, 1.5, y.shape) * [[0.5], [1], [2]], "x": case["x"],
            "period": case["period"]}


def _describe_batched_mase(case):
    return (f"x of length {len(case['x'])}, y and f of shape {case['y'].shape} (three forecasts of "
            f"one series), period={case['period']}")


def test_mase(student):
    """Part 2: MASE, one series, then y and f of shape (3, h): one MASE per row."""
    check_cases(student, ref.mase, _mase_cases(), describe=_describe_mase, variants=_mase_variants(),
                hints=MASE_HINTS)
    check_cases(student, ref.mase, [_batched_mase_case()], describe=_describe_batched_mase,
                variants=[("averaged over every axis: MASE is one number per series (per row of y), the "
                           "mean over the last axis only: np.mean(..., axis=-1)",
                           lambda y, f, x, period: np.mean(np.abs(y - f))
                           / np.mean(np.abs(x[period:] - x[:-period])))])


# ----------------------------------------------------------------------------- Part 3
DECODE_HINTS = [
    ("'NoneType' object is not subscriptable", "at prediction time targets is None: feed each step its "
                                               "own previous prediction"),
    ("Expected hidden", "pass the state returned by the previous step, a pair of (1, N, H) tensors"),
    ("input.size(-1) must be equal to input_size", "each step reads one value per sequence, prev of shape "
                                                   "(N, 1, 1)"),
]


def _decode_cases():
    """Seeded LSTM decoders, N = 1 to 4, h = 1 to 5, non-zero states; teacher forcing and free
    running alternate; N = h once (a transposed result keeps its shape)."""
    cases = []
    for seed, (N, hidden, h, forced) in enumerate([
            (3, 4, 5, True), (3, 4, 5, False), (2, 3, 4, True), (4, 5, 3, False), (1, 2, 1, True),
            (3, 3, 3, False), (2, 4, 6, True), (2, 4, 6, False)]):
        rng = np.random.default_rng(540 + seed)
        case = {"seed": seed, "hidden": hidden, "state": tuple(rng.normal(size=(1, N, hidden)) for _ in "hc"),
                "first": rng.normal(size=(N, 1, 1)), "horizon": h}
        if forced:
            case["targets"] = rng.normal(size=(N, h))
        cases.append(case)
    return cases


def _describe_decode(case):
    N, h = case["first"].shape[0], case["horizon"]
    mode = "targets given (teacher forcing)" if "targets" in case else "targets=None (prediction)"
    return f"an LSTM step with H={case['hidden']}, N={N}, horizon={h}, {mode}"


def _tensors(case):
    import torch

    out = dict(case)
    out["state"] = tuple(torch.as_tensor(s) for s in case["state"])
    out["first"] = torch.as_tensor(case["first"])
    if case.get("targets") is not None:
        out["targets"] = torch.as_tensor(case["targets"])
    return out


def _decoding(student):
    """decode(seed, hidden, state, first, horizon, targets=None) for check_cases: the student's
    decode with the notebook's seeded_decoder(hidden, seed), which step(seed, hidden) makes once
    per seed in their process."""
    steps = {}

    def step(seed, hidden):
        if (seed, hidden) not in steps:
            steps[seed, hidden] = _given(student, "seeded_decoder", hidden, seed)
        return steps[seed, hidden]

    def decode(seed, hidden, **case):
        return student.decode(step(seed, hidden), **_tensors(case))
    return types.SimpleNamespace(decode=decode, step=step)


def _decode_mistake(feed="right", start="first", carry=True, keep_axis=False):
    """The decoder loop with one mistake, as a student writes it: feed "target_k" (step k reads
    y_k), "wrap" (targets[:, k - 1] at k = 0 too: y_h first), "own" (targets ignored), "first"
    (the last observed value at every free step); start "zero" (a zero first input); the state not
    carried; the (N, h, 1) result returned as it is."""
    def mistake(seed, hidden, state, first, horizon, targets=None):
        import torch

        step = _seq2seq().seeded_decoder(hidden, seed)
        case = _tensors({"state": state, "first": first, "targets": targets})
        state, first, y = case["state"], case["first"], case["targets"]
        prev = torch.zeros_like(first) if start == "zero" else first
        if y is not None and feed in ("target_k", "wrap"):
            prev = y[:, 0 if feed == "target_k" else -1, None, None]
        preds = []
        with torch.no_grad():
            for k in range(horizon):
                pred, new = step(prev, state)
                state = new if carry else state
                preds.append(pred)
                if y is None or feed == "own":
                    prev = first if feed == "first" else pred
                elif feed == "target_k":
                    prev = y[:, k + 1, None, None] if k + 1 < horizon else pred
                else:
                    prev = y[:, k, None, None]
        out = torch.cat(preds, dim=1)  # (N, h, 1)
        return out if keep_axis else out[..., 0]
    return mistake


def _decode_variants():
    return [
        ("step k is fed y_k, the very value it predicts: with teacher forcing step k reads the "
         "previous true value, targets[:, k - 1] (the last observed value, first, at step 0)",
         _decode_mistake(feed="target_k")),
        ("the targets are ignored: with targets given, step k reads the true targets[:, k - 1] "
         "(teacher forcing), not its own prediction", _decode_mistake(feed="own")),
        ("step 0 is fed targets[:, -1] (k - 1 = -1 wraps around to the last target): step 0 reads "
         "first, the last observed value", _decode_mistake(feed="wrap")),
        ("the first input is zero: step 0 reads first, the last observed value",
         _decode_mistake(start="zero")),
        ("every step is fed the last observed value (first): at prediction time step k reads its own "
         "prediction of step k - 1", _decode_mistake(feed="first")),
        ("the state is not carried: each step gets the state returned by the step before",
         _decode_mistake(carry=False)),
        ("the result has shape (N, h, 1): return (N, h), one value per sequence and step",
         _decode_mistake(keep_axis=True)),
    ]


def _peeking(decoding):
    """None, or the message of check_causal on the teacher-forced decoder: prediction k may read
    first and y_1..y_{k-1}, never y_k or later (no peeking)."""
    for case in _decode_cases():
        if "targets" not in case or case["horizon"] < 2:
            continue
        sequence = np.concatenate([case["first"][:, :, 0], case["targets"]], axis=1)  # (N, 1 + h)
        rest = {k: case[k] for k in ("seed", "hidden", "state", "horizon")}
        try:
            check_causal(lambda u: decoding.decode(**rest, first=u[:, :1, None], targets=u[:, 1:]), sequence,
                         times=range(1, case["horizon"] + 1), name="decode")
        except CheckFailed as failure:
            return (f"{failure} With teacher forcing, prediction k (from 0) reads first and targets[:, :k] "
                    f"only: it must not see targets[:, k], the very value it predicts (inputs: "
                    f"{_describe_decode(case)}).")
    return None


def test_decode(student):
    """Part 3: the decoder loop"""
    decoding = _decoding(student)
    variants = _decode_variants()
    failure = None
    try:
        check_cases(decoding, _reference_decode, _decode_cases(), name="decode", describe=_describe_decode,
                    variants=variants, hints=DECODE_HINTS)
    except CheckFailed as caught:
        if "has wrong values" not in str(caught) or any(message in str(caught) for message, _ in variants):
            raise  # a known mistake, a shape, an error: said as it is
        failure = caught  # wrong values no variant explains: say it peeks, if it does
    peeking = _peeking(decoding)  # values that pass are checked for peeking all the same
    if peeking:
        raise CheckFailed(peeking)
    if failure is not None:
        raise failure
    _check_gradient(student, decoding)


def _gradient_to_state(student, step, case):
    """d preds / d state of the student's decode with teacher forcing, by torch.func.jacrev in the
    student's process (a tensor crosses the wire as plain data, without its graph): a pair of
    arrays, or None when the transform cannot run their code (no verdict then)."""
    args = _tensors({k: case[k] for k in ("state", "first", "targets")})
    try:
        jacobian = student.torch.get("func").call("jacrev", student.decode, argnums=1)  # the notebook's torch
        got = jacobian(step, args["state"], args["first"], case["horizon"], args["targets"])
        return [np.asarray(part) for part in got]
    except Exception:  # an operation torch.func cannot transform: the values were checked
        return None


def _check_gradient(student, decoding):
    """With teacher forcing the predictions must carry a gradient back: to the step's weights and,
    through the initial state, to the encoder. A decode that detaches what it returns (or runs
    under no_grad) has the right values and trains nothing."""
    case = _decode_cases()[0]
    gradient = _gradient_to_state(student, decoding.step(case["seed"], case["hidden"]), case)
    if gradient is not None and not any(np.abs(part).sum() > 0 for part in gradient):
        raise CheckFailed("`decode`: the predictions are detached: no gradient reaches the model's "
                          "weights, so training through decode cannot learn (with targets given, the "
                          "predictions it returns have no gradient with respect to the initial state; "
                          "return the step's predictions as they are, without .detach() or "
                          f"torch.no_grad(); inputs: {_describe_decode(case)}).")


def _reference_decode(seed, hidden, state, first, horizon, targets=None):
    import torch

    S = _seq2seq()
    with torch.no_grad():
        return S.decode(S.seeded_decoder(hidden, seed), **_tensors(
            {"state": state, "first": first, "targets": targets}), horizon=horizon)


# ----------------------------------------------------------------------------- Part 4
RECURSIVE_HINTS = [
    ("mat1 and mat2 shapes cannot be multiplied", "the window must keep W values: append the prediction "
                                                  "and drop the oldest value, x[:, 1:]"),
    ("Tensors must have same number of dimensions", "the window is (N, W, 1): append the prediction as "
                                                    "(N, 1, 1), pred[:, :, None]"),
]
HELD_OUT_SEED = 5550123  # the notebook never sees series drawn from this seed


def _recursive_cases():
    """Linear one-step models with seeded weights (no two alike), W = 1 to 6, h = 1 to 6, N = 1
    to 3; dropout on and the model in training mode in most cases, in eval mode once."""
    cases = []
    for seed, (N, W, h, dropout, mode) in enumerate([
            (2, 4, 5, 0.5, "train"), (3, 3, 4, 0.5, "eval"), (1, 6, 3, 0.0, "train"), (2, 2, 6, 0.5, "train"),
            (3, 1, 2, 0.0, "eval"), (2, 5, 1, 0.5, "train")]):
        rng = np.random.default_rng(560 + seed)
        cases.append({"weights": rng.uniform(-0.6, 0.6, W), "bias": float(rng.normal()), "dropout": dropout,
                      "mode": mode, "x": rng.normal(size=(N, W, 1)), "horizon": h})
    return cases


def _describe_recursive(case):
    N, W, _ = case["x"].shape
    return (f"a linear one-step model, N={N}, W={W}, horizon={case['horizon']}, dropout={case['dropout']}, "
            f"the model in {case['mode']} mode")


def _forecasting(student, models=None):
    def forecast_recursive(weights, bias, dropout, mode, x, horizon):
        import torch

        model = _given(student, "one_step_model", weights, bias, dropout)
        model.call(mode)
        if models is not None:
            models.append(model)
        return student.forecast_recursive(model, torch.as_tensor(x), horizon)
    return types.SimpleNamespace(forecast_recursive=forecast_recursive)


def _reference_recursive(weights, bias, dropout, mode, x, horizon, *, window="right"):
    """The reference (window "right"), or a forecast that appends "last" (the last observed value)
    instead of its prediction, drops the newest value ("newest", prediction appended last),
    prepends the prediction ("prepend") or forecasts every step from the same window ("same")."""
    import torch

    S = _seq2seq()
    model = S.one_step_model(weights, bias, 0.0).eval()
    x = torch.as_tensor(x)
    if window == "right":
        return S.forecast_recursive(model, x, horizon)
    preds = []
    with torch.no_grad():
        for _ in range(horizon):
            pred = model(x)[:, :1]
            preds.append(pred)
            new = pred[:, :, None]
            x = {"last": torch.cat([x[:, 1:], x[:, -1:]], dim=1), "newest": torch.cat([x[:, :-1], new], dim=1),
                 "prepend": torch.cat([new, x[:, :-1]], dim=1), "same": x}[window]
    return torch.cat(preds, dim=1)


def _recursive_variants():
    mistake = mistakes_of(_reference_recursive)
    return [
        ("the window is extended with the last observed value, not with the prediction: each "
         "prediction is appended to the window (the model is fed its own forecasts)", mistake(window="last")),
        ("the newest value of the window is dropped: drop the oldest, x[:, 1:], and append the "
         "prediction at the end", mistake(window="newest")),
        ("the prediction is put at the start of the window: append it at the end (the window is oldest "
         "first) and drop the oldest value", mistake(window="prepend")),
        ("every step is forecast from the same window: append each prediction to the window and drop "
         "the oldest value before the next step", mistake(window="same")),
    ]


def _modes(student):
    """Run each case once and read what the student's model recorded: autograd on, dropout on, the
    mode not restored."""
    for case in _recursive_cases():
        models = []
        try:
            _forecasting(student, models).forecast_recursive(**case)
        except StudentCodeError:
            continue  # check_cases below says what is wrong, with the same inputs
        calls = models[0].get("calls")
        inputs = _describe_recursive(case)
        if not isinstance(calls, (list, tuple)) or not calls:
            raise CheckFailed(f"`forecast_recursive` never called the model (inputs: {inputs}).")
        if any(bool(call[1]) for call in calls):
            raise CheckFailed(f"`forecast_recursive` runs the model with autograd on: it builds a graph through "
                              f"all h steps, which a forecast never needs; run the loop under "
                              f"`with torch.no_grad():` (inputs: {inputs}).")
        if case["dropout"] and any(bool(call[2]) for call in calls):
            raise CheckFailed(f"`forecast_recursive` leaves the model in training mode: its dropout makes every "
                              f"forecast a random draw; call model.eval() before forecasting (inputs: {inputs}).")
        if bool(models[0].get("training")) != (case["mode"] == "train"):
            raise CheckFailed(f"`forecast_recursive` does not restore the model's mode: it was in "
                              f"{case['mode']} mode before the call and is not after it; keep "
                              f"was_training = model.training and call model.train(was_training) at the end "
                              f"(inputs: {inputs}).")


def _ar_series(S, n, period, seed):
    """S positive series of a seasonal AR process, y_t - 10 = 0.3 (y_{t-1} - 10) + 0.65 (y_{t-m} - 10)
    + noise: returns the series (S, n), the process's one-step weights over a window of m values
    (oldest first) and its bias. Repeating the last value scores a MASE of about 1.5 here, seasonal
    naive about 1.2 and the process's own forecast about 1.0."""
    rng = np.random.default_rng(seed)
    y = np.full((S, n + 100), 10.0)
    for t in range(period, n + 100):
        y[:, t] = 10 + 0.3 * (y[:, t - 1] - 10) + 0.65 * (y[:, t - period] - 10) + rng.normal(0, 0.5, S)
    weights = np.zeros(period)
    weights[0], weights[-1] = 0.65, 0.3
    return y[:, 100:], weights, 10 * (1 - 0.95)


def test_forecast_recursive(student):
    """Part 4: recursive forecasting"""
    _modes(student)
    check_cases(_forecasting(student), _reference_recursive, _recursive_cases(), name="forecast_recursive",
                describe=_describe_recursive, variants=_recursive_variants(), hints=RECURSIVE_HINTS)
    # held-out series whose future never leaves the grader: the true model's forecasts must beat
    # seasonal naive in MASE
    import torch

    period, horizon, n = 6, 12, 60
    y, weights, bias = _ar_series(20, n + horizon, period, HELD_OUT_SEED)
    past, future = y[:, :n], y[:, n:]
    model = _given(student, "one_step_model", weights, bias, 0.0)
    model.call("eval")

    def mean_mase(forecasts, actuals):
        return np.mean([ref.mase(a, f, x, period) for a, f, x in zip(actuals, forecasts, past)])

    naive = mean_mase(np.stack([ref.seasonal_naive(x, horizon, period) for x in past]), future)
    check_metric(lambda x: student.forecast_recursive(model, torch.as_tensor(x), horizon),
                 {"x": past[:, -period:, None]}, future, mean_mase, threshold=naive,
                 name="forecast_recursive", metric_name="mean MASE (the bar: seasonal naive's)")
