"""Classification metrics of window probabilities (macro-F1, balanced loss, confusion,
recording vote, false alarms) and batched prediction with a bare module or a Classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pipelines.features.spec import InputSpec
from pipelines.learning.datasets import CLASSES, Recording, windows_dataset


def to_model_layout(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """float32 tensor; 4-D inputs in channels_last, the layout the 2-D model runs fastest in."""
    t = torch.as_tensor(x, dtype=torch.float32)
    return t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t


def predict_proba(model: Any, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities (B, n_classes) of a bare module (set to eval mode) or Classifier."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)
    model.eval()
    with torch.inference_mode():
        out = [torch.softmax(model(to_model_layout(c)), 1) for c in torch.from_numpy(x).split(batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.cfg.n_classes), np.float32)


def macro_f1(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes present in ``y`` or ``pred``."""
    k = np.arange(n_classes)[:, None]
    tp = ((pred == k) & (y == k)).sum(1)
    fp = ((pred == k) & (y != k)).sum(1)
    fn = ((pred != k) & (y == k)).sum(1)
    seen = tp + fp + fn > 0
    return float(np.mean(2 * tp[seen] / (2 * tp + fp + fn)[seen])) if seen.any() else 0.0


def _balanced_nll(proba: np.ndarray, y: np.ndarray) -> float:
    # Mean over classes of each class's mean -log p: the few normal windows count as much as
    # the many fault windows, as in the balanced training sampler.
    nll = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None))
    return float(np.mean([nll[y == k].mean() for k in np.unique(y)]))


def evaluate_windows(proba: np.ndarray, y: np.ndarray, groups: np.ndarray,
                     classes: Sequence[str] = CLASSES) -> dict:
    """Metrics of window probabilities: window accuracy, macro-F1, balanced loss, per-class
    recall, confusion matrix (rows true, columns predicted), recording-level majority vote,
    and the false-alarm rate (normal windows called faulty)."""
    n = len(classes)
    pred = proba.argmax(1)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    recall = {c: float(cm[k, k] / cm[k].sum()) for k, c in enumerate(classes) if cm[k].sum()}
    votes = {}
    for g in np.unique(groups):
        m = groups == g
        votes[str(g)] = {"true": classes[int(y[m][0])], "n_windows": int(m.sum()),
                         "voted": classes[int(np.bincount(pred[m], minlength=n).argmax())]}
    normal = y == classes.index("normal") if "normal" in classes else np.zeros(len(y), bool)
    return {
        "n_windows": int(len(y)), "accuracy": float((pred == y).mean()),
        "macro_f1": macro_f1(y, pred, n), "balanced_loss": _balanced_nll(proba, y),
        "recall": recall, "confusion": cm.tolist(), "classes": list(classes),
        "recording_accuracy": float(np.mean([v["true"] == v["voted"] for v in votes.values()])),
        "recordings": votes,
        "false_alarm_rate": float((pred[normal] != y[normal]).mean()) if normal.any() else None,
    }


def evaluate(model: Any, recordings: Sequence[Recording], spec: InputSpec | None = None,
             stride_s: float = 0.1, stride_s_by_label: dict[str, float] | None = None,
             classes: Sequence[str] = CLASSES) -> dict:
    """Window and recording-level metrics of ``model`` (module or Classifier) on recordings.

    ``spec`` defaults to a Classifier's own ``input_spec_dict``.
    """
    if spec is None:
        spec = InputSpec.from_dict(model.input_spec_dict)
    x, y, groups = windows_dataset(recordings, spec, stride_s, stride_s_by_label, classes)
    return evaluate_windows(predict_proba(model, x), y, groups, classes)
