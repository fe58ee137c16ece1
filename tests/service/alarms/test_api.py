"""Alarms on SQLite and PostgreSQL: N-of-M opening, repeats, zones, ack/close, labels, audit.

Most tests build rows directly and call ``evaluate_alarms`` so the probabilities are exact; one
test goes through real posts with a signal loud enough to cross the VDI gearbox zone D.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.alarms.service import evaluate_alarms
from service.tables import Alarm, Batch, Indicator, ModelVersion, Prediction, Sensor, Turbine
from tests.conftest import auth_header
from tests.service.bodies import ARROW, arrow_body, meta

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
CLASSES = ("normal", "inner_race", "outer_race", "ball")


class Feed:
    """Stores snapshots of one sensor (batch + indicators + prediction) with chosen numbers and
    evaluates alarms on each, as ingest does."""

    def __init__(self, session, turbine: str = "WT-A01", sensor: str = "gearbox_hss",
                 component: str | None = None):
        self.s = session
        self.turbine = Turbine(name=turbine)
        session.add(self.turbine)
        session.flush()
        self.sensor = Sensor(turbine_id=self.turbine.id, name=sensor, component=component)
        session.add(self.sensor)
        session.flush()
        self.mv = session.scalar(select(ModelVersion.id).order_by(ModelVersion.id))
        self.n = 0

    def __call__(self, p_fault: float = 0.0, fault: str = "inner_race", v_mm_s: float = 1.0,
                 a_m_s2: float = 1.0, label: str | None = None, label_source: str | None = None,
                 at: datetime | None = None):
        at = at or T0 + timedelta(minutes=10 * self.n)
        self.n += 1
        b = Batch(turbine_id=self.turbine.id, sensor_id=self.sensor.id, recorded_at=at,
                  sample_rate_hz=25_600.0, n_channels=2, n_samples=51_200,
                  channel_names=["x", "y"], rpm=1500.0, unit="g", content_type=ARROW,
                  raw_uri=f"fake/{self.n}.parquet", raw_sha256="0" * 64, raw_bytes=1,
                  body_sha256=f"{self.n:064d}", label=label, label_source=label_source)
        b.indicators = [  # channel y is the worst
            Indicator(channel=c, rms_accel_m_s2=a_m_s2 * k, rms_velocity_mm_s=v_mm_s * k,
                      peak_accel_m_s2=3.0, crest_factor=3.0, kurtosis=3.0)
            for c, k in (("x", 0.5), ("y", 1.0))]
        self.s.add(b)
        self.s.flush()
        probs = dict.fromkeys(CLASSES, 0.0) | {fault: p_fault, "normal": 1.0 - p_fault}
        p = Prediction(batch_id=b.id, turbine_id=self.turbine.id, sensor_id=self.sensor.id,
                       recorded_at=at, model_version_id=self.mv, label=max(probs, key=probs.get),
                       score=p_fault, probabilities=probs, per_channel={}, n_windows=1)
        self.s.add(p)
        self.s.flush()
        alarms = evaluate_alarms(session=self.s, batch=b, prediction=p, turbine=self.turbine)
        self.s.commit()
        return b, alarms


def alarms_of(session, turbine_id: int) -> list[Alarm]:
    return session.scalars(select(Alarm).where(Alarm.turbine_id == turbine_id)
                           .order_by(Alarm.id).execution_options(populate_existing=True)).all()


@pytest.fixture
def api(app, admin_key):
    """A client without the app's lifespan: the alarm endpoints never load the classifier."""
    return TestClient(app, headers=auth_header(admin_key))


