"""Ingest: a decoded snapshot becomes raw file + batch + indicators + prediction, atomically.

Order matters. Everything that can reject the batch (validation, analysis) runs before anything
is written; the raw file is written (and fsynced) next, then the rows and the response in one
transaction. If the transaction fails before its commit the file is deleted; a crash, or a
commit whose outcome is unknown, can leave a file without rows, which the orphan sweep
(``service.batches.integrity``) quarantines. A row never points to a missing file.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipelines.baselines.features import snapshot_features
from pipelines.baselines.model import finite
from pipelines.features.spec import InputSpec
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import SnapshotAnalysis, analyse_snapshot, validate_snapshot
from service.alarms.service import evaluate_alarms
from service.baselines import service as baselines
from service.batches.decode import DecodedBatch
from service.batches.storage import RawStore
from service.batches.tables import Batch, Indicator
from service.components import service as components
from service.db import utcnow
from service.errors import Conflict, InvalidBatch, NotFound
from service.predictions.tables import INGEST, Prediction
from service.registry.runtime import ServedModel
from service.settings import API_PREFIX
from service.turbines import service as turbines
from service.turbines.tables import Turbine

if TYPE_CHECKING:
    from service.batches.schemas import BatchOut

log = logging.getLogger(__name__)
_RAW_WRITER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="raw-writer")
G = 9.80665
UNIT_TO_M_S2 = {"g": G, "m/s2": 1.0}


@dataclass
class IngestResult:
    batch: Batch
    prediction: Prediction
    turbine: Turbine
    replayed: bool
    out: BatchOut | None = None  # the response, built before the commit (None for replays)


def find_replay(
    *, session: Session, turbine_name: str, idempotency_key: str, body_sha256: str
) -> IngestResult | None:
    """The stored result of an earlier post with this key, or None; 409 if the body differs."""
    row = session.execute(
        select(Batch, Turbine)
        .join(Turbine, Turbine.id == Batch.turbine_id)
        .where(Turbine.name == turbine_name, Batch.idempotency_key == idempotency_key)
    ).first()
    if row is None:
        return None
    batch, turbine = row
    if batch.body_sha256 != body_sha256:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} was already used for a different body "
            f"(batch {batch.id})"
        )
    prediction = session.scalar(select(Prediction).where(Prediction.batch_id == batch.id,
                                                         Prediction.source == INGEST))
    return IngestResult(batch, prediction, turbine, replayed=True)


def analyse(decoded: DecodedBatch, model: ServedModel, max_fs_hz: float,
            shaft: ShaftContext | None = None) -> SnapshotAnalysis:
    """Model-specific validation then the CPU work; raises InvalidBatch (422) on bad content.
    ``shaft``: the sensor's geometry and the batch's rpm (defect-order models read them)."""
    spec = InputSpec.from_dict(model.classifier.input_spec_dict)
    fs = decoded.meta.sample_rate_hz
    try:
        validate_snapshot(decoded.samples, fs, spec, max_fs_hz=max_fs_hz)
    except ValueError as exc:
        raise InvalidBatch(str(exc)) from exc
    return analyse_snapshot(
        decoded.samples, fs, model.classifier,
        accel_to_m_s2=UNIT_TO_M_S2[decoded.meta.unit], channel_names=decoded.channel_names,
        shaft=shaft or ShaftContext(rpm=decoded.meta.rpm),
    )


def raw_metadata(turbine_name: str, decoded: DecodedBatch) -> dict[str, str]:
    """The Parquet schema metadata stored with a batch's raw file."""
    meta = decoded.meta
    return {"turbine": turbine_name, "sensor": meta.sensor,
            "sample_rate_hz": repr(meta.sample_rate_hz), "recorded_at": meta.recorded_at.isoformat(),
            "unit": meta.unit, "rpm": "" if meta.rpm is None else repr(meta.rpm)}


def write_raw(store: RawStore, turbine_name: str, decoded: DecodedBatch) -> tuple[str, str, int]:
    """Write a batch's raw file; (uri, sha256, bytes)."""
    return store.write(turbine_name, decoded.meta.recorded_at, decoded.samples,
                       decoded.channel_names, raw_metadata(turbine_name, decoded))


