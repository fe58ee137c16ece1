"""``windwatch migrate`` and ``windwatch serve``: the database schema and the HTTP service."""

from __future__ import annotations

from typing import Annotated

import typer

from service.settings import get_settings


def migrate() -> None:
    """Apply the Alembic migrations and register the bundled models."""
    from service.migrate import migrate_and_seed

    settings = get_settings()
    migrate_and_seed(settings)
    typer.echo(f"database at head: {settings.database_url}")


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
