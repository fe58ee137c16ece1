"""Data behind the turbine page: per-sensor trends (fault probabilities with their thresholds and
alarm markers, RMS velocity with VDI zone bands), the batch list, and the spectra of one batch
(spectrum and envelope spectrum with defect-frequency markers).

Trends read the ``ix_predictions_sensor_recorded`` / ``ix_batches_sensor_recorded`` ranges of
one sensor within the picked time range, newest ``max_points`` first, so a year of history never
comes back whole.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipelines.baselines.model import ANY_SPEED
from pipelines.dsp.envelope import envelope_spectrum, spectral_kurtosis_band
from pipelines.dsp.spectra import display_spectrum
from service.alarms import rules
from service.alarms.tables import Alarm
from service.baselines import service as baselines
from service.batches.storage import RawStore
from service.batches.tables import Batch, Indicator
from service.components.service import kinematics_for_sensor
from service.predictions.tables import INGEST, Prediction
from service.turbines.tables import Sensor, Turbine

MAX_POINTS = 2000  # per sensor and chart: plenty for a trend on a laptop screen


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def sensor_trends(*, session: Session, turbine: Turbine, sensor: Sensor, start: datetime | None,
                  end: datetime | None, max_points: int = MAX_POINTS) -> dict:
    """Everything the trend charts of one sensor need, as JSON-ready lists."""
    p = (select(Prediction.recorded_at, Prediction.probabilities, Prediction.anomaly_score,
                Prediction.anomaly_threshold).where(Prediction.sensor_id == sensor.id,
                                                    Prediction.source == INGEST))
    rms = (select(Batch.recorded_at, func.max(Indicator.rms_velocity_mm_s))
           .join(Indicator, Indicator.batch_id == Batch.id).where(Batch.sensor_id == sensor.id))
    if start is not None:
        p, rms = p.where(Prediction.recorded_at >= start), rms.where(Batch.recorded_at >= start)
    if end is not None:
        p, rms = p.where(Prediction.recorded_at < end), rms.where(Batch.recorded_at < end)
    preds = session.execute(p.order_by(Prediction.recorded_at.desc()).limit(max_points)).all()[::-1]
    rms_rows = session.execute(rms.group_by(Batch.id, Batch.recorded_at)
                               .order_by(Batch.recorded_at.desc()).limit(max_points)).all()[::-1]
    classes = sorted({c for _, probs, _, _ in preds for c in probs if c != rules.NORMAL})
    component = rules.component_of(sensor.name, sensor.component)
    lim = rules.ZONE_LIMITS.get(component, {}).get("rms_velocity_mm_s")
    alarms = session.execute(
        select(Alarm.id, Alarm.kind, Alarm.code, Alarm.severity, Alarm.state,
               Alarm.first_recorded_at)
        .where(Alarm.turbine_id == turbine.id, Alarm.sensor_id == sensor.id)
        .order_by(Alarm.opened_at.desc()).limit(200)).all()
    return {
        "sensor": sensor.name, "component": component,
        "times": [_iso(r[0]) for r in preds],
        "probabilities": {c: [round(float(r[1].get(c, 0.0)), 4) for r in preds] for c in classes},
        "thresholds": {c: rules.policy_for(c).threshold for c in classes},
        "rms_times": [_iso(r[0]) for r in rms_rows],
        "rms_velocity_mm_s": [round(float(r[1]), 3) for r in rms_rows],
        "zones": None if lim is None else {"bc": lim.bc, "cd": lim.cd},
        "anomaly_scores": [None if r[2] is None else round(float(r[2]), 3) for r in preds],
        "anomaly_threshold": next((float(r[3]) for r in reversed(preds) if r[3] is not None), None),
        "baseline": baseline_state(session=session, sensor=sensor),
        "alarms": [{"id": a.id, "kind": a.kind, "code": a.code, "severity": a.severity,
                    "state": a.state, "at": _iso(a.first_recorded_at)} for a in alarms],
    }


def baseline_state(*, session: Session, sensor: Sensor) -> dict | None:
    """The sensor's current baseline in a few words: state, version, k of N (per speed class
    when the sensor's snapshots carry their rpm)."""
    rows = baselines.shown_classes(baselines.classes(session, sensor.id))
    if not rows:
        return None
    head = max(rows, key=lambda r: r.id)

    def progress(r) -> str:
        return f"learning {baselines.n_seen(r)}/{r.n_required}"

    if len(rows) == 1 and head.speed_bin == ANY_SPEED:
        label = progress(head) if head.state == "learning" else f"ready v{head.version}"
    else:
        label = f"v{head.version}, " + ", ".join(
            f"{baselines.describe_class(r)} "
            + (progress(r) if r.state == "learning" else "ready") for r in rows)
    return {"state": "ready" if any(r.state == "ready" for r in rows) else "learning",
            "version": head.version, "n_seen": baselines.n_seen(head),
            "n_required": head.n_required, "source": head.source, "label": label}


