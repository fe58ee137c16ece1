"""Read API: turbines with latest status, prediction history (paged), batch detail, saliency."""

from __future__ import annotations

import numpy as np
import pytest

from tests.service.bodies import ARROW, arrow_body, meta, signal

URL = "/api/v1/turbines/{}/batches"


def post(client, turbine: str, ts: str, seed: int = 0, sensor: str = "gearbox_hss") -> dict:
    r = client.post(URL.format(turbine), content=arrow_body(signal(seed=seed), meta(ts, sensor)),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 201, r.text
    return r.json()


def test_turbine_latest_prediction_follows_recorded_time(client):
    post(client, "WT-010", "2026-11-01T10:00:00Z")
    newest = post(client, "WT-010", "2026-11-01T10:20:00Z", seed=1)
    post(client, "WT-010", "2026-11-01T10:10:00Z", seed=2)  # arrives late, is older
    t = client.get("/api/v1/turbines/WT-010").json()
    assert t["latest_prediction"]["id"] == newest["prediction"]["id"]
    assert t["sensors"] == [{"name": "gearbox_hss", "component": None}]
    page = client.get("/api/v1/turbines", params={"q": "WT-01"}).json()
    assert page["total"] == 1 and page["items"][0]["turbine_id"] == "WT-010"
    assert client.get("/api/v1/turbines/NOPE").status_code == 404


def test_prediction_history_range_and_paging(client):
    times = [f"2026-11-01T1{h}:00:00Z" for h in range(6)]
    ids = [post(client, "WT-020", ts, seed=i)["prediction"]["id"] for i, ts in enumerate(times)]
    r = client.get("/api/v1/turbines/WT-020/predictions",
                   params={"start": times[1], "end": times[5], "limit": 2}).json()
    assert [p["id"] for p in r["items"]] == [ids[4], ids[3]]
    params = {"start": times[1], "end": times[5], "limit": 2, "cursor": r["next_cursor"]}
    r2 = client.get("/api/v1/turbines/WT-020/predictions", params=params).json()
    assert [p["id"] for p in r2["items"]] == [ids[2], ids[1]]
    assert r2["next_cursor"] is None
    bad = client.get("/api/v1/turbines/WT-020/predictions", params={"start": "2026-11-01T10:00:00"})
    assert bad.status_code == 422 and "zone" in bad.json()["detail"]


def test_batch_detail_has_display_spectrum_with_the_shaft_line(client):
    out = post(client, "WT-030", "2026-11-01T10:00:00Z")
    d = client.get(out["links"]["self"]).json()
    f = np.array(d["spectrum"]["freqs_hz"])
    a = np.array(d["spectrum"]["amplitude"]["ch0"])
    assert len(f) == 512 and f[-1] <= 12_800
    assert abs(f[np.argmax(a)] - 25.0) < 30  # the 1x shaft line at 25 Hz dominates
    assert d["prediction"]["id"] == out["prediction"]["id"]
    pred = client.get(out["links"]["prediction"]).json()
    assert pred["batch_id"] == out["batch_id"]


def test_saliency_over_frequency_for_1d_model(client):
    models = client.get("/api/v1/models").json()
    cnn1d = next(m for m in models if m["architecture"] == "cnn1d")
    r = client.post(f"/api/v1/models/{cnn1d['id']}/promote", json={"by": "test", "reason": "1-D"})
    assert r.status_code == 200
    out = post(client, "WT-040", "2026-11-01T10:00:00Z")
    s = client.get(out["links"]["saliency"]).json()
    assert s["architecture"] == "cnn1d" and s["times_s"] is None
    a = np.array(s["attribution"])
    assert a.ndim == 1 and len(a) == len(s["freqs_hz"])
    assert a.sum() == pytest.approx(1.0, abs=1e-3) and (a >= 0).all()
    assert s["target_class"] == out["prediction"]["label"]


def test_saliency_over_time_and_frequency_after_promoting_2d_model(client):
    models = client.get("/api/v1/models").json()
    cnn2d = next(m for m in models if m["architecture"] == "cnn2d")
    r = client.post(f"/api/v1/models/{cnn2d['id']}/promote", json={"by": "test", "reason": "2-D"})
    assert r.status_code == 200 and r.json()["status"] == "production"
    out = post(client, "WT-050", "2026-11-01T10:00:00Z")
    assert out["prediction"]["model_version"]["id"] == cnn2d["id"]
    s = client.get(out["links"]["saliency"]).json()
    a = np.array(s["attribution"])
    assert s["architecture"] == "cnn2d"
    assert a.shape == (len(s["freqs_hz"]), len(s["times_s"]))
    assert a.sum() == pytest.approx(1.0, abs=1e-3)


def test_status_page_lists_turbines(client):
    post(client, "WT-060", "2026-11-01T10:00:00Z")
    html = client.get("/").text
    assert "WT-060" in html and "Windwatch" in html
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/openapi.json").status_code == 200


def test_spectrogram_is_display_sized_and_names_bad_channel(client):
    out = post(client, "WT-070", "2026-11-01T10:00:00Z")
    s = client.get(f"{out['links']['self']}/spectrogram", params={"max_f": 64, "max_t": 32}).json()
    db = np.array(s["db"])
    assert db.shape == (len(s["freqs_hz"]), len(s["times_s"])) and db.shape[0] <= 64 and db.shape[1] <= 32
    assert s["channel"] == "ch0" and np.isfinite(db).all()
    bad = client.get(f"{out['links']['self']}/spectrogram", params={"channel": "nope"})
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]
