"""The bundled default checkpoints: verified metadata, and real held-out CWRU verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from models.checkpoint import load_checkpoint
from pipelines.features.inputs import model_inputs
from pipelines.features.spec import InputSpec
from tests.conftest import CWRU

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "bundled"
ARCHS = ["cnn1d", "cnn2d"]


@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_checkpoint_loads_and_states_its_protocol(arch):
    clf = load_checkpoint(BUNDLED / f"{arch}-default.json")  # verifies the sha256
    assert clf.architecture == arch and clf.name == f"{arch}-default"
    assert clf.classes == ["normal", "inner_race", "outer_race", "ball"]
    data = clf.meta["training_data"]
    # Load 2 HP is the test set: none of its files was used for training or validation.
    assert data["splits"]["test"] and all("_2_" in r or "#b2" in r for r in data["splits"]["test"])
    assert not any("_2_" in f for f in data["files"]) and len(data["fingerprint"]) == 64
    assert {"accuracy", "macro_f1", "recall", "confusion"} <= set(clf.meta["metrics"]["test"])
    spec = InputSpec.from_dict(clf.input_spec_dict)
    assert clf.predict_proba(np.zeros((1, *spec.input_shape), np.float32)).shape == (1, 4)


HELD_OUT = [  # load 2 HP: unseen by the bundled models
    ("12k_Drive_End_IR007_2_107.mat", 107, "inner_race"),
    ("12k_Drive_End_IR021_2_211.mat", 211, "inner_race"),
    ("12k_Drive_End_OR007@6_2_132.mat", 132, "outer_race"),
    ("12k_Drive_End_OR021@6_2_236.mat", 236, "outer_race"),
    ("12k_Drive_End_B007_2_120.mat", 120, "ball"),
    ("12k_Drive_End_B021_2_224.mat", 224, "ball"),
]


@pytest.mark.slow
@pytest.mark.skipif(not CWRU.exists(), reason=f"CWRU data not found at {CWRU}")
@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_model_classifies_held_out_load_windows(arch):
    clf = load_checkpoint(BUNDLED / f"{arch}-default.json")
    spec = InputSpec.from_dict(clf.input_spec_dict)
    for name, number, label in HELD_OUT:
        x = scipy.io.loadmat(CWRU / name)[f"X{number:03d}_DE_time"].ravel()
        inputs, _ = model_inputs(x[None, :].astype(np.float32), 12_000.0, spec)
        proba = clf.predict_proba(inputs)
        assert 4 <= len(inputs) <= spec.max_windows
        votes = np.bincount(proba.argmax(1), minlength=4)
        assert clf.classes[int(proba.mean(0).argmax())] == label, (name, proba.mean(0))
        assert votes[clf.classes.index(label)] >= 0.75 * len(inputs), (name, votes)
