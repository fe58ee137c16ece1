"""CSRF tokens for the dashboard's forms: an HMAC of the login session's token (itsdangerous),
so a page on another origin, which can make the browser send the cookie but cannot read the
page, cannot produce the token. SameSite=Lax on the cookie is the second line."""

from __future__ import annotations

import hmac

from fastapi import Request
from itsdangerous import Signer

from service.errors import Forbidden

FIELD = "csrf_token"


def _signer(secret: str) -> Signer:
    return Signer(secret, salt="windwatch-csrf")


def token_for(secret: str, session_token: str) -> str:
    """The CSRF token of one login session."""
    return _signer(secret).get_signature(session_token).decode()


def verify(request: Request, form: dict[str, str]) -> None:
    """403 unless the form carries the token of the request's login session (no session:
    auth is off, or the route already refused the request)."""
    session_token = getattr(request.state, "session_token", None)
    if session_token is None:
        return
    expected = token_for(request.app.state.secret_key, session_token)
    if not hmac.compare_digest(form.get(FIELD, ""), expected):
        raise Forbidden("the form's CSRF token is missing or does not match this session; "
                        "reload the page and submit again")
