"""The defect-order explanation evaluation on real recordings: the split holds out CWRU 2 HP
and a UESTC speed, rows carry every method and reference, the summary and its markdown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from models.checkpoint import build_model
from pipelines.evaluation import explanations as ev
from pipelines.evaluation import order_explanations as oe
from pipelines.explain import attribution as attr
from pipelines.learning.datasets import load_uestc

DATA = Path(os.environ.get("WINDWATCH_DATASETS_DIR", "../shared/datasets"))
pytestmark = pytest.mark.skipif(not (DATA / "uestc_bearing" / "labels.csv").exists(),
                                reason=f"no UESTC recordings under {DATA}")


def test_split_holds_out_a_load_and_a_speed():
    train, test = oe.split(DATA)
    assert not {r.recording_id for r in train} & {r.recording_id for r in test}
    assert {r.load_hp for r in test if r.rig == "cwru"} == {2}
    assert {oe.uestc_speed(r) for r in test if r.rig == "uestc"} == {1200}
    assert 1200 not in {oe.uestc_speed(r) for r in train if r.rig == "uestc"}


def test_rows_summary_and_markdown(tmp_path):
    recs = [r for r in load_uestc(DATA) if oe.uestc_speed(r) == 1200
            and r.label in ("inner_race", "outer_race")]
    torch.manual_seed(0)
    model = build_model("family1d", {"n_classes": 4}).eval()
    rows = oe.order_agreement(recs, model, model, log=lambda _: None)
    assert {r["method"] for r in rows} == {*attr.METHODS, *oe.REFERENCES}
    for r in rows:
        assert 0 <= r["share"] <= 1 + 1e-9 and r["chance"] == pytest.approx(17 / 640)
        assert 0 <= r["sb_share"] <= 1 + 1e-9 and r["sb_chance"] == pytest.approx(68 / 640)
        assert 0 <= r["lines_share"] <= 1 + 1e-9 and r["family"] in ("BPFI", "BPFO")
    summary = oe.summarise(rows)
    assert {(s["label"], s["method"]) for s in summary} == {
        (lab, m) for lab in ("inner_race", "outer_race") for m in (*attr.METHODS, *oe.REFERENCES)}
    results = {"summary": summary, "seconds": 1.0, "torch": torch.__version__, "threads": 1,
               "arch": "family1d", "steps": 0, "seed": 0, "n_train_inputs": 0}
    md = oe.render_markdown(results, "cmd")
    assert md.startswith(oe.MARKER) and "| inner_race (n=1" in md and "Target" in md
    (tmp_path / "explanations.md").write_text("# spectrum part\n\n" + md)
    assert ev.kept_order_section(tmp_path).strip() == md.strip()
