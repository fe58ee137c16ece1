"""Cost of the diagnosis stage per snapshot, in process: model inputs + one batched forward
pass, the old spectrum CNN (resample to 12 kHz, log spectra, cnn1d) against the defect-order
models (speed check, kurtogram band, envelope, defect-order cells, family1d / family2d), on
3 x 256 k samples (10 s at 25.6 kHz) and on a 1-s 3-channel 51.2 kHz snapshot.

The yardstick row (torch.stft of the snapshot, as in the performance notes) lets runs on
different machines be compared by ratio. Median of ``--repeats``.

    .venv/bin/python bench/diagnosis_cost.py [--threads 1] [--repeats 30] [--steps]

``--steps`` adds the family1d path's steps one by one (indicators, speed check, window
gather, kurtogram band, whitened envelope spectra, comb speed search, cells + forward pass as
the remainder), to show where a saving would have to come from.

Prints a Markdown table; writes JSON to bench/results/diagnosis_cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from models.checkpoint import load_checkpoint  # noqa: E402
from pipelines.dsp.envelope import spectral_kurtosis_band  # noqa: E402
from pipelines.dsp.indicators import condition_indicators  # noqa: E402
from pipelines.dsp.kinematics import BEARINGS  # noqa: E402
from pipelines.features import defect_orders as do  # noqa: E402
from pipelines.features.cells import CellReader  # noqa: E402
from pipelines.features.comb_speed import comb_speed_scales  # noqa: E402
from pipelines.features.spec import DEFECT_ORDER_SPEC  # noqa: E402
from pipelines.features.windows import gather_windows, window_starts  # noqa: E402
from pipelines.inference.shaft import ShaftContext, resolve_speed  # noqa: E402
from pipelines.inference.snapshot import analyse_snapshot  # noqa: E402

BUNDLED = ROOT / "models" / "bundled"


def snapshot(fs_hz: float, seconds: float, seed: int = 0) -> np.ndarray:
    """Shaft harmonics, a gear mesh and noise: 3 channels, float32 g."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    base = sum(0.05 / k * np.sin(2 * np.pi * 25.0 * k * t + k) for k in (1, 2, 3))
    base = base + 0.08 * np.sin(2 * np.pi * 23 * 25.0 * t)
    return (base + 0.1 * rng.standard_normal((3, t.size))).astype(np.float32)


def median_ms(fn, repeats: int) -> float:
    fn()  # warm caches (FFT plans, filters)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def step_rows(x: np.ndarray, fs: float, ctx: ShaftContext, repeats: int
              ) -> list[tuple[str, float]]:
    """The family1d path's steps, each timed alone on the same snapshot (the same calls
    ``analyse_snapshot`` makes, in its order)."""
    spec, dor = DEFECT_ORDER_SPEC, ctx.orders()
    shaft = resolve_speed(x, fs, ctx).shaft_hz
    orders = do.family_orders(dor)
    n_win = min(x.shape[-1], int(round(spec.window_s * fs)))
    starts = window_starts(x.shape[-1], n_win, spec.max_windows, None)
    frames = gather_windows(x, starts, n_win).reshape(-1, n_win)
    band = do.analysis_band(x[:, : 2 * n_win], fs, shaft, orders)
    fmax = (max(float(orders.max()), float(do.PROBE_ORDERS.max())) * spec.n_cells
            / spec.cells_per_unit + 3.0) * shaft
    df, white, k_max = do.whitened_envelope_spectrum(frames, fs, band, shaft, fmax)
    return [
        ("condition indicators", median_ms(lambda: condition_indicators(x, fs, 9.80665), repeats)),
        ("speed check (shaft comb)", median_ms(lambda: resolve_speed(x, fs, ctx), repeats)),
        (f"window gather ({len(frames)} x {n_win})",
         median_ms(lambda: gather_windows(x, starts, n_win).reshape(-1, n_win), repeats)),
        ("kurtogram band", median_ms(
            lambda: spectral_kurtosis_band(x[:, : 2 * n_win], fs), repeats)),
        ("whitened envelope spectra", median_ms(
            lambda: do.whitened_envelope_spectrum(frames, fs, band, shaft, fmax), repeats)),
        ("comb speed search (with its range-max table)", median_ms(
            lambda: comb_speed_scales(CellReader(white, df, k_max), shaft, dor, spec), repeats)),
        ("all model inputs (defect_order_inputs)", median_ms(
            lambda: do.defect_order_inputs(x, fs, spec, shaft, dor), repeats)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--steps", action="store_true", help="time the family1d path step by step")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ctx = ShaftContext(rpm=1500.0, defect_orders=BEARINGS["SKF 6309"].geometry.defect_orders())
    rows = []
    for label, fs, seconds in (("3 x 256 k (10 s at 25.6 kHz)", 25_600.0, 10.0),
                               ("3 x 51.2 k (1 s at 51.2 kHz)", 51_200.0, 1.0)):
        x = snapshot(fs, seconds)
        xt = torch.from_numpy(x)
        win = torch.hann_window(1024)
        rows.append((label, "yardstick: torch.stft n_fft 1024 hop 256", median_ms(
            lambda xt=xt, win=win: torch.stft(xt, 1024, 256, window=win, return_complex=True),
            args.repeats)))
        for name in ("cnn1d-default", "family1d-default", "family2d-default"):
            clf = load_checkpoint(BUNDLED / f"{name}.json")
            rows.append((label, f"{name}: indicators + inputs + CNN", median_ms(
                lambda x=x, fs=fs, clf=clf: analyse_snapshot(x, fs, clf, shaft=ctx),
                args.repeats)))
        if args.steps:
            rows += [(label, f"family1d step: {step}", ms)
                     for step, ms in step_rows(x, fs, ctx, args.repeats)]
    print(f"| snapshot | step | median ms ({args.threads} thread) |\n|---|---|---:|")
    for snap, step, ms in rows:
        print(f"| {snap} | {step} | {ms:.1f} |")
    out = ROOT / "bench" / "results" / "diagnosis_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                               "threads": args.threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
