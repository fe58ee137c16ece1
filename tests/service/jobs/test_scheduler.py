"""The scheduler without its timers: schedules from the settings, queueing a scheduled job once,
polling queued jobs into its workers, and stopping with its own running jobs failed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from service.db import make_engine, session_factory
from service.jobs import lease
from service.jobs import service as jobs
from service.jobs.scheduler import Scheduler, schedules
from service.jobs.tables import Job
from service.settings import Settings
from tests.conftest import migrated_url


@pytest.fixture
def sched(backend, tmp_path, stub_kinds):
    url = migrated_url(backend, tmp_path, "sched")
    engine = make_engine(url)
    settings = Settings(_env_file=None, database_url=url, data_root=tmp_path, job_workers=2,
                        scheduler_lease_s=5)
    s = Scheduler(settings, session_factory(engine), holder="me")
    yield s
    s._pool.shutdown(wait=True)
    engine.dispose()


def _wait(sf, job_id, states=("succeeded", "failed", "cancelled"), timeout=20.0) -> Job:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with sf() as s:
            job = s.get(Job, job_id)
            if job is not None and job.state in states:
                return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {states}")


def test_schedules_come_from_the_settings_and_empty_disables():
    s = Settings(_env_file=None, schedule_drift="")
    rows = {r["name"]: r for r in schedules(s, now=datetime(2026, 12, 2, 10, 30, tzinfo=UTC))}
    assert rows["retrain-weekly"]["cron"] == "0 3 * * 0"
    assert rows["retrain-weekly"]["next_run"] == datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # Sunday
    assert rows["baselines-nightly"]["next_run"] == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert rows["drift-hourly"]["cron"] is None and rows["drift-hourly"]["next_run"] is None
    with pytest.raises(ValidationError, match="schedule_retrain"):
        Settings(_env_file=None, schedule_retrain="every sunday")


def test_only_the_lease_holder_queues_and_runs(sched):
    sf = sched.session_factory
    assert lease.acquire(session_factory=sf, holder="someone-else", ttl_s=60)
    assert not sched.renew()
    assert sched.enqueue("retrain-weekly", "retrain") is None
    lease.release(session_factory=sf, holder="someone-else")
    assert sched.renew()
    first = sched.enqueue("retrain-weekly", "retrain")
    assert first is not None
    assert sched.enqueue("retrain-weekly", "retrain") is None  # one is already queued
    with sf() as s:
        job = s.get(Job, first)
        assert (job.source, job.started_by, job.state) == ("schedule", "schedule:retrain-weekly",
                                                           "queued")
    assert sched.poll() == [first]
    assert _wait(sf, first).state == "succeeded"


def test_poll_runs_one_job_per_kind_and_stop_fails_its_running_jobs(sched):
    sf = sched.session_factory
    assert sched.renew()
    with sf() as s:
        a = jobs.start(session=s, kind="stub", params={"mode": "loop"}, started_by="t",
                       source="api").id
        b = jobs.start(session=s, kind="stub", params={}, started_by="t", source="api").id
        c = jobs.start(session=s, kind="retrain", params={}, started_by="t", source="api").id
        s.commit()
    assert sched.poll() == [a, c]  # b waits: a stub is running
    assert _wait(sf, c).state == "succeeded"
    with sf() as s:
        assert s.get(Job, b).state == "queued"
    sched.stop()
    with sf() as s:
        job = s.get(Job, a)
        assert job.state == "failed" and "stopped while the job ran" in job.error
    assert lease.current_holder(session_factory=sf) is None  # released for a successor
