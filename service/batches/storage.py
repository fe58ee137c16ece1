"""Raw sample files: Parquet (zstd, byte-stream-split floats) under ``<data_root>/raw``.

Files are written to a temporary name, fsynced, renamed into place and their directory fsynced,
so a reader never sees a partial file and a file whose row committed survives a crash or power
loss; the caller deletes the file again if its database transaction fails (a crash between the
write and the commit leaves an orphan, which ``service.batches.integrity`` sweeps). Paths are
built from safe components only (a turbine name that is not a plain identifier is replaced by
its hash, the file name is random) and every path is checked to lie inside the raw folder.
Stored batches are read through ``RawStore.read``, which checks the file's sha256 first (410 if
missing, 409 if corrupt: never wrong data). Reads are bounded: at most ``READ_MAX_SAMPLES``
samples (channels x samples) are read back, whatever the file holds, so derived views never
allocate more than that.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from service.errors import RawDataCorrupt, RawDataMissing
from service.validation import ID_PATTERN

READ_MAX_SAMPLES = 8 * 1024 * 1024  # 32 MiB of float32; the default ingest limit
READ_BATCH_ROWS = 1 << 20
HASH_CHUNK = 1 << 20
TMP_SUFFIX = ".tmp"
SAFE_COMPONENT = re.compile(ID_PATTERN)


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


def read_parquet(path: Path, max_samples: int | None = None,
                 ) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Parquet file -> ((C, N) float32, channel names, metadata), N cut to the first
    ``max_samples // C`` samples (default ``READ_MAX_SAMPLES``): the file is read in slices of
    ``READ_BATCH_ROWS`` rows into one preallocated array, never decoded whole."""
    limit = READ_MAX_SAMPLES if max_samples is None else max_samples
    with pq.ParquetFile(path) as file:
        schema = file.schema_arrow
        meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
        names = list(schema.names)
        n = min(file.metadata.num_rows, max(limit // max(len(names), 1), 1))
        x = np.empty((len(names), n), dtype=np.float32)
        start = 0
        for batch in file.iter_batches(batch_size=READ_BATCH_ROWS):
            take = min(batch.num_rows, n - start)
            for i in range(len(names)):
                x[i, start:start + take] = batch.column(i).slice(0, take).to_numpy(
                    zero_copy_only=False)
            start += take
            if start >= n:
                break
    return x[:, :start], names, meta


def path_component(name: str) -> str:
    """``name`` if it is a plain identifier (never ``.``, ``..``, a slash or a control
    character), else a stable hash of it."""
    if SAFE_COMPONENT.fullmatch(name):
        return name
    return "h-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
        rel = (Path("raw") / path_component(turbine) / recorded_at.strftime("%Y/%m/%d")
               / f"{uuid.uuid4().hex}.parquet")
        path = self.path(rel.as_posix())
        _durable_mkdirs(path.parent)
        tmp = path.with_suffix(TMP_SUFFIX)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # the rename itself is durable only once the directory is
        return rel.as_posix(), sha, len(data)

    def path(self, uri: str) -> Path:
        """The file of a stored raw URI; ``ValueError`` if it would lie outside the raw folder."""
        path = self.data_root / uri
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root) or path.resolve() == root:
            raise ValueError(f"raw uri {uri!r} lies outside {root}")
        return path

    def verified_path(self, uri: str, sha256: str) -> Path:
        """The file of a stored batch after checking it exists and matches ``sha256``:
        ``RawDataMissing`` (410) or ``RawDataCorrupt`` (409) otherwise, never wrong data."""
        path = self.path(uri)
        try:
            actual = file_sha256(path)
        except FileNotFoundError as exc:
            raise RawDataMissing(f"the raw file of this batch ({uri}) is missing; run "
                                 "`windwatch check`") from exc
        except OSError as exc:
            raise RawDataMissing(f"the raw file of this batch ({uri}) cannot be read: "
                                 f"{exc.strerror or exc}") from exc
        if actual != sha256:
            raise RawDataCorrupt(f"the raw file of this batch ({uri}) fails its sha256 check "
                                 "(stored data is corrupt); run `windwatch check`")
        return path

    def read(self, uri: str, sha256: str, max_samples: int | None = None,
             ) -> tuple[np.ndarray, list[str], dict[str, str]]:
        """``read_parquet`` of a stored batch's file, verified first (see ``verified_path``)."""
        path = self.verified_path(uri, sha256)
        try:
            return read_parquet(path, max_samples)
        except (OSError, pa.ArrowException) as exc:  # matches its hash, yet unreadable
            raise RawDataCorrupt(f"the raw file of this batch ({uri}) cannot be decoded: "
                                 f"{exc}") from exc

    def delete(self, uri: str) -> None:
        """Remove a file whose transaction failed (never raises)."""
        with contextlib.suppress(OSError, ValueError):
            self.path(uri).unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _durable_mkdirs(path: Path) -> None:
    """``mkdir -p`` whose new entries survive a crash: each created directory's parent is
    fsynced (a file fsynced into a directory that itself vanishes on power loss is lost)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        _fsync_dir(created.parent)
