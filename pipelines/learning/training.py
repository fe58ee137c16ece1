"""Seeded CPU training: class-balanced sampling, augmentation, EMA weights and early stopping
on a recording-grouped validation split (``train``); a short fit for sanity checks
(``fit_quick``)."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from models.checkpoint import build_model
from pipelines.features.spec import InputSpec
from pipelines.learning.augmentation import TRAIN_NOISE_SNR_DB, augment_inputs, with_noisy_copies
from pipelines.learning.datasets import Recording, windows_dataset
from pipelines.learning.metrics import evaluate_windows, predict_proba, to_model_layout

# Training budget per architecture: the 2-D model costs ~5x more per input, and converges in
# fewer epochs; these keep `windwatch train` within a few minutes on 2 cores.
SCHEDULE: dict[str, dict[str, Any]] = {
    "cnn1d": {"max_epochs": 30, "patience": 6, "max_steps_per_epoch": 24},
    "cnn2d": {"max_epochs": 12, "patience": 4, "max_steps_per_epoch": 16},
}
Log = Callable[[str], None]


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    # Batch-norm running statistics are averaged too; integer counters are copied.
    for e, m in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        if e.is_floating_point():
            e.lerp_(m, 1.0 - decay)
        else:
            e.copy_(m)


def train(recordings_train: Sequence[Recording], recordings_val: Sequence[Recording],
          spec: InputSpec, arch: str, config: dict, seed: int = 0,
          max_epochs: int | None = None, patience: int | None = None, batch_size: int = 64,
          lr: float = 2e-3, stride_s: float = 0.1, normal_stride_s: float | None = None,
          max_steps_per_epoch: int | None = None,
          augment: bool = True, ema_decay: float = 0.98, log: Log = print,
          noise_snr_db: Sequence[float] = TRAIN_NOISE_SNR_DB,
          ) -> tuple[nn.Module, list[dict]]:
    """Train ``arch`` (config dict) on CPU; return the best-validation model (eval mode) and
    the per-epoch history.

    Class-balanced sampling (each class equally likely per draw: the normal class has few
    windows); AdamW with a cosine learning-rate decay over ``max_epochs``; feature-domain
    augmentation (``augment_inputs``). Validation and the returned weights use an exponential
    moving average of the weights (``ema_decay`` per step, 0 = off): with a handful of
    validation recordings the raw weights' verdicts swing from epoch to epoch. Early stopping
    keeps the epoch with the best validation macro-F1, ties broken by lower class-balanced
    loss, and stops after ``patience`` epochs without improvement. Seeded: torch and numpy.
    ``max_epochs``, ``patience`` and ``max_steps_per_epoch`` default to ``SCHEDULE[arch]``.
    """
    sched = SCHEDULE.get(arch, SCHEDULE["cnn1d"])
    max_epochs = max_epochs or sched["max_epochs"]
    patience = patience or sched["patience"]
    max_steps_per_epoch = max_steps_per_epoch or sched["max_steps_per_epoch"]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    by_label = {"normal": normal_stride_s} if normal_stride_s else None
    if noise_snr_db:  # noisy copies: see with_noisy_copies
        recordings_train = with_noisy_copies(recordings_train, spec, noise_snr_db, seed)
        recordings_val = with_noisy_copies(recordings_val, spec, (min(noise_snr_db),), seed + 1)
    xtr, ytr, _ = windows_dataset(recordings_train, spec, stride_s, by_label)
    xva, yva, gva = windows_dataset(recordings_val, spec, stride_s, by_label)
    if len(ytr) == 0 or len(yva) == 0:
        raise ValueError("no training or validation windows: recordings shorter than a window?")
    xtr_t = torch.from_numpy(xtr)
    model = build_model(arch, config)
    if xtr.ndim == 4:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    lr_sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs)
    ema = copy.deepcopy(model).eval() if ema_decay > 0 else model
    counts = np.bincount(ytr, minlength=int(config["n_classes"]))
    p = 1.0 / counts[ytr]
    p /= p.sum()
    steps = min(max_steps_per_epoch, max(1, math.ceil(len(ytr) / batch_size)))
    best_key, best_state, history, stale = None, None, [], 0
    gen = torch.Generator().manual_seed(seed)
    n_steps = 0
    for epoch in range(max_epochs):
        model.train()
        t0, total = time.perf_counter(), 0.0
        for _ in range(steps):
            idx = torch.from_numpy(rng.choice(len(ytr), size=batch_size, p=p))
            xb = xtr_t[idx]
            if augment:
                xb = augment_inputs(xb, gen)
            loss = nn.functional.cross_entropy(model(to_model_layout(xb)), torch.from_numpy(ytr)[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not model:  # warm-up: early on the average must not cling to the init
                n_steps += 1
                _ema_update(ema, model, min(ema_decay, (1 + n_steps) / (10 + n_steps)))
            total += loss.item()
        lr_sched.step()
        val = evaluate_windows(predict_proba(ema, xva), yva, gva)
        row = {"epoch": epoch, "train_loss": round(total / steps, 5),
               "val_loss": round(val["balanced_loss"], 5),
               "val_macro_f1": round(val["macro_f1"], 5),
               "val_accuracy": round(val["accuracy"], 5),
               "seconds": round(time.perf_counter() - t0, 2)}
        history.append(row)
        log(f"epoch {epoch:2d}  train loss {row['train_loss']:.4f}  val loss {row['val_loss']:.4f}"
            f"  val macro-F1 {row['val_macro_f1']:.4f}  ({row['seconds']:.1f} s)")
        # Better = higher macro-F1, or the same F1 with a loss at least 2 % lower (a smaller
        # loss gain is noise on a few validation recordings and should not reset patience).
        key = (round(val["macro_f1"], 4), val["balanced_loss"])
        if best_key is None or key[0] > best_key[0] or (
                key[0] == best_key[0] and key[1] < 0.98 * best_key[1]):
            best_key, best_state, stale = key, copy.deepcopy(ema.state_dict()), 0
            row["best"] = True
        else:
            stale += 1
            if stale >= patience:
                break
    model.load_state_dict(cast(dict, best_state))
    return model.to(memory_format=torch.contiguous_format).eval(), history  # type: ignore[call-overload]


def fit_quick(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int = 200,
              batch: int = 64, lr: float = 3e-3, seed: int = 0) -> nn.Module:
    """A few hundred seeded Adam steps of cross-entropy (sanity-check retraining only)."""
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(y))
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # dropout masks
        model.train().requires_grad_(True)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(steps):
            idx = torch.randint(len(xt), (min(batch, len(xt)),), generator=gen)
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval().requires_grad_(False)
