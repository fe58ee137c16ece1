"""Drivetrain vibration simulator: what an accelerometer on a wind-turbine gearbox records.

Everything lives in the angle domain: the shaft speed wanders slowly by a few percent, its
instantaneous frequency is integrated into a shaft angle, and every periodic source is a function
of that angle, as in a real machine (so lines smear with speed exactly as measured ones do).
Sources, in g: shaft orders 1x/2x/3x; the high-speed pinion's gear mesh (1x, 2x) amplitude-
modulated at both shaft rates (sidebands); a bearing defect as impacts at BPFO / BPFI / 2xBSF
with 1 % slip jitter, inner-race impacts load-zone modulated at shaft rate and ball impacts at
the cage rate (FTF), each impact ringing a damped structural resonance; broadband noise.
Channels are transfer paths: their gains, resonance and noise are fixed per machine
(``DrivetrainConfig.path_seed``), while phases, speed and noise change per snapshot (``seed``).
Pure numpy/scipy, vectorised; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, cast

import numpy as np
import scipy.signal

from pipelines.dsp.kinematics import BearingGeometry

FaultKind = Literal["normal", "inner_race", "outer_race", "ball"]
FAULT_KINDS: tuple[str, ...] = ("normal", "inner_race", "outer_race", "ball")
SITES = ("Nordre Banke", "Hedeby Ridge", "Skovlund", "Vestmark Offshore", "Lyngrev")
_TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class DrivetrainConfig:
    """A geared drivetrain seen from a sensor on the gearbox high-speed stage."""

    rated_rpm: float = 1500.0  # high-speed (generator) shaft at rated power
    pinion_teeth: int = 23  # on the monitored high-speed shaft
    wheel_teeth: int = 97  # mating wheel on the intermediate shaft
    n_elements: int = 16  # high-speed shaft bearing
    ball_diameter_mm: float = 28.0
    pitch_diameter_mm: float = 160.0
    contact_angle_deg: float = 0.0
    speed_variation: float = 0.006  # std of the relative speed fluctuation within a snapshot
    slip: float = 0.01  # std of the relative jitter of each impact interval
    resonance_hz: float = 3800.0  # structural resonance rung by the impacts
    damping_ratio: float = 0.05
    impact_g: float = 3.0  # peak impact response at severity 1, unit path gain
    noise_g: float = 0.12  # broadband RMS; dominates a healthy record (kurtosis ~3)
    shaft_g: tuple[float, ...] = (0.02, 0.01, 0.005)  # 1x, 2x, 3x shaft orders
    mesh_g: tuple[float, ...] = (0.08, 0.03)  # 1x, 2x gear mesh
    path_seed: int = 0  # transfer paths of this machine's channels

    @property
    def bearing(self) -> BearingGeometry:
        """The high-speed shaft bearing's geometry."""
        return BearingGeometry(self.n_elements, self.ball_diameter_mm, self.pitch_diameter_mm,
                               self.contact_angle_deg)

    def defect_orders(self) -> dict[str, float]:
        """FTF, BPFO, BPFI, BSF, BSF2 as multiples of the shaft speed (``pipelines.dsp``)."""
        return self.bearing.defect_orders()


def _channel_paths(cfg: DrivetrainConfig, n_channels: int) -> dict[str, np.ndarray]:
    """Per-channel transfer paths: source gains, resonance, damping, noise (fixed per machine)."""
    rng = np.random.default_rng(cfg.path_seed)
    u = lambda lo, hi: rng.uniform(lo, hi, n_channels)  # noqa: E731
    return {"shaft": u(0.6, 1.4), "mesh": u(0.6, 1.4), "bearing": u(0.5, 1.2),
            "resonance_hz": cfg.resonance_hz * u(0.85, 1.15),
            "damping": cfg.damping_ratio * u(0.8, 1.25), "noise_g": cfg.noise_g * u(0.8, 1.2)}


