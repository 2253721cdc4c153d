"""``create_app(settings)``: the Starlette application, assembled in one place.

Views live in modules listed in :data:`VIEW_MODULES`. A view module may expose:

- ``RESOURCES``: :class:`web.routing.Resource` declarations, pages that also answer JSON
  (``.json`` suffix or ``Accept: application/json``); they are described in
  ``/api/openapi.json`` from these declarations;
- ``routes()``: other routes (downloads, forms, redirects), registered before its
  resources;
- ``HEADER_ITEMS``: templates included in every page's header (a sign-in link, a
  basket count...), in module order;
- ``context(request)``: extra variables for every template;
- ``lifespan(app)``: an async context manager run inside the app's lifespan, after the
  shared resources are open (``app.state.resources``).

Adding a module to :data:`VIEW_MODULES` is all it takes to plug in a group of pages.
Middleware is listed once, in :func:`middleware`, outermost first.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from catalogue.batch import batch_collection
from catalogue.settings import Settings
from web.auth import AuthMiddleware
from web.connections import ConnectionRecyclingMiddleware
from web.errors import EXCEPTION_HANDLERS
from web.i18n import LanguageMiddleware, Translator, load_translations
from web.resources import open_resources
from web.routing import Resource, resource_routes
from web.security import SecurityHeadersMiddleware
from web.templating import build_templates, load_all

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Modules holding views, in routing order (see the module docstring for what each offers).
VIEW_MODULES: tuple[str, ...] = (
    "web.views.home",
    "web.views.cohorts",
    "web.views.questionnaires",
    "web.views.variables",
    "web.views.concepts",
    "web.views.search",
    "web.views.api",
    "web.views.accounts",
    "web.views.accounts_admin",
    "web.views.publishing_uploads",  # before publishing: /publications/{id} takes the rest
    "web.views.publishing",
    "web.views.basket",
    "web.views.requests",
    "web.views.reviews",
)


#: A full garbage-collector pass is considered once per this many passes over the middle
#: generation (the third threshold of ``gc.set_threshold``; Python's default is 10).
#: With the caches filled (about 300,000 objects with 200,000 variables published), a
#: full pass holds the event loop 150-270 ms, and at the default rate it came every
#: 1,100 requests or so: 7% of a worker's time, and a stall that every request waiting
#: on the worker sees. Those passes found about 2,000 objects each, the cyclic
#: garbage that outlived the younger generations (cache entries are freed by reference
#: counting when evicted), so running them ten times less often keeps that garbage to
#: a few megabytes while sparing the stalls.
FULL_COLLECTION_EVERY = 100


def middleware(settings: Settings) -> list[Middleware]:
    """Every middleware of the app, outermost first.

    Sessions and sign-in (accounts) go after the language: they may read it, and error
    pages rendered by the router still get security headers and a language.
    """
    return [
        Middleware(ConnectionRecyclingMiddleware),
        Middleware(SecurityHeadersMiddleware),
        Middleware(GZipMiddleware, minimum_size=2048, compresslevel=6),
        Middleware(LanguageMiddleware),
        Middleware(AuthMiddleware, settings=settings),
    ]


def view_modules(names: Sequence[str] = VIEW_MODULES) -> list[ModuleType]:
    return [importlib.import_module(name) for name in names]


def all_resources(modules: Sequence[ModuleType]) -> list[Resource]:
    return [r for module in modules for r in getattr(module, "RESOURCES", ())]


def create_app(settings: Settings | None = None, *,
               modules: Sequence[str] = VIEW_MODULES) -> Starlette:
    """The catalogue's web application over the store and index that ``settings`` name."""
    settings = settings or Settings.from_env()
    loaded = view_modules(modules)
    routes: list[BaseRoute] = [Mount("/static", StaticFiles(directory=STATIC_DIR),
                                     name="static")]
    for module in loaded:
        extra: Callable[[], list[BaseRoute]] | None = getattr(module, "routes", None)
        if extra is not None:
            routes.extend(extra())
        routes.extend(resource_routes(getattr(module, "RESOURCES", ())))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Building every publication's structure is a batch (catalogue.batch): with
            # 200,000 variables, full passes took about 0.8 s of a worker's start.
            with batch_collection():
                app.state.resources = await stack.enter_async_context(
                    open_resources(settings))
                load_all(app.state.templates)
                for module in loaded:
                    hook = getattr(module, "lifespan", None)
                    if hook is not None:
                        await stack.enter_async_context(hook(app))
            thresholds = gc.get_threshold()
            # What startup built (structures of every publication, templates, modules)
            # lives as long as the worker: keep it out of the garbage collector's full
            # passes, which otherwise walk it all (up to 0.7 s a pass, measured with
            # 200,000 variables published) while requests wait. Full passes still walk
            # the caches, and come rarely (see FULL_COLLECTION_EVERY).
            gc.collect()
            gc.freeze()
            gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTION_EVERY)
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()

    app = Starlette(routes=routes, middleware=middleware(settings),
                    exception_handlers=dict(EXCEPTION_HANDLERS), lifespan=lifespan)
    translator = Translator(load_translations())
    processors = [p for m in loaded if (p := getattr(m, "context", None)) is not None]
    app.state.settings = settings
    app.state.translator = translator
    app.state.resources_declared = all_resources(loaded)
    app.state.templates = build_templates(
        translator, context_processors=processors,
        header_items=[t for m in loaded for t in getattr(m, "HEADER_ITEMS", ())])
    return app


def app_from_env() -> Starlette:
    """For ``uvicorn --factory`` (each worker process builds its own app)."""
    return create_app(Settings.from_env())
