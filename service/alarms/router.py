"""Alarm endpoints: the queue (filtered, paged), one alarm with its audit trail, acknowledge,
and close with feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.alarms import service
from service.alarms.schemas import (
    AcknowledgeIn,
    AlarmDetailOut,
    AlarmPage,
    CloseIn,
    Kind,
    Severity,
    State,
)
from service.auth.deps import OperateDep, actor_of
from service.deps import BigIdPath, OffsetQuery, SessionDep
from service.problems import problems

router = APIRouter(prefix="/alarms", tags=["alarms"])


@router.get("", response_model=AlarmPage)
def list_alarms(
    session: SessionDep,
    state: Annotated[list[State] | None, Query()] = None,
    turbine: str | None = None, sensor: str | None = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: OffsetQuery = 0,
) -> AlarmPage:
    """Alarms, newest opened first. ``state``, ``severity`` and ``kind`` may repeat
    (``?state=open&state=acknowledged`` is the active queue); ``turbine`` is its name."""
    items, total = service.list_alarms(
        session=session, states=state, turbine=turbine, sensor=sensor, severities=severity,
        kinds=kind, limit=limit, offset=offset,
    )
    return AlarmPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alarm_id}", response_model=AlarmDetailOut)
def get_alarm(alarm_id: BigIdPath, session: SessionDep) -> AlarmDetailOut:
    """One alarm with the ids of the batches that raised it and its events, oldest first."""
    return service.get_alarm(session=session, alarm_id=alarm_id)


@router.post("/{alarm_id}/acknowledge", response_model=AlarmDetailOut, responses=problems(409))
def acknowledge(alarm_id: BigIdPath, body: AcknowledgeIn, session: SessionDep,
                principal: OperateDep) -> AlarmDetailOut:
    """open -> acknowledged (409 from any other state); the caller is recorded as who."""
    service.acknowledge(session=session, alarm_id=alarm_id, by=actor_of(principal, body.by),
                        comment=body.comment)
    session.commit()
    return service.get_alarm(session=session, alarm_id=alarm_id)


@router.post("/{alarm_id}/close", response_model=AlarmDetailOut, responses=problems(409))
def close(alarm_id: BigIdPath, body: CloseIn, session: SessionDep,
          principal: OperateDep) -> AlarmDetailOut:
    """open|acknowledged -> closed with feedback, which labels the batches that raised the
    alarm (409 when already closed; 422 for an unknown fault type)."""
    service.close(session=session, alarm_id=alarm_id, by=actor_of(principal, body.by),
                  outcome=body.outcome,
                  fault_type=body.fault_type, comment=body.comment)
    session.commit()
    return service.get_alarm(session=session, alarm_id=alarm_id)
