"""Upload bodies -> (metadata, channel names, (C, N) float32 samples), or a 4xx naming the problem.

Accepted content types (parameters such as ``; charset=utf-8`` are ignored, case-insensitive):

- ``application/json``: ``{"sensor", "sample_rate_hz", "recorded_at", "rpm", "unit",
  "channels": {name: [numbers]}}``.
- ``application/vnd.apache.arrow.stream``: Arrow IPC *stream* (not the file format), one
  integer/float column per channel, metadata in the schema metadata.
- ``application/vnd.apache.parquet``: same convention as Arrow.
- ``application/x-npy``: ``numpy.save`` output, shape (channels, samples) or (samples,);
  channel names ``ch0..`` or ``?channels=x,y,z``.

Metadata given as query parameters overrides the body's (for every format). No aliases
(``application/octet-stream``, ``application/vnd.apache.arrow.file``) are accepted: each body is
decoded by exactly the format its type names. The binary formats are decoded without per-sample
Python work and with a single copy (into the returned C-contiguous float32 array).
"""

from __future__ import annotations

import io
import math
import tokenize
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.lib import format as npy_format
from pydantic import ValidationError

from service.batches.bounds import check_arrow_stream, check_count, check_parquet
from service.batches.schemas import BatchMeta
from service.errors import InvalidBatch, MalformedBody, UnsupportedMediaType

META_KEYS = ("sensor", "sample_rate_hz", "recorded_at", "rpm", "unit")
MAX_CHANNELS = 64
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# Everything pyarrow raises on a bad body; MemoryError for absurd declared sizes.
ARROW_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, MemoryError)
# numpy parses the header with tokenize + literal_eval and lets their errors escape.
NPY_ERRORS = (ValueError, TypeError, SyntaxError, OverflowError, KeyError, EOFError,
              tokenize.TokenError)
JSON_TYPE_NAMES = {str: "strings", bool: "booleans", type(None): "nulls", list: "nested arrays",
                   dict: "objects"}


@dataclass
class DecodedBatch:
    """A validated upload: metadata, channel names and samples (C, N) float32, C-contiguous."""

    meta: BatchMeta
    channel_names: list[str]
    samples: np.ndarray


Parsed = tuple[dict[str, object], list[str], np.ndarray]
DEFAULT_MAX_SAMPLES = 8 * 1024 * 1024  # Settings.max_decoded_samples


def _check_names(names: list[str]) -> None:
    """Channel count and names, checked before any sample is converted."""
    if not names:
        raise InvalidBatch("the batch has no channels")
    if len(names) > MAX_CHANNELS:
        raise InvalidBatch(f"{len(names)} channels; at most {MAX_CHANNELS} are accepted")
    for name in names:
        if not (isinstance(name, str) and 0 < len(name) <= 64 and name.isprintable()):
            raise InvalidBatch(f"channel name {str(name)[:80]!r} must be 1-64 printable characters")
    dups = [n for n, k in Counter(names).items() if k > 1]
    if dups:
        raise InvalidBatch(f"duplicate channel names: {', '.join(map(repr, dups))}")


def _from_json(body: bytes, query: Mapping[str, str], limit: int) -> Parsed:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidBatch("the JSON body must be an object holding the metadata and 'channels'")
    channels = doc.pop("channels", None)
    if not isinstance(channels, dict):
        raise InvalidBatch("the JSON body needs 'channels': an object mapping each channel name "
                           "to an array of numbers")
    names = list(channels)
    _check_names(names)
    for name, values in channels.items():
        if not isinstance(values, list):
            raise InvalidBatch(f"channel {name!r} must be an array of numbers, "
                               f"not {JSON_TYPE_NAMES.get(type(values), 'a number')}")
        # Exact types: numpy would silently read "1.5" and true as numbers. C-level, ~7 ms/256k.
        bad = set(map(type, values)) - {float, int}
        if bad:
            found = ", ".join(sorted(JSON_TYPE_NAMES.get(t, t.__name__) for t in bad))
            raise InvalidBatch(f"channel {name!r} must hold only numbers; it holds {found}")
        if not values:
            raise InvalidBatch(f"channel {name!r} is empty")
    lengths = {name: len(values) for name, values in channels.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidBatch(f"channels have unequal lengths: {lengths}")
    check_count(len(names), lengths[names[0]], limit, "JSON")
    x = np.empty((len(names), lengths[names[0]]), dtype=np.float32)
    with np.errstate(over="ignore"):  # beyond float32 -> inf, reported by the finite check
        for i, values in enumerate(channels.values()):
            x[i] = np.fromiter(values, dtype=np.float32, count=len(values))
    return doc, names, x


def _table_meta(table: pa.Table) -> dict[str, object]:
    items = (table.schema.metadata or {}).items()
    meta = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in items}
    return {k: v for k, v in meta.items() if k in META_KEYS}  # drop e.g. pandas' own keys


