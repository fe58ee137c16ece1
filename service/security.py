"""HTTP hardening around the app: security headers on every response, the ``Host`` header
checked against the configured names, CORS only for configured origins, and request bodies
that must arrive in time (``service.timeouts``).

The Content-Security-Policy allows no inline script, no inline style and nothing from another
origin: the dashboard's JavaScript, CSS, ECharts and Swagger UI are all files under /static.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.settings import Settings
from service.timeouts import BodyTimeoutMiddleware

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # Swagger UI draws its icons as data: SVG; ECharts renders into canvas.
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP response (a header the app set itself wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def host_patterns(names: list[str]) -> list[str]:
    """Host names as TrustedHostMiddleware compares them: IPv6 literals in brackets."""
    out = []
    for name in names:
        name = name.strip().lower()
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        out.append(name)
    return out


def install_http_hardening(app: FastAPI, settings: Settings) -> None:
    """Wrap ``app`` (outermost first): security headers, trusted hosts, CORS, body timeouts.

    Call it after every other ``add_middleware``: the middleware added last runs first, so the
    headers also land on the 400 of an unknown host and on CORS preflight answers.
    """
    app.add_middleware(BodyTimeoutMiddleware, idle_s=settings.header_timeout_s,
                       total_s=settings.body_timeout_s)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Idempotent-Replayed", "Retry-After", "Location"], max_age=600,
        )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=host_patterns(settings.trusted_hosts()),
                       www_redirect=False)
    app.add_middleware(SecurityHeadersMiddleware)
