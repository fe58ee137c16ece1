"""The single-active-scheduler lease: one row per name in ``scheduler_lease``.

Acquire or renew is a conditional UPDATE (mine, or expired) and, when there is no row yet, an
INSERT that the primary key lets only one process win. Both work unchanged on SQLite and
PostgreSQL; the clocks of the scheduler hosts are assumed to agree (NTP) to well within the
lease lifetime.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db import utcnow
from service.jobs.service import rowcount
from service.jobs.tables import SchedulerLease

LEASE_NAME = "scheduler"


def new_holder_id() -> str:
    """A holder id unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(*, session_factory: sessionmaker[Session], holder: str, ttl_s: float,
            name: str = LEASE_NAME) -> bool:
    """Take or renew the lease for ``ttl_s`` seconds; True when ``holder`` now holds it."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    with session_factory() as session, session.begin():
        taken = session.execute(
            update(SchedulerLease).where(SchedulerLease.name == name,
                                         or_(SchedulerLease.holder == holder,
                                             SchedulerLease.expires_at < now))
            .values(holder=holder, expires_at=expires))
        if rowcount(taken) == 1:
            return True
        if session.get(SchedulerLease, name) is not None:
            return False  # held by someone else and still valid
    try:
        with session_factory() as session, session.begin():
            session.add(SchedulerLease(name=name, holder=holder, expires_at=expires))
        return True
    except IntegrityError:
        return False  # another process inserted it first


def release(*, session_factory: sessionmaker[Session], holder: str,
            name: str = LEASE_NAME) -> None:
    """Give the lease up now (on a clean shutdown), so another scheduler takes over at once."""
    with session_factory() as session, session.begin():
        session.execute(update(SchedulerLease).where(SchedulerLease.name == name,
                                                     SchedulerLease.holder == holder)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))


def current_holder(*, session_factory: sessionmaker[Session],
                   name: str = LEASE_NAME) -> str | None:
    """The holder of a valid lease, or None."""
    with session_factory() as session:
        row = session.get(SchedulerLease, name)
        return row.holder if row is not None and row.expires_at > utcnow() else None
