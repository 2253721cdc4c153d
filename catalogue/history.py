"""Each cohort's publication history, and which publication a new one follows.

A publication belongs to a registered cohort when it holds items of one of the cohort's
DDI agencies. Successive versions of one document share the Agency+ID of its root (a
``DDIInstance``, say, whose version goes up with each export): that is a publication's
*series*. The publication a new one follows is the latest earlier live publication of
the same series, else of the same agencies; withdrawn ones are only used when nothing
live is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from catalogue.errors import NotFound
from catalogue.model import parse_urn
from catalogue.store import Store
from catalogue.store.records import Publication


@dataclass(frozen=True, slots=True)
class CohortHistory:
    """A registered cohort and its publications, newest first (withdrawn ones included)."""

    slug: str
    name: str
    agencies: tuple[str, ...]
    publications: tuple[Publication, ...]

    @property
    def current(self) -> Publication | None:
        return next((p for p in self.publications if not p.withdrawn), None)

    @property
    def live(self) -> tuple[Publication, ...]:
        return tuple(p for p in self.publications if not p.withdrawn)


def series_key(urn: str) -> str:
    """What successive versions of one document share: the Agency+ID of its URN."""
    parts = parse_urn(urn)
    return f"{parts.agency}:{parts.id}" if parts is not None else urn


def _owned(publications: Iterable[Publication], agencies: Iterable[str]) -> list[Publication]:
    wanted = set(agencies)
    return [p for p in publications if wanted.intersection(p.agencies)]


def cohort_history(store: Store, slug: str,
                   publications: Sequence[Publication] | None = None) -> CohortHistory:
    """The history of the registered cohort ``slug``; NotFound when it is not registered."""
    cohort = store.registered_cohort(slug)
    if cohort is None:
        raise NotFound("There is no registered cohort at this address.")
    listed = store.list_publications() if publications is None else publications
    owned = sorted(_owned(listed, cohort.agencies), key=lambda p: p.id, reverse=True)
    return CohortHistory(cohort.slug, cohort.name, cohort.agencies, tuple(owned))


def all_histories(store: Store) -> list[CohortHistory]:
    """Every registered cohort's history (one read of the publications)."""
    listed = store.list_publications()
    return [cohort_history(store, c.slug, listed) for c in store.list_registered_cohorts()]


def baseline(history: CohortHistory, series: str | None) -> Publication | None:
    """What an upload of ``series`` would replace: the cohort's latest live publication of
    that series, else its latest live publication."""
    live = history.live
    if series is not None:
        same = next((p for p in live if series_key(p.urn) == series), None)
        if same is not None:
            return same
    return live[0] if live else None


def predecessor(store: Store, publication: Publication,
                publications: Sequence[Publication] | None = None) -> Publication | None:
    """The publication ``publication`` follows (see the module docstring), or None."""
    listed = store.list_publications() if publications is None else publications
    earlier = sorted((p for p in _owned(listed, publication.agencies)
                      if p.id < publication.id), key=lambda p: p.id, reverse=True)
    series = series_key(publication.urn)
    for candidates in ([p for p in earlier if series_key(p.urn) == series], earlier):
        live = next((p for p in candidates if not p.withdrawn), None)
        if live is not None:
            return live
        if candidates:
            return candidates[0]
    return None
