"""Alembic: upgrade -> downgrade -> upgrade on SQLite and PostgreSQL, and no model drift."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from service.migrate import downgrade, upgrade
from service.tables import Base
from tests.conftest import backend_url

TABLES = {"turbines", "sensors", "batches", "indicators", "predictions", "model_versions"}


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_downgrade_upgrade(db, tmp_path):
    url = backend_url(db, tmp_path, "migrations")
    upgrade(url)
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:  # the migrations match the ORM models exactly
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        downgrade(url)
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(url)
        names = set(inspect(engine).get_table_names())
        assert names >= TABLES
        idx = {i["name"] for i in inspect(engine).get_indexes("predictions")}
        assert "ix_predictions_turbine_recorded" in idx
    finally:
        engine.dispose()
