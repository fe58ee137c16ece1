"""The diagnosis stage over HTTP: a batch is read on its sensor's registered geometry (or says it
assumed one), its rpm is checked against the geometry's range and the spectrum, and impossible
geometry is refused — each with a clear 4xx or warning and nothing half-written."""

from __future__ import annotations

import numpy as np
import pytest

from tests.service.bodies import ARROW, arrow_body, meta, signal

GEOM = "/api/v1/turbines/{}/sensors/{}/geometry"
POST = "/api/v1/turbines/{}/batches"


def post(client, turbine: str, rpm: float | None, recorded_at: str = "2026-11-01T10:00:00Z"):
    body = arrow_body(signal(), meta(recorded_at=recorded_at, rpm=rpm))
    return client.post(POST.format(turbine), content=body, headers={"Content-Type": ARROW})


def test_without_geometry_the_diagnosis_says_it_assumed_one(client):
    r = post(client, "WT-D0", 1500.0)
    assert r.status_code == 201, r.text
    d = r.json()["prediction"]["diagnosis"]
    assert d["geometry"] == "assumed" and d["speed_source"] == "given"
    assert any("no bearing geometry registered" in w for w in d["warnings"])
    assert set(d["family_prominence"]) == {"FTF", "BPFO", "BPFI", "BSF", "SHAFT"}
    if r.json()["prediction"]["label"] != "normal":
        assert d["fault_family"] == "unknown"


def test_registered_geometry_is_used_and_rpm_outside_its_range_is_refused(client):
    client.put("/api/v1/turbines/WT-D1", json={})
    put = client.put(GEOM.format("WT-D1", "gearbox_hss"),
                     json={"bearing": "SKF 6309", "rpm_min": 1000, "rpm_max": 1800})
    assert put.status_code == 201, put.text
    r = post(client, "WT-D1", 1500.0)
    assert r.status_code == 201, r.text
    d = r.json()["prediction"]["diagnosis"]
    assert d["geometry"] == "registered" and d["rpm"] == pytest.approx(1500.0)
    assert d["defect_orders"]["BPFO"] > 2.0
    n_batches = len(client.get("/api/v1/turbines/WT-D1/predictions").json()["items"])
    bad = post(client, "WT-D1", 2400.0, recorded_at="2026-11-01T10:10:00Z")
    assert bad.status_code == 422
    assert "outside the range" in bad.json()["detail"] and "1000-1800" in bad.json()["detail"]
    assert len(client.get("/api/v1/turbines/WT-D1/predictions").json()["items"]) == n_batches


def test_an_rpm_that_disagrees_with_the_spectrum_is_a_warning(client):
    # The test signal's shaft comb is at 25 Hz = 1500 rpm; 1380 rpm is 8 % off.
    r = post(client, "WT-D2", 1380.0)
    assert r.status_code == 201, r.text
    d = r.json()["prediction"]["diagnosis"]
    assert any("disagrees with the spectrum" in w for w in d["warnings"]), d["warnings"]
    assert d["comb_rpm"] == pytest.approx(1500.0, rel=0.02) and d["rpm"] == pytest.approx(1380.0)


def test_without_rpm_the_speed_is_estimated(client):
    r = post(client, "WT-D3", None)
    assert r.status_code == 201, r.text
    d = r.json()["prediction"]["diagnosis"]
    assert d["speed_source"] == "estimated" and d["rpm"] == pytest.approx(1500.0, rel=0.02)


@pytest.mark.parametrize(("body", "needle"), [
    ({"n_elements": 9, "element_diameter_mm": 40.0, "pitch_diameter_mm": 39.0}, "diameter"),
    ({"n_elements": 9, "element_diameter_mm": 8.0, "pitch_diameter_mm": 39.0,
      "contact_angle_deg": 90.0}, "contact_angle_deg"),
    ({"n_elements": 0, "element_diameter_mm": 8.0, "pitch_diameter_mm": 39.0}, "n_elements"),
])
def test_geometry_that_cannot_be_physical_is_refused(client, body, needle):
    client.put("/api/v1/turbines/WT-D4", json={})
    r = client.put(GEOM.format("WT-D4", "hss"), json=body)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    assert client.get(GEOM.format("WT-D4", "hss")).status_code == 404


def test_the_turbine_pages_envelope_is_read_in_the_diagnosis_band(client):
    # 4 s; a knock ringing 10 kHz at 3 s on the first channel: that channel's kurtogram over the
    # whole record picks the knock's band, the diagnosis (first 2 s, every channel) another.
    fs = 25_600.0
    x = signal(n=int(4 * fs))
    t = np.arange(400) / fs
    x[0, int(3 * fs):int(3 * fs) + 400] += (np.exp(-t * 2_000.0) * np.sin(2 * np.pi * 1e4 * t)
                                           ).astype(np.float32)
    r = client.post(POST.format("WT-D5"), content=arrow_body(x, meta(rpm=1500.0)),
                    headers={"Content-Type": ARROW})
    assert r.status_code == 201, r.text
    band = r.json()["prediction"]["diagnosis"]["band_hz"]
    assert not band[0] < 1e4 < band[1]
    spectra = client.get(f"/ui/batches/{r.json()['batch_id']}/spectra.json")
    assert spectra.status_code == 200, spectra.text
    assert spectra.json()["envelope"]["band_hz"] == [round(band[0], 1), round(band[1], 1)]
