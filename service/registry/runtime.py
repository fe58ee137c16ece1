"""The models a worker process serves: loaded once, switched when the registry changes.

Each worker keeps a cache of loaded classifiers by version id. The production version id is
re-read from the database at most every ``model_refresh_s`` seconds, so a promotion made by any
process (CLI, API, another worker) is picked up without a restart. A request that already holds
a classifier keeps using it; the swap only changes what the next request gets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from models.checkpoint import Classifier, load_checkpoint
from service.errors import ModelUnavailable, NoProductionModel
from service.registry import service as registry
from service.registry.tables import ModelVersion
from service.settings import Settings


@dataclass(frozen=True)
class ServedModel:
    version_id: int
    name: str
    classifier: Classifier


class ModelRuntime:
    """Per-process model cache with a time-bounded view of the registry's production model."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = threading.Lock()
        self._loaded: dict[int, ServedModel] = {}
        self._production_id: int | None = None
        self._checked_at = float("-inf")

    def load(self, version: ModelVersion) -> ServedModel:
        """The classifier of ``version``, loaded (and sha-verified) at most once per process."""
        served = self._loaded.get(version.id)
        if served is not None:
            return served
        with self._lock:
            served = self._loaded.get(version.id)
            if served is None:
                path = self._settings.data_root / version.artifact_path
                try:
                    clf = load_checkpoint(path)
                except (OSError, ValueError, KeyError) as exc:
                    raise ModelUnavailable(f"model version {version.id} ({version.name}) cannot "
                                           f"be loaded from {version.artifact_path}: {exc}") from exc
                served = ServedModel(version.id, version.name, clf)
                self._loaded[version.id] = served
        return served

    def production(self, *, session: Session) -> ServedModel:
        """The production model, re-checked against the registry every ``model_refresh_s``."""
        now = time.monotonic()
        if self._production_id is None or now - self._checked_at >= self._settings.model_refresh_s:
            version = registry.production(session=session)
            if version is None:
                raise NoProductionModel("no production model registered: run `windwatch migrate`")
            self.load(version)
            self._production_id, self._checked_at = version.id, now
        return self._loaded[self._production_id]

    def by_id(self, *, session: Session, version_id: int) -> ServedModel:
        """The classifier of version ``version_id`` (loaded once per process)."""
        if version_id in self._loaded:
            return self._loaded[version_id]
        return self.load(registry.get_version(session=session, version_id=version_id))

    def promote(self, *, session: Session, version_id: int, by: str, reason: str) -> ModelVersion:
        """Promote ``version_id`` (flushed; the caller commits, then calls ``invalidate`` so
        that this worker switches at once). The artifact is loaded first, so that a bad
        artifact fails here, before anything changes, rather than in the next ingest."""
        self.load(registry.get_version(session=session, version_id=version_id))
        return registry.promote(session=session, version_id=version_id, by=by, reason=reason)

    def rollback(self, *, session: Session, by: str, reason: str) -> ModelVersion:
        """Put the previous production version back (loaded before the caller commits)."""
        version = registry.rollback(session=session, by=by, reason=reason)
        self.load(version)
        return version

    def invalidate(self) -> None:
        """Force the next request to re-read the production version (after a local promote)."""
        self._checked_at = float("-inf")
