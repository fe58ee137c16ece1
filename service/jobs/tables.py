"""Jobs, the audit trail of their transitions, and the lease that elects one active scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, utcnow

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued", "running", "succeeded", "failed", "cancelled")
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
SOURCES = ("schedule", "api", "cli", "dashboard")
LOG_TAIL_CHARS = 8000  # the log is a tail: older lines are dropped so a row stays small


class Job(Base):
    """One job: a kind with its parameters, who started it, and how far it got.

    ``holder`` is the scheduler process that claimed it; ``heartbeat_at`` is renewed while it
    runs, so that a job whose holder died is recognised (stale heartbeat) and failed."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    started_by: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(default=0.0)
    progress_message: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    log_tail: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    holder: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_jobs_state_created", "state", "created_at"),
        Index("ix_jobs_kind_state", "kind", "state"),
        # One running job per kind, enforced by the database: two claimers racing for two
        # queued retrains cannot both win (partial unique index, SQLite and PostgreSQL alike).
        Index("uq_jobs_running_kind", "kind", unique=True,
              sqlite_where=text("state = 'running'"), postgresql_where=text("state = 'running'")),
    )


class JobEvent(Base):
    """One transition of a job (queued, running, succeeded, failed, cancelled, cancel request)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(Base):
    """A named lease: the holder acts until ``expires_at`` unless it renews in time."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
