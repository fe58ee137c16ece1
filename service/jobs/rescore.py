"""Re-scoring stored snapshots with a model version: the steps the in-process backfill and its
Ray Data pipeline share, so that both give the same rows.

A *task* is a plain dict (picklable, Arrow-friendly): the batch's ids, the absolute path of its
raw Parquet file, its sample rate and the sensor's shaft context as JSON. ``prepare`` reads the
file and computes the model inputs (no model needed); ``score`` runs ONE batched
``predict_proba`` over the inputs of many snapshots and reduces each snapshot's windows to its
verdict exactly as the ingest does (``pipelines.inference.snapshot.summarise``). A snapshot
that cannot be re-scored (file missing, rate too low for the model) becomes a row with
``error`` set; it is reported, not written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.features.spec import InputSpec
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import (
    ProbabilisticClassifier,
    snapshot_inputs,
    summarise,
    validate_snapshot,
)
from service.batches.storage import read_parquet

INPUT_DTYPE = np.float32


def shaft_json(ctx: ShaftContext) -> str:
    """A shaft context as JSON (the task's ``shaft`` field)."""
    return json.dumps(asdict(ctx))


def shaft_from_json(text: str) -> ShaftContext:
    """The inverse of ``shaft_json``."""
    d = json.loads(text)
    rng = tuple(d["rpm_range"]) if d.get("rpm_range") is not None else None
    return ShaftContext(rpm=d.get("rpm"), defect_orders=d.get("defect_orders"), rpm_range=rng,
                        shaft_speed_ratio=float(d.get("shaft_speed_ratio", 1.0)))


def make_task(*, batch_id: int, turbine_id: int, sensor_id: int, path: Path | str,
              sample_rate_hz: float, shaft: ShaftContext) -> dict:
    """One snapshot to re-score."""
    return {"batch_id": int(batch_id), "turbine_id": int(turbine_id), "sensor_id": int(sensor_id),
            "path": str(path), "sample_rate_hz": float(sample_rate_hz), "shaft": shaft_json(shaft)}


def _failed(task: dict, message: str) -> dict:
    return {"batch_id": task["batch_id"], "inputs": b"", "shape": [0], "channels": b"",
            "n_channels": 0, "diagnosis": "{}", "error": message[:500]}


def prepare(task: dict, spec: InputSpec, max_fs_hz: float = 1e6) -> dict:
    """Read one task's raw file and compute its model inputs; a row of bytes and JSON."""
    try:
        x, _, _ = read_parquet(Path(task["path"]))
        fs = float(task["sample_rate_hz"])
        validate_snapshot(x, fs, spec, max_fs_hz=max_fs_hz)
        shaft = shaft_from_json(task["shaft"])
        if shaft.rpm_outside_range:
            raise ValueError(f"rpm {shaft.rpm:g} is outside the sensor's registered range")
        inputs, ch, diagnosis = snapshot_inputs(x, fs, spec, shaft)
    except (OSError, ValueError) as exc:
        return _failed(task, f"{type(exc).__name__}: {exc}")
    inputs = np.ascontiguousarray(inputs, dtype=INPUT_DTYPE)
    return {"batch_id": task["batch_id"], "inputs": inputs.tobytes(), "shape": list(inputs.shape),
            "channels": np.asarray(ch, dtype=np.int32).tobytes(), "n_channels": int(x.shape[0]),
            "diagnosis": json.dumps(diagnosis), "error": ""}


def score(classifier: ProbabilisticClassifier, prepared: Sequence[dict]) -> list[dict]:
    """Verdicts of prepared rows: one ``predict_proba`` over all their windows, then each
    snapshot's reduction. Output rows: batch_id, label, score, probabilities, per_channel
    (JSON, per channel index), n_windows, diagnosis (JSON), error."""
    classes = list(classifier.classes)
    ok = [p for p in prepared if not p["error"]]
    arrays = [np.frombuffer(p["inputs"], dtype=INPUT_DTYPE).reshape(p["shape"]) for p in ok]
    proba = (np.asarray(classifier.predict_proba(np.concatenate(arrays)), dtype=np.float64)
             if arrays else np.zeros((0, len(classes))))
    out, start, by_id = [], 0, {}
    for p, x in zip(ok, arrays, strict=True):
        ch = np.frombuffer(p["channels"], dtype=np.int32)
        v = summarise(proba[start:start + len(x)], ch, int(p["n_channels"]), classes,
                      json.loads(p["diagnosis"]))
        start += len(x)
        by_id[p["batch_id"]] = {
            "batch_id": p["batch_id"], "label": v.label, "score": float(v.score),
            "probabilities": json.dumps({c: float(q) for c, q in zip(classes, v.probabilities,
                                                                     strict=True)}),
            "per_channel": json.dumps([[float(q) for q in row]
                                       for row in v.per_channel_probabilities]),
            "n_windows": int(len(x)), "diagnosis": json.dumps(v.diagnosis), "error": ""}
    for p in prepared:
        out.append(by_id.get(p["batch_id"]) or {
            "batch_id": p["batch_id"], "label": "", "score": 0.0, "probabilities": "{}",
            "per_channel": "[]", "n_windows": 0, "diagnosis": "{}", "error": p["error"]})
    return out


def prediction_values(scored: dict, task: dict, *, classes: list[str], channel_names: list[str],
                      model_version_id: int, recorded_at, source: str) -> dict:
    """The ``predictions`` row of a scored snapshot (no detection columns: a re-score does not
    replay the baseline the served verdict met)."""
    per_channel = json.loads(scored["per_channel"])
    diagnosis = json.loads(scored["diagnosis"])
    return {
        "batch_id": task["batch_id"], "turbine_id": task["turbine_id"],
        "sensor_id": task["sensor_id"], "recorded_at": recorded_at,
        "model_version_id": model_version_id, "source": source, "label": scored["label"],
        "score": float(scored["score"]), "probabilities": json.loads(scored["probabilities"]),
        "per_channel": {name: dict(zip(classes, row, strict=True))
                        for name, row in zip(channel_names, per_channel, strict=True)},
        "n_windows": int(scored["n_windows"]), "diagnosis": diagnosis or None,
    }
