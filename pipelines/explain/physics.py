"""Attribution checked against drivetrain kinematics: defect lines, salient bands, verdicts.

Line families (names as in ``pipelines.dsp.kinematics``): SHAFT (1x), FTF, BPFO, BPFI, BSF (one
impact per ball spin), BSF2 (= 2 x BSF: a ball defect hits both races; CWRU's "4.7135"), and
``MESH:<gear>`` for configured gears. Each family is its fundamental, harmonics ``k f`` and,
where the physics modulates it, sidebands ``k f + m g``: inner-race lines at the shaft rate (the
defect turns with the shaft through the load zone), ball lines at the cage rate (the ball
travels with the cage), gear mesh at the shaft rate; outer-race lines are not modulated (the
defect sits still in the load zone).

Tolerance: a line at ``f`` owns ``f +- tol * f`` (default 3 %: slip of 1-2 % plus the error
of a reported or estimated speed, which grows with harmonic order), never narrower than half a
frequency bin. The *physics agreement* of a map is the share of its mass in the bins that the
lines' windows touch; *chance* is the share of bins they touch (what a uniform map would get).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.dsp.kinematics import BEARINGS, DEFAULT_BEARING, BearingGeometry

TOLERANCE = 0.03
N_HARMONICS = 5  # fundamental to 5x: the lines an analyst reads off an envelope spectrum
N_SIDEBANDS = 1
MAX_MATCH_ERROR = 0.10  # a band farther than this from every line has no "nearest line"
SUPPORT_RATIO = 2.0  # share >= 2x chance on the expected family "supports" the verdict
EXPECTED_FAMILY = {"inner_race": "BPFI", "outer_race": "BPFO", "ball": "BSF2"}
MODULATION = {"BPFI": "SHAFT", "BSF": "FTF", "BSF2": "FTF"}  # MESH:* -> SHAFT as well
FAULT_FAMILIES = ("BPFI", "BPFO", "BSF2")


@dataclass(frozen=True)
class Kinematics:
    """Everything that places lines: the measured shaft's speed, its bearing and gears."""

    shaft_hz: float
    bearing: BearingGeometry = BEARINGS[DEFAULT_BEARING].geometry
    gear_teeth: dict[str, float] = field(default_factory=dict)  # name -> teeth x speed ratio

    def fundamentals_hz(self) -> dict[str, float]:
        """SHAFT, FTF, BPFO, BPFI, BSF, BSF2 and MESH:<gear> in Hz."""
        out = {"SHAFT": self.shaft_hz, **self.bearing.defect_frequencies_hz(self.shaft_hz)}
        out.update({f"MESH:{k}": v * self.shaft_hz for k, v in self.gear_teeth.items()})
        return out


@dataclass(frozen=True)
class Lines:
    """Line frequencies of one or more families with their identity (parallel arrays)."""

    freq_hz: np.ndarray
    family: np.ndarray  # object array of str
    harmonic: np.ndarray
    sideband: np.ndarray  # signed order m of the modulating frequency
    sideband_of: np.ndarray  # object array: SHAFT, FTF or ""


def family_lines(kin: Kinematics, families: tuple[str, ...] | list[str],
                 n_harmonics: int = N_HARMONICS, n_sidebands: int = N_SIDEBANDS,
                 fmax_hz: float = np.inf) -> Lines:
    """Harmonics 1..n of each family and their +-1..n_sidebands sidebands below ``fmax_hz``."""
    f0 = kin.fundamentals_hz()
    parts: list[tuple] = []
    for fam in families:
        mod = "SHAFT" if fam.startswith("MESH:") else MODULATION.get(fam, "")
        ms = np.arange(-n_sidebands, n_sidebands + 1) if mod else np.zeros(1, np.int64)
        k, m = np.meshgrid(np.arange(1, n_harmonics + 1), ms, indexing="ij")
        f = k * f0[fam] + m * (f0[mod] if mod else 0.0)
        parts.append((f.ravel(), np.full(f.size, fam, object), k.ravel(), m.ravel(),
                      np.full(f.size, mod if mod else "", object)))
    if not parts:
        return Lines(*(np.zeros(0), np.zeros(0, object), np.zeros(0, np.int64),
                       np.zeros(0, np.int64), np.zeros(0, object)))
    f, families_, k, m, of = (np.concatenate(c) for c in zip(*parts, strict=True))
    keep = (f > 0) & (f <= fmax_hz)
    return Lines(f[keep], families_[keep], k[keep], m[keep], of[keep])


def bin_width_hz(freqs_hz: np.ndarray) -> float:
    """Spacing of a uniform frequency grid (1 Hz for a single bin)."""
    return float(freqs_hz[1] - freqs_hz[0]) if len(freqs_hz) > 1 else 1.0


