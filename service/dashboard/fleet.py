"""The fleet view's query: one page of turbines with health, active alarms and staleness.

Everything is decided in SQL so that search, filter, sort and paging stay server-side: the
newest verdict comes through the ``turbines.latest_prediction_id`` pointer (a primary-key join,
never a "latest row per group" over the predictions), and active alarms are aggregated over the
active rows only. At 10,000 turbines the page is one query plus one count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from service.alarms.tables import Alarm
from service.db import utcnow
from service.predictions.tables import Prediction
from service.turbines.tables import Turbine

# Health, worst first; the numbers are what the SQL CASE yields (sortable, filterable).
HEALTH = {3: "alarm", 2: "warning", 1: "ok", 0: "no data"}
HEALTH_CODES = {v: k for k, v in HEALTH.items()}
STATES = ("alarm", "warning", "ok", "no data", "stale")
SORTS = ("health", "name", "site", "alarms", "received", "score")
_SEV_RANK = case((Alarm.severity == "critical", 4), (Alarm.severity == "major", 3),
                 (Alarm.severity == "minor", 2), else_=1)


@dataclass(frozen=True)
class FleetRow:
    """One line of the fleet table."""

    name: str
    site: str | None
    health: str
    label: str | None
    score: float | None
    sensor_id: int | None
    recorded_at: datetime | None
    received_at: datetime | None
    active_alarms: int
    worst_severity: int
    stale: bool


def _active_alarms():
    """Per turbine: active alarm count and worst severity rank (over active alarms only)."""
    return (select(Alarm.turbine_id, func.count().label("n"), func.max(_SEV_RANK).label("sev"))
            .where(Alarm.active.is_(True)).group_by(Alarm.turbine_id).subquery())


def fleet_page(
    *, session: Session, q: str | None = None, site: str | None = None,
    state: str | None = None, sort: str = "health", desc: bool = True, limit: int = 50,
    offset: int = 0, stale_after: timedelta = timedelta(hours=1), now: datetime | None = None,
) -> tuple[list[FleetRow], int]:
    """A page of the fleet and the number of turbines matching the filter."""
    now = now or utcnow()
    al = _active_alarms()
    n_alarms = func.coalesce(al.c.n, 0)
    sev = func.coalesce(al.c.sev, 0)
    health = case(
        (Turbine.latest_prediction_id.is_(None), 0),
        (sev >= 3, 3),
        (or_(sev >= 1, Prediction.label != "normal"), 2),
        else_=1,
    )
    cutoff = now - stale_after
    stale = and_(Turbine.last_received_at.is_not(None), Turbine.last_received_at < cutoff)
    stmt = (select(Turbine.name, Turbine.site, health.label("health"), Prediction.label,
                   Prediction.score, Prediction.sensor_id, Prediction.recorded_at,
                   Turbine.last_received_at, n_alarms.label("n_alarms"), sev.label("sev"),
                   case((stale, literal(True)), else_=literal(False)).label("stale"))
            .select_from(Turbine)
            .outerjoin(Prediction, Prediction.id == Turbine.latest_prediction_id)
            .outerjoin(al, al.c.turbine_id == Turbine.id))
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Turbine.name.ilike(like), Turbine.site.ilike(like)))
    if site:
        stmt = stmt.where(Turbine.site == site)
    if state == "stale":
        stmt = stmt.where(stale)
    elif state in HEALTH_CODES:
        stmt = stmt.where(health == HEALTH_CODES[state])
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    key = {"health": health, "name": Turbine.name, "site": Turbine.site, "alarms": n_alarms,
           "received": Turbine.last_received_at, "score": Prediction.score}.get(sort, health)
    key = key.desc().nulls_last() if desc else key.asc().nulls_first()
    rows = session.execute(stmt.order_by(key, Turbine.name).limit(limit).offset(offset)).all()
    return [FleetRow(r.name, r.site, HEALTH[r.health], r.label, r.score, r.sensor_id,
                     r.recorded_at, r.last_received_at, r.n_alarms, r.sev, bool(r.stale))
            for r in rows], total


def sites(*, session: Session) -> list[str]:
    """Distinct sites (for the filter), via the (site, name) index."""
    return [s for s in session.scalars(select(Turbine.site).where(Turbine.site.is_not(None))
                                       .distinct().order_by(Turbine.site))]


def fleet_summary(*, session: Session) -> dict[str, int]:
    """Counts for the header: turbines and active alarms."""
    return {"turbines": session.scalar(select(func.count(Turbine.id))) or 0,
            "active_alarms": session.scalar(select(func.count(Alarm.id))
                                            .where(Alarm.active.is_(True))) or 0}
