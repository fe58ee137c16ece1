"""Defect-family CNNs: shapes, the shared scorer's family symmetry, checkpoint round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models.checkpoint import build_model, load_checkpoint, save_checkpoint
from models.family_head import (
    EVIDENCE_BOUND,
    FAMILY_INDEX,
    LEGACY_EVIDENCE_BOUND,
    LEGACY_GATE_Z,
    FamilyHead,
    HeadOptions,
)

ARCHS = ("family1d", "family2d")


def inputs(b: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 5, 6, 128, generator=g)
    x[:, :, 5] = 0.0  # no shaft coincidences
    return x


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_shape_and_a_comb_in_a_family_raises_its_class(arch):
    torch.manual_seed(0)
    model = build_model(arch, {"n_classes": 4}).eval()
    x = inputs()
    assert model(x).shape == (3, 4)
    comb = x.clone()
    comb[:, FAMILY_INDEX["BPFI"], 2, [15, 31, 47]] += 30.0  # harmonics 1-3 of BPFI
    gain = model(comb) - model(x)
    # The rule term alone (weight 1 at init) lifts inner race above every other class.
    assert (gain[:, 1] > gain[:, 0]).all() and (gain[:, 1] > gain[:, 2]).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_swapping_two_race_planes_swaps_their_evidence(arch):
    # One scorer for every family: the network cannot prefer a family for where it is.
    torch.manual_seed(0)
    model = build_model(arch, {"n_classes": 4}).eval()
    with torch.no_grad():
        model.head.bias.zero_()
        x = inputs()
        swapped = x.clone()
        o, i = FAMILY_INDEX["BPFO"], FAMILY_INDEX["BPFI"]
        swapped[:, [o, i]] = x[:, [i, o]]
        a, b = model(x), model(swapped)
    torch.testing.assert_close(a[:, 1], b[:, 2])
    torch.testing.assert_close(a[:, 2], b[:, 1])


def saved(arch: str, folder) -> torch.nn.Module:
    """A fresh model of ``arch``, saved as ``folder / arch`` (.json + .safetensors)."""
    model = build_model(arch, {"n_classes": 4}).eval()
    meta = {"classes": ["normal", "inner_race", "outer_race", "ball"],
            "input_spec": {"kind": "defect_orders"}}
    save_checkpoint(model, meta, folder / arch)
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_checkpoint_round_trip(arch, tmp_path):
    model = saved(arch, tmp_path)
    clf = load_checkpoint(tmp_path / f"{arch}.json")
    x = inputs().numpy()
    p = clf.predict_proba(x)
    assert p.shape == (3, 4) and np.allclose(p.sum(1), 1.0, atol=1e-5)
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(x)), 1).numpy()
    np.testing.assert_allclose(p, want, atol=1e-6)


def test_the_family_head_has_four_classes():
    with pytest.raises(ValueError, match="4 classes"):
        build_model("family1d", {"n_classes": 3})


@pytest.mark.parametrize("arch", ARCHS)
def test_whether_a_fault_is_present_is_fixed_physics_not_learnt(arch):
    # p(normal) depends only on the strongest rule reading against the fixed gate: two models
    # with different weights agree on it, and only the family split differs.
    x = inputs(b=4)
    x[:, :, 2] = 0.0
    x[1, FAMILY_INDEX["BPFO"], 2, [15, 31, 47]] = 30.0  # 10 units = 60 dB: a clear comb
    x[2, FAMILY_INDEX["BPFI"], 2, [15, 31, 47]] = 1.5  # 0.5 units = 3 dB: below the gate
    probs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        with torch.no_grad():
            probs.append(torch.softmax(build_model(arch, {"n_classes": 4}).eval()(x), 1))
    torch.testing.assert_close(probs[0][:, 0], probs[1][:, 0])
    p = probs[0]
    assert p[0, 0] > 0.9 and p[2, 0] > 0.5  # flat, and a comb below 6 dB: normal
    assert p[1, 0] < 0.01 and int(p[1].argmax()) == 2  # outer race
    torch.testing.assert_close(p.sum(1), torch.ones(4))


@pytest.mark.parametrize("arch", ARCHS)
def test_checkpoints_without_the_new_options_load_as_they_were_trained(arch, tmp_path):
    saved(arch, tmp_path)
    json_path = tmp_path / f"{arch}.json"
    stored = json.loads(json_path.read_text())
    assert stored["config"]["evidence_bound"] == EVIDENCE_BOUND
    for key in ("family_priors", "gate_z", "fixed_detection", "evidence_bound"):
        stored["config"].pop(key)
    json_path.write_text(json.dumps(stored))
    head = load_checkpoint(json_path).model.head
    assert head.family_priors and head.gate_z == LEGACY_GATE_Z and not head.fixed_detection
    assert head.evidence_bound == LEGACY_EVIDENCE_BOUND


RACE_BALL = ("BPFI", "BPFO", "BSF")  # the order of the fault logits after "normal"
HARMONIC_CELLS = {"BPFI": [15, 31, 47], "BPFO": [15, 31, 47], "BSF": [31, 63, 95]}


@settings(max_examples=200, deadline=None)
@given(readings=st.lists(st.floats(0.0, 8.0), min_size=3, max_size=3),
       evidence=st.lists(st.floats(-1e3, 1e3), min_size=5, max_size=5),
       rule_weight=st.floats(-5.0, 5.0))
def test_the_learnt_evidence_never_overrules_a_comb_that_leads_by_6_db(readings, evidence,
                                                                         rule_weight):
    # Whatever the scorer learnt, a family whose rule reading (in 6-dB units) leads every other
    # by more than twice the bound is the family named: the network only breaks near-ties.
    head = FamilyHead(128, 16, HeadOptions())
    with torch.no_grad():
        head.rule_weight.fill_(rule_weight)
    x = torch.zeros(1, 5, 6, 128)
    for family, units in zip(RACE_BALL, readings, strict=True):
        x[0, FAMILY_INDEX[family], 2, HARMONIC_CELLS[family]] = 3.0 * units  # inputs: 3 per unit
    r = head.rule(x)[0]
    read = torch.stack([r[FAMILY_INDEX[f]] for f in RACE_BALL])
    top = int(read.argmax())
    lead = float(read[top] - torch.cat([read[:top], read[top + 1:]]).max())
    logits = head(x, torch.tensor([evidence], dtype=torch.float32))[0]
    if lead > 2 * EVIDENCE_BOUND + 1e-4:
        assert int(logits[1:].argmax()) == top
