"""``backfill``: re-score the stored batches of a time range with a given model version.

Each re-score is a new ``predictions`` row with ``source="backfill"``, keyed by (batch, model
version): the served verdict and every earlier re-score stay as they were. The job is
resumable and idempotent: it only picks batches that version has not scored yet, writes each
chunk in one transaction (insert ... on conflict do nothing, so a concurrent run cannot
duplicate either), and a run killed mid-way leaves whole chunks behind, which the next run
skips. With ``ray_address`` set the scoring runs as a Ray Data pipeline
(``service.jobs.ray_backfill``); the driver still writes every row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.checkpoint import load_checkpoint
from pipelines.features.spec import InputSpec
from pipelines.inference.shaft import ShaftContext
from service.batches.storage import RawStore
from service.batches.tables import Batch
from service.components import service as components
from service.jobs import rescore
from service.jobs.context import JobContext
from service.predictions.tables import BACKFILL, Prediction
from service.registry import service as registry
from service.turbines.tables import Sensor, Turbine
from service.validation import MAX_DB_INT

PAGE = 2000  # tasks fetched (and, on Ray, pipelined) at a time: bounds the driver's memory


class Params(BaseModel):
    """What to re-score: batches recorded in [start, end) (optionally of some turbines)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_version_id: int = Field(ge=1, le=MAX_DB_INT)
    start: AwareDatetime
    end: AwareDatetime
    turbines: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    batch_size: int = Field(default=64, ge=1, le=4096, description="snapshots per inference "
                            "batch and per written chunk")

    @model_validator(mode="after")
    def _ordered(self) -> Params:
        if self.start >= self.end:
            raise ValueError(f"start ({self.start.isoformat()}) must be before end "
                             f"({self.end.isoformat()})")
        return self


def _pending(session: Session, params: Params, turbine_ids: list[int] | None):
    done = exists().where(Prediction.batch_id == Batch.id,
                          Prediction.model_version_id == params.model_version_id)
    stmt = select(Batch, Sensor.name, Turbine.name).join(Sensor, Sensor.id == Batch.sensor_id) \
        .join(Turbine, Turbine.id == Batch.turbine_id) \
        .where(Batch.recorded_at >= params.start, Batch.recorded_at < params.end, ~done)
    if turbine_ids is not None:
        stmt = stmt.where(Batch.turbine_id.in_(turbine_ids))
    return stmt


def _turbine_ids(session: Session, names: list[str] | None) -> list[int] | None:
    if names is None:
        return None
    rows = dict(session.execute(select(Turbine.name, Turbine.id).where(Turbine.name.in_(names))).all())
    unknown = sorted(set(names) - set(rows))
    if unknown:
        raise ValueError(f"unknown turbines: {unknown[:20]}")
    return list(rows.values())


def _pages(ctx: JobContext, params: Params, turbine_ids: list[int] | None, store: RawStore
           ) -> Iterator[tuple[list[dict], dict[int, tuple[datetime, list[str]]]]]:
    """Pages of tasks in (recorded_at, id) order, each with batch id -> (recorded_at, channels)."""
    shafts: dict[int, ShaftContext] = {}
    after: tuple[datetime, int] | None = None
    while True:
        with ctx.session_factory() as session:
            stmt = _pending(session, params, turbine_ids)
            if after is not None:
                stmt = stmt.where(or_(Batch.recorded_at > after[0],
                                      and_(Batch.recorded_at == after[0], Batch.id > after[1])))
            rows = session.execute(stmt.order_by(Batch.recorded_at, Batch.id).limit(PAGE)).all()
            tasks, meta = [], {}
            for b, sensor, turbine in rows:
                if b.sensor_id not in shafts:  # the sensor's geometry as registered now
                    shafts[b.sensor_id] = components.shaft_context(
                        session=session, turbine_name=turbine, sensor_name=sensor, rpm=None)
                tasks.append(rescore.make_task(
                    batch_id=b.id, turbine_id=b.turbine_id, sensor_id=b.sensor_id,
                    path=store.path(b.raw_uri), sample_rate_hz=b.sample_rate_hz,
                    shaft=replace(shafts[b.sensor_id], rpm=b.rpm)))
                meta[b.id] = (b.recorded_at, list(b.channel_names))
        if not tasks:
            return
        yield tasks, meta
        last = rows[-1][0]
        after = (last.recorded_at, last.id)


