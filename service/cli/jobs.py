"""``windwatch jobs list|show|start|cancel|watch`` on the database directly (``started_by``
"cli"), and ``windwatch scheduler``, the long-running process that runs them."""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated

import typer

from service.cli.session import echo_json, exit_on_domain_error, open_session
from service.settings import get_settings

jobs_app = typer.Typer(help="Background jobs: retrain, baselines, drift, evaluate, backfill.",
                       no_args_is_help=True)
FINISHED = ("succeeded", "failed", "cancelled")


@jobs_app.command("list")
def jobs_list(kind: Annotated[str | None, typer.Option(help="Only this kind")] = None,
              state: Annotated[str | None, typer.Option(help="Only this state")] = None,
              limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """Jobs, newest first: id, state, progress, kind, who started it."""
    from service.jobs import service

    with exit_on_domain_error(), open_session() as session:
        items, total = service.list_jobs(session=session, kind=kind, state=state, limit=limit)
        for j in items:
            typer.echo(f"{j.id:>5}  {j.state:<10} {j.progress * 100:5.1f}%  {j.kind:<18} "
                       f"{j.started_by:<28} {j.created_at:%Y-%m-%d %H:%M}  "
                       f"{j.error or j.progress_message or ''}")
        typer.echo(f"{len(items)} of {total} job(s)")


@jobs_app.command("show")
def jobs_show(job_id: int) -> None:
    """One job with its events, as JSON (as the API returns it)."""
    from service.jobs import service
    from service.jobs.schemas import job_out

    with exit_on_domain_error(), open_session() as session:
        job = service.get_job(session=session, job_id=job_id)
        echo_json(job_out(job, service.events(session=session, job_id=job_id)))


@jobs_app.command("start")
def jobs_start(kind: str,
               params: Annotated[str, typer.Option(help="Parameters as a JSON object")] = "{}",
               watch: Annotated[bool, typer.Option(help="Follow its progress until it ends")]
               = False) -> None:
    """Queue a job of KIND; the scheduler runs it."""
    from service.jobs import service

    with exit_on_domain_error(), open_session() as session:
        try:
            parsed = json.loads(params)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--params is not JSON: {exc}") from exc
        job = service.start(session=session, kind=kind, params=parsed, started_by="cli",
                            source="cli")
        session.commit()
        typer.echo(f"job {job.id} ({kind}) queued")
    if watch:
        jobs_watch(job.id)


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Cancel a queued job, or ask a running one to stop (error for a finished job)."""
    from service.jobs import service

    with exit_on_domain_error(), open_session() as session:
        job = service.cancel(session=session, job_id=job_id, by="cli")
        session.commit()
        typer.echo(f"job {job_id} " + ("cancelled" if job.state == "cancelled"
                                       else "asked to stop at its next progress report"))


@jobs_app.command("watch")
def jobs_watch(job_id: int,
               interval: Annotated[float, typer.Option(help="Seconds between polls")] = 1.0,
               timeout: Annotated[float | None, typer.Option(help="Give up after (s)")] = None
               ) -> None:
    """A progress bar until the job ends; exit status 1 unless it succeeded."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from service.jobs import service

    t0 = time.monotonic()
    with exit_on_domain_error(), Progress(
            TextColumn("job {task.fields[job]} {task.fields[state]:<9}"), BarColumn(),
            TextColumn("{task.percentage:>5.1f}%  {task.description}"), TimeElapsedColumn(),
            transient=False) as bar:
        task = bar.add_task("", total=1.0, job=job_id, state="")
        while True:
            # A short session per poll: no transaction (or SQLite lock) is held while waiting.
            with open_session() as session:
                job = service.get_job(session=session, job_id=job_id)
            bar.update(task, completed=job.progress, state=job.state,
                       description=(job.progress_message or "")[:60])
            if job.state in FINISHED:
                break
            if timeout is not None and time.monotonic() - t0 > timeout:
                raise ValueError(f"job {job_id} still {job.state} after {timeout:g} s")
            time.sleep(interval)
    typer.echo(f"job {job_id} {job.state}" + (f": {job.error}" if job.error else ""))
    if job.state != "succeeded":
        raise typer.Exit(1)


def scheduler_command() -> None:
    """Run the scheduler: cron schedules from the settings and the queued jobs, in this one
    process (only the holder of the database lease acts; a second one stands by)."""
    from service.db import get_engine, session_factory
    from service.jobs.scheduler import Scheduler
    from service.main import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    # APScheduler logs every poll at INFO; our own lines say what happened.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    Scheduler(settings, session_factory(get_engine(settings.database_url))).run_forever()
