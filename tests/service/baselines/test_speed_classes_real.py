"""Real data: the UESTC rig's healthy runs at 800, 1000, 1200 and 1400 rpm posted through the
API to one sensor, in that order, as 1-s snapshots with their rpm (as a variable-speed turbine
sends them). Each speed class learns its own baseline, so a healthy machine changing speed
raises no anomaly alarm; one baseline for every speed (classes off) calls the faster healthy
snapshots anomalous and alarms, which is what the classes are for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.conftest import DATASETS
from tests.service.bodies import ARROW, arrow_body

UESTC = DATASETS / "uestc_bearing"
TURBINE, SENSOR = "WT-UESTC", "bearing_housing"
LEARN, SCORED = 20, 10  # snapshots per speed: a class learns from 20, then 10 are scored
START = datetime(2026, 11, 1, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not UESTC.exists(), reason=f"UESTC data not found at {UESTC} "
                                "(set WINDWATCH_DATASETS_DIR)")


@pytest.fixture(scope="module")
def runs() -> dict[int, np.ndarray]:
    from pipelines.baselines.calibration import UESTC_FS_HZ, uestc_runs

    n = int(UESTC_FS_HZ)
    return {int(r.name.split("_")[-1]): r.signal[:(LEARN + SCORED) * n].reshape(-1, n)
            for r in uestc_runs(DATASETS)}


@pytest.fixture
def settings(base_settings, request):
    return base_settings.model_copy(update={"baseline_speed_bin": request.param})


def _post_runs(client, runs, speeds) -> dict[int, list[dict]]:
    """Post each speed's snapshots in turn; speed -> the detections of its snapshots."""
    from pipelines.baselines.calibration import UESTC_FS_HZ

    out, k = {}, 0
    for rpm in speeds:
        out[rpm] = []
        for x in runs[rpm]:
            meta = {"sensor": SENSOR, "sample_rate_hz": repr(UESTC_FS_HZ), "unit": "g",
                    "rpm": str(rpm), "recorded_at": (START + timedelta(seconds=k)).isoformat()}
            k += 1
            r = client.post(f"/api/v1/turbines/{TURBINE}/batches",
                            content=arrow_body(x[None], meta), headers={"Content-Type": ARROW})
            assert r.status_code == 201, r.text
            out[rpm].append(r.json()["prediction"]["detection"])
    return out


def _anomaly_alarms(client) -> int:
    return client.get("/api/v1/alarms", params={"kind": "anomaly", "turbine": TURBINE}
                      ).json()["total"]


@pytest.mark.parametrize("settings", [0.1], indirect=True)
def test_each_speed_class_learns_its_own_baseline(client, runs):
    seen = _post_runs(client, runs, (800, 1000, 1200, 1400))
    for rpm, detections in seen.items():
        # A new speed learns first, whatever the classes before it learnt.
        assert [d["state"] for d in detections[:LEARN]] == ["learning"] * LEARN
        low, high = detections[0]["rpm_range"]
        assert low <= rpm < high
        scored = [d["score"] for d in detections[LEARN:]]
        assert len(scored) == SCORED and all(s is not None for s in scored)
        # Healthy against its own class: at most 2 of 10 above the threshold (the calibrated
        # rate is 5 %, 9.7 % on the 800-rpm run).
        assert sum(d["is_anomalous"] for d in detections[LEARN:]) <= 2, (rpm, scored)
    assert _anomaly_alarms(client) == 0
    base = client.get(f"/api/v1/turbines/{TURBINE}/sensors/{SENSOR}/baseline").json()
    assert [(c["state"], c["n_seen"]) for c in base["classes"]] == [("ready", LEARN)] * 4


@pytest.mark.parametrize("settings", [0.0], indirect=True)
def test_one_baseline_for_every_speed_calls_a_faster_healthy_machine_anomalous(client, runs):
    seen = _post_runs(client, {800: runs[800], 1400: runs[1400][:SCORED]}, (800, 1400))
    assert seen[1400][0]["rpm_range"] is None
    assert sum(d["is_anomalous"] for d in seen[1400]) >= 0.8 * SCORED  # 10 of 10 measured
    assert _anomaly_alarms(client) == 1
