"""The search page (``/search?q=...&cohort=...&page=...``): facets as filter links with
counts, highlighted snippets, pagination, grouping by question, "did you mean".

Everything works as plain links and a GET form; ``static/catalogue.js`` only swaps the
results in place when a facet is clicked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict

import nh3
from markupsafe import Markup, escape
from starlette.requests import Request

from catalogue.browse import CatalogueState
from catalogue.errors import BadRequest
from catalogue.model import LangText
from search.cli import results_json
from search.documents import SearchDocument
from search.facets import FACET_NAMES
from search.query import MAX_MEMBERS, MAX_PAGE_SIZE, Filters, SearchQuery
from search.results import FacetCounts, Hit, SearchResults
from web.i18n import gettext_for, lang_text
from web.resources import resources
from web.routing import Page, QueryParam, Resource, wants_json
from web.templating import url_for, with_query
from web.views.common import LANG_PARAM, Crumb, crumbs_home

MAX_QUERY_LENGTH = 500
#: Deep pages cost the index more than anyone reads them.
MAX_RESULT_OFFSET = 10_000
PAGE_SIZE = 20
#: Variables listed under a grouped result; the question's page lists them all.
MEMBERS_SHOWN = 8
FACET_ORDER = ("cohort", "topic", "kind", "wave", "year", "response_type", "access",
               "instrument")
FACETS_SHOWN = 8
_KIND_VALUES = ("variable", "question", "study")
_ACCESS_VALUES = ("open", "casd")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    text: str
    filters: Filters
    page: int
    page_size: int
    group: bool

    def pairs(self, *, page: int | None = None, text: str | None = None,
              filters: Filters | None = None, group: bool | None = None,
              facet: tuple[str, Sequence[str]] | None = None) -> list[tuple[str, object]]:
        """Query-string pairs for this search with some parts changed (page 1 by default);
        ``facet`` replaces the values of one facet."""
        out: list[tuple[str, object]] = []
        query = self.text if text is None else text
        if query:
            out.append(("q", query))
        chosen = dict((self.filters if filters is None else filters).active())
        if facet is not None:
            chosen[facet[0]] = tuple(facet[1])
        for name in FACET_NAMES:
            out.extend((name, v) for v in chosen.get(name, ()))
        if not (self.group if group is None else group):
            out.append(("group", "0"))
        if self.page_size != PAGE_SIZE:
            out.append(("page_size", self.page_size))
        if page and page > 1:
            out.append(("page", page))
        return out


def parse_search(params: Mapping[str, str], multi: Sequence[tuple[str, str]],
                 state: CatalogueState) -> SearchRequest:
    """A search from a query string; :class:`BadRequest` says what is wrong with it."""
    text = params.get("q", "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"the search text is too long: at most {MAX_QUERY_LENGTH} characters")
    page = _positive(params.get("page", "1"), "page")
    page_size = _positive(params.get("page_size", str(PAGE_SIZE)), "page_size")
    if page_size > MAX_PAGE_SIZE:
        raise BadRequest(f"page_size must be at most {MAX_PAGE_SIZE}")
    if (page - 1) * page_size >= MAX_RESULT_OFFSET:
        raise BadRequest(f"page {page} is too far: refine the search instead (at most "
                         f"{MAX_RESULT_OFFSET} results are paged through)")
    group_raw = params.get("group", "1")
    if group_raw not in ("0", "1"):
        raise BadRequest("group must be 1 (one result per question) or 0 (every variable)")
    pairs = [(k, v) for k, v in multi if k in FACET_NAMES and v != ""]
    filters = Filters.from_pairs(pairs)
    _check_values(filters, state)
    return SearchRequest(text, filters, page, page_size, group_raw == "1")


def _positive(raw: str, name: str) -> int:
    raw = raw.strip()
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"{name} must be a positive integer")
    return int(raw)


def _check_values(filters: Filters, state: CatalogueState) -> None:
    for kind in filters.kind:
        if kind not in _KIND_VALUES:
            raise BadRequest(f"kind must be one of {', '.join(_KIND_VALUES)}, got {kind!r}")
    for access in filters.access:
        if access not in _ACCESS_VALUES:
            raise BadRequest(f"access must be open or casd, got {access!r}")
    for slug in filters.cohort:
        if state.cohort(slug) is None:
            raise BadRequest(f"no cohort called {slug!r}: use a cohort's short name, as in "
                             f"/cohorts/{{slug}}")
    for wave in filters.wave:
        if state.wave_title(wave) is None:
            raise BadRequest(f"no wave {wave!r}: use a wave's URN without its version")
    for topic in filters.topic:
        if state.topic(topic) is None:
            raise BadRequest(f"no topic {topic!r}: use a topic's ID, as listed on /concepts")


# -- what the template shows ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FacetLink:
    value: str
    #: The value's label in the page language (escaped, marked when in another one).
    label: Markup
    count: int
    selected: bool
    url: str


@dataclass(frozen=True, slots=True)
class FacetGroup:
    name: str
    title: str
    links: tuple[FacetLink, ...]

    @property
    def shown(self) -> tuple[FacetLink, ...]:
        return tuple(link for i, link in enumerate(self.links)
                     if i < FACETS_SHOWN or link.selected)

    @property
    def more(self) -> tuple[FacetLink, ...]:
        return tuple(link for i, link in enumerate(self.links)
                     if i >= FACETS_SHOWN and not link.selected)


@dataclass(frozen=True, slots=True)
class ResultHit:
    document: SearchDocument
    label: str
    url: str
    #: The label, highlighted when the snippet is the label itself.
    title: Markup
    #: Another text that matched (empty when the label is what matched).
    snippet: Markup
    #: The cohort's and the wave's titles in the page language (see :func:`shown`).
    cohort: Markup
    wave: Markup


@dataclass(frozen=True, slots=True)
class MemberHit:
    """A variable listed under a group: a link named after its wave."""

    document: SearchDocument
    url: str
    wave: Markup


@dataclass(frozen=True, slots=True)
class ResultEntry:
    """One result: a hit, or a question's group (the best hit and its variables by wave)."""

    best: ResultHit
    members: tuple[MemberHit, ...]
    #: Variables in the group (all of them, not only the ones listed).
    size: int

    @property
    def variables(self) -> tuple[MemberHit, ...]:
        """The group's variables (the question itself left out), in wave order."""
        return tuple(m for m in self.members if m.document.kind == "variable")

    @property
    def more(self) -> bool:
        """True when the group has more variables than the ones listed."""
        return self.size > len(self.members)