def store_batch(
    *, session: Session, store: RawStore, turbine_name: str, auto_register: bool,
    decoded: DecodedBatch, analysis: SnapshotAnalysis, model: ServedModel, content_type: str,
    body_sha256: str, idempotency_key: str | None, label: str | None = None,
    label_source: str | None = None, raw: tuple[str, str, int] | None = None,
    detection: baselines.DetectionConfig | None = None, features: dict[str, float] | None = None,
) -> IngestResult:
    """Write the raw file (unless ``raw`` says where it already is) and all rows in one
    transaction (commit included); ``result.out`` is the response, built before the commit.
    On a failure before the commit the file is removed again; after a failed commit it is kept
    (its outcome is unknown) for the orphan sweep.

    ``features``: the snapshot's scale-free detection features (computed here if not given;
    the diagnosis stage may add its own); ``detection``: how new baselines are made."""
    uri, sha, nbytes = raw or write_raw(store, turbine_name, decoded)
    try:
        if features is None:
            features = snapshot_features(decoded.samples, decoded.meta.sample_rate_hz)
        turbine = turbines.get_or_create_turbine(
            session=session, name=turbine_name, auto_register=auto_register
        )
        sensor = turbines.get_or_create_sensor(session=session, turbine=turbine,
                                               name=decoded.meta.sensor)
        result = _insert_rows(
            session, turbine, sensor.id, uri, sha, nbytes, decoded, analysis, model,
            content_type, body_sha256, idempotency_key, label, label_source,
            features, detection or baselines.DetectionConfig(),
        )
        # The response is built inside the transaction: once the commit succeeds nothing is
        # left that could fail (a query, a lazy load) and turn a stored batch into an error.
        result.out = batch_out(session=session, batch=result.batch,
                               prediction=result.prediction, turbine=result.turbine)
    except IntegrityError as exc:
        return _lost_race(exc, session, store, uri, turbine_name, idempotency_key, body_sha256)
    except BaseException:
        session.rollback()
        store.delete(uri)
        raise
    try:
        session.commit()
    except IntegrityError as exc:
        return _lost_race(exc, session, store, uri, turbine_name, idempotency_key, body_sha256)
    except BaseException:
        # A COMMIT that fails in flight has an unknown outcome (the database may have committed
        # before the connection dropped), so the file stays: the orphan sweep quarantines it if
        # no row refers to it, and a row never points to a deleted file.
        with contextlib.suppress(Exception):
            session.rollback()
        log.warning("commit failed, raw file kept for the orphan sweep: %s", uri)
        raise
    return result


def _lost_race(exc: IntegrityError, session: Session, store: RawStore, uri: str, turbine_name: str,
               idempotency_key: str | None, body_sha256: str) -> IngestResult:
    """After an IntegrityError (nothing committed): drop the file; if a concurrent retry with
    the same key won the race, answer with its result, else re-raise."""
    session.rollback()
    store.delete(uri)
    if idempotency_key is not None:
        replay = find_replay(session=session, turbine_name=turbine_name,
                             idempotency_key=idempotency_key, body_sha256=body_sha256)
        if replay is not None:
            return replay
    raise exc


def _insert_rows(session, turbine, sensor_id, uri, sha, nbytes, decoded, analysis, model,
                 content_type, body_sha256, idempotency_key, label, label_source, features,
                 detection) -> IngestResult:
    meta, names = decoded.meta, decoded.channel_names
    batch = Batch(
        turbine_id=turbine.id, sensor_id=sensor_id, recorded_at=meta.recorded_at,
        sample_rate_hz=meta.sample_rate_hz, n_channels=len(names),
        n_samples=int(decoded.samples.shape[1]), channel_names=names, rpm=meta.rpm,
        unit=meta.unit, content_type=content_type, raw_uri=uri, raw_sha256=sha, raw_bytes=nbytes,
        body_sha256=body_sha256, idempotency_key=idempotency_key, label=label,
        label_source=label_source,
    )
    ind = analysis.indicators
    batch.indicators = [
        Indicator(channel=name, **{k: float(ind[k][i]) for k in INDICATOR_KEYS})
        for i, name in enumerate(names)
    ]
    session.add(batch)
    session.flush()
    classes = model.classifier.classes
    prediction = Prediction(
        batch_id=batch.id, turbine_id=turbine.id, sensor_id=sensor_id,
        recorded_at=meta.recorded_at, model_version_id=model.version_id, label=analysis.label,
        score=float(analysis.score),
        probabilities={c: float(p) for c, p in zip(classes, analysis.probabilities, strict=True)},
        per_channel={
            name: {c: float(p) for c, p in zip(classes, row, strict=True)}
            for name, row in zip(names, analysis.per_channel_probabilities, strict=True)
        },
        n_windows=int(analysis.n_windows), diagnosis=analysis.diagnosis or None,
        **_detection_columns(session, sensor_id, features, meta, detection),
    )
    session.add(prediction)
    session.flush()
    # Move the turbine's "latest" pointer only forward in recorded time: late-arriving old
    # snapshots must not hide a newer verdict. A conditional UPDATE is race-free on both dialects.
    session.execute(
        update(Turbine)
        .where(Turbine.id == turbine.id)
        .where(or_(Turbine.last_recorded_at.is_(None), Turbine.last_recorded_at <= meta.recorded_at))
        .values(latest_prediction_id=prediction.id, last_recorded_at=meta.recorded_at)
    )
    session.execute(update(Turbine).where(Turbine.id == turbine.id).values(last_received_at=utcnow()))
    evaluate_alarms(session=session, batch=batch, prediction=prediction, turbine=turbine)
    return IngestResult(batch, prediction, turbine, replayed=False)


