"""``windwatch scheduler``: cron-style schedules from the settings and the queued jobs, run by
the one process that holds the database lease.

APScheduler (3.x, ``BackgroundScheduler``) fires three kinds of work: the lease renewal (every
third of its lifetime), the poll that fails orphaned jobs and claims queued ones into a thread
pool (``job_workers``, one job per kind), and a cron trigger per non-empty schedule that queues
its job. Every process renews or tries to take the lease; only the holder schedules and runs, so
two schedulers started by mistake never both act. The API's workers never run jobs.
"""

from __future__ import annotations

import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from service.errors import WindwatchError
from service.jobs import lease
from service.jobs import service as jobs
from service.jobs.runner import claim_next, fail_orphans, run_job
from service.settings import Settings

log = structlog.get_logger("windwatch.scheduler")

# (schedule name, job kind, settings field holding its cron expression)
SCHEDULES = (("retrain-weekly", "retrain", "schedule_retrain"),
             ("baselines-nightly", "refresh-baselines", "schedule_baselines"),
             ("drift-hourly", "drift-check", "schedule_drift"))


DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 = Sunday


def _days(field: str) -> str:
    # APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0 (7 too): "0 3 * * 0"
    # would fire on Mondays. Expand the crontab field to explicit day names instead.
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            lo, hi = 0, 6
        else:
            a, _, b = rng.partition("-")
            lo = DAY_NAMES.index(a[:3]) if a[:3] in DAY_NAMES else int(a)
            hi = (DAY_NAMES.index(b[:3]) if b[:3] in DAY_NAMES else int(b)) if b else \
                (6 if step else lo)
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi):
            raise ValueError(f"day of week {part!r} is out of range 0-7")
        days |= {d % 7 for d in range(lo, hi + 1, int(step) if step else 1)}
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def cron_trigger(expr: str) -> CronTrigger:
    """A UTC trigger of a 5-field crontab expression with crontab's weekday numbering."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r}: expected 5 fields (minute hour day month weekday), "
                         f"got {len(fields)}")
    minute, hour, day, month, dow = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_days(dow),
                       timezone=UTC)


def schedules(settings: Settings, now: datetime | None = None) -> list[dict]:
    """Every schedule with its cron expression and next run (None when disabled)."""
    now = now or datetime.now(UTC)
    out = []
    for name, kind, field in SCHEDULES:
        expr = getattr(settings, field)
        nxt = cron_trigger(expr).get_next_fire_time(None, now) if expr else None
        out.append({"name": name, "kind": kind, "cron": expr or None, "next_run": nxt,
                    "setting": f"WINDWATCH_{field.upper()}"})
    return out


class Scheduler:
    """The scheduler of one process; ``start``/``stop``, or ``run_forever`` until a signal."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session],
                 holder: str | None = None):
        self.settings = settings
        self.session_factory = session_factory
        self.holder = holder or lease.new_holder_id()
        self.leader = False
        self._running: dict[int, tuple[str, Future]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=settings.job_workers,
                                        thread_name_prefix="job")
        self._aps = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 600})

    def renew(self) -> bool:
        """Take or renew the lease; on becoming the holder, fail jobs orphaned by a dead one."""
        was = self.leader
        try:
            self.leader = lease.acquire(session_factory=self.session_factory,
                                        holder=self.holder, ttl_s=self.settings.scheduler_lease_s)
        except Exception as exc:  # the database is away: stop acting until it is back
            log.warning("lease renewal failed", error=str(exc))
            self.leader = False
        if self.leader and not was:
            log.info("this process is the active scheduler", holder=self.holder)
            fail_orphans(session_factory=self.session_factory,
                         stale_after_s=self.settings.job_stale_s, actor=f"scheduler:{self.holder}")
        elif was and not self.leader:
            log.warning("lost the scheduler lease; standing by", holder=self.holder)
        return self.leader

    def poll(self) -> list[int]:
        """As the holder: fail orphaned jobs, then claim queued jobs into free workers."""
        if not self.leader:
            return []
        fail_orphans(session_factory=self.session_factory,
                     stale_after_s=self.settings.job_stale_s, actor=f"scheduler:{self.holder}")
        started = []
        with self._lock:
            self._running = {k: v for k, v in self._running.items() if not v[1].done()}
            while len(self._running) < self.settings.job_workers:
                busy = {kind for kind, _ in self._running.values()}
                job = claim_next(session_factory=self.session_factory, holder=self.holder,
                                 exclude_kinds=busy)
                if job is None:
                    break
                future = self._pool.submit(run_job, job, settings=self.settings,
                                           session_factory=self.session_factory,
                                           holder=self.holder)
                self._running[job.id] = (job.kind, future)
                started.append(job.id)
        return started

    def enqueue(self, name: str, kind: str) -> int | None:
        """As the holder: queue the scheduled job unless one of its kind is queued or running."""
        if not self.leader:
            return None
        with self.session_factory() as session:
            active = jobs.active_of_kind(session=session, kind=kind)
            if active is not None:
                log.info("schedule skipped: a job of its kind is active", schedule=name,
                         job=active.id)
                return None
            try:
                job = jobs.start(session=session, kind=kind, params={},
                                 started_by=f"schedule:{name}", source="schedule")
                session.commit()
            except WindwatchError as exc:
                log.warning("schedule could not queue its job", schedule=name, error=exc.detail)
                return None
        log.info("scheduled job queued", schedule=name, job=job.id)
        return job.id

    def start(self) -> None:
        """Try the lease now, then start the timers and the schedules."""
        s = self.settings
        self.renew()
        self._aps.add_job(self.renew, IntervalTrigger(seconds=s.scheduler_lease_s / 3),
                          id="lease")
        self._aps.add_job(self.poll, IntervalTrigger(seconds=s.scheduler_poll_s), id="poll",
                          next_run_time=datetime.now(UTC))
        for entry in schedules(s):
            if entry["cron"]:
                self._aps.add_job(self.enqueue, cron_trigger(entry["cron"]),
                                  args=(entry["name"], entry["kind"]), id=entry["name"])
        self._aps.start()

    def stop(self, release: bool = True) -> None:
        """Stop the timers, fail this process's unfinished jobs and (``release``) give the
        lease up at once rather than letting it expire."""
        if self._aps.running:
            self._aps.shutdown(wait=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        fail_orphans(session_factory=self.session_factory, stale_after_s=0,
                     actor=f"scheduler:{self.holder}", holder=self.holder)
        if self.leader and release:
            lease.release(session_factory=self.session_factory, holder=self.holder)
        self.leader = False

    def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM."""
        import torch

        # Jobs train and re-score in this process; bounded threads leave the API's workers
        # their cores (2 processes x 2 threads on 2 cores ran a small CNN 4-8x slower).
        torch.set_num_threads(self.settings.job_torch_threads)
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        log.info("scheduler started", holder=self.holder,
                 schedules={e["name"]: e["cron"] for e in schedules(self.settings)})
        done.wait()
        log.info("scheduler stopping", holder=self.holder)
        self.stop()
