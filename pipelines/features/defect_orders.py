"""Envelope spectra on defect-order axes: model inputs on which bearing physics lines up for ANY
bearing, speed, sample rate and sensor.

Per analysis window (at most ``spec.window_s`` seconds of the native-rate signal, no
resampling): the band of maximum spectral kurtosis (widened to hold the fastest defect family's
first harmonics), the analytic signal of that band by FFT, its envelope, and the envelope's
log-amplitude spectrum whitened by a running median one shaft order wide. That spectrum is then
read on *defect-order axes*: for each family f in ``FAMILIES`` (defect order o_f from the
bearing's geometry) and each shaft-speed sideband s, cell j holds the largest whitened value
within half a cell of order ``o_f * u_j + s`` (u_j = (j + 1) / cells_per_unit). So the k-th
harmonic of BPFO lands in cell ``k * cells_per_unit - 1`` of the BPFO plane whatever the bearing;
inner-race shaft sidebands land in the rows s = +-1 at the same cells. A last row per family marks
the cells where a family harmonic coincides with a shaft harmonic (integer order), where a peak
may be the shaft's, not the bearing's. With ``spec.speed_search`` each window is read at the
speed (within a few percent of the given one) where its strongest defect comb lines up
(``pipelines.features.comb_speed``): a given rpm is often a set-point or a lagging average.

The whitened spectrum is already in a unit that carries from machine to machine: dB above the
envelope spectrum's own local floor, whatever the sensor, gain or level. The cells are offset by
the median of the same reading at ``PROBE_ORDERS`` (orders no bearing family is tied to: the
bias of taking a maximum over a cell) and divided by a FIXED ``spec.db_per_unit``. They are not
divided by the probes' spread: a fault's envelope spectrum is full of lines, so its probes
spread widely and a per-snapshot scale shrank the fault's own comb towards the healthy range
(healthy windows of the 99th percentile and inner-race windows of the 10th percentile then
overlapped on both rigs; in fixed dB they separate at about 6 dB on both). Checkpoints saved
before ``db_per_unit`` existed keep the per-snapshot scale. Pure arrays in, arrays out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import torch

from models.family_head import rule_readings, rule_windows
from pipelines.dsp.envelope import spectral_kurtosis_band
from pipelines.dsp.spectra import fft_workers
from pipelines.features.cells import CellReader, row_medians
from pipelines.features.comb_speed import comb_speed_scales
from pipelines.features.spec import InputSpec
from pipelines.features.windows import gather_windows, window_starts

FAMILIES = ("FTF", "BPFO", "BPFI", "BSF", "SHAFT")
SIDEBANDS = (-2, -1, 0, 1, 2)  # shaft orders either side of each family harmonic
N_ROWS = len(SIDEBANDS) + 1  # + the shaft-coincidence row
CENTRE_ROW = SIDEBANDS.index(0)
COINCIDENCE_TOL = 0.05  # orders: a family harmonic this close to an integer order is ambiguous
# Fixed, irregular "null" orders (seeded once, never per call: inputs must be reproducible).
PROBE_ORDERS = np.sort(np.random.default_rng(1).uniform(1.3, 12.0, 40))
Z_SCALE = 3.0  # standardised cells are multiplied by this (a dB-like range for the CNN)


def family_orders(defect_orders: dict[str, float]) -> np.ndarray:
    """(len(FAMILIES),) orders from a geometry's ``defect_orders()`` (SHAFT = 1)."""
    return np.array([1.0 if f == "SHAFT" else float(defect_orders[f]) for f in FAMILIES])


@lru_cache(maxsize=16)
def _hann_sym(n: int) -> np.ndarray:
    w = np.hanning(n).astype(np.float32)
    w.flags.writeable = False
    return w


def analysis_band(x: np.ndarray, fs_hz: float, shaft_hz: float, orders: np.ndarray
                  ) -> tuple[float, float]:
    """The envelope band (Hz): maximum spectral kurtosis, widened around its centre to at least
    twice the 4th harmonic (+2 sidebands) of the fastest race family, inside 1-49 % of fs."""
    lo, hi = spectral_kurtosis_band(x, fs_hz)
    need = 2.0 * (4.0 * float(max(orders[1], orders[2])) + 2.0) * shaft_hz
    f_min, f_max = 0.01 * fs_hz, 0.49 * fs_hz
    need = min(need, f_max - f_min)
    if hi - lo < need:
        c = 0.5 * (lo + hi)
        lo, hi = c - need / 2, c + need / 2
        if lo < f_min:
            lo, hi = f_min, f_min + need
        if hi > f_max:
            lo, hi = f_max - need, f_max
    return float(lo), float(hi)


