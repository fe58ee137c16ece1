"""Request and response bodies of the jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.tables import Job, JobEvent


class JobStart(BaseModel):
    """Start a job: a kind and its parameters (validated by the kind)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=32, examples=["refresh-baselines"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{}])


class JobEventOut(BaseModel):
    """One transition of a job."""

    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    message: str | None


class JobOut(BaseModel):
    """A job: state, progress, timings, who started it, result or error."""

    id: int
    kind: str
    params: dict[str, Any]
    state: str = Field(description="queued | running | succeeded | failed | cancelled")
    started_by: str
    source: str = Field(description="schedule | api | cli | dashboard")
    progress: float
    progress_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = Field(description="running time so far, or in total")
    cancel_requested: bool
    holder: str | None
    heartbeat_at: datetime | None
    result: dict[str, Any] | None
    error: str | None
    log_tail: str
    events: list[JobEventOut] | None = None


class JobPage(BaseModel):
    """A page of jobs, newest first."""

    items: list[JobOut]
    total: int
    limit: int
    offset: int


def duration_s(job: Job) -> float | None:
    """Seconds from start to finish (or to now while it runs); None before it started."""
    from service.db import utcnow

    if job.started_at is None:
        return None
    return round(((job.finished_at or utcnow()) - job.started_at).total_seconds(), 1)


def job_out(job: Job, events: list[JobEvent] | None = None) -> JobOut:
    """The response body of a job (with its events when given)."""
    data = {c: getattr(job, c) for c in JobOut.model_fields if c not in ("duration_s", "events")}
    return JobOut(**data, duration_s=duration_s(job),
                  events=None if events is None else [
                      JobEventOut(at=e.at, actor=e.actor, action=e.action,
                                  from_state=e.from_state, to_state=e.to_state,
                                  message=e.message) for e in events])
