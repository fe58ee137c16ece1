"""PNG rendering of a defect-order explanation: the five family planes (sideband rows x
defect-order cells) with the attribution, the input's centre-row readings, harmonic markers and
the attribution share per family (matplotlib object API, no pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from pipelines.explain.figure import png_bytes
from pipelines.explain.orders import FamilyShares, OrderBand, harmonic_cells
from pipelines.features.defect_orders import CENTRE_ROW, FAMILIES, SIDEBANDS

ATTR_CMAP = "YlOrRd"


@dataclass
class OrderFigure:
    """What a defect-order explanation figure shows (arrays on the model's grid)."""

    attribution: np.ndarray  # (F, R, L), sums to 1
    model_input: np.ndarray  # (F, R, L): mean input over the explained windows
    orders: np.ndarray  # (L,) multiples of each family's defect order
    cells_per_unit: int
    shares: dict[str, FamilyShares]
    defect_orders: dict[str, float]
    shaft_hz: float | None
    expected_family: str | None
    bands: Sequence[OrderBand]
    title: str
    notes: list[str] = field(default_factory=list)


def _family_label(fam: str, fig: OrderFigure) -> str:
    o = 1.0 if fam == "SHAFT" else float(fig.defect_orders.get(fam, np.nan))
    hz = f" = {o * fig.shaft_hz:.1f} Hz" if fig.shaft_hz else ""
    s = fig.shares.get(fam)
    share = (f": {100 * s.plane.share:.1f}% of the attribution, harmonic cells "
             f"{s.in_plane.ratio:.1f}x chance in the plane") if s and s.plane.share > 0 else ""
    mark = " (expected)" if fam == fig.expected_family else ""
    return f"{fam}{mark}, order {o:.4g}{hz}{share}"


def _plane(ax, fig: OrderFigure, i: int) -> QuadMesh:
    fam = FAMILIES[i]
    a = fig.attribution[i]
    u = fig.orders
    du = u[1] - u[0] if len(u) > 1 else 1.0
    edges = np.r_[u - du / 2, u[-1] + du / 2]
    rows = np.arange(a.shape[0] + 1) - 0.5
    vmax = max(float(fig.attribution.max()), 1e-30)
    mesh = ax.pcolormesh(edges, rows, a, cmap=ATTR_CMAP, vmin=0, vmax=vmax, shading="flat")
    cells = harmonic_cells(len(u), fig.cells_per_unit)
    for k, sel in enumerate(cells, start=1):
        ax.axvline(k, color="#1f77b4", lw=1.4 if fam == fig.expected_family else 0.8, ls="--",
                   alpha=0.8)
        lo, hi = u[sel].min() - du / 2, u[sel].max() + du / 2
        ax.axvspan(lo, hi, ymin=0, ymax=1, color="#1f77b4", alpha=0.06, lw=0)
        ax.text(k, a.shape[0] - 0.45, f"{k}x", ha="center", va="bottom", fontsize=7,
                color="#1f77b4")
    twin = ax.twinx()
    twin.plot(u, fig.model_input[i, CENTRE_ROW], color="black", lw=0.6)
    twin.set_ylabel("input s=0 (z x3)", fontsize=7)
    twin.tick_params(labelsize=6)
    for b in fig.bands:
        if b.family == fam:
            ax.plot(b.harmonic, SIDEBANDS.index(b.sideband), marker="o", mfc="none",
                    mec="#08306b", ms=9, mew=1.2)
    labels = [f"s={s:+d}" for s in SIDEBANDS] + (["mask"] if a.shape[0] > len(SIDEBANDS) else [])
    ax.set_yticks(range(a.shape[0]), labels, fontsize=7)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_title(_family_label(fam, fig), fontsize=8, loc="left")
    return mesh


def render_order_png(fig: OrderFigure, dpi: int = 100) -> bytes:
    """The explanation as PNG bytes: one panel per family plane, a bar chart of the shares."""
    n = fig.attribution.shape[0]
    f = Figure(figsize=(12, 1.9 * n + 2.6), dpi=dpi, layout="constrained")
    grid = f.add_gridspec(n + 1, 1, height_ratios=[1.0] * n + [1.1])
    notes = ("\n" + " | ".join(fig.notes)) if fig.notes else ""
    f.suptitle(fig.title + notes, fontsize=10)
    axes = [f.add_subplot(grid[i]) for i in range(n)]
    mesh = None
    for i, ax in enumerate(axes):
        mesh = _plane(ax, fig, i)
    axes[-1].set_xlabel("multiples of the family's defect order (dashed: harmonics k; rings: "
                        "top bands)")
    if mesh is not None:
        f.colorbar(mesh, ax=axes, pad=0.01, label="attribution (share per cell)")
    bar = f.add_subplot(grid[n])
    fams = list(FAMILIES[:n])
    plane = [100 * fig.shares[x].plane.share if x in fig.shares else 0.0 for x in fams]
    harm = [100 * fig.shares[x].harmonics.share if x in fig.shares else 0.0 for x in fams]
    pos = np.arange(len(fams))
    bar.bar(pos - 0.2, plane, 0.4, color="#fdae6b", label="whole plane")
    bar.bar(pos + 0.2, harm, 0.4, color="#e6550d", label="its harmonic cells")
    bar.axhline(100 / n, color="grey", ls=":", lw=1, label=f"chance per plane ({100 / n:.0f}%)")
    bar.set_xticks(pos, [x + (" (expected)" if x == fig.expected_family else "") for x in fams])
    bar.set_ylabel("% of attribution")
    bar.legend(fontsize=8, loc="upper right")
    bar.set_title("attribution share per defect family", fontsize=9, loc="left")
    return png_bytes(f)
