"""A real server per test module (see ``tests/live_server.py``)."""

from __future__ import annotations

import pytest

from tests.live_server import BIN, running_server

__all__ = ["BIN"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Base URL of a freshly migrated Windwatch on SQLite, stopped after the module."""
    with running_server(tmp_path_factory.mktemp("e2e")) as srv:
        yield srv
