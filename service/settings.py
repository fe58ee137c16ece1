"""Runtime settings: every knob is an environment variable with the ``WINDWATCH_`` prefix.

The embedded default (no variables set) is a SQLite file and raw data under ``./var``, the
bundled model, and ``../shared/datasets`` as the location of the real recordings.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipelines.baselines.model import DEFAULT_SPEED_BIN, DEFAULT_THRESHOLD

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_MODEL_DIR = REPO_ROOT / "models" / "bundled"
API_PREFIX = "/api/v1"  # every API route lives under it (service/api.py)


class Settings(BaseSettings):
    """Windwatch configuration (env prefix ``WINDWATCH_``, optional ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="WINDWATCH_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/windwatch.db",
        description="SQLAlchemy URL; postgresql+psycopg://user@host:5432/db in production.",
    )
    data_root: Path = Field(
        default=Path("./var"),
        description="Local storage: raw samples under raw/, model artifacts under models/.",
    )
    datasets_dir: Path = Field(
        default=Path("../shared/datasets"), description="Real recordings (CWRU, wind turbine)."
    )
    model_path: Path | None = Field(
        default=None,
        description="Checkpoint (.json metadata beside .safetensors) used when the registry has "
        "no production model; default: the bundled model.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        default=2, ge=1, description="uvicorn worker processes (each with cores // workers torch threads)."
    )
    torch_threads: int | None = Field(
        default=None, description="Threads per worker; default cores // workers (never oversubscribe)."
    )
    max_body_bytes: int = Field(default=64 * 1024 * 1024, gt=0, description="413 above this.")
    max_decoded_samples: int = Field(
        default=8 * 1024 * 1024, gt=0, description="413 when a batch would decode to more "
        "samples (channels x samples per channel); a 40-s 3-channel 51.2 kHz snapshot is 6.1 M.",
    )
    auto_register_turbines: bool = Field(
        default=True, description="Register unknown turbines on first post; off: 404."
    )
    max_future_skew_s: float = Field(
        default=300.0, ge=0, description="Reject recorded_at further than this in the future."
    )
    max_sample_rate_hz: float = 1_000_000.0
    # HTTP hardening (service/security.py, service/http_protocol.py).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host header names served (others: 400); JSON or comma "
        "list. Empty: localhost, 127.0.0.1, ::1 and `host` unless it is 0.0.0.0.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed cross-origin calls (CORS); JSON or "
        "comma list. Empty: no CORS, no Access-Control-Allow-Origin ever.",
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's headers must be complete this long after "
        "the connection opened (or the previous response); also the longest pause in a body.",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="The whole request body must arrive within this: 408.",
    )
    log_level: str = "INFO"
    log_json: bool = False
    stale_after_h: float = Field(
        default=1.0, gt=0, description="Fleet view warns when a turbine sent nothing for longer."
    )
    model_refresh_s: float = Field(
        default=2.0, ge=0, description="How often a worker checks the registry for a new "
        "production model (hot switch without restart).",
    )
    baseline_snapshots: int = Field(
        default=20, ge=5, le=1000, description="Snapshots a sensor's healthy baseline is "
        "learnt from before its anomaly score is computed.",
    )
    baseline_speed_bin: float = Field(
        default=DEFAULT_SPEED_BIN, ge=0, le=1, description="Relative width of a speed class: "
        "a sensor learns one healthy baseline per class of the batches' given rpm (log-spaced, "
        "0.1: 10 % wide); 0: one baseline for every speed.",
    )
    anomaly_threshold: float = Field(
        default=DEFAULT_THRESHOLD, gt=0, description="Anomaly score above which a snapshot counts against "
        "the baseline (calibrated: 5 % of healthy snapshots; see README).",
    )
    auth: str = Field(
        default="on", pattern="^(on|off)$", description="API keys and logins are required; "
        "`off` only for local development (every request acts as `dev`, loudly logged).",
    )
    secret_key: str | None = Field(
        default=None, description="Signs session cookies and CSRF tokens; default: a random "
        "key kept in <data_root>/secret_key (created 0600 on first start, shared by workers).",
    )
    session_ttl_h: float = Field(default=12.0, gt=0, description="Dashboard login lifetime.")
    rate_limit_storage: str = Field(
        default="memory://", description="`limits` storage URI: memory:// counts per worker "
        "process; redis://host:6379 shares the counts between workers and hosts.",
    )
    rate_limit_ingest_key: str = Field(default="3000/minute", description="Posts per API key.")
    rate_limit_ingest_address: str = Field(
        default="6000/minute", description="Posts per client address (any key)."
    )
    rate_limit_login: str = Field(
        default="10/minute", description="Login attempts per client address and per username."
    )
    orphan_grace_s: float = Field(
        default=300.0, ge=0, description="`serve` quarantines raw files without rows older than "
        "this (younger ones may belong to a write that is about to commit).",
    )
    demo_fleet: bool = Field(
        default=False, description="`serve` also runs a simulated gateway feeding a demo fleet."
    )
    demo_turbines: int = Field(default=8, ge=1, le=1000)
    demo_interval_s: float = Field(default=60.0, gt=0, description="Demo feed cadence.")
    ray_address: str | None = Field(
        default=None, description="Ray cluster for backfill (and retrain data preparation): "
        "ray://head:10001 or auto; `local` starts Ray inside the job's process. Unset: in-process.",
    )
    retrain_max_drop_f1: float = Field(
        default=0.01, ge=0, description="Auto-promotion: a challenger may be at most this much "
        "macro-F1 below the champion on any evaluation suite.",
    )
    retrain_min_fleet_gain_f1: float = Field(
        default=0.0, ge=0, description="Auto-promotion: the challenger must beat the champion "
        "on the fleet hold-out by more than this macro-F1.",
    )
    retrain_auto_promote: bool = Field(
        default=True, description="Promote a challenger that passes the policy; off: always a candidate.",
    )
    schedule_retrain: str = Field(
        default="0 3 * * 0", description="Cron (UTC) of the scheduled retrain; empty: off."
    )
    schedule_baselines: str = Field(
        default="0 2 * * *", description="Cron (UTC) of refresh-baselines; empty: off."
    )
    schedule_drift: str = Field(default="0 * * * *", description="Cron (UTC) of drift-check; empty: off.")
    scheduler_poll_s: float = Field(default=5.0, gt=0, description="How often queued jobs are claimed.")
    scheduler_lease_s: float = Field(
        default=30.0, ge=3, description="Scheduler lease lifetime; the holder renews it every third of it."
    )
    job_workers: int = Field(default=2, ge=1, le=16, description="Jobs run at once (one per kind).")
    job_torch_threads: int = Field(
        default=1, ge=1, le=256, description="Torch threads of the scheduler's jobs (training, "
        "re-scoring): on a small host the API keeps the other cores.",
    )
    job_stale_s: float = Field(
        default=120.0, gt=0, description="A running job whose heartbeat is older is failed as orphaned."
    )
    drift_threshold: float = Field(
        default=0.25, gt=0, description="Sensor drift: mean small-sample-corrected PSI above this."
    )
    drift_share: float = Field(
        default=0.5, gt=0, le=1, description="Queue a retrain proposal when more than this share "
        "of the checked sensors drift.",
    )
    drift_window: int = Field(default=50, ge=5, le=5000, description="Recent predictions per sensor.")
    drift_min_samples: int = Field(
        default=20, ge=5, description="Fewer recent or reference samples: no verdict."
    )

    @field_validator("schedule_retrain", "schedule_baselines", "schedule_drift")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        # A typo in a schedule must stop the scheduler at start-up, not silently never fire.
        if v.strip():
            from service.jobs.scheduler import cron_trigger

            cron_trigger(v.strip())
        return v.strip()

    @field_validator("allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _name_list(cls, v: object) -> object:
        # From the environment a JSON list or a plain comma-separated one.
        if isinstance(v, str):
            v = json.loads(v) if v.strip().startswith("[") else v.split(",")
        if isinstance(v, list | tuple):
            return [str(x).strip() for x in v if str(x).strip()]
        return v

    @field_validator("database_url")
    @classmethod
    def _normalise_pg_driver(cls, v: str) -> str:
        # Users paste postgres:// or postgresql:// URLs; we ship psycopg 3, not psycopg2.
        for prefix in ("postgres://", "postgresql://"):
            if v.startswith(prefix):
                return "postgresql+psycopg://" + v[len(prefix) :]
        return v

    @property
    def auth_enabled(self) -> bool:
        """False only when ``WINDWATCH_AUTH=off`` (local development)."""
        return self.auth != "off"

    def trusted_hosts(self) -> list[str]:
        """The Host names served: ``allowed_hosts``, or loopback plus a specific bind address."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        names = ["localhost", "127.0.0.1", "::1"]
        if self.host not in ("0.0.0.0", "::", "", *names):
            names.append(self.host)
        return names

    @property
    def raw_dir(self) -> Path:
        """Where raw snapshot files are stored."""
        return self.data_root / "raw"

    @property
    def artifacts_dir(self) -> Path:
        """Where registered model artifacts are stored (content-addressed)."""
        return self.data_root / "models"

    @property
    def is_sqlite(self) -> bool:
        """True for a SQLite database URL."""
        return self.database_url.startswith("sqlite")

    def effective_torch_threads(self) -> int:
        """Torch intra-op threads for one worker: cores split evenly across workers."""
        if self.torch_threads:
            return self.torch_threads
        return max(1, (os.cpu_count() or 1) // self.workers)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
