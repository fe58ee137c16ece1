"""Turbine and sensor lookups, registration, and the fleet listing."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from service.errors import NotFound
from service.settings import API_PREFIX
from service.turbines.tables import Sensor, Turbine


def get_turbine(*, session: Session, name: str) -> Turbine:
    """The turbine called ``name``, or NotFound."""
    turbine = session.scalar(select(Turbine).where(Turbine.name == name))
    if turbine is None:
        raise NotFound(f"turbine {name!r} not found")
    return turbine


def _get_or_create(session: Session, model, where, **values):
    """Race-safe get-or-create: a concurrent insert of the same key loses to the savepoint."""
    row = session.scalar(select(model).where(*where))
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = model(**values)
            session.add(row)
    except IntegrityError:
        row = session.scalar(select(model).where(*where))
    return row


def get_or_create_turbine(
    *, session: Session, name: str, auto_register: bool, site: str | None = None
) -> Turbine:
    """The turbine called ``name``; registered on first sight when ``auto_register``."""
    if not auto_register:
        return get_turbine(session=session, name=name)
    return _get_or_create(session, Turbine, [Turbine.name == name], name=name, site=site)


def get_or_create_sensor(
    *, session: Session, turbine: Turbine, name: str, component: str | None = None
) -> Sensor:
    """The turbine's sensor called ``name``, created if new."""
    return _get_or_create(
        session, Sensor, [Sensor.turbine_id == turbine.id, Sensor.name == name],
        turbine_id=turbine.id, name=name, component=component,
    )


def list_turbines(
    *, session: Session, q: str | None = None, site: str | None = None, limit: int = 100,
    offset: int = 0,
) -> tuple[list[Turbine], int]:
    """A page of turbines ordered by name, with the total count for the filter."""
    stmt = select(Turbine)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Turbine.name.ilike(like), Turbine.site.ilike(like)))
    if site:
        stmt = stmt.where(Turbine.site == site)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Turbine.sensors)).order_by(Turbine.name).limit(limit).offset(offset)
    )
    return list(rows), total


def turbines_out(*, session: Session, turbines: list[Turbine]):
    """Turbines with their sensors and newest verdict: one query for all the verdicts (through
    the ``latest_prediction_id`` pointer), not one per turbine."""
    from service.predictions.service import get_predictions
    from service.turbines.schemas import SensorOut, TurbineOut

    latest = get_predictions(session=session, prediction_ids=[
        t.latest_prediction_id for t in turbines if t.latest_prediction_id is not None])
    return [
        TurbineOut(
            turbine_id=t.name, site=t.site, created_at=t.created_at,
            last_recorded_at=t.last_recorded_at, last_received_at=t.last_received_at,
            sensors=[SensorOut(name=s.name, component=s.component) for s in t.sensors],
            latest_prediction=latest.get(t.latest_prediction_id),
            links={"self": f"{API_PREFIX}/turbines/{t.name}",
                   "predictions": f"{API_PREFIX}/turbines/{t.name}/predictions"},
        )
        for t in turbines
    ]


def turbine_out(*, session: Session, turbine: Turbine):
    """One turbine with its sensors and newest verdict."""
    return turbines_out(session=session, turbines=[turbine])[0]


def upsert_turbine(*, session: Session, name: str, site: str | None) -> tuple[Turbine, bool]:
    """Register a turbine or update its site; returns (turbine, created)."""
    existing = session.scalar(select(Turbine).where(Turbine.name == name))
    if existing is not None:
        existing.site = site
        session.flush()
        return existing, False
    turbine = _get_or_create(session, Turbine, [Turbine.name == name], name=name, site=site)
    session.flush()
    return turbine, True
