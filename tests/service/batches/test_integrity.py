"""Raw files and rows stay consistent on SQLite and PostgreSQL: files are fsynced before the
commit, a missing or corrupt file is a clear 410/409 on every read path (never wrong data),
orphans are quarantined after a grace period, ``check_rows`` reports what is broken, and a
failure after the commit never turns a stored batch into an error."""

from __future__ import annotations

import os
import time
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy.exc import OperationalError

from service.batches.integrity import QUARANTINE, check_rows, sweep_orphans
from service.batches.tables import Batch
from tests.service.bodies import ARROW, arrow_body, meta, signal

URL = "/api/v1/turbines/WT-001/batches"


def post(client, minute: int = 0, key: str | None = None):
    body = arrow_body(signal(seed=minute), meta(f"2026-11-01T10:{minute:02d}:00Z"))
    headers = {"Content-Type": ARROW, **({"Idempotency-Key": key} if key else {})}
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_raw_file_and_its_directory_are_fsynced_before_the_rows(app, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store = app.state.store
    uri, _, _ = store.write("WT-9", datetime(2026, 11, 1),
                            signal(n=4096), ["a", "b", "c"], {})
    path = store.path(uri)
    assert synced[-2] == str(path.with_suffix(".tmp"))  # the data, under its temporary name
    assert synced[-1] == str(path.parent)  # then the rename, via its directory
    assert str(path.parent.parent) in synced  # and each directory it had to create
    assert path.exists() and not path.with_suffix(".tmp").exists()


READS = ["/api/v1/batches/{b}", "/api/v1/batches/{b}/raw", "/api/v1/batches/{b}/spectrogram",
         "/ui/batches/{b}/spectra.json", "/api/v1/predictions/{p}/saliency"]


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated"])
def test_a_damaged_raw_file_is_never_served(client, raw_dir, damage):
    out = post(client)
    path = raw_dir.parent / out["raw"]["uri"]
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":  # same length, one sample changed: still valid Parquet
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(path.read_bytes()[:100])
    status = 410 if damage == "missing" else 409
    for url in READS:
        r = client.get(url.format(b=out["batch_id"], p=out["prediction"]["id"]))
        assert r.status_code == status, (url, r.status_code, r.text[:200])
        assert out["raw"]["uri"] in r.json()["detail"] and "windwatch check" in r.json()["detail"]


def test_check_rows_reports_missing_and_corrupt_files(client, session, app, raw_dir):
    a, b, c = (post(client, m) for m in (0, 1, 2))
    (raw_dir.parent / a["raw"]["uri"]).unlink()
    (raw_dir.parent / b["raw"]["uri"]).write_bytes(b"not parquet")
    seen: list[int] = []
    report = check_rows(session=session, store=app.state.store, progress=seen.append)
    assert report.checked == sum(seen) >= 3 and not report.ok
    assert (a["batch_id"], a["raw"]["uri"]) in report.missing
    assert (b["batch_id"], b["raw"]["uri"]) in report.corrupt
    broken = {i for i, _ in report.missing + report.corrupt}
    assert c["batch_id"] not in broken


def test_sweep_quarantines_old_orphans_and_spares_young_ones_and_stored_files(
        client, session, app, raw_dir):
    out = post(client)
    stored = raw_dir.parent / out["raw"]["uri"]
    old_orphan = stored.with_name("0" * 32 + ".parquet")
    young_orphan = stored.with_name("1" * 32 + ".parquet")
    stale_tmp = stored.with_name("2" * 32 + ".tmp")
    unknown_turbine = raw_dir / "WT-GONE" / "2026/11/01" / ("3" * 32 + ".parquet")
    unknown_turbine.parent.mkdir(parents=True)
    for p in (old_orphan, young_orphan, stale_tmp, unknown_turbine):
        p.write_bytes(b"x")
    hour_ago = time.time() - 3600
    for p in (old_orphan, stale_tmp, unknown_turbine, stored):
        os.utime(p, (hour_ago, hour_ago))

    report = sweep_orphans(session=session, store=app.state.store, grace_s=600)
    rel = {p.relative_to(raw_dir.parent).as_posix()
           for p in (old_orphan, stale_tmp, unknown_turbine)}
    assert set(report.quarantined) == rel and report.too_young == 1
    assert stored.exists() and young_orphan.exists()
    for uri in rel:
        assert not (raw_dir.parent / uri).exists()
        assert (raw_dir.parent / QUARANTINE / uri).read_bytes() == b"x"  # moved, not deleted
    assert client.get(f"/api/v1/batches/{out['batch_id']}").status_code == 200


def test_nothing_after_the_commit_turns_a_stored_batch_into_an_error(app, client, counts):
    """The ingest session's database dies right after the commit that stores the batch (every
    later call raises, as on a dropped connection): the client gets 201, the retry replays it."""
    factory = app.state.session_factory

    def dying_session():
        s = factory()
        real_commit = s.commit

        def commit() -> None:
            stores_a_batch = any(isinstance(o, Batch) for o in [*s.new, *s.identity_map.values()])
            real_commit()
            if not stores_a_batch:  # e.g. the API key's last_used_at: let it live
                return

            def dead(*_a, **_k):
                raise OperationalError("SELECT", {}, Exception("server closed the connection"))

            for name in ("execute", "scalar", "scalars", "get", "close", "rollback", "flush"):
                setattr(s, name, dead)

        s.commit = commit
        return s

    app.state.session_factory = dying_session
    body = arrow_body(signal(), meta())
    headers = {"Content-Type": ARROW, "Idempotency-Key": "after-commit-1"}
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 201, r.text
    app.state.session_factory = factory
    again = client.post(URL, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["batch_id"] == r.json()["batch_id"]
    c = counts()
    assert (c["batches"], c["raw_files"]) == (1, 1)


def test_database_errors_are_503_with_retry_after(app, client):
    def down():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    app.state.session_factory = down
    for url in ("/api/v1/turbines", "/healthz", "/api/v1/batches/1"):
        r = client.get(url)
        assert r.status_code == 503, (url, r.text)
        assert int(r.headers["Retry-After"]) >= 1 and "database" in r.json()["detail"]
    r = client.post(URL, content=arrow_body(signal(), meta()), headers={"Content-Type": ARROW})
    assert r.status_code == 503 and r.headers["Retry-After"]


def test_read_back_matches_what_was_posted(client):
    out = post(client)
    r = client.get(f"/api/v1/batches/{out['batch_id']}")
    assert r.status_code == 200 and np.isfinite(r.json()["spectrum"]["amplitude"]["ch0"]).all()
