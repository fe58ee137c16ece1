"""``windwatch jobs ...`` through Typer's runner, on a database of their own (the CLI commits:
no other test's runner may claim these jobs, nor these tests another's)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.db import make_engine, session_factory
from service.jobs.runner import claim_next, run_job
from tests.conftest import migrated_url


@pytest.fixture
def db(backend, tmp_path, monkeypatch):
    """A fresh migrated database that ``windwatch`` is pointed at; its Settings."""
    from service.settings import Settings, get_settings

    url = migrated_url(backend, tmp_path, "cli_jobs")
    monkeypatch.setenv("WINDWATCH_DATABASE_URL", url)
    monkeypatch.setenv("WINDWATCH_DATA_ROOT", str(tmp_path))
    get_settings.cache_clear()
    yield Settings(_env_file=None, database_url=url, data_root=tmp_path)
    get_settings.cache_clear()


@pytest.fixture
def run(db):
    return lambda *args: CliRunner().invoke(app, list(args))


@pytest.fixture
def real_sf(db):
    engine = make_engine(db.database_url)
    yield session_factory(engine)
    engine.dispose()


def _queued_id(output: str) -> int:
    match = re.search(r"job (\d+) \(", output)
    assert match, output
    return int(match.group(1))


def test_start_show_list_cancel(run):
    r = run("jobs", "start", "refresh-baselines", "--params", '{"turbine": "WT-CLI-NONE"}')
    assert r.exit_code == 0, r.output
    job_id = _queued_id(r.output)
    shown = json.loads(run("jobs", "show", str(job_id)).output)
    assert (shown["state"], shown["started_by"], shown["source"]) == ("queued", "cli", "cli")
    assert shown["events"][0]["actor"] == "cli"
    listed = run("jobs", "list", "--kind", "refresh-baselines", "--state", "queued")
    assert listed.exit_code == 0 and f"{job_id:>5}  queued" in listed.output
    r = run("jobs", "cancel", str(job_id))
    assert r.exit_code == 0 and f"job {job_id} cancelled" in r.output
    r = run("jobs", "cancel", str(job_id))
    assert r.exit_code == 1 and "already cancelled" in r.output


def test_bad_kind_params_and_json_are_errors(run):
    for args, needle in ((("nope",), "unknown job kind"),
                         (("evaluate", "--params", "{}"), "model_version_id"),
                         (("evaluate", "--params", "{not json"), "not JSON")):
        r = run("jobs", "start", *args)
        assert r.exit_code == 1 and "error:" in r.output and needle in r.output, r.output
    r = run("jobs", "show", "999999")
    assert r.exit_code == 1 and "not found" in r.output


def test_watch_follows_a_job_to_its_end(run, db, real_sf):
    r = run("jobs", "start", "refresh-baselines", "--params", '{"turbine": "WT-CLI-NONE"}')
    job_id = _queued_id(r.output)
    job = claim_next(session_factory=real_sf, holder="cli-test")
    assert job is not None and job.id == job_id
    run_job(job, settings=db, session_factory=real_sf, holder="cli-test", heartbeat_s=3600)
    r = run("jobs", "watch", str(job_id), "--interval", "0.1", "--timeout", "10")
    assert r.exit_code == 0, r.output
    assert f"job {job_id} succeeded" in r.output and "100.0%" in r.output
