"""Annotated dependencies: the request's settings, DB session and model runtime, and the shared
path/query parameter types (identifiers that cannot be a path element, integers range-checked
before they reach the database, text without NUL or control characters)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from service.batches.storage import RawStore
from service.errors import DATABASE_OUTAGES, outage_summary
from service.registry.runtime import ModelRuntime
from service.settings import Settings
from service.validation import ID_PATTERN, MAX_BIG_INT, MAX_DB_INT

log = logging.getLogger("windwatch.db")


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _session(request: Request) -> Iterator[Session]:
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        try:
            session.close()
        except DATABASE_OUTAGES as exc:
            # The closing ROLLBACK found the connection dead (a terminated backend, a database
            # restart). Whatever it held was committed or is gone with it, and the pool drops
            # it; raising here would come after the response started and cut the client off.
            log.warning("session closed on a dead connection: %s", outage_summary(exc))


def _runtime(request: Request) -> ModelRuntime:
    return request.app.state.runtime


def _store(request: Request) -> RawStore:
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[Session, Depends(_session)]
RuntimeDep = Annotated[ModelRuntime, Depends(_runtime)]
StoreDep = Annotated[RawStore, Depends(_store)]

TurbineIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. WT-001")]
SensorPath = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. gearbox_hss")]
BatchIdPath = Annotated[int, Path(ge=1, le=MAX_BIG_INT, description="a batch id")]
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]  # the small tables' int4 keys
BigIdPath = Annotated[int, Path(ge=1, le=MAX_BIG_INT)]  # predictions, alarms (BIGINT)
LimitQuery = Annotated[int, Query(ge=1, le=1000)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_BIG_INT)]
# Dashboard pages: 0 and below still mean the first page; (page - 1) x page size stays an int4.
PageQuery = Annotated[int, Query(ge=-MAX_DB_INT, le=MAX_DB_INT // 1000)]
# Free text in a query: printable only (NUL/control characters -> 422), bounded length.
TextQuery = Annotated[str | None, Query(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]
