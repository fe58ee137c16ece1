"""Model versions: every trained classifier the service knows, and which one is in production."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, utcnow

STATUSES = ("candidate", "production", "archived")


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    architecture: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    artifact_path: Mapped[str] = mapped_column(String(512))  # the checkpoint's JSON metadata
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the weights
    status: Mapped[str] = mapped_column(String(16), default="candidate", index=True)
    classes: Mapped[list[str]] = mapped_column(JSONType)
    input_spec: Mapped[dict] = mapped_column(JSONType)
    metrics: Mapped[dict] = mapped_column(JSONType, default=dict)
    training_data: Mapped[dict] = mapped_column(JSONType, default=dict)
    promoted_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(String(128))
    promotion_reason: Mapped[str | None] = mapped_column(String(512))
