"""The array-level ingest pipeline: validated snapshot -> indicators + diagnosis (no DB, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.features import InputSpec, model_inputs
from pipelines.signal import condition_indicators


@dataclass
class SnapshotAnalysis:
    indicators: dict[str, np.ndarray]  # name -> (C,)
    probabilities: np.ndarray  # (n_classes,), mean over every window of every channel
    per_channel_probabilities: np.ndarray  # (C, n_classes)
    label: str
    score: float  # 1 - p(normal): the probability of any fault
    n_windows: int
    model_inputs: np.ndarray | None = field(default=None, repr=False)


def validate_snapshot(x: np.ndarray, fs_hz: float, spec: InputSpec, max_fs_hz: float = 1e6) -> None:
    """Raise ``ValueError`` naming the problem if the model cannot analyse this snapshot."""
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"expected a non-empty (channels, samples) array, got shape {x.shape}")
    if not 0 < fs_hz <= max_fs_hz:
        raise ValueError(f"sample_rate_hz must be > 0 and <= {max_fs_hz:g}, got {fs_hz:g}")
    if fs_hz / 2 <= spec.max_freq_hz:
        raise ValueError(
            f"sample rate {fs_hz:g} Hz is too low for the model's frequency grid (0-"
            f"{spec.max_freq_hz:.0f} Hz needs more than {2 * spec.max_freq_hz:.0f} Hz)"
        )
    need = spec.min_samples(fs_hz)
    if x.shape[1] < need:
        raise ValueError(
            f"{x.shape[1]} samples is less than one analysis window: the model needs "
            f"{spec.window_s:.3f} s, i.e. at least {need} samples at {fs_hz:g} Hz"
        )
    finite = np.isfinite(x)
    if not finite.all():
        c = int((~finite).any(axis=1).argmax())
        raise ValueError(f"channel {c} has non-finite values (NaN or Inf)")


def analyse_snapshot(x: np.ndarray, fs_hz: float, classifier, accel_to_m_s2: float = 9.80665,  # noqa: ANN001
                     channel_names: list[str] | None = None, keep_inputs: bool = False
                     ) -> SnapshotAnalysis:
    """Indicators for every channel and one batched classifier call over all their windows.

    ``classifier`` needs ``classes``, ``input_spec_dict`` and ``predict_proba(inputs)``.
    """
    spec = InputSpec.from_dict(classifier.input_spec_dict)
    indicators = condition_indicators(x, fs_hz, accel_to_m_s2)
    inputs, ch = model_inputs(x, fs_hz, spec)
    proba = classifier.predict_proba(inputs)  # (B, K)
    n_ch = x.shape[0]
    counts = np.bincount(ch, minlength=n_ch)[:, None]
    per_channel = np.zeros((n_ch, proba.shape[1]), dtype=np.float64)
    np.add.at(per_channel, ch, proba)
    per_channel /= np.maximum(counts, 1)
    mean = proba.mean(axis=0)
    classes = list(classifier.classes)
    score = 1.0 - float(mean[classes.index("normal")]) if "normal" in classes else float(mean.max())
    return SnapshotAnalysis(
        indicators=indicators, probabilities=mean, per_channel_probabilities=per_channel,
        label=classes[int(np.argmax(mean))], score=score, n_windows=len(inputs),
        model_inputs=inputs if keep_inputs else None,
    )
