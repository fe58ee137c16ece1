"""The evaluation protocol: no recording (and no normal block) on two sides of any fold, ever;
noise at the requested SNR; the report renders from a results dict."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.evaluation.protocol import (
    GUARD_S,
    Fold,
    add_white_noise,
    build_protocols,
    check_fold,
    normal_blocks,
)
from pipelines.learning.datasets import Recording

DATASETS = Path(os.environ.get("WINDWATCH_DATASETS_DIR",
                               Path(__file__).resolve().parents[4] / "shared" / "datasets"))
LABELS = ("inner_race", "outer_race", "ball")
SIZES = (0.007, 0.014, 0.021)


def rec(rid: str, label: str, size: float, load: int, fs_hz: float = 12_000.0,
        n: int = 1200) -> Recording:
    return Recording(recording_id=rid, file=f"{rid}.mat", label=label, fault_size_in=size,
                     load_hp=load, rpm=1797.0 - 25 * load, fs_hz=fs_hz, rig="cwru",
                     signal=np.zeros(n, np.float32))


def cwru_like(loads: tuple[int, ...], normal_s: float = 5.08) -> list[Recording]:
    """One recording per (fault, size, load) + one 48 kHz normal recording, like CWRU."""
    recs = [rec(f"{lab}_{s}_{h}", lab, s, h) for lab in LABELS for s in SIZES for h in loads]
    return recs + [rec("normal_0_97", "normal", 0.0, 0, 48_000.0, int(normal_s * 48_000))]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_blocks=st.integers(3, 8),
       guard_s=st.floats(0.0, 0.4), loads=st.sets(st.integers(0, 3), min_size=2, max_size=4))
def test_no_recording_or_block_on_two_sides(seed: int, n_blocks: int, guard_s: float,
                                            loads: set[int]) -> None:
    recs = cwru_like(tuple(sorted(loads)))
    folds = build_protocols(recs, seed=seed, n_normal_blocks=n_blocks, guard_s=guard_s)
    assert len(folds) == len(loads) + 1
    faults = {r.recording_id for r in recs if r.label != "normal"}
    for fold in folds:
        check_fold(fold, guard_s)
        ids = {k: [r.recording_id for r in getattr(fold, k)] for k in ("train", "val", "test")}
        for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
            assert not set(ids[a]) & set(ids[b]), (fold.name, a, b)
        # Every fault recording is used exactly once; every side has every class.
        used = [i for side in ids.values() for i in side if i in faults]
        assert sorted(used) == sorted(faults)
        for side in ("train", "val", "test"):
            assert {r.label for r in getattr(fold, side)} >= {"normal"}
        # Normal blocks: disjoint in time, at least the guard apart across sides.
        spans = sorted((r.start_s, r.start_s + r.duration_s, side)
                       for side in ids for r in getattr(fold, side) if r.label == "normal")
        for (a0, a1, sa), (b0, _, sb) in zip(spans, spans[1:], strict=False):
            assert b0 - a1 >= guard_s - 1 / 48_000 - 1e-9 and a0 < a1
            assert sa in ids and sb in ids
        # The held-out condition is on the test side only.
        held = [r for r in fold.test if r.label != "normal"]
        rest = [r for r in fold.train + fold.val if r.label != "normal"]
        if fold.protocol == "leave_one_load_out":
            h = held[0].load_hp
            assert all(r.load_hp == h for r in held) and all(r.load_hp != h for r in rest)
        else:
            assert {r.fault_size_in for r in held} == {0.014}
            assert 0.014 not in {r.fault_size_in for r in rest}


def test_normal_blocks_rotate_over_folds() -> None:
    normal = cwru_like((0, 1))[-1]
    tested = [normal_blocks(normal, i)[2][0].recording_id for i in range(3)]
    assert tested == ["normal_0_97#b0", "normal_0_97#b1", "normal_0_97#b2"]
    with pytest.raises(ValueError, match="at least 3"):
        normal_blocks(normal, 0, n_blocks=2)


def test_check_fold_rejects_leaks() -> None:
    a, b = rec("a", "ball", 0.007, 0), rec("b", "ball", 0.007, 1)
    with pytest.raises(ValueError, match="more than one side"):
        check_fold(Fold("p", "leak", [a, b], [], [a]))
    normal = cwru_like((0,))[-1]
    close = replace(normal, recording_id="normal_0_97#x", start_s=normal.duration_s + 0.01)
    with pytest.raises(ValueError, match="closer than"):
        check_fold(Fold("p", "near", [normal], [], [close]))


@pytest.mark.parametrize("snr_db", [10.0, 5.0, 0.0, -3.0])
def test_noise_has_the_requested_snr(snr_db: float) -> None:
    rng = np.random.default_rng(0)
    frames = (rng.standard_normal((16, 4096)) * rng.uniform(0.1, 5, (16, 1)) + 0.3
              ).astype(np.float32)
    noisy = add_white_noise(frames, snr_db, seed=[0, 1])
    n = (noisy.astype(np.float64) - frames)
    measured = 10 * np.log10(frames.var(axis=1) / np.mean(n**2, axis=1))
    np.testing.assert_allclose(measured, snr_db, atol=0.1)
    np.testing.assert_array_equal(noisy, add_white_noise(frames, snr_db, seed=[0, 1]))
    assert not np.array_equal(noisy, add_white_noise(frames, snr_db, seed=[0, 2]))


def test_noise_accepts_one_snr_per_window() -> None:
    frames = np.random.default_rng(1).standard_normal((3, 2048)).astype(np.float32)
    snr = np.array([20.0, 0.0, 30.0])
    n = add_white_noise(frames, snr, seed=3) - frames
    np.testing.assert_allclose(10 * np.log10(frames.var(1) / np.mean(n**2, 1)), snr, atol=0.1)


def _metrics(f1: float) -> dict:
    cm = [[5, 0, 0, 0], [0, 5, 0, 0], [0, 1, 4, 0], [0, 0, 0, 5]]
    return {"n_windows": 20, "accuracy": 0.95, "macro_f1": f1, "confusion": cm,
            "recall": {"normal": 1.0, "inner_race": 1.0, "outer_race": 0.8, "ball": 1.0},
            "recording_accuracy": 1.0, "false_alarm_rate": 0.0,
            "recordings": {"r1": {"true": "ball", "voted": "ball"}}}


def test_report_renders_targets_tables_and_images(tmp_path: Path) -> None:
    from pipelines.evaluation.report import write_report

    conds = lambda f1: {c: _metrics(f1) for c in ("clean", "snr_10_db", "snr_5_db", "snr_0_db")}  # noqa: E731
    ids = {"train": ["a"], "val": ["b"], "test": ["r1"]}
    folds = [{"protocol": p, "name": n, "recordings": ids,
              "models": {"baseline": conds(0.9), "cnn1d": conds(0.99)}}
             for p, n in [("leave_one_load_out", "test load 0 HP"),
                          ("held_out_fault_size", 'test fault size 0.014"')]]
    results = {"seed": 0, "archs": ["cnn1d"], "baseline": True,
               "classes": ["normal", "inner_race", "outer_race", "ball"],
               "noise_snr_db": [10.0, 5.0, 0.0], "n_normal_blocks": 3, "guard_s": GUARD_S,
               "normal_blocks": [{"recording_id": "n#b0", "start_s": 0.0, "duration_s": 1.5}] * 3,
               "stride_s": {"cnn1d": {"fault": 0.1, "normal": 0.02}}, "torch_threads": 2,
               "seconds": 1.0, "folds": folds,
               "wind_turbine": {"checkpoint": "m.json", "rows": [
                   {"timestamp_utc": f"2013-03-{d:02d}T00:00:00Z", "fault_probability": d / 30,
                    "argmax_label": "normal", "rms_accel_m_s2": 2.0, "kurtosis": 3 + d / 10,
                    "crest_factor": 4.0} for d in range(1, 11)]}}
    paths = write_report(results, tmp_path)
    md = paths["md"].read_text()
    assert "| LOLO window macro-F1 >= 0.98" in md and "| yes |" in md
    assert "How the one normal recording is split" in md
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    saved = json.loads(paths["json"].read_text())
    assert saved["wind_turbine"]["spearman_vs_time"]["kurtosis"] == 1.0
    assert {t["met"] for t in saved["targets"]} == {True}


@pytest.mark.skipif(not (DATASETS / "cwru_12k_drive_end_dev").exists(),
                    reason=f"CWRU data not found under {DATASETS}")
def test_real_cwru_protocols() -> None:
    from pipelines.learning.datasets import load_cwru

    folds = build_protocols(load_cwru(DATASETS))
    assert [f.name for f in folds] == ["test load 0 HP", "test load 1 HP", "test load 2 HP",
                                       'test fault size 0.014"']
    for f in folds:
        check_fold(f)
        assert len(f.test) == 10 and len(f.val) == 4 and len(f.train) == 16


@pytest.mark.slow
@pytest.mark.skipif(not (DATASETS / "cwru_12k_drive_end_dev").exists(),
                    reason=f"CWRU data not found under {DATASETS}")
def test_one_fold_end_to_end() -> None:
    from pipelines.evaluation.protocol import run_baseline, run_cnn
    from pipelines.learning.datasets import load_cwru

    fold = build_protocols(load_cwru(DATASETS))[2]
    for res in (run_baseline(fold, 2, 0), run_cnn(fold, 2, "cnn1d", 0, 2, lambda m: None)):
        assert set(res) >= {"clean", "snr_10_db", "snr_5_db", "snr_0_db"}
        assert 0.0 <= res["clean"]["macro_f1"] <= 1.0
