"""Kinematic fault frequencies of rolling-element bearings and gear stages.

Pure arithmetic: geometry and shaft speed in, frequencies out (Hz, or orders = multiples of the
shaft speed). Formulas are the textbook ones for a stationary outer ring and pure rolling:

    FTF  = 1/2 (1 - d/D cos phi)            cage (fundamental train) frequency
    BPFO = n/2 (1 - d/D cos phi)            ball pass, outer race
    BPFI = n/2 (1 + d/D cos phi)            ball pass, inner race
    BSF  = D/(2d) (1 - (d/D cos phi)^2)     ball spin, ONE impact per ball revolution

A ball defect strikes both races once per spin revolution, so its envelope line is often at
2 x BSF; that is what CWRU's table lists as "rolling element" (4.7135 for the SKF 6205). Slip
makes real lines fall 1-2 % below these values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry; diameters in any one unit (only their ratio counts)."""

    n_elements: int
    ball_diameter: float
    pitch_diameter: float
    contact_angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n_elements < 1 or not 0 < self.ball_diameter < self.pitch_diameter:
            raise ValueError(f"implausible bearing geometry: {self}")

    def defect_orders(self) -> dict[str, float]:
        """FTF, BPFO, BPFI, BSF (single impact) and BSF2 (= 2 x BSF) as multiples of shaft speed."""
        cos_phi = math.cos(math.radians(self.contact_angle_deg))
        r = self.ball_diameter / self.pitch_diameter * cos_phi
        bsf = self.pitch_diameter / (2.0 * self.ball_diameter) * (1.0 - r * r)
        return {
            "FTF": 0.5 * (1.0 - r),
            "BPFO": 0.5 * self.n_elements * (1.0 - r),
            "BPFI": 0.5 * self.n_elements * (1.0 + r),
            "BSF": bsf,
            "BSF2": 2.0 * bsf,
        }

    def defect_frequencies_hz(self, shaft_hz: float) -> dict[str, float]:
        """The defect orders times the shaft frequency (``rpm / 60``)."""
        return {k: v * shaft_hz for k, v in self.defect_orders().items()}


# Geometry as published by the CWRU Bearing Data Center (inches). Extend with the turbine's
# own bearings (gearbox HSS, generator DE/NDE) from the manufacturer's data sheets.
BEARINGS: dict[str, BearingGeometry] = {
    # CWRU drive end: SKF 6205-2RS JEM, 9 balls.
    "SKF 6205-2RS": BearingGeometry(9, 0.3126, 1.537, 0.0),
    # CWRU fan end: SKF 6203-2RS JEM, 8 balls.
    "SKF 6203-2RS": BearingGeometry(8, 0.2656, 1.122, 0.0),
}


def gear_mesh_hz(teeth: int, shaft_hz: float) -> float:
    """Tooth-mesh frequency of a gear on a shaft turning at ``shaft_hz`` (sidebands at the
    shaft frequencies of both meshing gears)."""
    return teeth * shaft_hz


@dataclass(frozen=True)
class PlanetaryStage:
    """Frequencies of a planetary stage with a fixed ring, carrier in, sun out (wind turbines)."""

    mesh_hz: float  # tooth mesh, the same at sun-planet and planet-ring
    sun_hz: float  # absolute sun (output) speed
    planet_hz: float  # planet spin relative to the carrier
    carrier_hz: float
    planet_pass_hz: float  # planets passing a point on the fixed ring (the sensor): n * carrier
    sun_defect_hz: float  # a sun tooth defect meeting each planet: n * (sun - carrier)
    planet_defect_hz: float  # a planet tooth defect hitting sun and ring: 2 * planet spin
    ratio: float  # sun speed / carrier speed


def planetary_stage(sun_teeth: int, planet_teeth: int, ring_teeth: int, carrier_hz: float,
                    n_planets: int = 3) -> PlanetaryStage:
    """Kinematics of a fixed-ring planetary stage driven at ``carrier_hz``.

    Relative to the carrier every gear meshes at ``ring_teeth * carrier_hz``; the sun turns at
    ``carrier_hz * (1 + ring_teeth / sun_teeth)``. Usually ``ring = sun + 2 * planet`` (not
    enforced: profile-shifted gears may differ by a tooth).
    """
    mesh = ring_teeth * carrier_hz
    sun = carrier_hz * (1.0 + ring_teeth / sun_teeth)
    planet = mesh / planet_teeth
    return PlanetaryStage(
        mesh_hz=mesh, sun_hz=sun, planet_hz=planet, carrier_hz=carrier_hz,
        planet_pass_hz=n_planets * carrier_hz, sun_defect_hz=n_planets * (sun - carrier_hz),
        planet_defect_hz=2.0 * planet, ratio=sun / carrier_hz,
    )
