"""What a turbine's data gateway does: encode snapshots and post them to Windwatch, safely.

Encoders produce the request bodies of ``POST /api/v1/turbines/{id}/batches`` (see
the README's "Ingest path"): Arrow IPC stream (default: the server maps it without parsing), Parquet
(zstd + byte-stream-split, no dictionary: smaller and faster than Parquet's defaults for raw
floats), ``.npy`` (metadata in query parameters) and JSON (orjson floats; slowest, for humans).

``GatewayClient`` retries connection errors and 5xx with exponential backoff, never 4xx (a
rejected body stays rejected). Every try of one snapshot carries the same ``Idempotency-Key``
(sha256 of turbine, sensor and recorded_at by default), so a retry after a lost response is
answered as a replay instead of storing the snapshot twice.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import httpx
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from simulation.drivetrain import TurbineSpec, fleet_snapshots

log = logging.getLogger(__name__)

Format = Literal["arrow", "parquet", "npy", "json"]
CONTENT_TYPES: dict[str, str] = {
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
    "npy": "application/x-npy",
    "json": "application/json",
}
META_KEYS = ("sensor", "sample_rate_hz", "recorded_at", "rpm", "unit")


def iso_utc(recorded_at: datetime | str) -> str:
    """``recorded_at`` as ISO-8601 in UTC with a ``Z``; naive times are refused (ValueError)."""
    at = datetime.fromisoformat(recorded_at) if isinstance(recorded_at, str) else recorded_at
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"recorded_at must carry a time zone, got {recorded_at!r}")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meta_strings(metadata: Mapping[str, object]) -> dict[str, str]:
    """Known metadata keys as strings (Arrow/Parquet schema metadata, query parameters)."""
    out = {}
    for k in META_KEYS:
        v = metadata.get(k)
        if v is None:
            continue
        out[k] = iso_utc(cast(datetime | str, v)) if k == "recorded_at" else str(v)
    return out


Names = Sequence[str]
Meta = Mapping[str, object]


def _checked(x: np.ndarray, channel_names: Names) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(channel_names) != x.shape[0]:
        raise ValueError(f"need x (C, N) and C channel names, got {x.shape} and "
                         f"{len(channel_names)} names")
    return x


def _table(x: np.ndarray, channel_names: Names, metadata: Meta) -> pa.Table:
    x = _checked(x, channel_names)
    # pa.array on a contiguous float32 row is zero-copy.
    cols = [pa.array(np.ascontiguousarray(row)) for row in x]
    return pa.Table.from_arrays(cols, names=list(channel_names), metadata=_meta_strings(metadata))


def encode_arrow(x: np.ndarray, channel_names: Names, metadata: Meta) -> bytes:
    """Arrow IPC stream: one float32 column per channel, metadata in the schema metadata."""
    table = _table(x, channel_names, metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def encode_parquet(x: np.ndarray, channel_names: Names, metadata: Meta) -> bytes:
    """Parquet, zstd, no dictionary, BYTE_STREAM_SPLIT float columns; metadata in the schema."""
    table = _table(x, channel_names, metadata)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=False,
                   column_encoding={name: "BYTE_STREAM_SPLIT" for name in table.column_names})
    return buf.getvalue()


def encode_npy(x: np.ndarray) -> bytes:
    """``.npy`` of the (C, N) float32 array (metadata travels as query parameters)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(x, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def encode_json(x: np.ndarray, channel_names: Names, metadata: Meta) -> bytes:
    """``{"sensor", "sample_rate_hz", "recorded_at", "rpm", "unit", "channels": {name: [..]}}``."""
    x = _checked(x, channel_names)
    doc: dict[str, object] = dict(_meta_strings(metadata))
    for k in ("sample_rate_hz", "rpm"):
        if k in doc:
            doc[k] = float(cast(str, doc[k]))
    # orjson writes float32 rows natively with the shortest repr that round-trips.
    doc["channels"] = {name: np.ascontiguousarray(row)
                       for name, row in zip(channel_names, x, strict=True)}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(frozen=True)
class PreparedPost:
    """One snapshot's request: what every try (and every restart, via the spool) resends."""

    turbine_id: str
    body: bytes
    content_type: str
    idempotency_key: str
    params: dict[str, str] = field(default_factory=dict)


def default_idempotency_key(turbine_id: str, sensor: str, recorded_at: datetime | str) -> str:
    """Deterministic key of one snapshot: the same on every retry and every gateway restart."""
    return hashlib.sha256(f"{turbine_id}\n{sensor}\n{iso_utc(recorded_at)}".encode()).hexdigest()


class GatewayClient:
    """Posts batches to a Windwatch server; use as a context manager or call ``close()``."""

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 4,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None,
                 api_key: str | None = None) -> None:
        self.retries, self.backoff_s, self.max_backoff_s = retries, backoff_s, max_backoff_s
        # An ingest-scoped API key (windwatch keys create gw --scope ingest), sent as Bearer.
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  transport=transport, headers=headers)

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _delay_s(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.backoff_s * 2**attempt
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            delay = max(delay, float(retry_after))  # the server knows when it will be back
        return min(delay, self.max_backoff_s)

    def encode(
        self, turbine_id: str, x: np.ndarray, fs_hz: float, recorded_at: datetime | str,
        sensor: str, rpm: float | None = None, unit: str = "g", fmt: Format = "arrow",
        idempotency_key: str | None = None, channel_names: Sequence[str] | None = None,
    ) -> PreparedPost:
        """The request that posts one snapshot (x (C, N), in ``unit``), ready to send or spool."""
        if fmt not in CONTENT_TYPES:
            raise ValueError(f"unknown format {fmt!r}; expected one of {list(CONTENT_TYPES)}")
        names = list(channel_names or [f"ch{i}" for i in range(np.shape(x)[0])])
        meta = {"sensor": sensor, "sample_rate_hz": float(fs_hz), "recorded_at": recorded_at,
                "rpm": rpm, "unit": unit}
        params: dict[str, str] = {}
        if fmt == "npy":
            body = encode_npy(x)
            params = {**_meta_strings(meta), "channels": ",".join(names)}
        else:
            body = {"arrow": encode_arrow, "parquet": encode_parquet, "json": encode_json}[fmt](
                x, names, meta)
        key = idempotency_key or default_idempotency_key(turbine_id, sensor, recorded_at)
        return PreparedPost(turbine_id, body, CONTENT_TYPES[fmt], key, params)

    def send_once(self, post: PreparedPost) -> httpx.Response:
        """One try of a prepared post (raises ``httpx.TransportError`` on connection errors)."""
        return self._http.post(f"/api/v1/turbines/{post.turbine_id}/batches", content=post.body,
                               params=post.params,
                               headers={"Content-Type": post.content_type,
                                        "Idempotency-Key": post.idempotency_key})

    def delay_s(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Backoff before try ``attempt + 1``: exponential, at least ``Retry-After``."""
        return self._delay_s(attempt, response)

    def post_batch(
        self, turbine_id: str, x: np.ndarray, fs_hz: float, recorded_at: datetime | str,
        sensor: str, rpm: float | None = None, unit: str = "g", fmt: Format = "arrow",
        idempotency_key: str | None = None, channel_names: Sequence[str] | None = None,
    ) -> httpx.Response:
        """Post one snapshot (x (C, N), in ``unit``); returns the final response.

        Retries (same body, same Idempotency-Key) on connection errors and 5xx; a 4xx returns
        at once. After the last try a 5xx response is returned and a connection error raised.
        """
        post = self.encode(turbine_id, x, fs_hz, recorded_at, sensor, rpm, unit, fmt,
                           idempotency_key, channel_names)
        url = f"/api/v1/turbines/{turbine_id}/batches"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.send_once(post)
            except httpx.TransportError as exc:  # refused, reset, timed out: safe to resend
                if last:
                    raise
                log.warning("post %s try %d failed: %r; retrying", url, attempt + 1, exc)
                time.sleep(self._delay_s(attempt, None))
                continue
            if response.status_code < 500 or last:
                return response
            log.warning("post %s try %d got %d; retrying", url, attempt + 1, response.status_code)
            time.sleep(self._delay_s(attempt, response))
        raise AssertionError("unreachable")


def run_gateway(
    base_url: str, fleet: Sequence[TurbineSpec], n_snapshots: int = 6,
    start: datetime | None = None, fmt: Format = "arrow", *, interval_s: float = 600.0,
    fs_hz: float = 25_600.0, duration_s: float = 10.0, n_channels: int = 3,
    timeout: float = 30.0, pace_s: float = 0.0, stop: threading.Event | None = None,
    client: GatewayClient | None = None,
) -> int:
    """Simulate ``n_snapshots`` per turbine (every ``interval_s`` from ``start``) and post them.

    start: default so that the last snapshot is at the latest whole 10 minutes (never in the
    future). pace_s: wall-clock wait between ticks (a live demo feed); ``stop`` ends it early.
    Returns how many snapshots the server accepted (201, or 200 for a replay); rejections are
    logged and skipped. A connection error that outlives the client's retries ends the run:
    the server is unreachable, and every further post would wait out the same backoff.
    """
    if start is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        last = now - timedelta(minutes=now.minute % 10)
        start = last - timedelta(seconds=interval_s * (n_snapshots - 1))
    own = client is None
    client = client or GatewayClient(base_url, timeout=timeout)
    stop = stop or threading.Event()  # wait() doubles as an interruptible sleep
    accepted, tick = 0, None
    try:
        for snap in fleet_snapshots(fleet, n_snapshots, start, interval_s, fs_hz, duration_s,
                                    n_channels):
            new_tick = tick is not None and snap.recorded_at != tick
            if stop.is_set() or (pace_s and new_tick and stop.wait(pace_s)):
                break
            tick = snap.recorded_at
            try:
                r = client.post_batch(snap.turbine_id, snap.x, snap.fs_hz, snap.recorded_at,
                                      snap.sensor, rpm=snap.rpm, fmt=fmt,
                                      channel_names=snap.channel_names)
            except httpx.TransportError as exc:
                log.error("%s %s: server unreachable at %s, stopping: %r", snap.turbine_id,
                          iso_utc(snap.recorded_at), base_url, exc)
                break
            if r.status_code in (200, 201):
                accepted += 1
            else:
                log.error("%s %s: HTTP %d %s", snap.turbine_id, iso_utc(snap.recorded_at),
                          r.status_code, r.text[:300])
    finally:
        if own:
            client.close()
    return accepted
