"""The transfer report: ``report.json``, ``report.md`` and confusion-matrix PNGs for the
dict of ``pipelines.evaluation.transfer.run_transfer``, with the targets checked next to the
figures (same conventions as ``pipelines.evaluation.report``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.evaluation.report import TITLES, fold_confusion_pngs
from pipelines.evaluation.transfer import RULE, RULE_AT_GATE

CONDITIONS = {"clean": "clean", "snr_0_db": "0 dB"}


def _folds(results: dict, protocol: str, model: str) -> list[dict]:
    return [f for f in results["folds"] if f["protocol"] == protocol and model in f["models"]]


def _f1(fold: dict, model: str, cond: str = "clean") -> float:
    return float(fold["models"][model][cond]["macro_f1"])


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def check_transfer_targets(results: dict) -> list[dict]:
    """Every target for every model over the folds it ran: target, measured, met."""
    rows: list[dict] = []

    def add(model: str, target: str, measured: str, met: bool) -> None:
        rows.append({"model": model, "target": target, "measured": measured, "met": bool(met)})

    for m in results["archs"]:
        for f in _folds(results, "leave_one_rig_out", m):
            c = f["models"][m]["clean"]
            add(m, f"{f['name']}: macro-F1 >= 0.90", f"{c['macro_f1']:.3f}", c["macro_f1"] >= 0.90)
            h = c["healthy_called_normal"]
            add(m, f"{f['name']}: healthy windows called normal >= 95 %", _pct(h),
                h is not None and h >= 0.95)
        lolo = [_f1(f, m) for f in _folds(results, "leave_one_load_out", m)]
        if lolo:
            add(m, "leave-one-load-out (CWRU): macro-F1 >= 0.98, every load",
                ", ".join(f"{v:.3f}" for v in lolo), min(lolo) >= 0.98)
        for f in _folds(results, "held_out_fault_size", m):
            add(m, "held-out fault size: macro-F1 >= 0.85", f"{_f1(f, m):.3f}",
                _f1(f, m) >= 0.85)
        ran = [f for f in results["folds"] if m in f["models"]]
        snr0 = [_f1(f, m, "snr_0_db") for f in ran]
        if snr0:
            add(m, "macro-F1 >= 0.90 at 0 dB SNR, every fold it ran",
                f"min {min(snr0):.3f}, mean {np.mean(snr0):.3f} over {len(snr0)} folds",
                min(snr0) >= 0.90)
        for protocol in dict.fromkeys(f["protocol"] for f in ran):
            fs = _folds(results, protocol, m)
            for rule, which in ((RULE, "the envelope rule"),
                                (RULE_AT_GATE, "the envelope rule at the 6-dB gate")):
                for cond, label in CONDITIONS.items():
                    a = float(np.mean([_f1(f, m, cond) for f in fs]))
                    b = float(np.mean([_f1(f, rule, cond) for f in fs]))
                    add(m, f"beats {which}, {TITLES.get(protocol, protocol)} ({label}, "
                        "mean macro-F1 of folds)", f"{a:.3f} vs rule {b:.3f}", a > b)
    return rows


def _protocol_md(results: dict, protocol: str, images: dict[str, str]) -> list[str]:
    folds = [f for f in results["folds"] if f["protocol"] == protocol]
    classes = results["classes"]
    md = [f"## {TITLES.get(protocol, protocol)}", "",
          "| fold | model | macro-F1 clean | macro-F1 0 dB | healthy called normal (clean / "
          "0 dB) | runs right by vote (clean) | " + " | ".join(
              f"recall {c} (clean / 0 dB)" for c in classes) + " |",
          "|---|---|---|---|---|---|" + "---|" * len(classes)]
    for f in folds:
        for m, r in f["models"].items():
            c, z = r["clean"], r["snr_0_db"]
            name = f"{m} (threshold {r['threshold']:.2f})" if "threshold" in r else m
            md.append(
                f"| {f['name']} | {name} | {c['macro_f1']:.3f} | {z['macro_f1']:.3f} | "
                f"{_pct(c['healthy_called_normal'])} / {_pct(z['healthy_called_normal'])} | "
                f"{c['run_vote_accuracy']:.2f} | " + " | ".join(
                    f"{c['recall'][k]:.2f} / {z['recall'][k]:.2f}" if k in c["recall"]
                    else "-" for k in classes) + " |")
    md.append("")
    for f in folds:
        wrong = [f"{m}: `{g}` ({v})" for m, r in f["models"].items()
                 for g, v in r["clean"]["wrong_runs"].items()]
        md.append(f"- {f['name']}: {len(f['runs']['test'])} test runs "
                  f"({f['test_windows']['clean']} clean windows), {len(f['runs']['train'])} "
                  f"training runs ({f['train_windows']} inputs, all variants). Wrong by majority "
                  f"vote (clean): {'; '.join(wrong) or 'none'}.")
        md.append(f"\n![confusion matrices, {f['name']}]({images[f['name']]})\n")
    return md


HOW = [
    "All splits move whole runs (a CWRU recording; a UESTC run with all its parts), never "
    "windows. Each fold trains on every augmented variant of its training runs (clean, speed "
    "jitter 1 %, white noise at 20/10/5/0 dB, three geometry probes) and is tested on the "
    "`clean` and `noise0` windows of its held-out runs (1-s windows every 0.5 s; `noise0`: "
    "white noise at 0 dB SNR added to the raw signal before any processing, with a 1 % speed "
    "jitter). Macro-F1 is the mean F1 over the classes present in the held-out runs (a wrong "
    "call into an absent class still costs the true class); per-class recall and the share of "
    "healthy windows called normal are per window.", "",
    "Envelope rule (the baseline, same windows, same geometry): the family of largest "
    "`family_prominence` (mean height of the harmonic lines above the envelope spectrum's "
    "floor, in units of 6 dB, less the snapshot's own null probes)"
    " among BPFO, BPFI (harmonics 1-3) and BSF (2, 4, 6 x BSF), each within +-2 %; "
    "`normal` when that largest reading is below a threshold chosen on the fold's training "
    "rows (all variants) as the value that maximises their macro-F1 (shown in the tables). "
    "The models' own normal/fault boundary is not learnt: it is the fixed 6-dB comb gate "
    "(`models.family_head`), the same on every fold; `envelope_rule_6db` is the same rule at "
    "that gate (threshold 1.00 unit = 6 dB), the physics the CNN starts from and may only "
    "adjust between near-tied families.", ""]

LIMITS = [
    "## Known limits", "",
    "- Two rigs only. UESTC's bearing geometry is not published: its defect orders are "
    "estimated from the data (`UESTC UCPH20 (estimated)`), so UESTC figures inherit that "
    "estimate.",
    "- CWRU has one healthy recording (0 HP, 5.1 s, ~9 windows): CWRU healthy figures rest on "
    "it alone, and a CWRU-only training side sees ~9 clean healthy windows.",
    "- CWRU ball faults are weakly diagnosable from the envelope (Smith & Randall, MSSP 2015); "
    "the rule's ball recall on CWRU shows how little BSF evidence there is.",
    "- One seed; a held-out side of 3-16 runs moves macro-F1 by several points per run.",
    "- Leave-one-load-out and held-out fault size re-use the same physical CWRU bearings at "
    "other loads/sizes; leave-one-rig-out is the test of transfer.", ""]


def render_transfer_markdown(results: dict, targets: list[dict], images: dict[str, str]) -> str:
    """The Markdown report (images referenced relative to the report)."""
    ap = "; ".join(f"{a}: {', '.join(TITLES.get(p, p) for p in ps)}"
                   for a, ps in results["arch_protocols"].items())
    md = ["# Windwatch evaluation report: defect-family models", "",
          f"Generated by `{results.get('command', 'windwatch evaluate')}` (seed "
          f"{results['seed']}, {results['steps']} Adam steps per model, "
          f"{results['torch_threads']} torch thread(s), {results['seconds']:.0f} s in all, of "
          f"which {results['dataset_seconds']:.0f} s building the {results['inputs']} inputs "
          f"once). Data: CWRU 12 kHz drive end (27 fault recordings + 1 healthy) and UESTC "
          f"(12 fault runs + 4 healthy runs of 5 parts). Models and the protocols they ran: "
          f"{ap}; the envelope rule runs on every fold.", "",
          "The older CWRU-only spectrum-CNN protocol is `windwatch evaluate --arch cnn1d`.", ""]
    if results.get("sources"):
        md += ["Measured with these sources (sha256, first 12 digits): " + ", ".join(
            f"`{k}` {v}" for k, v in results["sources"].items()) + ".", ""]
    md += HOW
    md += ["## Targets", "", "| model | target | measured | met |", "|---|---|---|---|"]
    md += [f"| {t['model']} | {t['target']} | {t['measured']} | "
           f"{'yes' if t['met'] else '**no**'} |" for t in targets]
    missed = sum(not t["met"] for t in targets)
    md += ["", f"{missed} of {len(targets)} targets are **not met**." if missed
           else "Every target is met.", ""]
    for protocol in dict.fromkeys(f["protocol"] for f in results["folds"]):
        md += _protocol_md(results, protocol, images)
    md += LIMITS
    return "\n".join(md) + "\n"


def write_transfer_report(results: dict, out_dir: Path | str) -> dict[str, Path]:
    """Write report.json, report.md and one confusion PNG per fold into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results["targets"] = check_transfer_targets(results)
    images = fold_confusion_pngs(results, out, prefix="transfer-")
    paths = {"json": out / "report.json", "md": out / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=1, default=float) + "\n")
    paths["md"].write_text(render_transfer_markdown(results, results["targets"], images))
    return {**paths, **{k: out / v for k, v in images.items()}}
