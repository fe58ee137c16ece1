"""Alembic: upgrade -> downgrade -> upgrade on SQLite and PostgreSQL, and no model drift."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DataError

from service.migrate import downgrade, upgrade
from service.tables import Base
from tests.conftest import backend_url

TABLES = {"turbines", "sensors", "batches", "indicators", "predictions", "model_versions",
          "sensor_baselines"}


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


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_baselines_revision_down_and_up(db, tmp_path):
    url = backend_url(db, tmp_path, "migrations_0004")
    upgrade(url)
    engine = create_engine(url)
    try:
        downgrade(url, "0003")
        assert "sensor_baselines" not in inspect(engine).get_table_names()
        cols = {c["name"] for c in inspect(engine).get_columns("predictions")}
        assert not cols & {"features", "anomaly_score", "baseline_version"}
        upgrade(url, "0004")
        cols = {c["name"] for c in inspect(engine).get_columns("predictions")}
        assert {"features", "anomaly_score", "anomaly_threshold", "baseline_state"} <= cols
    finally:
        engine.dispose()


BIG = [("batches", "id"), ("indicators", "id"), ("indicators", "batch_id"), ("predictions", "id"),
       ("predictions", "batch_id"), ("alarms", "id"), ("alarm_events", "id"),
       ("alarm_batches", "batch_id"), ("turbines", "latest_prediction_id")]


@pytest.mark.postgres
def test_growing_tables_get_bigint_keys_and_sequences_down_and_up(tmp_path):
    url = backend_url("postgres", tmp_path, "migrations_0009")
    upgrade(url)
    engine = create_engine(url)

    def types() -> set[str]:
        with engine.connect() as conn:
            cols = {str(c["type"]) for t, name in BIG for c in inspect(conn).get_columns(t)
                    if c["name"] == name}
            seqs = set(conn.execute(text(
                "SELECT data_type FROM information_schema.sequences "
                "WHERE sequence_schema = current_schema() AND sequence_name IN "
                "('batches_id_seq', 'indicators_id_seq', 'predictions_id_seq', 'alarms_id_seq')"
            )).scalars())
        return cols | {f"seq:{s}" for s in seqs}

    try:
        assert types() == {"BIGINT", "seq:bigint"}
        with engine.begin() as conn:  # ids past int4 are accepted
            conn.execute(text("SELECT setval('indicators_id_seq', 3000000000)"))
        with pytest.raises(DataError):  # a downgrade never truncates ids that need 64 bits
            downgrade(url, "0008")
        with engine.begin() as conn:
            conn.execute(text("SELECT setval('indicators_id_seq', 1)"))
        downgrade(url, "0008")
        assert types() == {"INTEGER", "seq:integer"}
        upgrade(url)
        assert types() == {"BIGINT", "seq:bigint"}
    finally:
        engine.dispose()