def _table_samples(table: pa.Table, fmt: str) -> tuple[list[str], np.ndarray]:
    names = table.column_names
    _check_names(names)
    for name, col in zip(names, table.columns, strict=True):
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise InvalidBatch(f"{fmt} column {name!r} has type {col.type}; "
                               "channels must be integer or floating-point")
        if col.null_count:
            raise InvalidBatch(f"{fmt} column {name!r} holds {col.null_count} nulls")
    x = np.empty((len(names), table.num_rows), dtype=np.float32)
    with np.errstate(over="ignore"):
        for i, col in enumerate(table.columns):
            start = 0
            for chunk in col.chunks:  # no combine_chunks: it would copy once more
                x[i, start:start + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
                start += len(chunk)
    return names, x


def _from_arrow(body: bytes, query: Mapping[str, str], limit: int) -> Parsed:
    check_arrow_stream(body, limit)  # headers only, before any buffer is decompressed
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        table.validate(full=True)  # untrusted offsets/lengths; costs microseconds for numbers
    except ARROW_ERRORS as exc:
        raise MalformedBody(f"malformed Arrow IPC stream: {exc}") from exc
    return (_table_meta(table), *_table_samples(table, "Arrow"))


def _from_parquet(body: bytes, query: Mapping[str, str], limit: int) -> Parsed:
    try:
        file = pq.ParquetFile(pa.BufferReader(body))
        rows = check_parquet(file, limit)  # footer only, before any page is read
        table = file.read()
        table.validate(full=True)
        if table.num_rows > rows:
            raise ValueError(f"{table.num_rows} rows decoded, the footer declares {rows}")
    except ARROW_ERRORS as exc:
        raise MalformedBody(f"malformed Parquet file: {exc}") from exc
    return (_table_meta(table), *_table_samples(table, "Parquet"))


def _from_npy(body: bytes, query: Mapping[str, str], limit: int) -> Parsed:
    # Parse the header ourselves: np.load would follow a zip (.npz) prefix, and would allocate
    # whatever shape a 100-byte body claims before noticing the data is missing.
    if not body.startswith(npy_format.MAGIC_PREFIX):
        raise MalformedBody("malformed npy array: no \\x93NUMPY magic (send numpy.save output)")
    fp = io.BytesIO(body)
    try:
        version = npy_format.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported format version {version}")
        read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                       else npy_format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(fp)
    except NPY_ERRORS as exc:
        raise MalformedBody(f"malformed npy array: {exc}") from exc
    if dtype.kind not in "fiu" or dtype.fields is not None or dtype.subdtype is not None:
        raise InvalidBatch(f"npy array must hold integers or floats, not dtype {dtype}")
    if len(shape) not in (1, 2):
        raise InvalidBatch(f"npy array must have shape (channels, samples), got {shape}")
    check_count(1 if len(shape) == 1 else shape[0], shape[-1], limit, "npy")
    count, offset = math.prod(shape), fp.tell()
    n_bytes = count * dtype.itemsize
    if n_bytes != len(body) - offset:
        raise MalformedBody(f"malformed npy array: shape {shape} of {dtype} needs {n_bytes} "
                            f"data bytes, the body has {len(body) - offset}")
    arr = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    arr = arr.reshape(shape, order="F" if fortran_order else "C")
    arr = arr[None, :] if arr.ndim == 1 else arr
    given = query.get("channels")
    names = [n.strip() for n in given.split(",")] if given else [f"ch{i}" for i in range(len(arr))]
    if given and len(names) != len(arr):
        raise InvalidBatch(f"?channels names {len(names)} channels but the array has {len(arr)}")
    _check_names(names)
    with np.errstate(over="ignore"):
        x = np.array(arr, dtype=np.float32, order="C")  # the one copy (body bytes are read-only)
    return {}, names, x


DECODERS: dict[str, tuple[Callable[[bytes, Mapping[str, str], int], Parsed], str]] = {
    # content type -> (decoder, where its metadata may come from)
    "application/json": (_from_json, "in the JSON body or as a query parameter"),
    "application/vnd.apache.arrow.stream": (_from_arrow, "in the schema metadata or as a query "
                                            "parameter"),
    "application/vnd.apache.parquet": (_from_parquet, "in the schema metadata or as a query "
                                       "parameter"),
    "application/x-npy": (_from_npy, "as a query parameter"),
}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _meta(raw: dict[str, object], query: Mapping[str, str], where: str) -> BatchMeta:
    merged = {k: v for k, v in raw.items() if k in META_KEYS and v not in ("", None)}
    merged.update({k: query[k] for k in META_KEYS if query.get(k)})  # query parameters win
    try:
        return BatchMeta(**merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "metadata"
        if err["type"] == "missing":
            unknown = sorted(set(raw) - set(META_KEYS))[:10]
            hint = f" (unrecognised keys: {', '.join(map(_short, unknown))})" if unknown else ""
            raise InvalidBatch(f"missing metadata {field}: give it {where}{hint}") from exc
        got = _short(merged.get(field))
        if err["type"] == "timezone_aware":
            raise InvalidBatch(f"recorded_at must include a time zone, e.g. 2026-11-27T10:00:00Z "
                               f"or +01:00 (got {got})") from exc
        if field == "recorded_at":
            raise InvalidBatch(f"recorded_at must be an ISO-8601 time with a time zone, e.g. "
                               f"2026-11-27T10:00:00Z (got {got}: {err['msg']})") from exc
        raise InvalidBatch(f"invalid metadata {field}: {err['msg']} (got {got})") from exc


def _check_meta(meta: BatchMeta, max_sample_rate_hz: float, max_future_skew_s: float,
                now: datetime) -> None:
    if not 0 < meta.sample_rate_hz <= max_sample_rate_hz:
        raise InvalidBatch(f"sample_rate_hz must be > 0 and <= {max_sample_rate_hz:g}, "
                           f"got {meta.sample_rate_hz:g}")
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    if meta.recorded_at > now + timedelta(seconds=max_future_skew_s):
        raise InvalidBatch(f"recorded_at {meta.recorded_at.isoformat()} is in the future (server "
                           f"time {now.isoformat(timespec='seconds')}, allowed skew "
                           f"{max_future_skew_s:g} s); check the gateway clock")
    if meta.recorded_at < EARLIEST:
        raise InvalidBatch(f"recorded_at {meta.recorded_at.isoformat()} is before 1990; "
                           "check the gateway clock")


def _check_samples(names: list[str], x: np.ndarray) -> None:
    if x.shape[1] == 0:
        raise InvalidBatch(f"channel {names[0]!r} is empty (0 samples)")
    finite = np.isfinite(x)
    if not finite.all():
        c, i = divmod(int(finite.argmin()), x.shape[1])  # first False, row-major
        n_bad = x.size - int(np.count_nonzero(finite))
        raise InvalidBatch(f"channel {names[c]!r} has a non-finite value ({x[c, i]}) at index {i} "
                           f"({n_bad} in the batch; values beyond float32 range read as inf)")


def decode_batch(
    body: bytes, content_type: str | None, query: Mapping[str, str], *,
    max_sample_rate_hz: float = 1e6, max_future_skew_s: float = 300.0, now: datetime | None = None,
    max_decoded_samples: int = DEFAULT_MAX_SAMPLES,
) -> DecodedBatch:
    """Decode and validate one upload.

    ``query`` holds the request's query parameters (metadata overrides, ``channels`` for npy).
    Raises ``UnsupportedMediaType`` (415), ``MalformedBody`` (422, unparsable in the announced
    format), ``InvalidBatch`` (422, parsed but unacceptable) or ``DecodedTooLarge`` (413, more
    than ``max_decoded_samples`` samples, found from headers before decompression), each with a
    detail naming the problem. Model-specific checks (length, rate vs. the model's grid) are the
    ingest pipeline's.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in DECODERS:
        hint = ("; the Arrow file format is not accepted, send an IPC stream"
                if media_type == "application/vnd.apache.arrow.file" else "")
        raise UnsupportedMediaType(f"unsupported content type {media_type or '(none)'!r}{hint}; "
                                   f"use one of: {', '.join(DECODERS)}")
    decoder, where = DECODERS[media_type]
    if not body:
        raise MalformedBody(f"empty body for {media_type}")
    raw, names, x = decoder(body, query, max_decoded_samples)
    meta = _meta(raw, query, where)
    _check_meta(meta, max_sample_rate_hz, max_future_skew_s, now or datetime.now(UTC))
    _check_samples(names, x)
    return DecodedBatch(meta=meta, channel_names=list(names), samples=x)
