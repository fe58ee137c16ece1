"""The loop on real data: a CWRU-only production model of the earlier design (its normal/fault
boundary learnt, on CWRU) gets UESTC machines wrong; the operators close the alarms with the
right fault type through the API; a ``retrain`` job learns from those labels (with today's fixed
comb detection), passes the promotion policy and goes to production; on held-out UESTC
recordings (the 1400 rpm runs, never posted) the new production model is better than the old.

(A champion with today's head already calls UESTC's healthy runs normal, and no feedback can
teach it a fault that shows no comb, so it leaves this loop nothing to fix: the policy then
correctly keeps it.)"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import torch
from sqlalchemy import select

from models.checkpoint import load_checkpoint, save_checkpoint
from models.family_head import LEGACY_EVIDENCE_BOUND, LEGACY_GATE_Z
from pipelines.evaluation import champion as suite
from pipelines.evaluation.transfer import uestc_speed_rpm
from pipelines.features.spec import DEFECT_ORDER_SPEC
from pipelines.learning.datasets import CLASSES, UESTC_BEARING, load_cwru, load_uestc
from pipelines.learning.family_training import family_dataset, fit_family
from service.alarms import rules
from service.batches.storage import RawStore
from service.jobs.kinds import retrain
from service.registry import service as registry
from service.registry.runtime import ModelRuntime
from service.registry.tables import ModelVersion
from service.tables import Batch
from tests.conftest import DATASETS
from tests.service.bodies import ARROW, arrow_body, meta
from tests.service.jobs.support import job_context

pytestmark = pytest.mark.slow
STEPS = 500
SNAPSHOT_S, PER_TURBINE = 2.0, 6
FLEET_RPM = (800, 1000, 1200)
TEST_RPM = 1400
T0 = datetime(2026, 9, 1, tzinfo=UTC)
# The earlier design read the combs at the given rpm only: with the defect-comb speed search the
# CWRU-only champion names the fleet hold-out's faults too, and leaves the loop nothing to fix.
EARLIER_SPEC = dataclasses.replace(DEFECT_ORDER_SPEC, speed_search=0.0)


@pytest.fixture(autouse=True)
def one_thread():
    """Training on one thread: the same models whatever else ran in this process."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cwru_champion(settings, session_factory, tmp_path) -> int:
    """A family1d of the earlier design (learnt normal/fault boundary, gate at 1.5 units,
    learnt evidence bounded at 1.5 logits, combs read at the given rpm only)
    trained on CWRU only (few steps), registered and promoted."""
    model = fit_family(family_dataset(load_cwru(DATASETS), spec=EARLIER_SPEC), steps=STEPS,
                       config={"fixed_detection": False, "gate_z": LEGACY_GATE_Z,
                               "evidence_bound": LEGACY_EVIDENCE_BOUND})
    stem = tmp_path / "family1d-cwru-only"
    save_checkpoint(model, {"classes": CLASSES, "input_spec": EARLIER_SPEC.to_dict(),
                            "training_data": {"datasets": ["cwru"]}}, stem)
    with session_factory() as s:
        v = registry.register_checkpoint(session=s, settings=settings,
                                         json_path=stem.with_name(stem.name + ".json"))
        ModelRuntime(settings).promote(session=s, version_id=v.id, by="test", reason="CWRU only")
        s.commit()
        return v.id


def _post_fleet(client, recordings) -> dict[str, str]:
    """One turbine per (speed, class) of the fleet runs, each with the UESTC bearing registered
    and PER_TURBINE snapshots of its recording; returns turbine -> true class."""
    truth = {}
    for k, rec in enumerate(recordings):
        name = f"UE-{rec.run_id}"
        truth[name] = str(rec.label)
        assert client.put(f"/api/v1/turbines/{name}", json={"site": "uestc"}).status_code in (200, 201)
        r = client.put(f"/api/v1/turbines/{name}/sensors/bearing/geometry",
                       json={"bearing": UESTC_BEARING})
        assert r.status_code in (200, 201), r.text
        n = int(SNAPSHOT_S * rec.fs_hz)
        for i in range(PER_TURBINE):
            x = rec.signal[None, i * n:(i + 1) * n]
            at = (T0 + timedelta(hours=k, minutes=10 * i)).isoformat().replace("+00:00", "Z")
            r = client.post(f"/api/v1/turbines/{name}/batches", content=arrow_body(
                x, meta(at, sensor="bearing", fs_hz=rec.fs_hz, rpm=rec.rpm), ["ch0"]),
                headers={"Content-Type": ARROW})
            assert r.status_code == 201, r.text
    return truth


