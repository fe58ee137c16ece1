"""The explanation endpoint for the spectrum models (cnn1d, cnn2d): attribution over Hz checked
against defect lines. The production default is a defect-order model, so each test promotes
the spectrum model it explains first (see test_order_explanation_api.py for the other)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.service.bodies import ARROW, arrow_body, meta, signal

URL = "/api/v1/turbines/{}/batches"
SKF6205 = {"FTF": 0.3983, "BPFO": 3.5848, "BPFI": 5.4152, "BSF2": 4.7135}


@pytest.fixture(autouse=True)
def spectrum_model(client) -> None:
    """Serve the bundled cnn1d (a registered candidate) whatever the production default is."""
    promote(client, "cnn1d")


def promote(client, architecture: str) -> None:
    models = client.get("/api/v1/models").json()
    m = next(m for m in models if m["architecture"] == architecture)
    if m.get("status") != "production":
        r = client.post(f"/api/v1/models/{m['id']}/promote", json={"by": "test", "reason": "x"})
        assert r.status_code == 200, r.text


def post(client, turbine: str, rpm: float | None = 1500.0, seed: int = 0) -> dict:
    r = client.post(URL.format(turbine), content=arrow_body(signal(seed=seed),
                                                           meta(rpm=rpm)),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 201, r.text
    return r.json()


def explain(client, pid: int, **params) -> dict:
    r = client.get(f"/api/v1/predictions/{pid}/explanation", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_vanilla_explanation_with_assumed_bearing_and_batch_rpm(client):
    out = post(client, "WT-E1")
    e = explain(client, out["prediction"]["id"])
    assert e["method"] == "vanilla" and e["architecture"] == "cnn1d" and not e["cached"]
    assert e["axis_units"] == "Hz" and e["order_map"] is None and e["defect_orders"] is None
    assert e["target_class"] == e["predicted_class"] == out["prediction"]["label"]
    a, f = np.array(e["map"]["attribution"]), np.array(e["map"]["freqs_hz"])
    assert a.ndim == 1 and len(a) == len(f) <= 400 and e["map"]["times_s"] is None
    assert a.sum() == pytest.approx(1.0, abs=1e-3) and (a >= 0).all()
    assert np.all(np.diff(f) > 0) and f[-1] < 4700
    assert e["shaft_speed"] == {"shaft_hz": 25.0, "rpm": 1500.0, "source": "batch",
                                "search_range_rpm": None}
    assert e["geometry"]["assumed"] is True and e["geometry"]["bearing"] == "SKF 6205-2RS"
    for name, order in SKF6205.items():
        assert e["defect_frequencies_hz"][name] == pytest.approx(25.0 * order, abs=0.01)
    assert e["tolerance_pct"] == 3.0
    assert 1 <= len(e["bands"]) <= 5
    shares = [b["share"] for b in e["bands"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1
    for b in e["bands"]:
        assert b["lo_hz"] <= b["peak_hz"] <= b["hi_hz"]
        m = b["nearest_line"]  # null: no line within 10 % (e.g. above the 5th harmonic)
        if m is not None:
            assert abs(m["error_pct"]) <= 10 or abs(b["peak_hz"] - m["line_hz"]) < 3
            assert m["within_tolerance"] == (abs(b["peak_hz"] - m["line_hz"])
                                             <= m["tolerance_hz"])
    assert set(e["agreement"]) >= {"BPFI", "BPFO", "BSF2"}
    for ag in e["agreement"].values():
        assert 0 <= ag["share"] <= 1 and 0 < ag["chance"] < 1
    assert e["verdict"]["verdict"] in {"supports", "contradicts", "inconclusive"}
    assert e["verdict"]["reason"]


def test_configured_geometry_and_estimated_speed(client):
    out = post(client, "WT-E2", rpm=None)
    r = client.put("/api/v1/turbines/WT-E2/sensors/gearbox_hss/geometry",
                   json={"bearing": "SKF 6309", "gears": [{"name": "pinion", "teeth": 23}],
                         "rpm_min": 900, "rpm_max": 2400})
    assert r.status_code == 201
    e = explain(client, out["prediction"]["id"], method="gradcam")
    s = e["shaft_speed"]
    assert s["source"] == "estimated" and s["search_range_rpm"] == [900, 2400]
    assert s["shaft_hz"] == pytest.approx(25.0, abs=0.5)  # the test signal's 1x line
    assert e["geometry"] == {"bearing": "SKF 6309", "assumed": False, "approximate": True,
                             "source": e["geometry"]["source"],
                             "gear_mesh_orders": {"pinion": 23.0}, "shaft_speed_ratio": 1.0}
    assert e["defect_frequencies_hz"]["MESH:pinion"] == pytest.approx(23 * s["shaft_hz"], 1e-3)
    assert "MESH:pinion" in e["agreement"]


def test_integrated_gradients_are_cached(client, app):
    out = post(client, "WT-E3")
    pid = out["prediction"]["id"]
    first = explain(client, pid, method="ig")
    second = explain(client, pid, method="ig")
    assert not first["cached"] and second["cached"]
    assert first["map"] == second["map"] and first["n_windows"] <= 8
    files = list((app.state.store.data_root / "explanations").rglob("*.npz"))
    assert len(files) == 1
    target = next(c for c in ("inner_race", "outer_race") if c != out["prediction"]["label"])
    other = explain(client, pid, method="ig", target=target)  # another class, another entry
    assert other["target_class"] == target and not other["cached"]


def test_png_rendering(client):
    out = post(client, "WT-E4")
    r = client.get(f"/api/v1/predictions/{out['prediction']['id']}/explanation",
                   params={"method": "smoothgrad", "format": "png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n" and len(r.content) > 20_000


def test_errors(client):
    out = post(client, "WT-E5")
    pid = out["prediction"]["id"]
    assert client.get(f"/api/v1/predictions/{pid}/explanation",
                      params={"method": "lime"}).status_code == 422
    assert client.get(f"/api/v1/predictions/{pid}/explanation",
                      params={"target": "gearbox"}).status_code == 422
    assert client.get("/api/v1/predictions/999999/explanation").status_code == 404


def test_2d_model_explanation_over_time_and_frequency(client):
    promote(client, "cnn2d")
    out = post(client, "WT-E6")
    e = explain(client, out["prediction"]["id"], method="gradcam")
    a = np.array(e["map"]["attribution"])
    assert e["architecture"] == "cnn2d"
    assert a.shape == (len(e["map"]["freqs_hz"]), len(e["map"]["times_s"]))
    assert a.sum() == pytest.approx(1.0, abs=1e-3)
    assert np.array(e["map"]["per_frequency"]) == pytest.approx(a.sum(axis=1), abs=1e-5)
    png = client.get(f"/api/v1/predictions/{out['prediction']['id']}/explanation",
                     params={"method": "vanilla", "format": "png"})
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