def line_mask(freqs_hz: np.ndarray, lines_hz: np.ndarray, tol: float = TOLERANCE) -> np.ndarray:
    """(F,) bins whose extent [f - df/2, f + df/2] meets some line's +-tol window."""
    df = bin_width_hz(freqs_hz)
    half = np.maximum(tol * lines_hz, df / 2)
    lo, hi = lines_hz - half, lines_hz + half
    # Bin i meets window j iff f_i - df/2 <= hi_j and f_i + df/2 >= lo_j: (F, L) in one go.
    meets = ((freqs_hz[:, None] - df / 2) <= hi[None]) & ((freqs_hz[:, None] + df / 2) >= lo[None])
    return np.asarray(meets.any(axis=1))


@dataclass(frozen=True)
class Agreement:
    share: float  # attribution mass on the family's lines
    chance: float  # fraction of bins those lines touch
    n_lines: int

    @property
    def ratio(self) -> float:
        """Share over chance (NaN when the lines cover none of the axis)."""
        return self.share / self.chance if self.chance > 0 else float("nan")


def agreement(per_freq: np.ndarray, freqs_hz: np.ndarray, lines_hz: np.ndarray,
              tol: float = TOLERANCE) -> Agreement:
    """Share of ``per_freq`` (F,) mass within tolerance of ``lines_hz``, against chance."""
    mask = line_mask(freqs_hz, lines_hz, tol)
    total = float(per_freq.sum())
    share = float(per_freq[mask].sum()) / total if total > 0 else 0.0
    return Agreement(share, float(mask.mean()), len(lines_hz))


def family_agreements(per_freq: np.ndarray, freqs_hz: np.ndarray, kin: Kinematics,
                      families: tuple[str, ...] | list[str], tol: float = TOLERANCE,
                      n_harmonics: int = N_HARMONICS) -> dict[str, Agreement]:
    """:func:`agreement` of each family (its harmonics and sidebands) on the map's axis."""
    fmax = float(freqs_hz[-1])
    return {fam: agreement(per_freq, freqs_hz,
                           family_lines(kin, [fam], n_harmonics, fmax_hz=fmax).freq_hz, tol)
            for fam in families}


@dataclass(frozen=True)
class Band:
    lo_hz: float
    hi_hz: float
    peak_hz: float
    share: float


def salient_bands(per_freq: np.ndarray, freqs_hz: np.ndarray, k: int = 5,
                  smooth_bins: int = 3) -> list[Band]:
    """The ``k`` bands holding most attribution: peaks of the (lightly smoothed) map, each
    extended to where it falls below half its height, sorted by their share of the total."""
    import scipy.signal

    total = float(per_freq.sum())
    if total <= 0 or len(per_freq) < 3:
        return []
    kernel = np.ones(smooth_bins) / smooth_bins
    s = np.convolve(per_freq, kernel, mode="same")
    peaks, _ = scipy.signal.find_peaks(np.r_[0.0, s, 0.0])
    peaks -= 1  # padding lets bins 0 and F-1 be peaks
    if len(peaks) == 0:
        return []
    _, _, left, right = scipy.signal.peak_widths(s, peaks, rel_height=0.5)
    lo = np.floor(left).astype(np.int64)
    hi = np.minimum(np.ceil(right).astype(np.int64), len(s) - 1)
    csum = np.r_[0.0, np.cumsum(per_freq)]
    shares = (csum[hi + 1] - csum[lo]) / total
    order = np.argsort(-shares)
    taken = np.zeros(len(s), bool)
    out: list[Band] = []
    for i in order:  # greedy, at most a few hundred peaks: no overlapping bands
        if taken[lo[i]: hi[i] + 1].any():
            continue
        taken[lo[i]: hi[i] + 1] = True
        p = lo[i] + int(np.argmax(per_freq[lo[i]: hi[i] + 1]))
        df = bin_width_hz(freqs_hz)
        out.append(Band(float(freqs_hz[lo[i]] - df / 2), float(freqs_hz[hi[i]] + df / 2),
                        float(freqs_hz[p]), float(shares[i])))
        if len(out) == k:
            break
    return out


@dataclass(frozen=True)
class Match:
    family: str
    harmonic: int
    sideband: int
    sideband_of: str
    line_hz: float
    error_pct: float
    tolerance_hz: float
    within_tolerance: bool


