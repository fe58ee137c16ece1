"""Calibrating the anomaly threshold on real healthy recordings.

Protocol, per healthy run: cut it into 1-s snapshots, fit a baseline from the first ``n_baseline``
disjoint snapshots (as a sensor does from its first N posts), then score every later 1-s snapshot
(start every ``hop_s``; later snapshots never overlap the baseline's). Every score is a healthy
snapshot judged against its own machine's baseline, so the share above a threshold is the
false-alarm rate per snapshot. The threshold for a target rate is the pooled scores' quantile.

Runs: the UESTC normal runs (4 speeds, 5 consecutive parts each, 20 kHz, ~65 s per run) and the
CWRU normal recording (48 kHz, drive-end and fan-end sensors, 5 s: too short for 20 snapshots of
1 s, so it is checked with 0.25-s snapshots and a 10-snapshot baseline, reported separately).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

from pipelines.baselines import model
from pipelines.baselines.features import snapshot_features

UESTC_DIR = "uestc_bearing"
CWRU_NORMAL = ("cwru_12k_drive_end_dev", "normal_0_97.mat", 48_000.0)
UESTC_FS_HZ = 20_000.0


@dataclass(frozen=True)
class HealthyRun:
    """One continuous healthy recording of one sensor."""

    name: str
    fs_hz: float
    signal: np.ndarray = field(repr=False)


def uestc_runs(datasets_dir: Path | str) -> list[HealthyRun]:
    """The UESTC normal runs, each its 5 parts concatenated in order (consecutive stretches)."""
    root = Path(datasets_dir) / UESTC_DIR
    runs = []
    for rpm in (800, 1000, 1200, 1400):
        parts = [root / f"N_{rpm}_{k}.mat" for k in range(1, 6)]
        if not all(p.exists() for p in parts):
            raise FileNotFoundError(f"UESTC normal run N_{rpm} incomplete under {root}")
        sig = np.concatenate([scipy.io.loadmat(p)["Data"].ravel() for p in parts])
        runs.append(HealthyRun(f"uestc N_{rpm}", UESTC_FS_HZ, sig.astype(np.float32)))
    return runs


def cwru_normal_runs(datasets_dir: Path | str) -> list[HealthyRun]:
    """The CWRU normal recording's drive-end and fan-end accelerometers (48 kHz)."""
    folder, name, fs = CWRU_NORMAL
    mat = scipy.io.loadmat(Path(datasets_dir) / folder / name)
    return [HealthyRun(f"cwru normal_0_97 {k[5:7]}", fs, mat[k].ravel().astype(np.float32))
            for k in ("X097_DE_time", "X097_FE_time")]


def run_scores(run: HealthyRun, n_baseline: int, snapshot_s: float = 1.0, hop_s: float = 0.25
               ) -> np.ndarray:
    """Scores of the run's later snapshots against a baseline of its first ``n_baseline``."""
    n = int(round(snapshot_s * run.fs_hz))
    total = len(run.signal)
    if total < (n_baseline + 1) * n:
        raise ValueError(f"{run.name}: {total / run.fs_hz:.1f} s is too short for "
                         f"{n_baseline} baseline snapshots of {snapshot_s} s and one more")
    feats = [snapshot_features(run.signal[None, k * n:(k + 1) * n], run.fs_hz)
             for k in range(n_baseline)]
    base = model.fit(feats, fs_hz=run.fs_hz)
    hop = int(round(hop_s * run.fs_hz))
    starts = range(n_baseline * n, total - n + 1, hop)
    return np.array([model.score(base, snapshot_features(run.signal[None, s:s + n], run.fs_hz))
                     for s in starts])


