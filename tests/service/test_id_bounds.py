"""Every integer in a path or query is range-checked (1 .. 2^31 - 1, PostgreSQL's int4; pages
and offsets likewise) before it reaches the database: 422, never a 500 (``OverflowError`` on
SQLite above 2^63 - 1, ``NumericValueOutOfRange`` on PostgreSQL above 2^31 - 1)."""

from __future__ import annotations

import pytest

BAD = [0, -1, 2**31, 2**63, 2**64, 10**30]
GETS = ["/api/v1/predictions/{n}", "/api/v1/predictions/{n}/saliency",
        "/api/v1/predictions/{n}/explanation", "/api/v1/alarms/{n}", "/api/v1/models/{n}"]
POSTS = ["/api/v1/alarms/{n}/acknowledge", "/api/v1/alarms/{n}/close",
         "/api/v1/models/{n}/promote", "/alarms/{n}/acknowledge", "/alarms/{n}/close",
         "/models/{n}/promote"]


@pytest.mark.parametrize("path", GETS)
@pytest.mark.parametrize("n", BAD)
def test_ids_out_of_range_are_422(client, path, n):
    r = client.get(path.format(n=n))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("path", GETS)
def test_ids_at_the_int4_bound_are_a_plain_404(client, path):
    assert client.get(path.format(n=2**31 - 1)).status_code == 404


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("n", [0, 2**31, 2**63])
def test_state_changing_ids_out_of_range_are_422(client, path, n):
    body = {"by": "op", "comment": "c", "outcome": "false_alarm", "reason": "r"}
    url = path.format(n=n)
    r = client.post(url, json=body) if url.startswith("/api") else client.post(url, data=body)
    assert r.status_code == 422, (url, r.status_code, r.text[:200])


@pytest.mark.parametrize(("params", "status"), [
    ({"offset": 2**31}, 422), ({"offset": 2**63}, 422), ({"offset": -1}, 422),
    ({"offset": 2**31 - 1}, 200),
])
def test_alarm_offsets_are_range_checked(client, params, status):
    assert client.get("/api/v1/alarms", params=params).status_code == status


@pytest.mark.parametrize("path", ["/", "/alarms"])
@pytest.mark.parametrize(("page", "status"), [(2**63, 422), (2**31, 422), (10**30, 422),
                                              (0, 200), (-5, 200), (3, 200)])
def test_dashboard_pages_are_range_checked(client, path, page, status):
    assert client.get(path, params={"page": page}).status_code == status
