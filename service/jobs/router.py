"""Jobs endpoints (list, get with events, start, cancel) and the latest drift check per sensor.

Starting and cancelling need the ``admin`` scope; the caller is recorded as who started or
cancelled. Jobs run in the scheduler process, never in an API worker.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from service.auth.deps import PrincipalDep, require
from service.deps import IdPath, LimitQuery, OffsetQuery, SessionDep, TextQuery
from service.jobs import drift
from service.jobs import service as jobs
from service.jobs.schemas import JobOut, JobPage, JobStart, job_out

router = APIRouter(tags=["jobs"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown credentials"},
    403: {"description": "the key or person lacks the scope"},
}
_READ = [Depends(require("read"))]
_ADMIN = [Depends(require("admin"))]


@router.get("/jobs", response_model=JobPage, dependencies=_READ,
            responses={**_AUTH, 422: {"description": "unknown kind or state, bad paging"}})
def list_jobs(session: SessionDep, kind: TextQuery = None, state: TextQuery = None,
              limit: LimitQuery = 50, offset: OffsetQuery = 0) -> JobPage:
    """Jobs, newest first; filter by ``kind`` and ``state``."""
    items, total = jobs.list_jobs(session=session, kind=kind or None, state=state or None,
                                  limit=limit, offset=offset)
    return JobPage(items=[job_out(j) for j in items], total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobOut, dependencies=_READ,
            responses={**_AUTH, 404: {"description": "no such job"}})
def get_job(job_id: IdPath, session: SessionDep) -> JobOut:
    """One job with its transitions, oldest first."""
    job = jobs.get_job(session=session, job_id=job_id)
    return job_out(job, jobs.events(session=session, job_id=job_id))


@router.post("/jobs", response_model=JobOut, status_code=201, dependencies=_ADMIN,
             responses={**_AUTH, 201: {"description": "queued"},
                        422: {"description": "unknown or unavailable kind, bad params"}})
def start_job(body: JobStart, session: SessionDep, principal: PrincipalDep) -> JobOut:
    """Queue a job of ``kind`` with ``params``; the scheduler runs it (one per kind at a time,
    the others wait queued). Needs the ``admin`` scope."""
    job = jobs.start(session=session, kind=body.kind, params=body.params,
                     started_by=principal.actor, source="api")
    session.commit()
    return job_out(job, jobs.events(session=session, job_id=job.id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, dependencies=_ADMIN,
             responses={**_AUTH, 404: {"description": "no such job"},
                        409: {"description": "the job already finished"}})
def cancel_job(job_id: IdPath, session: SessionDep, principal: PrincipalDep) -> JobOut:
    """Cancel a queued job, or ask a running one to stop at its next progress report.
    Needs the ``admin`` scope."""
    job = jobs.cancel(session=session, job_id=job_id, by=principal.actor)
    session.commit()
    return job_out(job, jobs.events(session=session, job_id=job_id))


@router.get("/drift", response_model=drift.DriftOut, dependencies=_READ,
            responses={**_AUTH, 422: {"description": "bad turbine filter"}})
def get_drift(session: SessionDep,
              turbine: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")]
              = None) -> drift.DriftOut:
    """Per sensor, the latest drift check: PSI of the recent predictions' features against the
    production model's training reference or the sensor's baseline (or why there is none)."""
    return drift.latest(session=session, turbine=turbine or None)
