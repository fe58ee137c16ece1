"""The bundled defect-family models' verdicts on real recordings are pinned.

``bundled_family_predictions.json`` holds, per model and recording (every CWRU load-2 HP file,
the CWRU healthy recording and one run per class of UESTC at 1200 rpm, each read on its rig's
geometry), the label, window count and mean probabilities ``analyse_snapshot`` gave when the
file was written. A change of the features, the speed handling or the models that moves a
served verdict fails here; rewrite the file on purpose with
``python -m tests.models.test_bundled_family_predictions``. (These recordings were in the
models' training data: this pins behaviour, it does not measure accuracy.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.checkpoint import load_checkpoint
from pipelines.dsp.kinematics import BEARINGS
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import analyse_snapshot
from pipelines.learning.datasets import Recording, load_cwru, load_uestc
from tests.conftest import CWRU, DATASETS

HERE = Path(__file__).resolve().parent
BUNDLED = HERE.parents[1] / "models" / "bundled"
PIN_FILE = HERE / "bundled_family_predictions.json"
ARCHS = ("family1d", "family2d")


def pinned_recordings() -> list[Recording]:
    cwru = [r for r in load_cwru(DATASETS) if r.load_hp == 2 or r.label == "normal"]
    uestc = [r for r in load_uestc(DATASETS) if r.recording_id in
             {"N_1200_1", "I_1200_1", "O_1200_1", "B_1200_1"}]
    return cwru + uestc


def verdict(clf, rec: Recording) -> dict:
    shaft = ShaftContext(rpm=rec.rpm, defect_orders=BEARINGS[str(rec.bearing)].geometry
                         .defect_orders())
    a = analyse_snapshot(rec.signal[None], rec.fs_hz, clf, shaft=shaft)
    return {"label": a.label, "n_windows": a.n_windows,
            "probabilities": [round(float(p), 6) for p in a.probabilities]}


@pytest.mark.slow
@pytest.mark.skipif(not CWRU.exists(), reason=f"CWRU data not found at {CWRU}")
@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_family_predictions_are_unchanged(arch):
    pinned = json.loads(PIN_FILE.read_text())[arch]
    clf = load_checkpoint(BUNDLED / f"{arch}-default.json")
    recs = {r.recording_id: r for r in pinned_recordings()}
    assert set(pinned) == set(recs)
    for rid, want in pinned.items():
        got = verdict(clf, recs[rid])
        assert (got["label"], got["n_windows"]) == (want["label"], want["n_windows"]), rid
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-4,
                                   err_msg=rid)


if __name__ == "__main__":
    out = {}
    for arch in ARCHS:
        clf = load_checkpoint(BUNDLED / f"{arch}-default.json")
        out[arch] = {r.recording_id: verdict(clf, r) for r in pinned_recordings()}
    PIN_FILE.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {PIN_FILE}")
