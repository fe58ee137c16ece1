"""Running jobs in the scheduler process: claim the oldest queued job, run its kind with a
heartbeat, record the outcome; fail jobs whose holder died.

The claim is one conditional UPDATE (``state = 'queued'`` and no running job of that kind); the
partial unique index ``uq_jobs_running_kind`` makes "one job of a kind at a time" hold even if
two claimers race. Finishing is conditional on ``state = 'running' AND holder = me``, so a job
that was failed as orphaned meanwhile is never overwritten.
"""

from __future__ import annotations

import threading
import traceback
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from service.db import utcnow
from service.jobs.context import JobCancelled, JobContext, JobSkipped
from service.jobs.kinds import load_kind
from service.jobs.service import record, rowcount
from service.jobs.tables import (
    CANCELLED,
    FAILED,
    LOG_TAIL_CHARS,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
)
from service.settings import Settings

log = structlog.get_logger("windwatch.jobs")
HEARTBEAT_S = 10.0


def claim_next(*, session_factory: sessionmaker[Session], holder: str,
               exclude_kinds: set[str] | frozenset[str] = frozenset()) -> Job | None:
    """Claim the oldest queued job whose kind has none running (None when there is none)."""
    running = aliased(Job)
    busy = exists().where(and_(running.kind == Job.kind, running.state == RUNNING))
    for _ in range(3):  # a lost race (the unique index) just means: look again
        with session_factory() as session:
            try:
                with session.begin():
                    candidate = session.scalar(
                        select(Job.id).where(Job.state == QUEUED, ~busy,
                                             Job.kind.not_in(exclude_kinds))
                        .order_by(Job.created_at, Job.id).limit(1))
                    if candidate is None:
                        return None
                    now = utcnow()
                    won = session.execute(update(Job).where(Job.id == candidate,
                                                            Job.state == QUEUED).values(
                        state=RUNNING, holder=holder, started_at=now, heartbeat_at=now,
                        progress=0.0))
                    if rowcount(won) != 1:
                        continue
                    record(session, candidate, f"scheduler:{holder}", "started", QUEUED, RUNNING)
                return session.get(Job, candidate)
            except IntegrityError:
                continue
    return None


def _finish(session_factory: sessionmaker[Session], job_id: int, holder: str, state: str,
            action: str, *, result: dict | None = None, error: str | None = None,
            message: str | None = None) -> bool:
    with session_factory() as session, session.begin():
        values: dict = {"state": state, "finished_at": utcnow(), "heartbeat_at": utcnow()}
        if state == SUCCEEDED:
            values["progress"] = 1.0
        if result is not None:
            values["result"] = result
        if error is not None:
            values["error"] = error
        done = session.execute(update(Job).where(Job.id == job_id, Job.state == RUNNING,
                                                 Job.holder == holder).values(**values))
        if rowcount(done):
            record(session, job_id, f"scheduler:{holder}", action, RUNNING, state,
                   message or error)
        return bool(rowcount(done))


def _beat(session_factory: sessionmaker[Session], job_id: int, holder: str,
          stop: threading.Event, every_s: float) -> None:
    # Kinds may spend minutes between progress reports (a training run): the heartbeat says
    # the holder is alive, independently of the job's own reporting.
    while not stop.wait(every_s):
        try:
            with session_factory() as session, session.begin():
                session.execute(update(Job).where(Job.id == job_id, Job.holder == holder,
                                                  Job.state == RUNNING)
                                .values(heartbeat_at=utcnow()))
        except Exception as exc:  # a database hiccup must not kill the job's thread
            log.warning("heartbeat failed", job=job_id, error=str(exc))


def run_job(job: Job, *, settings: Settings, session_factory: sessionmaker[Session],
            holder: str, heartbeat_s: float = HEARTBEAT_S) -> str:
    """Run a claimed job to its end and record the outcome; returns the final state."""
    ctx = JobContext(job_id=job.id, settings=settings, session_factory=session_factory,
                     started_by=job.started_by)
    stop = threading.Event()
    beat = threading.Thread(target=_beat, name=f"job-{job.id}-heartbeat", daemon=True,
                            args=(session_factory, job.id, holder, stop, heartbeat_s))
    beat.start()
    log.info("job started", job=job.id, kind=job.kind)
    kwargs: dict[str, Any]
    try:
        module = load_kind(job.kind)
        result = module.run(ctx, module.Params.model_validate(job.params))
        state, action, kwargs = SUCCEEDED, "succeeded", {"result": dict(result or {})}
    except JobSkipped as exc:
        reason = str(exc) or "skipped"
        ctx.log(f"skipped: {reason}")
        state, action, kwargs = SUCCEEDED, "skipped", {"result": {"skipped": reason},
                                                      "message": reason}
    except JobCancelled:
        ctx.log("cancelled on request")
        state, action, kwargs = CANCELLED, "cancelled", {"message": "cancel requested"}
    except Exception as exc:
        ctx.log(traceback.format_exc()[-LOG_TAIL_CHARS // 2:])
        state, action, kwargs = FAILED, "failed", {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        stop.set()
    if not _finish(session_factory, job.id, holder, state, action, **kwargs):
        log.warning("job was taken from this holder before it ended", job=job.id)
    log.info("job ended", job=job.id, kind=job.kind, state=state)
    return state


def fail_orphans(*, session_factory: sessionmaker[Session], stale_after_s: float,
                 actor: str, holder: str | None = None) -> list[int]:
    """Fail running jobs whose heartbeat is older than ``stale_after_s`` (their holder died),
    or, with ``holder``, every running job of that holder (it is shutting down)."""
    now = utcnow()
    with session_factory() as session, session.begin():
        if holder is not None:
            cond = Job.holder == holder
            reason = f"the scheduler {holder} stopped while the job ran"
        else:
            cutoff = now - timedelta(seconds=stale_after_s)
            cond = (Job.heartbeat_at.is_(None)) | (Job.heartbeat_at < cutoff)
            reason = None
        ids = list(session.scalars(select(Job.id).where(Job.state == RUNNING, cond)))
        failed = []
        for job_id in ids:
            job = session.get(Job, job_id)
            assert job is not None
            why = reason or (f"orphaned: its holder {job.holder} sent no heartbeat since "
                             f"{job.heartbeat_at.isoformat() if job.heartbeat_at else 'start'} "
                             f"(more than {stale_after_s:g} s); the process running it died")
            # cancel_requested: a thread still running it stops at its next progress report.
            done = session.execute(update(Job).where(Job.id == job_id, Job.state == RUNNING)
                                   .values(state=FAILED, finished_at=now, error=why,
                                           cancel_requested=True))
            if rowcount(done):
                record(session, job_id, actor, "orphaned" if holder is None else "failed",
                       RUNNING, FAILED, why)
                failed.append(job_id)
    for job_id in failed:
        log.warning("job failed as orphaned", job=job_id)
    return failed
