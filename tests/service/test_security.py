"""Security headers on every response, the Host check, CORS closed unless configured, and the
vendored Swagger UI on /docs (no CDN, no inline script)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.dashboard.router import STATIC_DIR
from service.security import CSP, host_patterns
from service.settings import Settings

PATHS = ["/api/v1/models", "/api/v1/batches/2147483647", "/api/v1/models/0", "/healthz",
         "/openapi.json", "/docs", "/static/css/app.css", "/no-such-page", "/login"]


@pytest.fixture
def make_client(settings: Settings, session_factory, tmp_path: Path, admin_key):
    """A client of an app built from the test settings with ``overrides``."""
    from service.batches.storage import RawStore
    from service.main import create_app
    from tests.conftest import auth_header

    clients = []

    def make(**overrides) -> TestClient:
        app = create_app(settings.model_copy(update=overrides))
        app.state.session_factory = session_factory
        app.state.store = RawStore(tmp_path / "data")
        c = TestClient(app, headers=auth_header(admin_key))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"


def test_policy_allows_no_inline_script_or_style_and_no_other_origin():
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["form-action"] == "'self'"
    assert "unsafe" not in CSP and "http" not in CSP


def test_unknown_host_is_refused(client):
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    r = client.get("/healthz", headers={"Host": "evil.example"})
    assert r.headers["x-frame-options"] == "DENY"  # the refusal is hardened too
    assert client.get("/healthz", headers={"Host": "testserver:8000"}).status_code == 200


def test_default_hosts_are_loopback_and_a_specific_bind_address(monkeypatch):
    monkeypatch.delenv("WINDWATCH_ALLOWED_HOSTS", raising=False)
    assert Settings(_env_file=None).trusted_hosts() == ["localhost", "127.0.0.1", "::1"]
    assert Settings(_env_file=None, host="0.0.0.0").trusted_hosts() == ["localhost", "127.0.0.1", "::1"]
    assert Settings(_env_file=None, host="10.0.0.7").trusted_hosts()[-1] == "10.0.0.7"
    assert host_patterns(["::1", "LocalHost", "*.example.org"]) == ["[::1]", "localhost", "*.example.org"]


@pytest.mark.parametrize("raw", ['["wind.example", "10.0.0.7"]', "wind.example, 10.0.0.7"])
def test_allowed_hosts_from_the_environment_as_json_or_comma_list(monkeypatch, raw):
    monkeypatch.setenv("WINDWATCH_ALLOWED_HOSTS", raw)
    assert Settings(_env_file=None).trusted_hosts() == ["wind.example", "10.0.0.7"]


def test_ipv6_loopback_host_header_is_served(make_client):
    c = make_client(allowed_hosts=[])
    assert c.get("/healthz", headers={"Host": "[::1]:8000"}).status_code == 200
    assert c.get("/healthz", headers={"Host": "localhost"}).status_code == 200
    assert c.get("/healthz", headers={"Host": "testserver"}).status_code == 400


def test_cors_is_closed_by_default(client):
    origin = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.get("/api/v1/models", headers=origin).headers
    pre = client.options("/api/v1/models", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_exactly_the_configured_origins(make_client):
    c = make_client(cors_origins=["https://ops.example"])
    ok = c.get("/api/v1/models", headers={"Origin": "https://ops.example"})
    assert ok.headers["access-control-allow-origin"] == "https://ops.example"
    other = c.get("/api/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    pre = c.options("/api/v1/models", headers={"Origin": "https://ops.example",
                                               "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 200 and "authorization" in pre.headers["access-control-allow-headers"].lower()


def test_docs_load_only_vendored_files_and_no_inline_script(client):
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=|style=|javascript:", html)
    for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "cdn" not in html.lower() and "http" not in html
    assert client.get("/redoc").status_code == 404
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"):
        assert (STATIC_DIR / "vendor" / "swagger-ui" / name).is_file()


def test_openapi_declares_the_bearer_scheme_for_the_authorize_button(client):
    spec = client.get("/openapi.json").json()
    schemes = spec["components"].get("securitySchemes", {})
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())


def test_templates_and_scripts_have_no_inline_code():
    templates = STATIC_DIR.parent / "templates"
    for path in [*templates.glob("*.html"), *STATIC_DIR.glob("js/*.js")]:
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), path
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=\"|javascript:", text), path
