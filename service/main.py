"""The FastAPI application: routers, error handlers, and a lifespan that loads the model once."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import asynccontextmanager

import structlog
import torch
from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from service.api import api_router
from service.auth import audit, pages
from service.auth.ratelimit import RateLimits
from service.auth.secret import load_secret_key
from service.batches.storage import RawStore
from service.dashboard.router import STATIC_DIR
from service.dashboard.router import router as dashboard_router
from service.db import get_engine, session_factory
from service.docs import install_docs
from service.errors import DATABASE_OUTAGES, install_handlers, outage_summary
from service.openapi import install_openapi
from service.registry.runtime import ModelRuntime
from service.security import install_http_hardening
from service.settings import Settings, get_settings

log = structlog.get_logger("windwatch")
PRELOAD_TRIES = 4  # 0.25 + 0.5 + 1 s between them: a terminated connection or a quick restart


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """structlog configuration: key-value lines for people, JSON for log shippers."""
    logging.basicConfig(format="%(message)s", level=level.upper())
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


async def preload_model(app: FastAPI, tries: int = PRELOAD_TRIES) -> None:
    """Load the production model before the worker serves, so the first snapshot does not pay
    for it. A database outage must not stop the worker: uvicorn stops the WHOLE server when a
    worker fails to start, so a database restart while a worker is being replaced (or started
    late, beside one already serving) would take the service down. After a few tries the worker
    serves without it (503s while the database is down) and the first request loads it."""
    for attempt in range(tries):
        try:
            with app.state.session_factory() as session:
                served = app.state.runtime.production(session=session)
        except DATABASE_OUTAGES as exc:
            log.warning("model not loaded yet: database unavailable", attempt=attempt + 1,
                        error=outage_summary(exc))
            if attempt + 1 < tries:
                await asyncio.sleep(0.25 * 2**attempt)
            continue
        log.info("model loaded", model=served.name, version=served.version_id,
                 torch_threads=torch.get_num_threads())
        return
    log.warning("serving without a preloaded model: the first request loads it")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. The schema must already be migrated (``windwatch migrate``)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Threads per worker from the worker count: 2 procs x 2 threads on 2 cores ran a small
        # CNN 4-8x slower than 2 x 1 (thread oversubscription).
        torch.set_num_threads(settings.effective_torch_threads())
        await preload_model(app)
        yield

    app = FastAPI(
        title="Windwatch", version="0.1.0", lifespan=lifespan,
        description="Vibration condition monitoring for wind turbines.",
        docs_url=None, redoc_url=None,  # /docs is served from vendored files (service.docs)
    )
    engine = get_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.runtime = ModelRuntime(settings)
    app.state.store = RawStore(settings.data_root)
    app.state.cpu_slots = threading.Semaphore(1)
    app.state.secret_key = load_secret_key(settings)
    app.state.rate_limits = RateLimits(settings)
    if not settings.auth_enabled:
        log.warning("AUTHENTICATION IS OFF (WINDWATCH_AUTH=off): every request acts as 'dev' "
                    "with every scope. Development only; never expose this server.")
    install_handlers(app)
    app.add_exception_handler(pages.LoginRequired, pages.login_required_response)  # type: ignore[arg-type]

    @app.middleware("http")
    async def access_log(request: Request, call_next):
        t0 = time.perf_counter()
        audit.bind_client_address(request)  # audit rows written while serving name the client
        response = await call_next(request)
        log.info("request", method=request.method, path=request.url.path,
                 status=response.status_code, ms=round((time.perf_counter() - t0) * 1e3, 1))
        return response

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        with app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok"}

    app.include_router(api_router)
    app.include_router(pages.router)  # /login, /logout: the only pages without a login
    app.include_router(dashboard_router, dependencies=[Depends(pages.dashboard_access)])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")  # dashboard CSS/JS
    install_docs(app)
    install_openapi(app)  # error responses and links in /openapi.json
    install_http_hardening(app, settings)  # last: its middlewares wrap all the others
    return app
