"""Model registry responses and requests."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    name: str
    architecture: str
    created_at: datetime
    status: str
    sha256: str
    artifact_path: str
    classes: list[str]
    input_spec: dict
    metrics: dict
    training_data: dict
    promoted_at: datetime | None
    promoted_by: str | None
    promotion_reason: str | None


class PromoteIn(BaseModel):
    by: str = Field(default="api", max_length=128)
    reason: str = Field(default="", max_length=512)
