"""``windwatch import``: real recordings go through the same pipeline, labels from labels.csv."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.batches.tables import Batch
from service.importer import import_folder
from tests.conftest import DATASETS


@pytest.mark.parametrize("folder", ["cwru_12k_drive_end_dev", "wind_turbine_hss_bearing_compact"])
def test_import_is_labelled_and_idempotent(settings, session_factory, app, counts, folder):
    path = DATASETS / folder
    if not path.exists():
        pytest.skip(f"dataset folder {path} absent (set WINDWATCH_DATASETS_DIR)")
    lines: list[str] = []
    n = import_folder(settings, path, turbine="RIG", sensor="de", echo=lines.append,
                      factory=session_factory, store=app.state.store)
    assert n == len(lines) and n >= 10
    with session_factory() as s:
        batches = s.scalars(select(Batch)).all()
        assert len(batches) == n
        if folder.startswith("cwru"):
            labels = {b.label for b in batches}
            assert labels == {"normal", "inner_race", "outer_race", "ball"}
            normal = next(b for b in batches if b.label == "normal")
            assert normal.sample_rate_hz == 48_000  # 97.mat is 48 kHz, per its provenance
        else:
            assert {b.label for b in batches} == {None}  # no label is invented
            assert all(b.sample_rate_hz == 97_656 for b in batches)
    before = counts()
    import_folder(settings, path, turbine="RIG", sensor="de", echo=lines.append,
                  factory=session_factory, store=app.state.store)
    assert counts() == before  # re-import replays, stores nothing new
