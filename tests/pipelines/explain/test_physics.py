"""Attribution against kinematics: defect lines, tolerance windows, agreement vs chance, bands,
nearest lines, verdicts; a positive control (a model trained on planted defect combs) and the
physics reference on real CWRU recordings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import build_model
from pipelines.explain import attribution as attr
from pipelines.explain import physics as ph
from pipelines.learning.training import fit_quick

FREQS = np.arange(512) * (12_000 / 4096)  # the 1-D model's grid, to 1.5 kHz
KIN = ph.Kinematics(30.0)  # SKF 6205-2RS at 1800 rpm: BPFI 162.5, BPFO 107.5, 2xBSF 141.4 Hz


def test_lines_carry_harmonics_and_the_right_sidebands():
    f0 = KIN.fundamentals_hz()
    bpfi = ph.family_lines(KIN, ["BPFI"])
    assert len(bpfi.freq_hz) == 5 * 3 and set(bpfi.sideband_of) == {"SHAFT"}
    i = np.flatnonzero((bpfi.harmonic == 3) & (bpfi.sideband == -1))[0]
    assert bpfi.freq_hz[i] == pytest.approx(3 * f0["BPFI"] - 30.0)
    bpfo = ph.family_lines(KIN, ["BPFO"])
    assert (bpfo.sideband == 0).all() and np.allclose(bpfo.freq_hz, f0["BPFO"] * np.arange(1, 6))
    ball = ph.family_lines(KIN, ["BSF2"], n_harmonics=2)
    assert set(ball.sideband_of) == {"FTF"}
    assert sorted(ball.freq_hz)[0] == pytest.approx(f0["BSF2"] - f0["FTF"])
    mesh = ph.family_lines(ph.Kinematics(25.0, gear_teeth={"pinion": 23}), ["MESH:pinion"],
                           n_harmonics=1)
    assert sorted(mesh.freq_hz) == pytest.approx([550.0, 575.0, 600.0])
    assert ph.family_lines(KIN, ["BPFI"], fmax_hz=200).freq_hz.max() <= 200


def test_tolerance_windows_and_chance():
    lines = np.array([100.0, 1000.0])
    mask = ph.line_mask(FREQS, lines, tol=0.03)
    df = FREQS[1]
    # 100 Hz +- 3 Hz touches the bins within 3 + df/2 of it; 1000 Hz +- 30 Hz many more.
    assert set(np.flatnonzero(mask)) == set(
        np.flatnonzero(np.abs(FREQS - 100) <= 3 + df / 2)) | set(
        np.flatnonzero(np.abs(FREQS - 1000) <= 30 + df / 2))
    tiny = ph.line_mask(FREQS, np.array([100.0]), tol=1e-6)  # never narrower than half a bin
    assert tiny.sum() >= 1
    uniform = ph.agreement(np.ones_like(FREQS), FREQS, lines)
    assert uniform.share == pytest.approx(uniform.chance) and uniform.ratio == pytest.approx(1.0)
    on_lines = ph.agreement(mask.astype(float), FREQS, lines)
    assert on_lines.share == pytest.approx(1.0) and on_lines.ratio == pytest.approx(1 / mask.mean())
    assert ph.agreement(np.zeros_like(FREQS), FREQS, lines).share == 0.0


def test_salient_bands_find_planted_peaks_in_order():
    a = np.full(len(FREQS), 1e-4)
    for f, h in ((162.0, 5.0), (600.0, 3.0), (1200.0, 1.0)):
        a += h * np.exp(-0.5 * ((FREQS - f) / 4.0) ** 2)
    bands = ph.salient_bands(a, FREQS, k=3)
    assert [round(b.peak_hz / 10) for b in bands] == [16, 60, 120]
    assert all(b.lo_hz <= b.peak_hz <= b.hi_hz for b in bands)
    assert bands[0].share > bands[1].share > bands[2].share and sum(b.share for b in bands) < 1
    spans = sorted((b.lo_hz, b.hi_hz) for b in bands)
    assert all(hi <= lo2 for (_, hi), (lo2, _) in zip(spans, spans[1:], strict=False))
    assert ph.salient_bands(np.zeros(10), FREQS[:10]) == []


def test_nearest_line_tolerance_and_simplicity():
    every = ph.family_lines(KIN, ["SHAFT", "FTF", "BPFO", "BPFI", "BSF", "BSF2"])
    bpfi = KIN.fundamentals_hz()["BPFI"]
    m = ph.nearest_line(3 * bpfi * 1.02, every, bin_hz=2.93)
    assert (m.family, m.harmonic, m.sideband) == ("BPFI", 3, 0) and m.within_tolerance
    assert m.error_pct == pytest.approx(2.0, abs=1e-6)
    assert m.tolerance_hz == pytest.approx(0.03 * 3 * bpfi)
    off = ph.nearest_line(2 * bpfi + 30.0 + 20.0, ph.family_lines(KIN, ["BPFI"]), bin_hz=2.93)
    assert off.sideband == 1 and not off.within_tolerance
    assert ph.nearest_line(3000.0, every, bin_hz=2.93) is None  # far above the 5th harmonic
    # 5 x BPFO (537.5) vs 4 x BPFO (430) +- ...: the exact, simplest line wins.
    assert ph.nearest_line(5 * 107.5, ph.family_lines(KIN, ["BPFO"])).harmonic == 5


def _ag(**ratios: float) -> dict[str, ph.Agreement]:
    return {f: ph.Agreement(share=0.1 * r, chance=0.1, n_lines=5) for f, r in ratios.items()}


def _match(family: str) -> ph.Match:
    return ph.Match(family, 1, 0, "", 100.0, 0.0, 3.0, True)


def test_verdicts():
    v = ph.verdict("inner_race", _ag(BPFI=3.0, BPFO=1.0, BSF2=1.0), [_match("BPFI")])
    assert v.verdict == "supports" and v.expected_family == "BPFI" and "3.0x" in v.reason
    assert ph.verdict("inner_race", _ag(BPFI=3.0, BPFO=1, BSF2=1), [None]).verdict == \
        "inconclusive"  # no top band on an inner-race line
    v = ph.verdict("inner_race", _ag(BPFI=1.0, BPFO=4.0, BSF2=1.0), [_match("BPFO")])
    assert v.verdict == "contradicts" and "BPFO" in v.reason
    assert ph.verdict("outer_race", _ag(BPFI=1, BPFO=1.2, BSF2=1), [_match("BPFO")]).verdict \
        == "inconclusive"
    assert ph.verdict("normal", _ag(BPFI=1, BPFO=1, BSF2=1), []).verdict == "supports"
    assert ph.verdict("normal", _ag(BPFI=1, BPFO=5, BSF2=1), []).verdict == "inconclusive"


def test_check_end_to_end_on_a_map_on_the_inner_race_lines():
    lines = ph.family_lines(KIN, ["BPFI"], fmax_hz=FREQS[-1]).freq_hz
    a = 1e-3 + sum(np.exp(-0.5 * ((FREQS - f) / 2.0) ** 2) for f in lines)
    chk = ph.check(a, FREQS, KIN, "inner_race")
    assert chk.verdict.verdict == "supports"
    assert chk.agreements["BPFI"].ratio > 3 and chk.agreements["BPFO"].ratio < 1.5
    assert chk.matches[0].family == "BPFI" and chk.matches[0].within_tolerance
    assert set(chk.lines.family[chk.lines.sideband != 0]) == {"BPFI"}


def _spectra(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised log spectra: noise + shaft harmonics, plus BPFI (class 1) or BPFO (class 2)
    combs at a speed varying by +-3 % between samples."""
    rng = np.random.default_rng(seed)
    y, shaft = rng.integers(0, 3, n), 30.0 * rng.uniform(0.97, 1.03, n)
    z = rng.standard_normal((n, len(FREQS))) * 2.0
    for i in range(n):  # a few hundred tiny spectra: clearer than a vectorised line builder
        kin = ph.Kinematics(shaft[i])
        fams = ["SHAFT"] + ([{1: "BPFI", 2: "BPFO"}[y[i]]] if y[i] else [])
        for f in ph.family_lines(kin, fams, n_harmonics=5, fmax_hz=FREQS[-1]).freq_hz:
            z[i] += 10.0 * np.exp(-0.5 * ((FREQS - f) / 3.0) ** 2)
    z = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)
    return z[:, None].astype(np.float32), y, shaft


