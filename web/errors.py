"""One place where errors become responses: ``error.html`` or the fixed JSON shape
``{"ok": false, "error": "...", "errors": [...], "status": 404}``.

Catalogue errors carry their status and a message that says what to do; Starlette's own
404/405 become the same shape; anything unexpected is logged and answered with a 500 in
the same shape, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from catalogue.errors import CatalogueError
from web.responses import JSONResponse
from web.routing import wants_json

log = logging.getLogger(__name__)

_HTTP_MESSAGES: Mapping[int, str] = {
    404: "there is no page at this address: start from the home page or search",
    405: "this address only answers GET requests",
}


def error_json(status: int, message: str, errors: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    return {"ok": False, "error": message, "errors": errors or [], "status": status}


def render_error(request: Request, status: int, message: str,
                 errors: list[dict[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None) -> Response:
    body = error_json(status, message, errors)
    if wants_json(request) or not hasattr(request.app.state, "templates"):
        return JSONResponse(body, status_code=status, headers=headers)
    lang = getattr(request.state, "lang", "en")
    context = {"lang": lang, "status": status, "message": message, "errors": body["errors"],
               "json_url": None}
    response: Response = request.app.state.templates.TemplateResponse(
        request, "error.html", context, status_code=status, headers=headers)
    return response


async def catalogue_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalogueError)
    if exc.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc.message)
    return render_error(request, exc.status, exc.message, exc.errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    return render_error(request, exc.status_code, message, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return render_error(request, 500, "something went wrong on our side: the error was "
                        "logged; try again later")


EXCEPTION_HANDLERS: Mapping[Any, Any] = {
    CatalogueError: catalogue_error,
    HTTPException: http_error,
    Exception: server_error,
}