def batch_list(*, session: Session, turbine: Turbine, start: datetime | None,
               end: datetime | None, limit: int = 50) -> list[dict]:
    """The newest batches of the turbine in the range, with sensor, verdict and label."""
    stmt = (select(Batch.id, Batch.recorded_at, Batch.received_at, Batch.rpm, Batch.label,
                   Sensor.name, Prediction.id, Prediction.label, Prediction.score)
            .join(Sensor, Sensor.id == Batch.sensor_id)
            .outerjoin(Prediction, (Prediction.batch_id == Batch.id) & (Prediction.source == INGEST))
            .where(Batch.turbine_id == turbine.id))
    if start is not None:
        stmt = stmt.where(Batch.recorded_at >= start)
    if end is not None:
        stmt = stmt.where(Batch.recorded_at < end)
    rows = session.execute(stmt.order_by(Batch.recorded_at.desc(), Batch.id.desc()).limit(limit))
    return [{"id": r[0], "recorded_at": r[1], "received_at": r[2], "rpm": r[3], "label": r[4],
             "sensor": r[5], "prediction_id": r[6], "verdict": r[7], "score": r[8]} for r in rows]


def latest_batches(*, session: Session, sensor_ids: list[int], end: datetime | None) -> dict:
    """sensor id -> (batch id, prediction id) of its newest batch before ``end``."""
    out = {}
    for sid in sensor_ids:  # one indexed lookup per sensor (a turbine has a handful)
        stmt = (select(Batch.id, Prediction.id)
                .outerjoin(Prediction, (Prediction.batch_id == Batch.id) & (Prediction.source == INGEST))
                .where(Batch.sensor_id == sid))
        if end is not None:
            stmt = stmt.where(Batch.recorded_at < end)
        row = session.execute(stmt.order_by(Batch.recorded_at.desc(), Batch.id.desc())
                              .limit(1)).first()
        if row is not None:
            out[sid] = {"batch_id": row[0], "prediction_id": row[1]}
    return out


def batch_spectra(*, session: Session, store: RawStore, batch: Batch, n_points: int = 800) -> dict:
    """Spectrum (0..Nyquist) and envelope spectrum (up to 6x BPFI) of the first channel, with the
    bearing defect frequencies at the batch's rpm, or where the diagnosis found the defect combs
    lined up (configured geometry, or the catalogue default the kinematics service assumes).
    The envelope is taken in the band the diagnosis read, so the page shows the lines the
    verdict rests on; the kurtogram of the first channel only for predictions without one."""
    x, names, _ = store.read(batch.raw_uri, batch.raw_sha256)
    fs = batch.sample_rate_hz
    freqs, amp = display_spectrum(x[:1], fs, n_points=n_points)
    kin = kinematics_for_sensor(session=session, sensor_id=batch.sensor_id)
    defects: dict[str, float] = {}
    # Where the diagnosis found the defect combs lined up off the given rpm, the cursors go there.
    diagnosis = session.scalar(select(Prediction.diagnosis).where(
        Prediction.batch_id == batch.id, Prediction.source == INGEST)) or {}
    rpm = diagnosis.get("defect_comb_rpm") or batch.rpm
    if rpm:
        shaft_hz = rpm / 60.0 * kin.shaft_speed_ratio
        defects = {"1X": shaft_hz, **kin.bearing.defect_frequencies_hz(shaft_hz)}
    fmax = 6.0 * defects["BPFI"] if defects else min(1000.0, fs / 4)
    if read := diagnosis.get("band_hz"):  # defect-order models store the band they read
        band = (float(read[0]), float(read[1]))
    else:
        try:
            band = spectral_kurtosis_band(x[:1], fs)
        except ValueError:  # too short for a kurtogram: a generic high band
            band = (0.25 * fs, 0.45 * fs)
    ef, ea = envelope_spectrum(x[:1], fs, band, n_points=n_points, fmax_hz=fmax)
    return {
        "batch_id": batch.id, "channel": names[0], "unit": batch.unit, "rpm": batch.rpm,
        "defects_rpm": rpm,
        "spectrum": {"freqs_hz": np.round(freqs, 2).tolist(), "amplitude": amp[0].tolist()},
        "envelope": {"freqs_hz": np.round(ef, 3).tolist(), "amplitude": ea[0].tolist(),
                     "band_hz": [round(band[0], 1), round(band[1], 1)]},
        "defects_hz": {k: round(v, 2) for k, v in defects.items() if k != "BSF"},
        "bearing": kin.designation, "assumed_geometry": kin.assumed,
    }
