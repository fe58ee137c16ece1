"""Browser tests: a real uvicorn server on SQLite, seeded through the public API, driven by the
system Chromium through Playwright (its own browser download does not work offline).

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests skip, unless
``WINDWATCH_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from service.settings import REPO_ROOT
from tests.browser.csp import record_csp_violations
from tests.browser.seed import Seeded, seed
from tests.conftest import CWRU
from tests.live_server import BIN, running_server

CHROMIUM = Path(os.environ.get("WINDWATCH_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("WINDWATCH_REQUIRE_BROWSER") == "1"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
USER, PASSWORD = "analyst", "correct horse battery"  # an admin, logged in by every page
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the system Chromium with Playwright")


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make browser-deps)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def chromium():
    """The system Chromium, launched headless once per session."""
    reason = _unavailable()
    if reason:
        if REQUIRE:
            pytest.fail(f"{reason}; WINDWATCH_REQUIRE_BROWSER=1 makes the browser tests mandatory")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, chromium):
    """Base URL of a migrated Windwatch (SQLite) serving in a subprocess, and what was seeded."""
    # Every test logs in through the form: lift the per-address login limit for this server.
    with running_server(tmp_path_factory.mktemp("browser"),
                        WINDWATCH_RATE_LIMIT_LOGIN="1000/minute") as url:
        subprocess.run([BIN / "windwatch", "users", "create", USER, "--role", "admin",
                        "--password", PASSWORD], env=url.env, check=True, capture_output=True)
        yield url, seed(url, CWRU if CWRU.exists() else None, headers=url.headers)


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server[0]


@pytest.fixture(scope="session")
def seeded(live_server) -> Seeded:
    return live_server[1]


class Errors(list):
    """Console errors and uncaught page errors seen by one page."""


def log_in(pg, base_url: str, user: str = USER, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    pg.goto(base_url + "/login")
    pg.fill("input[name=username]", user)
    pg.fill("input[name=password]", password)
    pg.click("form.login button")
    pg.wait_for_url(lambda u: "/login" not in u)


@pytest.fixture
def page(chromium, base_url):
    """A fresh, logged-in page (laptop-sized) that records console errors and page errors in
    ``.errors``."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    log_in(pg, base_url)
    errors = Errors()
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
          if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    record_csp_violations(context, errors.append)  # a blocked script or style is an error too
    pg.errors = errors
    yield pg
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG under docs/screenshots/ (the README links the current ones)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path