def whitened_envelope_spectrum(frames: np.ndarray, fs_hz: float, band_hz: tuple[float, float],
                               shaft_hz: float, fmax_hz: float) -> tuple[float, np.ndarray, int]:
    """(B, n) windows -> (df_hz, whitened log-amplitude envelope spectrum (B, K) in dB, k_max).

    The analytic signal of the band is formed by FFT (bins outside the band zeroed, the band
    moved to baseband: the envelope does not depend on the shift), zero-padded so its rate covers
    ``fmax_hz``. Bins at or above ``k_max`` lie beyond the band's width and carry no envelope.
    """
    x = np.asarray(frames, dtype=np.float32)
    n = x.shape[-1]
    spec = scipy.fft.rfft(x - x.mean(axis=-1, keepdims=True), axis=-1, workers=fft_workers())
    k_lo = max(1, int(np.ceil(band_hz[0] * n / fs_hz)))
    k_hi = min(spec.shape[-1] - 1, int(np.floor(band_hz[1] * n / fs_hz)))
    nb = max(1, k_hi - k_lo + 1)
    m = scipy.fft.next_fast_len(max(nb, int(np.ceil(2.2 * fmax_hz * n / fs_hz))))
    z = np.zeros((x.shape[0], m), dtype=np.complex64)
    z[:, :nb] = spec[:, k_lo : k_lo + nb]
    env = np.abs(scipy.fft.ifft(z, axis=-1, workers=fft_workers()))
    env -= env.mean(axis=-1, keepdims=True)
    amp = np.abs(scipy.fft.rfft(env * _hann_sym(m), axis=-1,
                                workers=fft_workers()))
    df_hz = fs_hz / n
    log_amp = np.log(amp + np.float32(1e-30) + np.float32(1e-9) * amp.max(axis=-1, keepdims=True))
    background = running_median(log_amp, max(5, int(round(2.0 * shaft_hz / df_hz))))
    k_max = min(amp.shape[-1], int((band_hz[1] - band_hz[0]) / df_hz))
    return df_hz, (log_amp - background) * np.float32(20.0 / np.log(10.0)), k_max


