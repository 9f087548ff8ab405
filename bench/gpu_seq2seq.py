"""Benchmark: training throughput of chapter 5's seq2seq model against the cuDNN reference and a
per-step cell loop, on the GPU (fp32 and bf16 autocast) and on the CPU, side by side.

    make bench-gpu [BENCH_GPU_ARGS="--out results.json"]
    python bench/gpu_seq2seq.py [--out results.json] [--quick] [--devices cuda,cpu] [--configs m3,long]
                                [--threads N] [--max-seconds 200]

Three implementations of one model (LSTM encoder, LSTM decoder fed y_{k-1}, linear read-out),
trained by the same step (gather a batch of windows on the device, L1 loss, backward, clip, Adam):

- chapter:   solutions.seq2seq.Seq2Seq through solutions.seq2seq.train_step (batch first; the
             teacher-forced decoder is one nn.LSTM call over the whole target);
- reference: the fastest plain cuDNN form, written here: time-major windows, one fused nn.LSTM
             call for the encoder and one for the decoder, whose inputs are a slice of the window;
- cells:     nn.LSTMCell stepped in a Python loop over the W + h steps (what a hand-written
             decoder loop costs).

Before timing, the three are checked to compute the same forecasts from copied weights.
Throughput is in sequence-steps per second: batch * (W + h) / (seconds per training step), the
median of several repeats after warm-up steps, with torch.cuda.synchronize around each timed
region. Every measurement, the device name, date and torch version go to the JSON file (rewritten
after each measurement, so a run cut short keeps what it measured). Exits 1 when, on a GPU, the
chapter's model reaches less than --target (0.70) of the reference's throughput.

Needs torch and numpy only (synthetic data: a double-seasonal series like Taylor's half-hourly
electricity demand; throughput does not depend on the values).
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from solutions.seq2seq import Seq2Seq, WindowSet, device_name, loss_fn, train_step  # noqa: E402

# (name, W, h, H, L): M3 monthly's shapes (window 36, horizon 18), and a long series
# (a week of half-hours in, a day out) through a two-layer model.
CONFIGS = [("m3", 36, 18, 64, 1), ("long", 336, 48, 128, 2)]
QUICK_CONFIGS = [("tiny", 12, 6, 16, 1)]
BATCHES = {"cuda": [64, 512, 4096], "cpu": [64, 512]}
QUICK_BATCHES = {"cuda": [16, 64], "cpu": [8, 32]}
MODELS = ("chapter", "reference", "cells")


# ----------------------------------------------------------------------------- the other two implementations
class Reference(nn.Module):
    """Time-major fused cuDNN seq2seq: xy (W + h, N) -> forecasts (h, N), teacher forced."""

    def __init__(self, hidden, layers):
        super().__init__()
        self.encoder = nn.LSTM(1, hidden, layers)
        self.decoder = nn.LSTM(1, hidden, layers)
        self.head = nn.Linear(hidden, 1)

    def forward(self, xy, window):
        _, state = self.encoder(xy[:window, :, None])  # (W, N, 1)
        out, _ = self.decoder(xy[window - 1:-1, :, None], state)  # inputs y_{k-1}: (h, N, 1)
        return self.head(out)[..., 0]  # (h, N)


class Cells(nn.Module):
    """The same model with nn.LSTMCell layers stepped in Python; train_forward as Seq2Seq's."""

    def __init__(self, hidden, layers):
        super().__init__()
        self.enc = nn.ModuleList(nn.LSTMCell(1 if l == 0 else hidden, hidden) for l in range(layers))
        self.dec = nn.ModuleList(nn.LSTMCell(1 if l == 0 else hidden, hidden) for l in range(layers))
        self.head = nn.Linear(hidden, 1)

    @staticmethod
    def _step(cells, inp, state):
        new = []
        for cell, (h, c) in zip(cells, state):
            h, c = cell(inp, (h, c))
            new.append((h, c))
            inp = h
        return inp, new

    def train_forward(self, x, y, sample_prob=0.0):
        N, W, _ = x.shape
        zero = x.new_zeros(N, self.head.in_features)
        state = [(zero, zero)] * len(self.enc)
        for t in range(W):
            _, state = self._step(self.enc, x[:, t], state)
        prev = torch.cat([x[:, -1:, 0], y[:, :-1]], dim=1)  # (N, h): inputs y_{k-1}
        preds = []
        for k in range(y.shape[1]):
            out, state = self._step(self.dec, prev[:, k:k + 1], state)
            preds.append(self.head(out))
        return torch.cat(preds, dim=1)


