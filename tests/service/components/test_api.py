"""Component geometry: the bearing catalogue and per-sensor configuration over HTTP."""

from __future__ import annotations

import pytest

GEOM = "/api/v1/turbines/{}/sensors/{}/geometry"


def test_catalogue_has_the_cwru_bearing_with_published_orders(client):
    cat = {b["designation"]: b for b in client.get("/api/v1/components/bearings").json()}
    skf = cat["SKF 6205-2RS"]
    assert skf["n_elements"] == 9 and not skf["approximate"]
    # CWRU Bearing Data Center: BPFI 5.4152, BPFO 3.5848, FTF 0.3983, "ball" 4.7135 = 2 x BSF.
    o = skf["defect_orders"]
    assert o["BPFI"] == pytest.approx(5.4152, abs=2e-4)
    assert o["BPFO"] == pytest.approx(3.5848, abs=2e-4)
    assert o["FTF"] == pytest.approx(0.3983, abs=2e-4)
    assert o["BSF2"] == pytest.approx(4.7135, abs=2e-4)
    assert o["BSF"] == pytest.approx(4.7135 / 2, abs=2e-4)
    assert {"SKF 6309", "SKF 22330 CC", "FAG NU2244-E"} <= set(cat)
    assert all(cat[k]["approximate"] for k in ("SKF 6309", "SKF 22330 CC", "FAG NU2244-E"))


def test_unconfigured_sensor_reports_the_assumed_default(client):
    assert client.get(GEOM.format("WT-G0", "hss")).status_code == 404
    client.put("/api/v1/turbines/WT-G0", json={"site": "test"})
    assert client.get(GEOM.format("WT-G0", "hss")).status_code == 404  # no such sensor yet
    r = client.put(GEOM.format("WT-G0", "hss"), json={"bearing": "skf6309"})
    assert r.status_code == 201, r.text
    g = client.get(GEOM.format("WT-G0", "hss")).json()
    assert g["assumed"] is False and g["bearing"]["designation"] == "SKF 6309"
    assert g["bearing"]["approximate"] is True
    assert client.delete(GEOM.format("WT-G0", "hss")).status_code == 204
    g = client.get(GEOM.format("WT-G0", "hss")).json()
    assert g["assumed"] is True and g["bearing"]["designation"] == "SKF 6205-2RS"
    assert client.delete(GEOM.format("WT-G0", "hss")).status_code == 404


def test_custom_geometry_with_gears_and_planetary_stage(client):
    client.put("/api/v1/turbines/WT-G1", json={})
    body = {"n_elements": 9, "element_diameter_mm": 7.94, "pitch_diameter_mm": 39.04,
            "gears": [{"name": "hss_pinion", "teeth": 23}, {"name": "ims", "teeth": 90,
                                                            "speed_ratio": 0.25}],
            "planetary": {"sun_teeth": 21, "planet_teeth": 36, "ring_teeth": 93,
                          "carrier_speed_ratio": 0.01},
            "shaft_speed_ratio": 1.0, "rpm_min": 900, "rpm_max": 1900, "by": "analyst"}
    r = client.put(GEOM.format("WT-G1", "gearbox_hss"), json=body)
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["bearing"]["designation"] is None and g["bearing"]["source"] == "custom geometry"
    assert g["gear_mesh_orders"] == {"hss_pinion": 23.0, "ims": 22.5,
                                     "planetary": pytest.approx(0.93)}
    assert (g["rpm_min"], g["rpm_max"], g["updated_by"]) == (900, 1900, "analyst")
    r2 = client.put(GEOM.format("WT-G1", "gearbox_hss"), json={"bearing": "SKF 22330 CC"})
    assert r2.status_code == 200 and r2.json()["gears"] == []
    assert client.get("/api/v1/turbines/WT-G1").json()["sensors"][0]["name"] == "gearbox_hss"


@pytest.mark.parametrize("body", [
    {},
    {"bearing": "SKF 6309", "n_elements": 9},
    {"bearing": "NOPE 1"},
    {"n_elements": 9, "element_diameter_mm": 40, "pitch_diameter_mm": 39},  # ball > pitch
    {"bearing": "SKF 6309", "rpm_min": 900},
    {"bearing": "SKF 6309", "gears": [{"name": "a", "teeth": 3}, {"name": "a", "teeth": 4}]},
])
def test_invalid_geometry_is_422(client, body):
    client.put("/api/v1/turbines/WT-G2", json={})
    r = client.put(GEOM.format("WT-G2", "hss"), json=body)
    assert r.status_code == 422, r.text


def test_geometry_of_unknown_turbine_is_404(client):
    r = client.put(GEOM.format("WT-NOPE", "hss"), json={"bearing": "SKF 6309"})
    assert r.status_code == 404
