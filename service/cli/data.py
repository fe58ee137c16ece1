"""``windwatch import`` and ``windwatch simulate``: recordings in through the ingest pipeline,
simulated gateway traffic to a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.settings import get_settings


def simulate(
    url: Annotated[str, typer.Option(help="Windwatch base URL")] = "http://127.0.0.1:8000",
    turbines: int = 6,
    snapshots: int = 6,
    fmt: Annotated[str, typer.Option(help="arrow | parquet | npy | json")] = "arrow",
    seed: int = 0,
    api_key: Annotated[str | None, typer.Option(envvar="WINDWATCH_API_KEY",
                                                help="An ingest-scoped key")] = None,
) -> None:
    """Post simulated drivetrain snapshots to a running server, as gateways would."""
    from simulation.drivetrain import demo_fleet
    from simulation.gateway import GatewayClient, run_gateway

    with GatewayClient(url, api_key=api_key) as client:
        n = run_gateway(url, demo_fleet(turbines, seed=seed), n_snapshots=snapshots, fmt=fmt,
                        client=client)
    typer.echo(f"posted {n} snapshots to {url}")


def import_recordings(
    folder: Annotated[Path, typer.Argument(help="Folder of .mat recordings (CWRU or wind turbine)")],
    turbine: Annotated[str, typer.Option(help="Turbine to store them under")] = "CWRU-RIG",
    sensor: Annotated[str, typer.Option(help="Sensor name")] = "drive_end",
) -> None:
    """Load recordings as batches of one turbine through the same pipeline as the API."""
    from service.importer import import_folder

    n = import_folder(get_settings(), folder, turbine=turbine, sensor=sensor, echo=typer.echo)
    typer.echo(f"imported {n} recordings into turbine {turbine}")
