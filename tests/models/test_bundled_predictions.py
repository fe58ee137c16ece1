"""The bundled models' verdicts on the real CWRU held-out recordings are pinned.

``bundled_predictions.json`` holds, per architecture and recording (every load-2 HP fault file
and the 48 kHz normal baseline), the label, the window count and the mean probabilities that
``analyse_snapshot`` gave when the file was written. A refactoring of the features, the
resampling or the models that changes a served verdict fails here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from models.checkpoint import load_checkpoint
from pipelines.inference.snapshot import analyse_snapshot
from pipelines.learning.datasets import read_labelled_file
from tests.conftest import CWRU

HERE = Path(__file__).resolve().parent
BUNDLED = HERE.parents[1] / "models" / "bundled"
PINNED = json.loads((HERE / "bundled_predictions.json").read_text())


def _rows() -> dict[str, dict[str, str]]:
    with open(CWRU / "labels.csv", newline="") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


@pytest.mark.slow
@pytest.mark.skipif(not CWRU.exists(), reason=f"CWRU data not found at {CWRU}")
@pytest.mark.parametrize("arch", sorted(PINNED))
def test_bundled_predictions_on_real_recordings_are_unchanged(arch):
    clf = load_checkpoint(BUNDLED / f"{arch}-default.json")
    rows = _rows()
    for name, want in PINNED[arch].items():
        rec = read_labelled_file(CWRU, rows[name])
        got = analyse_snapshot(rec.signal[None], rec.fs_hz, clf)
        assert (got.label, got.n_windows) == (want["label"], want["n_windows"]), name
        np.testing.assert_allclose(got.probabilities, want["probabilities"], atol=1e-4,
                                   err_msg=name)
        assert got.label == rec.label, name  # and every pinned verdict is the right one