def insert_predictions(session: Session, rows: Sequence[dict]) -> int:
    """Bulk insert; rows whose (batch, model version) exists already are skipped. Returns the
    number of rows written."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Prediction)
    stmt = ins.on_conflict_do_nothing(index_elements=["batch_id", "model_version_id"])
    return len(session.execute(stmt.returning(Prediction.id), list(rows)).all())


def _scored(ctx: JobContext, params: Params, tasks: list[dict], artifact: str, spec_dict: dict,
            clf) -> Iterator[list[dict]]:
    """Scored rows of one page, in chunks of ``batch_size`` (in-process or on Ray)."""
    max_fs = ctx.settings.max_sample_rate_hz
    if ctx.settings.ray_address:
        from service.jobs import ray_backfill

        local = ctx.settings.ray_address == ray_backfill.LOCAL
        yield from ray_backfill.ray_rescore(
            tasks, artifact=artifact, spec_dict=spec_dict, max_fs_hz=max_fs,
            batch_size=params.batch_size, prepare_cpus=0.75 if local else 1.0,
            scorer_cpus=0.5 if local else 1.0)
        return
    spec = InputSpec.from_dict(spec_dict)
    for i in range(0, len(tasks), params.batch_size):
        chunk = tasks[i:i + params.batch_size]
        yield rescore.score(clf, [rescore.prepare(t, spec, max_fs) for t in chunk])


def run(ctx: JobContext, params: Params) -> dict:
    """Re-score every batch in the range that this model version has not scored yet."""
    t0 = time.perf_counter()
    store = RawStore(ctx.settings.data_root)
    with ctx.session_factory() as session:
        version = registry.get_version(session=session, version_id=params.model_version_id)
        artifact = str(ctx.settings.data_root / version.artifact_path)
        classes, spec_dict, name = list(version.classes), dict(version.input_spec), version.name
        turbine_ids = _turbine_ids(session, params.turbines)
        total = session.scalar(select(func.count()).select_from(
            _pending(session, params, turbine_ids).subquery()))
    if ctx.settings.ray_address:
        from service.jobs import ray_backfill

        ray_backfill.ensure_ray(ctx.settings.ray_address)
        clf = None
    else:
        clf = load_checkpoint(artifact)
    ctx.progress(0.0, f"{total} batches to re-score with {name} (v{params.model_version_id})")
    written = seen = 0
    errors: dict[int, str] = {}
    for tasks, meta in _pages(ctx, params, turbine_ids, store):
        by_id = {t["batch_id"]: t for t in tasks}
        for scored in _scored(ctx, params, tasks, artifact, spec_dict, clf):
            rows = []
            for s in scored:
                if s["error"]:
                    errors[s["batch_id"]] = s["error"]
                    continue
                recorded_at, channels = meta[s["batch_id"]]
                rows.append(rescore.prediction_values(
                    s, by_id[s["batch_id"]], classes=classes, channel_names=channels,
                    model_version_id=params.model_version_id, recorded_at=recorded_at,
                    source=BACKFILL))
            with ctx.session_factory() as session:
                written += insert_predictions(session, rows)
                session.commit()
            seen += len(scored)
            ctx.progress(seen / max(total or 0, 1), f"{seen}/{total} batches re-scored")
    seconds = time.perf_counter() - t0
    if errors:
        ctx.log(f"{len(errors)} batches could not be re-scored, e.g. "
                f"{next(iter(errors.items()))}")
    return {"model_version_id": params.model_version_id, "model": name, "pending": total,
            "written": written, "failed": len(errors),
            "failures": {str(k): v for k, v in list(errors.items())[:20]},
            "engine": "ray" if ctx.settings.ray_address else "in-process",
            "seconds": round(seconds, 2),
            "per_second": round(seen / seconds, 2) if seconds > 0 else None}