def copy_weights(chapter, reference, cells):
    """Give the reference and the cell loop the chapter model's weights (torch's names)."""
    reference.load_state_dict(chapter.state_dict())
    with torch.no_grad():
        for lstm, layer in ((chapter.encoder, cells.enc), (chapter.decoder, cells.dec)):
            for l, cell in enumerate(layer):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name).copy_(getattr(lstm, f"{name}_l{l}"))
        cells.head.load_state_dict(chapter.head.state_dict())


def parity(windows, hidden, layers, device):
    """Max |difference| between the three implementations' teacher-forced outputs (float64)."""
    torch.manual_seed(0)
    models = Seq2Seq(hidden, layers), Reference(hidden, layers), Cells(hidden, layers)
    copy_weights(*models)
    chapter, reference, cells = (m.to(device).double() for m in models)
    x, y = windows.gather(torch.arange(min(8, len(windows)), device=device))
    x, y = x.double(), y.double()
    with torch.no_grad():
        a = chapter.train_forward(x, y)
        b = reference(torch.cat([x[..., 0], y], dim=1).t(), windows.window).t()
        c = cells.train_forward(x, y)
    return {"reference": float((a - b).abs().max()), "cells": float((a - c).abs().max())}


def amp_dtypes(windows, hidden, layers, device, amp_dtype):
    """The dtype autocast actually runs each LSTM in (cuDNN's RNN may differ from amp_dtype)."""
    x, _ = windows.gather(torch.arange(2, device=device))
    fused, cell = nn.LSTM(1, hidden, layers).to(device), nn.LSTMCell(1, hidden).to(device)
    with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype):
        return {"nn.LSTM": str(fused(x.transpose(0, 1))[0].dtype), "nn.LSTMCell": str(cell(x[:, 0])[0].dtype)}


# ----------------------------------------------------------------------------- timing
def synthetic_series(T=20_000, seed=0):
    """A positive half-hourly-like series: daily (48) and weekly (336) cycles, noise; (T,)."""
    t = np.arange(T)
    rng = np.random.default_rng(seed)
    y = (30 + 5 * np.sin(2 * np.pi * t / 48) + 2 * np.sin(2 * np.pi * t / 336)
         + rng.normal(0, 0.5, T))
    return (y - y.mean()) / y.std()


def make_step(kind, hidden, layers, windows, amp_dtype):
    """A closure doing one training step on a random batch (indices drawn on the device)."""
    model = {"chapter": Seq2Seq, "reference": Reference, "cells": Cells}[kind](hidden, layers)
    device = windows.sid.device
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    W = windows.window

    def step(batch):
        idx = torch.randint(len(windows), (batch,), device=device)
        if kind != "reference":
            x, y = windows.gather(idx)
            return train_step(model, opt, x, y, loss="mae", clip=1.0, amp_dtype=amp_dtype)
        xy = windows.values[windows.sid[idx, None], windows.start[idx, None] + windows.offsets].t()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            value = loss_fn(model(xy, W).float(), xy[W:], "mae")  # (h, N) against (h, N)
        value.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return value.detach()
    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step, batch, device, seq_len, warmup, repeats, target_s):
    """Median sequence-steps per second of step(batch) over ``repeats`` timed regions of
    ``iters`` steps each, iters chosen so that a region lasts about target_s (at least 1 step)."""
    for _ in range(warmup):  # the last warm-up step is timed, to choose the iterations
        sync(device)
        started = time.perf_counter()
        step(batch)
        sync(device)
    one = time.perf_counter() - started
    iters = max(1, min(200, math.ceil(target_s / max(one, 1e-6))))
    times = []
    for _ in range(repeats):
        sync(device)
        started = time.perf_counter()
        for _ in range(iters):
            step(batch)
        sync(device)
        times.append((time.perf_counter() - started) / iters)
    med = statistics.median(times)
    return {"seq_steps_per_s": batch * seq_len / med, "step_ms_median": 1e3 * med,
            "step_ms_repeats": [1e3 * t for t in times], "iters": iters, "warmup": warmup}