def test_n_of_m_opens_exactly_one_alarm_and_repeats_update_it(session, api):
    feed = Feed(session)
    b1, a = feed(0.8)
    feed(0.2)
    assert a == [] and alarms_of(session, feed.turbine.id) == []
    b3, a = feed(0.8)
    assert a == []  # 2 of the last 5
    b4, (alarm,) = feed(0.85)  # 3 of the last 5: opens
    assert (alarm.kind, alarm.code, alarm.state) == ("fault", "inner_race", "open")
    assert alarm.severity == "minor"
    assert alarm.count == 3 and alarm.peak_probability == pytest.approx(0.85)
    b5, (same,) = feed(0.95)  # a repeat: same alarm, higher severity
    feed(0.1)  # a normal snapshot neither repeats nor links
    assert same.id == alarm.id
    (only,) = alarms_of(session, feed.turbine.id)
    assert (only.count, only.severity, only.latest_batch_id) == (4, "major", b5.id)
    assert only.peak_probability == pytest.approx(0.95)
    d = api.get(f"/api/v1/alarms/{alarm.id}").json()
    assert d["batch_ids"] == [b1.id, b3.id, b4.id, b5.id]
    assert [(e["action"], e["actor"]) for e in d["events"]] == [
        ("opened", "system"), ("escalated", "system")]
    assert d["events"][1]["details"]["to_severity"] == "major"
    assert d["links"]["batch"] == f"/api/v1/batches/{b5.id}"


def test_late_snapshot_is_judged_in_its_place_and_keeps_the_newest_pointer(session):
    feed = Feed(session)
    for _ in range(4):
        newest, _ = feed(0.9)  # T0 .. T0+30 min
    _, (alarm,) = feed(0.9, at=T0 + timedelta(minutes=25))  # late, window: 25, 20, 10, 0
    assert alarm.count == 5 and alarm.latest_batch_id == newest.id
    assert alarm.last_recorded_at == T0 + timedelta(minutes=30)
    assert feed(0.9, at=T0 - timedelta(hours=1))[1] == []  # nothing older: 1 of 1 only
    assert alarm.count == 5


def test_zone_alarms_per_component_and_fault_escalates_in_zone_d(session, api):
    feed = Feed(session, sensor="gearbox_hss")
    _, alarms = feed(v_mm_s=4.0, a_m_s2=2.0)  # gearbox velocity zone C, lower half
    assert [(a.code, a.zone, a.severity) for a in alarms] == [("rms_velocity_mm_s", "C", "minor")]
    assert alarms[0].details["channel"] == "y" and alarms[0].peak_value == pytest.approx(4.0)
    for _ in range(2):
        feed(0.8, fault="ball", v_mm_s=6.0, a_m_s2=13.0)  # zone D on both quantities
    _, alarms = feed(0.8, fault="ball", v_mm_s=6.0, a_m_s2=13.0)
    got = {a.code: (a.severity, a.zone, a.count) for a in alarms}
    assert got == {"rms_velocity_mm_s": ("critical", "D", 4),
                   "rms_accel_m_s2": ("critical", "D", 3), "ball": ("critical", None, 3)}
    assert len(alarms_of(session, feed.turbine.id)) == 3
    main = Feed(session, turbine="WT-A02", sensor="hss", component="Main bearing")
    _, (mb,) = main(v_mm_s=2.5, a_m_s2=50.0)  # main bearing: no acceleration zone in VDI
    assert (mb.component, mb.code) == ("main_bearing", "rms_velocity_mm_s")
    assert (mb.severity, mb.threshold) == ("minor", 2.0)
    gen = Feed(session, turbine="WT-A03", sensor="generator_de")
    assert gen(v_mm_s=5.9, a_m_s2=9.9)[1] == []  # below the generator's B/C limits
    page = api.get("/api/v1/alarms", params={"kind": "zone", "severity": "critical"}).json()
    assert page["total"] == 2 and {i["turbine_id"] for i in page["items"]} == {"WT-A01"}
    page = api.get("/api/v1/alarms", params={"turbine": "WT-A02"}).json()
    assert [i["id"] for i in page["items"]] == [mb.id] and page["items"][0]["sensor"] == "hss"


