"""What the index holds for the bundled cohorts: the documents built from the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.structure import StructureCache
from search.documents import SearchDocument
from search.indexing import current_urns, publication_documents

GAZEL = "urn:ddi:fr.gazel"


@pytest.fixture(scope="module")
def documents(bundled_catalogue: Settings) -> dict[str, SearchDocument]:
    """Every document of the bundled catalogue, by URN."""
    store = Store(bundled_catalogue.store_url)
    try:
        cache = StructureCache(store)

        def everything() -> Iterator[SearchDocument]:
            for pid in store.publication_ids():
                yield from publication_documents(cache.get(pid), current_urns(store, pid))

        return {d.urn: d for d in everything()}
    finally:
        store.close()


def test_a_wave_is_found_by_its_dates_like_its_variables(
        documents: dict[str, SearchDocument]) -> None:
    wave = documents[f"{GAZEL}:su-Q1993:1"]
    variable = documents[f"{GAZEL}:var-Q1993-TABAC_STATUT_93:1"]
    assert (wave.kind, wave.years, wave.wave_urn) == ("study", (1993,), f"{GAZEL}:su-Q1993")
    assert wave.wave == variable.wave == "1993 annual questionnaire"
    assert variable.years == (1993,)


def test_a_cohort_is_no_wave(documents: dict[str, SearchDocument]) -> None:
    cohort = documents[f"{GAZEL}:gazel:1"]
    assert (cohort.wave, cohort.wave_urn, cohort.years) == ("", "", ())
