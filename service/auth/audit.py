"""The audit trail: one row per state-changing action, in the action's own transaction (so
an action that rolls back leaves no audit row, and an audit row never lacks its action).

The client address comes from the request being served (bound once per request by the app's
middleware, ``bind_client_address``), so service functions record it without being handed the
request; outside HTTP (CLI, jobs) it is None."""

from __future__ import annotations

from contextvars import ContextVar

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.tables import AuditEvent


def client_address(request: Request | None) -> str | None:
    """The peer address of a request (None outside HTTP, e.g. the CLI)."""
    return request.client.host if request is not None and request.client else None


_ADDRESS: ContextVar[str | None] = ContextVar("windwatch_client_address", default=None)


def bind_client_address(request: Request) -> None:
    """Remember the request's client address for the audit rows written while serving it."""
    _ADDRESS.set(client_address(request))


def record(*, session: Session, actor: str, action: str, target: str,
           details: dict | None = None) -> AuditEvent:
    """Add an audit row to ``session`` (committed with the caller's transaction)."""
    event = AuditEvent(actor=actor, action=action, target=target[:256], details=details or {},
                       address=_ADDRESS.get())
    session.add(event)
    return event


def list_events(*, session: Session, limit: int, offset: int, actor: str | None = None,
                action: str | None = None) -> list[AuditEvent]:
    """Newest first, optionally for one actor or action."""
    q = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if action:
        q = q.where(AuditEvent.action == action)
    return list(session.scalars(q.limit(limit).offset(offset)))
