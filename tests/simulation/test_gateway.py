"""Gateway encoders round-trip exactly; the client retries only what is safe to retry, with the
same Idempotency-Key, against a real (tiny) HTTP server."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulation import gateway
from simulation.drivetrain import DrivetrainConfig, demo_fleet, simulate_snapshot
from simulation.gateway import (
    GatewayClient,
    default_idempotency_key,
    encode_arrow,
    encode_json,
    encode_npy,
    encode_parquet,
    run_gateway,
)

NAMES = ["x", "y", "z"]
META = {"sensor": "gearbox_hss", "sample_rate_hz": 25_600.0,
        "recorded_at": "2026-11-27T11:00:00+01:00", "rpm": 1503.25, "unit": "g"}
META_STR = {"sensor": "gearbox_hss", "sample_rate_hz": "25600.0",
            "recorded_at": "2026-11-27T10:00:00Z", "rpm": "1503.25", "unit": "g"}


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return simulate_snapshot(DrivetrainConfig(), "outer_race", 0.5, duration_s=1.0, seed=0)[0]


def test_arrow_round_trip(x):
    table = pa.ipc.open_stream(pa.py_buffer(encode_arrow(x, NAMES, META))).read_all()
    assert table.column_names == NAMES and all(t == pa.float32() for t in table.schema.types)
    assert np.array_equal(np.stack([c.to_numpy() for c in table.columns]), x)
    assert {k.decode(): v.decode() for k, v in table.schema.metadata.items()} == META_STR


def test_parquet_round_trip_with_byte_stream_split_and_no_dictionary(x):
    body = encode_parquet(x, NAMES, META)
    table = pq.read_table(pa.BufferReader(body))
    assert np.array_equal(np.stack([c.to_numpy() for c in table.columns]), x)
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert {k: meta[k] for k in META_STR} == META_STR
    row_group = pq.ParquetFile(pa.BufferReader(body)).metadata.row_group(0)
    for i in range(row_group.num_columns):
        col = row_group.column(i)
        assert col.physical_type == "FLOAT" and col.compression == "ZSTD"
        assert "BYTE_STREAM_SPLIT" in col.encodings
        assert not col.has_dictionary_page
        assert not {"PLAIN_DICTIONARY", "RLE_DICTIONARY"} & set(col.encodings)


def test_npy_and_json_round_trip(x):
    arr = np.load(io.BytesIO(encode_npy(x)), allow_pickle=False)
    assert arr.dtype == np.float32 and np.array_equal(arr, x)
    doc = orjson.loads(encode_json(x, NAMES, META))
    channels = doc.pop("channels")
    assert doc == {**META_STR, "sample_rate_hz": 25_600.0, "rpm": 1503.25}
    assert np.array_equal(np.stack([np.asarray(channels[n], dtype=np.float32) for n in NAMES]), x)


def test_encoders_refuse_mismatched_names_and_naive_times(x):
    with pytest.raises(ValueError, match="channel names"):
        encode_arrow(x, ["x"], META)
    with pytest.raises(ValueError, match="time zone"):
        encode_json(x, NAMES, {**META, "recorded_at": "2026-11-27T10:00:00"})


@pytest.mark.parametrize("fmt", ["arrow", "parquet", "npy", "json"])
def test_bodies_decode_on_the_server_side(x, fmt):
    decode = pytest.importorskip("service.batches.decode")
    body = {"arrow": lambda: encode_arrow(x, NAMES, META), "npy": lambda: encode_npy(x),
            "parquet": lambda: encode_parquet(x, NAMES, META),
            "json": lambda: encode_json(x, NAMES, META)}[fmt]()
    query = {**META_STR, "channels": "x,y,z"} if fmt == "npy" else {}
    batch = decode.decode_batch(body, gateway.CONTENT_TYPES[fmt], query,
                                now=datetime(2026, 12, 1, tzinfo=UTC))
    assert batch.channel_names == NAMES and np.array_equal(batch.samples, x)
    assert batch.meta.recorded_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert batch.meta.rpm == 1503.25 and batch.meta.sensor == "gearbox_hss"


def test_default_idempotency_key_is_stable_across_zones():
    key = default_idempotency_key("WT-001", "gearbox_hss", "2026-11-27T10:00:00Z")
    same = default_idempotency_key(
        "WT-001", "gearbox_hss", datetime(2026, 11, 27, 11, tzinfo=timezone(timedelta(hours=1))))
    assert key == same == hashlib.sha256(b"WT-001\ngearbox_hss\n2026-11-27T10:00:00Z").hexdigest()
    assert default_idempotency_key("WT-002", "gearbox_hss", "2026-11-27T10:00:00Z") != key


class Recorder:
    """Requests seen by the test server and the statuses it answers with, in order."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.lock = threading.Lock()


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = urlsplit(self.path)
            with rec.lock:
                rec.requests.append({"path": url.path, "query": dict(parse_qsl(url.query)),
                                     "headers": dict(self.headers), "body": body})
                status = rec.script.pop(0) if rec.script else 201
            payload = orjson.dumps({"detail": "scripted"} if status >= 400 else {"id": 1})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 503:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", rec
    httpd.shutdown()
    httpd.server_close()


