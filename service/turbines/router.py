"""Turbine endpoints: the fleet with latest status, one turbine, its prediction history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.auth import audit
from service.auth.deps import OperateDep
from service.deps import LimitQuery, OffsetQuery, SessionDep, TextQuery, TurbineIdPath
from service.errors import BadRequest
from service.predictions import service as predictions
from service.predictions.schemas import PredictionPage
from service.turbines import service
from service.turbines.schemas import TurbineIn, TurbineOut, TurbinePage
from service.validation import ID_PATTERN, MAX_BIG_INT

router = APIRouter(prefix="/turbines", tags=["turbines"])


@router.get("", response_model=TurbinePage)
def list_turbines(
    session: SessionDep, q: TextQuery = None, site: TextQuery = None,
    limit: LimitQuery = 100, offset: OffsetQuery = 0,
) -> TurbinePage:
    """Turbines ordered by name, each with its newest verdict."""
    rows, total = service.list_turbines(session=session, q=q, site=site, limit=limit, offset=offset)
    return TurbinePage(
        items=service.turbines_out(session=session, turbines=rows),
        total=total, limit=limit, offset=offset,
    )


@router.put("/{turbine_id}", response_model=TurbineOut, responses={201: {"description": "Created"}})
def put_turbine(
    turbine_id: TurbineIdPath, body: TurbineIn,
    session: SessionDep, response: Response, principal: OperateDep,
) -> TurbineOut:
    """Register a turbine (201) or update its site (200); needs the ``operate`` scope."""
    turbine, created = service.upsert_turbine(session=session, name=turbine_id, site=body.site)
    audit.record(session=session, actor=principal.actor, action="turbine.put",
                 target=f"turbine:{turbine_id}", details={"site": body.site})
    session.commit()
    response.status_code = 201 if created else 200
    return service.turbine_out(session=session, turbine=turbine)


@router.get("/{turbine_id}", response_model=TurbineOut)
def get_turbine(turbine_id: TurbineIdPath, session: SessionDep) -> TurbineOut:
    """One turbine with its sensors and newest verdict."""
    turbine = service.get_turbine(session=session, name=turbine_id)
    return service.turbine_out(session=session, turbine=turbine)


@router.get("/{turbine_id}/predictions", response_model=PredictionPage)
def turbine_predictions(
    turbine_id: TurbineIdPath, session: SessionDep, start: datetime | None = None,
    end: datetime | None = None,
    sensor: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: LimitQuery = 100, cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> PredictionPage:
    """Predictions with ``start <= recorded_at < end``, newest first, keyset-paged."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise BadRequest(f"{name} must include a time zone (e.g. 2026-01-01T00:00:00Z)")
    if cursor and not 0 < predictions.decode_cursor(cursor)[1] <= MAX_BIG_INT:
        raise BadRequest(f"invalid cursor {cursor!r}: its id is out of range")
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
