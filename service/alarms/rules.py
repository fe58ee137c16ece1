"""Pure alarm rules: fault-probability and anomaly-score hysteresis (N of the last M), VDI 3834-1
zones, severity.

No database here: the service feeds these functions numbers and stores what they decide.

Zone limits are VDI 3834-1 RMS boundaries (B/C = alert, C/D = alarm), per component:

| component    | rms_velocity_mm_s (10-1000 Hz) | rms_accel_m_s2 |
|--------------|--------------------------------|----------------|
| main_bearing | 2.0 / 3.2 mm/s                 | (none in VDI)  |
| gearbox      | 3.5 / 5.6 mm/s                 | 7.5 / 12 m/s²  |
| generator    | 6.0 / 10 mm/s                  | 10 / 16 m/s²   |

VDI defines the acceleration limits over 10-2000 Hz (gearbox) and 10-5000 Hz (generator); our
``rms_accel_m_s2`` indicator is broadband (mean removed), which can only read higher than the
band value, so acceleration zones err on the side of alarming. A value at a boundary belongs to
the upper zone. Below B/C we cannot tell zone A from B (VDI gives no A/B limit here): "A/B".

The component of a sensor comes from its ``component`` column when that names a known component,
else from the sensor name (``main_bearing*``, ``gearbox*``, ``generator*``), else "gearbox": its
limits lie between the main bearing's and the generator's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NORMAL = "normal"  # the classifier's no-fault class: never alarmed on
SEVERITIES = ("warning", "minor", "major", "critical")  # ascending
DEFAULT_COMPONENT = "gearbox"


@dataclass(frozen=True)
class AlarmPolicy:
    """When a fault class opens an alarm: p > ``threshold`` in ``n`` of the last ``m`` predictions
    of the sensor (the newest included and itself above). ``major_at``: probability from which
    the alarm is "major" rather than "minor"."""

    threshold: float = 0.7
    n: int = 3
    m: int = 5
    major_at: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {self.threshold}")
        if not 1 <= self.n <= self.m:
            raise ValueError(f"need 1 <= n <= m, got n={self.n}, m={self.m}")


DEFAULT_POLICY = AlarmPolicy()
# Per-class overrides (class name -> policy); classes not listed use DEFAULT_POLICY.
FAULT_POLICIES: dict[str, AlarmPolicy] = {}


def policy_for(fault: str, policies: dict[str, AlarmPolicy] | None = None) -> AlarmPolicy:
    """The policy of one fault class (overrides first, then the default)."""
    return (FAULT_POLICIES if policies is None else policies).get(fault, DEFAULT_POLICY)


@dataclass(frozen=True)
class AnomalyPolicy:
    """When the anomaly score opens an alarm: score > the baseline's threshold in ``n`` of the
    last ``m`` scored snapshots of the sensor (same baseline version, the newest included and
    itself above); "major" from ``major_ratio`` x the threshold."""

    n: int = 3
    m: int = 5
    major_ratio: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.n <= self.m:
            raise ValueError(f"need 1 <= n <= m, got n={self.n}, m={self.m}")

    def at(self, threshold: float) -> ScoreWindow:
        """The N-of-M window at the baseline's score threshold."""
        return ScoreWindow(threshold, self.n, self.m, self.major_ratio * threshold)


@dataclass(frozen=True)
class ScoreWindow:
    """An N-of-M window over unbounded scores (``AlarmPolicy`` is for probabilities)."""

    threshold: float
    n: int
    m: int
    major_at: float


ANOMALY_POLICY = AnomalyPolicy()


def hysteresis_met(values_newest_first: Sequence[float | None],
                   policy: AlarmPolicy | ScoreWindow) -> bool:
    """True when the newest value exceeds the threshold and at least ``n`` of the newest ``m``
    do (None counts as not exceeding). Requiring the newest to exceed means a normal-looking
    snapshot never refreshes an alarm (nor gets linked to it and later labelled with its fault)."""
    window = _window(values_newest_first, policy.m)
    if window.size == 0 or not window[0] > policy.threshold:
        return False
    return int(np.count_nonzero(window > policy.threshold)) >= policy.n