def test_acknowledge_then_close_confirmed_labels_the_batches(session, api):
    feed = Feed(session)
    batches = [feed(0.9)[0] for _ in range(3)]
    (alarm,) = alarms_of(session, feed.turbine.id)
    r = api.post(f"/api/v1/alarms/{alarm.id}/acknowledge", json={"by": "ana", "comment": "looking"})
    assert r.status_code == 200, r.text
    # The authenticated key is recorded, not the free-text "by" (used only with auth off).
    assert (r.json()["state"], r.json()["acknowledged_by"]) == ("acknowledged", "key:test-admin")
    again = api.post(f"/api/v1/alarms/{alarm.id}/acknowledge", json={"by": "bo"})
    assert again.status_code == 409 and "already acknowledged by 'key:test-admin'" in again.json()["detail"]
    _, (repeat,) = feed(0.9)  # a repeat while acknowledged keeps the acknowledgement
    assert repeat.id == alarm.id and repeat.state == "acknowledged" and repeat.count == 4
    r = api.post(f"/api/v1/alarms/{alarm.id}/close", json={
        "by": "ana", "outcome": "confirmed", "fault_type": "outer_race", "comment": "spall found"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["state"], d["outcome"], d["fault_type"]) == ("closed", "confirmed", "outer_race")
    assert d["closed_by"] == "key:test-admin"
    assert [(e["action"], e["from_state"], e["to_state"]) for e in d["events"]] == [
        ("opened", None, "open"), ("acknowledged", "open", "acknowledged"),
        ("closed", "acknowledged", "closed")]
    assert d["events"][2]["details"]["labelled_batches"] == 4
    labels = session.execute(select(Batch.id, Batch.label, Batch.label_source)
                             .where(Batch.id.in_(d["batch_ids"]))
                             .execution_options(populate_existing=True)).all()
    assert {b.id for b in batches} <= set(d["batch_ids"])
    assert {(lab, src) for _, lab, src in labels} == {("outer_race", f"alarm:{alarm.id}")}
    for verb, body in (("acknowledge", {"by": "x"}),
                       ("close", {"by": "x", "outcome": "false_alarm", "comment": "again"})):
        r = api.post(f"/api/v1/alarms/{alarm.id}/{verb}", json=body)
        assert r.status_code == 409 and "closed" in r.json()["detail"]
    _, (fresh,) = feed(0.9)  # the fault persists: a new alarm, the closed one stays closed
    assert fresh.id != alarm.id and fresh.state == "open"
    closed = api.get("/api/v1/alarms", params={"state": "closed", "turbine": "WT-A01"}).json()
    active = api.get("/api/v1/alarms", params=[("state", "open"), ("state", "acknowledged")]).json()
    assert [i["id"] for i in closed["items"]] == [alarm.id]
    active_ids = [i["id"] for i in active["items"]]
    assert fresh.id in active_ids and alarm.id not in active_ids


def test_false_alarm_labels_normal_but_never_overrides_ground_truth(session, api):
    feed = Feed(session)
    imported, _ = feed(0.9, label="ball", label_source="import:cwru")
    rest = [feed(0.9)[0] for _ in range(2)]
    (alarm,) = alarms_of(session, feed.turbine.id)
    r = api.post(f"/api/v1/alarms/{alarm.id}/close",  # straight from open is allowed
                 json={"by": "bo", "outcome": "false_alarm", "comment": "sensor cable loose"})
    assert r.status_code == 200, r.text
    assert r.json()["events"][-1]["details"] == {
        "outcome": "false_alarm", "fault_type": None, "comment": "sensor cable loose",
        "label": "normal", "labelled_batches": 2}
    got = dict(session.execute(select(Batch.id, Batch.label)
                               .execution_options(populate_existing=True)
                               .where(Batch.id.in_([imported.id, *[b.id for b in rest]]))).all())
    assert got == {imported.id: "ball", rest[0].id: "normal", rest[1].id: "normal"}


def test_not_found_and_validation(session, api):
    feed = Feed(session)
    for _ in range(3):
        feed(0.9)
    (alarm,) = alarms_of(session, feed.turbine.id)
    assert api.get("/api/v1/alarms/999999").status_code == 404
    assert api.post("/api/v1/alarms/999999/acknowledge", json={"by": "a"}).status_code == 404
    close = f"/api/v1/alarms/{alarm.id}/close"
    bad = [
        {"by": "a", "outcome": "confirmed", "comment": "c"},  # no fault_type
        {"by": "a", "outcome": "false_alarm", "fault_type": "ball", "comment": "c"},
        {"by": "a", "outcome": "maybe", "comment": "c"},
        {"by": "a", "outcome": "false_alarm"},  # no comment
        {"by": "", "outcome": "false_alarm", "comment": "c"},
        {"by": "a", "outcome": "confirmed", "fault_type": "normal", "comment": "c"},  # no fault
        {"by": "a", "outcome": "confirmed", "fault_type": "gremlins", "comment": "c"},
    ]
    for body in bad:
        assert api.post(close, json=body).status_code == 422, body
    assert api.post(f"/api/v1/alarms/{alarm.id}/acknowledge",
                    json={"comment": 5}).status_code == 422
    assert api.get("/api/v1/alarms", params={"state": "gone"}).status_code == 422
    assert api.get("/api/v1/alarms", params={"limit": 0}).status_code == 422
    assert api.get(f"/api/v1/alarms/{alarm.id}").json()["state"] == "open"  # nothing changed


def test_database_allows_one_active_alarm_per_key(session):
    feed = Feed(session)
    for _ in range(3):
        feed(0.9)
    (alarm,) = alarms_of(session, feed.turbine.id)
    keys = {"turbine_id": alarm.turbine_id, "sensor_id": alarm.sensor_id, "kind": "fault",
            "code": "inner_race", "component": "gearbox", "severity": "minor", "threshold": 0.7,
            "first_recorded_at": T0, "last_recorded_at": T0}
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Alarm(**keys, active=True))
        session.flush()
    session.add_all([Alarm(**keys, state="closed", active=None) for _ in range(2)])
    session.flush()  # closed alarms of the same key coexist


