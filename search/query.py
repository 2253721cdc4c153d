"""What a search asks for: text, facet filters, page, grouping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from search.errors import InvalidPage, InvalidSearch
from search.facets import FACET_NAMES

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
#: Members returned per group at most (``GroupedHit.size`` still counts them all).
MAX_MEMBERS = 20


@dataclass(frozen=True, slots=True)
class Filters:
    """Facet filters: AND across facets, OR within one facet. Empty means no filter.

    Values are those of the facet counts: cohort slug, wave URN, year, topic label,
    instrument, response type (``code``, ``numeric``...), access (``open``/``casd``),
    document kind (``variable``, ``question``, ``study``). Unknown values match nothing.
    """

    kind: tuple[str, ...] = ()
    cohort: tuple[str, ...] = ()
    wave: tuple[str, ...] = ()
    year: tuple[int, ...] = ()
    topic: tuple[str, ...] = ()
    instrument: tuple[str, ...] = ()
    response_type: tuple[str, ...] = ()
    access: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            # Tuples only: filters are hashed (cache keys) and compared.
            if not isinstance(value, tuple):
                raise InvalidSearch(f"filter {f.name} must be a tuple of values, got {value!r}")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Filters:
        """Filters from ``(facet, value)`` pairs, as found in a query string."""
        collected: dict[str, list[str]] = {}
        for facet, value in pairs:
            if facet not in FACET_NAMES:
                raise InvalidSearch(f"unknown facet {facet!r}: use one of "
                                    f"{', '.join(FACET_NAMES)}")
            if value not in collected.setdefault(facet, []):
                collected[facet].append(value)
        years: list[int] = []
        for value in collected.pop("year", []):
            if not value.strip().isdigit():
                raise InvalidSearch(f"year must be a whole number, got {value!r}")
            years.append(int(value))
        return cls(year=tuple(years), **{k: tuple(v) for k, v in collected.items()})

    def values(self, facet: str) -> tuple[str, ...]:
        """The selected values of ``facet`` as index terms (years as text)."""
        return tuple(str(v) for v in getattr(self, facet))

    def active(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``((facet, values), ...)`` for every facet with a selection."""
        return tuple((name, self.values(name)) for name in FACET_NAMES if getattr(self, name))

    def without(self, facet: str) -> Filters:
        return replace(self, **{facet: ()})

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in FACET_NAMES)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search. An empty ``text`` browses everything (with facets and filters).

    ``group`` pages over groups (a question asked in several waves is one result with
    its variables), each with its ``members`` best matches; ``facets`` names the facets
    to count.
    """

    text: str = ""
    filters: Filters = Filters()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    group: bool = False
    facets: tuple[str, ...] = FACET_NAMES
    highlight: bool = True
    facet_limit: int = 100
    members: int = MAX_MEMBERS

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InvalidSearch("text must be a string")
        if not isinstance(self.filters, Filters):
            raise InvalidSearch("filters must be a Filters value")
        if isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1:
            raise InvalidPage("page must be a positive integer")
        if (isinstance(self.page_size, bool) or not isinstance(self.page_size, int)
                or not 1 <= self.page_size <= MAX_PAGE_SIZE):
            raise InvalidSearch(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}")
        unknown = [f for f in self.facets if f not in FACET_NAMES]
        if unknown:
            raise InvalidSearch(f"unknown facet {unknown[0]!r}: use one of "
                                f"{', '.join(FACET_NAMES)}")
        if isinstance(self.facet_limit, bool) or not isinstance(self.facet_limit, int) \
                or self.facet_limit < 1:
            raise InvalidSearch("facet_limit must be a positive integer")
        if (isinstance(self.members, bool) or not isinstance(self.members, int)
                or not 1 <= self.members <= MAX_MEMBERS):
            raise InvalidSearch(f"members must be an integer from 1 to {MAX_MEMBERS}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size
