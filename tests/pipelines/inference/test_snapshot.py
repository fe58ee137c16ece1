"""The array-level ingest pipeline with a small deterministic stand-in classifier, and the
inference fast path of ``pipelines.features.windows`` (windows resampled alone == whole record)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.dsp.resample import resample, resample_ratio
from pipelines.features import windows as feature_windows
from pipelines.features.inputs import log_spectrum, model_inputs
from pipelines.features.spec import SPECTROGRAM_SPEC, SPECTRUM_SPEC, InputSpec
from pipelines.features.windows import segment_starts, windows_at_model_rate
from pipelines.inference.snapshot import SnapshotAnalysis, analyse_snapshot, validate_snapshot

FS_HZ = 25_600.0
CLASSES = ["normal", "inner_race", "outer_race", "ball"]


class StandInClassifier:
    """Deterministic: logits are the mean standardised log power in four frequency quarters."""

    def __init__(self, spec: InputSpec = SPECTRUM_SPEC, classes: list[str] = CLASSES) -> None:
        self.classes = list(classes)
        self.input_spec_dict = spec.to_dict()
        self.batch_shapes: list[tuple[int, ...]] = []

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        self.batch_shapes.append(inputs.shape)
        flat = inputs.reshape(len(inputs), -1)
        quarters = np.array_split(flat, len(self.classes), axis=1)
        logits = np.stack([q.mean(axis=1) for q in quarters], axis=1) * 3.0
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def snapshot(n_channels: int = 3, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS_HZ)) / FS_HZ
    tones = np.stack([np.sin(2 * np.pi * f * t) for f in (120.0, 1_500.0, 3_900.0)[:n_channels]])
    return (0.1 * rng.standard_normal((n_channels, t.size)) + tones).astype(np.float32)


# --- analyse_snapshot -------------------------------------------------------------------

def test_one_batched_call_and_consistent_probabilities():
    x, clf = snapshot(), StandInClassifier()
    out = analyse_snapshot(x, FS_HZ, clf, channel_names=["x", "y", "z"])
    assert isinstance(out, SnapshotAnalysis)
    assert len(clf.batch_shapes) == 1  # one predict_proba per snapshot
    assert clf.batch_shapes[0] == (out.n_windows, *SPECTRUM_SPEC.input_shape)
    assert out.n_windows == 3 * SPECTRUM_SPEC.max_windows
    assert out.per_channel_probabilities.shape == (3, 4) and out.probabilities.shape == (4,)
    np.testing.assert_allclose(out.per_channel_probabilities.sum(axis=1), 1.0, rtol=1e-6)
    # Equal window counts per channel: the overall mean is the mean of the channel means.
    np.testing.assert_allclose(out.per_channel_probabilities.mean(axis=0), out.probabilities)
    assert out.label == CLASSES[int(np.argmax(out.probabilities))]
    assert out.score == pytest.approx(1.0 - out.probabilities[0])
    assert out.channel_names == ["x", "y", "z"] and out.classes == CLASSES
    assert set(out.indicators) >= {"rms_accel_m_s2", "rms_velocity_mm_s", "kurtosis"}
    assert all(v.shape == (3,) for v in out.indicators.values())
    assert out.model_inputs is None


def test_per_channel_equals_analysing_each_channel_alone():
    x = snapshot()
    together = analyse_snapshot(x, FS_HZ, StandInClassifier(), keep_inputs=True)
    assert together.model_inputs is not None and len(together.model_inputs) == together.n_windows
    for c in range(3):
        alone = analyse_snapshot(x[c : c + 1], FS_HZ, StandInClassifier())
        np.testing.assert_allclose(alone.probabilities, together.per_channel_probabilities[c],
                                   rtol=1e-5)
        for key, value in alone.indicators.items():
            np.testing.assert_allclose(value[0], together.indicators[key][c], rtol=1e-5)


def test_score_without_a_normal_class_is_the_top_probability():
    clf = StandInClassifier(classes=["a", "b", "c"])
    out = analyse_snapshot(snapshot(1), FS_HZ, clf, accel_to_m_s2=1.0)
    assert out.score == pytest.approx(out.probabilities.max())
    assert out.channel_names == ["ch0"]


def test_spectrogram_classifier_and_a_short_record():
    spec = InputSpec(**{**SPECTROGRAM_SPEC.to_dict(), "max_windows": 4})
    clf = StandInClassifier(spec)
    x = snapshot(2, seconds=2.0)
    out = analyse_snapshot(x, FS_HZ, clf)
    assert clf.batch_shapes[0][1:] == spec.input_shape and out.n_windows == 2
    assert np.isfinite(out.probabilities).all()


# --- validate_snapshot ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("x", "fs_hz", "message"),
    [
        (np.zeros((0, 0), np.float32), FS_HZ, "empty"),
        (np.zeros(50_000, np.float32), FS_HZ, "2-D"),
        (np.zeros((1, 2, 50_000), np.float32), FS_HZ, "2-D"),
        (np.zeros((2, 50_000), np.float32), 0.0, "sample_rate_hz"),
        (np.zeros((2, 50_000), np.float32), -5.0, "sample_rate_hz"),
        (np.zeros((2, 50_000), np.float32), float("nan"), "sample_rate_hz"),
        (np.zeros((2, 50_000), np.float32), 2e6, "sample_rate_hz"),
        (np.zeros((2, 5_000), np.float32), FS_HZ, "less than one analysis window"),
        (np.zeros((2, 50_000), np.float32), 8_000.0, "too low"),
        (np.zeros((2, 50_000), np.complex64), FS_HZ, "real numbers"),
    ],
)
def test_validate_snapshot_names_the_problem(x, fs_hz, message):
    with pytest.raises(ValueError, match=message):
        validate_snapshot(x, fs_hz, SPECTRUM_SPEC)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_snapshot_names_the_non_finite_channel(bad):
    x = np.zeros((3, 50_000), np.float32)
    x[2, 1234] = bad
    with pytest.raises(ValueError, match=r"channel 2 \('z'\) has 1 non-finite"):
        validate_snapshot(x, FS_HZ, SPECTRUM_SPEC, channel_names=["x", "y", "z"])


def test_validate_snapshot_accepts_a_good_snapshot_and_huge_finite_values():
    validate_snapshot(snapshot(), FS_HZ, SPECTRUM_SPEC)
    huge = np.full((1, 50_000), 3e38, np.float32)  # a float32 sum would overflow to inf
    validate_snapshot(huge, FS_HZ, SPECTRUM_SPEC)
    n = SPECTRUM_SPEC.min_samples(FS_HZ)
    validate_snapshot(np.zeros((1, n), np.float32), FS_HZ, SPECTRUM_SPEC)
    analyse_snapshot(np.ones((1, n), np.float32), FS_HZ, StandInClassifier())  # runs at the limit


# --- the inference fast path in pipelines.features.windows --------------------------------------

@pytest.mark.parametrize("fs_hz", [25_600.0, 48_000.0, 51_200.0, 20_000.0, 97_656.0, 12_000.0])
@pytest.mark.parametrize("spec", [SPECTRUM_SPEC, SPECTROGRAM_SPEC], ids=["spectrum", "spectrogram"])
def test_windows_resampled_alone_equal_the_whole_record_resampled(fs_hz, spec):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, int(4 * fs_hz))).astype(np.float32)
    frames, ch = windows_at_model_rate(x, fs_hz, spec)
    starts = segment_starts(x.shape[-1], fs_hz, spec)
    up, down = resample_ratio(fs_hz, spec.fs_hz)
    whole = resample(x, fs_hz, spec.fs_hz)
    ref = np.stack([whole[:, s * up // down : s * up // down + spec.window_len] for s in starts], 1)
    assert frames.shape == (2 * len(starts), spec.window_len)
    np.testing.assert_array_equal(ch, np.repeat([0, 1], len(starts)))
    np.testing.assert_allclose(frames, ref.reshape(frames.shape), atol=1e-5)
    # In the model's input space, differences are float32 rounding, largest in near-empty bins.
    if spec.kind == "spectrum":
        a, b = log_spectrum(frames, spec), log_spectrum(ref.reshape(frames.shape), spec)
        assert np.median(np.abs(a - b)) < 1e-5 and np.abs(a - b).max() < 2e-3


def test_model_inputs_fall_back_to_whole_record_when_margins_do_not_fit():
    n = SPECTRUM_SPEC.min_samples(FS_HZ)
    x = np.random.default_rng(8).standard_normal((1, n)).astype(np.float32)
    assert feature_windows._segment_windows(x, FS_HZ, SPECTRUM_SPEC) is None
    inputs, ch = model_inputs(x, FS_HZ, SPECTRUM_SPEC)
    assert inputs.shape == (1, *SPECTRUM_SPEC.input_shape) and ch.tolist() == [0]


def test_standardisation_matches_torch_unbiased_std():
    import torch

    rng = np.random.default_rng(9)
    frames = rng.standard_normal((5, SPECTRUM_SPEC.n_fft)).astype(np.float32)
    ours = log_spectrum(frames, SPECTRUM_SPEC)[:, 0]
    mag2 = np.abs(np.fft.rfft(frames * np.hanning(SPECTRUM_SPEC.n_fft + 1)[:-1]))[:, :1600] ** 2
    z = torch.from_numpy(10 * np.log10(mag2 + 1e-12))
    ref = (z - z.mean(dim=1, keepdim=True)) / z.std(dim=1, keepdim=True).clamp_min(1e-6)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-4)
