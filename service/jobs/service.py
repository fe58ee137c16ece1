"""Jobs: start (kind and parameters validated), list, get, cancel, and the transition log.

Functions flush, never commit (routers, the CLI and the runner do). Every state change goes
through a conditional UPDATE on the current state, so a cancel racing the runner's claim or
finish never resurrects a finished job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, Result, func, select, update
from sqlalchemy.orm import Session

from service.auth import audit
from service.db import utcnow
from service.errors import BadRequest, Conflict, NotFound
from service.jobs.kinds import KINDS, KindUnavailable, load_kind
from service.jobs.tables import CANCELLED, FINISHED, QUEUED, RUNNING, SOURCES, STATES, Job, JobEvent


def rowcount(result: Result) -> int:
    """Rows an UPDATE matched (``Session.execute`` is typed as returning a plain ``Result``)."""
    return cast(CursorResult, result).rowcount


def record(session: Session, job_id: int, actor: str, action: str, from_state: str | None,
           to_state: str, message: str | None = None) -> None:
    """Append one transition to a job's audit trail."""
    session.add(JobEvent(job_id=job_id, actor=actor, action=action, from_state=from_state,
                         to_state=to_state, message=message))


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def validate_params(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The kind's parameters, validated by its ``Params`` model, as JSON-able data; BadRequest
    naming the problem for an unknown or unavailable kind or bad parameters."""
    if kind not in KINDS:
        raise BadRequest(f"unknown job kind {kind!r}; choose one of {sorted(KINDS)}")
    try:
        module = load_kind(kind)
    except KindUnavailable as exc:
        raise BadRequest(f"job kind {kind!r} is not available in this installation") from exc
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"params of a {kind!r} job must be an object")
    try:
        parsed = module.Params.model_validate(params or {})
    except ValidationError as exc:
        raise BadRequest(f"bad params for a {kind!r} job: {_problem(exc)}") from exc
    clean = parsed.model_dump(mode="json")
    bad = next((v for v in _strings(clean) if _CONTROL.search(v)), None)
    if bad is not None:
        # PostgreSQL's JSONB cannot hold NUL, and no parameter needs control characters.
        raise BadRequest(f"params of a {kind!r} job hold a control character in {bad[:40]!r}")
    return clean


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def start(*, session: Session, kind: str, params: dict[str, Any] | None, started_by: str,
          source: str) -> Job:
    """Queue a job (the scheduler process runs it); 422 for a bad kind or parameters."""
    if source not in SOURCES:
        raise BadRequest(f"unknown job source {source!r}; one of {list(SOURCES)}")
    clean = validate_params(kind, params)
    job = Job(kind=kind, params=clean, state=QUEUED, started_by=started_by, source=source,
              progress=0.0, log_tail="", cancel_requested=False, created_at=utcnow())
    session.add(job)
    session.flush()
    record(session, job.id, started_by, "queued", None, QUEUED)
    audit.record(session=session, actor=started_by, action="job.start", target=f"job:{job.id}",
                 details={"kind": kind, "source": source})
    session.flush()
    return job


def get_job(*, session: Session, job_id: int) -> Job:
    """One job (fresh from the database), or NotFound."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def events(*, session: Session, job_id: int) -> list[JobEvent]:
    """A job's transitions, oldest first."""
    return list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id)
                                .order_by(JobEvent.at, JobEvent.id)))


def list_jobs(*, session: Session, kind: str | None = None, state: str | None = None,
              limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
    """Jobs newest first, optionally of one kind and/or state, with the total count."""
    if state is not None and state not in STATES:
        raise BadRequest(f"unknown job state {state!r}; one of {list(STATES)}")
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"unknown job kind {kind!r}; choose one of {sorted(KINDS)}")
    where = [c for c in (Job.kind == kind if kind else None,
                         Job.state == state if state else None) if c is not None]
    total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    rows = session.scalars(select(Job).where(*where).order_by(Job.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), int(total)


def active_of_kind(*, session: Session, kind: str) -> Job | None:
    """The oldest queued or running job of ``kind`` (to avoid queueing duplicates)."""
    return session.scalar(select(Job).where(Job.kind == kind, Job.state.in_((QUEUED, RUNNING)))
                          .order_by(Job.id).limit(1))


def cancel(*, session: Session, job_id: int, by: str) -> Job:
    """Cancel a queued job at once, or ask a running one to stop at its next progress report;
    409 for a finished job. Audited as ``by`` (even when the job had already been asked)."""
    audit.record(session=session, actor=by, action="job.cancel", target=f"job:{job_id}")
    now = utcnow()
    done = session.execute(update(Job).where(Job.id == job_id, Job.state == QUEUED).values(
        state=CANCELLED, cancel_requested=True, finished_at=now,
        error=f"cancelled by {by} before it ran"))
    if rowcount(done):
        record(session, job_id, by, "cancelled", QUEUED, CANCELLED)
        session.flush()
        return get_job(session=session, job_id=job_id)
    asked = session.execute(update(Job).where(Job.id == job_id, Job.state == RUNNING,
                                              Job.cancel_requested.is_(False))
                            .values(cancel_requested=True))
    job = get_job(session=session, job_id=job_id)
    if rowcount(asked):
        record(session, job_id, by, "cancel_requested", RUNNING, RUNNING,
               "the job stops at its next progress report")
        session.flush()
        return job
    if job.state in FINISHED:
        raise Conflict(f"job {job_id} already {job.state}; only queued or running jobs can be "
                       "cancelled")
    return job  # running with a cancel already requested: nothing more to do
