"""One scheduler process for the two-process lease test: runs the real ``Scheduler`` on the
given database until a deadline shared with its twin, then writes what it saw as JSON.

    python -m tests.service.jobs.lease_worker URL DATA_ROOT DEADLINE_EPOCH OUT_JSON
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(url: str, data_root: str, deadline: float, out: str) -> None:
    from service.db import make_engine, session_factory
    from service.jobs.scheduler import Scheduler
    from service.settings import Settings

    settings = Settings(_env_file=None, database_url=url, data_root=Path(data_root),
                        scheduler_poll_s=0.2, scheduler_lease_s=3.0, schedule_retrain="",
                        schedule_baselines="", schedule_drift="", log_level="WARNING")
    engine = make_engine(url)
    sched = Scheduler(settings, session_factory(engine))
    sched.start()
    led = False
    while time.time() < deadline:
        led = led or sched.leader
        time.sleep(0.05)
    # Stop without releasing: the twin must not take over in the moment between the two exits.
    sched.stop(release=False)
    Path(out).write_text(json.dumps({"holder": sched.holder, "led": led}))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
