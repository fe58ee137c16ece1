"""``windwatch check``: rows whose raw file is missing or corrupt, and the orphan sweep."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from service.cli.session import open_session
from service.settings import get_settings


def run_sweep(grace_s: float | None = None) -> int:
    """Quarantine raw files without rows older than ``grace_s`` (default: the setting);
    returns how many were moved. ``serve`` calls it once before the workers start."""
    from service.batches.integrity import sweep_orphans
    from service.batches.storage import RawStore
    from service.db import get_engine

    settings = get_settings()
    grace = settings.orphan_grace_s if grace_s is None else grace_s
    with open_session() as session:
        report = sweep_orphans(session=session, store=RawStore(settings.data_root),
                               grace_s=grace)
    get_engine(settings.database_url).dispose()  # no pooled connection carried into workers
    for uri in report.quarantined:
        typer.echo(f"quarantined orphan {uri}", err=True)
    typer.echo(f"sweep: {report.scanned} raw files, {len(report.quarantined)} orphans "
               f"quarantined, {report.too_young} younger than {grace:g} s left alone")
    return len(report.quarantined)


def check(
    sweep: Annotated[bool, typer.Option(
        help="Also move raw files without rows to <data_root>/quarantine")] = False,
    grace_s: Annotated[float | None, typer.Option(
        help="Sweep only files older than this (default WINDWATCH_ORPHAN_GRACE_S)")] = None,
) -> None:
    """Report batches whose raw file is missing or fails its sha256 (exit status 1 if any)."""
    from service.batches.integrity import check_rows, count_rows
    from service.batches.storage import RawStore

    settings = get_settings()
    if sweep:
        run_sweep(grace_s)
    store = RawStore(settings.data_root)
    with open_session() as session:
        total = count_rows(session)
        with typer.progressbar(length=total, label="checking raw files",
                               file=sys.stderr) as bar:
            report = check_rows(session=session, store=store, progress=bar.update)
    for batch_id, uri in report.missing:
        typer.echo(f"missing  batch {batch_id}: {uri}")
    for batch_id, uri in report.corrupt:
        typer.echo(f"corrupt  batch {batch_id}: {uri} (sha256 mismatch)")
    typer.echo(f"check: {report.checked} batches, {len(report.missing)} missing, "
               f"{len(report.corrupt)} corrupt")
    if not report.ok:
        raise typer.Exit(1)
