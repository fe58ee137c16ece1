"""Component geometry endpoints: the bearing catalogue and each sensor's configuration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from pipelines.dsp.kinematics import BEARINGS
from service.auth import audit
from service.auth.deps import OperateDep
from service.components import service
from service.components.schemas import BearingOut, GeometryIn, GeometryOut
from service.deps import SessionDep

router = APIRouter(tags=["components"])
Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]


@router.get("/components/bearings", response_model=list[BearingOut])
def list_bearings() -> list[BearingOut]:
    """The bearing catalogue; ``approximate: true`` entries are estimates from boundary
    dimensions (see ``source``), to be replaced with the manufacturer's data."""
    return [
        BearingOut(designation=b.designation, kind=b.kind, n_elements=b.geometry.n_elements,
                   element_diameter_mm=round(b.geometry.ball_diameter, 4),
                   pitch_diameter_mm=round(b.geometry.pitch_diameter, 4),
                   contact_angle_deg=b.geometry.contact_angle_deg, approximate=b.approximate,
                   source=b.source,
                   defect_orders={k: round(v, 4) for k, v in b.geometry.defect_orders().items()})
        for b in BEARINGS.values()
    ]


@router.get("/turbines/{turbine_id}/sensors/{sensor}/geometry", response_model=GeometryOut)
def get_geometry(turbine_id: str, sensor: str, session: SessionDep) -> GeometryOut:
    """The sensor's configured geometry, or the assumed default (``assumed: true``)."""
    return service.get_geometry(session=session, turbine_name=turbine_id, sensor_name=sensor)


@router.put("/turbines/{turbine_id}/sensors/{sensor}/geometry", response_model=GeometryOut,
            responses={201: {"description": "Created"}})
def put_geometry(turbine_id: str, sensor: Name, body: GeometryIn, session: SessionDep,
                 response: Response, principal: OperateDep) -> GeometryOut:
    """Configure the bearing (catalogue designation or custom geometry) and gears of the shaft
    a sensor watches. The turbine must exist; the sensor is created if needed."""
    out, created = service.put_geometry(session=session, turbine_name=turbine_id,
                                        sensor_name=sensor, body=body)
    audit.record(session=session, actor=principal.actor, action="geometry.put",
                 target=f"turbine:{turbine_id}/sensor:{sensor}",
                 details=body.model_dump(mode="json", exclude_none=True))
    session.commit()
    response.status_code = 201 if created else 200
    return out


@router.delete("/turbines/{turbine_id}/sensors/{sensor}/geometry", status_code=204)
def delete_geometry(turbine_id: str, sensor: str, session: SessionDep, principal: OperateDep) -> Response:
    """Forget a sensor's configuration (explanations fall back to the assumed default)."""
    service.delete_geometry(session=session, turbine_name=turbine_id, sensor_name=sensor)
    audit.record(session=session, actor=principal.actor, action="geometry.delete",
                 target=f"turbine:{turbine_id}/sensor:{sensor}")
    session.commit()
    return Response(status_code=204)
