"""The physics check of an attribution map over defect-order inputs (families x rows x cells).

A defect-order input (``pipelines.features.defect_orders``) is one plane per family
(FTF, BPFO, BPFI, BSF, SHAFT); within a plane, rows are shaft-speed sidebands s = -2..+2 and a
last shaft-coincidence mask row; cell j sits at u = (j + 1) / cells_per_unit multiples of the
family's defect order, so harmonic k lies at cell ``k * cells_per_unit - 1`` of every bearing.

The check needs no tolerance in Hz: *harmonic cells* of a family are the centre-row (s = 0)
cells with |u - k| <= 2 % of k (at least half a cell), k = 1..7; its *sideband cells* are the
same columns in the rows s = +-1, +-2 (orders k x order + s). Per family it reports the
attribution share of the family's plane, of its harmonic and sideband cells (and both
together) and what those cells would hold under a uniform map (*chance*: their
share of the reading rows of the whole input grid; the mask row is left out of maps and
chance alike).

The family models route each fault logit through its own family's plane (a shared scorer per
plane, see ``models.family_head``; other planes only through the evidence gate while no comb is
strong), so a gradient map of a fault class lies (almost) entirely on that plane and its
whole-grid ratio is about 5x its ratio *within the plane* by construction. The verdict
therefore reads the stricter figure: the predicted family's harmonic cells against the share of
*its plane* they cover. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.features.defect_orders import CENTRE_ROW, FAMILIES, SIDEBANDS

N_HARMONICS = 7
TOLERANCE = 0.02  # |u - k| <= 2 % of k, never narrower than half a cell
CONSISTENT_RATIO = 3.0  # the predicted family's harmonic cells at >= 3x chance
EXPECTED_FAMILY = {"inner_race": "BPFI", "outer_race": "BPFO", "ball": "BSF"}
FAULT_FAMILIES = ("BPFO", "BPFI", "BSF")
SIDEBAND_ROWS = tuple(i for i, s in enumerate(SIDEBANDS) if s != 0)


def cell_orders(n_cells: int, cells_per_unit: int) -> np.ndarray:
    """(L,) multiples of the family's defect order at each cell: (j + 1) / cells_per_unit."""
    return (np.arange(n_cells) + 1.0) / cells_per_unit


def harmonic_cells(n_cells: int, cells_per_unit: int, n_harmonics: int = N_HARMONICS,
                   tol: float = TOLERANCE) -> np.ndarray:
    """(n_harmonics, L) bool: cell j belongs to harmonic k (row k - 1) of the family."""
    u = cell_orders(n_cells, cells_per_unit)
    k = np.arange(1, n_harmonics + 1, dtype=np.float64)[:, None]
    return np.abs(u[None] - k) <= np.maximum(tol * k, 0.5 / cells_per_unit) + 1e-9


def line_cells(n_cells: int, cells_per_unit: int, order: float, n_harmonics: int = N_HARMONICS,
               tol: float = TOLERANCE, offsets: tuple[int, ...] = (0,)) -> np.ndarray:
    """(len(SIDEBANDS), L) bool: cells whose *read order* ``order * u + s`` lies on one of the
    family's lines ``k * order + m`` (k = 1..n, m in ``offsets`` shaft orders; default: the
    harmonics themselves) within 2 % of k (at least half a cell). Row s sees line (k, m) at
    u = k + (m - s) / order: a harmonic also shows in every sideband row, shifted by -s / order.
    (With m = -2..2 the lines of a fast family cover most of its plane: no contrast left.)"""
    u = cell_orders(n_cells, cells_per_unit)
    k = np.arange(1, n_harmonics + 1, dtype=np.float64)
    m = np.asarray(offsets, dtype=np.float64)
    half = np.maximum(tol * k, 0.5 / cells_per_unit)[None, :, None] + 1e-9
    out = np.zeros((len(SIDEBANDS), n_cells), bool)
    for i, s in enumerate(SIDEBANDS):
        centre = k[None, :, None] + (m[:, None, None] - s) / order  # (m, k, 1)
        out[i] = (np.abs(u[None, None, :] - centre) <= half).any(axis=(0, 1))
    return out


