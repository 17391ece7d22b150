"""The API describing itself: /openapi.json, and /docs (Swagger UI, served from the
swagger-ui-bundle package so it works with no internet access).

The page is served with a Content-Security-Policy that allows only this service's own scripts
(the page's one inline script by its hash), X-Frame-Options: DENY and nosniff, and Swagger UI
keeps the token it gets from "Authorize" in memory only (persistAuthorization off): nothing in
the browser's storage for another script or a later visitor to read."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Final

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from todo_api.openapi import Reply, openapi_document, operation
from todo_api.payloads import JSONResponse

ASSETS_PATH = "/docs/assets"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>todo-api</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: false,
      validatorUrl: null,
      oauth2RedirectUrl: window.location.origin + "{assets}/oauth2-redirect.html"
    }});
  </script>
</body>
</html>
"""


_INLINE_SCRIPT: Final = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_hashes(page: str) -> str:
    """The CSP sources of the page's inline scripts: their SHA-256, so no other runs."""
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )


PAGE: Final = _PAGE.format(assets=ASSETS_PATH)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; "
        f"script-src 'self' {_script_hashes(PAGE)}; "
        "style-src 'self' 'unsafe-inline'; "  # Swagger UI sets style attributes
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "font-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def assets() -> StaticFiles:
    return StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)


@operation(
    operation_id="openapi",
    summary="This document",
    tag="docs",
    replies=(Reply(200, "The OpenAPI 3.1 document.", schema={"type": "object"}),),
    secured=False,
)
async def openapi_json(request: Request) -> Response:
    state = request.app.state
    document: dict[str, Any] | None = getattr(state, "openapi", None)
    if document is None:
        document = state.openapi = openapi_document(request.app.routes)
    return JSONResponse(document)


@operation(
    operation_id="docs",
    summary="Interactive documentation (Swagger UI)",
    tag="docs",
    replies=(Reply(200, "The page.", media_type="text/html", schema={"type": "string"}),),
    secured=False,
)
async def docs(request: Request) -> Response:
    return HTMLResponse(PAGE, headers=PAGE_HEADERS)
