"""The job kinds: name -> module, imported only when a job of that kind is started or run.

Each kind module exposes ``class Params(pydantic.BaseModel)`` (``extra="forbid"``) and
``def run(ctx: JobContext, params: Params) -> dict`` returning a JSON-able result.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KINDS: dict[str, str] = {
    "retrain": "service.jobs.kinds.retrain",
    "backfill": "service.jobs.kinds.backfill",
    "refresh-baselines": "service.jobs.kinds.refresh_baselines",
    "evaluate": "service.jobs.kinds.evaluate",
    "drift-check": "service.jobs.kinds.drift_check",
}


class KindUnavailable(Exception):
    """The kind is known but its module is not installed (yet)."""


def load_kind(kind: str) -> ModuleType:
    """The module of ``kind``; ``KeyError`` for an unknown kind, ``KindUnavailable`` when its
    module does not exist."""
    path = KINDS[kind]
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name is not None and path.startswith(exc.name):
            raise KindUnavailable(f"job kind {kind!r} is not available") from exc
        raise
