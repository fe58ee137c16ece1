"""Drift and evaluations on the dashboard: each sensor's latest drift-check verdict on the turbine
page (from a real drift-check job), the fleet's drift line and each version's recorded
evaluations on the models page; text escaped, no inline script or style."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from pipelines.baselines import model
from service.baselines.tables import READY, SensorBaseline
from service.jobs.runner import claim_next, run_job
from service.tables import ModelVersion, Sensor
from tests.service.jobs.conftest import features, new_sensor, store

ODD = "<b>kurt</b>"  # a feature name that must come out escaped


def _drift_check(client, session_factory, settings, turbines: list[str]) -> int:
    """Queue a drift-check over the API and run it here, as the scheduler would."""
    r = client.post("/api/v1/jobs", json={"kind": "drift-check", "params": {
        "turbines": turbines, "propose_retrain": False}})
    assert r.status_code == 201, r.text
    job = claim_next(session_factory=session_factory, holder="t")
    assert job is not None and job.id == r.json()["id"]
    run_job(job, settings=settings, session_factory=session_factory, holder="t",
            heartbeat_s=3600)
    assert client.get(f"/api/v1/jobs/{job.id}").json()["state"] == "succeeded"
    return job.id


def _odd(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{(ODD if k == "kurtosis" else k): v for k, v in f.items()} for f in rows]


def _baseline(session, sensor: Sensor, samples: list[dict[str, float]]) -> None:
    fitted = model.fit(samples)
    median, scale = fitted.as_dicts()
    session.add(SensorBaseline(sensor_id=sensor.id, version=1, state=READY, source="first_n",
                               n_required=len(samples), samples=samples,
                               feature_names=list(fitted.names), median=median, scale=scale,
                               n_fitted=fitted.n, threshold=3.6))
    session.flush()


def _section(html: str, sensor: str) -> str:
    return re.search(rf'<section class="panel sensor" data-sensor="{sensor}">.*?</section>',
                     html, re.S).group(0)


def _clean(html: str) -> None:
    # The page is served under script-src 'self'; style-src 'self'.
    assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", html)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"


def test_turbine_page_shows_each_sensors_latest_drift_check(client, session, session_factory,
                                                            settings):
    moved = new_sensor(session, "WT-DASH1")
    bare = Sensor(turbine_id=moved.turbine_id, name="main_bearing")
    session.add(bare)
    session.flush()
    _baseline(session, moved, _odd(features(40, seed=11)))
    store(session, moved, _odd(features(50, shift=2.5, seed=12)))
    store(session, bare, features(30, seed=13))  # neither baseline nor model reference
    new_sensor(session, "WT-DASH2")
    session.commit()
    first = _drift_check(client, session_factory, settings, ["WT-DASH1"])
    # A later check of another turbine only: WT-DASH1's verdicts still come from the first.
    _drift_check(client, session_factory, settings, ["WT-DASH2"])

    html = client.get("/turbines/WT-DASH1").text
    _clean(html)
    hss = _section(html, "gearbox_hss")
    assert 'data-drift="drifted"' in hss and ">yes</span>" in hss
    assert "reference baseline:v1 (40 snapshots)" in hss and "against 50 recent" in hss
    assert "(threshold 0.25)" in hss and "PSI score" in hss
    assert f'href="/jobs/{first}">job #{first}</a>' in hss
    assert "Top drifting features:" in hss and "PSI " in hss
    assert "&lt;b&gt;kurt&lt;/b&gt;" in hss and ODD not in html
    main = _section(html, "main_bearing")
    assert 'data-drift="no_reference"' in main and "reference no reference" in main
    assert "no verdict (no reference)" in main and "no fitted baseline" in main

    other = client.get("/turbines/WT-DASH2").text  # checked by the second job
    assert 'data-drift="no_reference"' in other and "no drift check yet" not in other


def test_turbine_page_says_when_no_drift_check_ran(client, session):
    new_sensor(session, "WT-DASH3")
    session.commit()
    html = client.get("/turbines/WT-DASH3").text
    assert 'data-drift="none"' in html and "no drift check yet" in html
    _clean(html)


def _card(html: str, version_id: int) -> str:
    return re.search(rf'<article class="card model" id="model-{version_id}".*?</article>',
                     html, re.S).group(0)


def test_models_page_shows_evaluations_and_the_fleet_drift_line(client, session,
                                                                session_factory, settings):
    html = client.get("/models").text
    assert "<b>Fleet drift:</b>\n no drift check yet." in html

    version = session.scalar(select(ModelVersion).order_by(ModelVersion.id))
    suites = {"cwru": {"macro_f1": 0.91234, "accuracy": 0.95, "n_windows": 120,
                       "recordings_seen_in_training": 4, "n_recordings": 4},
              "<script>x</script>": {"macro_f1": 0.5, "accuracy": 0.6, "n_windows": 10,
                                     "recordings_seen_in_training": 0, "n_recordings": 2}}
    version.metrics = {**(version.metrics or {}), "evaluations": [
        "not a summary",  # malformed entries are skipped, not fatal
        {"job_id": 7, "at": "2026-11-02T08:30:00+00:00", "quick": True, "suites": suites}]}
    flag_modified(version, "metrics")
    steady, moved = new_sensor(session, "WT-DASH4"), new_sensor(session, "WT-DASH5")
    for s, shift in ((steady, 0.0), (moved, 2.5)):
        _baseline(session, s, features(40, seed=20 + s.id))
        store(session, s, features(50, shift=shift, seed=30 + s.id))
    session.commit()
    job = _drift_check(client, session_factory, settings, ["WT-DASH4", "WT-DASH5"])

    html = client.get("/models").text
    _clean(html)
    line = re.search(r'<p class="fleet-drift".*?</p>', html, re.S).group(0)
    assert 'data-drifted="1"' in line and "1 of 2 sensors with a verdict drifted" in line
    assert f'href="/jobs/{job}"' in line and 'href="/jobs"' in line
    card = _card(html, version.id)
    table = re.search(r'<table class="evaluations".*?</table>', card, re.S).group(0)
    assert "cwru <small>(quick)</small>" in table and "0.912" in table and "0.950" in table
    assert "2026-11-02 08:30" in table and 'href="/jobs/7">#7</a>' in table
    assert "4 (4)" in table and "2 (0)" in table
    assert "&lt;script&gt;x&lt;/script&gt;" in table and "<script>x" not in html