@dataclass
class Calibration:
    """Pooled healthy scores and what they imply."""

    target_rate: float
    threshold: float
    scores: dict[str, np.ndarray]

    def alarm_rate_at(self, threshold: float, n: int = 3, m: int = 5, hop_per_s: int = 4) -> float:
        """Share of alarm decisions (the newest and ``n`` of the newest ``m`` snapshots above
        ``threshold``) that are met, over sequences of disjoint 1-s snapshots of each run."""
        met = total = 0
        for scores in self.scores.values():
            for offset in range(hop_per_s):
                seq = scores[offset::hop_per_s]
                for i in range(m - 1, len(seq)):
                    window = seq[i - m + 1:i + 1] > threshold
                    total += 1
                    met += bool(window[-1] and window.sum() >= n)
        return met / max(total, 1)

    def rate_at(self, threshold: float) -> dict[str, float]:
        """False-alarm rate per snapshot, per run and pooled, at ``threshold``."""
        out = {k: float(np.mean(v > threshold)) for k, v in self.scores.items()}
        out["pooled"] = float(np.mean(np.concatenate(list(self.scores.values())) > threshold))
        return out


def calibrate(runs: list[HealthyRun], n_baseline: int = 20, target_rate: float = 0.05,
              snapshot_s: float = 1.0, hop_s: float = 0.25) -> Calibration:
    """The threshold whose pooled false-alarm rate per snapshot is ``target_rate``."""
    scores = {r.name: run_scores(r, n_baseline, snapshot_s, hop_s) for r in runs}
    pooled = np.concatenate(list(scores.values()))
    return Calibration(target_rate, float(np.quantile(pooled, 1.0 - target_rate)), scores)


def cross_speed_rates(runs: list[HealthyRun], n_baseline: int = 20,
                      threshold: float = model.DEFAULT_THRESHOLD) -> dict[tuple[str, str], float]:
    """(baseline run, scored run) -> share of the scored run's disjoint 1-s snapshots above
    ``threshold`` against a baseline of the first run's first ``n_baseline`` (the same run's
    own baseline snapshots left out): what one baseline for every speed would do."""
    feats = {}
    for r in runs:
        n = int(round(r.fs_hz))
        feats[r.name] = [snapshot_features(r.signal[None, k * n:(k + 1) * n], r.fs_hz)
                         for k in range(len(r.signal) // n)]
    out = {}
    for a in runs:
        base = model.fit(feats[a.name][:n_baseline], fs_hz=a.fs_hz)
        for b in runs:
            scored = feats[b.name][n_baseline if a is b else 0:]
            out[a.name, b.name] = float(np.mean([model.score(base, f) > threshold
                                                 for f in scored]))
    return out


def report(datasets_dir: Path | str, n_baseline: int = 20, target_rate: float = 0.05,
           threshold: float = model.DEFAULT_THRESHOLD) -> str:
    """The calibration as text: threshold for the target rate, and the rates at ``threshold``."""
    runs = uestc_runs(datasets_dir)  # read once: the calibration and the cross-speed table
    cal = calibrate(runs, n_baseline, target_rate)
    lines = [f"UESTC healthy runs, baseline = first {n_baseline} snapshots of 1 s, later 1-s "
             f"snapshots every 0.25 s: {sum(len(v) for v in cal.scores.values())} scores",
             f"threshold for {target_rate:.1%} false alarms per snapshot: {cal.threshold:.3f}",
             f"false-alarm rate at the default threshold {threshold:g}:"]
    lines += [f"  {k}: {v:.2%}" for k, v in cal.rate_at(threshold).items()]
    lines.append(f"false alarms at {threshold:g} with 3-of-5 hysteresis (disjoint snapshots): "
                 f"{cal.alarm_rate_at(threshold):.2%} of alarm decisions")
    cw = calibrate(cwru_normal_runs(datasets_dir), 10, target_rate, snapshot_s=0.25, hop_s=0.05)
    lines.append(f"CWRU normal (0.25-s snapshots, baseline of 10): "
                 f"{sum(len(v) for v in cw.scores.values())} scores; at {threshold:g}:")
    lines += [f"  {k}: {v:.2%}" for k, v in cw.rate_at(threshold).items()]
    cross = cross_speed_rates(runs, n_baseline, threshold)
    lines.append(f"one baseline for every speed: share of disjoint 1-s healthy snapshots above "
                 f"{threshold:g}, baseline run (rows) x scored run (columns):")
    lines.append(" " * 16 + "".join(f"{b.name:>16}" for b in runs))
    lines += [f"{a.name:>16}" + "".join(f"{cross[a.name, b.name]:>16.0%}" for b in runs)
              for a in runs]
    return "\n".join(lines)
