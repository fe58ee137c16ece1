"""Dashboard pages: the fleet view at ``/`` and a turbine's evidence at ``/turbines/{name}``,
plus the small JSON endpoint the turbine page's spectra charts load. Alarms and models pages
live in :mod:`service.dashboard.actions` (included below)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select

from service.alarms import service as alarms
from service.batches.tables import Batch
from service.dashboard import fleet, monitoring, views
from service.dashboard.actions import router as actions_router
from service.dashboard.baseline_forms import router as baseline_forms_router
from service.dashboard.jobs import router as jobs_router
from service.dashboard.render import PAGE_SIZE, page_count, templates
from service.deps import BatchIdPath, PageQuery, SessionDep, SettingsDep, StoreDep
from service.errors import BadRequest, NotFound
from service.registry import service as registry
from service.turbines import service as turbines

router = APIRouter(include_in_schema=False)
router.include_router(actions_router)
router.include_router(baseline_forms_router)
router.include_router(jobs_router)
STATIC_DIR = Path(__file__).parent / "static"  # mounted at /static by service.main
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "1y": timedelta(days=365)}


@router.get("/", response_class=HTMLResponse)
def fleet_page(
    request: Request, session: SessionDep, settings: SettingsDep, q: str | None = None,
    site: str | None = None, state: str | None = None, sort: str = "health",
    order: str = "desc", page: PageQuery = 1,
) -> HTMLResponse:
    """Every turbine, worst first: health, active alarms, last data, stale-data warning."""
    page = max(page, 1)
    sort = sort if sort in fleet.SORTS else "health"
    stale_h = settings.stale_after_h
    rows, total = fleet.fleet_page(
        session=session, q=q, site=site or None, state=state or None, sort=sort,
        desc=order != "asc", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
        stale_after=timedelta(hours=stale_h))
    params = {"q": q, "site": site, "state": state, "sort": sort, "order": order}
    return templates.TemplateResponse(request, "fleet.html", {
        "rows": rows, "total": total, "page": page, "pages": page_count(total),
        "params": params, "sites": fleet.sites(session=session), "states": fleet.STATES,
        "summary": fleet.fleet_summary(session=session), "stale_h": stale_h,
        "model": registry.production(session=session), "active": "fleet"})


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"invalid time {value!r}; use ISO 8601, e.g. 2026-11-02T08:00") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@router.get("/turbines/{name}", response_class=HTMLResponse)
def turbine_page(request: Request, name: str, session: SessionDep, start: str | None = None,
                 end: str | None = None, span: str | None = None, msg: str | None = None,
                 error: str | None = None) -> HTMLResponse:
    """Per sensor: probability and RMS trends, latest spectrogram with saliency, spectra with
    defect lines, the latest drift verdict; the turbine's alarms and batches. Range:
    ``start``/``end`` (ISO, UTC) or a ``span`` back from the newest data (default 7 days)."""
    turbine = turbines.get_turbine(session=session, name=name)
    t_end, t_start = _parse_time(end), _parse_time(start)
    if t_start is None and (span or not t_end):
        anchor = t_end or turbine.last_recorded_at or datetime.now(UTC)
        t_end = t_end or anchor + timedelta(seconds=1)  # include the newest snapshot itself
        t_start = None if span == "all" else t_end - RANGES.get(span or "7d", RANGES["7d"])
    sensors = list(turbine.sensors)
    trends = [views.sensor_trends(session=session, turbine=turbine, sensor=s, start=t_start,
                                  end=t_end) for s in sensors]
    latest = views.latest_batches(session=session, sensor_ids=[s.id for s in sensors], end=t_end)
    drift = monitoring.sensor_drift(session=session, turbine=turbine.name,
                                    sensors=[s.name for s in sensors])
    for s, tr in zip(sensors, trends, strict=True):
        tr["latest"] = latest.get(s.id)
    active, _ = alarms.list_alarms(session=session, turbine=name,
                                   states=["open", "acknowledged"], limit=100)
    return templates.TemplateResponse(request, "turbine.html", {
        "turbine": turbine, "trends": trends, "trends_json": json.dumps(trends),
        "batches": views.batch_list(session=session, turbine=turbine, start=t_start, end=t_end),
        "alarms": active, "start": t_start, "end": t_end, "span": span, "ranges": list(RANGES),
        "drift": drift, "msg": msg, "error": error, "active": "fleet"})


@router.get("/ui/batches/{batch_id}/spectra.json")
def batch_spectra(batch_id: BatchIdPath, session: SessionDep, store: StoreDep) -> JSONResponse:
    """Spectrum and envelope spectrum of a batch's first channel with defect frequencies (read
    through the bounded raw reader: at most ``storage.READ_MAX_SAMPLES`` samples)."""
    batch = session.scalar(select(Batch).where(Batch.id == batch_id))
    if batch is None:
        raise NotFound(f"batch {batch_id} not found")
    return JSONResponse(views.batch_spectra(session=session, store=store, batch=batch))
