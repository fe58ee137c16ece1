"""The ``windwatch`` command line (Typer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from service.cli_evaluate import evaluate_command
from service.cli_explain import explain_eval_command, geometry_app
from service.settings import get_settings

app = typer.Typer(help="Windwatch: vibration condition monitoring for wind turbines.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")

# The evaluation protocol and the explanation checks live in their own modules; their heavy
# imports happen inside the commands.
app.command("evaluate")(evaluate_command)
app.command("explain-eval")(explain_eval_command)
app.add_typer(geometry_app, name="geometry")


@app.command()
def migrate() -> None:
    """Apply the Alembic migrations and register the bundled models."""
    from service.migrate import migrate_and_seed

    settings = get_settings()
    migrate_and_seed(settings)
    typer.echo(f"database at head: {settings.database_url}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
) -> None:
    """Run the HTTP service (uvicorn). Torch threads per worker = cores // workers."""
    import os

    import uvicorn

    settings = get_settings()
    workers = workers or settings.workers
    # Workers are separate processes that read settings from the environment: pass ours on.
    os.environ["WINDWATCH_WORKERS"] = str(workers)
    if settings.demo_fleet:
        from service.demo import start_demo_feed

        start_demo_feed(settings.model_copy(update={"host": host or settings.host,
                                                    "port": port or settings.port}))
    uvicorn.run("service.main:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, log_level="warning",
                access_log=False)


@app.command()
def train(
    arch: Annotated[str, typer.Option(help="cnn1d or cnn2d")] = "cnn1d",
    out: Annotated[Path | None, typer.Option(help="Checkpoint stem (default: <data_root>/trained/...)")]
    = None,
    seed: int = 0,
    register: Annotated[bool, typer.Option(help="Register the result as a candidate")] = True,
) -> None:
    """Train on the real CWRU recordings (split by recording, load 2 HP held out)."""
    from pipelines.train import train_default

    settings = get_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    stem = out or settings.data_root / "trained" / f"{arch}-{stamp}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = train_default(settings.datasets_dir, stem, arch=arch, seed=seed)
    typer.echo(json.dumps(meta.get("metrics", {}), indent=2))
    if register:
        from service.db import get_engine, session_factory
        from service.registry.service import register_checkpoint

        with session_factory(get_engine(settings.database_url))() as session:
            v = register_checkpoint(session=session, settings=settings, json_path=Path(f"{stem}.json"))
            session.commit()
            typer.echo(f"registered as candidate model version {v.id}")


@app.command()
def simulate(
    url: Annotated[str, typer.Option(help="Windwatch base URL")] = "http://127.0.0.1:8000",
    turbines: int = 6,
    snapshots: int = 6,
    fmt: Annotated[str, typer.Option(help="arrow | parquet | npy | json")] = "arrow",
    seed: int = 0,
) -> None:
    """Post simulated drivetrain snapshots to a running server, as gateways would."""
    from pipelines.gateway import run_gateway
    from pipelines.simulate import demo_fleet

    n = run_gateway(url, demo_fleet(turbines, seed=seed), n_snapshots=snapshots, fmt=fmt)
    typer.echo(f"posted {n} snapshots to {url}")


@app.command("import")
def import_recordings(
    folder: Annotated[Path, typer.Argument(help="Folder of .mat recordings (CWRU or wind turbine)")],
    turbine: Annotated[str, typer.Option(help="Turbine to store them under")] = "CWRU-RIG",
    sensor: Annotated[str, typer.Option(help="Sensor name")] = "drive_end",
) -> None:
    """Load recordings as batches of one turbine through the same pipeline as the API."""
    from service.importer import import_folder

    n = import_folder(get_settings(), folder, turbine=turbine, sensor=sensor, echo=typer.echo)
    typer.echo(f"imported {n} recordings into turbine {turbine}")


def _session():  # noqa: ANN202
    from service.db import get_engine, session_factory

    return session_factory(get_engine(get_settings().database_url))()


@models_app.command("list")
def models_list() -> None:
    """All registered model versions."""
    from service.registry.service import list_versions

    with _session() as s:
        for v in list_versions(session=s):
            f1 = v.metrics.get("test", {}).get("macro_f1", v.metrics.get("macro_f1", ""))
            typer.echo(f"{v.id:>4}  {v.status:<10} {v.architecture:<6} {v.name:<28} macroF1={f1}")


@models_app.command("show")
def models_show(version_id: int) -> None:
    """One model version as JSON."""
    from service.registry.schemas import ModelVersionOut
    from service.registry.service import get_version

    with _session() as s:
        typer.echo(ModelVersionOut.model_validate(get_version(session=s, version_id=version_id))
                   .model_dump_json(indent=2))


@models_app.command("promote")
def models_promote(version_id: int, reason: Annotated[str, typer.Option()] = "",
                   by: Annotated[str, typer.Option()] = "cli") -> None:
    """Make a version the production model (running servers switch within seconds)."""
    from service.registry.service import promote

    with _session() as s:
        v = promote(session=s, version_id=version_id, by=by, reason=reason)
        s.commit()
        typer.echo(f"model version {v.id} ({v.name}) is now in production")


@models_app.command("rollback")
def models_rollback(reason: Annotated[str, typer.Option()] = "rollback",
                    by: Annotated[str, typer.Option()] = "cli") -> None:
    """Put the previous production model back."""
    from service.registry.service import rollback

    with _session() as s:
        v = rollback(session=s, by=by, reason=reason)
        s.commit()
        typer.echo(f"rolled back: model version {v.id} ({v.name}) is in production again")


@models_app.command("register")
def models_register(json_path: Path) -> None:
    """Register a checkpoint (its .json metadata; weights beside it) as a candidate."""
    from service.registry.service import register_checkpoint

    with _session() as s:
        v = register_checkpoint(session=s, settings=get_settings(), json_path=json_path)
        s.commit()
        typer.echo(f"model version {v.id} ({v.name}, {v.status})")

