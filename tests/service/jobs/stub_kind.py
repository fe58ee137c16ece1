"""A job kind for the framework's tests: succeeds, fails, skips, or reports progress until it is
cancelled, as its parameters say."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.context import JobContext, JobSkipped


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["ok", "fail", "skip", "loop"] = "ok"
    steps: int = Field(default=3, ge=1, le=1000)
    sleep_s: float = Field(default=0.0, ge=0, le=5)


def run(ctx: JobContext, params: Params) -> dict:
    for i in range(params.steps):
        ctx.progress(i / params.steps, f"step {i + 1} of {params.steps}")
        ctx.log(f"step {i + 1}")
        time.sleep(params.sleep_s)
    if params.mode == "fail":
        raise RuntimeError("the stub failed as asked")
    if params.mode == "skip":
        raise JobSkipped("nothing to do")
    if params.mode == "loop":
        while True:  # until cancelled: progress() raises JobCancelled
            ctx.progress(0.5, "waiting for a cancel")
            time.sleep(params.sleep_s or 0.05)
    return {"steps": params.steps}
