"""The research commands: ``windwatch train`` (the default CWRU protocol), ``windwatch
evaluate`` (the evaluation protocol, baseline and report) and ``windwatch explain-eval`` (the
explanation checks). Their heavy imports happen inside the commands."""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from service.cli.session import open_session
from service.settings import BUNDLED_MODEL_DIR, REPO_ROOT, get_settings


def train_command(
    arch: Annotated[str, typer.Option(help="family1d, family2d (CWRU + UESTC, defect-order "
                                       "inputs) or cnn1d, cnn2d (CWRU spectra)")] = "family1d",
    out: Annotated[Path | None, typer.Option(help="Checkpoint stem (default: <data_root>/trained/...)")]
    = None,
    seed: int = 0,
    register: Annotated[bool, typer.Option(help="Register the result as a candidate")] = True,
) -> None:
    """Train on the real recordings: the defect-family models on CWRU + UESTC (every
    recording), the spectrum CNNs on CWRU (split by recording, load 2 HP held out)."""
    from pipelines.learning.family_training import train_default_family
    from pipelines.learning.protocol import train_default

    settings = get_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    stem = out or settings.data_root / "trained" / f"{arch}-{stamp}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    if arch.startswith("family"):
        meta = train_default_family(settings.datasets_dir, stem, arch=arch, seed=seed,
                                    log=typer.echo)
    else:
        meta = train_default(settings.datasets_dir, stem, arch=arch, seed=seed)
    typer.echo(json.dumps(meta.get("metrics", {}), indent=2))
    if register:
        from service.registry.service import register_checkpoint

        with open_session() as session:
            v = register_checkpoint(session=session, settings=settings, json_path=Path(f"{stem}.json"))
            session.commit()
            typer.echo(f"registered as candidate model version {v.id}")


def evaluate_command(
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and PNGs")]
    = REPO_ROOT / "docs" / "evaluation",
    arch: Annotated[str, typer.Option(help="Comma-separated models: family1d, family2d (the "
                                      "transfer protocol on CWRU + UESTC) or cnn1d, cnn2d (the "
                                      "CWRU spectrum protocol)")] = "family1d,family2d",
    seed: Annotated[int, typer.Option(help="Seed for splits, training and noise")] = 0,
    baseline: Annotated[bool, typer.Option(help="Evaluate the envelope baseline too (CNNs)")]
    = True,
    max_epochs: Annotated[int | None, typer.Option(help="Cap CNN epochs (smoke runs)")] = None,
    steps: Annotated[int | None, typer.Option(help="Adam steps per family model")] = None,
    all_folds: Annotated[bool, typer.Option(help="Run family2d on every fold, not only "
                                            "leave-one-rig-out (about 4x the 1-D cost)")]
    = False,
    threads: Annotated[int, typer.Option(help="Torch threads for the family models")] = 1,
    checkpoint: Annotated[Path, typer.Option(help="Model for the wind-turbine trend (CNNs)")]
    = BUNDLED_MODEL_DIR / "cnn1d-default.json",
    wind_turbine: Annotated[bool, typer.Option(help="Add the wind-turbine trend (CNNs)")] = True,
) -> None:
    """The evaluation protocol and its report. Family models: leave-one-rig-out (CWRU <->
    UESTC), leave-one-load-out, held-out fault size, leave-one-speed-out and 0 dB noise, beside
    the envelope rule. CNNs: the CWRU protocol with its baseline and the wind-turbine trend."""
    settings = get_settings()
    archs = [a.strip() for a in arch.split(",") if a.strip()]
    args = sys.argv[2:] if sys.argv[1:2] == ["evaluate"] else sys.argv[1:]
    command = f"windwatch evaluate {shlex.join(args)}".strip()
    family = [a for a in archs if a.startswith("family")]
    if family and len(family) != len(archs):
        raise typer.BadParameter("family and CNN models run different protocols: one kind per "
                                 "run", param_hint="--arch")
    if family:
        from pipelines.evaluation.transfer import ARCH_PROTOCOLS, run_transfer
        from pipelines.evaluation.transfer_report import write_transfer_report
        from pipelines.learning.family_training import DEFAULT_STEPS

        results = run_transfer(settings.datasets_dir, archs=family, seed=seed,
                               steps=steps or DEFAULT_STEPS, log=typer.echo, threads=threads,
                               arch_protocols={} if all_folds else ARCH_PROTOCOLS)
        results["command"] = command
        paths = write_transfer_report(results, out)
    else:
        paths = _evaluate_cnn(archs, seed, baseline, max_epochs, checkpoint, wind_turbine,
                              out, command)
        results = json.loads(paths["json"].read_text())
    for t in results["targets"]:
        who = f"{t['model']}: " if "model" in t else ""
        typer.echo(f"{'MET ' if t['met'] else 'MISS'}  {who}{t['target']}: {t['measured']}")
    typer.echo(f"report: {paths['md']}")


