"""Explanations of stored predictions: an attribution map checked against the kinematics of
the sensor's bearing and gears, as JSON or PNG.

Integrated Gradients and SmoothGrad cost ~0.1-0.4 s per window, so their maps are cached on
disk under ``<data_root>/explanations/``, content-addressed by the raw file's sha256, the
model's weights sha256, the method, the target class and ``MAP_VERSION`` (bump it when an
attribution method changes); defect-order maps also by the shaft speed and defect orders
their inputs were read with. The physics part is recomputed on every request: it depends on
the sensor's geometry, which may be edited after the map was cached. Defect-order models are
explained in ``service.predictions.explain_orders``.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.dsp.envelope import envelope_spectrum, spectral_kurtosis_band
from pipelines.dsp.spectra import estimate_shaft_hz
from pipelines.explain import attribution as attr
from pipelines.explain import physics
from pipelines.explain.figure import ExplanationFigure, render_png
from pipelines.explain.order_figure import OrderFigure, render_order_png
from pipelines.features.spec import InputSpec
from service.batches.storage import RawStore
from service.batches.tables import Batch
from service.components.service import SensorKinematics, kinematics_for_sensor
from service.errors import BadRequest
from service.predictions import explain_orders as eo
from service.predictions import service as predictions
from service.predictions.schemas import (
    AgreementOut,
    BandOut,
    ExplanationOut,
    MapOut,
    MatchOut,
    ModelRef,
    ShaftSpeedOut,
    VerdictOut,
)
from service.predictions.tables import Prediction
from service.registry.runtime import ServedModel

MAP_VERSION = "1"
CACHED_METHODS = ("ig", "smoothgrad")
DEFAULT_RPM_RANGE = (300.0, 3600.0)  # speed search range when neither batch nor config has one
DISPLAY_POINTS = 400  # frequency points of a displayed map (time: at most 64 columns)
TOP_BANDS = 5


@dataclass
class Explained:
    """An explanation: the JSON body and the figure it renders to."""

    out: ExplanationOut
    figure: ExplanationFigure | OrderFigure


def cache_path(root: Path, raw_sha: str, model_sha: str, method: str, target: int,
               context: str = "") -> Path:
    """Where the map of (raw file, model, method, target[, input context]) is cached."""
    extra = f"|{context}" if context else ""
    key = hashlib.sha256(f"{MAP_VERSION}|{raw_sha}|{model_sha}|{method}|{target}{extra}"
                         .encode()).hexdigest()
    return root / "explanations" / key[:2] / f"{key}.npz"


def load_or_compute(path: Path | None, compute) -> tuple[attr.AttributionMap, bool]:
    """The cached map at ``path`` or ``compute()``'s, stored there atomically."""
    if path is not None and path.exists():
        try:
            with np.load(path) as z:
                orders = z["orders"] if "orders" in z.files and z["orders"].size else None
                return attr.AttributionMap(z["values"], z["freqs_hz"], z["times_s"] if
                                           z["times_s"].size else None, str(z["method"]),
                                           int(z["n_windows"]), orders), True
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache entry is recomputed and replaced
    m = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.npz")
        np.savez(tmp, values=m.values, freqs_hz=m.freqs_hz, method=m.method,
                 times_s=m.times_s if m.times_s is not None else np.zeros(0),
                 n_windows=m.n_windows, orders=m.orders if m.orders is not None else np.zeros(0))
        os.replace(tmp, path)
    return m, False


def shaft_speed(rpm: float | None, x: np.ndarray, fs_hz: float, sk: SensorKinematics
                ) -> ShaftSpeedOut:
    """The watched shaft's speed: the batch's rpm if given, else an estimate (say which)."""
    if rpm is not None and rpm > 0:
        hz = rpm / 60.0 * sk.shaft_speed_ratio
        return ShaftSpeedOut(shaft_hz=hz, rpm=hz * 60.0, source="batch")
    lo, hi = sk.rpm_range or DEFAULT_RPM_RANGE
    try:
        hz = estimate_shaft_hz(x, fs_hz, lo / 60.0, hi / 60.0)
    except ValueError:
        return ShaftSpeedOut(shaft_hz=None, rpm=None, source="unavailable",
                             search_range_rpm=(lo, hi))
    return ShaftSpeedOut(shaft_hz=hz, rpm=hz * 60.0, source="estimated", search_range_rpm=(lo, hi))