@dataclass(frozen=True, slots=True)
class PageLink:
    number: int
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class ActiveFilter:
    facet: str
    label: Markup
    remove_url: str


def _safe_snippet(snippet: str) -> Markup:
    # The search layer escapes the text and only adds <mark>; cleaning again is cheap
    # insurance that nothing else ever reaches the page.
    return Markup(nh3.clean(snippet, tags={"mark"}, attributes={})) if snippet else Markup("")


def hit_url(request: Request, document: SearchDocument, state: CatalogueState) -> str:
    if document.kind == "variable":
        return url_for(request, "variable", urn=document.urn)
    if document.kind == "question":
        return url_for(request, "question", urn=document.urn)
    cohort = state.cohort(document.cohort) if document.cohort else None
    if cohort is not None and cohort.study.identity.unversioned_urn == document.unversioned_urn:
        return url_for(request, "cohort", slug=cohort.slug)
    return url_for(request, "wave", urn=document.urn)


def _result_hit(request: Request, hit: Hit, lang: str, state: CatalogueState) -> ResultHit:
    document = hit.document
    label = hit.label(lang)
    snippet = _safe_snippet(hit.snippet)
    title = Markup.escape(label)
    if snippet and snippet.striptags() == title.striptags():
        title, snippet = snippet, Markup("")
    cohort = state.cohort(document.cohort) if document.cohort else None
    return ResultHit(document, label, hit_url(request, document, state), title, snippet,
                     shown(cohort.study.title if cohort and cohort.study.title
                           else document.cohort_label, lang),
                     shown(_wave(document, state), lang))


def _member(request: Request, hit: Hit, lang: str, state: CatalogueState) -> MemberHit:
    document = hit.document
    return MemberHit(document, hit_url(request, document, state),
                     shown(_wave(document, state), lang))


