"""What every CLI command that touches the database shares: a session on the configured
database, JSON output, and errors printed as ``error: ...`` with exit status 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from service.settings import get_settings


def open_session() -> Session:
    """A new session on ``WINDWATCH_DATABASE_URL`` (the engine is cached per URL)."""
    from service.db import get_engine, session_factory

    return session_factory(get_engine(get_settings().database_url))()


def echo_json(model: BaseModel) -> None:
    """Print a response model as indented JSON, as the API would return it."""
    typer.echo(json.dumps(model.model_dump(mode="json"), indent=2))


@contextmanager
def exit_on_domain_error() -> Iterator[None]:
    """Turn a domain or validation error into ``error: <detail>`` on stderr and exit code 1."""
    from pydantic import ValidationError

    from service.errors import WindwatchError

    try:
        yield
    except (ValueError, ValidationError, WindwatchError) as exc:
        typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
        raise typer.Exit(1) from exc
