"""The API describing itself: /openapi.json, and /docs (Swagger UI, served from the
swagger-ui-bundle package so it works with no internet access)."""

from __future__ import annotations

from typing import Any

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
      persistAuthorization: true,
      validatorUrl: null,
      oauth2RedirectUrl: window.location.origin + "{assets}/oauth2-redirect.html"
    }});
  </script>
</body>
</html>
"""


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
    return HTMLResponse(_PAGE.format(assets=ASSETS_PATH))
