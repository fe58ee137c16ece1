"""Explanations of defect-order (family) models: inputs rebuilt exactly as the prediction built
them, the attribution over (families x rows x cells) and its physics check in defect orders,
with Hz at the prediction's shaft speed.

The inputs depend on the shaft speed and the defect orders the prediction used; both are
stored with the prediction (``predictions.diagnosis``), so a geometry edited after the
prediction does not change what is explained. A prediction without that record (none are
expected) is rebuilt from the sensor's current geometry and the batch's rpm.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from pipelines.explain import attribution as attr
from pipelines.explain import orders
from pipelines.explain.order_figure import OrderFigure
from pipelines.features.defect_orders import FAMILIES, SIDEBANDS
from pipelines.features.spec import InputSpec
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import defect_order_diagnosis
from service.components.service import SensorKinematics
from service.predictions.schemas import (
    AgreementOut,
    BandOut,
    DefectOrderCheckOut,
    FamilyShareOut,
    MatchOut,
    OrderBandOut,
    OrderMapOut,
    ShaftSpeedOut,
    ShareOut,
    VerdictOut,
)

ROWS = [f"{s:+d}" for s in SIDEBANDS] + ["mask"]


def order_context(diagnosis: dict | None, x: np.ndarray, fs_hz: float, spec: InputSpec,
                  rpm: float | None, sk: SensorKinematics) -> tuple[float, dict[str, float], str]:
    """(shaft Hz, defect orders, speed source) the prediction's inputs were read with."""
    if diagnosis and diagnosis.get("shaft_hz") and diagnosis.get("defect_orders"):
        return (float(diagnosis["shaft_hz"]), dict(diagnosis["defect_orders"]),
                str(diagnosis.get("speed_source", "given")))
    ctx = ShaftContext(rpm=rpm, defect_orders=None if sk.assumed else sk.bearing.defect_orders(),
                       rpm_range=sk.rpm_range, shaft_speed_ratio=sk.shaft_speed_ratio)
    _, _, info = defect_order_diagnosis(x, fs_hz, spec, ctx)
    return float(info["shaft_hz"]), dict(info["defect_orders"]), str(info["speed_source"])


def context_key(shaft_hz: float, defect_orders: dict[str, float]) -> str:
    """A short digest of what the inputs were read with (part of the map's cache key)."""
    blob = json.dumps({"shaft_hz": round(shaft_hz, 6),
                       "orders": {k: round(float(v), 6) for k, v in sorted(defect_orders.items())}})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def shaft_out(shaft_hz: float, source: str, ratio: float) -> ShaftSpeedOut:
    """The speed the inputs used, in the explanation's terms (batch | estimated)."""
    return ShaftSpeedOut(shaft_hz=shaft_hz, rpm=shaft_hz * 60.0 / ratio,
                         source="batch" if source == "given" else "estimated")


def _share(s: orders.Share) -> ShareOut:
    r = s.ratio
    return ShareOut(share=round(s.share, 6), chance=round(s.chance, 6),
                    ratio=None if np.isnan(r) else round(r, 3))


def order_map_out(amap: attr.AttributionMap) -> OrderMapOut:
    """The full map (5 x 6 x 128 cells is small enough to send whole)."""
    v = amap.values.astype(np.float64)
    assert amap.orders is not None, "a defect-order map has cell orders"
    return OrderMapOut(orders=np.round(amap.orders, 5).tolist(), families=list(FAMILIES),
                       rows=ROWS[: v.shape[1]], attribution=np.round(v, 7).tolist(),
                       per_family={f: np.round(v[i].sum(axis=0), 7).tolist()
                                   for i, f in enumerate(FAMILIES[: v.shape[0]])})


def _band_out(b: orders.OrderBand, base_order: float, shaft_hz: float, cells_per_unit: int
              ) -> BandOut:
    half = max(orders.TOLERANCE * b.harmonic, 0.5 / cells_per_unit) * base_order * shaft_hz
    hz = b.hz if b.hz is not None else b.order * shaft_hz
    match = MatchOut(family=b.family, harmonic=b.harmonic, sideband=b.sideband,
                     sideband_of="SHAFT" if b.sideband else "", line_hz=round(hz, 3),
                     error_pct=0.0, tolerance_hz=round(half, 3), within_tolerance=True)
    return BandOut(lo_hz=round(hz - half, 3), hi_hz=round(hz + half, 3), peak_hz=round(hz, 3),
                   share=round(b.share, 5), nearest_line=match)