def _shaft_angle_rev(shaft_hz: float, n: int, fs_hz: float, variation: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Cumulative shaft angle in revolutions: integral of a slowly wandering shaft frequency."""
    t = np.arange(n) / fs_hz
    f_mod = rng.uniform(0.05, 0.5, 3)[:, None]  # gusts, control, tower/rotor interaction
    wobble = np.sin(_TWO_PI * f_mod * t + rng.uniform(0, _TWO_PI, (3, 1))).sum(axis=0)
    inst_hz = shaft_hz * (1.0 + variation * wobble / np.sqrt(1.5))  # unit-variance wobble
    theta = np.cumsum(inst_hz) / fs_hz
    return theta - theta[0]


def _impact_train(cfg: DrivetrainConfig, fault: str, theta: np.ndarray, fs_hz: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Unit-scale impulses at the defect's impact instants (shaft-angle timed, slip-jittered)."""
    orders = cfg.defect_orders()
    rate = {"outer_race": orders["BPFO"], "inner_race": orders["BPFI"], "ball": orders["BSF2"]}
    order = rate[fault]  # impacts per shaft revolution
    total_rev = float(theta[-1])
    n_max = int(total_rev * order * 1.2) + 2
    steps = np.clip(1.0 + cfg.slip * rng.standard_normal(n_max), 0.5, 1.5) / order
    angles = rng.uniform(0, 1 / order) + np.concatenate(([0.0], np.cumsum(steps[:-1])))
    angles = angles[angles < total_rev]
    amp = rng.uniform(0.9, 1.1, angles.size)  # impact-to-impact scatter
    if fault == "inner_race":  # defect rotates with the shaft through the load zone
        amp *= 0.2 + 0.8 * (0.5 + 0.5 * np.cos(_TWO_PI * angles + rng.uniform(0, _TWO_PI)))
    elif fault == "ball":  # ball carried by the cage through the load zone; hits both races
        cage = angles * orders["FTF"] + rng.uniform(0, 1)
        amp *= (0.2 + 0.8 * (0.5 + 0.5 * np.cos(_TWO_PI * cage))) * np.where(
            np.arange(angles.size) % 2 == 0, 1.0, 0.6)
    t_s = np.interp(angles, theta, np.arange(theta.size) / fs_hz)
    idx = np.minimum(np.rint(t_s * fs_hz).astype(np.int64), theta.size - 1)
    return np.bincount(idx, weights=amp, minlength=theta.size)


def _ring(impulses: np.ndarray, f_hz: float, zeta: float, fs_hz: float) -> np.ndarray:
    """Impulses through a damped resonance (2-pole IIR, impulse invariant), unit peak response."""
    wn = _TWO_PI * f_hz
    wd = wn * np.sqrt(1 - zeta**2)
    t_peak = np.arctan(wd / (zeta * wn)) / wd
    peak = np.exp(-zeta * wn * t_peak) * np.sin(wd * t_peak)
    r = np.exp(-zeta * wn / fs_hz)
    b = [0.0, r * np.sin(wd / fs_hz) / peak]
    a = [1.0, -2 * r * np.cos(wd / fs_hz), r * r]
    return scipy.signal.lfilter(b, a, impulses)


def simulate_snapshot(
    cfg: DrivetrainConfig, fault: FaultKind = "normal", severity: float = 0.0,
    fs_hz: float = 25_600.0, duration_s: float = 10.0, n_channels: int = 3,
    rpm: float | None = None, seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, dict]:
    """One snapshot, acceleration in g: ``(x float32 (n_channels, N), meta)``.

    severity: 0..1, scales the defect impacts (ignored for ``normal``). rpm: mean shaft speed
    (default ``cfg.rated_rpm``). seed: int or Generator for phases, speed, slip and noise.
    meta: ``rpm`` (actual mean), ``fs_hz``, ``shaft_hz``, ``gear_mesh_hz``, ``defect_freqs_hz``
    (FTF/BPFO/BPFI/BSF/BSF2 at the mean speed), ``defect_orders``, ``fault``, ``severity``,
    ``channel_names``, ``resonance_hz`` per channel.
    """
    if fault not in FAULT_KINDS:
        raise ValueError(f"unknown fault {fault!r}; expected one of {FAULT_KINDS}")
    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must be within [0, 1], got {severity}")
    n = int(round(fs_hz * duration_s))
    if n < 2 or n_channels < 1:
        raise ValueError(f"need at least 2 samples and 1 channel, got {n} x {n_channels}")
    rng = np.random.default_rng(seed)
    paths = _channel_paths(cfg, n_channels)
    theta = _shaft_angle_rev((rpm or cfg.rated_rpm) / 60.0, n, fs_hz, cfg.speed_variation, rng)

    shaft = np.zeros(n)
    for k, a_g in enumerate(cfg.shaft_g, start=1):
        shaft += a_g * np.cos(_TWO_PI * k * theta + rng.uniform(0, _TWO_PI))
    z = cfg.pinion_teeth
    am = (1.0 + 0.2 * np.cos(_TWO_PI * theta + rng.uniform(0, _TWO_PI))
          + 0.1 * np.cos(_TWO_PI * theta * z / cfg.wheel_teeth + rng.uniform(0, _TWO_PI)))
    mesh = np.zeros(n)
    for h, a_g in enumerate(cfg.mesh_g, start=1):
        mesh += a_g * np.cos(_TWO_PI * h * z * theta + rng.uniform(0, _TWO_PI))
    mesh *= am

    x = np.outer(paths["shaft"], shaft) + np.outer(paths["mesh"], mesh)
    x += paths["noise_g"][:, None] * rng.standard_normal((n_channels, n))
    if fault != "normal" and severity > 0:
        impulses = _impact_train(cfg, fault, theta, fs_hz, rng) * (severity * cfg.impact_g)
        for c in range(n_channels):  # a handful of channels; each filter is vectorised
            x[c] += paths["bearing"][c] * _ring(impulses, paths["resonance_hz"][c],
                                                paths["damping"][c], fs_hz)

    shaft_hz = float(theta[-1]) * fs_hz / (n - 1)  # mean speed actually simulated
    orders = cfg.defect_orders()
    meta = {
        "rpm": shaft_hz * 60.0, "fs_hz": float(fs_hz), "shaft_hz": shaft_hz,
        "gear_mesh_hz": z * shaft_hz,
        "defect_freqs_hz": {k: v * shaft_hz for k, v in orders.items()},
        "defect_orders": orders, "fault": fault, "severity": float(severity),
        "channel_names": channel_names(n_channels),
        "resonance_hz": paths["resonance_hz"].tolist(),
    }
    return x.astype(np.float32), meta


def channel_names(n_channels: int) -> list[str]:
    """``x, y, z`` then ``ch3, ch4, ...``."""
    return [("x", "y", "z")[i] if i < 3 else f"ch{i}" for i in range(n_channels)]


@dataclass(frozen=True)
class TurbineSpec:
    """A turbine of the demo fleet and the fault (if any) developing in it."""

    turbine_id: str
    site: str
    fault: FaultKind = "normal"
    severity_start: float = 0.0  # severity at the first snapshot of a series
    severity_end: float = 0.0  # ... and at the last one (exponential growth in between)
    sensor: str = "gearbox_hss"
    drivetrain: DrivetrainConfig = field(default_factory=DrivetrainConfig)
    seed: int = 0

    def severity_at(self, i: int, n_snapshots: int) -> float:
        """Severity of snapshot ``i`` of ``n_snapshots``: 0 for normal, rising exponentially
        (degradation accelerates), linearly when it starts from 0."""
        if self.fault == "normal":
            return 0.0
        frac = i / max(n_snapshots - 1, 1)
        s0, s1 = self.severity_start, self.severity_end
        return float(s0 * (s1 / s0) ** frac if s0 > 0 and s1 > 0 else s0 + (s1 - s0) * frac)


def demo_fleet(n_turbines: int = 8, seed: int = 0) -> list[TurbineSpec]:
    """Turbines ``WT-001..`` spread over sites (5 per site); about 3 in 8 develop a fault,
    cycling outer race, inner race, ball."""
    if n_turbines < 1:
        raise ValueError("n_turbines must be >= 1")
    rng = np.random.default_rng(seed)
    faulty = np.sort(rng.choice(n_turbines, size=round(n_turbines * 3 / 8), replace=False))
    kinds: dict[int, FaultKind] = {
        int(i): cast(FaultKind, ("outer_race", "inner_race", "ball")[j % 3])
        for j, i in enumerate(faulty)}
    fleet = []
    for i in range(n_turbines):
        site_no = i // 5
        site = SITES[site_no % len(SITES)]
        if site_no >= len(SITES):
            site += f" {site_no // len(SITES) + 1}"
        turbine_seed = (seed * 100_003 + i) % 2**63  # SeedSequence wants >= 0
        cfg = replace(DrivetrainConfig(), path_seed=turbine_seed,
                      resonance_hz=float(rng.uniform(3300.0, 4300.0)))
        fault: FaultKind = kinds.get(i, "normal")
        s0, s1 = float(rng.uniform(0.05, 0.15)), float(rng.uniform(0.6, 1.0))
        if fault == "normal":
            s0 = s1 = 0.0
        fleet.append(TurbineSpec(f"WT-{i + 1:03d}", site, fault, s0, s1, drivetrain=cfg,
                                 seed=turbine_seed))
    return fleet


@dataclass
class Snapshot:
    """One simulated recording, as a gateway would post it."""

    turbine_id: str
    sensor: str
    recorded_at: datetime
    x: np.ndarray  # (C, N) float32, g
    fs_hz: float
    rpm: float
    channel_names: list[str]
    fault: str
    severity: float
    meta: dict


def fleet_snapshots(
    fleet: Sequence[TurbineSpec], n_snapshots: int, start: datetime,
    interval_s: float = 600.0, fs_hz: float = 25_600.0, duration_s: float = 10.0,
    n_channels: int = 3,
) -> Iterator[Snapshot]:
    """Snapshots every ``interval_s`` from ``start``, time-major (every turbine at each tick).

    Deterministic per (turbine seed, recorded_at): the same turbine and time always give the
    same samples (a re-sent snapshot is a true replay), whatever the start or count requested.
    The mean speed follows a slow, site-wide wind swing (75-100 % of rated) plus scatter.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    for i in range(n_snapshots):
        at = start + timedelta(seconds=i * interval_s)
        for spec in fleet:
            epoch_s = int(at.timestamp())
            rng = np.random.default_rng([spec.seed, epoch_s % 2**63])
            site_phase = (sum(map(ord, spec.site)) % 628) / 100.0  # stable, unlike hash()
            swing = 0.875 + 0.1 * np.sin(_TWO_PI * (epoch_s % 21_600) / 21_600 + site_phase)
            rpm = spec.drivetrain.rated_rpm * float(np.clip(swing + 0.02 * rng.standard_normal(),
                                                            0.7, 1.0))
            severity = spec.severity_at(i, n_snapshots)
            x, meta = simulate_snapshot(spec.drivetrain, spec.fault, severity, fs_hz, duration_s,
                                        n_channels, rpm=rpm, seed=rng)
            yield Snapshot(spec.turbine_id, spec.sensor, at, x, float(fs_hz), meta["rpm"],
                           meta["channel_names"], spec.fault, severity, meta)
