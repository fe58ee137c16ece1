"""Identifiers that cannot be path elements, raw files inside the data root, text without
control characters, and integers range-checked before they reach the database (422, never 500)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

from service.batches.storage import RawStore, path_component
from service.validation import ID_PATTERN
from tests.service.bodies import ARROW, arrow_body, meta, signal

URL = "/api/v1/turbines/{}/batches"
GEOMETRY = "/api/v1/turbines/WT-001/sensors/gearbox_hss/geometry"


@pytest.mark.parametrize("name", [".", "..", "...", ".hidden", "a%2Fb", "a%00b", "%2E%2E"])
def test_turbine_ids_that_could_be_path_elements_are_refused(client, counts, name):
    body = arrow_body(signal(), meta())
    r = client.post(URL.format(name), content=body, headers={"Content-Type": ARROW})
    # Clients normalise "." and "/" away (404/405 then); whatever reaches the route is a 422.
    assert r.status_code in (404, 405, 422), r.text
    assert client.put(f"/api/v1/turbines/{name}", json={}).status_code in (404, 405, 422)
    assert counts()["raw_files"] == 0 and counts()["turbines"] == 0


@pytest.mark.parametrize("name", [".", "..", ".x", "a/b", "a\\b", "a\x00b", "", "x" * 65, "é"])
def test_identifier_pattern_refuses_path_elements(name):
    assert re.fullmatch(ID_PATTERN, name) is None


def test_every_stored_raw_file_lies_inside_the_data_root(client, raw_dir):
    for i, name in enumerate(["WT-001", "wt_2.b", "A-..-b", "x..y"]):
        m = meta(recorded_at=f"2026-11-01T10:0{i}:00Z")
        r = client.post(URL.format(name), content=arrow_body(signal(), m),
                        headers={"Content-Type": ARROW})
        assert r.status_code == 201, r.text
    root = raw_dir.resolve()
    files = [p for p in raw_dir.parent.rglob("*") if p.is_file()]
    assert len(files) == 4
    assert all(p.resolve().is_relative_to(root) for p in files)


def test_store_never_writes_or_reads_outside_its_root(tmp_path):
    store = RawStore(tmp_path / "data")
    x = np.zeros((1, 10), np.float32)
    for name in (".", "..", "../..", "a/b", "a\x00b", "/etc"):
        uri, _, _ = store.write(name, datetime(2026, 1, 1, tzinfo=UTC), x, ["x"], {})
        assert store.path(uri).resolve().is_relative_to(store.root.resolve())
        assert path_component(name).startswith("h-")
    assert path_component("WT-001") == "WT-001"
    for uri in ("raw/../../etc/passwd", "../outside.parquet", "raw", "/etc/passwd"):
        with pytest.raises(ValueError, match="outside"):
            store.path(uri)
    store.delete("../outside.parquet")  # never raises


@pytest.mark.parametrize("site", ["a\x00b", "line\nbreak", "bell\x07", "\x7f"])
def test_site_with_control_characters_is_refused(client, counts, site):
    r = client.put("/api/v1/turbines/WT-009", json={"site": site})
    assert r.status_code == 422, r.text
    assert counts()["turbines"] == 0
    assert client.put("/api/v1/turbines/WT-009", json={"site": "Nordsee Ost – Feld 3"}).status_code == 201


@pytest.mark.parametrize("param", ["q", "site"])
def test_query_text_with_control_characters_is_refused(client, param):
    assert client.get("/api/v1/turbines", params={param: "a\x00b"}).status_code == 422
    assert client.get("/api/v1/turbines", params={param: "WT"}).status_code == 200


@pytest.mark.parametrize(("field", "value"), [("notes", "a\x00b"), ("by", "ops\nteam"),
                                               ("bearing", "SKF\x1b6309")])
def test_geometry_text_with_control_characters_is_refused(client, field, value):
    body = {"bearing": "SKF 6309", field: value}
    assert client.put(GEOMETRY, json=body).status_code == 422
    ok = {"bearing": "SKF 6309", "notes": "two lines\nand a\ttab"} if field != "bearing" else None
    if ok:
        r = client.put(GEOMETRY, json=ok)
        assert r.status_code in (200, 201, 404), r.text


@pytest.mark.parametrize("path", [
    "/api/v1/batches/{n}", "/api/v1/batches/{n}/raw", "/api/v1/batches/{n}/spectrogram",
    "/ui/batches/{n}/spectra.json",
])
@pytest.mark.parametrize("n", [0, -1, 2**63, 2**64, 10**30])
def test_ids_out_of_range_are_422(client, path, n):
    assert client.get(path.format(n=n)).status_code == 422


def test_ids_past_int4_are_a_plain_404(client):  # batch ids are BIGINT
    for n in (2**31 - 1, 2**31, 2**63 - 1):
        assert client.get(f"/api/v1/batches/{n}").status_code == 404


@pytest.mark.parametrize(("params", "status"), [
    ({"offset": 2**63}, 422), ({"offset": -1}, 422), ({"limit": 0}, 422),
    ({"limit": 2**64}, 422), ({"offset": 2**31}, 200), ({"offset": 2**63 - 1}, 200),
])
def test_limit_and_offset_are_range_checked(client, params, status):
    assert client.get("/api/v1/turbines", params=params).status_code == status


def test_cursor_with_an_out_of_range_id_is_422(client):
    import base64

    client.put("/api/v1/turbines/WT-001", json={})
    for pid in (0, 2**63, 2**70):
        cursor = base64.urlsafe_b64encode(f"2026-11-01T10:00:00+00:00|{pid}".encode()).decode()
        r = client.get("/api/v1/turbines/WT-001/predictions", params={"cursor": cursor})
        assert r.status_code == 422, r.text
    assert client.get("/api/v1/turbines/WT-001/predictions",
                      params={"sensor": "a\x00b"}).status_code == 422
