"""Attribution maps of a snapshot's verdict on the model's physical input axes (pure arrays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.features import InputSpec, model_inputs


@dataclass
class SaliencyMap:
    """Attribution normalised to sum 1: (n_bins,) for spectra, (n_bins, n_frames) for spectrograms."""

    attribution: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray | None
    method: str

    def top_frequencies_hz(self, k: int = 5) -> np.ndarray:
        """Frequencies of the ``k`` bins carrying most attribution (time summed out)."""
        per_freq = self.attribution if self.attribution.ndim == 1 else self.attribution.sum(axis=1)
        return self.freqs_hz[np.argsort(per_freq)[::-1][:k]]


def input_gradient_map(x: np.ndarray, fs_hz: float, classifier, target: int) -> SaliencyMap:  # noqa: ANN001
    """|d logit_target / d input| averaged over every window of every channel of the snapshot."""
    spec = InputSpec.from_dict(classifier.input_spec_dict)
    inputs, _ = model_inputs(x, fs_hz, spec)
    grads = classifier.input_gradient(inputs, np.full(len(inputs), target, dtype=np.int64))
    a = np.abs(grads).mean(axis=0)[0].astype(np.float64)
    a /= max(a.sum(), 1e-30)
    times = spec.times_s if spec.kind == "spectrogram" else None
    return SaliencyMap(a.astype(np.float32), spec.freqs_hz, times, "input_gradient")
