"""Every domain exception and its JSON problem response (``{"detail": ...}``).

``BadRequest`` is for a request's parameters (a bad cursor, an unknown class or bearing, a time
without a zone); ``InvalidBatch`` only for the content of an ingested batch. A model artifact
that cannot be loaded is ``ModelUnavailable`` (503), never an unhandled 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

log = logging.getLogger("windwatch.errors")

# What a database outage raises (server down, connection terminated, pool exhausted): the
# client's cue to retry, never a server bug.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
    sa_exc.DisconnectionError)


def outage_summary(exc: Exception) -> str:
    """The first line of a database error, bounded: what a log line about an outage shows."""
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


class WindwatchError(Exception):
    """Base of every error the API reports to the client; ``status_code`` is the HTTP status."""

    status_code = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class BadRequest(WindwatchError):
    """A query or path parameter, or a field of a request body, is unacceptable."""

    status_code = 422


class InvalidBatch(WindwatchError):
    """The batch is well-formed but its content is unacceptable (NaN, too short, bad rate...)."""

    status_code = 422


class MalformedBody(WindwatchError):
    """The body cannot be decoded in the format its content type announces."""

    status_code = 422


class UnsupportedMediaType(WindwatchError):
    status_code = 415


class PayloadTooLarge(WindwatchError):
    status_code = 413


class DecodedTooLarge(PayloadTooLarge):
    """The body is within the byte limit but would decode to more samples than allowed
    (a compressed or sparse "bomb"); refused before anything is decompressed or allocated."""


class NotFound(WindwatchError):
    status_code = 404


class Conflict(WindwatchError):
    """E.g. an idempotency key reused with a different body."""

    status_code = 409


class InvalidFeedback(WindwatchError):
    """Close feedback naming a fault type the classifier does not know."""

    status_code = 422


class NoProductionModel(WindwatchError):
    """The registry has no production model (the database was never seeded)."""

    status_code = 503


class ModelUnavailable(WindwatchError):
    """A registered model's artifact is missing, corrupt or does not match its checksum."""

    status_code = 503


class RawDataMissing(WindwatchError):
    """A stored batch's raw file is gone (lost or quarantined): its rows outlived the data."""

    status_code = 410


class RawDataCorrupt(WindwatchError):
    """A stored batch's raw file no longer matches the sha256 recorded when it was stored."""

    status_code = 409


class DatabaseUnavailable(WindwatchError):
    """The database cannot be reached (outage, restart, dropped connection, pool exhausted);
    the client should retry after ``Retry-After`` seconds."""

    status_code = 503
    headers = {"Retry-After": "2"}


class Unauthorized(WindwatchError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(WindwatchError):
    """Authenticated, but without the scope (or turbine binding) this action needs."""

    status_code = 403


class TooManyRequests(WindwatchError):
    """A rate limit (per key or per client address) was reached; ``retry_after`` seconds."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.headers = {"Retry-After": str(max(1, retry_after))}


def forbidden(detail: str) -> Forbidden:
    """A 403 naming what was missing."""
    return Forbidden(detail)


def install_handlers(app: FastAPI) -> None:
    """Map domain errors to JSON responses with a ``detail`` naming the problem."""

    @app.exception_handler(WindwatchError)
    async def _handle(_: Request, exc: WindwatchError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    # A database outage is the client's cue to retry, not a server bug: 503 + Retry-After.
    # The pool (pool_pre_ping, invalidation on disconnect) reconnects on the next request.
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", outage_summary(exc))
        err = DatabaseUnavailable("the database is unavailable; retry later")
        return JSONResponse({"detail": err.detail}, status_code=err.status_code,
                            headers=err.headers)

    for outage in DATABASE_OUTAGES:
        app.add_exception_handler(outage, _database_down)

    @app.exception_handler(sa_exc.DBAPIError)
    async def _dbapi(request: Request, exc: sa_exc.DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:  # a disconnect the dialect classified as such
            return await _database_down(request, exc)
        raise exc
