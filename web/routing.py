"""Resources: one declaration gives a page its HTML route, its JSON route and its OpenAPI entry.

A view is a plain function ``view(request) -> Page``: it parses the request, calls one
function of :mod:`catalogue.browse` (or the search engine) and says which template shows
the result and how the same result reads as JSON. :class:`Resource` turns it into two
routes, ``path`` (HTML, or JSON for ``Accept: application/json``) and ``path + ".json"``,
both named (``name`` and ``name + "_json"``) for ``url_for``.

Views run in the worker's event loop, one at a time: they are short and CPU-bound, and
the search engine's reader is not meant to be shared between threads. Scale with
``catalogue serve --workers N``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalogue.browse import ItemOfOtherKind
from web.page_cache import KeptResponse, public_key
from web.resources import resources
from web.responses import JSONResponse
from web.templating import url_for

#: Pages for each kind of item: a URN of another kind is redirected to its own page.
PAGE_OF_KIND: Mapping[str, str] = {
    "StudyUnit": "wave", "DataCollection": "wave", "Instrument": "instrument",
    "Question": "question", "Variable": "variable", "Concept": "concept",
}
VARY = "Accept, Accept-Language, Cookie"


@dataclass(frozen=True, slots=True)
class Page:
    """What a view returns: a template and its data, and the JSON form of the same data."""

    template: str
    data: Mapping[str, Any]
    json: Callable[[], Mapping[str, Any]]
    status: int = 200


View = Callable[[Request], Page | Response]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Resource:
    """A page with a JSON form. ``schema`` is the TypedDict the JSON follows (OpenAPI)."""

    path: str
    name: str
    view: View
    summary: str
    schema: type
    query: tuple[QueryParam, ...] = ()
    path_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def json_path(self) -> str:
        return "/index.json" if self.path == "/" else self.path + ".json"

    def routes(self) -> list[BaseRoute]:
        # The JSON route comes first: ``{urn:path}`` would otherwise swallow ".json".
        return [Route(self._route_path(self.json_path), _endpoint(self, json=True),
                      methods=["GET", "HEAD"], name=self.name + "_json"),
                Route(self._route_path(self.path), _endpoint(self, json=False),
                      methods=["GET", "HEAD"], name=self.name)]

    def _route_path(self, path: str) -> str:
        for param in self.path_params:
            path = path.replace("{" + param + "}", "{" + param + ":path}")
        return path


def wants_json(request: Request) -> bool:
    """True for ``.json`` paths, ``/api/`` and clients preferring JSON over HTML."""
    path = request.url.path
    if path.endswith(".json") or path.startswith("/api/"):
        return True
    return prefers_json(request.headers.get("accept", ""))


def prefers_json(accept: str) -> bool:
    json_q = html_q = 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in ("application/json", "application/*+json"):
            json_q = max(json_q, q)
        elif media in ("text/html", "application/xhtml+xml", "text/*"):
            html_q = max(html_q, q)
    return json_q > 0 and json_q >= html_q and (json_q > html_q or html_q == 0)


def _endpoint(resource: Resource, *, json: bool) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        as_json = json or prefers_json(request.headers.get("accept", ""))
        res = resources(request)
        key = public_key(request, resource.name, "json" if as_json else "html") \
            if res.page_cache.limit else None
        generation = res.generation() if key is not None else ()
        if key is not None:
            kept = res.page_cache.get(generation, key)
            if kept is not None:
                return kept.response(request.headers.get("accept-encoding", ""))
        try:
            result = resource.view(request)
        except ItemOfOtherKind as other:
            return _redirect_to_kind(request, other, as_json)
        if isinstance(result, Response):
            return result
        response: Response
        if as_json:
            response = JSONResponse(dict(result.json()), status_code=result.status,
                                    headers={"Vary": VARY})
        else:
            templates = request.app.state.templates
            context = {"lang": request.state.lang, "json_url": _json_url(request, resource),
                       **result.data}
            response = templates.TemplateResponse(
                request, result.template, context, status_code=result.status,
                headers={"Vary": VARY})
        if key is not None and response.status_code == 200 and _still_public(request):
            kept = KeptResponse.of(response)
            res.page_cache.put(generation, key, kept)
            accepted = request.headers.get("accept-encoding", "")
            if kept.gzipped and "gzip" in accepted:
                # compressed once for the cache: the GZip middleware lets it through as is
                return kept.response(accepted)
        return response

    endpoint.__name__ = f"{resource.name}_{'json' if json else 'page'}"
    return endpoint


def _still_public(request: Request) -> bool:
    """True when rendering the page started no session (no CSRF token went into it)."""
    auth = getattr(request.state, "auth", None)
    return auth is None or not auth.personal


def _json_url(request: Request, resource: Resource) -> str:
    url = url_for(request, resource.name + "_json", **request.path_params)
    query = "&".join(p for p in request.url.query.split("&") if p and not p.startswith("lang="))
    return f"{url}?{query}" if query else url


def _redirect_to_kind(request: Request, other: ItemOfOtherKind, as_json: bool) -> Response:
    page = PAGE_OF_KIND.get(other.kind)
    if page is None:
        raise other
    name = page + "_json" if as_json and request.url.path.endswith(".json") else page
    return RedirectResponse(url_for(request, name, urn=request.path_params.get("urn", other.urn)),
                            status_code=302)


def resource_routes(resources: Sequence[Resource]) -> list[BaseRoute]:
    return [route for resource in resources for route in resource.routes()]
