"""Key, user and audit endpoints (admin scope), and ``whoami`` for any authenticated caller."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.auth import audit, service
from service.auth.deps import PrincipalDep, require
from service.auth.schemas import (
    AuditEventOut,
    KeyCreatedOut,
    KeyIn,
    KeyOut,
    UserIn,
    UserOut,
    UserPatch,
    WhoAmIOut,
)
from service.deps import IdPath, LimitQuery, OffsetQuery, SessionDep, TextQuery

router = APIRouter(tags=["auth"])
admin = [Depends(require("admin"))]


@router.get("/whoami", response_model=WhoAmIOut)
def whoami(principal: PrincipalDep) -> WhoAmIOut:
    """Who the credentials belong to, and what they may do."""
    return WhoAmIOut(actor=principal.actor, kind=principal.kind, scopes=sorted(principal.scopes),
                     turbines=list(principal.turbines), sites=list(principal.sites))


@router.get("/keys", response_model=list[KeyOut], dependencies=admin)
def list_keys(session: SessionDep) -> list[KeyOut]:
    """Every API key (never its secret)."""
    return [KeyOut.model_validate(k) for k in service.list_keys(session=session)]


@router.post("/keys", response_model=KeyCreatedOut, status_code=201, dependencies=admin,
             responses={409: {"description": "name taken"}})
def create_key(body: KeyIn, session: SessionDep, principal: PrincipalDep) -> KeyCreatedOut:
    """A new key; the response holds its secret, the only time it is shown."""
    key, secret = service.create_key(session=session, name=body.name, scopes=body.scopes,
                                     created_by=principal.actor, turbines=body.turbines,
                                     sites=body.sites, expires_at=body.expires_at)
    audit.record(session=session, actor=principal.actor, action="key.create",
                 target=f"key:{key.name}", details={"scopes": key.scopes})
    session.commit()
    return KeyCreatedOut(**KeyOut.model_validate(key).model_dump(), secret=secret)


@router.post("/keys/{key_id}/revoke", response_model=KeyOut, dependencies=admin)
def revoke_key(key_id: IdPath, session: SessionDep, principal: PrincipalDep) -> KeyOut:
    """Revoke a key: every request with it gets 401 from now on."""
    key = service.revoke_key(session=session, key_id=key_id)
    audit.record(session=session, actor=principal.actor, action="key.revoke",
                 target=f"key:{key.name}")
    session.commit()
    return KeyOut.model_validate(key)


@router.get("/users", response_model=list[UserOut], dependencies=admin)
def list_users(session: SessionDep) -> list[UserOut]:
    """Every dashboard user."""
    return [UserOut.model_validate(u) for u in service.list_users(session=session)]


@router.post("/users", response_model=UserOut, status_code=201, dependencies=admin,
             responses={409: {"description": "name taken"}})
def create_user(body: UserIn, session: SessionDep, principal: PrincipalDep) -> UserOut:
    """A new dashboard user with a role (viewer, operator, admin)."""
    user = service.create_user(session=session, username=body.username, password=body.password,
                               role=body.role)
    audit.record(session=session, actor=principal.actor, action="user.create",
                 target=f"user:{user.username}", details={"role": user.role})
    session.commit()
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserOut, dependencies=admin)
def update_user(user_id: IdPath, body: UserPatch, session: SessionDep, principal: PrincipalDep) -> UserOut:
    """Change a role, disable (which ends the user's sessions) or reset a password."""
    user = service.update_user(session=session, user_id=user_id, role=body.role,
                               disabled=body.disabled, password=body.password)
    changed = {k: v for k, v in body.model_dump(exclude_none=True).items() if k != "password"}
    if body.password is not None:
        changed["password"] = "reset"
    audit.record(session=session, actor=principal.actor, action="user.update",
                 target=f"user:{user.username}", details=changed)
    session.commit()
    return UserOut.model_validate(user)


@router.get("/audit", response_model=list[AuditEventOut], dependencies=admin)
def list_audit(session: SessionDep, limit: LimitQuery = 100, offset: OffsetQuery = 0,
               actor: TextQuery = None, action: TextQuery = None) -> list[AuditEventOut]:
    """The audit trail, newest first: who changed what, from where."""
    return [AuditEventOut.model_validate(e) for e in
            audit.list_events(session=session, limit=limit, offset=offset, actor=actor,
                              action=action)]
