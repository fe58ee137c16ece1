"""Real recordings -> model inputs, with splits grouped by recording.

Every ``Recording`` keeps its identity (recording_id, rig, load, fault size, sample rate), and
every split here moves whole recordings: windows of one recording on both sides of a split are
near-duplicates and give the ~100 % CWRU accuracies of many papers.

The CWRU normal baseline (97.mat, 48 kHz, 5.1 s) is the only healthy recording. ``split_blocks``
cuts it into disjoint time blocks separated by a guard gap, and each block becomes its own
pseudo-recording (``normal_0_97#b0``, ``#b1``, ...) that a split treats like any other
recording. Blocks of one run are still far more alike than two runs, so normal-class figures
are optimistic: they show that the model does not call unseen stretches of that healthy machine
faulty, not that it knows other healthy machines. The normal class is also confounded with load
0 HP (no healthy baseline at 1-3 HP in this copy).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.io

from pipelines.features.inputs import model_inputs
from pipelines.features.spec import InputSpec

CLASSES = ["normal", "inner_race", "outer_race", "ball"]
CWRU_DIR = "cwru_12k_drive_end_dev"
WT_DIR = "wind_turbine_hss_bearing_compact"
UESTC_DIR = "uestc_bearing"
CWRU_BEARING = "SKF 6205-2RS"
UESTC_BEARING = "UESTC UCPH20 (estimated)"
_LOCATION = {"none": "normal", "inner_race": "inner_race", "outer_race": "outer_race",
             "ball": "ball"}


@dataclass(frozen=True, eq=False)
class Recording:
    """One continuous recording (or a time block of one) with its identity.

    ``signal`` is (N,) float32 at ``fs_hz`` (CWRU: g); ``start_s`` is where it starts in the
    source file (non-zero for blocks); ``tach_s`` holds tachometer pulse times in seconds;
    ``recorded_at`` is the acquisition time where the provenance table gives one.
    """

    recording_id: str
    file: str
    label: str | None
    fault_size_in: float
    load_hp: int
    rpm: float
    fs_hz: float
    rig: str
    signal: np.ndarray = field(repr=False)
    sha256: str = ""
    start_s: float = 0.0
    tach_s: np.ndarray | None = field(default=None, repr=False)
    recorded_at: datetime | None = None
    bearing: str | None = None  # designation in pipelines.dsp.kinematics.BEARINGS
    run_id: str = ""  # the continuous run a recording belongs to ("" = itself)

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return len(self.signal) / self.fs_hz

    @property
    def source_id(self) -> str:
        """The recording a block was cut from (``normal_0_97#b1`` -> ``normal_0_97``)."""
        return self.recording_id.split("#", 1)[0]


def read_labelled_file(folder: Path | str, row: dict[str, str]) -> Recording:
    """One ``.mat`` file listed in a ``labels.csv`` row: a wind-turbine HSS snapshot (a
    ``vibration`` array; timestamped, unlabelled) or a CWRU drive-end record (``X<nnn>_DE_time``;
    label, load and speed from the row). The sample rate always comes from the row."""
    mat = scipy.io.loadmat(Path(folder) / row["file"])
    if "vibration" in mat:
        return Recording(
            recording_id=Path(row["file"]).stem, file=row["file"], label=None,
            fault_size_in=float("nan"), load_hp=-1, rpm=float("nan"),
            fs_hz=float(row["fs_hz"]), rig="wind_turbine_hss",
            signal=mat["vibration"].ravel().astype(np.float32), sha256=row.get("sha256", ""),
            tach_s=mat["tach"].ravel().astype(np.float64) if "tach" in mat else None,
            recorded_at=datetime.strptime(row["timestamp_utc"], "%Y%m%dT%H%M%S").replace(
                tzinfo=UTC),
        )
    num = int(row["cwru_file_no"])
    return Recording(
        recording_id=Path(row["file"]).stem, file=row["file"],
        label=_LOCATION[row["fault_location"]],
        fault_size_in=float(row["fault_size_in"] or 0.0), load_hp=int(row["load_hp"]),
        rpm=float(row["rpm_in_file"]), fs_hz=float(row["fs_hz"]), rig="cwru",
        signal=mat[f"X{num:03d}_DE_time"].ravel().astype(np.float32),
        sha256=row.get("sha256", ""), bearing=CWRU_BEARING,
    )


def read_labels(folder: Path | str) -> list[dict[str, str]]:
    """The rows of ``folder/labels.csv`` (the provenance table next to the recordings)."""
    with open(Path(folder) / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def load_cwru(datasets_dir: Path | str) -> list[Recording]:
    """The CWRU drive-end (``X<nnn>_DE_time``) recordings listed in ``labels.csv``.

    Sample rates come from the table (97.mat is 48 kHz; the features layer resamples it).
    """
    root = Path(datasets_dir) / CWRU_DIR
    if not (root / "labels.csv").exists():
        raise FileNotFoundError(f"CWRU data not found: {root / 'labels.csv'}")
    return [read_labelled_file(root, row) for row in read_labels(root)]


def load_wind_turbine(datasets_dir: Path | str) -> list[Recording]:
    """The 2 MW high-speed-shaft bearing run-to-failure snapshots, oldest first.

    No label (``None``): the inner-race fault develops over the sequence without a published
    cut-off. ``rpm`` is NaN because the tachometer's pulses per revolution are not stated;
    ``tach_s`` keeps the pulse times for whoever fixes that.
    """
    root = Path(datasets_dir) / WT_DIR
    if not (root / "labels.csv").exists():
        raise FileNotFoundError(f"wind-turbine data not found: {root / 'labels.csv'}")
    rows = sorted(read_labels(root), key=lambda r: r["timestamp_utc"])
    return [read_labelled_file(root, row) for row in rows]


def load_uestc(datasets_dir: Path | str) -> list[Recording]:
    """The UESTC rig's recordings (20 kHz, one axis, no load), with their run ids.

    The set-point rpm in the table is only within ~6 % of the real speed, so each recording's
    speed is refined from its own spectrum (the shaft-harmonic comb within +-8 % of nominal),
    the way a tachometer would give it. Unit: sensor units (not stated); every input is
    scale-free. Geometry: the estimated ``UESTC_BEARING`` entry.
    """
    from pipelines.dsp.speed import shaft_speed_comb

    root = Path(datasets_dir) / UESTC_DIR
    if not (root / "labels.csv").exists():
        raise FileNotFoundError(f"UESTC data not found: {root / 'labels.csv'}")
    out = []
    for row in read_labels(root):
        x = scipy.io.loadmat(root / row["file"])["Data"].ravel().astype(np.float32)
        fs, nominal = float(row["fs_hz"]), float(row["rpm"]) / 60.0
        shaft_hz, _ = shaft_speed_comb(x[: int(4 * fs)], fs, 0.92 * nominal, 1.08 * nominal)
        out.append(Recording(
            recording_id=Path(row["file"]).stem, file=row["file"],
            label=_LOCATION.get(row["fault_location"], "normal"), fault_size_in=float("nan"),
            load_hp=0, rpm=shaft_hz * 60.0, fs_hz=fs, rig="uestc", signal=x,
            sha256=row.get("sha256", ""), bearing=UESTC_BEARING, run_id=row["run_id"],
        ))
    return out


def split_blocks(rec: Recording, n_blocks: int, guard_s: float = 0.25) -> list[Recording]:
    """Cut one recording into ``n_blocks`` equal, disjoint time blocks, ``guard_s`` apart.

    Block k is the pseudo-recording ``<id>#b<k>`` starting at ``start_s`` in the source file.
    Windows are later cut within a block, so no window spans two blocks; the guard keeps the
    blocks' edges apart in time as well.
    """
    n = len(rec.signal)
    guard = int(round(guard_s * rec.fs_hz))
    size = (n - guard * (n_blocks - 1)) // n_blocks
    if n_blocks < 1 or size <= 0:
        raise ValueError(f"{rec.recording_id}: cannot cut {n} samples into {n_blocks} blocks "
                         f"with {guard} guard samples")
    starts = np.arange(n_blocks) * (size + guard)
    return [
        replace(rec, recording_id=f"{rec.recording_id}#b{k}", signal=rec.signal[s: s + size],
                start_s=rec.start_s + s / rec.fs_hz)
        for k, s in enumerate(starts.tolist())
    ]


def fingerprint(recordings: Sequence[Recording]) -> str:
    """sha256 over the sorted (recording id, file sha256, start, length) of a set."""
    h = hashlib.sha256()
    for r in sorted(recordings, key=lambda r: r.recording_id):
        h.update(f"{r.recording_id}|{r.sha256}|{r.start_s:.6f}|{len(r.signal)}\n".encode())
    return h.hexdigest()


def split_by(recordings: Sequence[Recording], test: Callable[[Recording], bool]
             ) -> tuple[list[Recording], list[Recording]]:
    """(rest, held) by a predicate on whole recordings: no recording is on both sides."""
    held = [r for r in recordings if test(r)]
    rest = [r for r in recordings if not test(r)]
    return rest, held


def grouped_validation(recordings: Sequence[Recording], fraction: float = 0.2, seed: int = 0
                       ) -> tuple[list[Recording], list[Recording]]:
    """(train, val): about ``fraction`` of each class's recordings (at least one, if the class
    has two or more) go to validation, chosen by a seeded permutation; whole recordings only."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted({r.label for r in recordings}, key=str):
        group = sorted((r for r in recordings if r.label == label), key=lambda r: r.recording_id)
        order = rng.permutation(len(group))
        k = max(1, round(fraction * len(group))) if len(group) > 1 else 0
        val += [group[i] for i in order[:k]]
        train += [group[i] for i in order[k:]]
    return train, val


def windows_dataset(recordings: Sequence[Recording], spec: InputSpec, stride_s: float,
                    stride_s_by_label: dict[str, float] | None = None,
                    classes: Sequence[str] = CLASSES,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of every window of every recording, via ``features.model_inputs``.

    Windows start every ``stride_s`` seconds (per-label override in ``stride_s_by_label``, e.g.
    a denser stride for the short normal blocks). Returns X (M, *spec.input_shape) float32,
    y (M,) int64 class index (-1 if unlabelled), groups (M,) recording ids (object). Recordings
    shorter than one window contribute nothing.
    """
    xs, ys, gs = [], [], []
    for r in recordings:
        stride = (stride_s_by_label or {}).get(str(r.label), stride_s)
        if len(r.signal) < spec.min_samples(r.fs_hz):
            continue
        x, _ = model_inputs(r.signal[None, :], r.fs_hz, spec,
                            stride=max(1, int(round(stride * spec.fs_hz))))
        xs.append(x)
        ys.append(np.full(len(x), classes.index(r.label) if r.label in classes else -1))
        gs.append(np.full(len(x), r.recording_id, dtype=object))
    if not xs:
        return (np.zeros((0, *spec.input_shape), np.float32), np.zeros(0, np.int64),
                np.zeros(0, dtype=object))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64), np.concatenate(gs)
