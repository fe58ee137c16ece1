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


MM_PER_IN = 25.4


@dataclass(frozen=True)
class CatalogueBearing:
    """A bearing of the catalogue: geometry in mm, and whether the numbers are estimates."""

    designation: str
    kind: str
    geometry: BearingGeometry
    approximate: bool
    source: str


# The one bearing table (diameters in mm). Sources and approximations, per entry:
# - SKF 6205-2RS JEM / SKF 6203-2RS JEM: the CWRU Bearing Data Center's published geometry
#   (drive end: 9 balls, 0.3126 in, pitch 1.537 in; fan end: 8 balls, 0.2656 in, pitch 1.122 in),
#   converted at 25.4 mm/in. Exact for the CWRU rig (BPFI 5.4152, BPFO 3.5848, FTF 0.3983,
#   2 x BSF 4.7135 x shaft speed).
# - SKF 6309 (45 x 100 x 25 mm deep-groove ball): 8 balls of 17.462 mm (11/16 in) as commonly
#   listed; pitch diameter taken as the mean of bore and outside diameter. APPROXIMATE.
# - SKF 22330 CC (150 x 320 x 108 mm spherical roller, two rows): estimated from the boundary
#   dimensions with the usual proportions (roller ~ 0.25 (D - d), 14 rollers per row, pitch =
#   mean diameter, contact angle ~ 12 deg). APPROXIMATE: replace with the manufacturer's data.
# - FAG NU2244-E (220 x 400 x 108 mm cylindrical roller): estimated the same way (roller 45 mm,
#   18 rollers, pitch 310 mm, 0 deg). APPROXIMATE.
# - UESTC UCPH20 (estimated): the UESTC rig's ASAHI UCPH 20x pillow-block insert; the authors do
#   not publish its geometry. Estimated from the data: the outer- and inner-race runs' envelope
#   lines sit at 2.99-3.03 and 4.92-4.93 shaft orders (speed refined from the spectrum's shaft
#   comb), so BPFO + BPFI = 7.9-8.0 -> 8 balls; d/D cos(phi) ~ 0.24 from their difference
#   (0.23-0.25) and from the cage line of the ball-fault runs (0.38 orders -> 0.23). Diameters
#   are scaled to a 5/16 in ball; only the ratio counts. APPROXIMATE.
# An approximate entry places lines within a few percent at low orders.
BEARINGS: dict[str, CatalogueBearing] = {b.designation: b for b in (
    CatalogueBearing("SKF 6205-2RS", "deep groove ball",
                     BearingGeometry(9, 0.3126 * MM_PER_IN, 1.537 * MM_PER_IN, 0.0), False,
                     "CWRU Bearing Data Center (drive-end bearing of the CWRU rig)"),
    CatalogueBearing("SKF 6203-2RS", "deep groove ball",
                     BearingGeometry(8, 0.2656 * MM_PER_IN, 1.122 * MM_PER_IN, 0.0), False,
                     "CWRU Bearing Data Center (fan-end bearing of the CWRU rig)"),
    CatalogueBearing("SKF 6309", "deep groove ball", BearingGeometry(8, 17.462, 72.5, 0.0),
                     True, "8 x 11/16 in balls; pitch = (bore + OD) / 2"),
    CatalogueBearing("SKF 22330 CC", "spherical roller", BearingGeometry(14, 42.0, 235.0, 12.0),
                     True, "estimated from 150 x 320 x 108 mm boundary dimensions"),
    CatalogueBearing("FAG NU2244-E", "cylindrical roller", BearingGeometry(18, 45.0, 310.0, 0.0),
                     True, "estimated from 220 x 400 x 108 mm boundary dimensions"),
    CatalogueBearing("UESTC UCPH20 (estimated)", "insert ball bearing",
                     BearingGeometry(8, 7.938, 33.075, 0.0), True,
                     "estimated from the UESTC rig's envelope lines (BPFO ~3.0, BPFI ~4.93, "
                     "FTF ~0.38 shaft orders)"),
)}

# The CWRU drive-end bearing: the default where a sensor has no configured geometry.
DEFAULT_BEARING = "SKF 6205-2RS"


def find_bearing(designation: str) -> CatalogueBearing | None:
    """Case- and space-insensitive catalogue lookup (``skf6309`` finds ``SKF 6309``)."""
    key = designation.replace(" ", "").replace("-", "").lower()
    for name, b in BEARINGS.items():
        if name.replace(" ", "").replace("-", "").lower() == key:
            return b
    return None


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
