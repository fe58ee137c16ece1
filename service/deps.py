"""Annotated dependencies: the request's settings, DB session and model runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.batches.storage import RawStore
from service.registry.runtime import ModelRuntime
from service.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _session(request: Request) -> Iterator[Session]:
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


def _runtime(request: Request) -> ModelRuntime:
    return request.app.state.runtime


def _store(request: Request) -> RawStore:
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[Session, Depends(_session)]
RuntimeDep = Annotated[ModelRuntime, Depends(_runtime)]
StoreDep = Annotated[RawStore, Depends(_store)]
