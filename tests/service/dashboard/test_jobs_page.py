"""The jobs page through TestClient: schedules with their next run, progress bars, no inline
script, and the start and cancel forms (303 back with a message or the error)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth_header


@pytest.fixture
def pages(app, admin_key):
    """A client that does not follow redirects, so each form's 303 can be read."""
    return TestClient(app, follow_redirects=False, headers=auth_header(admin_key))


def _redirect(r) -> dict[str, str]:
    assert r.status_code == 303, r.text
    url = urlsplit(r.headers["location"])
    assert url.path == "/jobs"
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def _no_inline_script(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"


def test_page_shows_the_schedules_and_the_forms(client):
    r = client.get("/jobs")
    assert r.status_code == 200
    html = r.text
    assert 'href="/jobs"' in html  # the nav link
    assert "retrain-weekly" in html and "<code>0 3 * * 0</code>" in html
    assert 'action="/jobs"' in html and 'name="kind"' in html
    _no_inline_script(html)


def test_start_and_cancel_forms(pages):
    q = _redirect(pages.post("/jobs", data={"kind": "refresh-baselines",
                                            "params": '{"turbine": "WT-PAGE"}'}))
    assert "queued" in q["msg"]
    job_id = int(re.search(r"job (\d+)", q["msg"]).group(1))
    job = pages.get(f"/api/v1/jobs/{job_id}").json()
    assert job["source"] == "dashboard" and job["started_by"].startswith("key:")
    html = pages.get("/jobs", params=q).text
    row = re.search(rf'<tr id="job-{job_id}".*?</tr>', html, re.S).group(0)
    assert "<progress" in row and 'data-state="queued"' in row
    assert f'action="/jobs/{job_id}/cancel"' in row
    assert 'http-equiv="refresh"' in html  # a job is active: the page reloads itself
    _no_inline_script(html)
    detail = pages.get(f"/jobs/{job_id}")
    assert detail.status_code == 200 and "queued" in detail.text and "<progress" in detail.text
    _no_inline_script(detail.text)
    q = _redirect(pages.post(f"/jobs/{job_id}/cancel", data={}))
    assert q["msg"] == f"job {job_id} cancelled"
    q = _redirect(pages.post(f"/jobs/{job_id}/cancel", data={}))
    assert "already cancelled" in q["error"]


@pytest.mark.parametrize("form, needle", [
    ({"kind": "nope"}, "unknown job kind"),
    ({"kind": "refresh-baselines", "params": "{oops"}, "params is not JSON"),
    ({"kind": "evaluate", "params": "{}"}, "model_version_id"),
])
def test_bad_start_forms_redirect_with_the_error(pages, form, needle):
    q = _redirect(pages.post("/jobs", data=form))
    assert needle in q["error"]
    assert pages.get("/jobs", params=q).status_code == 200


def test_unknown_job_page_is_404(client):
    assert client.get("/jobs/2147483647").status_code == 404
