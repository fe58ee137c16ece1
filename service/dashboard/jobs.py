"""The jobs page: queued, running and finished jobs with progress bars and durations, the
schedules with their next run, a start form, cancel forms, and one job's events and log.

Forms POST here, call ``service.jobs.service`` like the API does, commit and redirect (303).
Starting and cancelling need the admin role; the person (or key) is recorded as who started.
While a job is queued or running the page reloads itself every few seconds with a
``<meta http-equiv="refresh">`` (no script: the Content-Security-Policy allows none inline).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from service.auth.deps import actor_of
from service.auth.pages import require_page
from service.dashboard.render import PAGE_SIZE, checked_form, page_count, query, templates
from service.deps import IdPath, PageQuery, SessionDep, SettingsDep
from service.errors import WindwatchError
from service.jobs import service as jobs
from service.jobs.kinds import KINDS
from service.jobs.scheduler import schedules
from service.jobs.schemas import duration_s
from service.jobs.tables import QUEUED, RUNNING, STATES, Job

router = APIRouter(include_in_schema=False)
REFRESH_S = 5
TONES = {"queued": "muted", "running": "warn", "succeeded": "good", "failed": "bad",
         "cancelled": "muted"}


def _back(params: dict, **changes: object) -> RedirectResponse:
    return RedirectResponse("/jobs" + query(params, **changes), status_code=303)


def model_links(job: Job) -> list[int]:
    """Model version ids a job's parameters or result name (``...version_id`` keys)."""
    ids: list[int] = []
    for source in (job.params or {}, job.result or {}):
        for key, value in source.items():
            if key.endswith("version_id") and isinstance(value, int) and value not in ids:
                ids.append(value)
    return ids


def _row(job: Job) -> dict:
    return {"job": job, "duration_s": duration_s(job), "models": model_links(job),
            "tone": TONES.get(job.state, "muted")}


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, session: SessionDep, settings: SettingsDep,
              kind: str | None = None, state: str | None = None, page: PageQuery = 1,
              msg: str | None = None, error: str | None = None) -> HTMLResponse:
    """Jobs newest first (filter by kind and state), the schedules, start and cancel forms."""
    page = max(page, 1)
    kind = kind if kind in KINDS else None
    state = state if state in STATES else None
    items, total = jobs.list_jobs(session=session, kind=kind, state=state, limit=PAGE_SIZE,
                                  offset=(page - 1) * PAGE_SIZE)
    active = any(j.state in (QUEUED, RUNNING) for j in items)
    return templates.TemplateResponse(request, "jobs.html", {
        "rows": [_row(j) for j in items], "total": total, "page": page,
        "pages": page_count(total), "kinds": sorted(KINDS), "states": STATES,
        "params": {"kind": kind, "state": state}, "schedules": schedules(settings),
        "refresh_s": REFRESH_S if active else None, "msg": msg, "error": error,
        "active": "jobs"})


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: IdPath, session: SessionDep) -> HTMLResponse:
    """One job: parameters, progress, events, log tail and result."""
    job = jobs.get_job(session=session, job_id=job_id)
    return templates.TemplateResponse(request, "job.html", {
        **_row(job), "events": jobs.events(session=session, job_id=job_id),
        "params_json": json.dumps(job.params, indent=1),
        "result_json": json.dumps(job.result, indent=1) if job.result is not None else None,
        "refresh_s": REFRESH_S if job.state in (QUEUED, RUNNING) else None, "active": "jobs"})


@router.post("/jobs")
async def start(request: Request, session: SessionDep) -> RedirectResponse:
    """Start a job from the form: ``kind`` and ``params`` (a JSON object, empty for none)."""
    form = await checked_form(request)
    by = actor_of(require_page(request, "admin"))
    kind, raw = form.get("kind", ""), form.get("params") or "{}"
    try:
        params = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _back({}, error=f"params is not JSON: {exc.msg} at character {exc.pos}")
    try:
        job = jobs.start(session=session, kind=kind, params=params, started_by=by,
                         source="dashboard")
        session.commit()
    except WindwatchError as exc:
        session.rollback()
        return _back({}, error=exc.detail)
    return _back({}, msg=f"job {job.id} ({kind}) queued; the scheduler starts it")


@router.post("/jobs/{job_id}/cancel")
async def cancel(job_id: IdPath, request: Request, session: SessionDep) -> RedirectResponse:
    """Cancel a queued job, or ask a running one to stop."""
    form = await checked_form(request)
    by = actor_of(require_page(request, "admin"))
    params = {"kind": form.get("kind") or None, "state": form.get("state") or None}
    try:
        job = jobs.cancel(session=session, job_id=job_id, by=by)
        session.commit()
    except WindwatchError as exc:
        session.rollback()
        return _back(params, error=exc.detail)
    what = "cancelled" if job.state == "cancelled" else "asked to stop"
    return _back(params, msg=f"job {job_id} {what}")
