"""``/api/openapi.json`` (the JSON API described from the resource declarations) and
``/healthz`` (is this worker up, and what does it serve)."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from search.query import SearchQuery
from web.openapi import openapi
from web.resources import resources
from web.responses import JSONResponse


async def openapi_json(request: Request) -> Response:
    document = getattr(request.app.state, "openapi", None)
    if document is None:
        document = request.app.state.openapi = openapi(request.app.state.resources_declared)
    return JSONResponse(document)


async def health(request: Request) -> Response:
    """Which process answered and what it serves (the multi-worker test reads it)."""
    res = resources(request)
    state = res.catalogue.state
    documents = res.search(SearchQuery(page_size=1, facets=(), highlight=False)).total
    cache = res.page_cache
    return JSONResponse({"ok": True, "pid": os.getpid(), "publications": len(state.publications),
                         "cohorts": [c.slug for c in state.cohorts], "documents": documents,
                         "page_cache": {"entries": len(cache), "bytes": cache.size,
                                        "limit": cache.limit, "hits": cache.hits,
                                        "shared_hits": cache.shared_hits,
                                        "misses": cache.misses}})


def routes() -> list[BaseRoute]:
    return [Route("/api/openapi.json", openapi_json, name="openapi"),
            Route("/healthz", health, name="health")]