def test_retries_503_with_the_same_key_and_body(server, x):
    url, rec = server
    rec.script = [503]
    with GatewayClient(url, timeout=5, backoff_s=0.01) as client:
        r = client.post_batch("WT-007", x, 25_600.0, "2026-11-27T10:00:00Z", "gearbox_hss",
                              rpm=1500.0)
    assert r.status_code == 201
    assert len(rec.requests) == 2
    first, second = rec.requests
    assert first["path"] == "/api/v1/turbines/WT-007/batches"
    assert first["headers"]["Content-Type"] == "application/vnd.apache.arrow.stream"
    key = default_idempotency_key("WT-007", "gearbox_hss", "2026-11-27T10:00:00Z")
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == key
    assert first["body"] == second["body"]


def test_no_retry_on_4xx(server, x):
    url, rec = server
    rec.script = [422]
    with GatewayClient(url, timeout=5, backoff_s=0.01) as client:
        r = client.post_batch("WT-007", x, 25_600.0, "2026-11-27T10:00:00Z", "gearbox_hss",
                              idempotency_key="mine")
    assert r.status_code == 422 and len(rec.requests) == 1
    assert rec.requests[0]["headers"]["Idempotency-Key"] == "mine"


def test_gives_back_the_last_5xx_after_all_retries(server, x):
    url, rec = server
    rec.script = [500, 502, 500]
    with GatewayClient(url, timeout=5, retries=2, backoff_s=0.001) as client:
        r = client.post_batch("WT-007", x, 25_600.0, "2026-11-27T10:00:00Z", "gearbox_hss")
    assert r.status_code == 500 and len(rec.requests) == 3


def test_npy_metadata_travels_in_query_parameters(server, x):
    url, rec = server
    with GatewayClient(url, timeout=5) as client:
        r = client.post_batch("WT-007", x, 25_600.0, "2026-11-27T10:00:00Z", "gearbox_hss",
                              rpm=1503.25, fmt="npy", channel_names=NAMES)
    assert r.status_code == 201
    req = rec.requests[0]
    assert req["headers"]["Content-Type"] == "application/x-npy"
    assert req["query"] == {**META_STR, "channels": "x,y,z"}
    assert np.array_equal(np.load(io.BytesIO(req["body"])), x)


def test_connection_errors_are_retried_then_raised(monkeypatch, x):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    monkeypatch.setattr(gateway.time, "sleep", sleeps.append)
    with GatewayClient(f"http://127.0.0.1:{port}", timeout=2, retries=2, backoff_s=0.5) as client, \
            pytest.raises(httpx.ConnectError):
        client.post_batch("WT-007", x, 25_600.0, "2026-11-27T10:00:00Z", "gearbox_hss")
    assert sleeps == [0.5, 1.0]  # exponential backoff between the three tries


def test_run_gateway_posts_every_snapshot_once(server):
    url, rec = server
    fleet = demo_fleet(2, seed=0)
    start = datetime(2026, 11, 27, 10, tzinfo=UTC)
    n = run_gateway(url, fleet, n_snapshots=2, start=start, fmt="parquet", fs_hz=12_800.0,
                    duration_s=0.5)
    assert n == 4 and len(rec.requests) == 4
    assert [r["path"].split("/")[4] for r in rec.requests] == ["WT-001", "WT-002"] * 2
    assert len({r["headers"]["Idempotency-Key"] for r in rec.requests}) == 4
    times = [pq.read_table(pa.BufferReader(r["body"])).schema.metadata[b"recorded_at"]
             for r in rec.requests]
    assert times == [b"2026-11-27T10:00:00Z"] * 2 + [b"2026-11-27T10:10:00Z"] * 2


def test_run_gateway_counts_only_accepted(server):
    url, rec = server
    rec.script = [422]
    n = run_gateway(url, demo_fleet(2, seed=0), n_snapshots=1, fs_hz=12_800.0, duration_s=0.5)
    assert n == 1 and len(rec.requests) == 2
    recorded = datetime.fromisoformat(pa.ipc.open_stream(rec.requests[0]["body"]).schema
                                      .metadata[b"recorded_at"].decode())
    assert recorded <= datetime.now(UTC) and recorded.minute % 10 == 0


def test_run_gateway_stops_when_asked(server):
    url, rec = server
    stop = threading.Event()
    stop.set()
    assert run_gateway(url, demo_fleet(2), n_snapshots=3, pace_s=5.0, stop=stop,
                       fs_hz=12_800.0, duration_s=0.5) == 0
    assert rec.requests == []


def test_run_gateway_stops_when_the_server_is_unreachable(monkeypatch):
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    monkeypatch.setattr(gateway.time, "sleep", lambda s: None)
    client = GatewayClient("http://gateway.test", retries=2, transport=httpx.MockTransport(refuse))
    with client:
        n = run_gateway("http://gateway.test", demo_fleet(3), n_snapshots=2, client=client,
                        fs_hz=12_800.0, duration_s=0.5)
    assert n == 0 and len(calls) == 3  # one snapshot's three tries, then the run ends
