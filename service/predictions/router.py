"""Prediction endpoints: one verdict and its saliency map."""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from pipelines.explain import attribution as attr
from pipelines.features.spec import InputSpec
from service.batches.tables import Batch
from service.components.service import kinematics_for_sensor
from service.deps import BigIdPath, RuntimeDep, SessionDep, StoreDep
from service.predictions import explain_orders as eo
from service.predictions import service
from service.predictions.explain import explain_prediction, explanation_png
from service.predictions.schemas import ExplanationOut, ModelRef, PredictionOut, SaliencyOut

router = APIRouter(prefix="/predictions", tags=["predictions"])


@router.get("/{prediction_id}", response_model=PredictionOut)
def get_prediction(prediction_id: BigIdPath, session: SessionDep) -> PredictionOut:
    """One verdict with its probabilities and links."""
    return service.get_prediction(session=session, prediction_id=prediction_id)


@router.get("/{prediction_id}/saliency", response_model=SaliencyOut)
async def get_saliency(
    prediction_id: BigIdPath, session: SessionDep, store: StoreDep, runtime: RuntimeDep
) -> SaliencyOut:
    """Input-gradient attribution of the predicted class, by the model version that made it:
    over frequency (Hz) for a 1-D spectrum model, over frequency x time for a 2-D model, over
    families x rows x defect-order cells (``orders``, ``freqs_hz`` null) for a defect-order
    model. The same map as ``/explanation?method=vanilla``, at full resolution and without the
    physics."""

    def work() -> SaliencyOut:
        p = service.get_prediction_row(session=session, prediction_id=prediction_id)
        batch = session.get(Batch, p.batch_id)
        served = runtime.by_id(session=session, version_id=p.model_version_id)
        clf = served.classifier
        sk = kinematics_for_sensor(session=session, sensor_id=p.sensor_id)
        x, _, _ = store.read(batch.raw_uri, batch.raw_sha256)
        target = clf.classes.index(p.label)
        spec = InputSpec.from_dict(clf.input_spec_dict)
        head = dict(prediction_id=p.id,
                    model_version=ModelRef(id=served.version_id, name=served.name),
                    architecture=clf.architecture, method="input_gradient", target_class=p.label)
        if spec.kind == "defect_orders":
            shaft_hz, orders, _ = eo.order_context(p.diagnosis, x, batch.sample_rate_hz, spec,
                                                   batch.rpm, sk)
            inputs = attr.snapshot_inputs(x, batch.sample_rate_hz, spec, shaft_hz, orders)
            amap = attr.attribution_map(clf.model, inputs, spec, target, "vanilla")
            m = eo.order_map_out(amap)
            return SaliencyOut(
                **head, axis_units="defect orders", freqs_hz=None, times_s=None,
                orders=m.orders, families=m.families, rows=m.rows,
                family_shares={f: round(float(amap.values[i].sum()), 6)
                               for i, f in enumerate(m.families)},
                attribution=m.attribution,
                top_frequencies_hz=eo.top_frequencies_hz(amap, orders, shaft_hz))
        inputs = attr.snapshot_inputs(x, batch.sample_rate_hz, spec)
        amap = attr.attribution_map(clf.model, inputs, spec, target, "vanilla")
        top = amap.freqs_hz[np.argsort(amap.per_freq)[::-1][:5]]
        return SaliencyOut(
            **head, axis_units="Hz" if amap.times_s is None else "Hz x s",
            freqs_hz=amap.freqs_hz.round(3).tolist(),
            times_s=None if amap.times_s is None else amap.times_s.round(5).tolist(),
            attribution=amap.values.tolist(), top_frequencies_hz=top.round(2).tolist(),
        )

    return await run_in_threadpool(work)


@router.get("/{prediction_id}/explanation", response_model=ExplanationOut,
            responses={200: {"content": {"image/png": {}}}})
async def get_explanation(
    prediction_id: BigIdPath, request: Request, session: SessionDep, store: StoreDep,
    runtime: RuntimeDep, method: Literal["vanilla", "smoothgrad", "ig", "gradcam"] = "vanilla",
    format: Literal["json", "png"] = "json", target: str | None = None,
) -> ExplanationOut | Response:
    """Attribution of the predicted class (or ``target``) on physical axes, its top frequency
    bands with the nearest bearing/gear defect line, the agreement of the map with each defect
    family against chance, and a verdict on whether the pattern supports the class. For a
    defect-order model: the map over the family planes (``order_map``), each family's share and
    its harmonic cells' share x chance (``defect_orders``), the top (family, harmonic, sideband)
    bands in orders and Hz, and ``physics-consistent`` when the expected family's harmonic
    cells hold >= 3x chance.
    ``format=png``: the same as a figure. IG and SmoothGrad maps are cached once computed."""

    def work() -> ExplanationOut | Response:
        explained = explain_prediction(
            session=session, store=store, runtime=runtime, prediction_id=prediction_id,
            method=method, target_class=target, cpu_slots=request.app.state.cpu_slots)
        if format == "png":
            return Response(explanation_png(explained), media_type="image/png")
        return explained.out

    return await run_in_threadpool(work)
