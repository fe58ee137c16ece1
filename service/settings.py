"""Runtime settings: every knob is an environment variable with the ``WINDWATCH_`` prefix.

The embedded default (no variables set) is a SQLite file and raw data under ``./var``, the
bundled model, and ``../shared/datasets`` as the location of the real recordings.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.baselines.model import DEFAULT_THRESHOLD

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
    anomaly_threshold: float = Field(
        default=DEFAULT_THRESHOLD, gt=0, description="Anomaly score above which a snapshot counts against "
        "the baseline (calibrated: 5 % of healthy snapshots; see README).",
    )
    demo_fleet: bool = Field(
        default=False, description="`serve` also runs a simulated gateway feeding a demo fleet."
    )
    demo_turbines: int = Field(default=8, ge=1, le=1000)
    demo_interval_s: float = Field(default=60.0, gt=0, description="Demo feed cadence.")

    @field_validator("database_url")
    @classmethod
    def _normalise_pg_driver(cls, v: str) -> str:
        # Users paste postgres:// or postgresql:// URLs; we ship psycopg 3, not psycopg2.
        for prefix in ("postgres://", "postgresql://"):
            if v.startswith(prefix):
                return "postgresql+psycopg://" + v[len(prefix) :]
        return v

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
