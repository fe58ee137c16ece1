"""``windwatch evaluate``: the honest protocol, the baseline and the report.

Wired into ``service/cli.py`` as ``app.command("evaluate")(evaluate_command)``; also runnable
alone as ``python -m service.cli_evaluate``.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from service.settings import BUNDLED_MODEL_DIR, REPO_ROOT, get_settings


def evaluate_command(
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and PNGs")]
    = REPO_ROOT / "docs" / "evaluation",
    arch: Annotated[str, typer.Option(help="Comma-separated CNNs to evaluate: cnn1d, cnn2d")]
    = "cnn1d",
    seed: Annotated[int, typer.Option(help="Seed for splits, training and noise")] = 0,
    baseline: Annotated[bool, typer.Option(help="Evaluate the envelope baseline too")] = True,
    max_epochs: Annotated[int | None, typer.Option(help="Cap CNN epochs (smoke runs)")] = None,
    checkpoint: Annotated[Path, typer.Option(help="Model for the wind-turbine trend")]
    = BUNDLED_MODEL_DIR / "cnn1d-default.json",
    wind_turbine: Annotated[bool, typer.Option(help="Add the wind-turbine trend")] = True,
) -> None:
    """Leave-one-load-out, held-out fault size and noise robustness on the CWRU recordings
    (split by recording), the CNN beside the envelope baseline, and the wind-turbine trend."""
    from pipelines.evaluate import run_evaluation, wind_turbine_trend
    from pipelines.report import write_report

    settings = get_settings()
    archs = [a.strip() for a in arch.split(",") if a.strip()]
    results = run_evaluation(settings.datasets_dir, seed=seed, archs=archs, baseline=baseline,
                             max_epochs=max_epochs, log=typer.echo)
    args = sys.argv[2:] if sys.argv[1:2] == ["evaluate"] else sys.argv[1:]
    results["command"] = f"windwatch evaluate {shlex.join(args)}".strip()
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
    paths = write_report(results, out)
    for t in results["targets"]:
        typer.echo(f"{'MET ' if t['met'] else 'MISS'}  {t['target']}: {t['measured']}")
    typer.echo(f"report: {paths['md']}")


def _display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    typer.run(evaluate_command)