def _wave(document: SearchDocument, state: CatalogueState) -> str | LangText:
    """The wave's title as the catalogue knows it, else as the index has it."""
    wave_title = state.wave_title(document.wave_urn) if document.wave_urn else None
    return wave_title or document.wave


@lru_cache(maxsize=1024)
def shown(value: str | LangText, lang: str) -> Markup:
    """A label as the page shows it: a DDI text in ``lang`` (else marked with its own
    language), a plain string escaped. Pages of results show the same few cohort, wave
    and facet labels over and over: in Python, once, rather than a template test and
    call each time."""
    return lang_text(value, lang) if isinstance(value, LangText) else escape(value)


def facet_label(request: Request, facet: str, value: str, fallback: str,
                state: CatalogueState, names: Mapping[str, str] | None = None
                ) -> str | LangText:
    """How a facet value reads: a cohort's or wave's title, a topic's label, a word."""
    if facet == "cohort":
        cohort = state.cohort(value)
        return cohort.study.title if cohort and cohort.study.title else fallback
    if facet == "wave":
        return state.wave_title(value) or fallback
    if facet == "topic":
        concept = state.topic(value)
        return concept.label if concept and concept.label else fallback
    if facet in ("kind", "access", "response_type"):
        return (names or _value_names(gettext_for(request))).get(value, fallback)
    return fallback


def _value_names(_: Any) -> dict[str, str]:
    return {"variable": _("Variables"), "question": _("Questions"), "study": _("Studies"),
            "open": _("Open access"), "casd": _("CASD secure workspace only"),
            "code": _("Coded"), "numeric": _("Numeric"), "text": _("Text"),
            "datetime": _("Date or time"), "scale": _("Scale"), "geographic": _("Geographic"),
            "mixed": _("Mixed")}


def facet_titles(_: Any) -> dict[str, str]:
    return {"cohort": _("Cohort"), "topic": _("Topic"), "kind": _("Type of result"),
            "wave": _("Wave"), "year": _("Year"), "response_type": _("Response type"),
            "access": _("Access"), "instrument": _("Questionnaire")}


def facet_groups(request: Request, search: SearchRequest, results: SearchResults,
                 state: CatalogueState) -> tuple[FacetGroup, ...]:
    base = url_for(request, "search")
    lang: str = request.state.lang
    _ = gettext_for(request)
    titles, names = facet_titles(_), _value_names(_)
    groups = []
    by_name: dict[str, FacetCounts] = {f.name: f for f in results.facets}
    for name in FACET_ORDER:
        counts = by_name.get(name)
        if counts is None or not counts.values:
            continue
        links = []
        current = search.filters.values(name)
        for value in counts.values:
            chosen = [v for v in current if v != value.value] if value.selected \
                else [*current, value.value]
            label = facet_label(request, name, value.value, value.label, state, names)
            links.append(FacetLink(value.value, shown(label, lang), value.count,
                                   value.selected,
                                   with_query(base, search.pairs(facet=(name, chosen)))))
        groups.append(FacetGroup(name, titles[name], tuple(links)))
    return tuple(groups)


def active_filters(request: Request, search: SearchRequest,
                   state: CatalogueState) -> tuple[ActiveFilter, ...]:
    base = url_for(request, "search")
    lang: str = request.state.lang
    names = _value_names(gettext_for(request))
    out = []
    for facet, values in search.filters.active():
        for value in values:
            rest = [(f, v) for f, vs in search.filters.active() for v in vs
                    if (f, v) != (facet, value)]
            label = facet_label(request, facet, value, value, state, names)
            out.append(ActiveFilter(facet, shown(label, lang),
                                    with_query(base, search.pairs(
                                        filters=Filters.from_pairs(rest)))))
    return tuple(out)


