"""Backfill as a Ray Data pipeline: tasks -> read raw Parquet + model inputs (Ray tasks) ->
batched inference (``map_batches`` on an actor pool; each actor loads the model once) -> rows
streamed back to the driver, which writes them in bulk.

The steps are those of ``service.jobs.rescore``, so the rows equal the in-process path's. Every
Ray worker must reach the data root (raw files and model artifacts) under the same path as the
driver: on a real cluster, a shared volume mounted at the same place on every node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from pipelines.features.spec import InputSpec
from service.jobs import rescore

LOCAL = "local"
LOCAL_CPUS = 2


def ensure_ray(address: str) -> None:
    """Connect to the cluster at ``address`` (``local``: start Ray inside this process with
    ``LOCAL_CPUS`` CPUs), unless this process is connected already."""
    import ray

    if ray.is_initialized():
        return
    # Raw rows are large; keep Ray's own progress bars and log forwarding out of the job's output.
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    if address == LOCAL:
        ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


class Scorer:
    """Ray Data batch UDF on an actor: the checkpoint is loaded (and sha-verified) once per
    actor, then every batch of prepared snapshots is one ``predict_proba``."""

    def __init__(self, artifact: str, torch_threads: int = 1):
        import torch

        from models.checkpoint import load_checkpoint

        torch.set_num_threads(torch_threads)
        self.classifier = load_checkpoint(artifact)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [{k: batch[k][i] for k in batch} for i in range(len(batch["batch_id"]))]
        for r in rows:  # Arrow hands lists back as arrays
            r["shape"] = [int(v) for v in r["shape"]]
            r["batch_id"] = int(r["batch_id"])
        out = rescore.score(self.classifier, rows)
        return {k: np.array([o[k] for o in out], dtype=object if k in _TEXT else None)
                for k in out[0]} if out else {}


_TEXT = {"label", "probabilities", "per_channel", "diagnosis", "error"}


def ray_rescore(tasks: Sequence[dict], *, artifact: Path | str, spec_dict: dict,
                max_fs_hz: float = 1e6, batch_size: int = 64, actors: int = 1,
                prepare_cpus: float = 1.0, scorer_cpus: float = 1.0) -> Iterator[list[dict]]:
    """Scored rows of ``tasks`` (see ``rescore.score``), yielded as they arrive in lists of
    up to ``batch_size``; the order is not that of ``tasks``. Needs ``ensure_ray`` first.

    Preparing (read + inputs) is stateless and runs as Ray tasks, as many as the CPUs allow;
    scoring runs on ``actors`` actors, each holding the model."""
    import ray

    if not tasks:
        return
    blocks = max(1, min(len(tasks), len(tasks) // max(batch_size, 1) + 1))
    source = ray.data.from_items(list(tasks), override_num_blocks=blocks)
    ds = source.map(partial(rescore.prepare, spec=InputSpec.from_dict(spec_dict), max_fs_hz=max_fs_hz),
                num_cpus=prepare_cpus)
    ds = ds.map_batches(Scorer, fn_constructor_kwargs={"artifact": str(artifact)},
                        batch_size=batch_size, concurrency=actors, num_cpus=scorer_cpus,
                        batch_format="numpy")
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
        n = len(batch["batch_id"])
        yield [{"batch_id": int(batch["batch_id"][i]), "label": str(batch["label"][i]),
                "score": float(batch["score"][i]), "probabilities": str(batch["probabilities"][i]),
                "per_channel": str(batch["per_channel"][i]), "n_windows": int(batch["n_windows"][i]),
                "diagnosis": str(batch["diagnosis"][i]), "error": str(batch["error"][i])}
               for i in range(n)]
