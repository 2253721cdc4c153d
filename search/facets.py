"""The facets: which document values each one counts, and how counts become results.

Cohort and wave values are identifiers (slug, wave URN) shown with a label; the index
keeps the pair joined by :data:`LABEL_SEPARATOR` in a counting field, so that a facet
count carries its label without a lookup. Other facets show their value as label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from search.documents import SearchDocument

LABEL_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class FacetSpec:
    name: str
    #: True when values are identifiers shown with a separate label.
    labelled: bool
    values: Callable[[SearchDocument], tuple[str, ...]]
    labels: Callable[[SearchDocument], tuple[str, ...]] | None = None

    def counted_terms(self, document: SearchDocument) -> tuple[str, ...]:
        """The terms of the counting field: ``value`` or ``value<US>label``."""
        values = self.values(document)
        if self.labels is None:
            return values
        return tuple(f"{v}{LABEL_SEPARATOR}{label}"
                     for v, label in zip(values, self.labels(document), strict=True))


def _one(value: str) -> tuple[str, ...]:
    return (value,) if value else ()


FACETS: tuple[FacetSpec, ...] = (
    FacetSpec("kind", False, lambda d: (d.kind,)),
    FacetSpec("cohort", True, lambda d: _one(d.cohort),
              lambda d: (d.cohort_label or d.cohort,) if d.cohort else ()),
    FacetSpec("wave", True, lambda d: _one(d.wave_urn),
              lambda d: (d.wave or d.wave_urn,) if d.wave_urn else ()),
    FacetSpec("year", False, lambda d: tuple(dict.fromkeys(str(y) for y in d.years))),
    FacetSpec("topic", False, lambda d: tuple(dict.fromkeys(t for t in d.topics if t))),
    FacetSpec("instrument", False,
              lambda d: tuple(dict.fromkeys(i for i in d.instruments if i))),
    FacetSpec("response_type", False, lambda d: _one(d.response_type)),
    FacetSpec("access", False, lambda d: (d.access,)),
)
FACETS_BY_NAME: dict[str, FacetSpec] = {f.name: f for f in FACETS}
FACET_NAMES: tuple[str, ...] = tuple(f.name for f in FACETS)


def filter_field(facet: str) -> str:
    """Index field holding a facet's plain values (used to filter)."""
    return f"f_{facet}"


def count_field(facet: str) -> str:
    """Index field counted for a facet: the filter field, or its labelled twin."""
    return f"fl_{facet}" if FACETS_BY_NAME[facet].labelled else f"f_{facet}"


def split_counted(term_counts: Mapping[str, int]) -> dict[str, tuple[str, int]]:
    """``{value: (label, count)}`` from counting-field terms, merging relabelled values."""
    merged: dict[str, tuple[str, int]] = {}
    for term, count in term_counts.items():
        value, _, label = term.partition(LABEL_SEPARATOR)
        if value in merged:
            known_label, known = merged[value]
            merged[value] = (known_label, known + count)
        else:
            merged[value] = (label or value, count)
    return merged