# ----------------------------------------------------------------------------- report
def ratios(measurements):
    """chapter/reference and cells/reference per row, and GPU/CPU for the same model and shape."""
    ok = {(m["device"], m["precision"], m["config"], m["batch"], m["model"]): m["seq_steps_per_s"]
          for m in measurements if "seq_steps_per_s" in m}
    rows = []
    for (dev, prec, cfg, batch, model), v in ok.items():
        if model != "reference":
            continue
        row = {"device": dev, "precision": prec, "config": cfg, "batch": batch, "reference": v}
        for other in ("chapter", "cells"):
            if (dev, prec, cfg, batch, other) in ok:
                row[f"{other}_over_reference"] = ok[(dev, prec, cfg, batch, other)] / v
        if dev == "cuda" and ("cpu", "fp32", cfg, batch, "chapter") in ok and \
                (dev, prec, cfg, batch, "chapter") in ok:
            row["chapter_gpu_over_cpu"] = (ok[(dev, prec, cfg, batch, "chapter")]
                                           / ok[("cpu", "fp32", cfg, batch, "chapter")])
        rows.append(row)
    return rows


def print_table(rows, target):
    print(f"\n{'device':<7}{'prec':<6}{'config':<7}{'batch':>6}{'reference seq-steps/s':>23}"
          f"{'chapter/ref':>13}{'cells/ref':>11}{'GPU/CPU':>9}")
    for r in rows:
        def fmt(key, width):
            return f"{r[key]:>{width}.2f}" if key in r else f"{'-':>{width}}"
        print(f"{r['device']:<7}{r['precision']:<6}{r['config']:<7}{r['batch']:>6}"
              f"{r['reference']:>23,.0f}{fmt('chapter_over_reference', 13)}"
              f"{fmt('cells_over_reference', 11)}{fmt('chapter_gpu_over_cpu', 9)}")
    print(f"(target: chapter/ref >= {target:g} on the GPU; GPU/CPU is the chapter's model, "
          "same shape and batch, CPU in fp32)")


