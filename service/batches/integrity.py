"""Raw files against rows: the orphan sweep and the integrity check.

A crash between writing a raw file and committing its rows (``kill -9``, power loss, a commit
whose outcome is unknown) leaves a file that no row points to. ``sweep_orphans`` moves such
files, and abandoned temporary files, to ``<data_root>/quarantine/`` (same relative path, so a
file is restored with one ``mv``) instead of deleting them: a sweep is never the thing that
loses data. Only files older than a grace period are touched, so a write that another worker
(or another host on the same data root) is about to commit is never moved.

``check_rows`` is the other direction: rows whose file is missing or fails its sha256.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.batches.storage import TMP_SUFFIX, RawStore, file_sha256, path_component
from service.batches.tables import Batch
from service.turbines.tables import Turbine

log = logging.getLogger(__name__)
QUARANTINE = "quarantine"
CHECK_CHUNK = 500


@dataclass
class SweepReport:
    """Files seen, files moved to quarantine (relative URIs), files too young to judge."""

    scanned: int = 0
    quarantined: list[str] = field(default_factory=list)
    too_young: int = 0


@dataclass
class CheckReport:
    """Rows checked and the batch ids whose raw file is missing or fails its sha256."""

    checked: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)
    corrupt: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row's file exists and matches."""
        return not self.missing and not self.corrupt


def _uris_by_folder(session: Session) -> dict[str, list[int]]:
    """Turbine folder name under ``raw/`` -> the turbine ids stored there."""
    folders: dict[str, list[int]] = {}
    for tid, name in session.execute(select(Turbine.id, Turbine.name)):
        folders.setdefault(path_component(name), []).append(tid)
    return folders


def _known_uris(session: Session, turbine_ids: list[int]) -> set[str]:
    # One turbine's URIs at a time (indexed by turbine): memory bounded by the largest turbine.
    if not turbine_ids:
        return set()
    return set(session.scalars(select(Batch.raw_uri).where(Batch.turbine_id.in_(turbine_ids))))


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, _, names in os.walk(folder):
        for name in names:
            if name.endswith((".parquet", TMP_SUFFIX)):
                yield Path(dirpath) / name


def sweep_orphans(*, session: Session, store: RawStore, grace_s: float,
                  now: float | None = None) -> SweepReport:
    """Move raw files without a row (and stale temporary files) older than ``grace_s``
    seconds to ``<data_root>/quarantine/``, logging each; returns what was done."""
    now = time.time() if now is None else now
    report = SweepReport()
    if not store.root.is_dir():
        return report
    folders = _uris_by_folder(session)
    for turbine_dir in sorted(p for p in store.root.iterdir() if p.is_dir()):
        known = _known_uris(session, folders.get(turbine_dir.name, []))
        session.rollback()  # no read transaction held while walking the folder
        for path in _files(turbine_dir):
            report.scanned += 1
            uri = path.relative_to(store.data_root).as_posix()
            if uri in known:
                continue
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:  # deleted meanwhile by a failed ingest
                continue
            if age < grace_s:
                report.too_young += 1
                continue
            target = store.data_root / QUARANTINE / uri
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue
            report.quarantined.append(uri)
            log.warning("orphan raw file quarantined (no row refers to it): %s -> %s", uri,
                        target)
    return report


def check_rows(*, session: Session, store: RawStore,
               progress: Callable[[int], None] | None = None) -> CheckReport:
    """Every batch row's raw file: present and matching its sha256? ``progress(n)`` is called
    after each chunk of ``n`` rows (for a progress bar)."""
    report = CheckReport()
    last_id = 0
    while True:
        rows = session.execute(
            select(Batch.id, Batch.raw_uri, Batch.raw_sha256).where(Batch.id > last_id)
            .order_by(Batch.id).limit(CHECK_CHUNK)).all()
        session.rollback()  # keyset pages: no long transaction over a long check
        if not rows:
            return report
        for batch_id, uri, sha in rows:
            report.checked += 1
            try:
                actual = file_sha256(store.path(uri))
            except (OSError, ValueError):
                report.missing.append((batch_id, uri))
                continue
            if actual != sha:
                report.corrupt.append((batch_id, uri))
        last_id = rows[-1][0]
        if progress is not None:
            progress(len(rows))


def count_rows(session: Session) -> int:
    """How many batch rows ``check_rows`` will look at."""
    return int(session.scalar(select(func.count()).select_from(Batch)) or 0)