@dataclass(frozen=True)
class Share:
    """Attribution share of some cells against the share of the grid they cover."""

    share: float
    chance: float

    @property
    def ratio(self) -> float:
        """Share over chance (NaN when the cells cover nothing)."""
        return self.share / self.chance if self.chance > 0 else float("nan")


@dataclass(frozen=True)
class FamilyShares:
    """One family's plane: all of it, its harmonic columns in every reading row, in the centre
    row (the harmonic cells) and in the sideband rows (shares of the whole map, chance = share
    of the whole grid); then the harmonic cells and the sideband cells as shares of the plane's
    own mass (chance = share of the plane): ``in_plane`` is the verdict's figure."""

    plane: Share
    harmonics: Share
    centre: Share
    sidebands: Share
    in_plane: Share
    sidebands_in_plane: Share
    lines: Share | None = None  # in the plane: cells reading a harmonic k x order, any row


@dataclass(frozen=True)
class OrderBand:
    """Attribution on one (family, harmonic k, sideband s) group of cells."""

    family: str
    harmonic: int
    sideband: int
    order: float  # shaft orders: k x the family's defect order + s
    hz: float | None  # at the prediction's shaft speed
    share: float


@dataclass(frozen=True)
class OrderVerdict:
    verdict: str  # supports | contradicts | inconclusive
    physics: str  # physics-consistent | physics-inconsistent | inconclusive
    expected_family: str | None
    reason: str


@dataclass(frozen=True)
class OrderCheck:
    families: dict[str, FamilyShares]
    bands: list[OrderBand]
    verdict: OrderVerdict
    off_harmonic_share: float  # mass on no family's harmonic cells (mask rows included)


def family_shares(a: np.ndarray, cells_per_unit: int, n_harmonics: int = N_HARMONICS,
                  defect_orders: dict[str, float] | None = None) -> dict[str, FamilyShares]:
    """Shares per family of an (F, R, L) map (any scale; normalised here); with the defect
    orders, also the share on :func:`line_cells`."""
    a = np.asarray(a, dtype=np.float64)
    f, r, length = a.shape
    total = float(a.sum())
    a = a / total if total > 0 else a
    cols = harmonic_cells(length, cells_per_unit, n_harmonics).any(axis=0)
    r = min(r, len(SIDEBANDS))  # the mask row carries no attribution (see attribution_map)
    grid = f * r * length
    n_cols = int(cols.sum())
    rows = list(range(len(SIDEBANDS)))
    out = {}
    for i, name in enumerate(FAMILIES[:f]):
        plane = a[i]
        mass = float(plane.sum())
        on, side = float(plane[CENTRE_ROW, cols].sum()), float(plane[list(SIDEBAND_ROWS)][:, cols].sum())
        out[name] = FamilyShares(
            plane=Share(float(plane.sum()), r * length / grid),
            harmonics=Share(float(plane[rows][:, cols].sum()), len(rows) * n_cols / grid),
            centre=Share(float(plane[CENTRE_ROW, cols].sum()), n_cols / grid),
            sidebands=Share(float(plane[list(SIDEBAND_ROWS)][:, cols].sum()),
                            len(SIDEBAND_ROWS) * n_cols / grid),
            in_plane=Share(on / mass if mass > 0 else 0.0, n_cols / (r * length)),
            sidebands_in_plane=Share(side / mass if mass > 0 else 0.0,
                                     len(SIDEBAND_ROWS) * n_cols / (r * length)),
            lines=None if defect_orders is None else _line_share(
                plane, line_cells(length, cells_per_unit, _order(name, defect_orders),
                                  n_harmonics)))
    return out


def _order(family: str, defect_orders: dict[str, float]) -> float:
    return 1.0 if family == "SHAFT" else float(defect_orders[family])


def _line_share(plane: np.ndarray, mask: np.ndarray) -> Share:
    mass = float(plane.sum())
    on = float(plane[: len(mask)][mask].sum())
    return Share(on / mass if mass > 0 else 0.0, float(mask.mean()))


