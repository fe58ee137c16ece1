"""POST /api/v1/turbines/{id}/batches on SQLite and PostgreSQL: formats, idempotency, bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tests.service.bodies import ARROW, JSON, NPY, arrow_body, body_for, json_body, meta, npy_body, signal

URL = "/api/v1/turbines/{}/batches"


@pytest.mark.parametrize("fmt", ["arrow", "parquet", "npy", "json"])
def test_each_format_is_stored_with_prediction(client, counts, raw_dir, fmt):
    x = signal()
    body, ctype, params = body_for(fmt, x, meta())
    r = client.post(URL.format("WT-001"), content=body, headers={"Content-Type": ctype}, params=params)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["turbine_id"] == "WT-001" and out["sensor"] == "gearbox_hss"
    assert out["n_channels"] == 3 and out["n_samples"] == x.shape[1]
    assert set(out["indicators"]) == {"ch0", "ch1", "ch2"}
    ind = out["indicators"]["ch0"]
    assert ind["rms_accel_m_s2"] == pytest.approx(float(x[0].std()) * 9.80665, rel=0.02)
    pred = out["prediction"]
    assert pred["label"] in pred["probabilities"]
    assert sum(pred["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert pred["model_version"]["name"]
    for link in ("self", "raw", "prediction", "saliency"):
        assert out["links"][link].startswith("/api/v1/")
    # The raw file is stored once, with the checksum the API reports.
    files = [p for p in raw_dir.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].suffix == ".parquet"
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == out["raw"]["sha256"]
    c = counts()
    assert (c["batches"], c["indicators"], c["predictions"], c["turbines"]) == (1, 3, 1, 1)
    # The stored raw samples read back bit-exact.
    raw = client.get(out["links"]["raw"])
    assert raw.status_code == 200
    import io

    import pyarrow.parquet as pq

    back = pq.read_table(io.BytesIO(raw.content))
    np.testing.assert_array_equal(back.column("ch0").to_numpy(), x[0])


def test_idempotency_key_replays_without_storing(client, counts):
    body = arrow_body(signal(), meta())
    h = {"Content-Type": ARROW, "Idempotency-Key": "gw-7:2026-11-01T10:00Z"}
    first = client.post(URL.format("WT-002"), content=body, headers=h)
    assert first.status_code == 201
    before = counts()
    again = client.post(URL.format("WT-002"), content=body, headers=h)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert again.json()["prediction"]["id"] == first.json()["prediction"]["id"]
    assert counts() == before
    other = client.post(URL.format("WT-002"), content=arrow_body(signal(seed=1), meta()), headers=h)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    assert counts() == before


def test_same_key_on_another_turbine_is_independent(client, counts):
    body = arrow_body(signal(), meta())
    h = {"Content-Type": ARROW, "Idempotency-Key": "k1"}
    assert client.post(URL.format("WT-A"), content=body, headers=h).status_code == 201
    assert client.post(URL.format("WT-B"), content=body, headers=h).status_code == 201
    assert counts()["batches"] == 2


def test_unknown_turbine_is_404_when_auto_register_is_off(app, client, counts):
    app.state.settings = app.state.settings.model_copy(update={"auto_register_turbines": False})
    before = counts()
    r = client.post(URL.format("WT-404"), content=arrow_body(signal(), meta()),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 404 and "WT-404" in r.json()["detail"]
    assert counts() == before


def _bad_cases():
    x = signal()
    nan = x.copy()
    nan[1, 100] = np.nan
    inf = x.copy()
    inf[2, 5] = np.inf
    yield "empty channel", json_body(np.zeros((1, 0), np.float32), meta()), JSON, {}, "empty"
    yield "unequal", b'{"sensor":"s","sample_rate_hz":25600,"recorded_at":"2026-11-01T10:00:00Z",' \
        b'"channels":{"a":[1,2,3],"b":[1,2]}}', JSON, {}, "length"
    yield "nan", arrow_body(nan, meta()), ARROW, {}, "ch1"
    yield "inf", npy_body(inf), NPY, meta(), "ch2"
    yield "rate zero", arrow_body(x, meta(fs_hz=0)), ARROW, {}, "sample_rate_hz"
    yield "rate absurd", arrow_body(x, meta(fs_hz=5e6)), ARROW, {}, "sample_rate_hz"
    yield "too short", arrow_body(x[:, :1000], meta()), ARROW, {}, "window"
    yield "rate too low for grid", arrow_body(x, meta(fs_hz=4000)), ARROW, {}, "Hz"
    yield "no zone", arrow_body(x, meta(recorded_at="2026-11-01T10:00:00")), ARROW, {}, "zone"
    yield "future", arrow_body(x, meta(recorded_at="2099-01-01T00:00:00Z")), ARROW, {}, "future"
    yield "malformed arrow", b"ARROW1\x00garbage", ARROW, {}, "Arrow"
    yield "malformed json", b'{"sensor": ', JSON, {}, "JSON"
    yield "malformed npy", b"\x93NUMPY\x01\x00garbage", NPY, meta(), "npy"
    yield "unsupported type", b"hello", "text/plain", {}, "text/plain"


BAD = list(_bad_cases())


@pytest.mark.parametrize(("name", "body", "ctype", "params", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_4xx_and_stores_nothing(client, counts, name, body, ctype, params, needle):
    before = counts()
    r = client.post(URL.format("WT-BAD"), content=body, headers={"Content-Type": ctype}, params=params)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    expected = 415 if name == "unsupported type" else 422
    assert r.status_code == expected, r.text
    detail = r.json()["detail"]
    assert needle.lower() in str(detail).lower(), detail
    assert counts() == before


def test_body_over_limit_is_413(app, client, counts):
    app.state.settings = app.state.settings.model_copy(update={"max_body_bytes": 10_000})
    before = counts()
    r = client.post(URL.format("WT-BIG"), content=arrow_body(signal(), meta()),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert counts() == before


def test_failed_commit_leaves_no_orphan_file(app, client, counts, monkeypatch):
    """A failure after the raw file is written (here: the DB insert) removes the file again."""
    from service.batches import service

    def boom(*args, **kwargs):
        raise RuntimeError("simulated database failure")

    monkeypatch.setattr(service, "_insert_rows", boom)
    before = counts()
    with pytest.raises(RuntimeError):
        client.post(URL.format("WT-ERR"), content=arrow_body(signal(), meta()),
                    headers={"Content-Type": ARROW})
    assert counts() == before
