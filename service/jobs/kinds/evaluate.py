"""``evaluate``: a bounded evaluation of one registered model version on the reference data,
attached to the job's result and to the version's ``metrics["evaluations"]``.

The model is scored as it is (no retraining; the evaluation protocol of ``windwatch evaluate``
trains one model per fold and is the place for architecture figures). Suites: the defect-family
models read every CWRU and UESTC recording, one suite per rig; the spectrum CNNs read the CWRU
held-out split of their training protocol (load 2 HP + normal block 2). Each suite says how many
of its recordings the version was trained on (its ``training_data.files``): figures on seen
recordings are optimistic and are labelled so. ``quick`` keeps one recording per class per
suite, for tests and smoke runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm.attributes import flag_modified

from service.db import utcnow
from service.jobs.context import JobContext
from service.registry import service as registry
from service.validation import MAX_DB_INT

KEEP_EVALUATIONS = 10  # summaries kept on a model version, newest last


class Params(BaseModel):
    """Which version; ``quick`` bounds the run (one recording per class per suite)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_version_id: int = Field(ge=1, le=MAX_DB_INT)
    quick: bool = False


def _suites(arch: str, datasets_dir) -> dict[str, list]:
    from pipelines.learning.datasets import load_cwru, load_uestc
    from pipelines.learning.protocol import default_protocol

    if arch.startswith("family"):
        return {"cwru": load_cwru(datasets_dir), "uestc": load_uestc(datasets_dir)}
    return {"cwru_test": default_protocol(datasets_dir)["test"]}


def _quick(recordings: Sequence) -> list:
    seen: set[str] = set()
    out = []
    for r in recordings:
        if r.label not in seen:
            seen.add(r.label)
            out.append(r)
    return out


def _inputs(clf, rec) -> tuple[np.ndarray, int]:
    from pipelines.features.spec import InputSpec
    from pipelines.learning.datasets import windows_dataset
    from pipelines.learning.family_training import recording_inputs

    spec = InputSpec.from_dict(clf.input_spec_dict)
    label = clf.classes.index(rec.label)
    if clf.architecture.startswith("family"):
        x, tags = recording_inputs(rec, spec, np.random.default_rng(0), augment=False)
        return x, label
    stride = 0.02 if rec.label == "normal" else 0.1  # the training protocol's strides
    x, _, _ = windows_dataset([rec], spec, stride, classes=clf.classes)
    return x, label


def run(ctx: JobContext, params: Params) -> dict:
    """Score the version on each suite; attach the summary to the version."""
    from models.checkpoint import load_checkpoint
    from pipelines.learning.metrics import evaluate_windows

    t0 = time.perf_counter()
    with ctx.session_factory() as session:
        version = registry.get_version(session=session, version_id=params.model_version_id)
        path = ctx.settings.data_root / version.artifact_path
        trained_on = set((version.training_data or {}).get("files") or [])
        name, arch = version.name, version.architecture
    clf = load_checkpoint(path)
    suites = _suites(arch, ctx.settings.datasets_dir)
    if params.quick:
        suites = {k: _quick(v) for k, v in suites.items()}
    total = sum(len(v) for v in suites.values())
    done, report = 0, {}
    for suite, recordings in suites.items():
        probas, ys, groups = [], [], []
        for rec in recordings:
            ctx.progress(done / max(1, total), f"{suite}: {rec.recording_id}")
            x, label = _inputs(clf, rec)
            probas.append(clf.predict_proba(x))
            ys.append(np.full(len(x), label))
            groups.append(np.full(len(x), rec.recording_id, dtype=object))
            done += 1
        m = evaluate_windows(np.concatenate(probas), np.concatenate(ys).astype(np.int64),
                             np.concatenate(groups), clf.classes)
        m.pop("recordings", None)
        m["n_recordings"] = len(recordings)
        m["recordings_seen_in_training"] = sum(
            1 for r in recordings if f"{r.rig}/{r.file}" in trained_on or r.file in trained_on)
        report[suite] = m
        ctx.log(f"{suite}: macro-F1 {m['macro_f1']:.3f} on {len(recordings)} recordings "
                f"({m['recordings_seen_in_training']} seen in training)")
    result = {"model_version_id": params.model_version_id, "model": name, "architecture": arch,
              "quick": params.quick, "suites": report,
              "seconds": round(time.perf_counter() - t0, 1)}
    _attach(ctx, params, result)
    return result


def _attach(ctx: JobContext, params: Params, result: dict) -> None:
    summary = {"job_id": ctx.job_id, "at": utcnow().isoformat(), "quick": params.quick,
               "suites": {k: {"macro_f1": round(v["macro_f1"], 4),
                              "accuracy": round(v["accuracy"], 4),
                              "n_windows": v["n_windows"],
                              "recordings_seen_in_training": v["recordings_seen_in_training"],
                              "n_recordings": v["n_recordings"]}
                          for k, v in result["suites"].items()}}
    with ctx.session_factory() as session:
        version = registry.get_version(session=session, version_id=params.model_version_id)
        metrics = dict(version.metrics or {})
        metrics["evaluations"] = [*metrics.get("evaluations", []), summary][-KEEP_EVALUATIONS:]
        version.metrics = metrics
        flag_modified(version, "metrics")
        session.commit()
