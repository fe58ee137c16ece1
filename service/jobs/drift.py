"""Feature drift per sensor: the Population Stability Index of each stored scale-free feature
(``predictions.features``) of the recent snapshots against a reference sample.

Statistic, per feature: the reference's quintiles cut the axis into ``N_BINS`` bins; with
``f_ref`` and ``f_new`` the bin fractions (each count + 0.5, so an empty bin stays finite),
``PSI = sum((f_new - f_ref) * ln(f_new / f_ref))``. Two samples of one distribution still give
a PSI of about ``(bins - 1) * (1/n_ref + 1/n_new)`` (0.28 for 20 vs 50 snapshots, above the
usual 0.25 rule of thumb), so the sensor's score is the mean over its features of the excess
``max(0, PSI - that noise floor)``; the sensor drifts when the score exceeds
``WINDWATCH_DRIFT_THRESHOLD`` (default 0.25).

Reference: the production model's ``training_data["feature_reference"]`` (feature name -> list of
training values) when it records one, else the samples of the sensor's newest fitted baseline;
with neither the sensor's status is ``no_reference`` and nothing is invented.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.jobs.tables import SUCCEEDED, Job

N_BINS = 5
SMOOTH = 0.5
STATISTIC = (f"PSI per feature on {N_BINS} reference-quantile bins (+{SMOOTH} per bin); sensor "
             "score = mean over features of max(0, PSI - (bins-1)(1/n_ref + 1/n_recent))")


def psi(reference: np.ndarray, recent: np.ndarray, n_bins: int = N_BINS) -> tuple[float, int]:
    """(PSI of ``recent`` against ``reference``, number of bins actually used)."""
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
    k = len(edges) + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=k) + SMOOTH
    new = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=k) + SMOOTH
    ref, new = ref / ref.sum(), new / new.sum()
    return float(np.sum((new - ref) * np.log(new / ref))), k


def _values(samples: Sequence[Mapping[str, float]], name: str) -> np.ndarray:
    v = np.array([float(s[name]) for s in samples if s.get(name) is not None], dtype=np.float64)
    return v[np.isfinite(v)]


def compare(reference: Mapping[str, Sequence[float]], recent: Sequence[Mapping[str, float]],
            min_samples: int) -> dict:
    """Per-feature PSI and the sensor score of ``recent`` feature dicts against a reference
    (feature name -> values); features with fewer than ``min_samples`` values on either side
    are left out."""
    features: dict[str, float] = {}
    excess = []
    for name, ref_values in reference.items():
        ref = np.asarray([v for v in ref_values if v is not None], dtype=np.float64)
        ref = ref[np.isfinite(ref)]
        new = _values(recent, name)
        if len(ref) < min_samples or len(new) < min_samples:
            continue
        value, k = psi(ref, new)
        features[name] = round(value, 4)
        excess.append(max(0.0, value - (k - 1) * (1.0 / len(ref) + 1.0 / len(new))))
    score = float(np.mean(excess)) if excess else None
    top = sorted(features, key=lambda n: -features[n])[:3]
    return {"score": None if score is None else round(score, 4), "features": features,
            "top": top}


def reference_from_samples(samples: Sequence[Mapping[str, float]]) -> dict[str, list[float]]:
    """Feature dicts (a baseline's samples) -> feature name -> values."""
    names = sorted({k for s in samples for k in s})
    return {n: [float(s[n]) for s in samples if n in s] for n in names}


class SensorDrift(BaseModel):
    """One sensor's drift verdict."""

    turbine: str
    sensor: str
    status: str = Field(description="ok | drifted | no_reference | insufficient_data")
    reference: str | None = Field(description="model:<version id> or baseline:v<version>")
    n_reference: int
    n_recent: int
    score: float | None
    features: dict[str, float] = Field(description="PSI per feature")
    top: list[str] = Field(description="the features with the largest PSI")
    reason: str | None = None


class DriftOut(BaseModel):
    """The latest drift check (a ``drift-check`` job's result)."""

    job_id: int | None
    checked_at: datetime | None
    statistic: str
    threshold: float | None
    drifted_share: float | None
    retrain_job_id: int | None
    sensors: list[SensorDrift]
    note: str | None = None


def _checks(session: Session, limit: int = 20) -> Iterator[Job]:
    """The newest succeeded drift checks that carry per-sensor results, newest first (lazily, so
    a caller that needs only the first loads only its result)."""
    jobs = session.scalars(select(Job).where(Job.kind == "drift-check", Job.state == SUCCEEDED)
                           .order_by(Job.finished_at.desc(), Job.id.desc()).limit(limit))
    return (j for j in jobs if j.result and "sensors" in j.result)


def latest(*, session: Session, turbine: str | None = None) -> DriftOut:
    """The newest succeeded drift check's per-sensor results (of one turbine if given)."""
    job = next(_checks(session), None)
    if job is None or job.result is None:
        return DriftOut(job_id=None, checked_at=None, statistic=STATISTIC, threshold=None,
                        drifted_share=None, retrain_job_id=None, sensors=[],
                        note="no drift check has run yet (kind drift-check, scheduled by "
                             "WINDWATCH_SCHEDULE_DRIFT)")
    r = job.result
    sensors = [SensorDrift(**s) for s in r["sensors"] if turbine is None or s["turbine"] == turbine]
    return DriftOut(job_id=job.id, checked_at=job.finished_at, statistic=r.get("statistic", STATISTIC),
                    threshold=r.get("threshold"), drifted_share=r.get("drifted_share"),
                    retrain_job_id=r.get("retrain_job_id"), sensors=sensors)


class SensorCheck(BaseModel):
    """One sensor's newest verdict and the check it came from."""

    job_id: int
    checked_at: datetime | None
    statistic: str
    threshold: float | None
    drift: SensorDrift


def latest_for_sensors(*, session: Session, turbine: str,
                       sensors: Sequence[str]) -> dict[str, SensorCheck]:
    """Sensor name -> its newest verdict among the recent checks. A check run on other turbines
    only (``turbines`` parameter) leaves this turbine's earlier verdicts standing, so each sensor
    is looked up in turn rather than in the newest check alone; sensors never checked are absent."""
    wanted, out = set(sensors), {}
    for job in _checks(session):
        if not wanted - out.keys():
            break
        r = job.result or {}
        for s in r["sensors"]:
            if s["turbine"] == turbine and s["sensor"] in wanted and s["sensor"] not in out:
                out[s["sensor"]] = SensorCheck(
                    job_id=job.id, checked_at=job.finished_at,
                    statistic=r.get("statistic", STATISTIC), threshold=r.get("threshold"),
                    drift=SensorDrift(**s))
    return out
