"""Alarm life cycle: raised at ingest (in the ingest transaction), acknowledged and closed with
feedback by a person, which labels the batches that raised the alarm. Every change is audited.

The audit trail records transitions (opened, escalated, acknowledged, closed), not every repeat:
a persisting fault repeats every 10 minutes and its ``count``/``last_seen_at`` already say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.alarms import rules
from service.alarms.schemas import AlarmDetailOut, AlarmEventOut, AlarmOut
from service.alarms.tables import ACKNOWLEDGED, CLOSED, OPEN, Alarm, AlarmBatch, AlarmEvent
from service.auth import audit
from service.batches.tables import Batch
from service.db import utcnow
from service.errors import Conflict, InvalidFeedback, NotFound
from service.predictions.tables import INGEST, Prediction
from service.registry.tables import ModelVersion
from service.settings import API_PREFIX
from service.turbines.tables import Sensor, Turbine

SYSTEM = "system"
INDICATOR_UNITS = {"rms_velocity_mm_s": "mm/s", "rms_accel_m_s2": "m/s²"}


@dataclass
class Trigger:
    """What one snapshot raised: the alarm key, its severity and the evidence."""

    kind: str
    code: str
    severity: str
    threshold: float
    probability: float | None = None
    value: float | None = None
    zone: str | None = None
    batch_ids: list[int] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def _zone_triggers(batch: Batch, limits: dict[str, rules.ZoneLimits]) -> list[Trigger]:
    """One trigger per indicator whose worst channel is in zone C or D."""
    out = []
    for name, lim in limits.items():
        values = np.array([getattr(i, name) for i in batch.indicators], dtype=np.float64)
        if values.size == 0:
            continue
        k = int(values.argmax())
        value = float(values[k])
        severity = rules.zone_severity(value, lim)
        if severity is not None:
            out.append(Trigger(
                "zone", name, severity, lim.bc, value=value, zone=rules.classify_zone(value, lim),
                batch_ids=[batch.id],
                details={"channel": batch.indicators[k].channel, "unit": INDICATOR_UNITS.get(name),
                         "limits": {"bc": lim.bc, "cd": lim.cd}},
            ))
    return out


UNKNOWN_FAMILY = "unknown_family"


def _fault_probabilities(probabilities: dict[str, float], score: float,
                         diagnosis: dict | None) -> dict[str, float]:
    """Per-class fault probabilities of a prediction; on assumed geometry the family is not
    known, so the only fault "class" is ``unknown_family`` with the probability of any fault."""
    if diagnosis and diagnosis.get("geometry") == "assumed":
        return {UNKNOWN_FAMILY: float(score)}
    return {c: float(p) for c, p in probabilities.items() if c != rules.NORMAL}


def _fault_triggers(session: Session, prediction: Prediction, zone: str | None,
                    policies: dict[str, rules.AlarmPolicy] | None) -> list[Trigger]:
    """One trigger per fault class whose hysteresis is met over the sensor's newest predictions
    (by recorded time, up to and including this one: a late snapshot is judged in its place).
    A sensor without registered geometry raises ``unknown_family`` alarms, never a named race."""
    current = _fault_probabilities(prediction.probabilities, prediction.score,
                                   prediction.diagnosis)
    if not current:
        return []
    pols = {c: rules.policy_for(c, policies) for c in current}
    older = session.execute(
        select(Prediction.probabilities, Prediction.score, Prediction.diagnosis,
               Prediction.batch_id)
        .where(Prediction.sensor_id == prediction.sensor_id, Prediction.id != prediction.id,
               Prediction.source == INGEST)
        .where(or_(Prediction.recorded_at < prediction.recorded_at,
                   and_(Prediction.recorded_at == prediction.recorded_at,
                        Prediction.id < prediction.id)))
        .order_by(Prediction.recorded_at.desc(), Prediction.id.desc())
        .limit(max(p.m for p in pols.values()) - 1)
    ).all()
    history = [(current, prediction.batch_id),
               *((_fault_probabilities(p, s, d), b) for p, s, d, b in older)]
    out = []
    for c, pol in pols.items():
        probs = [float(p.get(c, 0.0)) for p, _ in history]
        if rules.hysteresis_met(probs, pol):
            idx = rules.exceeding(probs, pol)
            out.append(Trigger(
                "fault", c, rules.fault_severity(probs[0], pol, zone), pol.threshold,
                probability=probs[0], batch_ids=[history[i][1] for i in idx],
                details={"n": pol.n, "m": pol.m, "exceeded": len(idx), "snapshot_zone": zone},
            ))
    return out


def _anomaly_triggers(session: Session, prediction: Prediction, zone: str | None,
                      policy: rules.AnomalyPolicy) -> list[Trigger]:
    """An ``anomaly`` trigger when the hysteresis is met over the sensor's newest scored
    snapshots of the same baseline version; none while the baseline is learnt."""
    score, threshold = prediction.anomaly_score, prediction.anomaly_threshold
    if score is None or threshold is None or prediction.baseline_version is None:
        return []
    window = policy.at(threshold)
    older = session.execute(
        select(Prediction.anomaly_score, Prediction.batch_id)
        .where(Prediction.sensor_id == prediction.sensor_id, Prediction.id != prediction.id,
               Prediction.baseline_version == prediction.baseline_version,
               Prediction.source == INGEST,
               Prediction.anomaly_score.is_not(None))
        .where(or_(Prediction.recorded_at < prediction.recorded_at,
                   and_(Prediction.recorded_at == prediction.recorded_at,
                        Prediction.id < prediction.id)))
        .order_by(Prediction.recorded_at.desc(), Prediction.id.desc())
        .limit(window.m - 1)
    ).all()
    history = [(score, prediction.batch_id), *older]
    scores = [s for s, _ in history]
    if not rules.hysteresis_met(scores, window):
        return []
    idx = rules.exceeding(scores, window)
    return [Trigger(
        "anomaly", "baseline", rules.anomaly_severity(score, window, zone), threshold,
        value=score, batch_ids=[history[i][1] for i in idx],
        details={"n": window.n, "m": window.m, "exceeded": len(idx), "snapshot_zone": zone,
                 "baseline_version": prediction.baseline_version},
    )]


def evaluate_alarms(
    *, session: Session, batch: Batch, prediction: Prediction, turbine: Turbine,
    policies: dict[str, rules.AlarmPolicy] | None = None,
    zone_limits: dict[str, dict[str, rules.ZoneLimits]] | None = None,
    anomaly_policy: rules.AnomalyPolicy = rules.ANOMALY_POLICY,
) -> list[Alarm]:
    """Open or update the alarms this snapshot raises; no commit (the caller's transaction).

    Zone alarms fire on the snapshot alone; fault alarms on N of the last M predictions of the
    sensor; anomaly alarms on N of the last M anomaly scores against its healthy baseline.
    Returns the alarms opened or updated."""
    sensor = session.get(Sensor, batch.sensor_id)
    component = rules.component_of(sensor.name, sensor.component)
    limits = (rules.ZONE_LIMITS if zone_limits is None else zone_limits).get(component, {})
    zone_triggers = _zone_triggers(batch, limits)
    worst = rules.worst_zone([t.zone for t in zone_triggers])
    triggers = (zone_triggers + _fault_triggers(session, prediction, worst, policies)
                + _anomaly_triggers(session, prediction, worst, anomaly_policy))
    return [_raise(session, turbine.id, sensor.id, component, t, batch, prediction)
            for t in triggers]


def _active(session: Session, turbine_id: int, sensor_id: int, t: Trigger) -> Alarm | None:
    return session.scalar(
        select(Alarm).where(Alarm.turbine_id == turbine_id, Alarm.sensor_id == sensor_id,
                            Alarm.kind == t.kind, Alarm.code == t.code, Alarm.active.is_(True))
        .with_for_update()
        .execution_options(populate_existing=True)  # the locked row's values, not a stale copy
    )


def _raise(session: Session, turbine_id: int, sensor_id: int, component: str, t: Trigger,
           batch: Batch, prediction: Prediction) -> Alarm:
    alarm = _active(session, turbine_id, sensor_id, t)
    if alarm is None:
        try:
            with session.begin_nested():  # a concurrent ingest may open the same alarm first
                alarm = Alarm(
                    turbine_id=turbine_id, sensor_id=sensor_id, kind=t.kind, code=t.code,
                    component=component, state=OPEN, severity=t.severity, active=True,
                    threshold=t.threshold, peak_probability=t.probability, peak_value=t.value,
                    zone=t.zone, count=len(set(t.batch_ids)), details=t.details,
                    first_recorded_at=batch.recorded_at, last_recorded_at=batch.recorded_at,
                    latest_prediction_id=prediction.id, latest_batch_id=batch.id,
                )
                session.add(alarm)
                session.flush()
                session.add_all([AlarmBatch(alarm_id=alarm.id, batch_id=b)
                                 for b in dict.fromkeys(t.batch_ids)])
                session.add(AlarmEvent(
                    alarm_id=alarm.id, actor=SYSTEM, action="opened", from_state=None,
                    to_state=OPEN, details={"severity": t.severity, "batch_id": batch.id,
                                            "prediction_id": prediction.id,
                                            "probability": t.probability, "value": t.value},
                ))
            return alarm
        except IntegrityError:
            alarm = _active(session, turbine_id, sensor_id, t)
    _repeat(session, alarm, t, batch, prediction)
    return alarm


def _repeat(session: Session, alarm: Alarm, t: Trigger, batch: Batch,
            prediction: Prediction) -> None:
    """A repeat updates the alarm in place; severity only rises (and is audited when it does)."""
    if batch.recorded_at >= alarm.last_recorded_at:
        alarm.latest_prediction_id, alarm.latest_batch_id = prediction.id, batch.id
        alarm.details = t.details
    alarm.count += 1
    alarm.last_seen_at = utcnow()
    alarm.first_recorded_at = min(alarm.first_recorded_at, batch.recorded_at)
    alarm.last_recorded_at = max(alarm.last_recorded_at, batch.recorded_at)
    if t.probability is not None:
        alarm.peak_probability = max(alarm.peak_probability or 0.0, t.probability)
    if t.value is not None:
        alarm.peak_value = max(alarm.peak_value or 0.0, t.value)
    if t.zone is not None:
        alarm.zone = rules.worst_zone([z for z in (alarm.zone, t.zone) if z])
    severity = rules.max_severity(alarm.severity, t.severity)
    if severity != alarm.severity:
        session.add(AlarmEvent(alarm_id=alarm.id, actor=SYSTEM, action="escalated",
                               from_state=alarm.state, to_state=alarm.state,
                               details={"from_severity": alarm.severity, "to_severity": severity,
                                        "batch_id": batch.id}))
        alarm.severity = severity
    session.add(AlarmBatch(alarm_id=alarm.id, batch_id=batch.id))


def _locked(session: Session, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, alarm_id, with_for_update=True, populate_existing=True)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} not found")
    return alarm


def acknowledge(*, session: Session, alarm_id: int, by: str, comment: str = "") -> Alarm:
    """open -> acknowledged; 409 from any other state. No commit."""
    alarm = _locked(session, alarm_id)
    if alarm.state == ACKNOWLEDGED:
        raise Conflict(f"alarm {alarm_id} was already acknowledged by {alarm.acknowledged_by!r} "
                       f"at {alarm.acknowledged_at.isoformat()}")
    if alarm.state != OPEN:
        raise Conflict(f"alarm {alarm_id} is {alarm.state}; only an open alarm can be acknowledged")
    alarm.state, alarm.acknowledged_at = ACKNOWLEDGED, utcnow()
    alarm.acknowledged_by, alarm.ack_comment = by, comment
    session.add(AlarmEvent(alarm_id=alarm.id, at=alarm.acknowledged_at, actor=by,
                           action="acknowledged", from_state=OPEN, to_state=ACKNOWLEDGED,
                           details={"comment": comment}))
    audit.record(session=session, actor=by, action="alarm.acknowledge", target=f"alarm:{alarm.id}",
                 details={"comment": comment})
    return alarm


def fault_classes(*, session: Session) -> set[str]:
    """Fault classes any registered model knows (the valid ``fault_type`` values)."""
    known = {c for classes in session.scalars(select(ModelVersion.classes)) for c in classes}
    return known - {rules.NORMAL}


def close(*, session: Session, alarm_id: int, by: str, outcome: str, comment: str,
          fault_type: str | None = None) -> Alarm:
    """open|acknowledged -> closed with feedback; labels the batches that raised the alarm with
    ``fault_type`` (confirmed) or "normal" (false alarm), ``label_source="alarm:<id>"``.

    Labels from elsewhere (imported ground truth) are never overwritten, and a false alarm never
    overwrites a fault another alarm's feedback confirmed on the same batch. No commit."""
    alarm = _locked(session, alarm_id)
    if alarm.state == CLOSED:
        raise Conflict(f"alarm {alarm_id} is already closed (by {alarm.closed_by!r} at "
                       f"{alarm.closed_at.isoformat()})")
    if outcome == "confirmed":
        known = fault_classes(session=session)
        if fault_type not in known:
            raise InvalidFeedback(
                f"unknown fault_type {fault_type!r}; expected one of {sorted(known)}")
    label = fault_type if outcome == "confirmed" else rules.NORMAL
    stmt = (update(Batch)
            .where(Batch.id.in_(select(AlarmBatch.batch_id).where(AlarmBatch.alarm_id == alarm.id)))
            .where(or_(Batch.label.is_(None), Batch.label_source.like("alarm:%"))))
    if label == rules.NORMAL:
        stmt = stmt.where(or_(Batch.label.is_(None), Batch.label == rules.NORMAL))
    labelled = session.execute(stmt.values(label=label, label_source=f"alarm:{alarm.id}"),
                               execution_options={"synchronize_session": "fetch"}).rowcount
    from_state = alarm.state
    alarm.state, alarm.active, alarm.closed_at, alarm.closed_by = CLOSED, None, utcnow(), by
    alarm.outcome, alarm.fault_type, alarm.close_comment = outcome, fault_type, comment
    session.add(AlarmEvent(alarm_id=alarm.id, at=alarm.closed_at, actor=by, action="closed",
                           from_state=from_state, to_state=CLOSED,
                           details={"outcome": outcome, "fault_type": fault_type,
                                    "comment": comment, "label": label,
                                    "labelled_batches": labelled}))
    audit.record(session=session, actor=by, action="alarm.close", target=f"alarm:{alarm.id}",
                 details={"outcome": outcome, "fault_type": fault_type,
                          "labelled_batches": labelled})
    return alarm


def _joined():
    return (select(Alarm, Turbine.name, Sensor.name)
            .join(Turbine, Turbine.id == Alarm.turbine_id)
            .join(Sensor, Sensor.id == Alarm.sensor_id))


def list_alarms(
    *, session: Session, states: list[str] | None = None, turbine: str | None = None,
    sensor: str | None = None, severities: list[str] | None = None,
    kinds: list[str] | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[AlarmOut], int]:
    """A page of alarms, newest opened first, with the total count for the filter."""
    stmt = _joined()
    for col, values in ((Alarm.state, states), (Alarm.severity, severities), (Alarm.kind, kinds)):
        if values:
            stmt = stmt.where(col.in_(values))
    if turbine is not None:
        stmt = stmt.where(Turbine.name == turbine)
    if sensor is not None:
        stmt = stmt.where(Sensor.name == sensor)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(stmt.order_by(Alarm.opened_at.desc(), Alarm.id.desc())
                           .limit(limit).offset(offset)).all()
    return [alarm_out(*r) for r in rows], total


def alarm_out(a: Alarm, turbine: str, sensor: str) -> AlarmOut:
    """The JSON shape of an alarm."""
    links = {"self": f"{API_PREFIX}/alarms/{a.id}", "turbine": f"{API_PREFIX}/turbines/{turbine}"}
    if a.latest_prediction_id is not None:
        links["prediction"] = f"{API_PREFIX}/predictions/{a.latest_prediction_id}"
    if a.latest_batch_id is not None:
        links["batch"] = f"{API_PREFIX}/batches/{a.latest_batch_id}"
    fields = {k: getattr(a, k) for k in AlarmOut.model_fields if k not in
              {"turbine_id", "sensor", "links"}}
    return AlarmOut(**fields, turbine_id=turbine, sensor=sensor, links=links)


def get_alarm(*, session: Session, alarm_id: int) -> AlarmDetailOut:
    """One alarm with the batches that raised it and its audit trail (oldest first)."""
    row = session.execute(_joined().where(Alarm.id == alarm_id)).first()
    if row is None:
        raise NotFound(f"alarm {alarm_id} not found")
    batch_ids = session.scalars(select(AlarmBatch.batch_id).where(AlarmBatch.alarm_id == alarm_id)
                                .order_by(AlarmBatch.batch_id)).all()
    events = session.scalars(select(AlarmEvent).where(AlarmEvent.alarm_id == alarm_id)
                             .order_by(AlarmEvent.id)).all()
    return AlarmDetailOut(**alarm_out(*row).model_dump(), batch_ids=list(batch_ids), events=[
        AlarmEventOut(at=e.at, actor=e.actor, action=e.action, from_state=e.from_state,
                      to_state=e.to_state, details=e.details) for e in events])
