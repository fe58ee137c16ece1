"""Random bodies never produce a 5xx, and rows appear only on 2xx."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.bodies import ARROW, JSON, NPY, PARQUET, arrow_body, json_body, meta, npy_body

CTYPES = st.sampled_from(
    [ARROW, PARQUET, NPY, JSON, "text/csv", "", "application/json; charset=utf-8"])

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)


@st.composite
def bodies(draw):
    kind = draw(st.sampled_from(["bytes", "json-doc", "arrow-trunc", "valid-ish"]))
    if kind == "bytes":
        return draw(st.binary(max_size=256))
    if kind == "json-doc":
        import orjson

        doc = draw(st.dictionaries(st.sampled_from(
            ["sensor", "sample_rate_hz", "recorded_at", "rpm", "unit", "channels", "x"]), json_values))
        return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS) if doc is not None else b"null"
    n = draw(st.integers(0, 12_000))
    x = np.random.default_rng(draw(st.integers(0, 9))).standard_normal((2, n)).astype(np.float32)
    m = meta(fs_hz=draw(st.sampled_from([-1.0, 0.0, 100.0, 12_000.0, 25_600.0, 2e6])))
    body = draw(st.sampled_from([arrow_body, json_body]))(x, m) if n else npy_body(x)
    if kind == "arrow-trunc":
        return body[: draw(st.integers(0, len(body)))]
    return body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies(), ctype=CTYPES)
def test_random_bodies_never_5xx(client, counts, body, ctype):
    before = counts()
    r = client.post("/api/v1/turbines/WT-FUZZ/batches", content=body,
                    headers={"Content-Type": ctype} if ctype else {}, params={})
    assert r.status_code < 500, r.text
    assert "detail" in r.json() or r.status_code < 300
    after = counts()
    if r.status_code >= 300:
        assert after == before
    else:
        assert after["batches"] == before["batches"] + 1
