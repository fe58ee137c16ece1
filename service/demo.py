"""The demo fleet behind ``make run``: a simulated gateway posting to this very server over HTTP.

It registers the fleet's turbines with their sites, posts two hours of history (faults growing
in some turbines), then one snapshot per turbine every ``demo_interval_s``. Posts carry
deterministic idempotency keys, so a restart replays rather than duplicates the history.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import structlog

from service.settings import Settings

log = structlog.get_logger("windwatch.demo")
HISTORY = 12  # ten-minute snapshots = two hours


def _wait_healthy(http: httpx.Client, timeout_s: float = 300.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if http.get("/healthz").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def geometry_body(t) -> dict:
    """The geometry request of a simulated turbine's sensor (its high-speed-shaft bearing)."""
    b = t.drivetrain.bearing
    return {"n_elements": b.n_elements, "element_diameter_mm": b.ball_diameter,
            "pitch_diameter_mm": b.pitch_diameter, "contact_angle_deg": b.contact_angle_deg,
            "notes": "simulated drivetrain (demo fleet)"}


DEMO_KEY = "demo-gateway"


def demo_gateway_key(settings: Settings) -> str:
    """The demo gateway's own API key (ingest, plus operate to register its turbines' sites
    and bearings as a commissioning engineer would), kept like a real gateway keeps it: in a
    0600 file (``<data_root>/demo-gateway.key``), re-issued if missing or revoked."""
    from sqlalchemy import select

    from service.auth import service as auth
    from service.auth.tables import ApiKey
    from service.db import get_engine, session_factory

    path = settings.data_root / "demo-gateway.key"
    with session_factory(get_engine(settings.database_url))() as session:
        if path.exists():
            try:
                auth.key_principal(session=session, token=path.read_text().strip())
                return path.read_text().strip()
            except Exception:  # revoked, expired or from another database: issue a new one
                pass
        for old in session.scalars(select(ApiKey).where(ApiKey.name == DEMO_KEY)):
            old.name = f"{DEMO_KEY}-retired-{old.id}"
            old.revoked_at = old.revoked_at or old.created_at
        _, secret = auth.create_key(session=session, name=DEMO_KEY, scopes=["ingest", "operate"],
                                    created_by="demo")
        session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def run_demo_feed(settings: Settings, stop: threading.Event) -> None:
    """Post the simulated demo fleet to this server until ``stop`` is set."""
    from simulation.drivetrain import demo_fleet
    from simulation.gateway import GatewayClient, run_gateway

    url = f"http://{settings.host}:{settings.port}"
    fleet = demo_fleet(settings.demo_turbines, seed=0)
    # One turbine carries an advanced fault from the start, so that the alarm queue of a fresh
    # demo has something to look at.
    k = next((i for i, t in enumerate(fleet) if t.fault != "normal"), None)
    if k is not None:
        advanced = replace(fleet[k].drivetrain, impact_g=2.5 * fleet[k].drivetrain.impact_g)
        fleet[k] = replace(fleet[k], severity_start=1.0, severity_end=1.0, drivetrain=advanced)
    key = demo_gateway_key(settings) if settings.auth_enabled else None
    headers = {"Authorization": f"Bearer {key}"} if key else None
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        if not _wait_healthy(http):
            log.error("demo feed: server never became healthy", url=url)
            return
        for t in fleet:
            http.put(f"/api/v1/turbines/{t.turbine_id}", json={"site": t.site})
            # The simulated drivetrains carry their bearing geometry, as a commissioning
            # engineer would register it: the defect-order diagnosis needs it.
            http.put(f"/api/v1/turbines/{t.turbine_id}/sensors/{t.sensor}/geometry",
                     json=geometry_body(t))
    with GatewayClient(url, api_key=key) as client:
        n = run_gateway(url, fleet, n_snapshots=HISTORY, fmt="arrow", stop=stop, client=client)
        log.info("demo feed: history posted", snapshots=n, turbines=len(fleet))
        # Live: faults stay at their final severity; one snapshot per turbine per interval.
        live = [replace(t, severity_start=t.severity_end) for t in fleet]
        while not stop.wait(settings.demo_interval_s):
            now = datetime.now(UTC).replace(microsecond=0)
            run_gateway(url, live, n_snapshots=1, start=now, fmt="arrow", stop=stop, client=client)


def start_demo_feed(settings: Settings) -> threading.Event:
    """Start the feed in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_demo_feed, args=(settings, stop), daemon=True,
                     name="demo-feed").start()
    return stop
