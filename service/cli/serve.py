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
    # The orphan sweep runs here, once, in the process that forks the workers: in the app's
    # lifespan it would run again in every worker and whenever uvicorn replaces a dead one,
    # with several processes moving the same files while others are serving.
    from service.cli.check import run_sweep

    try:
        run_sweep()
    except Exception as exc:  # hygiene, not a precondition: serve anyway, say why not swept
        typer.echo(f"orphan sweep skipped: {type(exc).__name__}: {exc}", err=True)
    if settings.demo_fleet:
        from service.demo import start_demo_feed

        start_demo_feed(settings.model_copy(update={"host": host or settings.host,
                                                    "port": port or settings.port}))
    from service.http_protocol import HTTP_PROTOCOL

    # The workers' Host check allows the bind address: pass a --host on like the worker count.
    os.environ["WINDWATCH_HOST"] = host or settings.host
    # A protocol with a header-read deadline (uvicorn has none for a fresh connection); idle
    # keep-alive connections close after 5 s (uvicorn's default, stated here on purpose).
    uvicorn.run("service.main:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, log_level="warning",
                access_log=False, http=HTTP_PROTOCOL, timeout_keep_alive=5)