def _pool(a: np.ndarray, axis: int, k: int) -> np.ndarray:
    n = a.shape[axis] // k * k
    a = np.take(a, np.arange(n), axis=axis)
    shape = a.shape[:axis] + (n // k, k) + a.shape[axis + 1:]
    return a.reshape(shape).sum(axis=axis + 1)


def display_map(m: attr.AttributionMap) -> MapOut:
    """Sum-pool the map to at most DISPLAY_POINTS frequencies (x 64 times): shares survive."""
    kf = max(1, math.ceil(len(m.freqs_hz) / DISPLAY_POINTS))
    f = _pool(m.freqs_hz[:, None], 0, kf)[:, 0] / kf
    values = _pool(m.values.astype(np.float64), 0, kf)
    times = None
    if values.ndim == 2:
        kt = max(1, math.ceil(values.shape[1] / 64))
        values = _pool(values, 1, kt)
        times = (_pool(m.times_s[None, :], 1, kt)[0] / kt).round(5).tolist()
    per_f = values if values.ndim == 1 else values.sum(axis=1)
    return MapOut(freqs_hz=f.round(3).tolist(), times_s=times,
                  attribution=np.round(values, 7).tolist(),
                  per_frequency=np.round(per_f, 7).tolist())


def explain_prediction(*, session, store: RawStore, runtime, prediction_id: int,
                       method: str, target_class: str | None = None,
                       cpu_slots: threading.Semaphore | None = None) -> Explained:
    """Attribution of a stored prediction, by the model version that made it, with the physics
    check (bands, nearest defect lines, agreement per family, verdict)."""
    p = predictions.get_prediction_row(session=session, prediction_id=prediction_id)
    batch = session.get(Batch, p.batch_id)
    served = runtime.by_id(session=session, version_id=p.model_version_id)
    clf = served.classifier
    target_class = target_class or p.label
    if target_class not in clf.classes:
        raise BadRequest(f"unknown class {target_class!r}; the model knows {clf.classes}")
    target = clf.classes.index(target_class)
    sk = kinematics_for_sensor(session=session, sensor_id=p.sensor_id)
    diagnosis, rpm = p.diagnosis, batch.rpm
    session.rollback()  # no read transaction is held during the CPU work
    spec = InputSpec.from_dict(clf.input_spec_dict)
    x, _, _ = store.read(batch.raw_uri, batch.raw_sha256)
    fs = batch.sample_rate_hz
    orders_ctx = None
    with cpu_slots or nullcontext():
        if spec.kind == "defect_orders":
            orders_ctx = eo.order_context(diagnosis, x, fs, spec, rpm, sk)
            inputs = attr.snapshot_inputs(x, fs, spec, orders_ctx[0], orders_ctx[1])
            key = eo.context_key(orders_ctx[0], orders_ctx[1])
        else:
            inputs, key = attr.snapshot_inputs(x, fs, spec), ""
        path = (cache_path(store.data_root, batch.raw_sha256, clf.sha256, method, target, key)
                if method in CACHED_METHODS else None)
        amap, cached = load_or_compute(
            path, lambda: attr.attribution_map(clf.model, inputs, spec, target, method))
    shaft = (eo.shaft_out(orders_ctx[0], orders_ctx[2], sk.shaft_speed_ratio) if orders_ctx
             else shaft_speed(batch.rpm, x, fs, sk))
    ctx = _Explaining(prediction=p, served=served, spec=spec, sensor=sk, shaft=shaft, amap=amap,
                      cached=cached, inputs=inputs, target_class=target_class, method=method,
                      x=x, fs_hz=fs)
    if orders_ctx is not None:
        return _physics_orders(ctx, orders_ctx[0], orders_ctx[1])
    return _physics(ctx)


@dataclass(frozen=True)
class _Explaining:
    """What one explanation is computed from: the verdict, the model, the sensor, the map."""

    prediction: Prediction
    served: ServedModel
    spec: InputSpec
    sensor: SensorKinematics
    shaft: ShaftSpeedOut
    amap: attr.AttributionMap
    cached: bool
    inputs: np.ndarray
    target_class: str
    method: str
    x: np.ndarray
    fs_hz: float


def _common(ctx: _Explaining) -> dict:
    """The fields every explanation has, whatever its axes."""
    sk, served = ctx.sensor, ctx.served
    return dict(
        prediction_id=ctx.prediction.id,
        model_version=ModelRef(id=served.version_id, name=served.name),
        architecture=served.classifier.architecture, method=ctx.method,
        target_class=ctx.target_class, predicted_class=ctx.prediction.label,
        n_windows=ctx.amap.n_windows, cached=ctx.cached, shaft_speed=ctx.shaft,
        geometry={"bearing": sk.designation, "assumed": sk.assumed, "approximate": sk.approximate,
                  "source": sk.source, "gear_mesh_orders": sk.gear_orders,
                  "shaft_speed_ratio": sk.shaft_speed_ratio})


def _physics_orders(ctx: _Explaining, shaft_hz: float, defect_orders: dict[str, float]
                    ) -> Explained:
    """The defect-order physics check of the map, and its figure."""
    got = eo.physics_fields(ctx.amap, ctx.spec, ctx.target_class, shaft_hz, defect_orders)
    out = ExplanationOut(**_common(ctx), **got["fields"])
    sk, shaft = ctx.sensor, ctx.shaft
    notes = [f"shaft {shaft.rpm:.0f} rpm ({shaft.source})",
             (sk.designation or "custom bearing") + (" (ASSUMED)" if sk.assumed else ""),
             f"harmonic cells +-{100 * eo.orders.TOLERANCE:g}% of k",
             f"verdict: {got['check'].verdict.physics}"]
    title = (f"{ctx.method} attribution for '{ctx.target_class}' - {ctx.served.name} "
             f"({ctx.served.classifier.architecture}), {ctx.amap.n_windows} windows, "
             "defect-order axes")
    return Explained(out, eo.order_figure(ctx.amap, ctx.inputs, ctx.spec, got["check"],
                                          defect_orders, shaft_hz, title, notes))


def _physics(ctx: _Explaining) -> Explained:
    """The physics check of the map (or the salient bands alone without a shaft speed)."""
    amap, sk, shaft = ctx.amap, ctx.sensor, ctx.shaft
    freqs, per_f = amap.freqs_hz, amap.per_freq
    expected = physics.EXPECTED_FAMILY.get(ctx.target_class)
    if shaft.shaft_hz is not None:
        kin = sk.at(shaft.shaft_hz)
        fundamentals = kin.fundamentals_hz()
        chk = physics.check(per_f, freqs, kin, ctx.target_class, TOP_BANDS)
        bands, matches, agreements, v, lines = (chk.bands, chk.matches, chk.agreements,
                                                chk.verdict, chk.lines)
    else:
        fundamentals, agreements = {}, {}
        bands = physics.salient_bands(per_f, freqs, TOP_BANDS)
        matches = [None] * len(bands)
        lines = physics.family_lines(physics.Kinematics(1.0), [])
        v = physics.Verdict("inconclusive", expected, "no shaft speed: the batch has no rpm "
                            "and none could be estimated, so no defect lines can be placed")
    out = ExplanationOut(
        **_common(ctx), map=display_map(amap),
        axis_units="Hz" if amap.times_s is None else "Hz x s",
        defect_frequencies_hz={k: round(f, 3) for k, f in fundamentals.items()},
        tolerance_pct=100 * physics.TOLERANCE, n_harmonics=physics.N_HARMONICS,
        bands=[BandOut(lo_hz=b.lo_hz, hi_hz=b.hi_hz, peak_hz=b.peak_hz, share=round(b.share, 5),
                       nearest_line=MatchOut(**vars(m)) if m else None)
               for b, m in zip(bands, matches, strict=True)],
        agreement={k: AgreementOut(share=round(a.share, 5), chance=round(a.chance, 5),
                                   ratio=None if np.isnan(a.ratio) else round(a.ratio, 3))
                   for k, a in agreements.items()},
        verdict=VerdictOut(verdict=v.verdict, expected_family=v.expected_family, reason=v.reason),
    )
    return Explained(out, _figure(ctx, bands, lines, expected))


def _figure(ctx: _Explaining, bands: list[physics.Band], lines: physics.Lines,
            expected: str | None) -> ExplanationFigure:
    """The figure of the explanation, zoomed to the low harmonics of the defect lines."""
    spec, amap, shaft, sk = ctx.spec, ctx.amap, ctx.shaft, ctx.sensor
    fmax = float(spec.freqs_hz[-1])
    zoom = fmax
    if len(lines.freq_hz):
        low = lines.freq_hz[(lines.harmonic <= physics.N_HARMONICS)]
        zoom = min(fmax, 1.15 * float(low.max()))
    envelope = None
    try:
        band = spectral_kurtosis_band(ctx.x, ctx.fs_hz)
        ef, ea = envelope_spectrum(ctx.x, ctx.fs_hz, band, fmax_hz=zoom)
        envelope = (ef, ea.mean(axis=0))
    except ValueError:
        pass  # too short for a kurtogram: the figure goes without the envelope panel
    speed = (f"shaft {shaft.rpm:.0f} rpm ({shaft.source})" if shaft.shaft_hz else "no shaft speed")
    bearing = (sk.designation or "custom bearing") + (" (ASSUMED)" if sk.assumed else "")
    return ExplanationFigure(
        freqs_hz=spec.freqs_hz, model_input=ctx.inputs.mean(axis=0)[0], attribution=amap.values,
        times_s=amap.times_s, lines=lines, expected_family=expected, bands=bands,
        zoom_hz=zoom, envelope=envelope,
        title=f"{ctx.method} attribution for '{ctx.target_class}' - {ctx.served.name} "
              f"({ctx.served.classifier.architecture}), {amap.n_windows} windows",
        notes=[speed, bearing, f"tolerance +-{100 * physics.TOLERANCE:g}%"],
    )


def explanation_png(explained: Explained) -> bytes:
    """The explanation's figure as PNG bytes."""
    if isinstance(explained.figure, OrderFigure):
        return render_order_png(explained.figure)
    return render_png(explained.figure)
