"""The turbine page's baseline forms: "mark period as healthy" and "reset baseline".

Like every dashboard form they POST, call the same service as the API, commit, and redirect
(303) back to the turbine page with a message or the error text. Times from the page's
``datetime-local`` inputs carry no zone and are read as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from service.auth.pages import require_page
from service.baselines import fitting
from service.baselines import service as baselines
from service.dashboard.render import checked_form, query
from service.deps import SessionDep, SettingsDep
from service.errors import BadRequest, WindwatchError

router = APIRouter(include_in_schema=False)


def _back(turbine: str, **changes: object) -> RedirectResponse:
    return RedirectResponse(f"/turbines/{quote(turbine)}" + query({}, **changes), status_code=303)


def _utc(form: dict[str, str], key: str) -> datetime:
    value = form.get(key, "")
    if not value:
        raise BadRequest(f"fill in {key}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"invalid {key} {value!r}; use e.g. 2026-11-02T08:00") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _commit_or_error(session, name: str, sensor: str, action, message) -> RedirectResponse:
    """Run ``action()`` (returns the new baseline row), commit, and redirect with
    ``message(row)``; a domain error rolls back and redirects with its text."""
    try:
        _, row = action()
        session.commit()
    except WindwatchError as exc:
        session.rollback()
        return _back(name, error=f"{sensor}: {exc.detail}")
    return _back(name, msg=f"{sensor}: {message(row)}")


@router.post("/turbines/{name}/sensors/{sensor}/baseline/fit")
async def mark_healthy(name: str, sensor: str, request: Request, session: SessionDep,
                       settings: SettingsDep) -> RedirectResponse:
    """Fit a new baseline version from the sensor's snapshots in [start, end) (UTC)."""
    form = await checked_form(request)
    principal = require_page(request, "operate")
    return _commit_or_error(
        session, name, sensor,
        lambda: fitting.fit_period(session=session, turbine_name=name, sensor_name=sensor,
                                     start=_utc(form, "start"), end=_utc(form, "end"),
                                     threshold=settings.anomaly_threshold,
                                     actor=principal.actor,
                                     speed_bin_width=settings.baseline_speed_bin),
        lambda row: f"baseline v{row.version} fitted from {row.n_fitted} snapshots marked healthy"
                    f" ({baselines.describe_class(row)})")


@router.post("/turbines/{name}/sensors/{sensor}/baseline/reset")
async def reset(name: str, sensor: str, request: Request, session: SessionDep,
                settings: SettingsDep) -> RedirectResponse:
    """Start a new baseline version that learns from the sensor's next snapshots."""
    await checked_form(request)
    principal = require_page(request, "operate")
    return _commit_or_error(
        session, name, sensor,
        lambda: baselines.reset(session=session, turbine_name=name, sensor_name=sensor,
                                n_required=settings.baseline_snapshots,
                                threshold=settings.anomaly_threshold, actor=principal.actor),
        lambda row: f"baseline reset; v{row.version} learns from the next {row.n_required} "
                    "snapshots")
