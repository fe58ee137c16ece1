"""The dashboard's form routes through TestClient (no browser): each POST answers 303 back to
its page with a message or an error, and changes exactly what the API would."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth_header
from tests.service.alarms.test_api import Feed, alarms_of


@pytest.fixture
def pages(app, admin_key):
    """A client that does not follow redirects, so each form's 303 can be read."""
    return TestClient(app, follow_redirects=False, headers=auth_header(admin_key))


def _redirect(r) -> tuple[str, dict[str, str]]:
    assert r.status_code == 303, r.text
    url = urlsplit(r.headers["location"])
    return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}


def _production(client) -> dict:
    return next(m for m in client.get("/api/v1/models").json() if m["status"] == "production")


def test_promote_and_rollback_forms_switch_the_production_model(pages):
    before = _production(pages)
    other = next(m for m in pages.get("/api/v1/models").json() if m["id"] != before["id"])
    path, q = _redirect(pages.post(f"/models/{other['id']}/promote",
                                   data={"by": "ops", "reason": "form test"}))
    assert path == "/models" and "now in production" in q["msg"]
    assert _production(pages)["id"] == other["id"]
    path, q = _redirect(pages.post("/models/rollback", data={"by": "ops"}))
    assert path == "/models" and "rolled back" in q["msg"]
    assert _production(pages)["id"] == before["id"]
    assert pages.get("/models", params=q).status_code == 200


def test_promoting_an_unknown_version_redirects_with_an_error(pages):
    before = _production(pages)
    path, q = _redirect(pages.post("/models/999999/promote", data={}))
    assert path == "/models" and "999999" in q["error"]
    assert _production(pages)["id"] == before["id"]


def test_acknowledge_and_close_forms(session, pages):
    feed = Feed(session, turbine="WT-F01")
    for _ in range(3):
        feed(0.9)
    (alarm,) = alarms_of(session, feed.turbine.id)
    # Who is the authenticated caller, whatever a form's "by" field claims.
    path, q = _redirect(pages.post(f"/alarms/{alarm.id}/acknowledge",
                                   data={"by": "ana", "comment": "looking", "queue": "active"}))
    assert "acknowledged by key:test-admin" in q["msg"] and q["queue"] == "active"
    path, q = _redirect(pages.post(f"/alarms/{alarm.id}/acknowledge", data={"by": "bo"}))
    assert "already acknowledged" in q["error"]
    path, q = _redirect(pages.post(f"/alarms/{alarm.id}/close",
                                   data={"by": "ana", "outcome": "confirmed", "comment": "c"}))
    assert "fault_type" in q["error"]
    path, q = _redirect(pages.post(f"/alarms/{alarm.id}/close",
                                   data={"by": "ana", "outcome": "confirmed",
                                         "fault_type": "inner_race", "comment": "found it"}))
    assert "closed (confirmed inner_race)" in q["msg"]
    state = pages.get(f"/api/v1/alarms/{alarm.id}").json()["state"]
    assert state == "closed"
    assert pages.get("/alarms", params={"queue": "closed"}).status_code == 200


def test_unknown_alarm_is_an_error_message_not_a_crash(pages):
    path, q = _redirect(pages.post("/alarms/999999/acknowledge", data={"by": "ana"}))
    assert path == "/alarms" and "999999" in q["error"]


def _post_snapshots(client, n: int, turbine: str = "WT-F01") -> None:
    from tests.service.bodies import ARROW, arrow_body, meta, signal

    for i in range(n):
        body = arrow_body(signal(seed=i), meta(f"2026-11-01T{i:02d}:00:00Z"))
        r = client.post(f"/api/v1/turbines/{turbine}/batches", content=body,
                        headers={"Content-Type": ARROW})
        assert r.status_code == 201, r.text


def test_turbine_page_shows_baseline_state_and_anomaly_chart(pages):
    _post_snapshots(pages, 3)
    html = pages.get("/turbines/WT-F01").text
    assert "baseline: v1, 1399-1539 rpm learning 3/20" in html and 'data-kind="anomaly"' in html
    assert 'action="/turbines/WT-F01/sensors/gearbox_hss/baseline/fit"' in html


def test_mark_healthy_and_reset_forms(pages):
    _post_snapshots(pages, 6)
    url = "/turbines/WT-F01/sensors/gearbox_hss/baseline"
    path, q = _redirect(pages.post(url + "/fit", data={"start": "2026-11-01T00:00",
                                                       "end": "2026-11-01T06:00"}))
    assert path == "/turbines/WT-F01" and "baseline v2 fitted from 6 snapshots" in q["msg"]
    assert "(1399-1539 rpm)" in q["msg"]  # the batches' 1500 rpm: one speed class
    assert "baseline: v2, 1399-1539 rpm ready" in pages.get(path, params=q).text
    path, q = _redirect(pages.post(url + "/fit", data={"start": "2026-11-01T06:00",
                                                       "end": "2026-11-01T00:00"}))
    assert "must be before" in q["error"]
    path, q = _redirect(pages.post(url + "/fit", data={"start": "2026-11-01T00:00"}))
    assert "fill in end" in q["error"]
    path, q = _redirect(pages.post(url + "/reset"))
    assert "v3 learns from the next 20" in q["msg"]
    assert "baseline: learning 0/20" in pages.get(path).text
    path, q = _redirect(pages.post("/turbines/WT-F01/sensors/nope/baseline/reset"))
    assert "no sensor 'nope'" in q["error"]
