"""Reading and writing a sensor's component geometry; the kinematics explanations use."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipelines.dsp.kinematics import BEARINGS, DEFAULT_BEARING, BearingGeometry, find_bearing, planetary_stage
from pipelines.explain.physics import Kinematics
from pipelines.inference.shaft import ShaftContext
from service.components.schemas import BearingOut, GearIn, GeometryIn, GeometryOut, PlanetaryIn
from service.components.tables import SensorGeometry
from service.db import utcnow
from service.errors import BadRequest, InvalidBatch, NotFound
from service.turbines import service as turbines
from service.turbines.tables import Sensor, Turbine


@dataclass(frozen=True)
class SensorKinematics:
    """What a sensor's configuration (or the assumed default) says about its shaft."""

    bearing: BearingGeometry
    designation: str | None
    approximate: bool
    source: str
    gear_orders: dict[str, float] = field(default_factory=dict)
    shaft_speed_ratio: float = 1.0
    rpm_range: tuple[float, float] | None = None
    assumed: bool = False

    def at(self, shaft_hz: float) -> Kinematics:
        """The line-placing kinematics at a shaft speed (Hz, of the watched shaft)."""
        return Kinematics(shaft_hz, self.bearing, dict(self.gear_orders))


def gear_orders(gears: list[dict], planetary: dict | None) -> dict[str, float]:
    """Mesh frequency / watched shaft speed for each gear and the planetary stage."""
    out = {g["name"]: g["teeth"] * g.get("speed_ratio", 1.0) for g in gears}
    if planetary:
        st = planetary_stage(planetary["sun_teeth"], planetary["planet_teeth"],
                             planetary["ring_teeth"], planetary["carrier_speed_ratio"],
                             planetary.get("n_planets", 3))
        out["planetary"] = st.mesh_hz  # at unit shaft speed, the mesh order
    return out


def sensor_kinematics(row: SensorGeometry | None) -> SensorKinematics:
    """The configured kinematics, or the default catalogue bearing flagged ``assumed``."""
    if row is None:
        b = BEARINGS[DEFAULT_BEARING]
        return SensorKinematics(b.geometry, b.designation, b.approximate, b.source, assumed=True)
    cat = find_bearing(row.bearing_designation) if row.bearing_designation else None
    geom = BearingGeometry(row.n_elements, row.element_diameter_mm, row.pitch_diameter_mm,
                           row.contact_angle_deg)
    rng = (row.rpm_min, row.rpm_max) if row.rpm_min is not None else None
    return SensorKinematics(
        geom, row.bearing_designation, bool(cat and cat.approximate),
        cat.source if cat else "custom geometry", gear_orders(row.gears or [], row.planetary),
        row.shaft_speed_ratio, rng, assumed=False)


def kinematics_for_sensor(*, session: Session, sensor_id: int) -> SensorKinematics:
    """The kinematics of a sensor's shaft (the assumed default if unconfigured)."""
    row = session.scalar(select(SensorGeometry).where(SensorGeometry.sensor_id == sensor_id))
    return sensor_kinematics(row)


def shaft_context(*, session: Session, turbine_name: str, sensor_name: str,
                  rpm: float | None) -> ShaftContext:
    """What the diagnosis needs of a sensor's shaft: registered defect orders (None when the
    sensor or its geometry is unknown: then they are assumed), rpm range and speed ratio.

    Raises InvalidBatch if ``rpm`` lies outside the geometry's registered rpm range."""
    row = session.scalar(
        select(SensorGeometry).join(Sensor, Sensor.id == SensorGeometry.sensor_id)
        .join(Turbine, Turbine.id == Sensor.turbine_id)
        .where(Turbine.name == turbine_name, Sensor.name == sensor_name))
    if row is None:
        return ShaftContext(rpm=rpm)
    kin = sensor_kinematics(row)
    ctx = ShaftContext(rpm=rpm, defect_orders=kin.bearing.defect_orders(),
                       rpm_range=kin.rpm_range, shaft_speed_ratio=kin.shaft_speed_ratio)
    if ctx.rpm_outside_range:
        lo, hi = kin.rpm_range or (0.0, 0.0)
        raise InvalidBatch(f"rpm {rpm:g} is outside the range registered for sensor "
                           f"{sensor_name!r} of {turbine_name!r} ({lo:g}-{hi:g} rpm)")
    return ctx