def nearest_line(freq_hz: float, lines: Lines, tol: float = TOLERANCE,
                 bin_hz: float = 0.0, max_error: float = MAX_MATCH_ERROR) -> Match | None:
    """The line nearest (relative error) to ``freq_hz``; lower orders win near-ties. None when
    no line lies within ``max_error`` (e.g. a band above the fifth harmonic: naming "the
    nearest line" there would only mislead)."""
    if len(lines.freq_hz) == 0:
        return None
    err = np.abs(freq_hz - lines.freq_hz) / lines.freq_hz
    if err.min() > max_error and np.abs(freq_hz - lines.freq_hz).min() > bin_hz / 2:
        return None
    # Prefer the simplest explanation among lines within 0.2 % of the best fit.
    simplicity = lines.harmonic + 2 * np.abs(lines.sideband)
    best = np.flatnonzero(err <= err.min() + 0.002)
    i = int(best[np.argmin(simplicity[best])])
    line = float(lines.freq_hz[i])
    tol_hz = max(tol * line, bin_hz / 2)
    return Match(str(lines.family[i]), int(lines.harmonic[i]), int(lines.sideband[i]),
                 str(lines.sideband_of[i]), line, float(100 * (freq_hz - line) / line), tol_hz,
                 bool(abs(freq_hz - line) <= tol_hz))


@dataclass(frozen=True)
class Verdict:
    verdict: str  # supports | contradicts | inconclusive
    expected_family: str | None
    reason: str


def verdict(predicted: str, agreements: dict[str, Agreement],
            matches: list[Match | None], ratio: float = SUPPORT_RATIO) -> Verdict:
    """Does the attribution pattern support the predicted class?

    Fault classes: ``supports`` if the expected family holds >= ``ratio`` x chance and a top
    band sits on one of its lines; ``contradicts`` if another fault family does so more
    strongly; else ``inconclusive``. ``normal``: the evidence for health may be the *absence*
    of defect energy, so attribution on defect lines is not a contradiction; ``supports`` when
    no fault family is concentrated on, else ``inconclusive``.
    """
    strong = {f: a.ratio for f, a in agreements.items()
              if f in FAULT_FAMILIES and a.ratio >= ratio}
    on_line = {m.family for m in matches if m is not None and m.within_tolerance}
    if predicted not in EXPECTED_FAMILY:
        if not strong:
            return Verdict("supports", None, "no defect family holds more attribution than "
                           f"{ratio:g}x chance, as expected for {predicted!r}")
        names = ", ".join(f"{f} {r:.1f}x" for f, r in strong.items())
        return Verdict("inconclusive", None, f"attribution concentrates on {names} although "
                       f"the verdict is {predicted!r}")
    fam = EXPECTED_FAMILY[predicted]
    r = agreements[fam].ratio if fam in agreements else float("nan")
    rivals = {f: v for f, v in strong.items() if f != fam and f in on_line and not v <= r}
    if rivals:
        f, v = max(rivals.items(), key=lambda kv: kv[1])
        return Verdict("contradicts", fam, f"attribution favours {f} ({v:.1f}x chance) over the "
                       f"expected {fam} ({r:.1f}x) for {predicted!r}")
    if fam in strong and fam in on_line:
        return Verdict("supports", fam, f"{fam} family holds {r:.1f}x chance and a top band "
                       f"sits on one of its lines: a {predicted.replace('_', '-')} pattern")
    return Verdict("inconclusive", fam, f"{fam} family holds {r:.1f}x chance"
                   + ("" if fam in on_line else "; no top band on its lines"))


def display_lines(kin: Kinematics, expected: str | None, fmax_hz: float) -> Lines:
    """Lines for a figure: fault-family and mesh harmonics, sidebands of the expected family."""
    fams = [*FAULT_FAMILIES, *[f for f in kin.fundamentals_hz() if f.startswith("MESH:")]]
    lines = family_lines(kin, fams, fmax_hz=fmax_hz)
    keep = (lines.sideband == 0) | (lines.family == expected)
    return Lines(*(a[keep] for a in (lines.freq_hz, lines.family, lines.harmonic, lines.sideband,
                                     lines.sideband_of)))


@dataclass(frozen=True)
class PhysicsCheck:
    bands: list[Band]
    matches: list[Match | None]
    agreements: dict[str, Agreement]
    verdict: Verdict
    lines: Lines  # for display


def check(per_freq: np.ndarray, freqs_hz: np.ndarray, kin: Kinematics, predicted: str,
          n_bands: int = 5) -> PhysicsCheck:
    """Top bands with their nearest line, agreement per family, and the verdict."""
    fmax = float(freqs_hz[-1])
    meshes = [f for f in kin.fundamentals_hz() if f.startswith("MESH:")]
    every = family_lines(kin, ["SHAFT", "FTF", "BPFO", "BPFI", "BSF", "BSF2", *meshes],
                         fmax_hz=fmax)
    bands = salient_bands(per_freq, freqs_hz, n_bands)
    matches = [nearest_line(b.peak_hz, every, bin_hz=bin_width_hz(freqs_hz)) for b in bands]
    ags = family_agreements(per_freq, freqs_hz, kin, [*FAULT_FAMILIES, *meshes])
    return PhysicsCheck(bands, matches, ags, verdict(predicted, ags, matches),
                        display_lines(kin, EXPECTED_FAMILY.get(predicted), fmax))
