"""Champion vs challenger on one frozen evaluation suite, and the promotion policy.

The suite is built once per retrain and both models are scored on exactly the same snapshots:

- reference suites: the held-out side of each fold of the transfer protocol
  (``build_transfer_folds``; leave-one-rig-out with both rigs, one suite per fold; else
  leave-one-load-out for CWRU and leave-one-speed-out for UESTC, their folds pooled), bounded
  to ``PER_RECORDING`` snapshots of ``SEGMENT_S`` seconds per recording, clean and at 0 dB
  SNR. The models are fixed (not retrained per fold), so a model trained on every reference
  recording has seen these: the reference suites guard against regressions;
- the fleet hold-out: labelled snapshots of turbines kept out of training (never seen by either
  model); it is the measure of what the fleet's labels taught.

Scores are per snapshot, as the service diagnoses: the mean softmax over its windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from pipelines.dsp.kinematics import BEARINGS
from pipelines.evaluation.transfer import build_transfer_folds, window_metrics
from pipelines.features.spec import InputSpec
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import ProbabilisticClassifier, snapshot_inputs, summarise
from pipelines.learning.augmentation import add_white_noise
from pipelines.learning.datasets import CLASSES, Recording
from pipelines.learning.fleet_training import LabelledSnapshot

SEGMENT_S = 2.0
PER_RECORDING = 3
FLEET = "fleet hold-out"


def _protocols(recordings: Sequence[Recording]) -> tuple[str, ...]:
    rigs = {r.rig for r in recordings}
    if {"cwru", "uestc"} <= rigs:
        return ("leave_one_rig_out",)
    return ("leave_one_load_out",) if "cwru" in rigs else ("leave_one_speed_out",)


def segments(rec: Recording, per_recording: int = PER_RECORDING, segment_s: float = SEGMENT_S
             ) -> list[LabelledSnapshot]:
    """Up to ``per_recording`` disjoint snapshots spread over a recording."""
    n = int(segment_s * rec.fs_hz)
    k = max(1, min(per_recording, len(rec.signal) // max(n, 1)))
    starts = np.linspace(0, max(len(rec.signal) - n, 0), k).astype(int)
    orders = BEARINGS[str(rec.bearing)].geometry.defect_orders()
    shaft = ShaftContext(rpm=rec.rpm, defect_orders=orders)
    return [LabelledSnapshot(f"{rec.recording_id}@{s}", rec.signal[None, s:s + n], rec.fs_hz,
                             shaft, str(rec.label), rec.run_id or rec.recording_id)
            for s in starts.tolist()]


def reference_suites(recordings: Sequence[Recording], seed: int = 0,
                     per_recording: int = PER_RECORDING) -> dict[str, list[LabelledSnapshot]]:
    """Suite name -> snapshots: every fold's held-out runs, clean and at 0 dB SNR."""
    labelled = [r for r in recordings if r.label in CLASSES]
    if not labelled:
        return {}
    rng = np.random.default_rng([seed, 2])
    pooled: dict[str, list[Recording]] = {}
    for fold in build_transfer_folds(labelled, _protocols(labelled)):
        # Leave-one-rig-out keeps its two folds apart; the many small folds of the other
        # protocols are pooled, so that one snapshot does not move a suite by several hundredths.
        name = fold.name if fold.protocol == "leave_one_rig_out" else fold.protocol.replace("_", "-")
        pooled.setdefault(name, []).extend(
            r for r in labelled if (r.run_id or r.recording_id) in fold.test)
    out: dict[str, list[LabelledSnapshot]] = {}
    for name, held in pooled.items():
        clean = [s for r in held for s in segments(r, per_recording)]
        out[f"{name} / clean"] = clean
        out[f"{name} / 0 dB"] = [replace(s, x=add_white_noise(s.x[0], 0.0, rng)[None, :])
                                 for s in clean]
    return out


class SuiteInputs:
    """Model inputs of every snapshot of a suite, computed once per input spec (a champion and
    challenger of the same kind share them)."""

    def __init__(self, snaps: Sequence[LabelledSnapshot]):
        self.snaps = list(snaps)
        self._cache: dict[str, list[tuple[np.ndarray, np.ndarray, dict]]] = {}

    def inputs(self, spec: InputSpec) -> list[tuple[np.ndarray, np.ndarray, dict]]:
        """(inputs, channel index, diagnosis) of each snapshot under ``spec``."""
        key = repr(sorted(spec.to_dict().items()))
        if key not in self._cache:
            self._cache[key] = [snapshot_inputs(s.x, s.fs_hz, spec, s.shaft) for s in self.snaps]
        return self._cache[key]


def score_suite(clf: ProbabilisticClassifier, suite: SuiteInputs) -> dict:
    """Per-snapshot verdicts of ``clf`` on the suite: macro-F1 over the classes present,
    accuracy, recall, confusion, run votes (see ``transfer.window_metrics``)."""
    classes = list(clf.classes)
    prepared = suite.inputs(InputSpec.from_dict(clf.input_spec_dict))
    proba = clf.predict_proba(np.concatenate([p[0] for p in prepared]))
    pred, start = [], 0
    for (x, ch, diag), s in zip(prepared, suite.snaps, strict=True):
        v = summarise(proba[start:start + len(x)], ch, len(s.x), classes, dict(diag),
                      two_stage=bool(getattr(clf, "two_stage", False)))
        start += len(x)
        pred.append(CLASSES.index(v.label) if v.label in CLASSES else -1)
    y = np.array([CLASSES.index(s.label) for s in suite.snaps])
    groups = np.array([s.group for s in suite.snaps], dtype=object)
    m = window_metrics(np.array(pred), y, groups)
    m["n_snapshots"] = m.pop("n_windows")
    return m


def compare(champion: dict[str, dict], challenger: dict[str, dict], max_drop: float,
            min_fleet_gain: float) -> dict:
    """The comparison table and the policy's verdict: promote only if the challenger is nowhere
    more than ``max_drop`` macro-F1 below the champion and beats it on the fleet hold-out by
    more than ``min_fleet_gain``."""
    rows, worse = [], []
    for name in challenger:
        a, b = champion[name]["macro_f1"], challenger[name]["macro_f1"]
        rows.append({"suite": name, "n": challenger[name]["n_snapshots"],
                     "champion": round(a, 4), "challenger": round(b, 4), "delta": round(b - a, 4)})
        if b < a - max_drop:
            worse.append(name)
    reasons = [f"worse than the champion by more than {max_drop} macro-F1 on: {', '.join(worse)}"
               ] if worse else []
    if FLEET not in challenger:
        reasons.append("no fleet hold-out (fewer than two turbines with labels): nothing shows "
                       "what the fleet's labels taught")
    elif not (challenger[FLEET]["macro_f1"] > champion[FLEET]["macro_f1"] + min_fleet_gain):
        reasons.append("not better than the champion on the fleet hold-out")
    return {"table": rows, "promote": not reasons, "reasons": reasons,
            "policy": {"max_drop_f1": max_drop, "min_fleet_gain_f1": min_fleet_gain}}


def markdown(table: Sequence[dict]) -> str:
    """The comparison table as Markdown (for logs and the models page)."""
    lines = ["| suite | n | champion | challenger | delta |", "|---|---|---|---|---|"]
    lines += [f"| {r['suite']} | {r['n']} | {r['champion']:.3f} | {r['challenger']:.3f} | "
              f"{r['delta']:+.3f} |" for r in table]
    return "\n".join(lines)
