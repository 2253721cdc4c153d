"""What a search answers: hits (or groups of hits), total, facet counts, suggestion."""

from __future__ import annotations

from dataclasses import dataclass

from search.documents import SearchDocument
from search.query import SearchQuery


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching document, with everything needed to render it."""

    document: SearchDocument
    score: float
    #: HTML-safe: the text is escaped and matched words are wrapped in ``<mark>``.
    snippet: str = ""

    @property
    def urn(self) -> str:
        return self.document.urn

    @property
    def kind(self) -> str:
        return self.document.kind

    @property
    def name(self) -> str:
        return self.document.name

    def label(self, lang: str) -> str:
        return self.document.label_in(lang)


@dataclass(frozen=True, slots=True)
class GroupedHit:
    """A question (or concept) and its matching variables across waves.

    Members are hits in wave order; only the best one carries a snippet.
    """

    group_key: str
    #: Matching members in wave order (years, then wave label, then name).
    hits: tuple[Hit, ...]
    #: All matching members; ``hits`` holds at most the first few of a large group.
    size: int

    @property
    def best(self) -> Hit:
        """The best-scoring member: what the group is ranked and shown by."""
        return max(self.hits, key=lambda h: h.score)

    @property
    def snippet(self) -> str:
        """The best member's snippet (the other members carry none)."""
        return self.best.snippet


@dataclass(frozen=True, slots=True)
class FacetValue:
    value: str
    label: str
    count: int
    #: True when the query filters on this value (shown even when its count is 0).
    selected: bool = False


@dataclass(frozen=True, slots=True)
class FacetCounts:
    """Counts for one facet, ignoring that facet's own filter (so a choice can be widened)."""

    name: str
    values: tuple[FacetValue, ...]


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: SearchQuery
    #: Matching documents, or matching groups when the query groups.
    total: int
    hits: tuple[Hit, ...] = ()
    groups: tuple[GroupedHit, ...] = ()
    facets: tuple[FacetCounts, ...] = ()
    #: The query with misspelled words corrected ("did you mean"), or None.
    suggestion: str | None = None
    #: Plain sentences about how the query was read ("the query was cut to ...").
    warnings: tuple[str, ...] = ()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))

    @property
    def page(self) -> int:
        return self.query.page

    @property
    def has_next(self) -> bool:
        return self.query.page < self.pages

    def facet(self, name: str) -> FacetCounts:
        for counts in self.facets:
            if counts.name == name:
                return counts
        raise KeyError(name)

    def counts(self, name: str) -> dict[str, int]:
        """``{value: count}`` for one facet: handy in JSON output and tests."""
        return {v.value: v.count for v in self.facet(name).values}

    def urns(self) -> list[str]:
        """Ranked URNs of the hits (of every member, group after group, when grouped)."""
        if self.groups:
            return [h.urn for g in self.groups for h in g.hits]
        return [h.urn for h in self.hits]
