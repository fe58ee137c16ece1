"""The ``backfill`` job kind in-process: new rows keyed by (batch, model version), the served
verdict untouched everywhere it is read, idempotent, resumable after a crash mid-way."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models.checkpoint import load_checkpoint
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import analyse_snapshot
from service.batches import service as batches
from service.batches.storage import RawStore, read_parquet
from service.jobs.kinds import backfill
from service.jobs.kinds.backfill import Params
from service.predictions import service as predictions
from service.predictions.tables import BACKFILL, INGEST, Prediction
from service.registry.tables import ModelVersion
from service.turbines.tables import Turbine
from tests.service.jobs.support import T0, job_context, predictions_of, store_fleet, version_id

N = 12


def _params(version: int, **kw) -> dict:
    return {"model_version_id": version, "start": T0.isoformat(),
            "end": (T0 + timedelta(days=1)).isoformat(), "batch_size": 5, **kw}


@pytest.fixture
def fleet(settings, session_factory) -> list[int]:
    return store_fleet(settings, session_factory, N)


def test_backfill_twice_writes_each_rescore_once_and_keeps_the_served_verdict(
        settings, session_factory, fleet):
    served_version = version_id(session_factory, "family1d-default")
    version = version_id(session_factory, "family2d-default")
    served = {b: (p.id, p.label, p.probabilities) for b, p in
              predictions_of(session_factory, served_version).items() if b in fleet}
    ctx = job_context(settings, session_factory, "backfill", _params(version))
    first = backfill.run(ctx, Params.model_validate(_params(version)))
    assert first["pending"] == N and first["written"] == N and first["failed"] == 0
    again = backfill.run(ctx, Params.model_validate(_params(version)))
    assert again["pending"] == 0 and again["written"] == 0

    rescored = predictions_of(session_factory, version)
    assert set(rescored) >= set(fleet)
    assert all(rescored[b].source == BACKFILL for b in fleet)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Prediction).where(
            Prediction.batch_id.in_(fleet))) == 2 * N
        for b in fleet:  # the batch page, the history and the turbine's latest: served only
            _, pred, turbine = batches.get_batch(session=s, batch_id=b)
            assert pred is not None and (pred.id, pred.label, pred.probabilities) == served[b]
        turbine = s.scalar(select(Turbine).where(Turbine.name == "BF-1"))
        items, _ = predictions.list_predictions(session=s, turbine_id=turbine.id, limit=1000)
        assert {i.model_version.id for i in items} == {served_version}
        assert turbine.latest_prediction_id in {p for p, _, _ in served.values()}


def test_backfill_rows_equal_the_ingest_analysis_of_the_stored_raw(settings, session_factory,
                                                                   fleet):
    version = version_id(session_factory, "family2d-default")
    ctx = job_context(settings, session_factory, "backfill", _params(version))
    backfill.run(ctx, Params.model_validate(_params(version)))
    rescored = predictions_of(session_factory, version)
    with session_factory() as s:
        mv = s.get(ModelVersion, version)
        clf = load_checkpoint(settings.data_root / mv.artifact_path)
        store = RawStore(settings.data_root)
        for b in fleet[:3]:
            batch, _, _ = batches.get_batch(session=s, batch_id=b)
            x, _, _ = read_parquet(store.path(batch.raw_uri))
            a = analyse_snapshot(x, batch.sample_rate_hz, clf, shaft=ShaftContext(rpm=batch.rpm))
            p = rescored[b]
            assert p.label == a.label and p.n_windows == a.n_windows
            np.testing.assert_allclose([p.probabilities[c] for c in clf.classes], a.probabilities,
                                       atol=1e-5)
            assert p.diagnosis["fault_family"] == a.diagnosis["fault_family"]


class Crash(Exception):
    pass


def test_backfill_killed_mid_way_finishes_with_one_row_per_batch(settings, session_factory,
                                                                 fleet):
    version = version_id(session_factory, "cnn1d-default")
    ctx = job_context(settings, session_factory, "backfill", _params(version))
    calls = {"n": 0}
    real = type(ctx).progress

    def dying(self, fraction, message):
        calls["n"] += 1
        if calls["n"] == 3:  # after the second chunk was written
            raise Crash("killed")
        real(self, fraction, message)

    type(ctx).progress = dying  # type: ignore[method-assign]
    try:
        with pytest.raises(Crash):
            backfill.run(ctx, Params.model_validate(_params(version)))
    finally:
        type(ctx).progress = real  # type: ignore[method-assign]
    partial = predictions_of(session_factory, version)
    assert 0 < len(set(partial) & set(fleet)) < N
    resumed = backfill.run(ctx, Params.model_validate(_params(version)))
    assert resumed["pending"] == N - len(set(partial) & set(fleet))
    final = predictions_of(session_factory, version)  # asserts one row per batch
    assert set(fleet) <= set(final)


def test_turbine_filter_and_range(settings, session_factory, fleet):
    version = version_id(session_factory, "family2d-default")
    p = _params(version, turbines=["BF-2"], end=(T0 + timedelta(minutes=60)).isoformat())
    out = backfill.run(job_context(settings, session_factory, "backfill", p), Params.model_validate(p))
    assert out["written"] == 2  # snapshots 1 and 4 of the first hour are BF-2's
    with pytest.raises(ValueError, match="unknown turbines"):
        q = _params(version, turbines=["nope"])
        backfill.run(job_context(settings, session_factory, "backfill", q), Params.model_validate(q))


def test_params_are_checked():
    with pytest.raises(ValidationError, match="must be before"):
        Params.model_validate(_params(1, start=(T0 + timedelta(days=2)).isoformat()))
    with pytest.raises(ValidationError, match="Extra inputs"):
        Params.model_validate(_params(1, bogus=1))
    with pytest.raises(ValidationError):
        Params.model_validate(_params(1, start="2026-06-01T00:00:00"))  # no time zone


def test_a_batch_has_one_served_verdict(session_factory, fleet):
    with session_factory() as s:
        p = s.scalar(select(Prediction).where(Prediction.batch_id == fleet[0]))
        assert p.source == INGEST
        copy = {c: getattr(p, c) for c in ("batch_id", "turbine_id", "sensor_id", "recorded_at",
                                           "label", "score", "probabilities", "per_channel",
                                           "n_windows")}
        other = s.scalar(select(ModelVersion.id).where(ModelVersion.id != p.model_version_id))
        s.add(Prediction(**copy, model_version_id=other, source=INGEST))
        with pytest.raises(IntegrityError):
            s.flush()
