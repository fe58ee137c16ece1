"""PNG renderings of an explanation: the input the model saw, where its attribution lies, and
the kinematic defect lines, with units and a legend (matplotlib, Agg, no pyplot state).

Uses the object API (``Figure`` + ``FigureCanvasAgg``) only, so concurrent requests in a
thread pool never share pyplot's global figure manager.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pipelines.explain.physics import Band, Lines

FAMILY_COLOURS = {"BPFI": "#1f77b4", "BPFO": "#2ca02c", "BSF2": "#9467bd", "BSF": "#c5b0d5",
                  "FTF": "#8c564b", "SHAFT": "#7f7f7f"}
MESH_COLOUR = "#17becf"
ATTR_CMAP = "YlOrRd"


@dataclass
class ExplanationFigure:
    """What one explanation figure shows (arrays on the model's grid)."""

    freqs_hz: np.ndarray
    model_input: np.ndarray  # (F,) or (F, T): mean standardised log power over the windows
    attribution: np.ndarray  # same shape, sums to 1
    lines: Lines
    expected_family: str | None
    bands: Sequence[Band]
    title: str
    times_s: np.ndarray | None = None
    zoom_hz: float | None = None
    envelope: tuple[np.ndarray, np.ndarray] | None = None  # (freqs_hz, amplitude) for display
    notes: list[str] = field(default_factory=list)


def _colour(fam: str) -> str:
    return MESH_COLOUR if fam.startswith("MESH:") else FAMILY_COLOURS.get(fam, "black")


def _draw_lines(ax, lines: Lines, expected: str | None, fmax: float, vertical: bool = True
                ) -> list:
    """Defect-line markers; the expected family bold, sidebands dashed. Legend handles."""
    handles = []
    for fam in dict.fromkeys(lines.family.tolist()):
        sel = (lines.family == fam) & (lines.freq_hz <= fmax)
        if not sel.any():
            continue
        strong = fam == expected
        for f, m in zip(lines.freq_hz[sel], lines.sideband[sel], strict=True):
            style = dict(color=_colour(fam), lw=1.6 if strong else 0.9,
                         ls="-" if m == 0 else "--", alpha=0.9 if strong else 0.55)
            (ax.axvline if vertical else ax.axhline)(f, **style)
        label = fam + (" (expected)" if strong else "")
        handles.append(Line2D([], [], color=_colour(fam), lw=1.6 if strong else 0.9, label=label))
    if (lines.sideband != 0).any():
        handles.append(Line2D([], [], color="black", ls="--", lw=0.9, label="sideband"))
    return handles


def _per_hz(attr_per_bin: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    df = float(freqs_hz[1] - freqs_hz[0]) if len(freqs_hz) > 1 else 1.0
    return attr_per_bin / df * 100.0  # % of the total per Hz


def _attribution_panel(ax, figure: ExplanationFigure, fmax: float) -> None:
    per_bin = figure.attribution if figure.attribution.ndim == 1 else figure.attribution.sum(axis=1)
    y = _per_hz(per_bin, figure.freqs_hz)
    keep = figure.freqs_hz <= fmax
    ax.fill_between(figure.freqs_hz[keep], 0, y[keep], color="#e6550d", alpha=0.75, step="mid",
                    lw=0)
    handles = [Patch(color="#e6550d", alpha=0.75, label="attribution")]
    handles += _draw_lines(ax, figure.lines, figure.expected_family, fmax)
    top = float(y[keep].max()) if keep.any() else 1.0
    for i, b in enumerate(figure.bands, start=1):
        if b.lo_hz > fmax:
            continue
        ax.axvspan(b.lo_hz, min(b.hi_hz, fmax), color="gold", alpha=0.25, lw=0)
        inside = b.peak_hz <= 0.97 * fmax
        ax.text(b.peak_hz if inside else fmax, top * 1.02, f"#{i} {100 * b.share:.1f}%",
                ha="center" if inside else "right", va="bottom", fontsize=8)
    handles.append(Patch(color="gold", alpha=0.25, label="top bands (#rank share)"))
    ax.set_xlim(0, fmax)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("attribution (% of total per Hz)")
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=2, framealpha=0.9)


def _input_panel(fig: Figure, ax, figure: ExplanationFigure) -> None:
    f = figure.freqs_hz
    if figure.model_input.ndim == 1:
        ax.plot(f, figure.model_input, color="black", lw=0.6, label="model input")
        lo, hi = float(figure.model_input.min()), float(figure.model_input.max())
        shade = figure.attribution / max(float(figure.attribution.max()), 1e-30)
        mesh = ax.pcolormesh(np.r_[f, f[-1] + (f[1] - f[0])] - (f[1] - f[0]) / 2, [lo, hi],
                             shade[None, :], cmap=ATTR_CMAP, alpha=0.55, shading="flat",
                             vmin=0, vmax=1)
        ax.set_ylabel("log power (standardised, z)")
        ax.set_xlim(0, f[-1])
        ax.legend(loc="upper right", fontsize=8)
    else:
        t = figure.times_s
        assert t is not None, "a spectrogram input has frame times"
        ax.imshow(figure.model_input, origin="lower", aspect="auto", cmap="gray",
                  extent=(t[0], t[-1], f[0], f[-1]))
        # Contours keep the spectrogram underneath readable.
        mesh = ax.contour(t, f, figure.attribution / max(float(figure.attribution.max()), 1e-30),
                          levels=[0.25, 0.5, 0.75, 0.9], cmap=ATTR_CMAP, vmin=0, vmax=1,
                          linewidths=1.2)
        ax.set_xlabel("time within window (s)")
        ax.set_ylabel("frequency (Hz)")
    for i, b in enumerate(figure.bands, start=1):  # numbered markers of the top bands
        if figure.model_input.ndim == 1:
            ax.annotate(f"#{i}", (b.peak_hz, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=7, color="#b30000")
        else:
            ax.annotate(f"#{i}", (1.0, b.peak_hz), xycoords=("axes fraction", "data"),
                        ha="left", va="center", fontsize=7, color="#b30000")
    fig.colorbar(mesh, ax=ax, pad=0.01, label="attribution (relative)")


def render_png(figure: ExplanationFigure, dpi: int = 100) -> bytes:
    """The explanation as PNG bytes: the model input with attribution shading, attribution per
    frequency with defect markers (zoomed to the low orders), and the envelope if given."""
    n = 2 + (figure.envelope is not None)
    fig = Figure(figsize=(11, 3.2 * n + 0.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(n, 1)
    notes = ("\n" + " | ".join(figure.notes)) if figure.notes else ""
    fig.suptitle(figure.title + notes, fontsize=10)
    _input_panel(fig, axes[0], figure)
    how = "shading" if figure.model_input.ndim == 1 else "contours"
    axes[0].set_title(f"what the model saw ({how}: attribution; #n: top bands)", fontsize=9,
                      loc="left")
    fmax = float(min(figure.zoom_hz or figure.freqs_hz[-1], figure.freqs_hz[-1]))
    _attribution_panel(axes[1], figure, fmax)
    axes[1].set_title(f"attribution per frequency, 0-{fmax:.0f} Hz, with defect lines",
                      fontsize=9, loc="left")
    if figure.envelope is not None:
        ef, ea = figure.envelope
        keep = ef <= fmax
        axes[2].plot(ef[keep], ea[keep], color="black", lw=0.7, label="envelope spectrum")
        handles = [Line2D([], [], color="black", lw=0.7, label="envelope spectrum")]
        handles += _draw_lines(axes[2], figure.lines, figure.expected_family, fmax)
        axes[2].set_xlim(0, fmax)
        axes[2].set_xlabel("frequency (Hz)")
        axes[2].set_ylabel("envelope amplitude (g)")
        axes[2].legend(handles=handles, loc="upper right", fontsize=8, ncol=2)
        axes[2].set_title("envelope spectrum (spectral-kurtosis band)", fontsize=9, loc="left")
    return png_bytes(fig)


def png_bytes(fig: Figure) -> bytes:
    """A drawn figure as PNG bytes in a 256-colour palette (Pillow ships with matplotlib):
    ~3x smaller than RGBA and the same to the eye for line art and colour maps, which keeps the
    committed gallery and the responses small."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    from PIL import Image

    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    img = Image.fromarray(rgb).quantize(256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
