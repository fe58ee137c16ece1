"""What the diagnosis knows about the watched shaft: its bearing's defect orders (registered or
assumed) and its speed (given, checked against the spectrum, or estimated from it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.dsp.kinematics import BEARINGS, DEFAULT_BEARING
from pipelines.dsp.speed import shaft_speed_comb

# A given rpm further than this from the spectrum's own shaft comb gets a warning: a
# SCADA-averaged speed can lag a snapshot by a percent or two, a wrong channel or unit by far more.
RPM_TOLERANCE = 0.05
MIN_COMB_CONFIDENCE_DB = 3.0  # below this the spectrum shows no clear shaft comb
ESTIMATE_RANGE_HZ = (3.0, 60.0)  # 180-3600 rpm when nothing else bounds the search


@dataclass(frozen=True)
class ShaftContext:
    """The caller's knowledge of the shaft a snapshot was taken on.

    ``defect_orders`` None means no geometry is registered: the default catalogue bearing is
    assumed and the diagnosis says so. ``rpm`` is the batch's speed of the shaft the rpm refers
    to; ``shaft_speed_ratio`` converts it to the watched shaft's speed.
    """

    rpm: float | None = None
    defect_orders: dict[str, float] | None = None
    rpm_range: tuple[float, float] | None = None
    shaft_speed_ratio: float = 1.0

    @property
    def rpm_outside_range(self) -> bool:
        """True when a given ``rpm`` lies outside the registered ``rpm_range``."""
        return (self.rpm is not None and self.rpm_range is not None
                and not self.rpm_range[0] <= self.rpm <= self.rpm_range[1])

    @property
    def geometry(self) -> str:
        """``registered`` or ``assumed``."""
        return "assumed" if self.defect_orders is None else "registered"

    def orders(self) -> dict[str, float]:
        """The defect orders to read the spectrum at (the assumed default if none)."""
        if self.defect_orders is not None:
            return self.defect_orders
        return BEARINGS[DEFAULT_BEARING].geometry.defect_orders()


@dataclass
class ShaftSpeed:
    """The speed the diagnosis used, where it came from and how sure the spectrum is."""

    shaft_hz: float
    source: str  # "given" | "estimated"
    comb_hz: float | None = None
    confidence_db: float | None = None
    warnings: list[str] = field(default_factory=list)


def resolve_speed(x: np.ndarray, fs_hz: float, ctx: ShaftContext) -> ShaftSpeed:
    """The watched shaft's speed: the given rpm (checked against the spectrum's comb within
    +-15 %: a warning past ``RPM_TOLERANCE``), else an estimate from the spectrum (bounded by
    the geometry's rpm range where one is registered)."""
    ratio = ctx.shaft_speed_ratio
    n = min(x.shape[-1], int(4 * fs_hz))  # a few seconds fix the comb; more only costs time
    if ctx.rpm is not None and ctx.rpm > 0:
        given = ctx.rpm / 60.0 * ratio
        comb, conf = shaft_speed_comb(x[:, :n], fs_hz, 0.85 * given, 1.15 * given)
        out = ShaftSpeed(given, "given", comb, conf)
        off = abs(comb - given) / given
        if conf >= MIN_COMB_CONFIDENCE_DB and off > RPM_TOLERANCE:
            out.warnings.append(
                f"rpm {ctx.rpm:g} disagrees with the spectrum: its shaft-harmonic comb is at "
                f"{comb * 60 / ratio:.0f} rpm ({off:.0%} off, tolerance {RPM_TOLERANCE:.0%}); "
                "the diagnosis used the given rpm")
        return out
    lo, hi = ESTIMATE_RANGE_HZ
    if ctx.rpm_range is not None:
        lo, hi = ctx.rpm_range[0] / 60.0 * ratio, ctx.rpm_range[1] / 60.0 * ratio
    hi = min(hi, fs_hz / 40.0)
    comb, conf = shaft_speed_comb(x[:, :n], fs_hz, lo, max(hi, lo * 1.01))
    out = ShaftSpeed(comb, "estimated", comb, conf)
    msg = f"no rpm given: shaft speed estimated from the spectrum at {comb * 60 / ratio:.0f} rpm"
    if conf < MIN_COMB_CONFIDENCE_DB:
        msg += f" with low confidence ({conf:.1f} dB comb prominence): send rpm"
    out.warnings.append(msg)
    return out
