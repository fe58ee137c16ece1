"""People on the dashboard: login (argon2), the session cookie's flags, CSRF on every form,
roles, cross-site posts refused, logout revoking the session server-side, login rate limit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.auth.tables import AuditEvent, User

PASSWORD = "correct horse battery"


@pytest.fixture
def people(client):
    for name, role in (("vera", "viewer"), ("otto", "operator"), ("ada", "admin")):
        r = client.post("/api/v1/users", json={"username": name, "password": PASSWORD,
                                               "role": role})
        assert r.status_code == 201, r.text


@pytest.fixture
def browser(app):
    """A cookie-keeping client without an API key, not following redirects."""
    with TestClient(app, follow_redirects=False) as c:
        yield c


def log_in(browser, user: str, password: str = PASSWORD):
    return browser.post("/login", data={"username": user, "password": password, "next": "/alarms"})


def csrf_of(browser, path: str = "/models") -> str:
    page = browser.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_pages_need_a_login_and_the_cookie_is_httponly_samesite(people, browser, session):
    r = browser.get("/alarms")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/alarms"
    assert browser.get("/ui/batches/1/spectra.json").status_code == 401
    assert browser.get("/login").status_code == 200
    bad = log_in(browser, "vera", "wrong password!")
    assert bad.status_code == 303 and "wrong%20password" in bad.headers["location"]
    ok = log_in(browser, "vera")
    assert ok.status_code == 303 and ok.headers["location"] == "/alarms"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert browser.get("/alarms").status_code == 200
    assert browser.get("/api/v1/turbines").status_code == 200  # reads with the cookie
    r = browser.put("/api/v1/turbines/WT-C", json={"site": "x"})  # changes need a key
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    user = session.query(User).filter_by(username="vera").one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert {"login.failed", "login"} <= {e.action for e in session.query(AuditEvent)}
    assert log_in(TestClient(browser.app, follow_redirects=False), "nobody").status_code == 303


def test_forms_need_the_csrf_token_and_the_role(people, browser, client):
    production = next(m for m in client.get("/api/v1/models").json() if m["status"] == "production")
    log_in(browser, "ada")
    token = csrf_of(browser)
    # A page on another origin can make the browser send the cookie, not read the token.
    forged = browser.post("/models/rollback", data={"reason": "cross-site"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = browser.post("/models/rollback", data={"csrf_token": token[:-2] + "xx"})
    assert wrong.status_code == 403
    now = next(m for m in client.get("/api/v1/models").json() if m["status"] == "production")
    assert now["id"] == production["id"]  # nothing changed
    other = next(m for m in client.get("/api/v1/models").json() if m["id"] != production["id"])
    done = browser.post(f"/models/{other['id']}/promote", data={"csrf_token": token})
    assert done.status_code == 303 and "now+in+production" in done.headers["location"]
    promoted = client.get(f"/api/v1/models/{other['id']}").json()
    assert promoted["promoted_by"] == "user:ada"
    client.post(f"/api/v1/models/{production['id']}/promote", json={"reason": "restore"})
    # A viewer has a token but not the role.
    viewer = TestClient(browser.app, follow_redirects=False)
    log_in(viewer, "vera")
    r = viewer.post("/models/rollback", data={"csrf_token": csrf_of(viewer)})
    assert r.status_code == 403 and "'admin' scope" in r.json()["detail"]


def test_logout_revokes_the_session_even_for_a_copied_cookie(people, browser):
    log_in(browser, "otto")
    copied = dict(browser.cookies)
    token = csrf_of(browser, "/alarms")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
    thief = TestClient(browser.app, follow_redirects=False, cookies=copied)
    assert thief.get("/alarms").status_code == 303  # back to the login form


def test_disabling_a_user_ends_their_sessions(people, browser, client):
    log_in(browser, "otto")
    assert browser.get("/alarms").status_code == 200
    uid = next(u["id"] for u in client.get("/api/v1/users").json() if u["username"] == "otto")
    assert client.patch(f"/api/v1/users/{uid}", json={"disabled": True}).status_code == 200
    assert browser.get("/alarms").status_code == 303
    assert log_in(browser, "otto").headers["location"].startswith("/login")


def test_login_is_rate_limited(people, app):
    from service.auth.ratelimit import RateLimits

    app.state.rate_limits = RateLimits(app.state.settings.model_copy(
        update={"rate_limit_login": "3/minute"}))
    c = TestClient(app, follow_redirects=False)
    codes = [log_in(c, "ada", "guess number " + str(i)).status_code for i in range(4)]
    assert codes == [303, 303, 303, 429]
    r = log_in(c, "ada")  # even the right password waits: the limit counts attempts
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_users_validation(client):
    assert client.post("/api/v1/users", json={"username": "u", "password": "short",
                                              "role": "viewer"}).status_code == 422
    r = client.post("/api/v1/users", json={"username": "u", "password": PASSWORD, "role": "god"})
    assert r.status_code == 422 and "role" in r.json()["detail"]
