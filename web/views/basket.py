"""The basket: variables picked while browsing (one by one, a question across its waves, or
a topic within a wave), shown grouped by cohort and wave; it pre-fills access requests.

- ``GET /basket`` (and ``/basket.json``): the basket, with counts, access levels, the CASD
  notice and version drift; where to start an access request from;
- ``POST /basket/add`` and ``POST /basket/remove``: ``urn`` (repeatable) for variables,
  ``question`` for a question's variables in every wave, ``wave`` + ``topic`` for a topic
  within a wave, ``all=1`` (remove) to empty the basket; ``next`` is where to go back;
- ``GET /basket/add``: the same choice as a page with a button, for visitors who have no
  session yet (browsing never starts one, so plain pages carry no CSRF token).

A signed-in researcher's basket belongs to the account; a visitor's is named by a
persistent cookie and is moved into the account on sign-in (a sign-in hook).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypedDict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalogue.accounts_model import Session, User
from catalogue.basket import (
    Basket,
    BasketChange,
    BasketKey,
    add_question,
    add_topic,
    add_variables,
    attach_basket,
    basket_contents,
    clear_basket,
    remove_question,
    remove_topic,
    remove_variables,
    selected_keys,
)
from catalogue.browse import Catalogue
from catalogue.errors import BadRequest
from catalogue.model import Variable, parse_urn
from catalogue.requests import my_projects
from catalogue.requests_selection import SelectedVariable
from catalogue.store import Store
from web.auth import add_sign_in_hook, current_user
from web.i18n import gettext_for
from web.resources import resources
from web.responses import JSONResponse
from web.routing import Page, Resource, prefers_json
from web.templating import url_for
from web.views.accounts import render
from web.views.common import LANG_PARAM, Crumb, Texts, crumbs_home, texts
from web.views.requests_common import (
    BASKET_COOKIE,
    basket_to_change,
    basket_token,
    can_post_forms,
    current_basket,
    here,
    labels,
    local_path,
    read_form,
    set_basket_cookie,
)

HEADER_ITEMS = ("basket/_header.html",)


# -- JSON -------------------------------------------------------------------------------------

class DriftChangeJSON(TypedDict):
    field: str
    before: str
    after: str


class DriftJSON(TypedDict):
    selected_version: str
    latest_version: str
    latest_urn: str
    selected_withdrawn: bool
    changes: list[DriftChangeJSON]


class BasketVariableJSON(TypedDict):
    urn: str
    version: str
    name: str
    label: Texts
    access: str
    in_catalogue: bool
    withdrawn: bool
    url: str
    newer_version: DriftJSON | None


class BasketWaveJSON(TypedDict):
    urn: str | None
    label: Texts
    count: int
    casd_only: int
    variables: list[BasketVariableJSON]


class BasketCohortJSON(TypedDict):
    slug: str
    label: Texts
    count: int
    casd_only: int
    casd_required: bool
    waves: list[BasketWaveJSON]


class BasketJSON(TypedDict):
    count: int
    casd_only: int
    casd_required: bool
    cohorts: list[BasketCohortJSON]


def _variable_json(request: Request, line: SelectedVariable) -> BasketVariableJSON:
    drift = line.drift
    return {"urn": line.urn, "version": line.version, "name": line.name,
            "label": texts(line.label), "access": line.access, "in_catalogue": line.found,
            "withdrawn": line.withdrawn, "url": url_for(request, "variable", urn=line.urn),
            "newer_version": None if drift is None else {
                "selected_version": drift.selected_version,
                "latest_version": drift.latest_version, "latest_urn": drift.latest_urn,
                "selected_withdrawn": drift.selected_withdrawn,
                "changes": [{"field": c.field, "before": c.before, "after": c.after}
                            for c in drift.changes]}}


def basket_json(request: Request, basket: Basket) -> BasketJSON:
    return {"count": basket.count, "casd_only": basket.casd_count,
            "casd_required": basket.casd_required,
            "cohorts": [{"slug": c.slug, "label": texts(c.label), "count": c.count,
                         "casd_only": c.casd_count, "casd_required": c.casd_required,
                         "waves": [{"urn": w.urn or None, "label": texts(w.label),
                                    "count": w.count, "casd_only": w.casd_count,
                                    "variables": [_variable_json(request, v)
                                                  for v in w.variables]}
                                   for w in c.waves]}
                        for c in basket.cohorts]}


# -- the basket page --------------------------------------------------------------------------

def basket_page(request: Request) -> Page:
    catalogue = resources(request).catalogue
    key = current_basket(request)
    basket = basket_contents(catalogue, key) if key is not None else Basket(())
    user = current_user(request)
    drafts = tuple(p for p in my_projects(catalogue, user) if p.is_draft) if user else ()
    _ = gettext_for(request)
    data = {"basket": basket, "drafts": drafts, "done": request.query_params.get("done", ""),
            "crumbs": [*crumbs_home(request), Crumb(_("Your basket"))], **labels(request)}
    return Page("basket/basket.html", data, lambda: basket_json(request, basket))


# -- adding and removing ----------------------------------------------------------------------

def _what(single: Mapping[str, str], multi: Mapping[str, list[str]]
          ) -> tuple[list[str], str, str, str]:
    urns = [u.strip() for u in multi.get("urn", []) if u.strip()]
    return (urns, single.get("question", "").strip(), single.get("wave", "").strip(),
            single.get("topic", "").strip())


def _topic_urn(catalogue: Catalogue, topic: str) -> str:
    """A topic by URN, or by the concept ID the search's topic filter uses."""
    if parse_urn(topic) is not None:
        return topic
    concept = catalogue.state.topic(topic)
    return concept.urn if concept is not None else topic


