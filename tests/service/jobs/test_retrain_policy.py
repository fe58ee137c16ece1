"""The promotion policy, the deterministic fleet hold-out and the retrain's parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.evaluation.champion import FLEET, compare
from pipelines.learning.fleet_training import holdout_groups
from service.jobs.kinds.retrain import Params


def _s(f1: float, n: int = 10) -> dict:
    return {"macro_f1": f1, "n_snapshots": n}


def test_promote_only_when_nowhere_worse_and_better_on_the_fleet():
    champ = {"ref / clean": _s(0.80), FLEET: _s(0.50)}
    ok = compare(champ, {"ref / clean": _s(0.795), FLEET: _s(0.70)}, 0.01, 0.0)
    assert ok["promote"] and not ok["reasons"]
    assert ok["table"][1] == {"suite": FLEET, "n": 10, "champion": 0.5, "challenger": 0.7,
                              "delta": 0.2}
    worse = compare(champ, {"ref / clean": _s(0.78), FLEET: _s(0.90)}, 0.01, 0.0)
    assert not worse["promote"] and "ref / clean" in worse["reasons"][0]
    flat = compare(champ, {"ref / clean": _s(0.85), FLEET: _s(0.50)}, 0.01, 0.0)
    assert not flat["promote"] and "not better" in flat["reasons"][0]
    blind = compare({"ref / clean": _s(0.8)}, {"ref / clean": _s(0.9)}, 0.01, 0.0)
    assert not blind["promote"] and "no fleet hold-out" in blind["reasons"][0]


def test_holdout_is_deterministic_and_never_everything():
    names = [f"WT-{i:02d}" for i in range(12)]
    held = holdout_groups(names, 0.25)
    assert len(held) == 3 and held == holdout_groups(list(reversed(names)) * 2, 0.25)
    assert holdout_groups(["WT-1"], 0.5) == [] and len(holdout_groups(["a", "b"], 0.9)) == 1


def test_params():
    assert Params().architectures == ["family1d"] and Params().steps == 2000
    for bad in ({"architectures": ["cnn1d"]}, {"datasets": ["cwru", "cwru"]}, {"steps": 0},
                {"holdout_fraction": 1.0}, {"nope": 1}):
        with pytest.raises(ValidationError):
            Params.model_validate(bad)
