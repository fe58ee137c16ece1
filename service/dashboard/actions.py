"""The alarm queue and the model registry pages, with their plain HTML forms.

Forms POST to page routes that call the same services as the API, commit, and redirect (303)
back to the page with a message or the error text, so a reload never re-submits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from service.alarms import service as alarms
from service.alarms.tables import OUTCOMES
from service.auth.deps import actor_of
from service.auth.pages import require_page
from service.dashboard import monitoring
from service.dashboard.render import PAGE_SIZE, checked_form, page_count, query, templates
from service.deps import BigIdPath, IdPath, PageQuery, RuntimeDep, SessionDep
from service.errors import WindwatchError
from service.registry import service as registry

router = APIRouter(include_in_schema=False)
QUEUES = {"active": ["open", "acknowledged"], "open": ["open"],
          "acknowledged": ["acknowledged"], "closed": ["closed"], "all": None}


def _back(path: str, params: dict, **changes: object) -> RedirectResponse:
    return RedirectResponse(path + query(params, **changes), status_code=303)


def _error_text(exc: Exception) -> str:
    return getattr(exc, "detail", None) or str(exc) or type(exc).__name__


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request, session: SessionDep, queue: str = "active",
                turbine: str | None = None, page: PageQuery = 1, msg: str | None = None,
                error: str | None = None) -> HTMLResponse:
    """The alarm queue (active by default), newest first, with ack and close forms."""
    queue = queue if queue in QUEUES else "active"
    page = max(page, 1)
    items, total = alarms.list_alarms(session=session, states=QUEUES[queue],
                                      turbine=turbine or None, limit=PAGE_SIZE,
                                      offset=(page - 1) * PAGE_SIZE)
    return templates.TemplateResponse(request, "alarms.html", {
        "items": items, "total": total, "queue": queue, "queues": list(QUEUES),
        "turbine": turbine or "", "page": page, "pages": page_count(total),
        "fault_types": sorted(alarms.fault_classes(session=session)), "outcomes": OUTCOMES,
        "msg": msg, "error": error, "params": {"queue": queue, "turbine": turbine},
        "active": "alarms"})


@router.post("/alarms/{alarm_id}/acknowledge")
async def acknowledge(alarm_id: BigIdPath, request: Request, session: SessionDep) -> RedirectResponse:
    """Acknowledge from the page (operator or admin); the logged-in person is recorded."""
    form = await checked_form(request)
    by = actor_of(require_page(request, "operate"), form.get("by"))
    params = {"queue": form.get("queue"), "turbine": form.get("turbine")}
    try:
        alarms.acknowledge(session=session, alarm_id=alarm_id, by=by,
                           comment=form.get("comment", ""))
        session.commit()
    except WindwatchError as exc:
        session.rollback()
        return _back("/alarms", params, error=_error_text(exc))
    return _back("/alarms", params, msg=f"alarm {alarm_id} acknowledged by {by}")


@router.post("/alarms/{alarm_id}/close")
async def close(alarm_id: BigIdPath, request: Request, session: SessionDep) -> RedirectResponse:
    """Close with feedback from the page: ``outcome``, ``fault_type``, ``comment``; the
    logged-in person (operator or admin) is who closed it."""
    form = await checked_form(request)
    by = actor_of(require_page(request, "operate"), form.get("by"))
    params = {"queue": form.get("queue"), "turbine": form.get("turbine")}
    outcome = form.get("outcome", "")
    missing = [k for k in ("outcome", "comment") if not form.get(k)]
    if outcome == "confirmed" and not form.get("fault_type"):
        missing.append("fault_type")
    if missing or outcome not in OUTCOMES:
        return _back("/alarms", params,
                     error=f"alarm {alarm_id}: fill in {', '.join(missing) or 'a valid outcome'}")
    fault_type = form.get("fault_type") if outcome == "confirmed" else None
    try:
        alarms.close(session=session, alarm_id=alarm_id, by=by, outcome=outcome,
                     fault_type=fault_type, comment=form["comment"])
        session.commit()
    except WindwatchError as exc:
        session.rollback()
        return _back("/alarms", params, error=_error_text(exc))
    what = f"confirmed {fault_type}" if fault_type else "false alarm"
    return _back("/alarms", params, msg=f"alarm {alarm_id} closed ({what}); its batches are "
                                        "labelled")


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, session: SessionDep, msg: str | None = None,
                error: str | None = None) -> HTMLResponse:
    """Every model version with its test/validation figures, confusion matrices and recorded
    evaluations; the fleet's drift at the last check."""
    versions = registry.list_versions(session=session)
    return templates.TemplateResponse(request, "models.html", {
        "versions": versions, "evaluations": {v.id: monitoring.evaluations(v.metrics)
                                              for v in versions},
        "drift": monitoring.fleet_drift(session=session), "msg": msg, "error": error,
        "active": "models"})


@router.post("/models/{version_id}/promote")
async def promote(version_id: IdPath, request: Request, session: SessionDep,
                  runtime: RuntimeDep) -> RedirectResponse:
    """Promote a version (loaded first, so that a bad artifact fails here, not at ingest)."""
    form = await checked_form(request)
    by = actor_of(require_page(request, "admin"), form.get("by") or "dashboard")
    reason = form.get("reason") or "promoted from the dashboard"
    try:
        version = runtime.promote(session=session, version_id=version_id, by=by, reason=reason)
    except WindwatchError as exc:
        session.rollback()
        return _back("/models", {}, error=_error_text(exc))
    session.commit()
    runtime.invalidate()
    return _back("/models", {}, msg=f"{version.name} (v{version.id}) is now in production")


@router.post("/models/rollback")
async def rollback(request: Request, session: SessionDep, runtime: RuntimeDep) -> RedirectResponse:
    """Put back the previously promoted version."""
    form = await checked_form(request)
    by = actor_of(require_page(request, "admin"), form.get("by") or "dashboard")
    try:
        version = runtime.rollback(session=session, by=by,
                                   reason=form.get("reason") or "rollback from the dashboard")
    except WindwatchError as exc:
        session.rollback()
        return _back("/models", {}, error=_error_text(exc))
    session.commit()
    runtime.invalidate()
    return _back("/models", {}, msg=f"rolled back to {version.name} (v{version.id})")
