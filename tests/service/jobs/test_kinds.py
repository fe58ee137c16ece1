"""The kinds written here, on stored snapshots: refresh-baselines (healthy snapshots only),
drift-check (PSI against the baseline, the retrain proposal, the API view) and evaluate (a real
model version on real recordings, quick)."""

from __future__ import annotations

import numpy as np

from pipelines.baselines import model
from service.baselines.tables import READY, SensorBaseline
from service.jobs import drift
from service.jobs.runner import claim_next, run_job
from service.tables import Alarm
from tests.service.jobs.conftest import features, new_sensor, store


def _run(client, session_factory, settings, kind, **params) -> dict:
    r = client.post("/api/v1/jobs", json={"kind": kind, "params": params})
    assert r.status_code == 201, r.text
    job = claim_next(session_factory=session_factory, holder="t")
    assert job is not None and job.id == r.json()["id"]
    run_job(job, settings=settings, session_factory=session_factory, holder="t",
            heartbeat_s=3600)
    return client.get(f"/api/v1/jobs/{job.id}").json()


def _ready_baseline(session, sensor, samples, speed_bin: int = -1) -> SensorBaseline:
    fitted = model.fit(samples)
    median, scale = fitted.as_dicts()
    row = SensorBaseline(sensor_id=sensor.id, version=1, speed_bin=speed_bin, state=READY,
                         source="first_n",
                         n_required=len(samples), samples=samples,
                         feature_names=list(fitted.names), median=median, scale=scale,
                         n_fitted=fitted.n, threshold=3.6)
    session.add(row)
    session.flush()
    return row


def _alarm(session, sensor, first, last, state="open", outcome=None):
    session.add(Alarm(turbine_id=sensor.turbine_id, sensor_id=sensor.id, kind="anomaly",
                      code="baseline", component="bearing", state=state, severity="minor",
                      active=True if state != "closed" else None, threshold=3.6,
                      first_recorded_at=first, last_recorded_at=last, outcome=outcome))
    session.flush()


def test_refresh_baselines_refits_from_uncovered_snapshots_only(client, session, session_factory,
                                                                settings):
    s = new_sensor(session, "WT-RB1")
    _ready_baseline(session, s, features(20, seed=1))
    preds = store(session, s, features(12, shift=0.0, seed=2) + features(8, shift=5.0, seed=3))
    # The 8 shifted snapshots are covered: 4 by a confirmed fault, 4 by an open alarm.
    _alarm(session, s, preds[12].recorded_at, preds[15].recorded_at, "closed", "confirmed")
    _alarm(session, s, preds[16].recorded_at, preds[19].recorded_at, "open")
    # A false alarm covers nothing.
    _alarm(session, s, preds[0].recorded_at, preds[1].recorded_at, "closed", "false_alarm")
    session.commit()
    job = _run(client, session_factory, settings, "refresh-baselines", turbine="WT-RB1",
               snapshots=10)
    assert job["state"] == "succeeded", job
    assert job["result"]["refitted"] == [{"turbine": "WT-RB1", "sensor": "gearbox_hss",
                                          "version": 2, "previous": 1, "n": 10}]
    base = client.get("/api/v1/turbines/WT-RB1/sensors/gearbox_hss/baseline").json()
    assert base["version"] == 2 and base["source"] == "refreshed"
    medians = np.array(list(base["median"].values()))
    assert np.all(np.abs(medians) < 1.5)  # fitted on the healthy N(0, 1) snapshots only


def test_refresh_baselines_skips_sensors_without_enough_healthy_snapshots(client, session,
                                                                          session_factory, settings):
    s = new_sensor(session, "WT-RB2")
    _ready_baseline(session, s, features(20, seed=1))
    store(session, s, features(6, seed=4))
    session.commit()
    job = _run(client, session_factory, settings, "refresh-baselines", turbine="WT-RB2",
               snapshots=10)
    assert job["result"]["refitted"] == []
    assert "6 recent snapshots" in job["result"]["skipped"][0]["reason"]
    nothing = _run(client, session_factory, settings, "refresh-baselines", turbine="WT-NONE")
    assert nothing["result"] == {"skipped": "no sensors of turbine WT-NONE to refresh"}


