"""Rendering an explanation: a PNG for 1-D and 2-D inputs, with and without lines and envelope."""

from __future__ import annotations

import numpy as np

from pipelines.explain import physics
from pipelines.explain.figure import ExplanationFigure, render_png
from pipelines.features.spec import SPECTROGRAM_SPEC, SPECTRUM_SPEC

PNG = b"\x89PNG\r\n\x1a\n"


def _lines(shaft_hz: float = 29.0) -> physics.Lines:
    return physics.family_lines(physics.Kinematics(shaft_hz), ["BPFI", "BPFO", "BSF2"],
                                fmax_hz=2000.0)


def test_spectrum_figure_renders_a_png_with_lines_bands_and_envelope():
    f = SPECTRUM_SPEC.freqs_hz
    attribution = np.exp(-0.5 * ((f - 157.0) / 10.0) ** 2)
    attribution /= attribution.sum()
    bands = physics.salient_bands(attribution, f, 3)
    env_f = np.linspace(0, 600, 200)
    fig = ExplanationFigure(
        freqs_hz=f, model_input=np.random.default_rng(0).standard_normal(len(f)),
        attribution=attribution, lines=_lines(), expected_family="BPFI", bands=bands,
        title="test", zoom_hz=800.0, envelope=(env_f, np.abs(np.sin(env_f / 30.0))),
        notes=["shaft 1740 rpm (batch)"])
    png = render_png(fig)
    assert png.startswith(PNG) and len(png) > 10_000
    assert render_png(fig) == png  # deterministic bytes (no version or time stamp)


def test_spectrogram_figure_renders_without_lines():
    spec = SPECTROGRAM_SPEC
    a = np.random.default_rng(1).random((spec.n_bins, spec.n_frames))
    fig = ExplanationFigure(
        freqs_hz=spec.freqs_hz, model_input=np.zeros((spec.n_bins, spec.n_frames)),
        attribution=a / a.sum(), lines=physics.family_lines(physics.Kinematics(1.0), []),
        expected_family=None, bands=[], title="2-D", times_s=spec.times_s)
    assert render_png(fig).startswith(PNG)
