"""Writing: one publication at a time, all or nothing; rebuild; reopening."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from search.documents import SearchDocument
from search.engine import SearchEngine, open_engine
from search.errors import InvalidDocument
from search.query import Filters, SearchQuery

ELFE = Filters(cohort=("elfe",))


def elfe_names(engine: SearchEngine) -> list[str]:
    return sorted(h.name for h in engine.search(SearchQuery(filters=ELFE, page_size=100)).hits)


def test_replacing_a_publication_replaces_all_its_documents(
        engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    revised = replace(by_name["TABAC_MERE"], urn="urn:ddi:fr.ined.elfe:v-tabac-mere:2",
                      label=(("fr", "Tabagisme maternel"), ("en", "Maternal smoking")))
    added = replace(by_name["ALLAIT_2M"], urn="urn:ddi:fr.ined.elfe:v-allait-1a:1",
                    name="ALLAIT_1A", label=(("fr", "Allaitement à 1 an"),))
    assert engine.replace_publication(2, [revised, added]) == 2
    assert elfe_names(engine) == ["ALLAIT_1A", "TABAC_MERE"]
    assert engine.search(SearchQuery("grossesse")).total == 0
    assert engine.search(SearchQuery("maternel")).urns() == [revised.urn]
    assert engine.search(SearchQuery()).counts("cohort") == {"constances": 15, "elfe": 2}


def test_other_publications_are_untouched(engine: SearchEngine) -> None:
    engine.replace_publication(2, [])
    assert engine.search(SearchQuery()).total == 15
    assert engine.search(SearchQuery("BMI_V1")).total == 1


def test_deleting_a_publication_removes_it_from_results_and_facets(
        engine: SearchEngine) -> None:
    engine.delete_publication(2)
    assert elfe_names(engine) == []
    assert engine.search(SearchQuery()).counts("cohort") == {"constances": 15}
    engine.delete_publication(2)  # deleting twice is harmless
    engine.delete_publication(404)


def test_a_document_of_another_publication_writes_nothing(
        engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    stray = replace(by_name["BMI_V1"], urn="urn:ddi:fr.test:stray:1")
    with pytest.raises(InvalidDocument, match="belongs to publication 1, not 2"):
        engine.replace_publication(2, [by_name["ALLAIT_2M"], stray])
    assert elfe_names(engine) == ["ALLAIT_2M", "TABAC_MERE"]


def test_a_failure_while_reading_documents_writes_nothing(
        engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    def documents() -> Iterator[SearchDocument]:
        yield replace(by_name["ALLAIT_2M"], urn="urn:ddi:fr.ined.elfe:new:1", name="NEW")
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError, match="the store went away"):
        engine.replace_publication(2, documents())
    assert elfe_names(engine) == ["ALLAIT_2M", "TABAC_MERE"]
    with pytest.raises(RuntimeError, match="the store went away"):
        engine.rebuild(documents())
    assert engine.search(SearchQuery()).total == 17


def test_rebuild_replaces_everything(engine: SearchEngine,
                                     documents: list[SearchDocument]) -> None:
    assert engine.rebuild(d for d in documents if d.cohort == "elfe") == 2
    assert engine.search(SearchQuery()).total == 2
    assert engine.rebuild(documents) == 17
    results = engine.search(SearchQuery("tabagisme"))
    assert results.total == 8
    assert engine.search(SearchQuery()).counts("cohort") == {"constances": 15, "elfe": 2}


def test_an_index_reopens_with_its_analysis(engine_name: str, tmp_path: Path,
                                            documents: list[SearchDocument]) -> None:
    with open_engine(engine_name, tmp_path / "index") as engine:
        engine.rebuild(documents)
    with open_engine(engine_name, tmp_path / "index") as engine:
        # Stemming and folding need the custom analyzers, registered again on open.
        assert engine.search(SearchQuery("consommations")).total >= 6
        assert engine.search(SearchQuery("ACTIVITE")).total == 1
        assert engine.suggest("tabagism") == "tabagisme"


def test_a_second_engine_on_the_same_directory_sees_the_first_ones_writes(
        engine_name: str, engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    path = engine.path
    with open_engine(engine_name, path) as reader:
        assert reader.search(SearchQuery()).total == 17
        engine.delete_publication(2)
        assert reader.search(SearchQuery()).total == 15
        engine.replace_publication(2, [by_name["ALLAIT_2M"]])
        assert elfe_names(reader) == ["ALLAIT_2M"]


def test_documents_must_have_a_versioned_urn_and_known_values() -> None:
    with pytest.raises(InvalidDocument, match="urn must look like urn:ddi:agency:id:version"):
        SearchDocument(urn="urn:ddi:a:b", kind="variable", publication_id=1)
    with pytest.raises(InvalidDocument, match="kind must be one of variable, question, study"):
        SearchDocument(urn="urn:ddi:a:b:1", kind="dataset", publication_id=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidDocument, match="access must be open or casd"):
        SearchDocument(urn="urn:ddi:a:b:1", kind="variable", publication_id=1,
                       access="secret")  # type: ignore[arg-type]


def test_documents_round_trip_through_json(documents: list[SearchDocument]) -> None:
    for document in documents:
        assert SearchDocument.from_json(document.to_json()) == document
        # as the index hands it back: UTF-8 bytes
        assert SearchDocument.from_json(document.to_json().encode("utf-8")) == document
        # compact, UTF-8 kept as it is, as the standard library writes it
        assert document.to_json() == json.dumps(json.loads(document.to_json()),
                                                ensure_ascii=False, separators=(",", ":"))
    # an integer orjson refuses is still written
    huge = replace(documents[0], years=(10**20 + 1,))
    assert json.loads(huge.to_json())["years"] == [10**20 + 1]


def test_a_large_rebuild_keeps_every_document(empty_engine: SearchEngine,
                                              by_name: dict[str, SearchDocument]) -> None:
    # More documents than one batch: whoosh then indexes in several processes.
    template = by_name["BMI_V1"]
    documents = [replace(template, urn=f"urn:ddi:fr.test:v{i}:1", name=f"VAR_{i}",
                         group_key=f"urn:ddi:fr.test:q{i % 100}:1") for i in range(1_200)]
    assert empty_engine.rebuild(documents) == 1_200
    results = empty_engine.search(SearchQuery("corporelle", group=True))
    assert results.total == 100
    assert empty_engine.search(SearchQuery("VAR_1199")).urns() == ["urn:ddi:fr.test:v1199:1"]


def test_whoosh_keeps_one_commits_facet_sets_beside_the_index(
        tmp_path: Path, documents: list[SearchDocument]) -> None:
    with open_engine("whoosh", tmp_path / "index") as engine:
        engine.rebuild(documents)
        first = sorted(p.name for p in (tmp_path / "index").glob("catalogue-sets-*"))
        assert len(first) == 1
        engine.delete_publication(2)
        second = sorted(p.name for p in (tmp_path / "index").glob("catalogue-sets-*"))
        assert len(second) == 1 and second != first
    with open_engine("whoosh", tmp_path / "index") as reader:
        # A new process loads the sets (and a damaged file is rebuilt, not trusted).
        assert reader.search(SearchQuery()).counts("cohort") == {"constances": 15}
        (tmp_path / "index" / second[0]).write_bytes(b"not a pickle")
    with open_engine("whoosh", tmp_path / "index") as reader:
        assert reader.search(SearchQuery()).counts("cohort") == {"constances": 15}


def test_every_commit_has_its_own_id_the_same_for_every_reader(
        engine_name: str, engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    """Web workers key what they computed from the index (and the pages they share) by
    it: a commit that leaves the number of documents as it was must change it too."""
    with open_engine(engine_name, engine.path) as reader:
        first = engine.commit_id()
        assert reader.commit_id() == first
        assert engine.commit_id() == first  # no commit, no change
        engine.replace_publication(2, [by_name["ALLAIT_2M"], by_name["TABAC_MERE"]])
        assert engine.search(SearchQuery()).total == 17  # as many documents as before
        second = engine.commit_id()
        assert second != first
        assert reader.commit_id() == second
