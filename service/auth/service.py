"""API keys, people and dashboard sessions: create, verify, revoke; and the request's principal.

Keys look like ``ww_<prefix>_<secret>``: the prefix (8 hex) finds the row, the secret (43
url-safe characters, 256 bits) is compared by SHA-256 in constant time. Passwords are argon2id
(argon2-cffi's defaults). Session cookies carry an itsdangerous-signed random token whose
SHA-256 is the session row, so logout and expiry are server-side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.auth.deps import DEV_PRINCIPAL, Principal
from service.auth.scopes import ROLE_SCOPES, ROLES, SCOPES
from service.auth.tables import ApiKey, User, UserSession
from service.db import utcnow
from service.errors import BadRequest, Conflict, NotFound, Unauthorized

KEY_PREFIX = "ww_"
SESSION_COOKIE = "windwatch_session"
LAST_USED_EVERY = timedelta(seconds=60)  # at most one last_used_at write per key per minute
_hasher = PasswordHasher()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_key(*, session: Session, name: str, scopes: list[str], created_by: str,
               turbines: list[str] | None = None, sites: list[str] | None = None,
               expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once: only its hash is stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise BadRequest(f"scopes must be a non-empty subset of {list(SCOPES)}; got {scopes}")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API key named {name!r} already exists")
    prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=prefix, secret_hash=_sha256(secret),
                 scopes=sorted(set(scopes), key=SCOPES.index), turbines=turbines or [],
                 sites=sites or [], created_by=created_by, expires_at=expires_at)
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def list_keys(*, session: Session) -> list[ApiKey]:
    """Every key, newest first (secrets are never stored, so never listed)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_key(*, session: Session, key_id: int) -> ApiKey:
    """Revoke a key now (idempotent: revoking twice keeps the first time)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    key.revoked_at = key.revoked_at or utcnow()
    return key


def key_principal(*, session: Session, token: str) -> Principal:
    """The principal of a bearer token (401 for unknown, malformed, expired or revoked)."""
    parts = token.split("_")
    if len(parts) < 3 or not token.startswith(KEY_PREFIX):
        raise Unauthorized("malformed API key: expected ww_<prefix>_<secret>")
    prefix, secret = parts[1], token[len(KEY_PREFIX) + len(parts[1]) + 1:]
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.secret_hash, _sha256(secret)):
        raise Unauthorized("unknown API key")
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized(f"API key {key.name!r} was revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized(f"API key {key.name!r} expired at {key.expires_at.isoformat()}")
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        # A conditional UPDATE, committed on its own: concurrent requests do not pile up
        # writes on one row, and a rolled-back request still counts as a use.
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        session.commit()
    return Principal(kind="key", id=key.id, name=key.name, scopes=frozenset(key.scopes),
                     turbines=tuple(key.turbines), sites=tuple(key.sites))


def create_user(*, session: Session, username: str, password: str, role: str) -> User:
    """A person with a role; the password is stored as an argon2id hash."""
    if role not in ROLES:
        raise BadRequest(f"role must be one of {list(ROLES)}; got {role!r}")
    if len(password) < 10:
        raise BadRequest("password must have at least 10 characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} already exists")
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def list_users(*, session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def update_user(*, session: Session, user_id: int, role: str | None = None,
                disabled: bool | None = None, password: str | None = None) -> User:
    """Change a role, (dis)able, or set a password; disabling revokes every session."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if role is not None:
        if role not in ROLES:
            raise BadRequest(f"role must be one of {list(ROLES)}; got {role!r}")
        user.role = role
    if password is not None:
        if len(password) < 10:
            raise BadRequest("password must have at least 10 characters")
        user.password_hash = _hasher.hash(password)
    if disabled is not None:
        user.disabled = disabled
    if disabled or password is not None:
        session.execute(update(UserSession).where(UserSession.user_id == user.id,
                                                  UserSession.revoked_at.is_(None))
                        .values(revoked_at=utcnow()))
    return user


def verify_login(*, session: Session, username: str, password: str) -> User | None:
    """The user if the password matches and the account is enabled, else None (argon2 runs
    even for unknown names, so timing does not tell which names exist)."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="windwatch-session")


def open_session(*, session: Session, user: User, secret_key: str, ttl: timedelta) -> str:
    """A new login session; returns the signed cookie value."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_sha256(token), user_id=user.id,
                            expires_at=utcnow() + ttl))
    return _serializer(secret_key).dumps(token)


def session_token(cookie: str, secret_key: str) -> str | None:
    """The raw session token inside a cookie whose signature holds, else None."""
    try:
        token = _serializer(secret_key).loads(cookie)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def session_user(*, session: Session, token: str) -> User | None:
    """The user of a live (not revoked, not expired, enabled) session."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _sha256(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return None if user is None or user.disabled else user


def close_session(*, session: Session, token: str) -> None:
    """Logout: the session row is revoked, so the cookie is dead even if it was copied."""
    session.execute(update(UserSession).where(UserSession.token_hash == _sha256(token))
                    .values(revoked_at=utcnow()))


def user_principal(user: User) -> Principal:
    """The principal of a logged-in person (scopes from the role)."""
    return Principal(kind="user", id=user.id, name=user.username, scopes=ROLE_SCOPES[user.role])


def authenticate_request(request: Request, bearer_token: str | None) -> Principal:
    """Bearer key first; else the session cookie (read-only methods only on the JSON API:
    state changes through a cookie go through the dashboard's CSRF-checked forms)."""
    state = request.app.state
    if not state.settings.auth_enabled:
        return DEV_PRINCIPAL
    with state.session_factory() as session:
        if bearer_token:
            return key_principal(session=session, token=bearer_token)
        cookie = request.cookies.get(SESSION_COOKIE)
        token = session_token(cookie, state.secret_key) if cookie else None
        user = session_user(session=session, token=token) if token else None
        if user is None:
            raise Unauthorized("authentication required: send `Authorization: Bearer <API key>` "
                               "(windwatch keys create) or log in at /login")
        if request.url.path.startswith("/api/") and request.method not in ("GET", "HEAD"):
            raise Unauthorized("the JSON API changes state only with an API key "
                               "(`Authorization: Bearer ...`), not with a dashboard login")
        request.state.session_token = token
        return user_principal(user)
