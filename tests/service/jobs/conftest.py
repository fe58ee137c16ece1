"""Fixtures of the jobs tests: the stub kind registered (also as ``retrain``, so that the queueing
rules are tested on the kind that matters without training), and stored snapshots with
chosen feature values for the baseline and drift kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from service.jobs.kinds import KINDS
from service.tables import Batch, ModelVersion, Prediction, Sensor, Turbine

STUB = "tests.service.jobs.stub_kind"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
FEATURES = ("kurtosis", "crest", "band_hi", "band_lo")


@pytest.fixture
def stub_kinds(monkeypatch):
    """``stub`` and ``retrain`` both run the stub kind."""
    monkeypatch.setitem(KINDS, "stub", STUB)
    monkeypatch.setitem(KINDS, "retrain", STUB)


def new_sensor(session, turbine: str, sensor: str = "gearbox_hss") -> Sensor:
    """A turbine with one sensor (committed to the test's savepoint)."""
    t = Turbine(name=turbine)
    session.add(t)
    session.flush()
    s = Sensor(turbine_id=t.id, name=sensor)
    session.add(s)
    session.flush()
    return s


def store(session, sensor: Sensor, features: list[dict[str, float]], start: datetime = T0,
          step: timedelta = timedelta(minutes=10)) -> list[Prediction]:
    """One batch + served prediction per feature dict, ``step`` apart from ``start``."""
    mv = session.scalar(select(ModelVersion.id).order_by(ModelVersion.id))
    out = []
    for i, f in enumerate(features):
        at = start + i * step
        b = Batch(turbine_id=sensor.turbine_id, sensor_id=sensor.id, recorded_at=at,
                  sample_rate_hz=25_600.0, n_channels=1, n_samples=51_200, channel_names=["x"],
                  rpm=1500.0, unit="g", content_type="application/json",
                  raw_uri=f"fake/{sensor.id}-{i}.parquet", raw_sha256="0" * 64, raw_bytes=1,
                  body_sha256=f"{sensor.id:032d}{i:032d}")
        session.add(b)
        session.flush()
        p = Prediction(batch_id=b.id, turbine_id=sensor.turbine_id, sensor_id=sensor.id,
                       recorded_at=at, model_version_id=mv, label="normal", score=0.0,
                       probabilities={"normal": 1.0}, per_channel={}, n_windows=1, features=f)
        session.add(p)
        out.append(p)
    session.flush()
    return out


def features(n: int, shift: float = 0.0, seed: int = 0) -> list[dict[str, float]]:
    """``n`` feature dicts, each feature N(shift, 1) (log units, like the stored features)."""
    rng = np.random.default_rng(seed)
    return [{k: float(v) for k, v in zip(FEATURES, rng.normal(shift, 1.0, len(FEATURES)),
                                         strict=True)} for _ in range(n)]
