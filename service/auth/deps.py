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


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def current_principal(request: Request, credentials: BearerDep) -> Principal:
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


IngestDep = Annotated[Principal, Depends(require("ingest"))]
OperateDep = Annotated[Principal, Depends(require("operate"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]


def api_access(request: Request, principal: PrincipalDep) -> Principal:
    """Every API route: authenticated, and reads need the ``read`` scope (``whoami`` excepted,
    so an ingest-only gateway key can check itself). Routes that change state add their own
    ``require(...)``."""
    from service.errors import forbidden

    if (request.method in ("GET", "HEAD") and "read" not in principal.scopes
            and not request.url.path.endswith("/whoami")):
        raise forbidden(f"reading needs the 'read' scope; {principal.actor} has "
                        f"{sorted(principal.scopes)}")
    return principal


def actor_of(principal: Principal, claimed: str | None = None) -> str:
    """Who the audit trail names: the authenticated key or person; a free-text name only when
    auth is off (development), where nobody is authenticated."""
    if principal.kind == "dev":
        return (claimed or "dev")[:128]
    return principal.actor


def check_ingest_binding(*, site_of: str | None, principal: Principal, turbine: str) -> None:
    """403 unless the key may post for ``turbine`` (bound turbines, or the turbine's site
    among the bound sites; ``site_of`` is that turbine's registered site, None if unknown)."""
    from service.errors import forbidden

    if not principal.turbines and not principal.sites:
        return
    if turbine in principal.turbines or (site_of is not None and site_of in principal.sites):
        return
    bound = [*(f"turbine {t}" for t in principal.turbines), *(f"site {s}" for s in principal.sites)]
    raise forbidden(f"{principal.actor} may post only for {', '.join(bound)}; not for turbine "
                    f"{turbine!r}" + ("" if site_of else " (not registered under a bound site)"))


__all__ = ["DEV_PRINCIPAL", "ROLE_SCOPES", "AdminDep", "IngestDep", "OperateDep", "Principal",
           "PrincipalDep", "actor_of", "api_access", "check_ingest_binding", "current_principal",
           "require"]
