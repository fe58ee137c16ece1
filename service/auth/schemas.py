"""Request and response bodies of the key, user, audit and whoami endpoints."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.validation import ID_PATTERN

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class KeyIn(BaseModel):
    """A new API key: what it may do, and (for ingest) which turbines or sites."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME, description="unique, e.g. gateway-site-a")
    scopes: list[str] = Field(min_length=1, max_length=4,
                              description="ingest, read, operate, admin")
    turbines: list[str] = Field(default_factory=list, max_length=1000,
                                description="ingest only for these turbines (empty: all)")
    sites: list[str] = Field(default_factory=list, max_length=100,
                             description="ingest only for turbines of these sites (empty: all)")
    expires_at: datetime | None = None

    @field_validator("turbines", "sites")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:  # what the id routes accept, nothing else
        for v in values:
            if not re.fullmatch(ID_PATTERN, v):
                raise ValueError(f"{v!r} is not a valid turbine or site id")
        return values


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    scopes: list[str]
    turbines: list[str]
    sites: list[str]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreatedOut(KeyOut):
    secret: str = Field(description="the key itself: shown once, store it now")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=NAME)
    password: str = Field(min_length=10, max_length=256)
    role: str = Field(description="viewer, operator or admin")


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class WhoAmIOut(BaseModel):
    actor: str
    kind: str
    scopes: list[str]
    turbines: list[str]
    sites: list[str]


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict
    address: str | None
