"""The plain status page at ``/`` (the full dashboards come later)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from service.deps import SessionDep
from service.registry import service as registry
from service.turbines import service as turbines

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/", response_class=HTMLResponse)
def status_page(request: Request, session: SessionDep, q: str | None = None,
                page: int = 1) -> HTMLResponse:
    limit = 100
    page = max(page, 1)
    rows, total = turbines.list_turbines(session=session, q=q, limit=limit, offset=(page - 1) * limit)
    items = [turbines.turbine_out(session=session, turbine=t) for t in rows]
    return templates.TemplateResponse(
        request, "status.html",
        {"items": items, "total": total, "page": page, "pages": max(1, -(-total // limit)), "q": q or "",
         "model": registry.production(session=session)},
    )
