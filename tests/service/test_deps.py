"""The request's database session on a real PostgreSQL whose backend is terminated under it:
closing it after the handler has answered neither raises (which would cut off a response
already under way) nor keeps the dead connection checked out of the pool."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from service.db import make_engine, session_factory
from service.deps import _session
from tests.conftest import PG_URL, postgres_schema_url


def _request(factory) -> SimpleNamespace:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(session_factory=factory)))


@pytest.mark.postgres
def test_a_session_whose_connection_was_terminated_closes_quietly_and_frees_the_pool(caplog):
    engine = make_engine(postgres_schema_url("ww_deps_terminated"))
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        request = _request(session_factory(engine))
        dependency = _session(request)
        session = next(dependency)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # opens a transaction
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        assert next(dependency, "closed") == "closed"  # the teardown runs and does not raise
        assert "session closed on a dead connection" in caplog.text
        assert engine.pool.checkedout() == 0
        # The next request's session gets a live connection (pre-ping replaces the dead one).
        dependency = _session(request)
        assert next(dependency).execute(text("SELECT 1")).scalar_one() == 1
        next(dependency, None)
        assert engine.pool.checkedout() == 0
    finally:
        admin.dispose()
        engine.dispose()