def test_drift_check_psi_against_the_baseline_and_the_retrain_proposal(
        client, session, session_factory, settings, stub_kinds):
    steady, moved, bare = (new_sensor(session, n) for n in ("WT-DR1", "WT-DR2", "WT-DR3"))
    for s, shift in ((steady, 0.0), (moved, 2.5)):
        _ready_baseline(session, s, features(40, seed=10 + s.id))
        store(session, s, features(50, shift=shift, seed=20 + s.id))
    store(session, bare, features(30, seed=7))  # no baseline, no model reference
    session.commit()
    job = _run(client, session_factory, settings, "drift-check",
               turbines=["WT-DR1", "WT-DR2", "WT-DR3"])
    r = job["result"]
    by = {x["turbine"]: x for x in r["sensors"]}
    assert by["WT-DR1"]["status"] == "ok" and by["WT-DR1"]["score"] < settings.drift_threshold
    assert by["WT-DR2"]["status"] == "drifted" and by["WT-DR2"]["score"] > 1.0
    assert by["WT-DR2"]["reference"] == "baseline:v1" and by["WT-DR2"]["n_reference"] == 40
    assert by["WT-DR3"]["status"] == "no_reference" and by["WT-DR3"]["score"] is None
    assert "no fitted baseline" in by["WT-DR3"]["reason"]
    assert r["checked"] == 2 and r["drifted"] == 1 and r["drifted_share"] == 0.5
    assert r["retrain_job_id"] is None  # 1 of 2 is not more than the 0.5 share
    api = client.get("/api/v1/drift", params={"turbine": "WT-DR2"}).json()
    assert api["job_id"] == job["id"] and [s["status"] for s in api["sensors"]] == ["drifted"]
    assert "PSI" in api["statistic"]

    _run(client, session_factory, settings, "drift-check", turbines=["WT-DR2"])
    proposal = client.get("/api/v1/drift").json()
    assert proposal["drifted_share"] == 1.0 and proposal["retrain_job_id"] is not None
    retrain = client.get(f"/api/v1/jobs/{proposal['retrain_job_id']}").json()
    assert (retrain["kind"], retrain["state"], retrain["source"], retrain["started_by"]) == (
        "retrain", "queued", "schedule", "drift")


def test_drift_reference_pools_the_fitted_speed_classes(client, session, session_factory,
                                                        settings, stub_kinds):
    """A turbine's recent snapshots span its speeds: the reference is every fitted class of the
    newest version (a class still learning adds nothing)."""
    s = new_sensor(session, "WT-DR4")
    slow, fast = features(20, shift=-1.0, seed=1), features(20, shift=1.0, seed=2)
    _ready_baseline(session, s, slow, speed_bin=72)
    _ready_baseline(session, s, fast, speed_bin=76)
    session.add(SensorBaseline(sensor_id=s.id, version=1, speed_bin=74, n_required=20,
                               samples=features(3, seed=3), threshold=3.6))
    store(session, s, features(25, shift=-1.0, seed=4) + features(25, shift=1.0, seed=5))
    session.commit()
    job = _run(client, session_factory, settings, "drift-check", turbines=["WT-DR4"])
    (r,) = job["result"]["sensors"]
    assert r["reference"] == "baseline:v1 (2 speed classes)" and r["n_reference"] == 40
    assert r["status"] == "ok", r


def test_drift_noise_floor_keeps_two_samples_of_one_distribution_quiet():
    rng = np.random.default_rng(0)
    scores = []
    for _ in range(50):
        ref = {f"f{i}": list(rng.normal(0, 1, 20)) for i in range(8)}
        new = [{f"f{i}": float(v) for i, v in enumerate(rng.normal(0, 1, 8))} for _ in range(50)]
        scores.append(drift.compare(ref, new, 20)["score"])
    assert np.mean(np.array(scores) > 0.25) < 0.05  # raw PSI would exceed 0.25 most of the time


def test_evaluate_quick_scores_a_registered_version_and_attaches_the_report(
        client, session_factory, settings):
    models = client.get("/api/v1/models").json()
    version = next(m for m in models if m["architecture"] == "family1d")
    job = _run(client, session_factory, settings, "evaluate", model_version_id=version["id"],
               quick=True)
    assert job["state"] == "succeeded", job["error"]
    suites = job["result"]["suites"]
    assert set(suites) == {"cwru", "uestc"}
    for suite in suites.values():
        assert suite["n_recordings"] == 4 and 0.0 <= suite["macro_f1"] <= 1.0
        assert suite["recordings_seen_in_training"] == 4  # the bundled model saw every one
    attached = client.get(f"/api/v1/models/{version['id']}").json()["metrics"]["evaluations"]
    assert attached[-1]["job_id"] == job["id"] and attached[-1]["quick"] is True


def test_evaluate_an_unknown_version_fails_the_job_clearly(client, session_factory, settings):
    job = _run(client, session_factory, settings, "evaluate", model_version_id=2147483647)
    assert job["state"] == "failed" and "model version 2147483647 not found" in job["error"]
