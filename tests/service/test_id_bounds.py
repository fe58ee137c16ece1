"""Every integer in a path or query is range-checked before it reaches the database: 422,
never a 500. The growing tables (batches, predictions, alarms) have BIGINT keys (1 .. 2^63 - 1),
the small ones (models, keys, users, jobs) int4 (1 .. 2^31 - 1); offsets are bounded by 2^63 - 1
(``OverflowError`` on SQLite above it)."""

from __future__ import annotations

import pytest

BAD_BIG = [0, -1, 2**63, 2**64, 10**30]
BAD_SMALL = [0, -1, 2**31, 2**63, 10**30]
BIG_GETS = ["/api/v1/predictions/{n}", "/api/v1/predictions/{n}/saliency",
            "/api/v1/predictions/{n}/explanation", "/api/v1/alarms/{n}", "/api/v1/batches/{n}"]
SMALL_GETS = ["/api/v1/models/{n}"]
BIG_POSTS = ["/api/v1/alarms/{n}/acknowledge", "/api/v1/alarms/{n}/close",
             "/alarms/{n}/acknowledge", "/alarms/{n}/close"]
SMALL_POSTS = ["/api/v1/models/{n}/promote", "/models/{n}/promote"]
BODY = {"by": "op", "comment": "c", "outcome": "false_alarm", "reason": "r"}


@pytest.mark.parametrize(("path", "n"), [(p, n) for p in BIG_GETS for n in BAD_BIG]
                         + [(p, n) for p in SMALL_GETS for n in BAD_SMALL])
def test_ids_out_of_range_are_422(client, path, n):
    r = client.get(path.format(n=n))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(("path", "n"), [(p, 2**63 - 1) for p in BIG_GETS]
                         + [(p, 2**31) for p in BIG_GETS] + [(p, 2**31 - 1) for p in SMALL_GETS])
def test_ids_at_the_bound_are_a_plain_404(client, path, n):
    assert client.get(path.format(n=n)).status_code == 404


def _post(client, url):
    return client.post(url, json=BODY) if url.startswith("/api") else client.post(url, data=BODY)


@pytest.mark.parametrize(("path", "n"), [(p, n) for p in BIG_POSTS for n in (0, 2**63)]
                         + [(p, n) for p in SMALL_POSTS for n in (0, 2**31, 2**63)])
def test_state_changing_ids_out_of_range_are_422(client, path, n):
    r = _post(client, path.format(n=n))
    assert r.status_code == 422, (path, r.status_code, r.text[:200])


@pytest.mark.parametrize(("params", "status"), [
    ({"offset": 2**63}, 422), ({"offset": -1}, 422), ({"offset": 2**31}, 200),
    ({"offset": 2**63 - 1}, 200),
])
def test_alarm_offsets_are_range_checked(client, params, status):
    assert client.get("/api/v1/alarms", params=params).status_code == status


@pytest.mark.parametrize("path", ["/", "/alarms"])
@pytest.mark.parametrize(("page", "status"), [(2**63, 422), (2**31, 422), (10**30, 422),
                                              (0, 200), (-5, 200), (3, 200)])
def test_dashboard_pages_are_range_checked(client, path, page, status):
    assert client.get(path, params={"page": page}).status_code == status
