"""The single-active-scheduler lease, in-process and with two real scheduler processes on SQLite
and PostgreSQL: exactly one of them ever acts, and it runs every queued job."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from service.db import make_engine, session_factory
from service.jobs import lease
from service.jobs import service as jobs
from service.jobs.tables import Job
from service.settings import REPO_ROOT
from tests.conftest import migrated_url


def test_acquire_renew_expire_and_release(backend, tmp_path):
    engine = make_engine(migrated_url(backend, tmp_path, "lease_unit"))
    sf = session_factory(engine)
    try:
        assert lease.acquire(session_factory=sf, holder="a", ttl_s=0.5)
        assert not lease.acquire(session_factory=sf, holder="b", ttl_s=0.5)
        assert lease.acquire(session_factory=sf, holder="a", ttl_s=0.5)  # renewal
        assert lease.current_holder(session_factory=sf) == "a"
        time.sleep(0.7)
        assert lease.current_holder(session_factory=sf) is None
        assert lease.acquire(session_factory=sf, holder="b", ttl_s=30)  # a's expired
        lease.release(session_factory=sf, holder="a")  # not a's any more: no effect
        assert lease.current_holder(session_factory=sf) == "b"
        lease.release(session_factory=sf, holder="b")
        assert lease.acquire(session_factory=sf, holder="a", ttl_s=30)
    finally:
        engine.dispose()


def test_two_scheduler_processes_exactly_one_acts(backend, tmp_path):
    url = migrated_url(backend, tmp_path, "lease_two")
    engine = make_engine(url)
    sf = session_factory(engine)
    try:
        with sf() as s:
            ids = [jobs.start(session=s, kind="refresh-baselines", params={"turbine": f"T{i}"},
                              started_by="test", source="api").id for i in range(4)]
            s.commit()
        deadline = time.time() + 12
        outs = [tmp_path / f"worker{i}.json" for i in range(2)]
        procs = [subprocess.Popen([sys.executable, "-m", "tests.service.jobs.lease_worker", url,
                                   str(tmp_path), str(deadline), str(out)], cwd=REPO_ROOT)
                 for out in outs]
        for p in procs:
            assert p.wait(timeout=60) == 0
        seen = [json.loads(o.read_text()) for o in outs]
        leaders = [w["holder"] for w in seen if w["led"]]
        assert len(leaders) == 1, seen
        with sf() as s:
            done = [s.get(Job, i) for i in ids]
            assert [j.state for j in done] == ["succeeded"] * 4, [(j.state, j.error) for j in done]
            assert {j.holder for j in done} == set(leaders)
    finally:
        engine.dispose()
