"""Request and response bodies for component geometry."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from service.validation import MultilineText, Text


class GearIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    teeth: int = Field(gt=0, le=1000)
    speed_ratio: float = Field(default=1.0, gt=0, description="Gear speed / watched shaft speed.")


class PlanetaryIn(BaseModel):
    """A fixed-ring planetary stage; mesh = ring_teeth x carrier speed."""

    sun_teeth: int = Field(gt=0, le=1000)
    planet_teeth: int = Field(gt=0, le=1000)
    ring_teeth: int = Field(gt=0, le=2000)
    n_planets: int = Field(default=3, ge=1, le=12)
    carrier_speed_ratio: float = Field(gt=0, description="Carrier speed / watched shaft speed.")


class GeometryIn(BaseModel):
    """A catalogue ``bearing`` or a custom one (all four numbers), plus optional gears."""

    bearing: Text | None = Field(default=None, max_length=64,
                                 description="Catalogue designation, e.g. SKF 6309.")
    n_elements: int | None = Field(default=None, ge=3, le=200)
    element_diameter_mm: float | None = Field(default=None, gt=0)
    pitch_diameter_mm: float | None = Field(default=None, gt=0)
    contact_angle_deg: float | None = Field(default=None, ge=0, lt=90)
    gears: list[GearIn] = Field(default_factory=list, max_length=16)
    planetary: PlanetaryIn | None = None
    shaft_speed_ratio: float = Field(default=1.0, gt=0,
                                     description="Watched shaft speed / the batch's rpm.")
    rpm_min: float | None = Field(default=None, gt=0)
    rpm_max: float | None = Field(default=None, gt=0)
    notes: MultilineText | None = Field(default=None, max_length=512)
    by: Text | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _one_bearing(self) -> GeometryIn:
        custom = (self.n_elements, self.element_diameter_mm, self.pitch_diameter_mm)
        if self.bearing is None and any(v is None for v in custom):
            raise ValueError("give a catalogue `bearing` or n_elements, element_diameter_mm and "
                             "pitch_diameter_mm")
        if self.bearing is not None and any(v is not None for v in custom):
            raise ValueError("give either a catalogue `bearing` or a custom geometry, not both")
        if (self.rpm_min is None) != (self.rpm_max is None) or (
                self.rpm_min is not None and self.rpm_min >= self.rpm_max):
            raise ValueError("rpm_min and rpm_max go together, with rpm_min < rpm_max")
        if len({g.name for g in self.gears}) != len(self.gears):
            raise ValueError("gear names must be unique")
        return self


class BearingOut(BaseModel):
    designation: str | None
    kind: str | None
    n_elements: int
    element_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float
    approximate: bool
    source: str
    defect_orders: dict[str, float] = Field(
        description="Multiples of the watched shaft's speed: FTF, BPFO, BPFI, BSF (one impact "
        "per ball spin) and BSF2 = 2 x BSF (a ball defect striking both races; CWRU's "
        "'rolling element' figure)."
    )


class GeometryOut(BaseModel):
    turbine_id: str
    sensor: str
    assumed: bool = Field(description="True: nothing configured, the default catalogue bearing "
                          "stands in and the frequencies are a guess.")
    bearing: BearingOut
    gears: list[GearIn]
    planetary: PlanetaryIn | None
    gear_mesh_orders: dict[str, float] = Field(description="Mesh frequency / shaft speed.")
    shaft_speed_ratio: float
    rpm_min: float | None
    rpm_max: float | None
    notes: str | None
    updated_at: datetime | None
    updated_by: str | None
