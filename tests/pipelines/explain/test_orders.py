"""The defect-order physics check: harmonic cells, shares against chance, line cells, bands in
orders and Hz, verdicts; the attribution methods and the figure on the family models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import build_model
from pipelines.explain import attribution as attr
from pipelines.explain import orders as od
from pipelines.explain.order_figure import OrderFigure, render_order_png
from pipelines.features.defect_orders import FAMILIES, N_ROWS, SIDEBANDS
from pipelines.features.spec import DEFECT_ORDER_SPEC as SPEC

SKF6205 = {"FTF": 0.3983, "BPFO": 3.5848, "BPFI": 5.4152, "BSF": 2.357}
F, R, L, CPU = len(FAMILIES), N_ROWS, 128, 16
BPFI = FAMILIES.index("BPFI")


def test_harmonic_cells_sit_at_16k_minus_1_and_widen_with_k():
    cells = od.harmonic_cells(L, CPU)
    assert cells.shape == (7, L)
    for k in range(1, 8):
        assert cells[k - 1, 16 * k - 1]
    widths = cells.sum(axis=1)
    assert list(widths) == [1, 1, 1, 3, 3, 3, 5]  # max(2 % of k, half a cell) either side


def _concentrated(family: int) -> np.ndarray:
    a = np.zeros((F, R, L))
    cols = od.harmonic_cells(L, CPU).any(axis=0)
    for r in range(len(SIDEBANDS)):
        a[family, r, cols] = 1.0
    return a


def test_attribution_on_bpfi_harmonics_is_consistent_with_an_inner_race_verdict():
    a = 0.002 * np.random.default_rng(0).random((F, R, L)) + _concentrated(BPFI)
    a[:, -1] = 0.0
    s = od.family_shares(a, CPU, defect_orders=SKF6205)
    assert s["BPFI"].plane.share > 0.9 and s["BPFI"].in_plane.ratio > 6
    assert s["BPFI"].harmonics.chance == pytest.approx(5 * 17 / (F * 5 * L))
    assert s["BPFI"].in_plane.chance == pytest.approx(17 / (5 * L))
    assert s["BPFI"].sidebands_in_plane.chance == pytest.approx(4 * 17 / (5 * L))
    assert s["BPFI"].sidebands_in_plane.ratio > 6
    assert s["BPFO"].harmonics.share < 0.01
    chk = od.check(a, CPU, "inner_race", SKF6205, shaft_hz=25.0)
    assert chk.verdict.physics == "physics-consistent" and chk.verdict.verdict == "supports"
    assert chk.verdict.expected_family == "BPFI" and "BPFI" in chk.verdict.reason
    top = chk.bands[0]
    assert top.family == "BPFI" and 1 <= top.harmonic <= 7 and top.sideband in SIDEBANDS
    assert top.order == pytest.approx(top.harmonic * 5.4152 + top.sideband, abs=1e-3)
    assert top.hz == pytest.approx(top.order * 25.0, abs=1e-2)
    assert chk.off_harmonic_share < 0.2


def test_uniform_attribution_is_chance():
    a = np.ones((F, R, L))
    a[:, -1] = 0.0  # maps carry nothing on the mask row
    s = od.family_shares(a, CPU, defect_orders=SKF6205)
    for fam in FAMILIES:
        assert s[fam].plane.ratio == pytest.approx(1.0)
        assert s[fam].harmonics.ratio == pytest.approx(1.0)
        assert s[fam].in_plane.ratio == pytest.approx(1.0)
        assert s[fam].sidebands_in_plane.ratio == pytest.approx(1.0)
        assert s[fam].centre.ratio == pytest.approx(1.0)
        assert s[fam].sidebands.ratio == pytest.approx(1.0)
        assert s[fam].lines.ratio == pytest.approx(1.0)
    v = od.verdict("inner_race", s)
    assert v.physics == "inconclusive" and v.verdict == "inconclusive"
    assert od.verdict("normal", s).physics == "physics-consistent"


def test_a_rival_family_contradicts_and_normal_with_a_comb_is_inconclusive():
    a = _concentrated(FAMILIES.index("BPFO")) + 0.1 * _concentrated(BPFI)
    s = od.family_shares(a, CPU)
    v = od.verdict("inner_race", s)
    assert v.physics == "physics-inconsistent" and v.verdict == "contradicts" and "BPFO" in v.reason
    assert od.verdict("outer_race", s).physics == "physics-consistent"
    assert od.verdict("normal", s).verdict == "inconclusive"


def test_line_cells_follow_a_harmonic_through_the_sideband_rows():
    lines = od.line_cells(L, CPU, 5.4152)
    centre = SIDEBANDS.index(0)
    assert lines[centre, 15] and lines[centre, 31]  # k = 1, 2 in the centre row
    plus1 = SIDEBANDS.index(1)  # row s = +1 reads order 5.4152 u + 1: k = 1 at u = 1 - 1/5.4152
    j = int(round((1 - 1 / 5.4152) * CPU)) - 1
    assert lines[plus1, j] and not lines[plus1, 15]
    a = np.zeros((F, R, L))
    a[BPFI, : len(SIDEBANDS)][lines] = 1.0
    s = od.family_shares(a, CPU, defect_orders=SKF6205)["BPFI"]
    assert s.lines.share == pytest.approx(1.0) and s.lines.ratio == pytest.approx(1 / lines.mean())


@pytest.mark.parametrize("method", attr.METHODS)
@pytest.mark.parametrize("arch", ["family1d", "family2d"])
def test_every_method_maps_family_models_onto_families_rows_cells(arch, method):
    torch.manual_seed(0)
    model = build_model(arch, {"n_classes": 4}).eval()
    x = 3.0 * np.random.default_rng(0).standard_normal((4, F, R, L)).astype(np.float32)
    raw = attr.attribute(model, x, np.array([1, 2, 3, 0]), method,
                         baselines=attr.order_baseline(x))
    assert raw.shape == x.shape and np.isfinite(raw).all() and (raw >= 0).all()
    m = attr.attribution_map(model, x, SPEC, 1, method)
    assert m.values.shape == (F, R, L) and m.values.sum() == pytest.approx(1.0, abs=1e-5)
    assert m.orders is not None and m.orders[15] == 1.0 and len(m.freqs_hz) == 0
    assert m.values[:, -1].sum() == 0.0  # nothing on the mask row
    if method != "gradcam":  # the inner-race logit reads the BPFI plane (and the gate's)
        assert m.values[BPFI].sum() > 0.05 and m.values[FAMILIES.index("SHAFT")].sum() == 0
    if method == "gradcam":  # no row resolution: spread evenly over the reading rows
        rows = m.values.sum(axis=2)[:, : len(SIDEBANDS)]
        assert np.allclose(rows, rows[:, :1])


def test_integrated_gradients_keep_the_mask_in_their_baseline_and_are_complete():
    torch.manual_seed(0)
    model = build_model("family1d", {"n_classes": 4}).eval()
    x = 3.0 * np.random.default_rng(1).standard_normal((2, F, R, L)).astype(np.float32)
    base = attr.order_baseline(x)
    assert (base[:, :, -1] == x[:, :, -1]).all() and (base[:, :, :-1] == 0).all()
    a = attr.attribute(model, x, 2, "ig", signed=True, baselines=base, ig_steps=64)
    assert np.abs(a[:, :, -1]).max() == 0.0
    with torch.no_grad():
        gap = model(torch.from_numpy(x))[:, 2] - model(torch.from_numpy(base))[:, 2]
    np.testing.assert_allclose(a.reshape(2, -1).sum(axis=1), gap.numpy(), rtol=0.05, atol=0.05)


def test_the_figure_shows_five_family_planes():
    a = _concentrated(BPFI)
    a /= a.sum()
    chk = od.check(a, CPU, "inner_race", SKF6205, 25.0)
    fig = OrderFigure(attribution=a, model_input=np.zeros((F, R, L)),
                      orders=od.cell_orders(L, CPU), cells_per_unit=CPU, shares=chk.families,
                      defect_orders=SKF6205, shaft_hz=25.0, expected_family="BPFI",
                      bands=chk.bands, title="test", notes=["shaft 1500 rpm"])
    png = render_order_png(fig, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


def test_an_all_zero_map_is_inconclusive_without_bands():
    chk = od.check(np.zeros((F, R, L)), CPU, "outer_race", SKF6205, 25.0)
    assert chk.verdict.physics == "inconclusive" and chk.bands == []
    assert chk.verdict.expected_family == "BPFO" and "all zero" in chk.verdict.reason
