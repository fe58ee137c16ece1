"""Recordings, windows and grouped splits: no recording (or normal block) on both sides."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.dsp.resample import resample_ratio
from pipelines.features.spec import InputSpec
from pipelines.features.windows import window_starts
from pipelines.learning.datasets import (
    CLASSES,
    Recording,
    fingerprint,
    grouped_validation,
    load_cwru,
    load_wind_turbine,
    split_blocks,
    split_by,
    windows_dataset,
)
from tests.conftest import DATASETS

SPEC = InputSpec(kind="spectrum", fs_hz=2000.0, n_fft=128, n_bins=48)
SPEC_2D = InputSpec(kind="spectrogram", fs_hz=2000.0, n_fft=32, n_bins=16, hop=16, n_frames=8)


def window_spans_s(rec: Recording, spec: InputSpec, stride_s: float) -> np.ndarray:
    """(W, 2) start/end times in the *source file* (s) of the windows ``windows_dataset`` cuts
    from ``rec`` at ``stride_s`` (same arithmetic: window grid at the model's rate)."""
    up, down = resample_ratio(rec.fs_hz, spec.fs_hz)
    n_model = math.ceil(len(rec.signal) * up / down)  # resample_poly's output length (ceil)
    stride = max(1, int(round(stride_s * spec.fs_hz)))
    starts = window_starts(n_model, spec.window_len, stride=stride)
    t0 = rec.start_s + starts / spec.fs_hz
    return np.stack([t0, t0 + spec.window_s], axis=1)


def rec(rid: str, label: str | None = "ball", load: int = 0, n: int = 4000,
        fs_hz: float = 2000.0, signal: np.ndarray | None = None) -> Recording:
    x = signal if signal is not None else np.random.default_rng(len(rid)).standard_normal(n)
    return Recording(recording_id=rid, file=f"{rid.split('#')[0]}.mat", label=label,
                     fault_size_in=0.007, load_hp=load, rpm=1797.0, fs_hz=fs_hz, rig="cwru",
                     signal=x.astype(np.float32))


recordings = st.lists(
    st.tuples(st.sampled_from(CLASSES), st.integers(0, 3)), min_size=2, max_size=20,
).map(lambda rows: [rec(f"r{i}", label, load, n=64) for i, (label, load) in enumerate(rows)])


@settings(max_examples=60, deadline=None)
@given(recs=recordings, held_load=st.integers(0, 3), n_blocks=st.integers(2, 5),
       fraction=st.floats(0.05, 0.6), seed=st.integers(0, 1000))
def test_no_recording_or_block_is_on_both_sides(recs, held_load, n_blocks, fraction, seed):
    normal = rec("normal_97", "normal", 0, n=6000, fs_hz=8000.0)
    blocks = split_blocks(normal, n_blocks, guard_s=0.01)
    pool = recs + blocks
    rest, test = split_by(pool, lambda r: r.load_hp == held_load or r.recording_id.endswith(
        f"#b{n_blocks - 1}"))
    train, val = grouped_validation(rest, fraction=fraction, seed=seed)
    ids = [{r.recording_id for r in part} for part in (train, val, test)]
    assert sum(map(len, ids)) == len(pool)  # every recording exactly once
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert all(r.load_hp == held_load or "#" in r.recording_id for r in test)
    # every class with two or more recordings keeps at least one for training
    for label in {r.label for r in rest}:
        if sum(r.label == label for r in rest) >= 2:
            assert any(r.label == label for r in train) and any(r.label == label for r in val)


def test_normal_blocks_cover_disjoint_time_ranges_with_a_guard():
    ramp = np.arange(48_000, dtype=np.float64)  # each sample's value is its own index
    normal = rec("normal_0_97", "normal", signal=ramp, fs_hz=8000.0)
    blocks = split_blocks(normal, 3, guard_s=0.25)
    assert [b.recording_id for b in blocks] == [f"normal_0_97#b{k}" for k in range(3)]
    ranges = []
    for b in blocks:
        first = int(b.signal[0])
        assert first == round(b.start_s * 8000)  # the block really starts where it says
        np.testing.assert_array_equal(b.signal, ramp[first: first + len(b.signal)])
        ranges.append((first, first + len(b.signal)))
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        assert start - end >= 0.25 * 8000
    # ...and so do the windows cut from them, in source-file seconds
    spans = [window_spans_s(b, SPEC, stride_s=0.01) for b in blocks]
    for a, b in zip(spans, spans[1:], strict=False):
        assert a[:, 1].max() <= b[:, 0].min() - 0.25 + 1e-9
    for b, s in zip(blocks, spans, strict=True):
        assert len(windows_dataset([b], SPEC, 0.01)[0]) == len(s)
        assert s[0, 0] >= b.start_s and s[-1, 1] <= b.start_s + b.duration_s + 1e-9


def test_windows_dataset_labels_groups_and_shapes():
    recs = [rec("a", "inner_race"), rec("b", "normal", fs_hz=8000.0, n=16_000), rec("c", None)]
    x, y, g = windows_dataset(recs, SPEC, stride_s=0.1, stride_s_by_label={"normal": 0.05})
    assert x.shape[1:] == SPEC.input_shape and x.dtype == np.float32
    assert len(x) == len(y) == len(g)
    n_a, n_b = int((g == "a").sum()), int((g == "b").sum())
    assert n_a == len(window_spans_s(recs[0], SPEC, 0.1)) and n_b > n_a  # denser normal stride
    assert set(y[g == "a"]) == {1} and set(y[g == "b"]) == {0} and set(y[g == "c"]) == {-1}
    x2, _, _ = windows_dataset(recs[:1], SPEC_2D, stride_s=0.2)
    assert x2.shape[1:] == SPEC_2D.input_shape


def test_short_recordings_give_no_windows():
    x, y, g = windows_dataset([rec("short", n=50)], SPEC, 0.1)
    assert x.shape == (0, *SPEC.input_shape) and len(y) == len(g) == 0


def test_split_blocks_rejects_impossible_cuts():
    with pytest.raises(ValueError, match="blocks"):
        split_blocks(rec("x", n=100), 3, guard_s=1.0)


def test_fingerprint_depends_on_content_not_order():
    a, b = rec("a"), rec("b")
    assert fingerprint([a, b]) == fingerprint([b, a]) != fingerprint([a])


needs_cwru = pytest.mark.skipif(not (DATASETS / "cwru_12k_drive_end_dev").exists(),
                                reason=f"CWRU data not found under {DATASETS}")


@needs_cwru
def test_load_cwru_reads_every_recording_with_its_identity():
    recs = load_cwru(DATASETS)
    assert len(recs) == 28 and {r.label for r in recs} == set(CLASSES)
    normal = [r for r in recs if r.label == "normal"]
    assert len(normal) == 1 and normal[0].fs_hz == 48_000.0 and len(normal[0].signal) == 243_938
    ir = next(r for r in recs if r.recording_id == "12k_Drive_End_IR007_0_105")
    assert ir.fs_hz == 12_000.0 and len(ir.signal) == 121_265 and ir.load_hp == 0
    assert ir.label == "inner_race" and ir.fault_size_in == 0.007 and ir.signal.dtype == np.float32


@pytest.mark.skipif(not (DATASETS / "wind_turbine_hss_bearing_compact").exists(),
                    reason=f"wind-turbine data not found under {DATASETS}")
def test_load_wind_turbine_snapshots_in_time_order():
    recs = load_wind_turbine(DATASETS)
    assert len(recs) == 10 and all(r.label is None and r.fs_hz == 97_656.0 for r in recs)
    assert [r.recording_id for r in recs] == sorted(r.recording_id for r in recs)
    assert len(recs[0].signal) == 292_968 and 150 < len(recs[0].tach_s) < 200
