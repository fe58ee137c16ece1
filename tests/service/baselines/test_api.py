"""Baselines through the API on SQLite and PostgreSQL: learning k of N, ready, scoring, reset,
marking a period healthy, the detection in the batch and prediction responses, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from service.tables import Alarm, SensorBaseline
from tests.service.bodies import ARROW, arrow_body, meta, signal

N_REQUIRED = 5
T0 = datetime(2026, 11, 1, tzinfo=UTC)
BASE = "/api/v1/turbines/{}/sensors/{}/baseline"


@pytest.fixture
def settings(base_settings):
    return base_settings.model_copy(update={"baseline_snapshots": N_REQUIRED})


def impacts(seed: int, n: int = 51_200, fs: float = 25_600.0) -> np.ndarray:
    """The healthy test signal plus a ringing impact every 10 ms (a bearing-defect-like change)."""
    x = signal(seed=seed)
    t = np.arange(256) / fs
    ring = (0.6 * np.exp(-t * 900) * np.sin(2 * np.pi * 4_000 * t)).astype(np.float32)
    for s in range(0, n - 256, 256):
        x[:, s:s + 256] += ring
    return x


def post(client, i: int, x: np.ndarray | None = None, turbine: str = "WT-B01",
         sensor: str = "gearbox_hss", rpm: float | None = 1500.0) -> dict:
    at = (T0 + timedelta(minutes=10 * i)).isoformat().replace("+00:00", "Z")
    body = arrow_body(signal(seed=i) if x is None else x, meta(at, sensor=sensor, rpm=rpm))
    r = client.post(f"/api/v1/turbines/{turbine}/batches", content=body,
                    headers={"Content-Type": ARROW})
    assert r.status_code == 201, r.text
    return r.json()


def n_versions(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(SensorBaseline))


def test_learning_then_ready_then_scored(client):
    for i in range(N_REQUIRED):
        d = post(client, i)["prediction"]["detection"]
        assert d["state"] == "learning" and d["score"] is None and d["is_anomalous"] is None
        assert (d["n_seen"], d["n_required"], d["version"]) == (i + 1, N_REQUIRED, 1)
        assert ("still being learnt" if i + 1 < N_REQUIRED else "scores start with the next") in d["message"]
    b = client.get(BASE.format("WT-B01", "gearbox_hss")).json()
    assert (b["state"], b["version"], b["n_seen"], b["source"]) == ("ready", 1, N_REQUIRED, "first_n")
    assert "log_kurtosis" in b["median"] and b["fitted_at"] is not None
    healthy = post(client, 10)["prediction"]
    d = healthy["detection"]
    assert d["state"] == "ready" and d["is_anomalous"] is False and d["score"] < d["threshold"]
    faulty = post(client, 11, impacts(11))["prediction"]["detection"]
    assert faulty["is_anomalous"] is True and faulty["score"] > 3 * faulty["threshold"]
    again = client.get(f"/api/v1/predictions/{healthy['id']}").json()["detection"]
    assert again == d


def test_anomaly_alarm_after_n_of_m_never_while_learning(client, session_factory):
    for i in range(N_REQUIRED):  # impulsive from the start: that is this sensor's normal
        post(client, i, impacts(i), sensor="learnt_noisy")
    for i in range(N_REQUIRED):
        post(client, i)
    for i in range(N_REQUIRED, N_REQUIRED + 2):
        post(client, i, impacts(i))
    alarms = client.get("/api/v1/alarms", params={"kind": "anomaly"}).json()["items"]
    assert alarms == []  # 2 of 5 above: not yet
    post(client, N_REQUIRED + 2, impacts(N_REQUIRED + 2))
    alarms = client.get("/api/v1/alarms", params={"kind": "anomaly"}).json()["items"]
    assert len(alarms) == 1
    a = alarms[0]
    assert (a["sensor"], a["code"], a["state"]) == ("gearbox_hss", "baseline", "open")
    assert a["peak_value"] > a["threshold"]
    with session_factory() as s:
        assert s.scalar(select(Alarm.details).where(Alarm.id == a["id"]))["baseline_version"] == 1


def test_reset_starts_a_new_learning_version_and_keeps_the_old(client):
    for i in range(N_REQUIRED + 1):
        post(client, i)
    r = client.post(BASE.format("WT-B01", "gearbox_hss") + "/reset")
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["state"], b["version"], b["n_seen"]) == ("learning", 2, 0)
    assert [v["version"] for v in b["versions"]] == [2, 1]
    assert b["versions"][1]["reset_at"] is not None
    d = post(client, 20)["prediction"]["detection"]
    assert (d["state"], d["version"], d["n_seen"]) == ("learning", 2, 1)


def test_mark_period_healthy_fits_from_stored_features(client):
    for i in range(8):
        post(client, i)
    start, end = T0.isoformat(), (T0 + timedelta(minutes=10 * 6)).isoformat()
    r = client.post(BASE.format("WT-B01", "gearbox_hss") + "/fit", json={"start": start, "end": end})
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["state"], b["version"], b["source"], b["n_seen"]) == ("ready", 2, "marked_period", 6)
    assert b["period_start"].startswith("2026-11-01T00:00")
    d = post(client, 30)["prediction"]["detection"]
    assert (d["state"], d["version"]) == ("ready", 2) and d["score"] is not None


def test_speed_classes_learn_apart_and_a_period_fits_the_classes_it_fills(client,
                                                                          session_factory):
    speeds = [1000.0] * 4 + [1400.0] * 4
    for i, rpm in enumerate(speeds):
        d = post(client, i, rpm=rpm)["prediction"]["detection"]
        low, high = d["rpm_range"]
        assert d["state"] == "learning" and low <= rpm < high and f"{low:.0f}-{high:.0f} rpm" in d["message"]
        assert d["n_seen"] == speeds[:i + 1].count(rpm)  # each class counts its own snapshots
    assert post(client, 8, rpm=None)["prediction"]["detection"]["rpm_range"] is None
    whole = {"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()}
    before = n_versions(session_factory)
    r = client.post(BASE.format("WT-B01", "gearbox_hss") + "/fit", json=whole)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "no speed class holds 5 snapshots" in detail and "956-1051 rpm: 4 snapshots" in detail
    assert "1399-1539 rpm: 4 snapshots" in detail and "any speed: 1 snapshots" in detail
    assert n_versions(session_factory) == before
    for i in (9, 10):
        post(client, i, rpm=1010.0)
    b = client.get(BASE.format("WT-B01", "gearbox_hss")).json()
    assert [(c["rpm_range"] is None, c["state"], c["n_seen"]) for c in b["classes"]] == [
        (True, "learning", 1), (False, "ready", 5), (False, "learning", 4)]
    r = client.post(BASE.format("WT-B01", "gearbox_hss") + "/fit", json=whole)
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["version"], b["state"], b["n_seen"], b["rpm_range"][0]) == (2, "ready", 6,
                                                                           pytest.approx(955.594))
    assert [c["n_seen"] for c in b["classes"]] == [6]  # the other classes learn again
    assert "956-1051 rpm: ready from 6 snapshots (marked_period)" in b["message"]
    d = post(client, 20, rpm=1400.0)["prediction"]["detection"]
    assert (d["state"], d["version"], d["n_seen"]) == ("learning", 2, 1)
    d = post(client, 21, rpm=1000.0)["prediction"]["detection"]
    assert (d["state"], d["version"]) == ("ready", 2) and d["score"] is not None


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"start": "2026-11-01T02:00:00Z", "end": "2026-11-01T01:00:00Z"}, 422, "must be before"),
    ({"start": "2026-11-01T01:00:00Z", "end": "2026-11-01T01:00:00Z"}, 422, "must be before"),
    ({"start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}, 422, "holds 0 snapshots"),
    ({"start": "2026-11-01T00:00:00", "end": "2026-11-02T00:00:00Z"}, 422, "timezone"),
    ({"start": "2026-11-01T00:00:00Z"}, 422, "end"),
])
def test_bad_periods_are_refused_and_write_nothing(client, session_factory, body, status, needle):
    post(client, 0)
    before = n_versions(session_factory)
    r = client.post(BASE.format("WT-B01", "gearbox_hss") + "/fit", json=body)
    assert r.status_code == status, r.text
    assert needle in r.text
    assert n_versions(session_factory) == before


def test_too_few_snapshots_in_the_period(client, session_factory):
    for i in range(3):
        post(client, i)
    before = n_versions(session_factory)
    r = client.post(BASE.format("WT-B01", "gearbox_hss") + "/fit",
                    json={"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"})
    assert r.status_code == 422 and "holds 3 snapshots" in r.json()["detail"]
    assert n_versions(session_factory) == before


@pytest.mark.parametrize(("turbine", "sensor", "needle"), [("WT-B01", "nope", "no sensor 'nope'"),
                                                          ("WT-NOPE", "gearbox_hss", "not found")])
def test_unknown_turbine_or_sensor_is_404(client, session_factory, turbine, sensor, needle):
    post(client, 0)
    before = n_versions(session_factory)
    url = BASE.format(turbine, sensor)
    for r in (client.get(url), client.post(url + "/reset"),
              client.post(url + "/fit", json={"start": "2026-11-01T00:00:00Z",
                                              "end": "2026-11-02T00:00:00Z"})):
        assert r.status_code == 404 and needle in r.json()["detail"]
    assert n_versions(session_factory) == before


def test_unfittable_features_keep_learning_and_never_fail_the_ingest(session):
    from service.baselines import service
    from service.tables import Sensor, Turbine

    t = Turbine(name="WT-NAN")
    session.add(t)
    session.flush()
    s = Sensor(turbine_id=t.id, name="hss")
    session.add(s)
    session.flush()
    cfg = service.DetectionConfig(n_required=N_REQUIRED)
    for k in range(N_REQUIRED + 1):
        d = service.observe(session=session, sensor_id=s.id, features={"f": float("nan")},
                            fs_hz=25_600.0, config=cfg)
        assert (d.state, d.n_seen, d.score) == ("learning", k + 1, None)
