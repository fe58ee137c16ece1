"""Attribution cost per input: Integrated Gradients (32 steps) and the other methods, for the
1-D and 2-D models, at a fixed number of torch threads (default 2 = one worker on 2 cores).

The budget: IG <= 150 ms per input (1-D) and <= 400 ms (2-D) on a 2-core CPU. One call
explains ``--batch`` inputs at once (the service explains up to 8 windows per snapshot with the
expensive methods); the figure is the median call time / batch. Inputs are random standardised
spectra: the cost does not depend on the values.

    .venv/bin/python bench/attribution_cost.py [--threads 2] [--batch 8] [--repeats 5]

Prints a Markdown table; writes JSON to bench/results/attribution_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from models.checkpoint import Classifier, build_model, load_checkpoint  # noqa: E402
from pipelines.explain.attribution import METHODS, attribute  # noqa: E402
from pipelines.features.spec import SPECTROGRAM_SPEC, SPECTRUM_SPEC  # noqa: E402

SPECS = {"cnn1d": SPECTRUM_SPEC, "cnn2d": SPECTROGRAM_SPEC}
BUDGET_MS = {"cnn1d": 150.0, "cnn2d": 400.0}


def classifier(arch: str) -> tuple[Classifier, str]:
    """The bundled checkpoint, or a fresh default-config model if it does not load."""
    path = ROOT / "models" / "bundled" / f"{arch}-default.json"
    try:
        return load_checkpoint(path), path.name
    except Exception as exc:
        spec = SPECS[arch]
        meta = {"name": f"{arch}-fresh", "architecture": arch, "classes": list("abcd"),
                "input_spec": spec.to_dict(), "weights_sha256": "-"}
        return Classifier(build_model(arch, {"n_classes": 4}), meta), f"fresh ({exc})"[:60]


def time_call(fn, repeats: int) -> list[float]:
    fn()  # warm-up: first-call allocations and kernel selection
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--max-batch", default="64,256",
                    help="inputs per forward pass inside IG/SmoothGrad (comma list to compare)")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "bench" / "results" / "attribution_cost.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for arch, spec in SPECS.items():
        clf, source = classifier(arch)
        n_params = sum(p.numel() for p in clf.model.parameters())
        x = rng.standard_normal((args.batch, *spec.input_shape)).astype(np.float32)
        t = np.arange(args.batch) % len(clf.classes)
        fwd = time_call(lambda x=x, clf=clf: clf.predict_proba(x), args.repeats)
        for method in args.methods.split(","):
            sizes = [int(s) for s in args.max_batch.split(",")] if method in (
                "ig", "smoothgrad") else [256]
            for mb in sizes:
                ts = time_call(lambda m=method, mb=mb, x=x, t=t, clf=clf: attribute(
                    clf.model, x, t, m, max_batch=mb), args.repeats)
                per_ms = 1e3 * float(np.median(ts)) / args.batch
                rows.append({"arch": arch, "params": n_params, "checkpoint": source,
                             "method": method, "max_batch": mb, "batch": args.batch,
                             "ms_per_input": round(per_ms, 1),
                             "ms_per_input_min": round(1e3 * min(ts) / args.batch, 1),
                             "forward_ms_per_input": round(1e3 * float(np.median(fwd))
                                                           / args.batch, 2),
                             "budget_ms": BUDGET_MS[arch] if method == "ig" else None})
                print(f"{arch} {method} max_batch={mb}: {per_ms:.1f} ms/input", file=sys.stderr)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}, {args.threads} threads, batch {args.batch}, median of "
          f"{args.repeats}\n")
    print("| model | params | method | inputs/pass | ms/input (median) | min | budget |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        budget = f"<= {r['budget_ms']:.0f}" if r["budget_ms"] else ""
        print(f"| {r['arch']} | {r['params']:,} | {r['method']} | {r['max_batch']} | "
              f"{r['ms_per_input']} | {r['ms_per_input_min']} | {budget} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"host": {"cpus": os.cpu_count(), "torch": torch.__version__,
                                             "threads": args.threads,
                                             "machine": platform.machine()},
                                    "args": {k: str(v) for k, v in vars(args).items()},
                                    "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