def test_positive_control_a_model_that_uses_the_defect_lines_is_seen_to_use_them():
    x, y, _ = _spectra(600, 0)
    torch.manual_seed(0)
    m = fit_quick(build_model("cnn1d", {"n_classes": 3, "channels": [8, 16, 16, 32],
                                             "kernels": [5, 3, 3, 3]}), x, y, steps=150)
    xt, yt, shaft = _spectra(40, 1)
    fault = np.flatnonzero(yt > 0)
    maps = attr.normalise_rows(attr.attribute(m, xt[fault], yt[fault], "ig"))[:, 0]
    ratios = []
    for a, cls, s in zip(maps, yt[fault], shaft[fault], strict=True):
        fam = {1: "BPFI", 2: "BPFO"}[cls]
        ratios.append(ph.family_agreements(a, FREQS, ph.Kinematics(s), [fam])[fam].ratio)
    assert np.mean(ratios) > 3.0, ratios


CWRU = Path(os.environ.get("WINDWATCH_DATASETS_DIR", "../shared/datasets"))


@pytest.mark.skipif(not (CWRU / "cwru_12k_drive_end_dev" / "labels.csv").exists(),
                    reason="CWRU data not found (set WINDWATCH_DATASETS_DIR)")
def test_envelope_spectrum_of_real_cwru_faults_concentrates_on_their_lines():
    from pipelines.evaluation.explanations import reference_shares
    from pipelines.features.spec import SPECTRUM_SPEC
    from pipelines.learning.datasets import load_cwru

    recs = [r for r in load_cwru(CWRU) if r.load_hp == 1 and r.fault_size_in == 0.021]
    env = {r.label: reference_shares(r, SPECTRUM_SPEC)["envelope power"].ratio for r in recs}
    assert env["inner_race"] > 3 and env["outer_race"] > 3, env
