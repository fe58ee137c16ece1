"""The decoded-size limit: bombs are refused with 413 from headers alone, with flat memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from service.batches.decode import decode_batch
from service.errors import DecodedTooLarge
from service.settings import REPO_ROOT, Settings
from tests.service.batches.bombs import GIB, arrow_bomb, lying_arrow, parquet_bomb
from tests.service.bodies import ARROW, JSON, NPY, PARQUET, json_body, meta, npy_body

URL = "/api/v1/turbines/WT-001/batches"
RSS_BOUND_MIB = 64  # peak RSS growth allowed while refusing a bomb (1 GiB / 512 MiB decoded)

RSS_SCRIPT = """
import json, resource, sys
from service.batches.decode import decode_batch
from service.errors import DecodedTooLarge
from tests.service.batches.bombs import arrow_bomb, parquet_bomb
out = {}
for name, body, ctype in (("arrow", arrow_bomb(), "application/vnd.apache.arrow.stream"),
                          ("parquet", parquet_bomb(), "application/vnd.apache.parquet")):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        decode_batch(body, ctype, {})
        status = 201
    except DecodedTooLarge as exc:
        status = exc.status_code
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    out[name] = {"status": status, "body_bytes": len(body), "rss_growth_kib": grown}
print(json.dumps(out))
"""


@pytest.mark.parametrize(("build", "ctype"), [(arrow_bomb, ARROW), (parquet_bomb, PARQUET)])
def test_bomb_is_refused_and_nothing_stored(client, counts, build, ctype):
    body = build()
    assert len(body) < 600_000  # small on the wire, hundreds of MiB decoded
    before = counts()
    r = client.post(URL, content=body, headers={"Content-Type": ctype})
    assert r.status_code == 413, r.text
    assert "WINDWATCH_MAX_DECODED_SAMPLES" in r.json()["detail"]
    assert "8388608" in r.json()["detail"]
    assert counts() == before


def test_bombs_keep_peak_rss_flat():
    """In a fresh process: refusing a 1 GiB Arrow and a 512 MiB Parquet bomb grows the peak
    RSS by less than ``RSS_BOUND_MIB`` (the bodies themselves are built before measuring)."""
    done = subprocess.run([sys.executable, "-c", RSS_SCRIPT], capture_output=True, text=True,
                          timeout=120, check=True, cwd=REPO_ROOT)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("arrow", "parquet"):
        assert out[name]["status"] == 413, out
        assert out[name]["rss_growth_kib"] < RSS_BOUND_MIB * 1024, out
    assert out["arrow"]["body_bytes"] < 64_000 and out["parquet"]["body_bytes"] < 600_000


def test_lying_compressed_length_is_refused_before_decompression():
    with pytest.raises(DecodedTooLarge, match="uncompressed bytes"):
        decode_batch(lying_arrow(), ARROW, {})


@pytest.mark.parametrize("fmt", ["json", "npy"])
def test_json_and_npy_over_the_limit(fmt):
    x = np.zeros((3, 1000), np.float32)
    body, ctype = (json_body(x, meta()), JSON) if fmt == "json" else (npy_body(x), NPY)
    query = {} if fmt == "json" else meta()
    with pytest.raises(DecodedTooLarge, match="3 x 1000 = 3000 samples; the limit is 2999"):
        decode_batch(body, ctype, query, max_decoded_samples=2999)
    assert decode_batch(body, ctype, query, max_decoded_samples=3000).samples.shape == (3, 1000)


def test_npy_header_alone_is_checked():
    """A 128-byte npy header claiming 2^40 samples: 413 before the byte count is looked at."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': (3, {1 << 40}), }}"
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    with pytest.raises(DecodedTooLarge):
        decode_batch(body, NPY, meta())


def test_setting_limits_the_api(app, client, counts):
    app.state.settings = app.state.settings.model_copy(update={"max_decoded_samples": 1000})
    x = np.zeros((3, 51_200), np.float32)
    r = client.post(URL, content=json_body(x, meta()), headers={"Content-Type": JSON})
    assert r.status_code == 413 and "limit is 1000 samples" in r.json()["detail"]
    assert counts()["batches"] == 0


def test_default_admits_a_40_s_3_channel_51k_snapshot():
    assert 3 * 40 * 51_200 <= Settings().max_decoded_samples < GIB // 4
