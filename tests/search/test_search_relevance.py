"""The relevance set (``relevance.toml``) against the bundled cohorts, with each engine.

The four cohorts and their topics are published once per session (``bundled_catalogue``
in conftest.py); each engine builds its index from that store with ``catalogue
reindex``'s code, and every query of the set is one test per engine, whose failure says
what was expected and shows the first page.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from catalogue.settings import Settings
from catalogue.store import Store
from search.engine import ENGINE_NAMES, SearchEngine, open_engine
from search.indexing import reindex
from search.query import Filters, SearchQuery
from search.results import Hit, SearchResults

RELEVANCE_SET = Path(__file__).with_name("relevance.toml")
PAGE = 10
_KEYS = frozenset({"id", "lang", "covers", "text", "filters", "group", "top", "not_top",
                   "min_total", "first", "only", "first_group", "first_group_members",
                   "suggestion", "no_suggestion", "why"})
_COVERS = frozenset({"word", "phrase", "prefix", "name", "urn", "accents", "case", "stemming",
                     "misspelling", "cross-language", "facets", "grouping", "study",
                     "all-but-one"})


@dataclass(frozen=True)
class RelevanceQuery:
    """One ``[[query]]`` of the relevance set."""

    id: str
    lang: str
    covers: tuple[str, ...]
    text: str
    filters: Filters
    group: bool
    top: tuple[str, ...]
    not_top: tuple[str, ...]
    min_total: int
    first: str | None
    only: str | None
    first_group: str | None
    first_group_members: tuple[str, ...]
    suggestion: str | None
    no_suggestion: bool
    why: str

    @classmethod
    def read(cls, raw: dict[str, Any]) -> RelevanceQuery:
        unknown = set(raw) - _KEYS
        if unknown:
            raise ValueError(f"{raw.get('id')}: unknown keys {sorted(unknown)}")
        pairs = [(facet, str(value)) for facet, values in raw.get("filters", {}).items()
                 for value in values]
        return cls(id=raw["id"], lang=raw["lang"], covers=tuple(raw["covers"]),
                   text=raw["text"], filters=Filters.from_pairs(pairs),
                   group=raw.get("group", False), top=tuple(raw.get("top", ())),
                   not_top=tuple(raw.get("not_top", ())), min_total=raw.get("min_total", 0),
                   first=raw.get("first"), only=raw.get("only"),
                   first_group=raw.get("first_group"),
                   first_group_members=tuple(raw.get("first_group_members", ())),
                   suggestion=raw.get("suggestion"),
                   no_suggestion=raw.get("no_suggestion", False), why=raw["why"])

    def search(self, text: str | None = None) -> SearchQuery:
        return SearchQuery(text=self.text if text is None else text, filters=self.filters,
                           page_size=PAGE, group=self.group, facets=(), highlight=False)

    def expected_urns(self) -> set[str]:
        return {*self.top, *self.not_top, *self.first_group_members,
                *([self.first] if self.first else [])}

    def describe(self) -> str:
        filters = ", ".join(f"{facet}={'|'.join(values)}" for facet, values in
                            self.filters.active())
        return (f"{self.id}: {self.text!r}" + (f" [{filters}]" if filters else "")
                + (" grouped" if self.group else ""))


def read_relevance_set() -> list[RelevanceQuery]:
    with RELEVANCE_SET.open("rb") as handle:
        return [RelevanceQuery.read(raw) for raw in tomllib.load(handle)["query"]]


QUERIES = read_relevance_set()


# -- the catalogue and its indexes -------------------------------------------------------


@pytest.fixture(scope="session", params=ENGINE_NAMES)
def relevance_engine(request: pytest.FixtureRequest,
                     bundled_catalogue: Settings) -> Iterator[SearchEngine]:
    """The bundled catalogue indexed from its store by one engine."""
    settings = replace(bundled_catalogue, search_engine=str(request.param))
    store = Store(settings.store_url)
    try:
        reindex(settings, store)
    finally:
        store.close()
    with open_engine(settings.search_engine, settings.index_dir) as engine:
        yield engine


# -- checks --------------------------------------------------------------------------------


def _members(results: SearchResults) -> list[Hit]:
    return [hit for group in results.groups for hit in group.hits]


def _shown(results: SearchResults) -> list[Hit]:
    """The first page: hits, or the best hit of each group."""
    return [g.best for g in results.groups] if results.groups else list(results.hits)


def _page(results: SearchResults) -> str:
    lines = [f"{results.total} result(s); first page:"]
    if results.groups:
        for rank, group in enumerate(results.groups, 1):
            lines.append(f"{rank:3}. group {group.group_key} ({group.size})")
            lines.extend(f"       {h.document.urn}  {h.document.name}  {h.label('en')}"
                         for h in group.hits)
    else:
        lines.extend(f"{rank:3}. {h.document.urn}  {h.document.name}  {h.label('en')}"
                     f"  ({h.score:.2f})" for rank, h in enumerate(results.hits, 1))
    return "\n".join(lines)


def relevance_failures(query: RelevanceQuery, results: SearchResults) -> list[str]:
    """What ``results`` get wrong for ``query``, one sentence each."""
    failures = []
    shown = _shown(results)
    urns = [h.document.urn for h in (_members(results) if query.group else shown)]
    missing = [u for u in query.top if u not in urns]
    if missing:
        failures.append(f"expected in the first {PAGE}: {', '.join(missing)}")
    intruders = [u for u in query.not_top if u in urns]
    if intruders:
        failures.append(f"expected not in the first {PAGE}: {', '.join(intruders)}")
    if query.first and (not shown or shown[0].document.urn != query.first):
        failures.append(f"expected first: {query.first}")
    if query.only:
        pattern = re.compile(query.only)
        strays = [h.document.urn for h in shown if not pattern.search(h.document.urn)]
        if strays or not shown:
            failures.append(f"expected every one of the first {PAGE} to match "
                            f"/{query.only}/, not: {', '.join(strays) or 'an empty page'}")
    if results.total < query.min_total:
        failures.append(f"expected at least {query.min_total} results, got {results.total}")
    if query.first_group:
        first = results.groups[0] if results.groups else None
        if first is None or first.group_key != query.first_group:
            failures.append(f"expected the first group to be {query.first_group}, got "
                            f"{first.group_key if first else 'no group'}")
        else:
            held = {h.document.urn for h in first.hits}
            absent = [u for u in query.first_group_members if u not in held]
            if absent:
                failures.append(f"expected in the first group: {', '.join(absent)}")
    return failures


@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_relevance(relevance_engine: SearchEngine, query: RelevanceQuery) -> None:
    results = relevance_engine.search(query.search())
    problems: list[str] = []
    if query.suggestion is not None:
        if results.suggestion != query.suggestion:
            problems.append(f"expected the suggestion {query.suggestion!r}, got "
                            f"{results.suggestion!r}")
        # What the researcher sees after clicking "did you mean".
        results = relevance_engine.search(query.search(query.suggestion))
    elif query.no_suggestion and results.suggestion is not None:
        problems.append(f"expected no suggestion, got {results.suggestion!r}")
    problems.extend(relevance_failures(query, results))
    if problems:
        searched = f" (searched {query.suggestion!r})" if query.suggestion else ""
        pytest.fail(f"{relevance_engine.name}: {query.describe()}{searched}\n"
                    f"why: {query.why}\n" + "\n".join(f"- {p}" for p in problems)
                    + "\n" + _page(results), pytrace=False)


# -- the set itself ------------------------------------------------------------------------


def test_the_relevance_set_is_balanced_and_covers_every_kind_of_query() -> None:
    assert len(QUERIES) >= 40
    ids = [q.id for q in QUERIES]
    assert len(set(ids)) == len(ids), "query ids must be unique"
    languages = [q.lang for q in QUERIES]
    assert set(languages) == {"fr", "en"}
    assert languages.count("fr") >= len(QUERIES) // 2
    assert languages.count("en") >= len(QUERIES) // 2
    covered = {c for q in QUERIES for c in q.covers}
    assert covered == _COVERS, f"not covered: {_COVERS - covered}; unknown: {covered - _COVERS}"
    facets = {facet for q in QUERIES for facet, _ in q.filters.active()}
    assert {"cohort", "topic", "access", "year", "kind", "response_type", "wave"} <= facets
    for query in QUERIES:
        checks = (query.top or query.first or query.only or query.first_group
                  or query.min_total)
        assert checks, f"{query.id} checks nothing"
        assert not set(query.top) & set(query.not_top), query.id
        assert len(query.top) <= PAGE, query.id


def test_every_expected_item_is_in_the_bundled_catalogue(
        relevance_engine: SearchEngine) -> None:
    """A typo in an expected URN fails here, not as a puzzling relevance failure."""
    expected = {urn for q in QUERIES for urn in q.expected_urns()}
    unknown = sorted(u for u in expected
                     if relevance_engine.search(SearchQuery(text=u, facets=(), page_size=1,
                                                            highlight=False)).total != 1)
    assert not unknown, f"not in the catalogue: {unknown}"
    groups = {q.first_group for q in QUERIES if q.first_group}
    unknown_groups = sorted(g for g in groups
                            if relevance_engine.search(SearchQuery(
                                text=g, facets=(), page_size=1, highlight=False)).total != 1)
    assert not unknown_groups, f"no question has these URNs: {unknown_groups}"
