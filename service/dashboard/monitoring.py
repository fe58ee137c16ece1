"""Data behind the model-monitoring parts of the dashboard: each sensor's latest drift verdict
(turbine page), the fleet's drift at the last check and each version's recorded evaluations
(models page). The drift figures come from :mod:`service.jobs.drift`, the same service as
``GET /api/v1/drift``; evaluations from the ``evaluate`` job's summary in
``metrics["evaluations"]``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from service.jobs import drift

# A verdict in words: the page never relies on the badge colour alone.
VERDICTS = {"ok": "no", "drifted": "yes", "no_reference": "no verdict (no reference)",
            "insufficient_data": "no verdict (too few snapshots)"}


def sensor_drift(*, session: Session, turbine: str, sensors: Sequence[str]) -> dict[str, dict]:
    """Sensor name -> its newest drift verdict as the turbine page shows it; sensors that no
    check has covered yet are absent."""
    out = {}
    for name, c in drift.latest_for_sensors(session=session, turbine=turbine,
                                            sensors=sensors).items():
        d = c.drift
        out[name] = {
            "job_id": c.job_id, "checked_at": c.checked_at, "threshold": c.threshold,
            "statistic": c.statistic, "status": d.status,
            "verdict": VERDICTS.get(d.status, d.status), "score": d.score,
            "reference": d.reference, "n_reference": d.n_reference, "n_recent": d.n_recent,
            "top": [(f, d.features[f]) for f in d.top if f in d.features], "reason": d.reason}
    return out


def fleet_drift(*, session: Session) -> dict[str, Any]:
    """The last drift check in one line's worth of figures: sensors checked, with a verdict,
    drifted; ``job_id`` None when no check has run."""
    last = drift.latest(session=session)
    judged = [s for s in last.sensors if s.status in ("ok", "drifted")]
    return {"job_id": last.job_id, "checked_at": last.checked_at, "threshold": last.threshold,
            "sensors": len(last.sensors), "judged": len(judged),
            "drifted": sum(1 for s in judged if s.status == "drifted"),
            "retrain_job_id": last.retrain_job_id, "note": last.note}


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _number(value: object) -> float | None:
    # bool is an int to Python, but a macro-F1 of True is a corrupt record, not 1.0
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def evaluations(metrics: dict | None) -> list[dict]:
    """One row per suite of each evaluation in ``metrics["evaluations"]``, newest first. The
    metrics are free JSON (anything may have written them), so malformed entries are skipped
    rather than failing the whole page."""
    entries = (metrics or {}).get("evaluations")
    rows: list[dict] = []
    if not isinstance(entries, list):
        return rows
    for e in reversed(entries):
        if not isinstance(e, dict) or not isinstance(e.get("suites"), dict):
            continue
        job_id = e.get("job_id")
        for suite, m in e["suites"].items():
            m = m if isinstance(m, dict) else {}
            rows.append({
                "suite": str(suite), "macro_f1": _number(m.get("macro_f1")),
                "accuracy": _number(m.get("accuracy")), "n_recordings": m.get("n_recordings"),
                "seen": m.get("recordings_seen_in_training"), "quick": bool(e.get("quick")),
                "at": _when(e.get("at")),
                "job_id": job_id if isinstance(job_id, int) and not isinstance(job_id, bool)
                else None})
    return rows
