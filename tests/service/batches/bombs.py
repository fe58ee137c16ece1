"""Decompression bombs: small bodies that decode to hundreds of megabytes, built in slices so
building one never holds the decoded size in memory."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

META = {"sensor": "gearbox_hss", "sample_rate_hz": "25600", "recorded_at": "2026-11-01T10:00:00Z"}
GIB = 1 << 30


def arrow_bomb(decoded_bytes: int = GIB, rows_per_batch: int = 1 << 22) -> bytes:
    """A zstd-compressed Arrow IPC stream of float32 zeros in 3 columns (~32 KB for 1 GiB)."""
    zeros = np.zeros(rows_per_batch, np.float32)
    table = pa.table({"x": zeros, "y": zeros, "z": zeros}, metadata=META)
    n_batches = -(-decoded_bytes // (3 * 4 * rows_per_batch))
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        for _ in range(n_batches):
            writer.write_table(table)
    return sink.getvalue().to_pybytes()


def parquet_bomb(decoded_bytes: int = GIB // 2, rows_per_group: int = 1 << 22) -> bytes:
    """A zstd Parquet file of float32 zeros in one column (~0.5 MB for 512 MiB)."""
    table = pa.table({"x": np.zeros(rows_per_group, np.float32)}, metadata=META)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        for _ in range(-(-decoded_bytes // (4 * rows_per_group))):
            writer.write_table(table)
    return sink.getvalue().to_pybytes()


def lying_arrow(n: int = 1000, claimed: int = 1 << 40) -> bytes:
    """A compressed Arrow stream of ``n`` float32 rows whose data buffer claims ``claimed``
    uncompressed bytes (a decoder trusting the prefix would allocate that much)."""
    table = pa.table({"x": np.zeros(n, np.float32)}, metadata=META)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema,
                           options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    body = sink.getvalue().to_pybytes()
    honest = (4 * n).to_bytes(8, "little", signed=True)
    assert body.count(honest) == 1
    return body.replace(honest, claimed.to_bytes(8, "little", signed=True))