def test_loud_posts_raise_one_zone_alarm_and_feedback_labels_them(client):
    """2 g at 160 Hz on a gearbox sensor: RMS velocity ~14 mm/s (zone D above 5.6), RMS
    acceleration ~13.9 m/s^2 (zone D above 12)."""
    fs_hz, n = 25_600.0, 51_200
    t = np.arange(n) / fs_hz
    x = np.tile(2.0 * np.sin(2 * np.pi * 160.0 * t), (2, 1)).astype(np.float32)
    ids = []
    for k in range(2):
        body = arrow_body(x, meta(f"2026-11-01T1{k}:00:00Z", "gearbox_hss"))
        r = client.post("/api/v1/turbines/WT-LOUD/batches", content=body,
                        headers={"Content-Type": ARROW})
        assert r.status_code == 201, r.text
        ids.append(r.json()["batch_id"])
    page = client.get("/api/v1/alarms", params={"turbine": "WT-LOUD", "kind": "zone"}).json()
    by_code = {i["code"]: i for i in page["items"]}
    assert set(by_code) == {"rms_velocity_mm_s", "rms_accel_m_s2"}
    v = by_code["rms_velocity_mm_s"]
    assert (v["severity"], v["zone"], v["count"], v["component"]) == ("critical", "D", 2, "gearbox")
    v_rms_mm_s = 2 * 9.80665 / (2 * np.pi * 160) / np.sqrt(2) * 1e3
    assert v["peak_value"] == pytest.approx(v_rms_mm_s, rel=0.02)
    r = client.post(f"/api/v1/alarms/{v['id']}/close", json={
        "by": "ana", "outcome": "confirmed", "fault_type": "inner_race", "comment": "on site"})
    assert r.status_code == 200, r.text
    assert r.json()["batch_ids"] == ids
    for bid in ids:
        assert client.get(f"/api/v1/batches/{bid}").json()["label"] == "inner_race"
