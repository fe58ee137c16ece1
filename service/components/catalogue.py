"""A small catalogue of rolling bearings (diameters in mm; only their ratio matters).

Sources and approximations, per entry:
- SKF 6205-2RS JEM / SKF 6203-2RS JEM: the CWRU Bearing Data Center's published geometry
  (drive end: 9 balls, 0.3126 in, pitch 1.537 in; fan end: 8 balls, 0.2656 in, pitch 1.122 in),
  converted at 25.4 mm/in. Exact for the CWRU rig (BPFI 5.4152, BPFO 3.5848, FTF 0.3983,
  2 x BSF 4.7135 x shaft speed).
- SKF 6309 (45 x 100 x 25 mm deep-groove ball): 8 balls of 17.462 mm (11/16 in) as commonly
  listed; pitch diameter taken as the mean of bore and outside diameter. APPROXIMATE.
- SKF 22330 CC (150 x 320 x 108 mm spherical roller, two rows): estimated from the boundary
  dimensions with the usual proportions (roller ~ 0.25 (D - d), 14 rollers per row, pitch = mean
  diameter, contact angle ~ 12 deg). APPROXIMATE: replace with the manufacturer's data.
- FAG NU2244-E (220 x 400 x 108 mm cylindrical roller): estimated the same way (roller 45 mm,
  18 rollers, pitch 310 mm, 0 deg). APPROXIMATE.
An approximate entry places lines within a few percent at low orders; the response says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.dsp.kinematics import BearingGeometry

MM_PER_IN = 25.4


@dataclass(frozen=True)
class CatalogueBearing:
    designation: str
    kind: str
    geometry: BearingGeometry  # diameters in mm
    approximate: bool
    source: str


CATALOGUE: dict[str, CatalogueBearing] = {b.designation: b for b in (
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
)}

# Used, and flagged ``assumed: true``, when a sensor has no configured geometry.
DEFAULT_BEARING = "SKF 6205-2RS"


def lookup(designation: str) -> CatalogueBearing | None:
    """Case- and space-insensitive catalogue lookup (``skf6309`` finds ``SKF 6309``)."""
    key = designation.replace(" ", "").replace("-", "").lower()
    for name, b in CATALOGUE.items():
        if name.replace(" ", "").replace("-", "").lower() == key:
            return b
    return None
