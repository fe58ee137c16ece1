"""What a running job's code sees: its id, the settings, a session factory, and the means to
report progress, log, and notice that a cancel was requested.

A job kind's ``run(ctx, params)`` calls ``ctx.progress`` often; that persists the fraction and
message, renews the heartbeat, and raises ``JobCancelled`` once a cancel was requested, so a kind
needs no cancellation logic of its own beyond leaving nothing half-written when it is raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from service.db import utcnow
from service.jobs.tables import LOG_TAIL_CHARS, RUNNING, Job
from service.settings import Settings


class JobCancelled(Exception):
    """Raised inside a job when its cancel was requested; the runner marks it cancelled."""


class JobSkipped(Exception):
    """Raised by ``run()`` to end the job as succeeded with result ``{"skipped": reason}``."""


@dataclass
class JobContext:
    """The running job's handle (each call uses its own short transaction)."""

    job_id: int
    settings: Settings
    session_factory: sessionmaker[Session]
    started_by: str

    def progress(self, fraction: float, message: str) -> None:
        """Persist progress (0..1) and a message, renew the heartbeat; raise ``JobCancelled``
        when a cancel was requested (or the job is no longer running)."""
        fraction = min(1.0, max(0.0, float(fraction)))
        with self.session_factory() as session, session.begin():
            session.execute(update(Job).where(Job.id == self.job_id).values(
                progress=fraction, progress_message=message[:256], heartbeat_at=utcnow()))
            job = session.get(Job, self.job_id, populate_existing=True)
            # Also stop when the job is no longer running: it was failed as orphaned or its
            # scheduler stopped, and whatever it would still write belongs to nobody.
            cancel = job is None or job.cancel_requested or job.state != RUNNING
        if cancel:
            raise JobCancelled("cancel requested")

    def log(self, message: str) -> None:
        """Append a line to the job's log tail (bounded: the oldest text is dropped)."""
        stamp = utcnow().strftime("%H:%M:%S")
        with self.session_factory() as session, session.begin():
            job = session.get(Job, self.job_id, with_for_update=True)
            if job is None:
                return
            text = (job.log_tail or "") + f"{stamp} {message}\n"
            job.log_tail = text[-LOG_TAIL_CHARS:]

    def cancelled(self) -> bool:
        """True once a cancel was requested (without raising)."""
        with self.session_factory() as session:
            job = session.get(Job, self.job_id)
            return bool(job is not None and job.cancel_requested)
