"""Request bodies for API tests, built independently of the product's gateway encoders."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
NPY = "application/x-npy"
JSON = "application/json"


def signal(n_channels: int = 3, n: int = 51_200, fs_hz: float = 25_600.0, seed: int = 0) -> np.ndarray:
    """A few shaft harmonics plus noise, in g."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs_hz
    base = sum(0.05 / k * np.sin(2 * np.pi * 25.0 * k * t + k) for k in (1, 2, 3))
    return (base + 0.02 * rng.standard_normal((n_channels, n))).astype(np.float32)


def meta(recorded_at: str = "2026-11-01T10:00:00Z", sensor: str = "gearbox_hss",
         fs_hz: float = 25_600.0, rpm: float | None = 1500.0) -> dict[str, str]:
    m = {"sensor": sensor, "sample_rate_hz": str(fs_hz), "recorded_at": recorded_at, "unit": "g"}
    if rpm is not None:
        m["rpm"] = str(rpm)
    return m


def arrow_body(x: np.ndarray, metadata: dict[str, str], names: list[str] | None = None) -> bytes:
    names = names or [f"ch{i}" for i in range(len(x))]
    table = pa.table({n: x[i] for i, n in enumerate(names)}, metadata=metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def parquet_body(x: np.ndarray, metadata: dict[str, str]) -> bytes:
    table = pa.table({f"ch{i}": x[i] for i in range(len(x))}, metadata=metadata)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def npy_body(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


def json_body(x: np.ndarray, metadata: dict[str, str], names: list[str] | None = None) -> bytes:
    names = names or [f"ch{i}" for i in range(len(x))]
    doc: dict = {k: v for k, v in metadata.items()}
    doc["sample_rate_hz"] = float(doc["sample_rate_hz"])
    if "rpm" in doc:
        doc["rpm"] = float(doc["rpm"])
    doc["channels"] = {n: x[i].tolist() for i, n in enumerate(names)}
    return orjson.dumps(doc)


def body_for(fmt: str, x: np.ndarray, metadata: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    """(body, content type, query params) for one of the four formats."""
    if fmt == "arrow":
        return arrow_body(x, metadata), ARROW, {}
    if fmt == "parquet":
        return parquet_body(x, metadata), PARQUET, {}
    if fmt == "npy":
        return npy_body(x), NPY, metadata
    return json_body(x, metadata), JSON, {}
