"""Checkpoints: safetensors weights + JSON metadata, and the ``Classifier`` that serves them.

Metadata (``<stem>.json``): name, architecture, config, classes, input_spec, training_data,
metrics, weights_sha256, created_at. The sha256 is verified on load, so a registry row always
describes exactly the weights that run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models.cnn1d import CNN1d, CNN1dConfig
from models.cnn2d import CNN2d, CNN2dConfig

ARCHITECTURES: dict[str, tuple[type, type]] = {
    "cnn1d": (CNN1d, CNN1dConfig),
    "cnn2d": (CNN2d, CNN2dConfig),
}


def build_model(architecture: str, config: dict) -> nn.Module:
    net_cls, cfg_cls = ARCHITECTURES[architecture]
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in fields}
    return net_cls(cfg_cls(**kwargs))


def architecture_of(model: nn.Module) -> str:
    for name, (net_cls, _) in ARCHITECTURES.items():
        if isinstance(model, net_cls):
            return name
    raise TypeError(f"unknown architecture {type(model).__name__}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(model: nn.Module, meta: dict, path_stem: Path | str) -> str:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; returns the weights' sha256."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_suffix(".safetensors")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights))
    sha = sha256_file(weights)
    full = {
        "name": stem.name,
        "architecture": architecture_of(model),
        "config": dataclasses.asdict(model.cfg),
        "created_at": datetime.now(UTC).isoformat(),
        **meta,
        "weights_file": weights.name,
        "weights_sha256": sha,
    }
    stem.with_suffix(".json").write_text(json.dumps(full, indent=2, default=float))
    return sha


class Classifier:
    """A loaded model in eval mode. Forward passes keep no per-call state on the module, so
    one instance serves concurrent requests from a thread pool."""

    def __init__(self, model: nn.Module, meta: dict):
        self.model = model.eval()
        self.meta = meta
        self.name: str = meta["name"]
        self.architecture: str = meta["architecture"]
        self.classes: list[str] = list(meta["classes"])
        self.input_spec_dict: dict = dict(meta["input_spec"])
        self.sha256: str = meta["weights_sha256"]

    def predict_proba(self, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(B, *input_shape) float32 -> (B, n_classes) softmax probabilities."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                out.append(torch.softmax(self.model(x[i : i + batch_size]), dim=1))
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def input_gradient(self, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        """|d logit[target] / d input| for each row, same shape as ``inputs``."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).requires_grad_(True)
        logits = self.model(x)
        idx = torch.as_tensor(np.asarray(target, dtype=np.int64))
        logits.gather(1, idx[:, None]).sum().backward()
        return x.grad.abs().numpy()


def load_checkpoint(json_path: Path | str) -> Classifier:
    """Load and sha256-verify a checkpoint written by ``save_checkpoint``."""
    json_path = Path(json_path)
    meta = json.loads(json_path.read_text())
    weights = json_path.with_name(meta.get("weights_file", json_path.stem + ".safetensors"))
    actual = sha256_file(weights)
    if actual != meta["weights_sha256"]:
        raise ValueError(f"{weights}: sha256 {actual} does not match metadata {meta['weights_sha256']}")
    model = build_model(meta["architecture"], meta["config"])
    model.load_state_dict(load_file(str(weights)))
    return Classifier(model, meta)
