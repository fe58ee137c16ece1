"""The Ray Data backfill against the in-process one: a few hundred stored batches, the same rows
(label, probabilities within float tolerance, windows, diagnosis) whichever path scored them."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import delete

from service.jobs.kinds import backfill
from service.jobs.kinds.backfill import Params
from service.predictions.tables import Prediction
from tests.service.jobs.support import T0, job_context, predictions_of, store_fleet, version_id

# About 35 s on 2 busy cores (ingest of the fleet, then both backfills): slow as well.
pytestmark = [pytest.mark.ray, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")]
N = 240


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from service.jobs.ray_backfill import ensure_ray

    ensure_ray("local")
    yield ray
    ray.shutdown()


def _rows(session_factory, version: int) -> dict[int, tuple]:
    return {b: (p.label, p.n_windows, p.source, p.probabilities, p.per_channel,
                p.diagnosis["fault_family"], p.diagnosis["band_hz"])
            for b, p in predictions_of(session_factory, version).items()}


def test_ray_backfill_equals_in_process_row_for_row(backend, settings, session_factory, local_ray):
    if backend != "sqlite":
        pytest.skip("the Ray path does not depend on the database; SQLite suffices")
    fleet = store_fleet(settings, session_factory, N)
    version = version_id(session_factory, "family2d-default")
    p = {"model_version_id": version, "start": T0.isoformat(),
         "end": (T0 + timedelta(days=30)).isoformat(), "batch_size": 32}
    ctx = job_context(settings, session_factory, "backfill", p)
    local = backfill.run(ctx, Params.model_validate(p))
    assert local["written"] == N and local["engine"] == "in-process"
    expected = _rows(session_factory, version)
    with session_factory() as s:
        s.execute(delete(Prediction).where(Prediction.model_version_id == version))
        s.commit()

    on_ray = settings.model_copy(update={"ray_address": "local"})
    ctx = job_context(on_ray, session_factory, "backfill", p)
    out = backfill.run(ctx, Params.model_validate(p))
    assert out["engine"] == "ray" and out["written"] == N and out["failed"] == 0
    got = _rows(session_factory, version)
    assert set(got) == set(expected) >= set(fleet)
    for b, want in expected.items():
        label, n_windows, source, probs, per_channel, family, band = got[b]
        assert (label, n_windows, source, family) == (want[0], want[1], want[2], want[5])
        np.testing.assert_allclose([probs[c] for c in sorted(probs)],
                                   [want[3][c] for c in sorted(probs)], atol=1e-6)
        assert per_channel.keys() == want[4].keys()
        np.testing.assert_allclose(band, want[6])
    again = backfill.run(ctx, Params.model_validate(p))
    assert again["pending"] == 0 and again["written"] == 0
