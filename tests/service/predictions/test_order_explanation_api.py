"""The explanation and saliency endpoints for a defect-order (family) model, on both databases:
maps over (families x rows x defect-order cells), the physics check in orders and Hz, the PNG
with the family planes, and the cache keyed by the inputs' shaft speed and orders."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.dsp.kinematics import BEARINGS
from tests.service.bodies import ARROW, arrow_body, meta

URL = "/api/v1/turbines/{}/batches"
FS = 25_600.0
RPM = 1500.0
SKF6205 = BEARINGS["SKF 6205-2RS"].geometry.defect_orders()
FAMILIES = ["FTF", "BPFO", "BPFI", "BSF", "SHAFT"]


def inner_race_signal(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Decaying 4 kHz bursts at BPFI (SKF 6205 at 1500 rpm), amplitude-modulated at the shaft
    rate, plus noise: an inner-race fault as an envelope analyst sees one. (3, N) in g."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    shaft = RPM / 60.0
    x = np.zeros(n)
    ring = np.exp(-t[:256] * 1500.0) * np.sin(2 * np.pi * 4000.0 * t[:256])
    for t0 in np.arange(0.0, seconds - 0.02, 1.0 / (SKF6205["BPFI"] * shaft)):
        i = int(t0 * FS)
        x[i: i + 256] += (1.0 + 0.5 * np.cos(2 * np.pi * shaft * t0)) * ring[: n - i]
    x += 0.05 * np.sin(2 * np.pi * shaft * t)
    return (x + 0.08 * rng.standard_normal((3, n))).astype(np.float32)


@pytest.fixture
def family_client(client):
    """The client with the bundled family1d in production (the default; promoted if not)."""
    models = client.get("/api/v1/models").json()
    m = next(m for m in models if m["architecture"] == "family1d")
    if m["status"] != "production":
        r = client.post(f"/api/v1/models/{m['id']}/promote", json={"by": "test", "reason": "x"})
        assert r.status_code == 200, r.text
    return client


def post(client, turbine: str, geometry: bool = True) -> dict:
    if geometry:
        r = client.put(f"/api/v1/turbines/{turbine}", json={"site": "test"})
        assert r.status_code in (200, 201), r.text
        r = client.put(f"/api/v1/turbines/{turbine}/sensors/gearbox_hss/geometry",
                       json={"bearing": "SKF 6205-2RS", "rpm_min": 600, "rpm_max": 3000})
        assert r.status_code in (200, 201), r.text
    r = client.post(URL.format(turbine), content=arrow_body(inner_race_signal(), meta(rpm=RPM)),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 201, r.text
    return r.json()["prediction"]


def explain(client, pid: int, **params) -> dict:
    r = client.get(f"/api/v1/predictions/{pid}/explanation", params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("method", ["vanilla", "gradcam"])
def test_defect_order_explanation(family_client, method):
    p = post(family_client, f"WT-O-{method}")
    e = explain(family_client, p["id"], method=method)
    assert e["geometry"]["assumed"] is False and e["geometry"]["bearing"] == "SKF 6205-2RS"
    assert e["architecture"] == "family1d" and e["axis_units"] == "defect orders"
    assert e["map"] is None and e["target_class"] == p["label"]
    om = e["order_map"]
    a = np.array(om["attribution"])
    assert om["families"] == FAMILIES and len(om["rows"]) == 6 and om["rows"][-1] == "mask"
    assert a.shape == (5, 6, 128) and (a >= 0).all()
    empty = method == "gradcam" and a.sum() == 0  # a ReLU'd class map may be all zero
    assert empty or a.sum() == pytest.approx(1.0, abs=1e-4)
    assert om["orders"][15] == 1.0 and om["orders"][0] == pytest.approx(1 / 16)
    assert e["shaft_speed"]["rpm"] == pytest.approx(RPM) and e["shaft_speed"]["source"] == "batch"
    d = e["defect_orders"]
    assert d["defect_orders"]["BPFI"] == pytest.approx(SKF6205["BPFI"], abs=1e-4)
    assert e["defect_frequencies_hz"]["BPFI"] == pytest.approx(SKF6205["BPFI"] * 25.0, abs=0.01)
    assert set(d["families"]) == set(FAMILIES) and d["tolerance_pct"] == 2.0
    planes = sum(f["plane"]["share"] for f in d["families"].values())
    assert planes == pytest.approx(0.0 if empty else 1.0, abs=1e-4)
    if empty:
        assert d["physics"] == "inconclusive" and d["bands"] == []
        assert "all zero" in e["verdict"]["reason"]
    assert d["physics"] in {"physics-consistent", "physics-inconsistent", "inconclusive"}
    assert e["verdict"]["reason"].startswith(d["physics"])
    if p["label"] == "inner_race":
        assert d["expected_family"] == "BPFI" and d["chance"] == pytest.approx(17 / 640, 1e-3)
        assert d["x_chance"] == pytest.approx(d["harmonic_share"] / d["chance"], abs=2e-3)
    for b, band in zip(d["bands"], e["bands"], strict=True):
        o = 1.0 if b["family"] == "SHAFT" else d["defect_orders"][b["family"]]
        assert b["order"] == pytest.approx(b["harmonic"] * o + b["sideband"], abs=1e-3)
        assert b["hz"] == pytest.approx(b["order"] * 25.0, abs=0.01)
        assert band["peak_hz"] == pytest.approx(b["hz"], abs=1e-3)
        assert band["lo_hz"] <= band["peak_hz"] <= band["hi_hz"]
        assert band["nearest_line"]["family"] == b["family"]
    assert set(e["agreement"]) == set(FAMILIES)


def test_an_inner_race_verdict_is_read_on_the_bpfi_plane(family_client):
    p = post(family_client, "WT-O-IR")
    assert p["label"] == "inner_race", p["probabilities"]
    for method in ("vanilla", "ig"):
        d = explain(family_client, p["id"], method=method)["defect_orders"]
        assert d["expected_family"] == "BPFI"
        assert d["families"]["BPFI"]["plane"]["share"] > 0.9  # the logit reads that plane
        assert d["x_chance"] == pytest.approx(d["families"]["BPFI"]["in_plane"]["ratio"],
                                              abs=1e-3)
        lines = d["families"]["BPFI"]["lines"]
        assert 0 <= lines["share"] <= 1 and 0.1 < lines["chance"] < 0.2


def test_cached_ig_png_and_saliency(family_client, app):
    p = post(family_client, "WT-O-IG")
    first = explain(family_client, p["id"], method="ig")
    second = explain(family_client, p["id"], method="ig")
    assert not first["cached"] and second["cached"] and first["order_map"] == second["order_map"]
    assert len(list((app.state.store.data_root / "explanations").rglob("*.npz"))) == 1
    r = family_client.get(f"/api/v1/predictions/{p['id']}/explanation",
                          params={"method": "smoothgrad", "format": "png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n" and len(r.content) > 20_000
    s = family_client.get(f"/api/v1/predictions/{p['id']}/saliency").json()
    assert s["axis_units"] == "defect orders" and s["freqs_hz"] is None
    assert s["families"] == FAMILIES and len(s["orders"]) == 128 and len(s["rows"]) == 6
    a = np.array(s["attribution"])
    assert a.shape == (5, 6, 128) and a.sum() == pytest.approx(1.0, abs=1e-4)
    assert sum(s["family_shares"].values()) == pytest.approx(1.0, abs=1e-4)
    assert len(s["top_frequencies_hz"]) == 5 and all(f > 0 for f in s["top_frequencies_hz"])


def test_assumed_geometry_and_errors(family_client):
    p = post(family_client, "WT-O-AS", geometry=False)
    e = explain(family_client, p["id"], method="vanilla")
    assert e["geometry"]["assumed"] is True and e["order_map"] is not None
    other = next(c for c in ("inner_race", "outer_race") if c != p["label"])
    assert explain(family_client, p["id"], target=other)["target_class"] == other
    url = f"/api/v1/predictions/{p['id']}/explanation"
    assert family_client.get(url, params={"target": "gearbox"}).status_code == 422
    assert family_client.get(url, params={"method": "lime"}).status_code == 422
