"""decode_batch: formats round-trip; each bad input maps to the right 4xx and a clear detail."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.batches.decode import DecodedBatch, decode_batch
from service.errors import InvalidBatch, MalformedBody, UnsupportedMediaType, WindwatchError

JSON, NPY = "application/json", "application/x-npy"
ARROW, PARQUET = "application/vnd.apache.arrow.stream", "application/vnd.apache.parquet"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
META = {"sensor": "gearbox_hss", "sample_rate_hz": "25600", "recorded_at": "2026-11-27T10:00:00Z",
        "rpm": "1500.0", "unit": "g"}
X = np.random.default_rng(0).standard_normal((3, 1000)).astype(np.float32)


def decode(body: bytes, ctype: str | None, query: dict | None = None, **kw) -> DecodedBatch:
    return decode_batch(body, ctype, query or {}, now=NOW, **kw)


def arrow_body(columns: dict, metadata: dict | None = None, chunks: int = 1, **opts) -> bytes:
    table = pa.table(columns, metadata=META if metadata is None else metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**opts)) as w:
        w.write_table(table, max_chunksize=max(1, math.ceil(table.num_rows / chunks)))
    return sink.getvalue().to_pybytes()


def parquet_body(columns: dict, metadata: dict | None = None) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table(columns, metadata=META if metadata is None else metadata), buf)
    return buf.getvalue()


def npy_body(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


def json_body(channels: dict, **overrides) -> bytes:
    doc = {"sensor": "gearbox_hss", "sample_rate_hz": 25600, "recorded_at": "2026-11-27T10:00:00Z",
           "rpm": 1500.0, "unit": "g", **overrides, "channels": channels}
    doc = {k: v for k, v in doc.items() if v is not None}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def cols(x: np.ndarray = X, names: str = "xyz") -> dict:
    return dict(zip(names, x, strict=True))


def assert_valid(d: DecodedBatch, x: np.ndarray, names: list[str]) -> None:
    assert d.channel_names == names
    assert d.samples.dtype == np.float32
    assert d.samples.flags.c_contiguous and d.samples.flags.writeable
    np.testing.assert_array_equal(d.samples, x.astype(np.float32))


# --- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "arrow", "parquet", "npy"])
def test_round_trip(fmt):
    body, ctype, query = {
        "json": (json_body(cols()), JSON, {}),
        "arrow": (arrow_body(cols()), ARROW, {}),
        "parquet": (parquet_body(cols()), PARQUET, {}),
        "npy": (npy_body(X), NPY, {**META, "channels": "x, y,z"}),
    }[fmt]
    d = decode(body, ctype, query)
    assert_valid(d, X, ["x", "y", "z"])
    m = d.meta
    assert (m.sensor, m.sample_rate_hz, m.rpm, m.unit) == ("gearbox_hss", 25600.0, 1500.0, "g")
    assert m.recorded_at == datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_content_type_parameters_and_case_are_tolerated():
    d = decode(json_body(cols()), "Application/JSON; charset=utf-8")
    assert d.channel_names == ["x", "y", "z"]


def test_arrow_many_chunks_ints_doubles_and_compression():
    ints = np.arange(1000, dtype=np.int16) - 500
    columns = {"a": X[0].astype(np.float64), "b": ints, "c": X[2].astype(np.float16)}
    for body in (arrow_body(columns, chunks=7), arrow_body(columns, compression="zstd")):
        d = decode(body, ARROW)
        expected = np.stack([X[0], ints.astype(np.float32), X[2].astype(np.float16)])
        assert_valid(d, expected, ["a", "b", "c"])


def test_npy_one_dimensional_fortran_big_endian_and_ints():
    assert_valid(decode(npy_body(X[0]), NPY, META), X[:1], ["ch0"])
    assert_valid(decode(npy_body(np.asfortranarray(X)), NPY, META), X, ["ch0", "ch1", "ch2"])
    assert_valid(decode(npy_body(X.astype(">f8")), NPY, META), X, ["ch0", "ch1", "ch2"])
    ints = np.arange(-5, 5, dtype=np.int32).reshape(2, 5)
    assert_valid(decode(npy_body(ints), NPY, META), ints, ["ch0", "ch1"])


def test_query_parameters_override_body_metadata():
    query = {"sensor": "main_bearing", "sample_rate_hz": "12000", "unit": "m/s2"}
    for body, ctype in ((arrow_body(cols()), ARROW), (parquet_body(cols()), PARQUET),
                        (json_body(cols()), JSON)):
        m = decode(body, ctype, query).meta
        got = (m.sensor, m.sample_rate_hz, m.unit, m.rpm)
        assert got == ("main_bearing", 12000.0, "m/s2", 1500.0)


def test_metadata_may_come_only_from_query_and_rpm_is_optional():
    meta = {k: v for k, v in META.items() if k != "rpm"}
    d = decode(arrow_body(cols(), metadata={}), ARROW, meta)
    assert d.meta.rpm is None and d.meta.sensor == "gearbox_hss"


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["text/plain", None, "", "application/octet-stream",
                                   "application/vnd.apache.arrow.file"])
def test_unsupported_media_types(ctype):
    with pytest.raises(UnsupportedMediaType) as exc:
        decode(arrow_body(cols()), ctype)
    assert exc.value.status_code == 415
    assert (ctype or "(none)") in exc.value.detail and ARROW in exc.value.detail


@pytest.mark.parametrize(("body", "ctype", "needle"), [
    (b'{"sensor": ', JSON, "malformed JSON"),
    (b"ARROW1\x00garbage", ARROW, "malformed Arrow IPC stream"),
    (b"PAR1garbagePAR1", PARQUET, "malformed Parquet"),
    (b"\x93NUMPY\x01\x00garbage", NPY, "malformed npy"),
    (b"PK\x03\x04not a zip", NPY, "magic"),
    (npy_body(X)[:-4], NPY, "data bytes"),
    (b"", JSON, "empty body"),
])
def test_malformed_bodies(body, ctype, needle):
    with pytest.raises(MalformedBody) as exc:
        decode(body, ctype, META)
    assert needle in exc.value.detail and exc.value.status_code == 422


@pytest.mark.parametrize(("overrides", "needle"), [
    ({"sensor": None}, "missing metadata sensor"),
    ({"sample_rate_hz": None}, "missing metadata sample_rate_hz"),
    ({"recorded_at": None}, "missing metadata recorded_at"),
    ({"recorded_at": "2026-11-27T10:00:00"}, "recorded_at must include a time zone"),
    ({"recorded_at": "yesterday"}, "recorded_at must be an ISO-8601 time"),
    ({"recorded_at": "2026-11-27T12:10:00Z"}, "in the future"),
    ({"recorded_at": "1989-12-31T23:59:59Z"}, "before 1990"),
    ({"sensor": "gear box/1"}, "sensor"),
    ({"sensor": "s" * 65}, "sensor"),
    ({"rpm": 0}, "rpm"),
    ({"rpm": 100_000}, "rpm"),
    ({"rpm": True}, "rpm"),
    ({"unit": "mm/s"}, "unit"),
    ({"sample_rate_hz": 0}, "sample_rate_hz"),
    ({"sample_rate_hz": -25600}, "sample_rate_hz"),
    ({"sample_rate_hz": 2e6}, "sample_rate_hz must be > 0 and <= 1e+06"),
    ({"sample_rate_hz": "nan"}, "sample_rate_hz"),
    ({"sample_rate_hz": True}, "sample_rate_hz"),
])
def test_invalid_metadata_names_the_field(overrides, needle):
    with pytest.raises(InvalidBatch) as exc:
        decode(json_body(cols(), **overrides), JSON)
    assert needle in exc.value.detail


def test_limits_come_from_keyword_arguments():
    body = json_body(cols(), sample_rate_hz=50_000, recorded_at="2026-11-27T12:10:00Z")
    decode(body, JSON, max_future_skew_s=3600)
    with pytest.raises(InvalidBatch, match="<= 40000"):
        decode(body, JSON, max_sample_rate_hz=40_000, max_future_skew_s=3600)


def test_missing_field_hints_at_misspelled_keys():
    with pytest.raises(InvalidBatch, match="unrecognised keys: 'sample_rate'"):
        decode(json_body(cols(), sample_rate_hz=None, sample_rate=25600), JSON)


def test_npy_metadata_must_come_from_query():
    with pytest.raises(InvalidBatch, match="missing metadata sensor: give it as a query parameter"):
        decode(npy_body(X), NPY, {})


ONLY = "channel 'x' must hold only numbers; it holds "
nan, inf = X.copy(), X.copy()
nan[1, 100] = nan[2, 5] = np.nan
inf[2, 7] = -np.inf


@pytest.mark.parametrize(("body", "ctype", "query", "needle"), [
    (json_body({}), JSON, {}, "no channels"),
    (orjson.dumps({**META}), JSON, {}, "'channels'"),
    (b"[1, 2]", JSON, {}, "must be an object"),
    (json_body({"x": []}), JSON, {}, "channel 'x' is empty"),
    (json_body({"a": [1, 2, 3], "b": [1, 2]}), JSON, {}, "unequal lengths: {'a': 3, 'b': 2}"),
    (json_body({"x": [1.0, "2.0"]}), JSON, {}, ONLY + "strings"),
    (json_body({"x": [1.0, [2.0]]}), JSON, {}, ONLY + "nested"),
    (json_body({"x": [1.0, True]}), JSON, {}, ONLY + "booleans"),
    (json_body({"x": [1.0, None]}), JSON, {}, ONLY + "nulls"),
    (json_body({"x": 1.0}), JSON, {}, "channel 'x' must be an array"),
    (json_body({"x": [1e39]}), JSON, {}, "channel 'x' has a non-finite value (inf) at index 0"),
    (json_body({"": [1.0]}), JSON, {}, "channel name '' must be 1-64"),
    (json_body({f"c{i}": [1.0] for i in range(65)}), JSON, {}, "65 channels; at most 64"),
    (arrow_body(cols(nan)), ARROW, {}, "channel 'y' has a non-finite value (nan) at index 100"),
    (parquet_body(cols(inf)), PARQUET, {}, "channel 'z' has a non-finite value (-inf) at index 7"),
    (npy_body(inf), NPY, META, "channel 'ch2' has a non-finite value (-inf) at index 7"),
    (arrow_body({"x": X[0], "s": ["a"] * 1000}), ARROW, {}, "column 's' has type string"),
    (arrow_body({"x": pa.array([1.0, None])}), ARROW, {}, "column 'x' holds 1 nulls"),
    (parquet_body({"x": pa.array([True, False])}), PARQUET, {}, "column 'x' has type bool"),
    (arrow_body({"x": np.zeros(0, np.float32)}), ARROW, {}, "channel 'x' is empty"),
    (arrow_body({}), ARROW, {}, "no channels"),
    (npy_body(X), NPY, {**META, "channels": "x,x,y"}, "duplicate channel names: 'x'"),
    (npy_body(X), NPY, {**META, "channels": "x,y"}, "the array has 3"),
    (npy_body(np.zeros((65, 4), np.float32)), NPY, META, "65 channels"),
    (npy_body(np.zeros((2, 2, 2), np.float32)), NPY, META, "shape (channels, samples)"),
    (npy_body(np.zeros((2, 2), np.complex64)), NPY, META, "integers or floats"),
    (npy_body(np.zeros((2, 0), np.float32)), NPY, META, "channel 'ch0' is empty"),
])
def test_invalid_batches(body, ctype, query, needle):
    with pytest.raises(InvalidBatch) as exc:
        decode(body, ctype, query)
    assert needle in exc.value.detail and exc.value.status_code == 422


def test_arrow_duplicate_column_names():
    schema = pa.schema([("x", pa.float32()), ("x", pa.float32())], metadata=META)
    table = pa.Table.from_arrays([pa.array(X[0]), pa.array(X[1])], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_table(table)
    with pytest.raises(InvalidBatch, match="duplicate channel names: 'x'"):
        decode(sink.getvalue().to_pybytes(), ARROW)


# --- fuzz: anything in, a DecodedBatch or a 4xx WindwatchError out ------------------------------

CTYPES = st.sampled_from([JSON, ARROW, PARQUET, NPY, "text/csv", None])
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=6),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=16,
)
VALID = [(arrow_body(cols(X[:, :64])), ARROW), (parquet_body(cols(X[:, :64])), PARQUET),
         (npy_body(X[:, :64]), NPY), (json_body(cols(X[:, :64])), JSON)]


@st.composite
def bodies(draw) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["bytes", "json", "truncated", "flipped"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300)), draw(CTYPES)
    if kind == "json":
        keys = st.sampled_from([*META, "channels", "x"])
        doc = draw(st.dictionaries(keys, json_values | st.just({"x": [1.0, 2.0]}), max_size=7)
                   | json_values)
        return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS), JSON
    body, ctype = draw(st.sampled_from(VALID))
    if kind == "truncated":
        return body[: draw(st.integers(0, len(body)))], ctype
    flip = st.tuples(st.integers(0, len(body) - 1), st.integers(1, 255))
    flips = draw(st.lists(flip, max_size=4))
    mutated = bytearray(body)
    for pos, xor in flips:
        mutated[pos] ^= xor
    return bytes(mutated), ctype


@settings(max_examples=400, deadline=None)
@given(case=bodies(), query=st.sampled_from([{}, META, {**META, "channels": "a,b,c"}]))
def test_fuzz_never_raises_anything_but_4xx(case, query):
    body, ctype = case
    try:
        d = decode(body, ctype, query)
    except WindwatchError as exc:
        assert 400 <= exc.status_code < 500 and exc.detail
        return
    c, n = d.samples.shape
    assert d.samples.dtype == np.float32 and d.samples.flags.c_contiguous
    assert 0 < c == len(d.channel_names) <= 64 and n > 0 and np.isfinite(d.samples).all()
