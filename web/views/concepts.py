"""Topics: the list (``/concepts``) and one concept (``/concepts/{urn}``) with every
variable on it across cohorts, found through the search index's topic facet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from starlette.requests import Request
from starlette.routing import BaseRoute

from catalogue.browse import concept_page
from catalogue.errors import BadRequest
from search.query import Filters, SearchQuery
from web.i18n import gettext_for
from web.resources import resources
from web.routing import Page, QueryParam, Resource
from web.templating import url_for, with_query
from web.views.common import (
    LANG_PARAM,
    URN_PARAM,
    Crumb,
    LocatedJSON,
    RefJSON,
    Texts,
    crumbs_home,
    located_json,
    ref_json,
    texts,
    title_of,
    xml_route,
)
from web.views.home import TopicCountJSON, topic_counts, topic_json
from web.views.search import (
    PageLink,
    ResultEntry,
    SearchHitJSON,
    _result_hit,
    facet_label,
)

PER_PAGE = 20


class TopicsJSON(TypedDict):
    topics: list[TopicCountJSON]


def concepts(request: Request) -> Page:
    topics = topic_counts(resources(request))
    _ = gettext_for(request)

    def as_json() -> Mapping[str, object]:
        body: TopicsJSON = {"topics": [topic_json(request, t) for t in topics]}
        return body

    crumbs = [*crumbs_home(request), Crumb(_("Topics"))]
    return Page("concepts.html", {"topics": topics, "crumbs": crumbs}, as_json)


class CohortCountJSON(TypedDict):
    slug: str
    variables: int


class ConceptJSON(TypedDict):
    concept: RefJSON
    description: Texts
    broader: list[RefJSON]
    narrower: list[RefJSON]
    cohorts: list[CohortCountJSON]
    total: int
    page: int
    pages: int
    variables: list[SearchHitJSON]
    search: str
    version: LocatedJSON


def concept(request: Request) -> Page:
    res = resources(request)
    page = concept_page(res.catalogue, request.path_params["urn"])
    state = res.catalogue.state
    lang: str = request.state.lang
    raw = request.query_params.get("page", "1").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest("page must be a positive integer")
    number = int(raw)
    topic = page.concept.identity.id
    results = res.search(SearchQuery(filters=Filters(topic=(topic,), kind=("variable",)),
                                     page=number, page_size=PER_PAGE, facets=("cohort",),
                                     highlight=False))
    if number > results.pages:
        raise BadRequest(f"page {number} is past the last page ({results.pages})")
    hits = tuple(ResultEntry(_result_hit(request, h, lang, state), (), 1)
                 for h in results.hits)
    cohorts = [(c.value, facet_label(request, "cohort", c.value, c.label, state), c.count)
               for c in results.facet("cohort").values]
    search_url = with_query(url_for(request, "search"), [("topic", topic),
                                                         ("kind", "variable")])
    here = url_for(request, "concept", urn=request.path_params["urn"])
    pages = [PageLink(n, with_query(here, [("page", n)] if n > 1 else []), n == number)
             for n in sorted({1, results.pages, *range(max(1, number - 2),
                                                       min(results.pages, number + 2) + 1)})]

    def as_json() -> Mapping[str, object]:
        variables: list[Any] = [
            {"urn": h.urn, "kind": h.kind, "name": h.name, "label": h.label(lang),
             "cohort": h.document.cohort, "wave": h.document.wave, "snippet": ""}
            for h in results.hits]
        body: ConceptJSON = {
            "concept": ref_json(request, page.concept),
            "description": texts(page.concept.description),
            "broader": [ref_json(request, c) for c in page.broader],
            "narrower": [ref_json(request, c) for c in page.narrower],
            "cohorts": [{"slug": slug, "variables": count} for slug, _, count in cohorts],
            "total": results.total, "page": number, "pages": results.pages,
            "variables": variables, "search": search_url,
            "version": located_json(page.located)}
        return body

    _ = gettext_for(request)
    crumbs = [*crumbs_home(request), Crumb(_("Topics"), url_for(request, "concepts")),
              Crumb(title_of(page.concept))]
    return Page("concept.html", {"page": page, "results": results, "hits": hits,
                                 "cohorts": cohorts, "search_url": search_url,
                                 "pages": pages, "crumbs": crumbs}, as_json)


def routes() -> list[BaseRoute]:
    return [xml_route("/concepts/{urn:path}.xml", "concept_xml", ("Concept",))]


RESOURCES = (
    Resource("/concepts", "concepts", concepts, "The topics, with how many variables each has",
             TopicsJSON, (LANG_PARAM,)),
    Resource("/concepts/{urn}", "concept", concept,
             "A concept (topic) and the variables on it across cohorts", ConceptJSON,
             (QueryParam("page", "Page of variables, from 1", {"type": "integer",
                                                               "minimum": 1}), LANG_PARAM),
             URN_PARAM),
)
