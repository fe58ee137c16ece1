"""The dashboard's side of authentication: every page needs a login (any role), forms need
the role's scope and a CSRF token, and the login / logout pages themselves.

An unauthenticated page request is redirected to ``/login?next=...``; the charts' JSON under
``/ui/`` gets a 401 instead (a redirect to a form is useless to ``fetch``).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security.utils import get_authorization_scheme_param

from service.auth import audit, csrf, service
from service.auth.audit import client_address
from service.auth.deps import DEV_PRINCIPAL, Principal
from service.errors import Forbidden, TooManyRequests, Unauthorized


class LoginRequired(Exception):
    """A dashboard request without a live login session."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def dashboard_access(request: Request) -> Principal:
    """Every dashboard route: the logged-in person (or ``dev`` with auth off)."""
    state = request.app.state
    if not state.settings.auth_enabled:
        request.state.principal = DEV_PRINCIPAL
        return DEV_PRINCIPAL
    # A bearer key is accepted too (scripts, tests): a browser never sends one on its own, so
    # it needs no CSRF token; a cookie session does.
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    bearer = credentials if scheme.lower() == "bearer" and credentials else None
    try:
        principal = service.authenticate_request(request, bearer)
    except Unauthorized:
        if bearer:
            raise
        raise LoginRequired(request.url.path) from None
    request.state.principal = principal
    token = getattr(request.state, "session_token", None)
    if token:
        request.state.csrf_token = csrf.token_for(state.secret_key, token)
    return principal


def require_page(request: Request, scope: str) -> Principal:
    """The page's principal if it has ``scope`` (403 naming the role's limit otherwise)."""
    principal: Principal = request.state.principal
    if scope not in principal.scopes:
        raise Forbidden(f"{principal.actor} may not do this: it needs the {scope!r} scope "
                        "(operator or admin role)")
    return principal


def login_required_response(request: Request, exc: LoginRequired):
    """Redirect pages to the login form; 401 for the charts' JSON."""
    if exc.path.startswith("/ui/"):
        return JSONResponse({"detail": "log in first"}, status_code=401)
    return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)


router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect to another site after login is a phishing aid.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None, error: str | None = None):
    """The login form."""
    from service.dashboard.render import templates

    return templates.TemplateResponse(request, "login.html", {
        "next": _safe_next(next), "error": error, "active": "login"})


@router.post("/login")
async def login(request: Request):
    """Check the password (rate-limited per address and user), open a session, set the
    HttpOnly, SameSite=Lax cookie (Secure when served over HTTPS)."""
    from service.dashboard.render import form_data

    state = request.app.state
    form = await form_data(request)
    username, target = form.get("username", "")[:64], _safe_next(form.get("next"))
    back = f"/login?next={quote(target)}&error="
    try:
        state.rate_limits.login_attempt(username=username, address=client_address(request))
    except TooManyRequests as exc:
        from service.dashboard.render import templates

        return templates.TemplateResponse(request, "login.html", {
            "next": target, "error": exc.detail, "active": "login"}, status_code=429,
            headers=exc.headers)
    with state.session_factory() as session:
        user = service.verify_login(session=session, username=username,
                                    password=form.get("password", ""))
        if user is None:
            audit.record(session=session, actor=f"user:{username}", action="login.failed",
                         target="dashboard")
            session.commit()
            return RedirectResponse(back + quote("unknown user or wrong password"),
                                    status_code=303)
        cookie = service.open_session(session=session, user=user, secret_key=state.secret_key,
                                      ttl=timedelta(hours=state.settings.session_ttl_h))
        audit.record(session=session, actor=f"user:{user.username}", action="login",
                     target="dashboard")
        session.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(service.SESSION_COOKIE, cookie, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https",
                        max_age=int(state.settings.session_ttl_h * 3600))
    return response


@router.post("/logout")
async def logout(request: Request):
    """End the session server-side (the cookie is dead even if copied) and clear it."""
    from service.dashboard.render import checked_form

    state = request.app.state
    cookie = request.cookies.get(service.SESSION_COOKIE)
    token = service.session_token(cookie, state.secret_key) if cookie else None
    if token:
        request.state.session_token = token
        await checked_form(request)  # a cross-site page must not log people out either
        with state.session_factory() as session:
            service.close_session(session=session, token=token)
            session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(service.SESSION_COOKIE)
    return response