def _change(catalogue: Catalogue, request: Request, adding: bool, single: Mapping[str, str],
            multi: Mapping[str, list[str]]) -> tuple[BasketChange, BasketKey | None, str | None]:
    """Do the change; the basket changed and the token for the cookie (anonymous)."""
    urns, question, wave, topic = _what(single, multi)
    if not (urns or question or (wave and topic)):
        raise BadRequest("say what to change: urn (variables), question, or wave and topic",
                         [{"field": "urn", "message": "name at least one variable"}])
    if not adding and current_basket(request) is None:
        return BasketChange(), None, None
    key, token = basket_to_change(request)
    if urns:
        change = (add_variables if adding else remove_variables)(catalogue, key, urns)
    elif question:
        change = (add_question if adding else remove_question)(catalogue, key, question)
    else:
        change = (add_topic if adding else remove_topic)(catalogue, key, wave,
                                                         _topic_urn(catalogue, topic))
    return change, key, token


async def _post(request: Request, adding: bool) -> Response:
    single, multi = await read_form(request)
    catalogue = resources(request).catalogue
    if not adding and single.get("all") == "1":
        key, token = current_basket(request), None
        cleared = clear_basket(catalogue, key) if key is not None else 0
        change = BasketChange()
    else:
        change, key, token = _change(catalogue, request, adding, single, multi)
        cleared = 0
    count = len(selected_keys(catalogue, key)) if key is not None else 0
    response: Response
    if prefers_json(request.headers.get("accept", "")):
        response = JSONResponse({"ok": True, "added": list(change.added),
                                 "replaced": list(change.replaced),
                                 "unchanged": list(change.unchanged),
                                 "removed": list(change.removed), "cleared": cleared,
                                 "count": count})
    else:
        target = local_path(single.get("next"), url_for(request, "basket"))
        response = RedirectResponse(target, status_code=303)
    set_basket_cookie(request, response, token)
    return response


async def basket_add(request: Request) -> Response:
    if request.method == "POST":
        return await _post(request, adding=True)
    return _confirm_page(request)


async def basket_remove(request: Request) -> Response:
    return await _post(request, adding=False)


def _confirm_page(request: Request) -> Response:
    """What ``POST /basket/add`` would add, with the button that does it."""
    params = request.query_params
    urns = [u for u in params.getlist("urn") if u.strip()][:50]
    catalogue = resources(request).catalogue
    variables: list[Variable] = []
    for urn in urns:
        stored = catalogue.store.get_item(urn) if parse_urn(urn) is not None else None
        if stored is None or not isinstance(stored.item, Variable):
            raise BadRequest(f"{urn} is not a variable of the catalogue",
                             [{"field": "urn", "message": "not a variable of the catalogue"}])
        variables.append(stored.item)
    question, wave, topic = (params.get("question", ""), params.get("wave", ""),
                             params.get("topic", ""))
    if not (variables or question or (wave and topic)):
        raise BadRequest("say what to add: urn (variables), question, or wave and topic")
    _ = gettext_for(request)
    return render(request, "basket/confirm.html", {
        "variables": variables, "question": question, "wave": wave, "topic": topic,
        "next": local_path(params.get("next"), url_for(request, "basket")),
        "crumbs": [*crumbs_home(request), Crumb(_("Your basket"), url_for(request, "basket")),
                   Crumb(_("Add to the basket"))]})


# -- for every page ---------------------------------------------------------------------------

def context(request: Request) -> dict[str, Any]:
    """``basket_count()`` for the header, ``in_basket(urn)`` to mark what is picked,
    ``basket_forms()`` (a form can post without starting a session) and ``here()``;
    the basket is read once per page, and only when a template asks."""
    cache: dict[str, frozenset[str]] = {}

    def keys() -> frozenset[str]:
        if "keys" not in cache:
            key = current_basket(request)
            cache["keys"] = (selected_keys(resources(request).catalogue, key)
                             if key is not None else frozenset())
        return cache["keys"]

    def in_basket(urn: str) -> bool:
        parts = parse_urn(urn)
        return parts is not None and f"{parts.agency}:{parts.id}" in keys()

    return {"basket_count": lambda: len(keys()), "in_basket": in_basket,
            "basket_forms": lambda: can_post_forms(request), "here": lambda: here(request)}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Move a visitor's basket into the account when they sign in."""

    def attach(store: Store, previous: Session | None, session: Session, user: User,
               request: Request) -> None:
        token = basket_token(request)
        if token is not None:
            attach_basket(resources(request).catalogue, token, user.id)

    add_sign_in_hook(app, attach)
    yield


def routes() -> list[BaseRoute]:
    return [Route("/basket/add", basket_add, methods=["GET", "POST"], name="basket_add"),
            Route("/basket/remove", basket_remove, methods=["POST"], name="basket_remove")]


RESOURCES = (
    Resource("/basket", "basket", basket_page,
             "The visitor's basket: the variables picked, by cohort and wave, with their "
             "access level, whether a CASD secure workspace is needed, and newer versions",
             BasketJSON, (LANG_PARAM,)),
)

__all__ = ["BASKET_COOKIE", "HEADER_ITEMS", "RESOURCES", "basket_json", "context", "lifespan",
           "routes"]