def physics_fields(amap: attr.AttributionMap, spec: InputSpec, target_class: str,
                   shaft_hz: float, defect_orders: dict[str, float]) -> dict:
    """ExplanationOut's physics fields for a defect-order map, and the check itself."""
    chk = orders.check(amap.values, spec.cells_per_unit, target_class, defect_orders, shaft_hz)
    v = chk.verdict
    exp = chk.families.get(v.expected_family) if v.expected_family else None
    base = {f: (1.0 if f == "SHAFT" else float(defect_orders[f])) for f in FAMILIES}
    block = DefectOrderCheckOut(
        defect_orders={f: round(o, 5) for f, o in base.items()}, shaft_hz=round(shaft_hz, 4),
        n_harmonics=orders.N_HARMONICS, tolerance_pct=100 * orders.TOLERANCE,
        families={f: FamilyShareOut(plane=_share(s.plane), harmonics=_share(s.harmonics),
                                    centre=_share(s.centre), sidebands=_share(s.sidebands),
                                    in_plane=_share(s.in_plane),
                                    sidebands_in_plane=_share(s.sidebands_in_plane),
                                    lines=None if s.lines is None else _share(s.lines))
                  for f, s in chk.families.items()},
        expected_family=v.expected_family,
        harmonic_share=None if exp is None else round(exp.in_plane.share, 6),
        chance=None if exp is None else round(exp.in_plane.chance, 6),
        x_chance=None if exp is None or np.isnan(exp.in_plane.ratio)
        else round(exp.in_plane.ratio, 3),
        off_harmonic_share=round(chk.off_harmonic_share, 6),
        bands=[OrderBandOut(**vars(b)) for b in chk.bands], physics=v.physics)
    fields = {
        "axis_units": "defect orders", "map": None, "order_map": order_map_out(amap),
        "defect_orders": block,
        "defect_frequencies_hz": {f: round(o * shaft_hz, 3) for f, o in base.items()},
        "tolerance_pct": 100 * orders.TOLERANCE, "n_harmonics": orders.N_HARMONICS,
        "bands": [_band_out(b, base[b.family], shaft_hz, spec.cells_per_unit) for b in chk.bands],
        "agreement": {f: AgreementOut(**_share(s.in_plane).model_dump())
                      for f, s in chk.families.items()},
        "verdict": VerdictOut(verdict=v.verdict, expected_family=v.expected_family,
                              reason=f"{v.physics}: {v.reason}"),
    }
    return {"fields": fields, "check": chk}


def order_figure(amap: attr.AttributionMap, inputs: np.ndarray, spec: InputSpec,
                 chk: orders.OrderCheck, defect_orders: dict[str, float], shaft_hz: float,
                 title: str, notes: list[str]) -> OrderFigure:
    """The PNG figure's content."""
    assert amap.orders is not None, "a defect-order map has cell orders"
    return OrderFigure(attribution=amap.values, model_input=inputs.mean(axis=0),
                       orders=amap.orders, cells_per_unit=spec.cells_per_unit,
                       shares=chk.families, defect_orders=defect_orders, shaft_hz=shaft_hz,
                       expected_family=chk.verdict.expected_family, bands=chk.bands,
                       title=title, notes=notes)


def top_frequencies_hz(amap: attr.AttributionMap, defect_orders: dict[str, float],
                       shaft_hz: float, k: int = 5) -> list[float]:
    """Hz of the ``k`` most salient reading cells at the shaft speed (for /saliency)."""
    assert amap.orders is not None, "a defect-order map has cell orders"
    v = amap.values[:, : len(SIDEBANDS)]
    out = []
    for flat in np.argsort(-v, axis=None)[:k]:
        fi, si, ci = np.unravel_index(flat, v.shape)
        fam = FAMILIES[fi]
        o = 1.0 if fam == "SHAFT" else float(defect_orders[fam])
        out.append(round(float((o * amap.orders[ci] + SIDEBANDS[si]) * shaft_hz), 2))
    return out
