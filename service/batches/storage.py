"""Raw sample files: Parquet (zstd, byte-stream-split floats) under ``<data_root>/raw``.

Files are written to a temporary name and renamed into place, so a reader never sees a partial
file; the caller deletes the file again if its database transaction fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def encode_parquet(samples: np.ndarray, channel_names: list[str], metadata: dict[str, str]) -> bytes:
    """(C, N) float32 -> Parquet bytes. Dictionary encoding off and BYTE_STREAM_SPLIT + zstd:
    smaller and faster than the defaults for float samples."""
    table = pa.table(
        {name: pa.array(samples[i], type=pa.float32()) for i, name in enumerate(channel_names)},
        metadata={k: str(v) for k, v in metadata.items()},
    )
    sink = pa.BufferOutputStream()
    pq.write_table(
        table, sink, compression="zstd", compression_level=1, use_dictionary=False,
        column_encoding={name: "BYTE_STREAM_SPLIT" for name in channel_names},
        write_statistics=False,
    )
    return sink.getvalue().to_pybytes()


def read_parquet(path: Path) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Parquet file -> ((C, N) float32, channel names, metadata)."""
    table = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    x = np.stack([table.column(i).to_numpy() for i in range(table.num_columns)]).astype(
        np.float32, copy=False
    )
    return x, list(table.column_names), meta


class RawStore:
    """Writes and deletes raw snapshot files below ``root``; URIs are relative to ``root``'s parent."""

    def __init__(self, data_root: Path):
        self.data_root = Path(data_root)
        self.root = self.data_root / "raw"

    def write(
        self, turbine: str, recorded_at: datetime, samples: np.ndarray, channel_names: list[str],
        metadata: dict[str, str],
    ) -> tuple[str, str, int]:
        """Store one snapshot; returns (relative uri, sha256 of the file, size in bytes)."""
        data = encode_parquet(samples, channel_names, metadata)
        sha = hashlib.sha256(data).hexdigest()
        rel = Path("raw") / turbine / recorded_at.strftime("%Y/%m/%d") / f"{uuid.uuid4().hex}.parquet"
        path = self.data_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return rel.as_posix(), sha, len(data)

    def path(self, uri: str) -> Path:
        """The file of a stored raw URI."""
        return self.data_root / uri

    def delete(self, uri: str) -> None:
        """Remove a file whose transaction failed (never raises)."""
        with contextlib.suppress(OSError):
            (self.data_root / uri).unlink(missing_ok=True)
