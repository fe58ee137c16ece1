"""Domain exceptions and their JSON problem responses (``{"detail": ...}``, always 4xx)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class WindwatchError(Exception):
    """Base of every error the API reports to the client; ``status_code`` is the HTTP status."""

    status_code = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


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


class NotFound(WindwatchError):
    status_code = 404


class Conflict(WindwatchError):
    """E.g. an idempotency key reused with a different body."""

    status_code = 409


def install_handlers(app: FastAPI) -> None:
    """Map domain errors to JSON responses with a ``detail`` naming the problem."""

    @app.exception_handler(WindwatchError)
    async def _handle(_: Request, exc: WindwatchError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
