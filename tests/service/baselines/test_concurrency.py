"""Concurrent ingests of one sensor's first snapshots (real commits, one session per thread):
both are kept, in one baseline version, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from service.baselines import service
from service.db import make_engine, session_factory
from service.tables import Sensor, SensorBaseline, Turbine
from tests.conftest import migrated_url


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_first_snapshots_at_once_share_version_1(db, tmp_path):
    engine = make_engine(migrated_url(db, tmp_path, "baseline_race"))
    make = session_factory(engine)
    try:
        with make() as s:
            t = Turbine(name="WT-RACE")
            s.add(t)
            s.flush()
            sensor = Sensor(turbine_id=t.id, name="hss")
            s.add(sensor)
            s.commit()
            sensor_id = sensor.id
        barrier, errors = threading.Barrier(4), []

        def ingest(k: int) -> None:
            try:
                with make() as s:
                    barrier.wait()
                    service.observe(session=s, sensor_id=sensor_id, features={"f": float(k)},
                                    fs_hz=25_600.0, config=service.DetectionConfig(20))
                    s.commit()
            except Exception as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=ingest, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert errors == []
        with make() as s:
            rows = s.scalars(select(SensorBaseline).where(SensorBaseline.sensor_id == sensor_id)).all()
        assert [r.version for r in rows] == [1]
        assert sorted(x["f"] for x in rows[0].samples) == [0.0, 1.0, 2.0, 3.0]
    finally:
        engine.dispose()
