"""Fixtures for the API tests: row counts to prove nothing was written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.tables import Batch, Indicator, Prediction, Sensor, Turbine


@pytest.fixture
def counts(session_factory, raw_dir):
    """A callable returning row counts of every ingest table and the number of raw files."""

    def _counts() -> dict[str, int]:
        with session_factory() as s:
            out = {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                   for m in (Turbine, Sensor, Batch, Indicator, Prediction)}
        out["raw_files"] = sum(1 for p in raw_dir.rglob("*") if p.is_file()) if raw_dir.exists() else 0
        return out

    return _counts
