"""Upload bodies -> (metadata, channel names, (C, N) float32 samples), or a 4xx naming the problem.

Accepted content types (parameters such as ``; charset=utf-8`` are ignored):
``application/json``, ``application/vnd.apache.arrow.stream``, ``application/vnd.apache.parquet``,
``application/x-npy``. Binary formats are decoded without per-sample Python work: Arrow IPC maps
the body's buffers directly (one copy, into the (C, N) array).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from service.batches.schemas import BatchMeta
from service.errors import InvalidBatch, MalformedBody, UnsupportedMediaType

META_KEYS = ("sensor", "sample_rate_hz", "recorded_at", "rpm", "unit")
MAX_CHANNELS = 64
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass
class DecodedBatch:
    meta: BatchMeta
    channel_names: list[str]
    samples: np.ndarray  # (C, N) float32, C-contiguous


Raw = tuple[dict[str, object], list[str], list[np.ndarray]]


def _from_json(body: bytes, query: Mapping[str, str]) -> Raw:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidBatch("JSON body must be an object with metadata and 'channels'")
    channels = doc.pop("channels", None)
    if not isinstance(channels, dict):
        raise InvalidBatch("'channels' must be an object mapping channel names to arrays of numbers")
    arrays = []
    for name, values in channels.items():
        try:
            arr = np.asarray(values, dtype=np.float32) if isinstance(values, list) else None
        except (ValueError, TypeError, OverflowError):
            arr = None
        if arr is None or arr.ndim != 1 or (len(values) and isinstance(values[0], bool)):
            raise InvalidBatch(f"channel {name!r} must be a flat array of numbers")
        arrays.append(arr)
    return doc, list(channels), arrays


def _table_metadata(table: pa.Table) -> dict[str, object]:
    return {k.decode(errors="replace"): v.decode(errors="replace")
            for k, v in (table.schema.metadata or {}).items()}


def _table_columns(table: pa.Table, fmt: str) -> tuple[list[str], list[np.ndarray]]:
    arrays = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise InvalidBatch(f"{fmt} column {name!r} has type {col.type}; channels must be numeric")
        if col.null_count:
            raise InvalidBatch(f"{fmt} column {name!r} contains {col.null_count} nulls")
        arrays.append(col.combine_chunks().to_numpy(zero_copy_only=False))
    return list(table.column_names), arrays


def _from_arrow(body: bytes, query: Mapping[str, str]) -> Raw:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise MalformedBody(f"malformed Arrow IPC stream: {exc}") from exc
    return (_table_metadata(table), *_table_columns(table, "Arrow"))


def _from_parquet(body: bytes, query: Mapping[str, str]) -> Raw:
    try:
        table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise MalformedBody(f"malformed Parquet file: {exc}") from exc
    meta = {k: v for k, v in _table_metadata(table).items() if k in META_KEYS}
    return (meta, *_table_columns(table, "Parquet"))


def _from_npy(body: bytes, query: Mapping[str, str]) -> Raw:
    try:
        arr = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise MalformedBody(f"malformed npy array: {exc}") from exc
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise InvalidBatch(f"npy array must be numeric, got dtype {getattr(arr, 'dtype', '?')}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidBatch(f"npy array must have shape (channels, samples), got {arr.shape}")
    names = [n.strip() for n in query["channels"].split(",")] if query.get("channels") else [
        f"ch{i}" for i in range(arr.shape[0])]
    if len(names) != arr.shape[0]:
        raise InvalidBatch(f"{len(names)} channel names given for {arr.shape[0]} channels")
    return {}, names, list(arr)


DECODERS: dict[str, Callable[[bytes, Mapping[str, str]], Raw]] = {
    "application/json": _from_json,
    "application/vnd.apache.arrow.stream": _from_arrow,
    "application/vnd.apache.parquet": _from_parquet,
    "application/x-npy": _from_npy,
}


def _meta(raw: dict[str, object], query: Mapping[str, str]) -> BatchMeta:
    merged = {k: v for k, v in raw.items() if k in META_KEYS and v not in ("", None)}
    merged.update({k: query[k] for k in META_KEYS if query.get(k)})
    unknown = sorted(set(raw) - set(META_KEYS)) if isinstance(raw, dict) else []
    try:
        return BatchMeta(**merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "metadata"
        if field == "recorded_at":
            raise InvalidBatch(
                f"recorded_at must be an ISO-8601 time with a time zone, e.g. "
                f"2026-11-27T10:00:00Z (got {merged.get('recorded_at')!r}: {err['msg']})"
            ) from exc
        hint = f" (unknown keys: {', '.join(unknown)})" if unknown else ""
        raise InvalidBatch(f"invalid metadata {field}: {err['msg']}{hint}") from exc


def _check(names: list[str], arrays: list[np.ndarray]) -> np.ndarray:
    if not arrays:
        raise InvalidBatch("the batch has no channels")
    if len(arrays) > MAX_CHANNELS:
        raise InvalidBatch(f"{len(arrays)} channels; at most {MAX_CHANNELS} are accepted")
    if len(set(names)) != len(names):
        raise InvalidBatch(f"duplicate channel names: {names}")
    lengths = [len(a) for a in arrays]
    for name, n in zip(names, lengths, strict=True):
        if n == 0:
            raise InvalidBatch(f"channel {name!r} is empty")
    if len(set(lengths)) > 1:
        raise InvalidBatch(f"channels have unequal lengths: {dict(zip(names, lengths, strict=True))}")
    x = np.empty((len(arrays), lengths[0]), dtype=np.float32)
    for i, a in enumerate(arrays):
        x[i] = a
    finite = np.isfinite(x)
    if not finite.all():
        c = int((~finite).any(axis=1).argmax())
        i = int((~finite[c]).argmax())
        raise InvalidBatch(f"channel {names[c]!r} has a non-finite value (NaN or Inf) at index {i}"
                           " (or a value too large for float32)")
    return x


def decode_batch(
    body: bytes, content_type: str | None, query: Mapping[str, str], *,
    max_sample_rate_hz: float = 1e6, max_future_skew_s: float = 300.0, now: datetime | None = None,
) -> DecodedBatch:
    """Decode and validate an upload; raises 415 / 422 ``WindwatchError`` naming the problem."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    decoder = DECODERS.get(ctype)
    if decoder is None:
        raise UnsupportedMediaType(
            f"unsupported content type {ctype or '(none)'!r}; use one of: {', '.join(DECODERS)}"
        )
    if not body:
        raise MalformedBody(f"empty body for {ctype}")
    raw, names, arrays = decoder(body, query)
    meta = _meta(raw, query)
    if not 0 < meta.sample_rate_hz <= max_sample_rate_hz:
        raise InvalidBatch(
            f"sample_rate_hz must be > 0 and <= {max_sample_rate_hz:g}, got {meta.sample_rate_hz:g}"
        )
    now = now or datetime.now(UTC)
    if meta.recorded_at > now + timedelta(seconds=max_future_skew_s):
        raise InvalidBatch(f"recorded_at {meta.recorded_at.isoformat()} is in the future")
    if meta.recorded_at < EARLIEST:
        raise InvalidBatch(f"recorded_at {meta.recorded_at.isoformat()} is before 1990")
    return DecodedBatch(meta=meta, channel_names=[str(n) for n in names], samples=_check(names, arrays))
