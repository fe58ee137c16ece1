"""Decoded-size limits checked before anything is decompressed or allocated.

A body within the byte limit can still decode to gigabytes (zstd-compressed zeros in an Arrow
IPC stream, a Parquet file of run-length-encoded constants, an npy header). These checks read
only metadata: the Arrow stream's message headers (row counts, and for compressed bodies the
uncompressed length that prefixes every buffer), the Parquet footer (row counts, column-chunk
uncompressed sizes), and refuse with ``DecodedTooLarge`` (413) naming the limit.
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pyarrow.parquet as pq

from service.errors import DecodedTooLarge, InvalidBatch, MalformedBody

SETTING = "WINDWATCH_MAX_DECODED_SAMPLES"
MAX_BYTES_PER_SAMPLE = 8  # the widest accepted channel type (int64 / float64)
SLACK_BYTES = 1 << 20  # validity bitmaps, padding, small metadata


def too_large(what: str, limit: int) -> DecodedTooLarge:
    """The 413 for a batch that would decode beyond ``limit`` samples."""
    return DecodedTooLarge(f"{what}; the limit is {limit} samples (channels x samples per "
                           f"channel, {SETTING}); send shorter snapshots or fewer channels")


def check_count(n_channels: int, n_samples: int, limit: int, fmt: str) -> None:
    """413 when ``n_channels x n_samples`` exceeds ``limit``."""
    if n_channels * n_samples > limit:
        raise too_large(f"the {fmt} batch declares {n_channels} x {n_samples} = "
                        f"{n_channels * n_samples} samples", limit)


class _Table:
    """A flatbuffer table: just enough to read Arrow's Message and RecordBatch headers."""

    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_size = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, i: int) -> int:
        at = 4 + 2 * i
        return struct.unpack_from("<H", self.buf, self.vtable + at)[0] if at < self.vtable_size else 0

    def scalar(self, i: int, fmt: str) -> int:
        f = self._field(i)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + f)[0] if f else 0

    def table(self, i: int) -> _Table | None:
        f = self._field(i)
        if not f:
            return None
        at = self.pos + f
        return _Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0])

    def vector(self, i: int) -> tuple[int, int]:
        """(position of the first element, number of elements); (0, 0) if absent."""
        f = self._field(i)
        if not f:
            return 0, 0
        at = self.pos + f
        at += struct.unpack_from("<I", self.buf, at)[0]
        return at + 4, struct.unpack_from("<I", self.buf, at)[0]


def _batch_sizes(message: pa.ipc.Message) -> tuple[int, int]:
    """(rows, declared uncompressed body bytes) of one record-batch message."""
    meta = message.metadata.to_pybytes()
    header = _Table(meta, struct.unpack_from("<I", meta, 0)[0]).table(2)
    if header is None:
        raise MalformedBody("malformed Arrow IPC stream: a record batch without a header")
    rows = header.scalar(0, "q")
    if rows < 0:
        raise MalformedBody(f"malformed Arrow IPC stream: a record batch of {rows} rows")
    start, n_buffers = header.vector(2)
    body = message.body
    size = body.size if body is not None else 0
    if header.table(3) is None:  # uncompressed: the buffers are the body, already in memory
        return rows, size
    declared = 0
    for k in range(n_buffers):
        offset, length = struct.unpack_from("<qq", meta, start + 16 * k)
        if length == 0:
            continue
        if length < 8 or offset < 0 or offset + 8 > size:
            raise MalformedBody("malformed Arrow IPC stream: a compressed buffer outside the body")
        n = struct.unpack_from("<q", body[offset:offset + 8].to_pybytes())[0]
        declared += length - 8 if n == -1 else n  # -1: this buffer is stored uncompressed
    return rows, declared


def check_arrow_stream(body: bytes, limit: int) -> None:
    """Walk the stream's messages (zero-copy, nothing decompressed): rows x columns and the
    declared uncompressed bytes must fit ``limit``; dictionary batches are refused."""
    n_cols, rows, declared = 1, 0, 0
    max_bytes = limit * MAX_BYTES_PER_SAMPLE + SLACK_BYTES
    try:
        for message in pa.ipc.MessageReader.open_stream(pa.py_buffer(body)):
            if message.type == "schema":
                n_cols = max(len(pa.ipc.read_schema(message)), 1)
            elif message.type == "dictionary batch":
                raise InvalidBatch("dictionary-encoded Arrow columns are not accepted; channels "
                                   "must be integer or floating-point")
            elif message.type == "record batch":
                n_rows, n_bytes = _batch_sizes(message)
                rows, declared = rows + n_rows, declared + n_bytes
                check_count(n_cols, rows, limit, "Arrow")
                if declared > max_bytes:
                    raise too_large(f"the Arrow stream declares {declared} uncompressed bytes "
                                    f"(at most {max_bytes} for this limit)", limit)
    except (struct.error, IndexError) as exc:
        raise MalformedBody(f"malformed Arrow IPC stream: unreadable message header ({exc})") from exc
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        raise MalformedBody(f"malformed Arrow IPC stream: {exc}") from exc


def check_parquet(file: pq.ParquetFile, limit: int) -> int:
    """Footer only: the row count and the column chunks' uncompressed sizes must fit ``limit``.
    Returns the number of rows the footer declares."""
    md = file.metadata
    groups = [md.row_group(i) for i in range(md.num_row_groups)]
    rows = max(md.num_rows, sum(g.num_rows for g in groups))
    check_count(max(md.num_columns, 1), rows, limit, "Parquet")
    size = sum(g.column(j).total_uncompressed_size for g in groups for j in range(g.num_columns))
    max_bytes = limit * MAX_BYTES_PER_SAMPLE + SLACK_BYTES
    if size > max_bytes:
        raise too_large(f"the Parquet column chunks declare {size} uncompressed bytes "
                        f"(at most {max_bytes} for this limit)", limit)
    return rows
