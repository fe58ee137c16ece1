"""Where the bearing's own defect combs line up: a per-window correction of the given shaft speed.

A given rpm is often a few percent off the shaft's speed during the snapshot: an induction
motor's slip, a set-point instead of a measurement, a SCADA average that lags a run-up. The
defect combs are read within about 2 % of each harmonic, so 3 % is enough to lose the third
harmonic and 5 % to lose the comb: on simulated machines of random geometry a given rpm 3 % off
took the envelope rule from 0.97 to 0.63 macro-F1, 5 % off to 0.20.

An analyst then slides the defect-frequency cursors until the comb lines up. This does the same:
for each window, the envelope rule's reading of the race and ball families is taken at shaft
speeds ``1 +- k * SPEED_STEP`` times the given one (up to ``spec.speed_search``), and the window
moves to the best speed only if that comb reads at least ``spec.speed_gain_db`` stronger than at
the given speed. Healthy spectra have no comb to gain on, so they stay at the given speed; the shaft
speed itself is never re-estimated from the raw spectrum, where mains harmonics and gear lines
pull a comb fit by percents (measured on CWRU and UESTC). Pure arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

from models.family_head import rule_windows
from pipelines.features.cells import CellReader
from pipelines.features.spec import InputSpec

SPEED_STEP = 0.01  # relative: half the rule's +-2 % window, so no comb falls between two steps
# How much stronger a comb must read to move a window off the given speed is the spec's
# ``speed_gain_db`` (6 dB for current models, one unit of the comb gate: a move must be worth as
# much as the gate itself). Every window the search may move is also a window that another
# component's comb can capture: on a healthy machine a registered bearing whose defect order
# lies within about 7 % of such a comb (+-2 % read, +-5 % searched) is called faulty. Rule
# readings per 1-s window, the gain at 4 / 5 / 6 / 7 / 8 dB (mains guard at 3 %):
#   UESTC healthy runs, own bearing, called normal: 97.8 / 98.7 / 99.3 / 99.3 / 99.3 %
#     (99.3 % without the search);
#   UESTC healthy runs read at 10 random bearings each: 84.2 / 86.3 / 88.7 / 90.9 / 92.2 %
#     (93.6 % without the search);
#   UESTC O_800 (recorded speed about 4 % off) named outer race: 100 % up to 7 dB, 96 % at 8
#     (0 % without the search);
#   CWRU's windows and the other UESTC faults: unchanged;
#   120 simulated machines of random geometry, rpm given 5 % off (both signs), recall: outer
#     race 0.83 / 0.83 / 0.83 / 0.80 / 0.77, inner 0.95 / 0.95 / 0.93 / 0.93 / 0.92, ball 0.72 /
#     0.68 / 0.67 / 0.62 / 0.58 (without the search 0.00 / 0.08 / 0.13; every simulated
#     healthy machine normal throughout).
# Checkpoints saved before the field were trained with 4 dB and keep it.
SEARCH_FAMILIES = ("BPFO", "BPFI", "BSF")  # the families the rule names (BSF on 2, 4, 6 x BSF)
FIRST_HARMONIC = {"BPFO": 1, "BPFI": 1, "BSF": 2}  # the lowest line the rule reads
# Mains harmonics ring through envelope spectra (motor fields, ground loops); a comb may never
# be moved onto them: UESTC's healthy 800 rpm runs carry 50/100/150 Hz lines that a 2 x BSF comb
# 4 % below the given speed matches (healthy windows called normal fell from 100 % to 53 %).
LINE_HZ = (50.0, 60.0)
LINE_MULTIPLES = (1, 2, 3)
LINE_TOL = 0.03  # the rule captures a line within about 3 % of each harmonic it reads


def speed_scales(search: float) -> np.ndarray:
    """Candidate speed factors, nearest to 1 first (so a tie keeps the given speed)."""
    k = int(np.floor(search / SPEED_STEP + 1e-9))
    steps = np.arange(-k, k + 1)
    steps = steps[np.argsort(np.abs(steps) + 0.1 * (steps < 0), kind="stable")]
    return 1.0 + steps * SPEED_STEP


def comb_readings(reader: CellReader, shaft_hz: float, orders: dict[str, float],
                  scales: np.ndarray, spec: InputSpec) -> np.ndarray:
    """A snapshot's whitened envelope spectra -> (B, len(scales), len(SEARCH_FAMILIES)): the
    rule's reading (mean over harmonics 1-3, BSF 2-4-6, of the largest cell within +-2 %) of
    each family, read as if the shaft turned at ``shaft_hz * scale``. dB, with the spectrum's
    own offset (differences between scales are what matter). Only the cells inside the rule's
    harmonic windows are read."""
    race, ball = (w.numpy() for w in rule_windows(spec.n_cells, spec.cells_per_unit))
    out = np.empty((len(reader.levels[0]), len(scales), len(SEARCH_FAMILIES)))
    for windows, fams in ((race, [f for f in SEARCH_FAMILIES if f != "BSF"]), (ball, ["BSF"])):
        used = np.flatnonzero(windows.any(0))  # (L',) cells any harmonic window holds
        grid = (scales[:, None] * np.array([float(orders[f]) for f in fams])[None]).reshape(-1)
        cells = reader.read(shaft_hz, grid, np.zeros(1), spec, cells=used)[:, :, 0]
        cells = np.nan_to_num(cells, nan=-np.inf)  # (B, S*F', L')
        win = windows[:, used]  # (H, L')
        peak = np.where(win[None, None], cells[:, :, None, :], -np.inf).max(axis=-1)
        peak = np.where(np.isfinite(peak), peak, 0.0)  # a harmonic beyond the band reads 0 dB
        reading = peak.mean(axis=-1).reshape(len(cells), len(scales), len(fams))
        for j, f in enumerate(fams):
            out[:, :, SEARCH_FAMILIES.index(f)] = reading[:, :, j]
    return out


def on_line_harmonics(shaft_hz: float, orders: dict[str, float], scales: np.ndarray
                      ) -> np.ndarray:
    """(len(scales), len(SEARCH_FAMILIES)) bool: the comb's first read line lies within
    ``LINE_TOL`` of a mains harmonic (``LINE_HZ`` x ``LINE_MULTIPLES``)."""
    first = np.array([FIRST_HARMONIC[f] * float(orders[f]) for f in SEARCH_FAMILIES])
    f_hz = scales[:, None] * first[None, :] * shaft_hz
    lines = np.array([m * hz for hz in LINE_HZ for m in LINE_MULTIPLES])
    return (np.abs(f_hz[..., None] / lines - 1.0) <= LINE_TOL).any(-1)


def comb_speed_scales(reader: CellReader, shaft_hz: float, orders: dict[str, float],
                      spec: InputSpec) -> np.ndarray:
    """(B,) speed factor per window: where its strongest race/ball comb lines up, if that reads
    ``spec.speed_gain_db`` above the comb at the given speed, else 1; never onto a comb whose lines
    are mains harmonics (see the module)."""
    if spec.speed_search <= 0:
        return np.ones(len(reader.levels[0]))
    scales = speed_scales(spec.speed_search)
    readings = comb_readings(reader, shaft_hz, orders, scales, spec)
    on_line = on_line_harmonics(shaft_hz, orders, scales)
    on_line[0] = False  # the given speed is read as given
    strongest = np.where(on_line[None], -np.inf, readings).max(-1)
    best = np.argmax(strongest, axis=1)  # first maximum: the candidate nearest the given speed
    gain = np.take_along_axis(strongest, best[:, None], 1)[:, 0] - strongest[:, 0]
    return np.where(gain >= spec.speed_gain_db, scales[best], 1.0)
