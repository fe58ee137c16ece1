"""Turbine endpoints: the fleet with latest status, one turbine, its prediction history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from service.deps import SessionDep
from service.errors import BadRequest
from service.predictions import service as predictions
from service.predictions.schemas import PredictionPage
from service.turbines import service
from service.turbines.schemas import TurbineIn, TurbineOut, TurbinePage

router = APIRouter(prefix="/turbines", tags=["turbines"])


@router.get("", response_model=TurbinePage)
def list_turbines(
    session: SessionDep, q: str | None = None, site: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> TurbinePage:
    """Turbines ordered by name, each with its newest verdict."""
    rows, total = service.list_turbines(session=session, q=q, site=site, limit=limit, offset=offset)
    return TurbinePage(
        items=service.turbines_out(session=session, turbines=rows),
        total=total, limit=limit, offset=offset,
    )


@router.put("/{turbine_id}", response_model=TurbineOut, responses={201: {"description": "Created"}})
def put_turbine(
    turbine_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")], body: TurbineIn,
    session: SessionDep, response: Response,
) -> TurbineOut:
    """Register a turbine (201) or update its site (200)."""
    turbine, created = service.upsert_turbine(session=session, name=turbine_id, site=body.site)
    session.commit()
    response.status_code = 201 if created else 200
    return service.turbine_out(session=session, turbine=turbine)


@router.get("/{turbine_id}", response_model=TurbineOut)
def get_turbine(turbine_id: str, session: SessionDep) -> TurbineOut:
    """One turbine with its sensors and newest verdict."""
    turbine = service.get_turbine(session=session, name=turbine_id)
    return service.turbine_out(session=session, turbine=turbine)


@router.get("/{turbine_id}/predictions", response_model=PredictionPage)
def turbine_predictions(
    turbine_id: str, session: SessionDep, start: datetime | None = None,
    end: datetime | None = None, sensor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
) -> PredictionPage:
    """Predictions with ``start <= recorded_at < end``, newest first, keyset-paged."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise BadRequest(f"{name} must include a time zone (e.g. 2026-01-01T00:00:00Z)")
    turbine = service.get_turbine(session=session, name=turbine_id)
    sensor_id = None
    if sensor is not None:
        match = [s for s in turbine.sensors if s.name == sensor]
        if not match:
            raise BadRequest(f"turbine {turbine_id!r} has no sensor {sensor!r}")
        sensor_id = match[0].id
    items, nxt = predictions.list_predictions(
        session=session, turbine_id=turbine.id, start=start, end=end, sensor_id=sensor_id,
        limit=limit, cursor=cursor,
    )
    return PredictionPage(items=items, next_cursor=nxt)
