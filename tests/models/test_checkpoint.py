"""Checkpoints: round trip, sha256 verification, and the Classifier's serving behaviour."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from models.checkpoint import (
    ChecksumError,
    Classifier,
    build_model,
    flush_subnormal_,
    load_checkpoint,
    save_checkpoint,
    without_subnormals,
)

CLASSES = ["normal", "inner_race", "outer_race"]
SPEC_1D = {"kind": "spectrum", "fs_hz": 2000.0, "n_fft": 128, "n_bins": 64, "hop": 128,
           "n_frames": 1, "max_windows": 8}
SPEC_2D = {"kind": "spectrogram", "fs_hz": 2000.0, "n_fft": 32, "n_bins": 16, "hop": 16,
           "n_frames": 16, "max_windows": 8}


def _save(model, tmp_path, spec, name="tiny") -> Classifier:
    meta = {"classes": CLASSES, "input_spec": spec, "metrics": {"test": {"accuracy": 0.5}},
            "training_data": {"files": ["a.mat"], "fingerprint": "x"}}
    save_checkpoint(model, meta, tmp_path / name)
    return load_checkpoint(tmp_path / f"{name}.json")


def test_round_trip_gives_the_same_probabilities(tiny1d, x1d, tmp_path):
    clf = _save(tiny1d, tmp_path, SPEC_1D)
    direct = Classifier(tiny1d, {"name": "t", "architecture": "cnn1d", "classes": CLASSES,
                                 "input_spec": SPEC_1D, "weights_sha256": ""})
    np.testing.assert_allclose(clf.predict_proba(x1d), direct.predict_proba(x1d), atol=1e-6)
    p = clf.predict_proba(x1d)
    assert p.dtype == np.float32 and p.shape == (6, 3)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)


def test_subnormal_weights_are_zeroed_on_save_and_load_without_changing_predictions(
        tiny1d, x1d, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    w = tiny1d.features[0].weight
    with torch.no_grad():  # what weight decay leaves: weights below float32's normal range
        w.view(-1)[:5] = torch.tensor([1e-39, -3e-40, 1e-45, 0.0, 2e-38])
    before = Classifier(tiny1d, {"name": "t", "architecture": "cnn1d", "classes": CLASSES,
                                 "input_spec": SPEC_1D, "weights_sha256": ""}).predict_proba(x1d)
    clf = _save(tiny1d, tmp_path, SPEC_1D)
    saved = load_file(str(tmp_path / "tiny.safetensors"))
    key = next(k for k in saved if k.endswith("weight") and saved[k].shape == w.shape)
    assert saved[key].view(-1)[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert saved[key].view(-1)[4].item() == pytest.approx(2e-38)  # normal: kept
    np.testing.assert_allclose(clf.predict_proba(x1d), before, atol=1e-6)
    # A file written elsewhere with subnormals: the loaded model holds none.
    state = {k: v.clone() for k, v in saved.items()}
    state[key].view(-1)[:2] = torch.tensor([1e-39, -1e-40])
    save_file(state, str(tmp_path / "tiny.safetensors"))
    meta = json.loads((tmp_path / "tiny.json").read_text())
    from models.checkpoint import sha256_file
    meta["weights_sha256"] = sha256_file(tmp_path / "tiny.safetensors")
    (tmp_path / "tiny.json").write_text(json.dumps(meta))
    loaded = load_checkpoint(tmp_path / "tiny.json")
    tiny = torch.finfo(torch.float32).tiny
    for p in loaded.model.parameters():
        assert not bool(((p.abs() < tiny) & (p != 0)).any())


def test_without_subnormals_leaves_integers_and_normal_floats():
    import torch

    ints = torch.tensor([0, 1, -3])
    assert without_subnormals(ints) is ints
    x = torch.tensor([1e-39, 1.0, -2e-38, 0.0])
    assert without_subnormals(x).tolist() == [0.0, 1.0, pytest.approx(-2e-38), 0.0]
    model = build_model("family1d", {"n_classes": 4})
    assert flush_subnormal_(model) is model


def test_metadata_describes_the_weights(tiny2d, tmp_path):
    clf = _save(tiny2d, tmp_path, SPEC_2D, name="m.v1")
    meta = json.loads((tmp_path / "m.v1.json").read_text())
    assert (tmp_path / "m.v1.safetensors").exists()
    assert meta["name"] == clf.name == "m.v1"
    assert meta["architecture"] == clf.architecture == "cnn2d"
    assert meta["weights_sha256"] == clf.sha256 and len(clf.sha256) == 64
    assert meta["config"]["channels"] == [4, 8, 8]
    assert clf.classes == CLASSES and clf.input_spec_dict == SPEC_2D
    assert {"metrics", "training_data", "created_at"} <= set(clf.meta)


def test_tampered_weights_raise(tiny1d, tmp_path):
    _save(tiny1d, tmp_path, SPEC_1D)
    path = tmp_path / "tiny.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256"):
        load_checkpoint(tmp_path / "tiny.json")


def test_class_count_must_match_the_model(tiny1d, tmp_path):
    save_checkpoint(tiny1d, {"classes": ["a", "b"], "input_spec": SPEC_1D}, tmp_path / "bad")
    with pytest.raises(ValueError, match="classes"):
        load_checkpoint(tmp_path / "bad.json")


def test_unknown_architecture_is_rejected():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("transformer", {})


@pytest.mark.parametrize("arch", ["cnn1d", "cnn2d"])
def test_one_by_one_equals_batched(arch, tiny1d, tiny2d, x1d, x2d, tmp_path):
    model, x, spec = (tiny1d, x1d, SPEC_1D) if arch == "cnn1d" else (tiny2d, x2d, SPEC_2D)
    model.train()  # the Classifier must switch to eval mode itself (batch-norm statistics)
    clf = _save(model, tmp_path, spec)
    batched = clf.predict_proba(x)
    single = np.concatenate([clf.predict_proba(x[i: i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(single, batched, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(x, batch_size=2), batched, atol=1e-6)
    assert clf.predict_proba(x[:0]).shape == (0, 3)


def test_concurrent_calls_match_serial_ones(tiny2d, x2d, tmp_path):
    clf = _save(tiny2d, tmp_path, SPEC_2D)
    want_p = clf.predict_proba(x2d)
    with ThreadPoolExecutor(4) as pool:
        ps = list(pool.map(lambda _: clf.predict_proba(x2d), range(8)))
    for p in ps:
        np.testing.assert_allclose(p, want_p, atol=1e-6)


def test_wrong_input_rank_is_a_value_error(tiny1d, tmp_path):
    clf = _save(tiny1d, tmp_path, SPEC_1D)
    with pytest.raises(ValueError, match="expected"):
        clf.predict_proba(np.zeros((3, 64), np.float32))
