"""Real recordings -> windows -> tensors, with splits grouped by recording.

Every ``Recording`` keeps its identity (recording_id, rig, load, fault size, sample rate), so a
split can never put windows of one recording on both sides: that leak is what gives the ~100 %
CWRU accuracies of many papers. The CWRU normal baseline (97.mat) is one 48 kHz recording; it is
cut into disjoint time blocks separated by a guard gap, and each block becomes its own
pseudo-recording (``normal_0_97#b0`` ...). Blocks of one recording are still far more alike than
two recordings, so normal-class figures are optimistic: they show that the model does not call a
healthy machine faulty on unseen stretches of that machine, not that it knows other machines.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.io

from pipelines.features import InputSpec, resample, window_starts

CLASSES = ["normal", "inner_race", "outer_race", "ball"]
CWRU_DIR = "cwru_12k_drive_end_dev"
WT_DIR = "wind_turbine_hss_bearing_compact"
_LOCATION = {"none": "normal", "inner_race": "inner_race", "outer_race": "outer_race", "ball": "ball"}


@dataclass(frozen=True)
class Recording:
    recording_id: str
    file: str
    label: str | None
    fault_size_in: float
    load_hp: int
    rpm: float
    fs_hz: float
    rig: str
    signal: np.ndarray  # (N,) float32, in g
    sha256: str = ""

    @property
    def duration_s(self) -> float:
        return len(self.signal) / self.fs_hz


def load_cwru(datasets_dir: Path | str) -> list[Recording]:
    """The CWRU drive-end recordings listed in ``labels.csv`` (sample rates from the table)."""
    root = Path(datasets_dir) / CWRU_DIR
    out = []
    with open(root / "labels.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            num = int(row["cwru_file_no"])
            x = scipy.io.loadmat(root / row["file"])[f"X{num:03d}_DE_time"].ravel()
            out.append(Recording(
                recording_id=Path(row["file"]).stem, file=row["file"],
                label=_LOCATION[row["fault_location"]],
                fault_size_in=float(row["fault_size_in"] or 0.0), load_hp=int(row["load_hp"]),
                rpm=float(row["rpm_in_file"]), fs_hz=float(row["fs_hz"]), rig="cwru",
                signal=x.astype(np.float32), sha256=row["sha256"],
            ))
    return out


def load_wind_turbine(datasets_dir: Path | str) -> list[Recording]:
    """The 2 MW HSS-bearing run-to-failure snapshots, in time order; no label (None)."""
    root = Path(datasets_dir) / WT_DIR
    out = []
    with open(root / "labels.csv", newline="") as fh:
        for row in sorted(csv.DictReader(fh), key=lambda r: r["timestamp_utc"]):
            mat = scipy.io.loadmat(root / row["file"])
            out.append(Recording(
                recording_id=Path(row["file"]).stem, file=row["file"], label=None,
                fault_size_in=0.0, load_hp=-1, rpm=float("nan"), fs_hz=float(row["fs_hz"]),
                rig="wind_turbine_hss", signal=mat["vibration"].ravel().astype(np.float32),
                sha256=row["sha256"],
            ))
    return out


def split_blocks(rec: Recording, n_blocks: int, guard_s: float = 0.25) -> list[Recording]:
    """Cut one recording into ``n_blocks`` disjoint time blocks with ``guard_s`` between them."""
    n = len(rec.signal)
    guard = int(guard_s * rec.fs_hz)
    size = (n - guard * (n_blocks - 1)) // n_blocks
    return [
        replace(rec, recording_id=f"{rec.recording_id}#b{k}",
                signal=rec.signal[k * (size + guard): k * (size + guard) + size])
        for k in range(n_blocks)
    ]


def fingerprint(recordings: Sequence[Recording]) -> str:
    """sha256 over the sorted (recording id, file sha256, length) of a training set."""
    h = hashlib.sha256()
    for r in sorted(recordings, key=lambda r: r.recording_id):
        h.update(f"{r.recording_id}|{r.sha256}|{len(r.signal)}\n".encode())
    return h.hexdigest()


def split_by(recordings: Sequence[Recording], test: Callable[[Recording], bool]
             ) -> tuple[list[Recording], list[Recording]]:
    """(rest, test) by a predicate on whole recordings: no recording is on both sides."""
    rest = [r for r in recordings if not test(r)]
    held = [r for r in recordings if test(r)]
    return rest, held


def grouped_validation(recordings: Sequence[Recording], fraction: float = 0.2, seed: int = 0
                       ) -> tuple[list[Recording], list[Recording]]:
    """Hold out about ``fraction`` of the recordings of each class (at least one) for validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted({r.label for r in recordings}, key=str):
        group = [r for r in recordings if r.label == label]
        order = rng.permutation(len(group))
        k = max(1, round(fraction * len(group))) if len(group) > 1 else 0
        val += [group[i] for i in order[:k]]
        train += [group[i] for i in order[k:]]
    return train, val


def time_windows(recordings: Sequence[Recording], spec: InputSpec, stride_s: float,
                 stride_s_by_label: dict[str, float] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows at the model's rate: (X (M, window_len) float32, y (M,) class index, groups (M,))."""
    xs, ys, gs = [], [], []
    for r in recordings:
        xr = resample(r.signal, r.fs_hz, spec.fs_hz)
        stride = (stride_s_by_label or {}).get(r.label, stride_s)
        starts = window_starts(len(xr), spec.window_len, stride=max(1, int(stride * spec.fs_hz)))
        if starts.size == 0:
            continue
        xs.append(xr[starts[:, None] + np.arange(spec.window_len)[None, :]])
        ys.append(np.full(len(starts), CLASSES.index(r.label) if r.label in CLASSES else -1))
        gs.append(np.array([r.recording_id] * len(starts), dtype=object))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)
