"""Who is asking: the request's principal (an API key, a logged-in person, or the development
bypass) and the scope a route needs.

Routes declare what they need with ``Depends(require("operate"))``; the principal is then
available to the handler as ``PrincipalDep`` (e.g. to record *who* acknowledged an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.scopes import ROLE_SCOPES, SCOPES

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ww_...`")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``actor`` is what the audit trail records."""

    kind: str  # "key" | "user" | "dev"
    id: int | None
    name: str
    scopes: frozenset[str]
    turbines: tuple[str, ...] = field(default=())  # ingest binding; empty: every turbine
    sites: tuple[str, ...] = field(default=())

    @property
    def actor(self) -> str:
        """``key:<name>``, ``user:<name>`` or ``dev`` (auth off)."""
        return "dev" if self.kind == "dev" else f"{self.kind}:{self.name}"


DEV_PRINCIPAL = Principal(kind="dev", id=None, name="dev", scopes=frozenset(SCOPES))


def current_principal(request: Request,
                      credentials: HTTPAuthorizationCredentials | None = Security(bearer)
                      ) -> Principal:
    """The caller, authenticated from a bearer key or the session cookie (401 if neither)."""
    from service.auth.service import authenticate_request

    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = authenticate_request(request, credentials.credentials if credentials else None)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(scope: str):
    """A dependency that lets the request through only with ``scope`` (403 otherwise)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def _check(principal: PrincipalDep) -> Principal:
        from service.errors import forbidden

        if scope not in principal.scopes:
            raise forbidden(f"this action needs the {scope!r} scope; "
                            f"{principal.actor} has {sorted(principal.scopes)}")
        return principal

    _check.__name__ = f"require_{scope}"
    return _check


__all__ = ["DEV_PRINCIPAL", "ROLE_SCOPES", "Principal", "PrincipalDep", "current_principal",
           "require"]
