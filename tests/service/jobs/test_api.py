"""The jobs API: start (validated), list and filter, get with events, cancel, the admin scope;
and the runner's rules: one job of a kind at a time, transitions recorded, orphans failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from service.db import utcnow
from service.jobs.runner import claim_next, fail_orphans, run_job
from service.jobs.tables import Job
from tests.conftest import auth_header

pytestmark = pytest.mark.usefixtures("stub_kinds")


def _start(client, kind="stub", **params):
    r = client.post("/api/v1/jobs", json={"kind": kind, "params": params})
    assert r.status_code == 201, r.text
    return r.json()


def _run_next(session_factory, settings, holder="test-holder") -> str | None:
    job = claim_next(session_factory=session_factory, holder=holder)
    if job is None:
        return None
    return run_job(job, settings=settings, session_factory=session_factory, holder=holder,
                   heartbeat_s=3600)


def test_start_list_get_and_the_recorded_transitions(client, session_factory, settings):
    job = _start(client, steps=2)
    assert job["state"] == "queued" and job["source"] == "api"
    assert job["started_by"].startswith("key:")
    assert [e["action"] for e in job["events"]] == ["queued"]
    page = client.get("/api/v1/jobs", params={"kind": "stub", "state": "queued"}).json()
    assert job["id"] in [j["id"] for j in page["items"]]
    assert all(j["kind"] == "stub" and j["state"] == "queued" for j in page["items"])
    assert _run_next(session_factory, settings) == "succeeded"
    done = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert done["state"] == "succeeded" and done["progress"] == 1.0
    assert done["result"] == {"steps": 2} and "step 2" in done["log_tail"]
    assert done["duration_s"] is not None and done["holder"] == "test-holder"
    assert [(e["action"], e["from_state"], e["to_state"]) for e in done["events"]] == [
        ("queued", None, "queued"), ("started", "queued", "running"),
        ("succeeded", "running", "succeeded")]


def test_failed_and_skipped_jobs_record_why(client, session_factory, settings):
    failed = _start(client, mode="fail")
    assert _run_next(session_factory, settings) == "failed"
    skipped = _start(client, mode="skip")
    assert _run_next(session_factory, settings) == "succeeded"
    f = client.get(f"/api/v1/jobs/{failed['id']}").json()
    assert f["error"] == "RuntimeError: the stub failed as asked"
    assert "Traceback" in f["log_tail"] and f["events"][-1]["action"] == "failed"
    s = client.get(f"/api/v1/jobs/{skipped['id']}").json()
    assert s["state"] == "succeeded" and s["result"] == {"skipped": "nothing to do"}


@pytest.mark.parametrize("body, needle", [
    ({"kind": "no-such-kind"}, "unknown job kind 'no-such-kind'"),
    ({"kind": "stub", "params": {"steps": 0}}, "steps"),
    ({"kind": "stub", "params": {"bogus": 1}}, "bogus"),
    ({"kind": "refresh-baselines", "params": {"snapshots": "many"}}, "snapshots"),
    ({"kind": "refresh-baselines", "params": {"turbine": "WT\u0000"}}, "control character"),
])
def test_unknown_kind_or_bad_params_are_422_naming_the_problem(client, body, needle):
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 422 and needle in r.json()["detail"], r.text


def test_a_kind_whose_module_is_missing_is_not_available(client, monkeypatch):
    from service.jobs.kinds import KINDS

    monkeypatch.setitem(KINDS, "ghost", "service.jobs.kinds.ghost_kind_never_written")
    r = client.post("/api/v1/jobs", json={"kind": "ghost"})
    assert r.status_code == 422 and "not available" in r.json()["detail"]


def test_bad_filters_and_ids_are_422_and_unknown_ids_404(client):
    assert client.get("/api/v1/jobs", params={"state": "sleeping"}).status_code == 422
    assert client.get("/api/v1/jobs", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/jobs/0").status_code == 422
    assert client.get("/api/v1/jobs/2147483647").status_code == 404
    assert client.post("/api/v1/jobs/2147483647/cancel").status_code == 404


def test_cancel_queued_at_once_and_finished_is_409(client, session_factory, settings):
    queued = _start(client)
    r = client.post(f"/api/v1/jobs/{queued['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert r.json()["events"][-1]["action"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{queued['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    done = _start(client)
    assert _run_next(session_factory, settings) == "succeeded"
    r = client.post(f"/api/v1/jobs/{done['id']}/cancel")
    assert r.status_code == 409 and "already succeeded" in r.json()["detail"]


def test_cancel_running_stops_it_at_its_next_progress_report(client, session_factory, settings):
    job = _start(client, mode="loop")
    claimed = claim_next(session_factory=session_factory, holder="h")
    assert claimed is not None and claimed.id == job["id"]
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "running"
    assert r.json()["cancel_requested"] and r.json()["events"][-1]["action"] == "cancel_requested"
    assert run_job(claimed, settings=settings, session_factory=session_factory, holder="h",
                   heartbeat_s=3600) == "cancelled"
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "cancelled"


def test_a_second_retrain_stays_queued_while_the_first_runs(client, session_factory, settings):
    first, second = _start(client, "retrain"), _start(client, "retrain")
    other = _start(client, "stub")
    claimed = claim_next(session_factory=session_factory, holder="h")
    assert claimed is not None and claimed.id == first["id"]
    # The next claim skips the queued retrain (one of its kind runs) and takes the other kind.
    nxt = claim_next(session_factory=session_factory, holder="h")
    assert nxt is not None and nxt.id == other["id"]
    assert claim_next(session_factory=session_factory, holder="h") is None
    assert client.get(f"/api/v1/jobs/{second['id']}").json()["state"] == "queued"
    run_job(claimed, settings=settings, session_factory=session_factory, holder="h",
            heartbeat_s=3600)
    after = claim_next(session_factory=session_factory, holder="h")
    assert after is not None and after.id == second["id"]


def test_the_database_refuses_two_running_jobs_of_one_kind(client, session_factory):
    a, b = _start(client, "retrain"), _start(client, "retrain")
    with session_factory() as s:
        s.execute(update(Job).where(Job.id == a["id"]).values(state="running"))
        with pytest.raises(IntegrityError):
            s.execute(update(Job).where(Job.id == b["id"]).values(state="running"))
        s.rollback()


def test_a_job_left_running_by_a_dead_holder_is_failed_with_a_clear_error(client, session_factory,
                                                                        settings):
    job = _start(client)
    claimed = claim_next(session_factory=session_factory, holder="dead-host:1234:abcd")
    assert claimed is not None
    with session_factory() as s:
        s.execute(update(Job).where(Job.id == job["id"])
                  .values(heartbeat_at=utcnow() - timedelta(minutes=10)))
        s.commit()
    fresh = _start(client, "refresh-baselines")  # a live one is left alone
    live = claim_next(session_factory=session_factory, holder="alive")
    assert live is not None and live.id == fresh["id"]
    assert fail_orphans(session_factory=session_factory, stale_after_s=120,
                        actor="scheduler:new") == [job["id"]]
    got = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert got["state"] == "failed" and "orphaned" in got["error"]
    assert "dead-host:1234:abcd" in got["error"] and got["finished_at"] is not None
    assert got["events"][-1]["action"] == "orphaned"
    assert client.get(f"/api/v1/jobs/{fresh['id']}").json()["state"] == "running"
    # The dead holder's late finish changes nothing.
    run_job(claimed, settings=settings, session_factory=session_factory,
            holder="dead-host:1234:abcd", heartbeat_s=3600)
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "failed"


def test_starting_and_cancelling_need_the_admin_scope(app, client, session_factory):
    from service.auth.service import create_key

    with session_factory() as s:
        _, reader = create_key(session=s, name="jobs-reader", scopes=["read"], created_by="t")
        s.commit()
    job = _start(client)
    with TestClient(app, headers=auth_header(reader)) as ro:
        assert ro.get("/api/v1/jobs").status_code == 200
        assert ro.get(f"/api/v1/jobs/{job['id']}").status_code == 200
        r = ro.post("/api/v1/jobs", json={"kind": "stub"})
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        assert ro.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 403
    with TestClient(app) as anon:
        assert anon.get("/api/v1/jobs").status_code == 401
