"""Derived views of a stored batch read at most ``READ_MAX_SAMPLES`` samples of its raw file,
whatever the file holds: memory stays bounded even for a batch stored before the ingest limit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.batches import storage
from service.settings import REPO_ROOT
from tests.service.bodies import ARROW, arrow_body, meta, signal

FS = 25_600.0
RSS_BOUND_MIB = 96  # 32 MiB for the bounded (C, N) float32 array, plus one read slice

RSS_SCRIPT = """
import json, resource, sys
from service.batches.storage import READ_MAX_SAMPLES, read_parquet
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
x, names, _ = read_parquet(sys.argv[1])
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"shape": list(x.shape), "bound": READ_MAX_SAMPLES, "rss_growth_kib": grown}))
"""


def write_long(path, n_channels: int, n: int, chunk: int = 1 << 20) -> None:
    """A raw-style Parquet file of ``n_channels`` x ``n`` float32 samples (a ramp), in slices."""
    schema = pa.schema([(f"ch{i}", pa.float32()) for i in range(n_channels)])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, n, chunk):
            ramp = np.arange(start, min(start + chunk, n), dtype=np.float32)
            writer.write_table(pa.table({f"ch{i}": ramp for i in range(n_channels)}, schema=schema))


def test_read_parquet_reads_a_bounded_prefix(tmp_path):
    path = tmp_path / "long.parquet"
    write_long(path, 3, 3_000_000)
    x, names, _ = storage.read_parquet(path, max_samples=3 * 1_500_001)
    assert x.shape == (3, 1_500_001) and names == ["ch0", "ch1", "ch2"]
    np.testing.assert_array_equal(x[2, -3:], [1_499_998, 1_499_999, 1_500_000])
    assert storage.read_parquet(path)[0].shape == (3, storage.READ_MAX_SAMPLES // 3)


def test_reading_a_huge_stored_file_keeps_peak_rss_bounded(tmp_path):
    """256 M samples (1 GiB of float32) on disk; read back: the bound, not the file."""
    path = tmp_path / "huge.parquet"
    write_long(path, 1, 1 << 28, chunk=1 << 23)
    done = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(path)], capture_output=True,
                          text=True, timeout=120, check=True, cwd=REPO_ROOT)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["shape"] == [1, out["bound"]], out
    assert out["rss_growth_kib"] < RSS_BOUND_MIB * 1024, out


@pytest.fixture
def stored_long(client, app, session_factory, monkeypatch):
    """A stored batch whose raw file was replaced by a 3 x 400 k one (and its recorded sha256
    with it, or the read would refuse it as corrupt); read bound 3 x 100 k."""
    from service.batches.tables import Batch

    r = client.post("/api/v1/turbines/WT-001/batches", content=arrow_body(signal(), meta()),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 201, r.text
    path = app.state.store.path(r.json()["raw"]["uri"])
    write_long(path, 3, 400_000)
    with session_factory() as s:
        s.get(Batch, r.json()["batch_id"]).raw_sha256 = storage.file_sha256(path)
        s.commit()
    monkeypatch.setattr(storage, "READ_MAX_SAMPLES", 3 * 100_000)
    return r.json()["batch_id"]


def test_spectrogram_reads_at_most_the_bound(client, stored_long):
    r = client.get(f"/api/v1/batches/{stored_long}/spectrogram", params={"n_fft": 256})
    assert r.status_code == 200, r.text
    assert max(r.json()["times_s"]) <= 100_000 / FS


def test_spectra_and_detail_views_are_served_from_the_bounded_read(client, stored_long):
    assert client.get(f"/ui/batches/{stored_long}/spectra.json").status_code == 200
    assert client.get(f"/api/v1/batches/{stored_long}").status_code == 200