def _detection_columns(session, sensor_id, features, meta, config) -> dict:
    """Learn from or score the snapshot against its sensor's baseline for the speed class of
    the given rpm; the prediction's columns."""
    features = finite(features)
    d = baselines.observe(session=session, sensor_id=sensor_id, features=features,
                          fs_hz=meta.sample_rate_hz, config=config, rpm=meta.rpm)
    low, high = d.rpm_range or (None, None)
    return {"features": features, "anomaly_score": d.score, "anomaly_threshold": d.threshold,
            "baseline_version": d.version, "baseline_state": d.state, "baseline_n_seen": d.n_seen,
            "baseline_n_required": d.n_required, "baseline_rpm_min": low,
            "baseline_rpm_max": high}


INDICATOR_KEYS = ("rms_accel_m_s2", "rms_velocity_mm_s", "peak_accel_m_s2", "crest_factor", "kurtosis")


def get_batch(*, session: Session, batch_id: int) -> tuple[Batch, Prediction | None, Turbine]:
    """A batch with its prediction (if any) and turbine, or NotFound."""
    row = session.execute(
        select(Batch, Turbine).join(Turbine, Turbine.id == Batch.turbine_id).where(Batch.id == batch_id)
    ).first()
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    prediction = session.scalar(select(Prediction).where(Prediction.batch_id == batch_id,
                                                         Prediction.source == INGEST))
    return row[0], prediction, row[1]


def ingest(
    *, session: Session, settings, store: RawStore, runtime, turbine_name: str,
    decoded: DecodedBatch, content_type: str, body_sha256: str, idempotency_key: str | None,
    cpu_slots, label: str | None = None, label_source: str | None = None,
) -> IngestResult:
    """The whole ingest of one decoded batch (sync; runs in a worker thread)."""
    if idempotency_key is not None:
        replay = find_replay(session=session, turbine_name=turbine_name,
                             idempotency_key=idempotency_key, body_sha256=body_sha256)
        if replay is not None:
            return replay
    if not settings.auto_register_turbines:
        turbines.get_turbine(session=session, name=turbine_name)  # 404 before any CPU work
    model = runtime.production(session=session)
    shaft = components.shaft_context(session=session, turbine_name=turbine_name,
                                     sensor_name=decoded.meta.sensor, rpm=decoded.meta.rpm)
    session.rollback()  # end the read transaction: no lock is held during the CPU work
    # The raw Parquet file is encoded and written while the analysis runs (both release the
    # GIL); a rejected batch deletes it again before answering.
    pending = _RAW_WRITER.submit(write_raw, store, turbine_name, decoded)
    try:
        with cpu_slots:  # one analysis per worker at a time: torch threads are sized for that
            analysis = analyse(decoded, model, settings.max_sample_rate_hz, shaft)
    except BaseException:
        store.delete(pending.result()[0])
        raise
    return store_batch(
        session=session, store=store, turbine_name=turbine_name,
        auto_register=settings.auto_register_turbines, decoded=decoded, analysis=analysis,
        model=model, content_type=content_type, body_sha256=body_sha256,
        idempotency_key=idempotency_key, label=label, label_source=label_source,
        raw=pending.result(),
        detection=baselines.DetectionConfig(settings.baseline_snapshots, settings.anomaly_threshold,
                                            settings.baseline_speed_bin),
    )


def batch_out(*, session: Session, batch: Batch, prediction: Prediction | None, turbine: Turbine):
    """The JSON shape of a stored batch (also the ingest response)."""
    from service.batches.schemas import BatchOut, IndicatorsOut, RawOut
    from service.predictions.service import prediction_out
    from service.registry.tables import ModelVersion
    from service.turbines.tables import Sensor

    sensor = session.get(Sensor, batch.sensor_id)
    pred = None
    if prediction is not None:
        mv = session.get(ModelVersion, prediction.model_version_id)
        pred = prediction_out(prediction, turbine.name, sensor.name, mv.name)
    return BatchOut(
        batch_id=batch.id, turbine_id=turbine.name, sensor=sensor.name,
        recorded_at=batch.recorded_at, received_at=batch.received_at,
        sample_rate_hz=batch.sample_rate_hz, rpm=batch.rpm, unit=batch.unit,
        n_channels=batch.n_channels, n_samples=batch.n_samples, channels=batch.channel_names,
        content_type=batch.content_type, label=batch.label,
        raw=RawOut(uri=batch.raw_uri, sha256=batch.raw_sha256, bytes=batch.raw_bytes),
        indicators={
            i.channel: IndicatorsOut(**{k: getattr(i, k) for k in INDICATOR_KEYS})
            for i in batch.indicators
        },
        prediction=pred,
        links={
            "self": f"{API_PREFIX}/batches/{batch.id}",
            "raw": f"{API_PREFIX}/batches/{batch.id}/raw",
            "turbine": f"{API_PREFIX}/turbines/{turbine.name}",
            **({"prediction": f"{API_PREFIX}/predictions/{prediction.id}",
                "saliency": f"{API_PREFIX}/predictions/{prediction.id}/saliency"} if prediction else {}),
        },
    )
