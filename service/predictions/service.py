"""Reading predictions back: one, a turbine's history (keyset-paged), and their JSON shape."""

from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pipelines.baselines.model import speed_class_name
from service.errors import BadRequest, NotFound
from service.predictions.schemas import DetectionOut, DiagnosisOut, ModelRef, PredictionOut
from service.predictions.tables import INGEST, Prediction
from service.registry.tables import ModelVersion
from service.settings import API_PREFIX
from service.turbines.tables import Sensor, Turbine


def detection_out(p: Prediction) -> DetectionOut | None:
    """The detection stage's verdict stored with a prediction (None before it existed)."""
    if p.baseline_state is None:
        return None
    rng = (None if p.baseline_rpm_min is None or p.baseline_rpm_max is None
           else (p.baseline_rpm_min, p.baseline_rpm_max))
    where = "" if rng is None else f" ({speed_class_name(rng)})"
    if p.anomaly_score is None:
        anomalous = None
        if p.baseline_state != "learning":
            msg = "no feature of this snapshot matches the baseline's; no anomaly score"
        elif (p.baseline_n_seen or 0) >= (p.baseline_n_required or 0):
            msg = (f"baseline{where} fitted from this and the previous "
                   f"{p.baseline_n_seen - 1} snapshots; anomaly scores start with the next "
                   "snapshot")
        else:
            msg = (f"baseline{where} still being learnt: {p.baseline_n_seen} of "
                   f"{p.baseline_n_required} snapshots; no anomaly score yet")
    else:
        anomalous = p.anomaly_score > (p.anomaly_threshold or 0.0)
        msg = (f"{'anomalous against' if anomalous else 'within'} the healthy baseline v"
               f"{p.baseline_version}{where}: score {p.anomaly_score:.2f} vs threshold "
               f"{p.anomaly_threshold:g}")
    return DetectionOut(score=p.anomaly_score, threshold=p.anomaly_threshold,
                        state=p.baseline_state, n_seen=p.baseline_n_seen,
                        n_required=p.baseline_n_required, version=p.baseline_version,
                        is_anomalous=anomalous, rpm_range=None if rng is None else list(rng),
                        message=msg)


def prediction_out(p: Prediction, turbine: str, sensor: str, model_name: str) -> PredictionOut:
    """The response body of one prediction, with its links."""
    return PredictionOut(
        id=p.id, batch_id=p.batch_id, turbine_id=turbine, sensor=sensor,
        recorded_at=p.recorded_at, created_at=p.created_at, label=p.label, score=p.score,
        probabilities=p.probabilities, per_channel=p.per_channel, n_windows=p.n_windows,
        model_version=ModelRef(id=p.model_version_id, name=model_name),
        detection=detection_out(p),
        diagnosis=DiagnosisOut(**{k: v for k, v in p.diagnosis.items()
                                  if k in DiagnosisOut.model_fields}) if p.diagnosis else None,
        links={
            "self": f"{API_PREFIX}/predictions/{p.id}",
            "batch": f"{API_PREFIX}/batches/{p.batch_id}",
            "saliency": f"{API_PREFIX}/predictions/{p.id}/saliency",
            "explanation": f"{API_PREFIX}/predictions/{p.id}/explanation?method=ig",
            "turbine": f"{API_PREFIX}/turbines/{turbine}",
        },
    )


def _joined():
    return (
        select(Prediction, Turbine.name, Sensor.name, ModelVersion.name)
        .join(Turbine, Turbine.id == Prediction.turbine_id)
        .join(Sensor, Sensor.id == Prediction.sensor_id)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
    )


def get_prediction(*, session: Session, prediction_id: int) -> PredictionOut:
    """One prediction as a response body, or NotFound."""
    row = session.execute(_joined().where(Prediction.id == prediction_id)).first()
    if row is None:
        raise NotFound(f"prediction {prediction_id} not found")
    return prediction_out(*row)


def get_predictions(*, session: Session, prediction_ids: list[int]) -> dict[int, PredictionOut]:
    """Several predictions by id in one query (e.g. the latest verdict of a page of turbines)."""
    if not prediction_ids:
        return {}
    rows = session.execute(_joined().where(Prediction.id.in_(prediction_ids)))
    return {r[0].id: prediction_out(*r) for r in rows}


def get_prediction_row(*, session: Session, prediction_id: int) -> Prediction:
    """One prediction row, or NotFound."""
    p = session.get(Prediction, prediction_id)
    if p is None:
        raise NotFound(f"prediction {prediction_id} not found")
    return p


def encode_cursor(recorded_at: datetime, pid: int) -> str:
    """An opaque keyset cursor for (recorded_at, id)."""
    return base64.urlsafe_b64encode(f"{recorded_at.isoformat()}|{pid}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(recorded_at, id) of a cursor made by ``encode_cursor``."""
    try:
        ts, pid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(ts), int(pid)
    except Exception as exc:
        raise BadRequest(f"invalid cursor {cursor!r}") from exc


def list_predictions(
    *, session: Session, turbine_id: int, start: datetime | None = None,
    end: datetime | None = None, sensor_id: int | None = None, limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[PredictionOut], str | None]:
    """Newest first within [start, end); keyset paging on (recorded_at, id) uses the
    ``ix_predictions_turbine_recorded`` index all the way, however deep the page."""
    stmt = _joined().where(Prediction.turbine_id == turbine_id, Prediction.source == INGEST)
    if start is not None:
        stmt = stmt.where(Prediction.recorded_at >= start)
    if end is not None:
        stmt = stmt.where(Prediction.recorded_at < end)
    if sensor_id is not None:
        stmt = stmt.where(Prediction.sensor_id == sensor_id)
    if cursor:
        ts, pid = decode_cursor(cursor)
        stmt = stmt.where(
            or_(Prediction.recorded_at < ts, and_(Prediction.recorded_at == ts, Prediction.id < pid))
        )
    rows = session.execute(
        stmt.order_by(Prediction.recorded_at.desc(), Prediction.id.desc()).limit(limit + 1)
    ).all()
    items = [prediction_out(*r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(last.recorded_at, last.id)
    return items, next_cursor
