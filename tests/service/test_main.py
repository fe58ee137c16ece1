"""The app's startup on a database that is down: the worker still starts (uvicorn would stop the
whole server for one worker that fails to), answers 503 with Retry-After while it is down, and
loads the model on the first request once it is back. The outage is real: a PostgreSQL URL on
a port where nothing listens."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from service.batches.storage import RawStore
from service.main import create_app
from tests.conftest import auth_header
from tests.service.bodies import ARROW, arrow_body, meta, signal

DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


@pytest.fixture
def caplog_info(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def test_a_worker_starts_while_the_database_is_down_and_recovers(
        settings, session_factory, admin_key, tmp_path, caplog_info, capsys):
    app = create_app(settings.model_copy(update={"database_url": DOWN_URL}))
    app.state.store = RawStore(tmp_path / "data")  # this test's raw files (models are shared)
    with TestClient(app, headers=auth_header(admin_key)) as client:  # the startup completes
        printed = capsys.readouterr()
        logged = caplog_info.text + printed.out + printed.err
        assert "model not loaded yet: database unavailable" in logged
        assert "serving without a preloaded model" in logged
        r = client.get("/healthz")
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1, r.text
        app.state.session_factory = session_factory  # the database is back
        assert client.get("/healthz").status_code == 200
        r = client.post("/api/v1/turbines/WT-001/batches",
                        content=arrow_body(signal(), meta()), headers={"Content-Type": ARROW})
        assert r.status_code == 201, r.text
        assert r.json()["prediction"]["label"]  # the model was loaded by this first request
