"""``/docs``: Swagger UI from the vendored files under /static/vendor/swagger-ui.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script; both
break the Content-Security-Policy (``service.security``) and the first breaks offline. This
page loads the bundle, its CSS and a small init script (static/js/swagger-init.js), all from
this server. ReDoc is off.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

VENDOR = "/static/vendor/swagger-ui"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{vendor}/swagger-ui.css">
<script src="{vendor}/swagger-ui-bundle.js" defer></script>
<script src="/static/js/swagger-init.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""


def docs_page(title: str, openapi_url: str) -> str:
    """The HTML of the docs page (no inline script or style)."""
    return PAGE.format(title=escape(title), vendor=VENDOR, openapi_url=escape(openapi_url))


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` from the vendored Swagger UI (the app must have ``docs_url=None``)."""
    html = docs_page(app.title, app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html)
