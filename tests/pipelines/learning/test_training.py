"""Training, augmentation and evaluation on tiny synthetic recordings; the real CWRU protocol
(slow) on the shared datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from pipelines.features.spec import InputSpec
from pipelines.learning.augmentation import augment_inputs
from pipelines.learning.datasets import CLASSES, Recording
from pipelines.learning.metrics import evaluate, evaluate_windows, macro_f1
from pipelines.learning.training import train
from tests.conftest import DATASETS

SPEC = InputSpec(kind="spectrum", fs_hz=2000.0, n_fft=128, n_bins=48)
TINY = {"n_classes": 4, "channels": [4, 8, 8], "kernels": [5, 3, 3], "dropout": 0.0}
# The CNNs pool globally over frequency, so classes must differ in spectral *pattern* (here the
# spacing of a harmonic comb), not only in where a single line sits.
SPACING_HZ = {"normal": None, "inner_race": 47.0, "outer_race": 94.0, "ball": 188.0}


def tone(rid: str, label: str, seed: int, duration_s: float = 1.5) -> Recording:
    t = np.arange(int(duration_s * 2000)) / 2000
    rng = np.random.default_rng(seed)
    x = 0.3 * rng.standard_normal(len(t))
    if SPACING_HZ[label]:
        f = np.arange(SPACING_HZ[label], 700, SPACING_HZ[label])
        x += np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 6, (len(f), 1))).sum(0)
    return Recording(recording_id=rid, file=f"{rid}.mat", label=label, fault_size_in=0.0,
                     load_hp=0, rpm=1797.0, fs_hz=2000.0, rig="synthetic",
                     signal=x.astype(np.float32))


def recordings(first_seed: int) -> list[Recording]:
    return [tone(f"{c}-{first_seed + i}", c, first_seed + i) for i, c in enumerate(CLASSES)]


def test_macro_f1_and_window_metrics():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert macro_f1(y, y, 4) == 1.0
    pred = np.array([0, 1, 1, 1, 2, 2])
    assert macro_f1(y, pred, 3) == pytest.approx(np.mean([2 / 3, 0.8, 1.0]))
    proba = np.eye(4, dtype=np.float32)[pred]
    groups = np.array(["a", "a", "b", "b", "c", "c"], dtype=object)
    m = evaluate_windows(proba, y, groups)
    assert m["confusion"][0] == [1, 1, 0, 0] and m["recall"]["normal"] == 0.5
    assert m["accuracy"] == pytest.approx(5 / 6) and m["false_alarm_rate"] == 0.5
    assert m["recordings"]["a"]["true"] == "normal" and m["recording_accuracy"] >= 2 / 3


@pytest.mark.parametrize("shape", [(8, 1, 48), (8, 1, 16, 12)])
def test_augmentation_keeps_shape_and_standardisation(shape):
    x = torch.randn(*shape)
    a = augment_inputs(x, torch.Generator().manual_seed(0))
    b = augment_inputs(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.allclose(a, x)
    dims = tuple(range(1, len(shape)))
    torch.testing.assert_close(a.mean(dims), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.std(dims), torch.ones(8), atol=1e-4, rtol=0)


@pytest.fixture
def one_thread():
    # Tiny models run faster on one thread, and far faster on a busy 2-core box.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


KW = {"batch_size": 16, "max_steps_per_epoch": 10, "stride_s": 0.05, "lr": 1e-2}


def test_training_learns_separable_classes(one_thread, tmp_path):
    log: list[str] = []
    model, history = train(recordings(0), recordings(10), SPEC, "cnn1d", TINY, seed=1,
                           max_epochs=15, patience=15, log=log.append, **KW)
    assert len(log) == len(history) and any(h.get("best") for h in history)
    assert not model.training
    m = evaluate(model, recordings(20), SPEC, stride_s=0.05)
    assert m["macro_f1"] > 0.9 and m["recording_accuracy"] == 1.0
    assert set(m) >= {"accuracy", "recall", "confusion", "recordings", "false_alarm_rate"}
    # a loaded Classifier brings its own input spec and gives the same figures
    save_checkpoint(model, {"classes": CLASSES, "input_spec": SPEC.to_dict()}, tmp_path / "t")
    again = evaluate(load_checkpoint(tmp_path / "t.json"), recordings(20), stride_s=0.05)
    assert again["confusion"] == m["confusion"]


def test_training_is_seeded(one_thread):
    runs = [train(recordings(0), recordings(10), SPEC, "cnn1d", TINY, seed=seed, max_epochs=2,
                  log=lambda _: None, **KW)[0].state_dict() for seed in (1, 1, 2)]
    assert all(torch.equal(p, q) for p, q in zip(runs[0].values(), runs[1].values(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(runs[0].values(), runs[2].values(),
                                                     strict=True))


def test_no_windows_is_an_error():
    short = [tone("s", "ball", 0, duration_s=0.01)]
    with pytest.raises(ValueError, match="windows"):
        train(short, short, SPEC, "cnn1d", TINY, max_epochs=1)


@pytest.mark.slow
@pytest.mark.skipif(not (DATASETS / "cwru_12k_drive_end_dev").exists(),
                    reason=f"CWRU data not found under {DATASETS}")
def test_train_default_writes_an_honest_checkpoint(tmp_path):
    from pipelines.learning.protocol import train_default

    meta = train_default(DATASETS, tmp_path / "quick", arch="cnn1d", seed=0, max_epochs=2,
                         patience=2, log=lambda _: None)
    on_disk = json.loads((tmp_path / "quick.json").read_text())
    assert on_disk["weights_sha256"] == meta["weights_sha256"]
    splits = meta["training_data"]["splits"]
    assert not set(splits["train"]) & set(splits["test"])
    assert not set(splits["val"]) & set(splits["test"])
    assert all("_2_" in r or r.endswith("#b2") for r in splits["test"])
    assert not any("_2_" in f for f in meta["training_data"]["files"])
    assert {"accuracy", "macro_f1", "confusion"} <= set(meta["metrics"]["test"])
    clf = load_checkpoint(tmp_path / "quick.json")
    assert clf.classes == CLASSES