def _sensor(session: Session, turbine_name: str, sensor_name: str, create: bool) -> Sensor:
    turbine = turbines.get_turbine(session=session, name=turbine_name)
    if create:
        return turbines.get_or_create_sensor(session=session, turbine=turbine, name=sensor_name)
    sensor = next((s for s in turbine.sensors if s.name == sensor_name), None)
    if sensor is None:
        raise NotFound(f"turbine {turbine_name!r} has no sensor {sensor_name!r}")
    return sensor


def geometry_out(turbine_name: str, sensor_name: str, row: SensorGeometry | None) -> GeometryOut:
    """The response body of a sensor's geometry (configured or assumed)."""
    k = sensor_kinematics(row)
    cat = find_bearing(k.designation) if k.designation else None
    g = k.bearing
    return GeometryOut(
        turbine_id=turbine_name, sensor=sensor_name, assumed=k.assumed,
        bearing=BearingOut(
            designation=k.designation, kind=cat.kind if cat else None, n_elements=g.n_elements,
            element_diameter_mm=round(g.ball_diameter, 4),
            pitch_diameter_mm=round(g.pitch_diameter, 4),
            contact_angle_deg=g.contact_angle_deg, approximate=k.approximate, source=k.source,
            defect_orders={n: round(v, 4) for n, v in g.defect_orders().items()}),
        gears=[GearIn(**d) for d in (row.gears if row else [])],
        planetary=PlanetaryIn(**row.planetary) if row and row.planetary else None,
        gear_mesh_orders={n: round(v, 4) for n, v in k.gear_orders.items()},
        shaft_speed_ratio=k.shaft_speed_ratio,
        rpm_min=row.rpm_min if row else None, rpm_max=row.rpm_max if row else None,
        notes=row.notes if row else None, updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
    )


def get_geometry(*, session: Session, turbine_name: str, sensor_name: str) -> GeometryOut:
    """The sensor's configuration, or the assumed default (``assumed: true``)."""
    sensor = _sensor(session, turbine_name, sensor_name, create=False)
    row = session.scalar(select(SensorGeometry).where(SensorGeometry.sensor_id == sensor.id))
    return geometry_out(turbine_name, sensor_name, row)


def put_geometry(*, session: Session, turbine_name: str, sensor_name: str,
                 body: GeometryIn) -> tuple[GeometryOut, bool]:
    """Configure a sensor (created if the turbine has no such sensor yet); (out, created)."""
    if body.bearing is not None:
        cat = find_bearing(body.bearing)
        if cat is None:
            raise BadRequest(f"unknown bearing {body.bearing!r}; catalogue: "
                               f"{', '.join(BEARINGS)} (or give a custom geometry)")
        geom, designation = cat.geometry, cat.designation
    else:
        try:
            geom = BearingGeometry(body.n_elements, body.element_diameter_mm,
                                   body.pitch_diameter_mm, body.contact_angle_deg or 0.0)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        designation = None
    sensor = _sensor(session, turbine_name, sensor_name, create=True)
    row = session.scalar(select(SensorGeometry).where(SensorGeometry.sensor_id == sensor.id))
    created = row is None
    if created:
        row = SensorGeometry(sensor_id=sensor.id)
        session.add(row)
    row.bearing_designation = designation
    row.n_elements, row.element_diameter_mm = geom.n_elements, geom.ball_diameter
    row.pitch_diameter_mm, row.contact_angle_deg = geom.pitch_diameter, geom.contact_angle_deg
    row.gears = [g.model_dump() for g in body.gears]
    row.planetary = body.planetary.model_dump() if body.planetary else None
    row.shaft_speed_ratio = body.shaft_speed_ratio
    row.rpm_min, row.rpm_max, row.notes = body.rpm_min, body.rpm_max, body.notes
    row.updated_at, row.updated_by = utcnow(), body.by
    session.flush()
    return geometry_out(turbine_name, sensor_name, row), created


def delete_geometry(*, session: Session, turbine_name: str, sensor_name: str) -> None:
    """Forget a sensor's configuration (explanations fall back to the assumed default)."""
    sensor = _sensor(session, turbine_name, sensor_name, create=False)
    row = session.scalar(select(SensorGeometry).where(SensorGeometry.sensor_id == sensor.id))
    if row is None:
        raise NotFound(f"sensor {sensor_name!r} of {turbine_name!r} has no configured geometry")
    session.delete(row)
    session.flush()