def page_links(request: Request, search: SearchRequest, results: SearchResults
               ) -> tuple[PageLink, ...]:
    base = url_for(request, "search")
    last = min(results.pages, -(-MAX_RESULT_OFFSET // search.page_size))
    numbers = sorted({1, last, *range(max(1, search.page - 2), min(last, search.page + 2) + 1)})
    return tuple(PageLink(n, with_query(base, search.pairs(page=n)), n == search.page)
                 for n in numbers)


class SearchHitJSON(TypedDict):
    urn: str
    kind: str
    name: str
    label: str
    cohort: str
    wave: str
    snippet: str


class SearchGroupJSON(TypedDict):
    group_key: str
    size: int
    hits: list[SearchHitJSON]


class SearchQueryJSON(TypedDict):
    q: str
    filters: dict[str, list[str]]
    page: int
    page_size: int
    group: bool


class SearchJSON(TypedDict, total=False):
    total: int
    page: int
    pages: int
    hits: list[SearchHitJSON]
    groups: list[SearchGroupJSON]
    facets: dict[str, dict[str, int]]
    suggestion: str | None
    warnings: list[str]
    query: SearchQueryJSON


def run_search(request: Request, members: int = MAX_MEMBERS
               ) -> tuple[SearchRequest, SearchResults]:
    res = resources(request)
    state = res.catalogue.state
    search = parse_search(request.query_params, request.query_params.multi_items(), state)
    query = SearchQuery(text=search.text, filters=search.filters, page=search.page,
                        page_size=search.page_size, group=search.group, members=members)
    results = res.search(query)
    if search.page > 1 and search.page > results.pages:
        raise BadRequest(f"page {search.page} is past the last page ({results.pages}) of "
                         f"this search")
    return search, results


def search_page(request: Request) -> Page:
    as_json = wants_json(request)
    # The HTML lists a group's first MEMBERS_SHOWN variables (the question may be one
    # more member): reading the others from the index would be wasted.
    search, results = run_search(request, MAX_MEMBERS if as_json else MEMBERS_SHOWN + 1)
    lang: str = request.state.lang

    def json_body() -> Mapping[str, object]:
        body: dict[str, Any] = results_json(results, lang)
        body["pages"] = results.pages
        body["query"] = {"q": search.text, "filters": {f: list(v) for f, v in
                                                       search.filters.active()},
                         "page": search.page, "page_size": search.page_size,
                         "group": search.group}
        return body

    # Links, labels and snippets are for the HTML alone: the JSON form skips them (they
    # were most of its time).
    data = {} if as_json else _html_data(request, search, results, lang)
    return Page("search.html", data, json_body)


def _html_data(request: Request, search: SearchRequest, results: SearchResults,
               lang: str) -> dict[str, Any]:
    state = resources(request).catalogue.state
    if results.groups:
        entries = tuple(ResultEntry(
            _result_hit(request, g.best, lang, state),
            tuple(_member(request, h, lang, state) for h in
                  [m for m in g.hits if m.document.kind == "variable"][:MEMBERS_SHOWN]),
            g.size - sum(1 for m in g.hits if m.document.kind != "variable"))
            for g in results.groups)
    else:
        entries = tuple(ResultEntry(_result_hit(request, h, lang, state), (), 1)
                        for h in results.hits)
    _ = gettext_for(request)
    base = url_for(request, "search")
    return {
        "search": search, "results": results, "entries": entries,
        "facets": facet_groups(request, search, results, state),
        "active": active_filters(request, search, state),
        "pages": page_links(request, search, results),
        "suggestion_url": with_query(base, search.pairs(text=results.suggestion))
        if results.suggestion else None,
        "group_url": with_query(base, search.pairs(group=not search.group,
                                                   page=None)),
        "crumbs": [*crumbs_home(request), Crumb(_("Search"))],
    }


_FACET_PARAMS = tuple(
    QueryParam(name, f"Filter on {name.replace('_', ' ')} (repeat for several values: OR "
               f"within a facet, AND across facets)", {"type": "string"}, repeated=True)
    for name in FACET_NAMES)

RESOURCES = (
    Resource("/search", "search", search_page,
             "Search variables, questions and studies, with facet counts and suggestions",
             SearchJSON,
             (QueryParam("q", "Words, \"a phrase\", prefix*; empty browses everything"),
              *_FACET_PARAMS,
              QueryParam("page", "Page number, from 1", {"type": "integer", "minimum": 1}),
              QueryParam("page_size", "Results per page",
                         {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
              QueryParam("group", "1 (default): one result per question with its variables "
                         "in every wave; 0: every variable", {"type": "string",
                                                              "enum": ["0", "1"]}),
              LANG_PARAM)),
)
