"""Seed a running Windwatch through its public API: a small simulated fleet (one turbine with an
advanced fault), real CWRU recordings (inner and outer race), and one high-amplitude snapshot
that opens a zone alarm. Also runnable by hand: ``python -m tests.browser.seed URL``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import scipy.io

from service.demo import geometry_body
from simulation.drivetrain import demo_fleet, fleet_snapshots
from simulation.gateway import GatewayClient

ZONE_TURBINE, ZONE_SENSOR = "WT-ZONE", "gearbox_hss"
# name, variable number, turbine: 3 s segments of the drive-end accelerometer each
CWRU_RECORDINGS = (("12k_Drive_End_IR007_2_107.mat", 107, "CWRU-IR"),
                   ("12k_Drive_End_OR021@6_2_236.mat", 236, "CWRU-OR"))


@dataclass
class Seeded:
    """What the seeding produced, for the assertions."""

    fleet: list[str] = field(default_factory=list)
    cwru: dict[str, list[int]] = field(default_factory=dict)  # turbine -> batch ids
    zone_batch: int | None = None


def _check(r: httpx.Response) -> dict:
    if r.status_code not in (200, 201):
        raise RuntimeError(f"seeding failed: {r.status_code} {r.text[:500]}")
    return r.json()


def seed(base_url: str, cwru_dir: Path | None, n_turbines: int = 5, n_snapshots: int = 4,
         duration_s: float = 2.0, headers: dict[str, str] | None = None) -> Seeded:
    """Post the seed data; CWRU parts are skipped when ``cwru_dir`` is None or missing."""
    out = Seeded()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=10 * (n_snapshots + 1))
    fleet = demo_fleet(n_turbines, seed=0)
    k = next(i for i, t in enumerate(fleet) if t.fault != "normal")
    advanced = replace(fleet[k].drivetrain, impact_g=2.5 * fleet[k].drivetrain.impact_g)
    fleet[k] = replace(fleet[k], severity_start=1.0, severity_end=1.0, drivetrain=advanced)
    key = (headers or {}).get("Authorization", "").removeprefix("Bearer ") or None
    with GatewayClient(base_url, api_key=key) as gw, \
            httpx.Client(base_url=base_url, timeout=30, headers=headers) as http:
        for t in fleet:
            _check(http.put(f"/api/v1/turbines/{t.turbine_id}", json={"site": t.site}))
            _check(http.put(f"/api/v1/turbines/{t.turbine_id}/sensors/{t.sensor}/geometry",
                            json=geometry_body(t)))
            out.fleet.append(t.turbine_id)
        for s in fleet_snapshots(fleet, n_snapshots, start, duration_s=duration_s):
            _check(gw.post_batch(s.turbine_id, s.x, s.fs_hz, s.recorded_at, s.sensor, rpm=s.rpm,
                                 channel_names=s.channel_names))
        if cwru_dir is not None and cwru_dir.exists():
            for name, number, turbine in CWRU_RECORDINGS:
                _check(http.put(f"/api/v1/turbines/{turbine}", json={"site": "CWRU rig"}))
                _check(http.put(f"/api/v1/turbines/{turbine}/sensors/drive_end/geometry",
                                json={"bearing": "SKF 6205-2RS"}))
                x = scipy.io.loadmat(cwru_dir / name)[f"X{number:03d}_DE_time"].ravel()
                x = x.astype(np.float32)
                for j in range(3):  # three consecutive snapshots: enough for N=3 of M=5
                    seg = x[j * 36_000:(j + 1) * 36_000][None]
                    at = start + timedelta(minutes=10 * j)
                    r = _check(gw.post_batch(turbine, seg, 12_000.0, at, "drive_end", rpm=1750.0,
                                             channel_names=["de"]))
                    out.cwru.setdefault(turbine, []).append(r["batch_id"])
        # 1 g at 160 Hz: RMS velocity = 9.81 / (2 pi 160) / sqrt 2 = 6.9 mm/s > 5.6 (gearbox C/D)
        _check(http.put(f"/api/v1/turbines/{ZONE_TURBINE}", json={"site": fleet[0].site}))
        fs = 25_600.0
        t = np.arange(int(fs * duration_s)) / fs
        x = np.tile(np.sin(2 * np.pi * 160.0 * t), (3, 1)).astype(np.float32)
        r = _check(gw.post_batch(ZONE_TURBINE, x, fs, now - timedelta(minutes=5), ZONE_SENSOR,
                                 rpm=1500.0))
        out.zone_batch = r["batch_id"]
    return out


if __name__ == "__main__":
    from tests.conftest import CWRU

    print(seed(sys.argv[1], CWRU))