def _evaluate_cnn(archs: list[str], seed: int, baseline: bool, max_epochs: int | None,
                  checkpoint: Path, wind_turbine: bool, out: Path, command: str) -> dict:
    from pipelines.evaluation.protocol import run_evaluation, wind_turbine_trend
    from pipelines.evaluation.report import write_report

    settings = get_settings()
    results = run_evaluation(settings.datasets_dir, seed=seed, archs=archs, baseline=baseline,
                             max_epochs=max_epochs, log=typer.echo)
    results["command"] = command
    if wind_turbine:
        t0 = time.perf_counter()
        try:
            rows = wind_turbine_trend(settings.datasets_dir, checkpoint)
            results["wind_turbine"] = {"checkpoint": _display(checkpoint), "rows": rows}
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            # A checkpoint that does not match the code must not sink the whole report.
            results["wind_turbine"] = {"error": f"{type(exc).__name__}: {exc}"}
            typer.echo(f"wind-turbine trend skipped: {exc}", err=True)
        results["seconds"] = round(results["seconds"] + time.perf_counter() - t0, 1)
    return write_report(results, out)


def _display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def explain_eval_command(
    out: Annotated[Path, typer.Option(help="Folder for explanations.md and explanations/")]
    = REPO_ROOT / "docs",
    checkpoint: Annotated[list[Path] | None, typer.Option(help="Checkpoint JSON, repeatable")]
    = None,
    max_windows: Annotated[int, typer.Option(help="Windows per recording")] = 4,
    label_steps: Annotated[int, typer.Option(help="Adam steps per label-sanity model")] = 300,
    seed: Annotated[int, typer.Option()] = 0,
    envelope: Annotated[bool, typer.Option(help="Also train and check an envelope-input CNN")]
    = True,
    orders: Annotated[bool, typer.Option(
        help="Only the defect-order path: train a family model on CWRU 0-1 HP + UESTC without "
             "1200 rpm, explain the held-out faults, write its section of explanations.md")]
    = False,
    arch: Annotated[str, typer.Option(help="family1d or family2d (with --orders)")] = "family1d",
) -> None:
    """Physics agreement of every attribution method on the CWRU faults, the Adebayo sanity
    checks and a gallery; writes <out>/explanations.md and <out>/explanations/. With
    ``--orders``: the defect-order models' physics agreement on held-out recordings instead."""
    import numpy as np
    import torch

    from models.checkpoint import load_checkpoint
    from pipelines.evaluation import explanations as ev
    from pipelines.explain import attribution as attr
    from pipelines.features.spec import InputSpec
    from pipelines.learning.datasets import load_cwru
    from pipelines.learning.protocol import default_protocol

    t0 = time.perf_counter()
    settings = get_settings()
    if orders:
        ev.defect_order_path(settings.datasets_dir, out, arch, seed=seed, log=typer.echo)
        typer.echo(f"wrote the defect-order section of {out / 'explanations.md'}")
        return
    recs = load_cwru(settings.datasets_dir)
    by_id = {r.recording_id: r for r in recs}
    img_dir = out / "explanations"
    img_dir.mkdir(parents=True, exist_ok=True)
    paths = checkpoint or [BUNDLED_MODEL_DIR / "cnn1d-default.json",
                           BUNDLED_MODEL_DIR / "cnn2d-default.json"]
    sets = default_protocol(settings.datasets_dir)
    results: dict = {"models": {}, "gallery": []}
    models = [(load_checkpoint(p), None) for p in paths]
    if envelope:
        from pipelines.learning.envelope_model import envelope_inputs, train_envelope_model

        typer.echo("training the experimental envelope-input CNN")
        models.append((train_envelope_model(sets["train"], seed=seed), envelope_inputs))
    for clf, inputs_fn in models:
        typer.echo(f"{clf.name}: physics agreement")
        test_ids = {r.recording_id for r in sets["test"]}
        rows = ev.physics_agreement(recs, clf, max_windows=max_windows, log=typer.echo,
                                    inputs_fn=inputs_fn)
        spec = InputSpec.from_dict(clf.input_spec_dict)
        probe = [((inputs_fn(r) if inputs_fn else
                   attr.snapshot_inputs(r.signal[None], r.fs_hz, spec))[:2], r.label)
                 for r in sets["test"]]
        px = np.concatenate([p for p, _ in probe])
        py = np.concatenate([np.full(len(p), clf.classes.index(lab)) for p, lab in probe])
        typer.echo(f"{clf.name}: cascading randomisation")
        results["models"][clf.name] = {
            "architecture": clf.architecture, "max_windows": max_windows, "rows": rows,
            "weights_sha256": clf.sha256,
            "summary": ev.summarise(rows, test_ids), "n_probe": len(px),
            "cascading": ev.sanity_cascading(clf, px, py)}
        if inputs_fn is not None:
            continue  # no label check or gallery for the experimental model
        if clf.architecture == "cnn1d" and "labels" not in results:
            lab = ev.sanity_labels(sets["train"], px, py, spec, "cnn1d", label_steps, seed,
                                   log=typer.echo)
            results["labels"] = {"arch": "cnn1d", **lab}
        method = "ig"
        for label, rid in ev.GALLERY.items():
            png, summary = ev.gallery_png(by_id[rid], clf, method)
            name = f"{clf.architecture}_{label}.png"
            (img_dir / name).write_bytes(png)
            results["gallery"].append({**summary, "model": f"{clf.name}, {method}",
                                       "image": f"explanations/{name}"})
    argv = sys.argv[2:] if sys.argv[1:2] == ["explain-eval"] else sys.argv[1:]
    results.update(command=("windwatch explain-eval " + shlex.join(argv)).strip(),
                   seconds=time.perf_counter() - t0, torch=torch.__version__,
                   threads=torch.get_num_threads(), machine=platform.processor() or "cpu",
                   notes=NOTES)
    (img_dir / "results.json").write_text(json.dumps(results, indent=1, default=float))
    kept = ev.kept_order_section(out)
    (out / "explanations.md").write_text(ev.render_markdown(results) + kept)
    typer.echo(f"wrote {out / 'explanations.md'} in {results['seconds']:.0f} s")


NOTES = [
    "- `vanilla`: |gradient|; `smoothgrad`: mean |gradient| over 16 noisy copies (std 0.15 of "
    "the standardised input); `ig`: positive part of Integrated Gradients (32 steps, zero "
    "baseline = the standardised mean); `gradcam`: Grad-CAM at the last convolution, "
    "interpolated to the input grid (coarse: 50 cells over 0-4.7 kHz for the 1-D model, 8x8 "
    "for the 2-D one).",
    "- Ratios near 1x mean the attribution is spread over the axis without regard to the "
    "defect lines; a model can still be right for other reasons (resonance bands excited by "
    "the impacts sit at 2-4 kHz in CWRU, far above the 5th harmonic).",
    "- `cnn1d-envelope (experimental)`: a default-config 1-D CNN that this command trains "
    "(400 Adam steps, seed 0) on envelope spectra (spectral-kurtosis band, Hilbert envelope, "
    "0-1.5 kHz) of the training split; not served, not saved. It asks whether an input on "
    "which the defect lines are obvious makes the attribution land on them.",
    "- The envelope-power row shows how strongly the physics itself concentrates on the "
    "lines in these recordings (Smith & Randall 2015: several CWRU records are not clearly "
    "diagnosable).",
]
