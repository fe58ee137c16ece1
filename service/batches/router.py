"""Batch endpoints: ingest (all upload formats) and read-back."""

from __future__ import annotations

import contextlib
import hashlib
import math
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import select

from pipelines.dsp.spectra import display_spectrum, downsample_spectrogram, log_spectrogram
from service.auth.audit import client_address
from service.auth.deps import Principal, check_ingest_binding, require
from service.batches import service
from service.batches.decode import decode_batch
from service.batches.schemas import BatchDetailOut, BatchOut, SpectrogramOut, SpectrumOut
from service.db import utcnow
from service.deps import BatchIdPath, RuntimeDep, SessionDep, SettingsDep, StoreDep, TurbineIdPath
from service.errors import BadRequest, PayloadTooLarge
from service.turbines.tables import Turbine

router = APIRouter(tags=["batches"])

SPECTROGRAM_MAX_SAMPLES = 1 << 21  # one channel, ~41 s at 51.2 kHz: bounds the STFT's memory
KEY_CHARS = frozenset(map(chr, range(0x21, 0x7F)))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/turbines/{turbine_id}/batches", status_code=201, response_model=BatchOut,
    summary="Upload one sensor snapshot (JSON, Arrow IPC stream, Parquet or .npy)",
    responses={200: {"description": "Idempotent replay of an earlier post"}, 401: {}, 403: {},
               409: {}, 413: {}, 415: {}, 422: {}, 429: {},
               503: {"description": "Database unavailable: retry after `Retry-After` seconds"}},
)
async def post_batch(
    request: Request, response: Response, turbine_id: TurbineIdPath, settings: SettingsDep,
    store: StoreDep, runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require("ingest"))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> BatchOut:
    """Ingest one snapshot (Arrow, Parquet, npy or JSON body): indicators, verdict, raw file.
    Needs the ``ingest`` scope, for a turbine (or site) the key is bound to."""
    state = request.app.state
    state.rate_limits.ingest(key=principal.name if principal.kind == "key" else None,
                             address=client_address(request))
    if principal.turbines or principal.sites:
        with state.session_factory() as s:
            site = s.scalar(select(Turbine.site).where(Turbine.name == turbine_id))
        check_ingest_binding(site_of=site, principal=principal, turbine=turbine_id)
    if idempotency_key is not None and not (
        0 < len(idempotency_key) <= 128 and set(idempotency_key) <= KEY_CHARS
    ):
        raise BadRequest("Idempotency-Key must be 1-128 printable ASCII characters")
    body = await read_body(request, settings.max_body_bytes)
    content_type = request.headers.get("content-type")

    def work() -> BatchOut:
        decoded = decode_batch(
            body, content_type, dict(request.query_params),
            max_sample_rate_hz=settings.max_sample_rate_hz,
            max_future_skew_s=settings.max_future_skew_s, now=utcnow(),
            max_decoded_samples=settings.max_decoded_samples,
        )
        session = state.session_factory()
        try:
            result = service.ingest(
                session=session, settings=settings, store=store, runtime=runtime,
                turbine_name=turbine_id, decoded=decoded,
                content_type=(content_type or "").split(";")[0].strip().lower(),
                body_sha256=hashlib.sha256(body).hexdigest(), idempotency_key=idempotency_key,
                cpu_slots=state.cpu_slots,
            )
            if result.replayed:
                response.status_code = 200
                response.headers["Idempotent-Replayed"] = "true"
            return result.out or service.batch_out(
                session=session, batch=result.batch, prediction=result.prediction,
                turbine=result.turbine)
        finally:
            # After a commit, releasing the connection must not turn the stored batch into an
            # error (a dropped connection is discarded by the pool either way).
            with contextlib.suppress(Exception):
                session.close()

    return await run_in_threadpool(work)


RAW_ERRORS: dict[int | str, dict] = {
    404: {"description": "No such batch"},
    409: {"description": "The raw file fails its sha256 check"},
    410: {"description": "The raw file is missing"},
}


@router.get("/batches/{batch_id}", response_model=BatchDetailOut, responses=RAW_ERRORS)
def get_batch(batch_id: BatchIdPath, session: SessionDep, store: StoreDep,
              n_points: int = 512) -> BatchDetailOut:
    """A stored batch: metadata, indicators, prediction and a display-sized spectrum."""
    batch, prediction, turbine = service.get_batch(session=session, batch_id=batch_id)
    out = service.batch_out(session=session, batch=batch, prediction=prediction, turbine=turbine)
    x, names, _ = store.read(batch.raw_uri, batch.raw_sha256)
    freqs, amp = display_spectrum(x, batch.sample_rate_hz, n_points=min(max(n_points, 16), 4096))
    spectrum = SpectrumOut(
        freqs_hz=freqs.round(3).tolist(),
        amplitude={n: amp[i].tolist() for i, n in enumerate(names)}, unit=batch.unit,
    )
    return BatchDetailOut(**out.model_dump(), spectrum=spectrum)


@router.get("/batches/{batch_id}/raw", response_class=FileResponse, responses=RAW_ERRORS)
def get_raw(batch_id: BatchIdPath, session: SessionDep, store: StoreDep) -> FileResponse:
    """The stored raw samples as Parquet (one float32 column per channel)."""
    batch, _, _ = service.get_batch(session=session, batch_id=batch_id)
    return FileResponse(store.verified_path(batch.raw_uri, batch.raw_sha256),
                        media_type="application/vnd.apache.parquet",
                        headers={"X-Content-SHA256": batch.raw_sha256},
                        filename=f"batch-{batch.id}.parquet")


@router.get("/batches/{batch_id}/spectrogram", response_model=SpectrogramOut,
            responses=RAW_ERRORS)
def get_spectrogram(batch_id: BatchIdPath, session: SessionDep, store: StoreDep, channel: str | None = None,
                    n_fft: int = 1024, max_f: int = 128, max_t: int = 128) -> SpectrogramOut:
    """Log-power spectrogram (dB) of one channel, max-pooled to at most ``max_f`` x ``max_t``.
    Derived arrays are recomputed from the raw file (deterministic and cheap, ~10 ms), not stored;
    at most the first ``SPECTROGRAM_MAX_SAMPLES`` samples of the channel are transformed."""
    batch, _, _ = service.get_batch(session=session, batch_id=batch_id)
    x, names, _ = store.read(batch.raw_uri, batch.raw_sha256)
    name = channel or names[0]
    if name not in names:
        raise BadRequest(f"batch {batch_id} has no channel {name!r}; channels: {names}")
    if n_fft not in (256, 512, 1024, 2048, 4096) or n_fft > x.shape[1]:
        raise BadRequest("n_fft must be a power of two from 256 to 4096, at most the record length")
    row = x[names.index(name), :SPECTROGRAM_MAX_SAMPLES]
    t, f, db = log_spectrogram(row[None], batch.sample_rate_hz, n_fft, n_fft // 4)
    mf, mt = min(max(max_f, 8), 512), min(max(max_t, 8), 512)
    small = downsample_spectrogram(db[0], mf, mt)
    kf, kt = math.ceil(len(f) / mf), math.ceil(len(t) / mt)
    return SpectrogramOut(channel=name, times_s=t[::kt][: small.shape[1]].round(4).tolist(),
                          freqs_hz=f[::kf][: small.shape[0]].round(2).tolist(),
                          db=small.round(2).tolist())