def running_median(z: np.ndarray, width: int) -> np.ndarray:
    """A running median of (B, K) rows over about ``width`` bins: medians of blocks of
    ``width // 2`` bins, linearly interpolated between block centres. A true sliding median
    costs ~100 ms on a snapshot; this one a fraction of a millisecond, and a background only
    needs to follow the envelope spectrum's slow trend."""
    b, k = z.shape
    block = max(2, width // 2)
    n_blocks = max(1, k // block)
    med = np.median(z[:, : n_blocks * block].reshape(b, n_blocks, block), axis=-1)
    centres = (np.arange(n_blocks) + 0.5) * block - 0.5
    bins = np.arange(k, dtype=np.float64)
    out = np.empty_like(z)
    for r in range(b):  # one np.interp per window (a few dozen), each vectorised over bins
        out[r] = np.interp(bins, centres, med[r])
    return out


def _robust_location_scale(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise median and 1.4826 x MAD of (B, M) values, NaNs ignored."""
    mu = row_medians(flat)
    return mu, 1.4826 * row_medians(np.abs(flat - mu[:, None])) + 1e-3


def coincidence_row(orders: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(len(orders), n_cells) in 0..Z_SCALE*10/3: 1 where ``order * u`` is an integer order."""
    oc = orders[:, None] * (np.arange(spec.n_cells) + 1.0)[None, :] / spec.cells_per_unit
    dist = np.abs(oc - np.maximum(np.round(oc), 1.0))
    return np.clip(1.0 - dist / COINCIDENCE_TOL, 0.0, 1.0) * 10.0


def defect_order_inputs(x: np.ndarray, fs_hz: float, spec: InputSpec, shaft_hz: float,
                        defect_orders: dict[str, float], stride_s: float | None = None
                        ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Native-rate (C, N) signal -> inputs (B, len(FAMILIES), N_ROWS, n_cells) float32, each
    row's channel (B,), and what was used (band_hz, window_s, n_windows, and speed_scales:
    the factor on ``shaft_hz`` each window was read at).

    Windows of ``min(N, window_s * fs)`` samples: with ``stride_s`` every ``stride_s`` seconds
    (training), else up to ``spec.max_windows`` spread over the record (inference).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    if not shaft_hz > 0:
        raise ValueError(f"shaft speed must be > 0 Hz, got {shaft_hz}")
    orders = family_orders(defect_orders)
    n_win = min(x.shape[-1], int(round(spec.window_s * fs_hz)))
    stride = None if stride_s is None else max(1, int(round(stride_s * fs_hz)))
    starts = window_starts(x.shape[-1], n_win, spec.max_windows, stride)
    frames = gather_windows(x, starts, n_win).reshape(-1, n_win)
    ch = np.repeat(np.arange(x.shape[0]), len(starts))
    band = analysis_band(x[:, : 2 * n_win], fs_hz, shaft_hz, orders)
    fmax = (max(float(orders.max()), float(PROBE_ORDERS.max())) * spec.n_cells
            / spec.cells_per_unit + 3.0) * shaft_hz
    df, white, k_max = whitened_envelope_spectrum(frames, fs_hz, band, shaft_hz, fmax)
    reader = CellReader(white, df, k_max)  # one range-max table for every read below
    scales = comb_speed_scales(reader, shaft_hz, defect_orders, spec)
    cells = np.empty((len(frames), len(orders), len(SIDEBANDS), spec.n_cells), dtype=white.dtype)
    flat = np.empty((len(frames), len(PROBE_ORDERS) * spec.n_cells), dtype=white.dtype)
    groups = np.unique(scales)
    for s in groups:  # windows read at the speed where their combs line up
        rows = None if len(groups) == 1 else np.flatnonzero(scales == s)
        n_rows = len(frames) if rows is None else len(rows)
        cells[slice(None) if rows is None else rows] = reader.read(
            shaft_hz * s, orders, np.asarray(SIDEBANDS, float), spec, rows=rows)
        flat[slice(None) if rows is None else rows] = reader.read(
            shaft_hz * s, PROBE_ORDERS, np.zeros(1), spec, rows=rows).reshape(n_rows, -1)
    if spec.db_per_unit > 0:  # a fixed scale: only the probes' location is needed
        mu = row_medians(flat)
        sd = np.full(len(frames), spec.db_per_unit, dtype=mu.dtype)
    else:
        mu, sd = _robust_location_scale(flat)
    z = (cells - mu[:, None, None, None]) / sd[:, None, None, None] * Z_SCALE
    z = np.nan_to_num(z, nan=0.0)
    mask = np.broadcast_to(coincidence_row(orders, spec)[None, :, None, :],
                           (len(frames), len(orders), 1, spec.n_cells))
    inputs = np.concatenate([z, mask], axis=2).astype(np.float32)
    return inputs, ch, {"band_hz": band, "window_s": n_win / fs_hz, "n_windows": len(starts),
                        "speed_scales": scales}


def family_prominence(inputs: np.ndarray, cells_per_unit: int = 16) -> np.ndarray:
    """(B, F, R, L) inputs -> (B, F): the envelope rule's reading of each family in the input's
    units above the snapshot's probes (harmonics 1-3; BSF: 2, 4, 6), via the models' own rule
    so that the figure shown is the one the model adds to its evidence. Units: ``db_per_unit``
    dB (see :func:`prominence_db`), or robust standard scores for a spec without it."""
    n_cells = inputs.shape[-1]
    t = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    race, ball = rule_windows(n_cells, cells_per_unit)
    return (rule_readings(t, race, ball) / Z_SCALE).numpy()


def prominence_db(inputs: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, str]:
    """(B, F) family prominence as an analyst reads it: mean dB of the family's harmonic lines
    above the envelope spectrum's floor, with its unit (``robust z`` for old specs)."""
    prom = family_prominence(inputs, spec.cells_per_unit)
    if spec.db_per_unit > 0:
        return prom * spec.db_per_unit, "dB"
    return prom, "robust z"
