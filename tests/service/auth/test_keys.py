"""API keys: 401 without one, scopes enforced per route, turbine/site bindings, revocation,
expiry, last use, secrets never listed, and every state-changing route naming its scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute

from service.auth.tables import ApiKey, AuditEvent
from tests.conftest import auth_header
from tests.service.bodies import ARROW, arrow_body, meta, signal

BODY = arrow_body(signal(n=25_600), meta())
POST = {"content": BODY, "headers": {"Content-Type": ARROW}}


def make_key(client, name: str, scopes: list[str], **extra) -> dict:
    r = client.post("/api/v1/keys", json={"name": name, "scopes": scopes, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def as_key(anon_client, secret: str):
    anon_client.headers.update(auth_header(secret))
    return anon_client


def test_no_credentials_is_401_everywhere_with_a_bearer_challenge(anon_client, counts):
    before = counts()
    for method, path in (("GET", "/api/v1/turbines"), ("GET", "/api/v1/alarms"),
                         ("POST", "/api/v1/turbines/WT-1/batches"),
                         ("PUT", "/api/v1/turbines/WT-1"), ("GET", "/api/v1/keys")):
        r = anon_client.request(method, path, content=b"{}" if method != "GET" else None)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "authentication required" in r.json()["detail"]
    assert counts() == before
    assert anon_client.get("/healthz").status_code == 200  # probes stay open
    bad = anon_client.get("/api/v1/turbines", headers=auth_header("ww_deadbeef_nope"))
    assert bad.status_code == 401 and bad.json()["detail"] == "unknown API key"
    assert anon_client.get("/api/v1/turbines", headers=auth_header("garbage")).status_code == 401


def test_scopes_are_enforced_per_route(client, anon_client, counts):
    reader = make_key(client, "reader", ["read"])["secret"]
    gateway = make_key(client, "gw", ["ingest"])["secret"]
    api = as_key(anon_client, reader)
    assert api.get("/api/v1/turbines").status_code == 200
    r = api.post("/api/v1/turbines/WT-1/batches", **POST)
    assert r.status_code == 403 and "'ingest' scope" in r.json()["detail"]
    assert api.put("/api/v1/turbines/WT-1", json={"site": "s"}).status_code == 403
    assert api.get("/api/v1/keys").status_code == 403  # admin only
    api.headers.update(auth_header(gateway))
    assert api.post("/api/v1/turbines/WT-1/batches", **POST).status_code == 201
    r = api.get("/api/v1/turbines")
    assert r.status_code == 403 and "'read' scope" in r.json()["detail"]
    me = api.get("/api/v1/whoami").json()  # a gateway may still check who it is
    assert me["actor"] == "key:gw" and me["scopes"] == ["ingest"]


def test_ingest_keys_bound_to_turbines_and_sites(client, anon_client):
    client.put("/api/v1/turbines/WT-S1", json={"site": "north"})
    one = make_key(client, "gw-one", ["ingest"], turbines=["WT-B1"])["secret"]
    site = make_key(client, "gw-north", ["ingest"], sites=["north"])["secret"]
    api = as_key(anon_client, one)
    assert api.post("/api/v1/turbines/WT-B1/batches", **POST).status_code == 201
    r = api.post("/api/v1/turbines/WT-B2/batches", **POST)
    assert r.status_code == 403 and "only for turbine WT-B1" in r.json()["detail"]
    api.headers.update(auth_header(site))
    assert api.post("/api/v1/turbines/WT-S1/batches", **POST).status_code == 201
    r = api.post("/api/v1/turbines/WT-NEW/batches", **POST)
    assert r.status_code == 403 and "not registered under a bound site" in r.json()["detail"]
    bad = client.post("/api/v1/keys", json={"name": "x", "scopes": ["ingest"],
                                            "turbines": ["../etc"]})
    assert bad.status_code == 422


def test_revoked_and_expired_keys_are_refused_and_use_is_recorded(client, anon_client, session):
    key = make_key(client, "short", ["read"])
    assert "secret" in key and key["secret"].startswith(f"ww_{key['prefix']}_")
    listed = client.get("/api/v1/keys").json()
    assert all("secret" not in k and "secret_hash" not in k for k in listed)
    api = as_key(anon_client, key["secret"])
    assert api.get("/api/v1/turbines").status_code == 200
    row = session.get(ApiKey, key["id"])
    session.refresh(row)
    assert row.last_used_at is not None and row.secret_hash not in key["secret"]
    assert client.post(f"/api/v1/keys/{key['id']}/revoke").status_code == 200
    r = api.get("/api/v1/turbines")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    expired = make_key(client, "expired", ["read"], expires_at=past)["secret"]
    api.headers.update(auth_header(expired))
    r = api.get("/api/v1/turbines")
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    actions = {e.action for e in session.query(AuditEvent).filter(
        AuditEvent.actor == "key:test-admin")}
    assert {"key.create", "key.revoke"} <= actions
    assert client.post("/api/v1/keys", json={"name": "short", "scopes": ["read"]}
                       ).status_code == 409
    assert client.post("/api/v1/keys", json={"name": "y", "scopes": ["root"]}).status_code == 422


def test_ingest_is_rate_limited_per_key_with_retry_after(app, client):
    from service.auth.ratelimit import RateLimits

    app.state.rate_limits = RateLimits(app.state.settings.model_copy(
        update={"rate_limit_ingest_key": "2/minute"}))
    codes = [client.post("/api/v1/turbines/WT-RL/batches",
                         content=arrow_body(signal(n=25_600), meta(f"2026-11-01T10:0{i}:00Z")),
                         headers={"Content-Type": ARROW}).status_code for i in range(3)]
    assert codes[:2] == [201, 201]
    r = client.post("/api/v1/turbines/WT-RL/batches", **POST)
    assert codes[2] == 429 and r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1 and "rate limit" in r.json()["detail"]


def _dependency_names(dependant) -> set[str]:
    names = {getattr(dependant.call, "__name__", "")}
    for sub in dependant.dependencies:
        names |= _dependency_names(sub)
    return names


def test_every_state_changing_api_route_names_its_scope(app):
    unguarded = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            continue
        if route.methods - {"GET", "HEAD"}:
            names = _dependency_names(route.dependant)
            if not any(n.startswith("require_") for n in names):
                unguarded.append(f"{sorted(route.methods)} {route.path}")
    assert unguarded == []


@pytest.fixture
def dev_client(settings, session_factory, tmp_path):
    from fastapi.testclient import TestClient

    from service.batches.storage import RawStore
    from service.main import create_app

    application = create_app(settings.model_copy(update={"auth": "off"}))
    application.state.session_factory = session_factory
    application.state.store = RawStore(tmp_path / "data")
    with TestClient(application) as c:
        yield c


def test_auth_off_is_development_only_and_acts_as_dev(dev_client):
    assert dev_client.get("/api/v1/turbines").status_code == 200
    assert dev_client.get("/api/v1/whoami").json()["actor"] == "dev"
    assert dev_client.post("/api/v1/turbines/WT-DEV/batches", **POST).status_code == 201


def test_audit_rows_name_the_client_address_and_job_actions_are_audited(client, session):
    make_key(client, "audited", ["read"])
    row = session.query(AuditEvent).filter(AuditEvent.action == "key.create",
                                           AuditEvent.target == "key:audited").one()
    assert row.address == "testclient" and row.actor == "key:test-admin"
    job = client.post("/api/v1/jobs", json={"kind": "drift-check", "params": {}})
    assert job.status_code in (200, 201), job.text
    assert client.post(f"/api/v1/jobs/{job.json()['id']}/cancel").status_code == 200
    actions = {e.action for e in session.query(AuditEvent).filter(
        AuditEvent.target == f"job:{job.json()['id']}")}
    assert actions == {"job.start", "job.cancel"}
