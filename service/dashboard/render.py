"""Shared page plumbing: the Jinja2 environment with its filters, and urlencoded form bodies."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from service.auth import csrf

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE_SIZE = 50  # rows per page of every paged dashboard list


def page_count(total: int) -> int:
    """Pages of ``PAGE_SIZE`` rows needed for ``total`` rows (at least one, even when empty)."""
    return max(1, math.ceil(total / PAGE_SIZE))

# Severity / health -> CSS class; the text is always shown too (never colour alone).
TONE = {"critical": "bad", "major": "bad", "alarm": "bad", "minor": "warn", "warning": "warn",
        "ok": "good", "normal": "good", "no data": "muted", "stale": "warn", "open": "bad",
        "acknowledged": "warn", "closed": "muted", "production": "good", "candidate": "muted",
        "archived": "muted", "drifted": "warn"}


def fmt_time(t: datetime | None) -> str:
    """UTC, minute resolution: what an analyst reads in a table."""
    return "—" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def ago(t: datetime | None) -> str:
    """"5 min ago", "3 h ago", "2 d ago"."""
    if t is None:
        return "never"
    s = max(0.0, (datetime.now(UTC) - t).total_seconds())
    if s < 3600:
        return f"{int(s // 60)} min ago"
    return f"{s / 3600:.0f} h ago" if s < 172_800 else f"{s / 86_400:.0f} d ago"


def query(params: dict, **changes: object) -> str:
    """The current query string with some parameters changed (None drops one)."""
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def csrf_field(request: Request) -> Markup:
    """The hidden CSRF input every POST form carries (``{{ csrf_field(request) }}``)."""
    token = getattr(request.state, "csrf_token", "") or ""
    return Markup(f'<input type="hidden" name="{csrf.FIELD}" value="{escape(token)}">')


templates.env.filters.update(time=fmt_time, ago=ago)
templates.env.globals.update(tone=lambda s: TONE.get(s, "muted"), query=query,
                             csrf_field=csrf_field)


async def form_data(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a flat dict (last value wins); parsed
    here rather than through FastAPI's ``Form`` to avoid the python-multipart dependency."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1].strip() for k, v in parse_qs(body, keep_blank_values=True).items()}


async def checked_form(request: Request) -> dict[str, str]:
    """The form body, after its CSRF token is verified (403 otherwise): every page POST uses
    this, never ``form_data`` alone."""
    form = await form_data(request)
    csrf.verify(request, form)
    return form
