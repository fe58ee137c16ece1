"""``windwatch baselines ...``: calibrate the anomaly threshold; show, reset or fit a sensor's
healthy baseline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from service.cli.session import echo_json, exit_on_domain_error, open_session
from service.settings import get_settings

baselines_app = typer.Typer(help="Per-sensor healthy baselines and the anomaly threshold.",
                            no_args_is_help=True)


@baselines_app.command("calibrate")
def calibrate(
    n_baseline: Annotated[int, typer.Option(help="Snapshots a baseline is fitted from")] = 20,
    rate: Annotated[float, typer.Option(help="Target false alarms per snapshot")] = 0.05,
) -> None:
    """Score healthy real runs (UESTC normal, CWRU normal) against their own first snapshots and
    print the threshold for ``rate`` and the false-alarm rates at the configured threshold."""
    from pipelines.baselines.calibration import report

    settings = get_settings()
    with exit_on_domain_error():
        try:
            text = report(settings.datasets_dir, n_baseline, rate, settings.anomaly_threshold)
        except FileNotFoundError as exc:
            raise ValueError(f"{exc} (set WINDWATCH_DATASETS_DIR)") from exc
    typer.echo(text)


def _show(session, turbine: str, sensor: str, row_sensor, row) -> None:
    from service.baselines.router import baseline_out

    echo_json(baseline_out(session=session, turbine_name=turbine, sensor=row_sensor, row=row))


@baselines_app.command("show")
def show(turbine: str, sensor: str) -> None:
    """A sensor's current baseline and its versions."""
    from service.baselines import service
    from service.errors import NotFound

    with exit_on_domain_error(), open_session() as session:
        s, row = service.get(session=session, turbine_name=turbine, sensor_name=sensor)
        if row is None:
            raise NotFound(f"sensor {sensor!r} of turbine {turbine!r} has no baseline yet")
        _show(session, turbine, sensor, s, row)


@baselines_app.command("reset")
def reset(turbine: str, sensor: str) -> None:
    """Start a new version that learns from the sensor's next snapshots."""
    from service.baselines import service

    settings = get_settings()
    with exit_on_domain_error(), open_session() as session:
        s, row = service.reset(session=session, turbine_name=turbine, sensor_name=sensor,
                               n_required=settings.baseline_snapshots,
                               threshold=settings.anomaly_threshold, actor="cli")
        session.commit()
        _show(session, turbine, sensor, s, row)


@baselines_app.command("fit")
def fit(turbine: str, sensor: str,
        start: Annotated[str, typer.Option(help="ISO-8601 with zone, e.g. 2026-11-01T00:00Z")],
        end: Annotated[str, typer.Option(help="ISO-8601 with zone (exclusive)")]) -> None:
    """Mark [start, end) as healthy: fit a new version from the stored snapshot features."""
    from service.baselines import fitting

    settings = get_settings()
    with exit_on_domain_error(), open_session() as session:
        s, row = fitting.fit_period(session=session, turbine_name=turbine, sensor_name=sensor,
                                    start=datetime.fromisoformat(start),
                                    end=datetime.fromisoformat(end),
                                    threshold=settings.anomaly_threshold, actor="cli",
                                    speed_bin_width=settings.baseline_speed_bin)
        session.commit()
        _show(session, turbine, sensor, s, row)
