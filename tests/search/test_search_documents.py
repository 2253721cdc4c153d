"""What the index holds for the bundled cohorts: the documents built from the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalogue import structure
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


def test_the_waves_of_one_question_are_one_group(
        documents: dict[str, SearchDocument]) -> None:
    keys = {documents[f"{GAZEL}:var-Q{year}-TABAC_STATUT_{year % 100:02}:1"].group_key
            for year in (1989, 1993, 1998, 2003, 2008, 2013)}
    assert keys == {f"{GAZEL}:q-TABAC_STATUT"}
    assert documents[f"{GAZEL}:q-TABAC_STATUT:1"].group_key == f"{GAZEL}:q-TABAC_STATUT"


def test_variables_asked_by_no_question_are_not_grouped_by_their_topic(
        documents: dict[str, SearchDocument]) -> None:
    # Nine different long-term illnesses, all under the topic long_term_illness.
    stroke, diabetes = (documents[f"{GAZEL}:var-SNDS-SNDS_ALD{n}:1"] for n in ("01", "08"))
    assert stroke.topics == diabetes.topics == ("long_term_illness",)
    assert stroke.group_key == diabetes.group_key == ""
    assert stroke.effective_group_key != diabetes.effective_group_key


def test_documents_do_not_depend_on_what_the_caches_keep(
        bundled_catalogue: Settings, documents: dict[str, SearchDocument],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Items resolved for a chunk of variables are kept for the next ones, categories in a
    # cache of their own: with chunks of 3 variables and room for 2 items in each cache,
    # most are evicted and resolved again, and every document must come out the same.
    monkeypatch.setattr(structure, "_CHUNK", 3)
    monkeypatch.setattr(structure, "_RESOLVED_CACHE", 2)
    monkeypatch.setattr(structure, "_CATEGORY_CACHE", 2)
    store = Store(bundled_catalogue.store_url)
    try:
        cache = StructureCache(store)
        again = {d.urn: d for pid in store.publication_ids()
                 for d in publication_documents(cache.get(pid), current_urns(store, pid))}
    finally:
        store.close()
    assert again == documents
    assert any(d.category_labels for d in again.values())