def write(path, result):
    if path:
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write every measurement here as JSON")
    ap.add_argument("--quick", action="store_true", help="tiny shapes, few repeats (a smoke test)")
    ap.add_argument("--devices", help="comma-separated, default: cuda (when available),cpu")
    ap.add_argument("--configs", help="comma-separated names, default: all ("
                    + ", ".join(c[0] for c in CONFIGS) + "; tiny with --quick)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--max-seconds", type=float, default=200.0,
                    help="skip the measurements left after this long (default 200)")
    ap.add_argument("--target", type=float, default=0.70)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices.split(",") if args.devices else (
        ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"])
    devices = [torch.device(d) for d in devices if d != "cuda" or torch.cuda.is_available()]
    configs, batches = (QUICK_CONFIGS, QUICK_BATCHES) if args.quick else (CONFIGS, BATCHES)
    if args.configs:
        configs = [c for c in configs if c[0] in args.configs.split(",")]
    warmup, repeats, target_s = (1, 3, 0.05) if args.quick else (3, 5, 0.25)
    cpu_warmup, cpu_repeats = (1, 3)
    began = time.perf_counter()
    result = {"bench": "gpu_seq2seq", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "torch": torch.__version__, "cuda": torch.version.cuda,
              "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
              "python": platform.python_version(), "cpu_threads": torch.get_num_threads(),
              "devices": {str(d): device_name(d) for d in devices},
              "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
              "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
              "quick": args.quick, "target": args.target,
              "configs": [dict(zip(("name", "W", "h", "H", "L"), c)) for c in configs],
              "unit": "sequence-steps per second: batch * (W + h) / seconds per training step",
              "parity": {}, "amp_dtypes": {}, "measurements": []}
    series = synthetic_series(4_000 if args.quick else 20_000)
    for device in devices:
        precisions = [("fp32", None)] + ([("bf16", torch.bfloat16)] if device.type == "cuda" else [])
        for name, W, h, H, L in configs:
            starts = np.arange(len(series) - W - h + 1)
            windows = WindowSet(series[None], np.zeros_like(starts), starts, W, h, device=device)
            try:
                result["parity"][f"{device.type}/{name}"] = parity(windows, H, L, device)
            except Exception as exc:
                result["parity"][f"{device.type}/{name}"] = f"{type(exc).__name__}: {exc}"[:500]
            for prec, amp_dtype in precisions:
                if amp_dtype is not None:
                    try:
                        result["amp_dtypes"][f"{device.type}/{prec}/{name}"] = (
                            amp_dtypes(windows, H, L, device, amp_dtype))
                    except Exception as exc:
                        result["amp_dtypes"][f"{device.type}/{prec}/{name}"] = f"{type(exc).__name__}: {exc}"[:500]
                for batch in batches[device.type]:
                    for kind in MODELS:
                        m = {"device": device.type, "device_name": device_name(device), "precision": prec,
                             "config": name, "batch": batch, "model": kind}
                        if time.perf_counter() - began > args.max_seconds:
                            m["skipped"] = f"over --max-seconds {args.max_seconds:g}"
                        else:
                            try:
                                torch.manual_seed(0)
                                if device.type == "cuda":
                                    torch.cuda.reset_peak_memory_stats(device)
                                step = make_step(kind, H, L, windows, amp_dtype)
                                cpu = device.type == "cpu"
                                m.update(measure(step, batch, device, W + h, cpu_warmup if cpu else warmup,
                                                 cpu_repeats if cpu else repeats, target_s))
                                if device.type == "cuda":
                                    m["max_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
                            except Exception as exc:  # recorded, the rest still runs
                                m["error"] = f"{type(exc).__name__}: {exc}"[:500]
                        result["measurements"].append(m)
                        print(f"{m['device']:<5}{prec:<5}{name:<6}batch {batch:>5} {kind:<10}"
                              + (f"{m['seq_steps_per_s']:>14,.0f} seq-steps/s  {m['step_ms_median']:9.2f} ms"
                                 if "seq_steps_per_s" in m else f"  {m.get('error') or m.get('skipped')}"),
                              flush=True)
                        result["wall_s"] = time.perf_counter() - began
                        write(args.out, result)
    result["ratios"] = rows = ratios(result["measurements"])
    missed = [r for r in rows if r["device"] == "cuda"
              and r.get("chapter_over_reference", 0.0) < args.target]
    result["target_met"] = None if "cuda" not in result["devices"] else not missed
    result["wall_s"] = time.perf_counter() - began
    write(args.out, result)
    print(f"\nparity (max |chapter - other|, float64): {json.dumps(result['parity'])}")
    print_table(rows, args.target)
    for r in missed:
        print(f"TARGET FAILED: {r['precision']} {r['config']} batch {r['batch']}: chapter/ref "
              f"{r.get('chapter_over_reference', float('nan')):.2f} < {args.target:g}")
    print(f"devices: {result['devices']}; torch {torch.__version__}; {result['wall_s']:.1f} s"
          + (f"; wrote {args.out}" if args.out else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
