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
    load_checkpoint,
    save_checkpoint,
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