def _close_alarms(client, truth: dict[str, str]) -> int:
    """Close every open alarm of the fleet with the right fault type (or as a false alarm)."""
    closed = 0
    for name, label in truth.items():
        for alarm in client.get("/api/v1/alarms", params={"turbine": name}).json()["items"]:
            body = ({"outcome": "false_alarm"} if label == "normal"
                    else {"outcome": "confirmed", "fault_type": label})
            r = client.post(f"/api/v1/alarms/{alarm['id']}/close",
                            json={"by": "service-team", "comment": "site visit", **body})
            assert r.status_code == 200, r.text
            closed += 1
    return closed


def _macro_f1(settings, session_factory, version_id: int, held) -> float:
    with session_factory() as s:
        v = s.get(ModelVersion, version_id)
        clf = load_checkpoint(settings.data_root / v.artifact_path)
    snaps = [x for r in held for x in suite.segments(r, per_recording=4)]
    return suite.score_suite(clf, suite.SuiteInputs(snaps))["macro_f1"]


def test_feedback_retrain_promote_loop_on_uestc(app, client, settings, session_factory,
                                                cwru_champion, monkeypatch):
    # A sensitive fleet alarm policy (p > 0.5 in 2 of the last 3): wrong verdicts that the
    # default 3-of-5 at 0.7 lets pass also reach the service team, and come back labelled.
    monkeypatch.setattr(rules, "DEFAULT_POLICY", rules.AlarmPolicy(threshold=0.5, n=2, m=3))
    app.state.store = RawStore(settings.data_root)  # where the retrain reads raw files, as served
    uestc = load_uestc(DATASETS)
    fleet = [r for r in uestc if uestc_speed_rpm(r) in FLEET_RPM and r.recording_id.endswith("_1")]
    held = [r for r in uestc if uestc_speed_rpm(r) == TEST_RPM]
    truth = _post_fleet(client, fleet)
    assert _close_alarms(client, truth) > 0
    with session_factory() as s:
        labels = s.execute(select(Batch.label, Batch.label_source).where(
            Batch.label_source.like("alarm:%"))).all()
    assert {lab for lab, _ in labels} - {"normal"}, "no fault was confirmed"

    old_f1 = _macro_f1(settings, session_factory, cwru_champion, held)
    p = {"datasets": ["cwru"], "steps": STEPS, "architectures": ["family1d"]}
    # The challenger's fixed comb detection calls CWRU's comb-less faults normal, which the
    # old champion's CWRU-learnt boundary named: on the (seen) CWRU suite at 0 dB it loses about
    # 0.2 macro-F1 by design, so this test's policy allows 0.25 there; the fleet hold-out must
    # still improve. The policy's own edges: test_retrain_policy.py.
    settings = settings.model_copy(update={"retrain_max_drop_f1": 0.25})
    out = retrain.run(job_context(settings, session_factory, "retrain", p),
                      retrain.Params.model_validate(p))
    (challenger,) = out["challengers"]
    assert challenger["promoted"], (challenger["reasons"], challenger["comparison"])
    with session_factory() as s:
        prod = registry.production(session=s)
        assert prod.id == challenger["model_version_id"] == out["promoted"]
        td = prod.training_data
        assert td["fleet"]["per_class"] and td["fleet_fingerprint"] and td["fingerprint"]
        assert [c["dataset"] for c in td["catalogue"]] == ["cwru_12k_drive_end_dev"]
        assert not set(td["fleet"]["turbines"]) & set(td["fleet_holdout"]["turbines"])
        assert prod.metrics["comparison"]["promote"] is True
    new_f1 = _macro_f1(settings, session_factory, prod.id, held)
    print(f"held-out UESTC 1400 rpm macro-F1: CWRU-only {old_f1:.3f} -> retrained {new_f1:.3f}")
    assert new_f1 > old_f1 + 0.05, (old_f1, new_f1)

    again = job_context(settings, session_factory, "retrain", p)
    with pytest.raises(retrain.JobSkipped, match="no new labels"):
        retrain.run(again, retrain.Params.model_validate(p))