def exceeding(values_newest_first: Sequence[float | None],
              policy: AlarmPolicy | ScoreWindow) -> np.ndarray:
    """Indices (into the newest ``m``) of the predictions above the threshold: the ones that
    raised an alarm when it opens."""
    return np.flatnonzero(_window(values_newest_first, policy.m) > policy.threshold)


def _window(values: Sequence[float | None], m: int) -> np.ndarray:
    return np.array([-np.inf if v is None else v for v in values[:m]], dtype=np.float64)


@dataclass(frozen=True)
class ZoneLimits:
    """RMS zone boundaries of one quantity: ``bc`` (B/C, alert) and ``cd`` (C/D, alarm)."""

    bc: float
    cd: float

    def __post_init__(self) -> None:
        if not 0 < self.bc < self.cd:
            raise ValueError(f"need 0 < bc < cd, got {self.bc}, {self.cd}")


# component -> indicator name -> limits (VDI 3834-1; see the module docstring).
ZONE_LIMITS: dict[str, dict[str, ZoneLimits]] = {
    "main_bearing": {"rms_velocity_mm_s": ZoneLimits(2.0, 3.2)},
    "gearbox": {"rms_velocity_mm_s": ZoneLimits(3.5, 5.6),
                "rms_accel_m_s2": ZoneLimits(7.5, 12.0)},
    "generator": {"rms_velocity_mm_s": ZoneLimits(6.0, 10.0),
                  "rms_accel_m_s2": ZoneLimits(10.0, 16.0)},
}


def _known_component(text: str | None, known: Sequence[str]) -> str | None:
    if not text:
        return None
    norm = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return next((c for c in known if norm.startswith(c)), None)


def component_of(sensor_name: str, component: str | None = None,
                 known: Sequence[str] = tuple(ZONE_LIMITS)) -> str:
    """The component whose zone limits apply: the ``component`` column, else the sensor name's
    prefix ("Main bearing", "main-bearing_x" and "main_bearing" all match), else gearbox."""
    return (_known_component(component, known) or _known_component(sensor_name, known)
            or DEFAULT_COMPONENT)


def classify_zone(value: float, limits: ZoneLimits) -> str:
    """"A/B" below B/C, "C" from B/C up to C/D, "D" from C/D up (boundaries belong above)."""
    if value >= limits.cd:
        return "D"
    if value >= limits.bc:
        return "C"
    return "A/B"


def zone_severity(value: float, limits: ZoneLimits) -> str | None:
    """None in zone A/B; zone C: "minor" in its lower half, "major" in its upper half (so a rising
    trend escalates before it reaches D); zone D: "critical"."""
    zone = classify_zone(value, limits)
    if zone == "D":
        return "critical"
    if zone == "C":
        return "major" if value >= (limits.bc + limits.cd) / 2 else "minor"
    return None


def anomaly_severity(score: float, window: ScoreWindow, zone: str | None = None) -> str:
    """"critical" with zone D, "major" from ``window.major_at`` (2 x threshold), else "minor"."""
    if zone == "D":
        return "critical"
    return "major" if score >= window.major_at else "minor"


def fault_severity(probability: float, policy: AlarmPolicy, zone: str | None = None) -> str:
    """"critical" when the same snapshot is in zone D, else "major" from ``policy.major_at``,
    else "minor"."""
    if zone == "D":
        return "critical"
    return "major" if probability >= policy.major_at else "minor"


def max_severity(a: str, b: str) -> str:
    """The higher of two severities (alarms only escalate on their own)."""
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b


def worst_zone(zones: Sequence[str]) -> str | None:
    """"D" over "C" over "A/B"; None for no zones."""
    for z in ("D", "C", "A/B"):
        if z in zones:
            return z
    return None
