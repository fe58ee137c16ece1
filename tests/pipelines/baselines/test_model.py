"""Baseline fit and score: robust statistics, NaN- and name-safe, calibrated on real data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.baselines import model
from tests.conftest import DATASETS


def _samples(n: int = 20, seed: int = 0) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [{"a": float(v), "b": float(w)} for v, w in rng.normal([1.0, -2.0], [0.2, 0.1], (n, 2))]


def test_fit_medians_and_robust_scale():
    b = model.fit(_samples(200))
    med, scale = b.as_dicts()
    assert b.names == ("a", "b") and b.n == 200
    assert med["a"] == pytest.approx(1.0, abs=0.05) and med["b"] == pytest.approx(-2.0, abs=0.03)
    assert scale["a"] == pytest.approx(0.2, rel=0.2) and scale["b"] == pytest.approx(0.1, rel=0.2)


def test_scale_floor_and_outlier_robustness():
    s = [{"a": 1.0} for _ in range(10)] + [{"a": 1e6}]
    b = model.fit(s)
    assert b.median == (1.0,) and b.scale == (model.SCALE_FLOOR,)


def test_score_healthy_low_shifted_high_and_clipped():
    b = model.fit(_samples(50))
    assert model.score(b, {"a": 1.0, "b": -2.0}) < 0.5
    assert model.score(b, {"a": 3.0, "b": -2.0}) > 5.0
    assert model.score(b, {"a": 1e9, "b": 1e9}) == pytest.approx(model.Z_CLIP)


def test_missing_new_and_nan_features_are_ignored():
    b = model.fit(_samples())
    full = model.score(b, {"a": 2.0, "b": -2.0})
    assert model.score(b, {"a": 2.0}) > full  # only the shifted feature left: higher RMS
    assert model.score(b, {"a": 2.0, "b": -2.0, "new": 99.0}) == full
    assert model.score(b, {"a": 2.0, "b": float("nan")}) == model.score(b, {"a": 2.0})
    assert np.isnan(model.score(b, {"other": 1.0}))


def test_fit_drops_mostly_missing_features_and_refuses_too_few():
    s = _samples(10)
    s[0]["rare"] = 1.0
    assert "rare" not in model.fit(s).names
    with pytest.raises(ValueError, match="at least"):
        model.fit(_samples(model.MIN_SAMPLES - 1))
    arr = np.array([[1.0, np.nan]] * 6)
    assert model.fit(arr, names=["x", "y"]).names == ("x",)


def test_score_matrix_matches_score():
    b = model.fit(_samples())
    rows = _samples(5, seed=1)
    names, m = model.feature_matrix(rows, b.names)
    np.testing.assert_allclose(model.score_matrix(b, m), [model.score(b, r) for r in rows])


@pytest.mark.skipif(not (DATASETS / "uestc_bearing").exists(),
                    reason=f"UESTC data not found under {DATASETS} (set WINDWATCH_DATASETS_DIR)")
def test_default_threshold_is_calibrated_on_healthy_runs():
    from pipelines.baselines.calibration import calibrate, uestc_runs

    cal = calibrate(uestc_runs(DATASETS))
    assert cal.threshold == pytest.approx(model.DEFAULT_THRESHOLD, abs=0.1)
    assert cal.rate_at(model.DEFAULT_THRESHOLD)["pooled"] <= 0.06
    assert cal.alarm_rate_at(model.DEFAULT_THRESHOLD) <= 0.01


def test_finite_keeps_only_storable_values():
    assert model.finite({"a": np.float32(1.5), "b": float("nan"), "c": float("inf")}) == {"a": 1.5}


@given(st.floats(1.0, 1e5), st.sampled_from([0.05, 0.1, 0.25]))
def test_a_speed_lies_in_its_speed_class(rpm, width):
    k = model.speed_bin(rpm, width)
    low, high = model.speed_bin_range(k, width)
    assert low <= rpm * (1 + 1e-12) and rpm < high * (1 + 1e-12)
    assert high / low == pytest.approx(1 + width)


def test_no_speed_or_classes_off_is_the_any_speed_class():
    for rpm, width in ((None, 0.1), (0.0, 0.1), (-5.0, 0.1), (float("nan"), 0.1), (1500.0, 0.0)):
        assert model.speed_bin(rpm, width) == model.ANY_SPEED
    assert model.speed_bin_range(model.ANY_SPEED, 0.1) is None
    # 10 % classes: the UESTC rig's four speeds fall in four classes, 1500 and 1450 rpm in one.
    assert len({model.speed_bin(r, 0.1) for r in (800, 1000, 1200, 1400)}) == 4
    assert model.speed_bin(1500, 0.1) == model.speed_bin(1450, 0.1)