def order_bands(a: np.ndarray, cells_per_unit: int, defect_orders: dict[str, float],
                shaft_hz: float | None, k: int = 5, n_harmonics: int = N_HARMONICS
                ) -> list[OrderBand]:
    """The ``k`` (family, harmonic, sideband) cell groups holding most attribution."""
    a = np.asarray(a, dtype=np.float64)
    total = float(a.sum())
    if total <= 0:
        return []
    cells = harmonic_cells(a.shape[-1], cells_per_unit, n_harmonics)
    groups = np.einsum("fsl,kl->fks", a[:, : len(SIDEBANDS)], cells.astype(np.float64)) / total
    out = []
    for flat in np.argsort(-groups, axis=None)[:k]:
        fi, ki, si = np.unravel_index(flat, groups.shape)
        fam = FAMILIES[fi]
        base = 1.0 if fam == "SHAFT" else float(defect_orders.get(fam, np.nan))
        order = (ki + 1) * base + SIDEBANDS[si]
        out.append(OrderBand(fam, int(ki + 1), int(SIDEBANDS[si]), round(float(order), 4),
                             None if shaft_hz is None else round(float(order * shaft_hz), 3),
                             float(groups[fi, ki, si])))
    return out


def verdict(predicted: str, shares: dict[str, FamilyShares],
            ratio: float = CONSISTENT_RATIO) -> OrderVerdict:
    """``physics-consistent`` (verdict ``supports``) when the predicted family's harmonic cells
    hold >= ``ratio`` x chance within its plane and no other fault family's hold more;
    ``physics-inconsistent`` (``contradicts``) when another fault family carries more of the
    map than the predicted one and its harmonic cells hold >= ``ratio`` x chance; else
    ``inconclusive``. ``normal``: consistent when no fault family reaches ``ratio``."""
    r = {f: shares[f].in_plane.ratio for f in FAULT_FAMILIES if f in shares
         and shares[f].plane.share > 0}
    strong = {f: v for f, v in r.items() if v >= ratio}
    if predicted not in EXPECTED_FAMILY:
        if not strong:
            return OrderVerdict("supports", "physics-consistent", None,
                                f"no fault family's harmonic cells hold {ratio:g}x chance, as "
                                f"expected for {predicted!r}")
        names = ", ".join(f"{f} {v:.1f}x" for f, v in strong.items())
        return OrderVerdict("inconclusive", "inconclusive", None,
                            f"attribution concentrates on the harmonics of {names} although "
                            f"the verdict is {predicted!r}")
    fam = EXPECTED_FAMILY[predicted]
    own = r.get(fam, float("nan"))
    mass = {f: shares[f].plane.share for f in r}
    rivals = {f: v for f, v in strong.items() if f != fam and mass[f] > mass.get(fam, 0.0)}
    if rivals:
        f, v = max(rivals.items(), key=lambda kv: kv[1])
        return OrderVerdict("contradicts", "physics-inconsistent", fam,
                            f"the attribution lies more on {f} ({100 * mass[f]:.0f}%, harmonics "
                            f"{v:.1f}x chance) than on the expected {fam} for {predicted!r}")
    if own >= ratio:
        return OrderVerdict("supports", "physics-consistent", fam,
                            f"{fam} harmonic cells hold {own:.1f}x chance within the {fam} plane "
                            f"({100 * shares[fam].harmonics.share:.1f}% of the attribution): "
                            f"a {predicted.replace('_', '-')} pattern")
    return OrderVerdict("inconclusive", "inconclusive", fam,
                        f"{fam} harmonic cells hold {own:.1f}x chance within the {fam} plane "
                        f"(< {ratio:g}x)")


def check(a: np.ndarray, cells_per_unit: int, predicted: str, defect_orders: dict[str, float],
          shaft_hz: float | None, n_bands: int = 5) -> OrderCheck:
    """Shares per family, the top (family, harmonic, sideband) bands and the verdict."""
    shares = family_shares(a, cells_per_unit, defect_orders=defect_orders)
    if not float(np.sum(a)) > 0:
        empty = OrderVerdict("inconclusive", "inconclusive", EXPECTED_FAMILY.get(predicted),
                             "the attribution map is all zero (e.g. Grad-CAM's ReLU'd class map "
                             "found no positive evidence at the last convolution)")
        return OrderCheck(shares, [], empty, 0.0)
    on = sum(s.harmonics.share for s in shares.values())
    return OrderCheck(shares, order_bands(a, cells_per_unit, defect_orders, shaft_hz, n_bands),
                      verdict(predicted, shares), max(0.0, 1.0 - on))
