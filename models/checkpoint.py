"""Checkpoints: safetensors weights + JSON metadata, and the ``Classifier`` that serves them.

Metadata (``<stem>.json``): name, architecture, config, classes, input_spec, training_data,
metrics, weights_file, weights_sha256, created_at. The sha256 of the weights file is verified
on load, so a registry row always describes exactly the weights that run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models.cnn1d import CNN1d, CNN1dConfig
from models.cnn2d import CNN2d, CNN2dConfig
from models.family1d import Family1d, Family1dConfig
from models.family2d import Family2d, Family2dConfig
from models.family_head import LEGACY_HEAD_OPTIONS, decides_in_two_stages

ARCHITECTURES: dict[str, tuple[type[nn.Module], type]] = {
    "cnn1d": (CNN1d, CNN1dConfig),
    "cnn2d": (CNN2d, CNN2dConfig),
    "family1d": (Family1d, Family1dConfig),
    "family2d": (Family2d, Family2dConfig),
}


class ChecksumError(ValueError):
    """The weights file does not match the sha256 recorded in its metadata."""


def build_model(architecture: str, config: dict) -> nn.Module:
    """A freshly initialised model of ``architecture`` from a (JSON) config dict."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}")
    net_cls, cfg_cls = ARCHITECTURES[architecture]
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    # JSON turns tuples into lists; the dataclasses want tuples.
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in fields}
    return net_cls(cfg_cls(**kwargs))


def architecture_of(model: nn.Module) -> str:
    """The registry name (``cnn1d`` | ``cnn2d``) of a model instance."""
    for name, (net_cls, _) in ARCHITECTURES.items():
        if isinstance(model, net_cls):
            return name
    raise TypeError(f"unknown architecture {type(model).__name__}")


def without_subnormals(t: torch.Tensor) -> torch.Tensor:
    """``t`` with its subnormal floats (|w| < 1.2e-38) set to zero (other dtypes unchanged).

    Weight decay leaves a few weights of a small network this close to zero, and one subnormal
    operand moves a CPU convolution onto its slow microcode path: with 24 such weights in a
    1-D family model, one snapshot's forward pass took 14 ms instead of 2 ms. What they add to
    any output is below float32 resolution, so zeroing them changes no prediction."""
    if not t.is_floating_point():
        return t
    return t.masked_fill((t.abs() < torch.finfo(t.dtype).tiny) & (t != 0), 0.0)


def flush_subnormal_(model: nn.Module) -> nn.Module:
    """Zero the subnormal weights and buffers of ``model`` in place (see
    :func:`without_subnormals`); returns the model."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            t.copy_(without_subnormals(t))
    return model


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _json_default(o: object) -> object:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_checkpoint(model: nn.Module, meta: dict, path_stem: Path | str) -> str:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; return the weights' sha256.

    ``meta`` should carry at least ``classes`` and ``input_spec``; ``name`` defaults to the
    stem's name. ``architecture``, ``config``, ``weights_file`` and ``weights_sha256`` are
    always taken from the model and the written file.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_name(stem.name + ".safetensors")
    state = {k: without_subnormals(v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items()}
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, weights)  # a reader never sees a half-written weights file
    sha = sha256_file(weights)
    full = {
        "name": stem.name,
        "created_at": datetime.now(UTC).isoformat(),
        **meta,
        "architecture": architecture_of(model),
        "config": dataclasses.asdict(cast(Any, model).cfg),
        "weights_file": weights.name,
        "weights_sha256": sha,
    }
    stem.with_name(stem.name + ".json").write_text(json.dumps(full, indent=2,
                                                              default=_json_default))
    return sha


class Classifier:
    """A loaded model in eval mode, with frozen parameters.

    Calls keep no per-call state on the module (no parameter gradients, no batch-norm updates),
    so one instance serves concurrent requests from a thread pool.
    """

    def __init__(self, model: nn.Module, meta: dict):
        model = model.eval().requires_grad_(False)
        if architecture_of(model) == "cnn2d":
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # faster pooling on CPU
        self.model = model
        self.meta = meta
        self.name: str = meta["name"]
        self.architecture: str = meta["architecture"]
        self.classes: list[str] = list(meta["classes"])
        self.two_stage: bool = decides_in_two_stages(model)  # how its label is decided
        self.input_spec_dict: dict = dict(meta["input_spec"])
        self.sha256: str = meta["weights_sha256"]

    def _tensor(self, inputs: np.ndarray) -> torch.Tensor:
        x = np.ascontiguousarray(inputs, dtype=np.float32)
        if x.ndim not in (3, 4):
            raise ValueError(f"expected (B, 1, F), (B, 1, F, T) or (B, F, R, L) inputs, got "
                             f"shape {x.shape}")
        t = torch.from_numpy(x)
        if t.ndim == 4 and self.architecture == "cnn2d":
            return t.contiguous(memory_format=torch.channels_last)
        return t

    def predict_proba(self, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(B, *input_shape) float32 -> (B, n_classes) float32 softmax probabilities."""
        x = self._tensor(inputs)
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        with torch.inference_mode():
            out = [torch.softmax(self.model(chunk), dim=1) for chunk in x.split(batch_size)]
        return torch.cat(out).numpy()


def load_checkpoint(json_path: Path | str) -> Classifier:
    """Load and sha256-verify a checkpoint written by ``save_checkpoint`` (eval mode).

    Raises ``ChecksumError`` (a ``ValueError``) if the weights differ from the metadata.
    """
    json_path = Path(json_path)
    meta = json.loads(json_path.read_text())
    weights = json_path.with_name(meta.get("weights_file") or json_path.stem + ".safetensors")
    actual = sha256_file(weights)
    if actual != meta["weights_sha256"]:
        raise ChecksumError(
            f"{weights}: sha256 {actual} does not match the metadata's {meta['weights_sha256']}"
        )
    config = dict(meta["config"])
    if meta["architecture"].startswith("family"):
        # An option missing from a checkpoint predates it: load the head it was trained with.
        config = {**LEGACY_HEAD_OPTIONS, **config}
    model = build_model(meta["architecture"], config)
    model.load_state_dict(load_file(str(weights)))
    flush_subnormal_(model)
    n_outputs = cast(Any, model).cfg.n_classes
    if len(meta["classes"]) != n_outputs:
        raise ValueError(f"{json_path}: {len(meta['classes'])} classes for a "
                         f"{n_outputs}-output model")
    return Classifier(model, meta)
