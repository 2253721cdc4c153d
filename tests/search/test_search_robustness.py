"""Whatever is typed or asked for, the answer is clear: results, or a literal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.documents import SearchDocument
from search.engine import SearchEngine, open_engine
from search.errors import IndexUnusable, InvalidPage, InvalidSearch
from search.query import Filters, SearchQuery

ODD_QUERIES = [
    '"unbalanced', "AND OR (", "title:", "((tabac", "tabac)", '"', "-", "OR", "NOT", "\\",
    '"tour de', "tabac AND", ":", "cohort:elfe", "~tabac^2", "tab?c", "[1 TO 5]", "'",
    "\x00", "{}", "a" * 10_000, "tabac " * 2_000, "é" * 5_000, "🚭 tabac", "*", "**", "-*",
    "urn:ddi:", "urn:ddi:a:b:c:d:e", "tabac OR", "OR tabac", "NOT NOT tabac", "-tabac",
    "+tabac", "tabac~2", "/tab.*/", "<script>alert(1)</script>", "x" * 45,
]


@pytest.mark.parametrize("text", ODD_QUERIES)
def test_odd_queries_give_results_not_errors(engine: SearchEngine, text: str) -> None:
    for group in (False, True):
        results = engine.search(SearchQuery(text, group=group))
        assert results.total >= 0
        assert len(results.hits) <= results.total or group


def test_syntax_errors_give_clear_answers(engine: SearchEngine) -> None:
    assert engine.search(SearchQuery('"unbalanced')).total == 0
    broken = engine.search(SearchQuery("AND OR ("))
    assert (broken.total, broken.warnings) == (0, ("the query has no words to search for",))
    assert engine.search(SearchQuery("((tabac")).total == engine.search(SearchQuery("tabac")).total


def test_an_empty_query_browses_everything_with_facets(engine: SearchEngine) -> None:
    results = engine.search(SearchQuery(""))
    assert results.total == 17
    assert results.counts("cohort") == {"constances": 15, "elfe": 2}
    assert results.suggestion is None


def test_only_exclusions_browse_what_is_left(engine: SearchEngine) -> None:
    assert engine.search(SearchQuery("-tabac")).total == 17 - 9


def test_a_huge_query_is_cut_and_says_so(engine: SearchEngine) -> None:
    results = engine.search(SearchQuery("tabac " * 2_000))
    assert results.total == engine.search(SearchQuery("tabac")).total
    assert "the query was cut to its first 1000 characters" in results.warnings


def test_html_in_queries_never_reaches_snippets_unescaped(engine: SearchEngine) -> None:
    results = engine.search(SearchQuery("<b>illustratif</b>"))
    assert results.hits
    assert "<b>" not in results.hits[0].snippet


@pytest.mark.parametrize("page", [0, -1, "2", 1.5, True, None])
def test_bad_pages_raise_a_literal_error(page: object) -> None:
    with pytest.raises(InvalidPage, match="^page must be a positive integer$") as error:
        SearchQuery("tabac", page=page)  # type: ignore[arg-type]
    assert isinstance(error.value, ValueError)
    assert error.value.status == 400


@pytest.mark.parametrize("size", [0, 101, -5, "10"])
def test_bad_page_sizes_raise_a_literal_error(size: object) -> None:
    with pytest.raises(InvalidSearch, match="^page_size must be an integer from 1 to 100$"):
        SearchQuery("tabac", page_size=size)  # type: ignore[arg-type]


@pytest.mark.parametrize("page", [3, 1000, 10**12])
def test_pages_past_the_end_are_empty_with_the_total(engine: SearchEngine, page: int) -> None:
    results = engine.search(SearchQuery("tabac", page=page, page_size=5))
    assert (results.total, results.hits, results.page) == (9, (), page)
    grouped = engine.search(SearchQuery("tabac", page=page, page_size=5, group=True))
    assert (grouped.total, grouped.groups) == (3, ())
    browse = engine.search(SearchQuery("", page=page, page_size=10))
    assert (browse.total, browse.hits) == (17, ())


def test_unknown_facets_are_refused_with_the_list_of_facets() -> None:
    with pytest.raises(InvalidSearch, match="unknown facet 'colour': use one of kind, cohort"):
        SearchQuery(facets=("colour",))


@pytest.mark.parametrize("value", ["elfe", ["elfe"], None, 2012])
def test_filters_must_be_tuples(value: object) -> None:
    with pytest.raises(InvalidSearch, match="filter cohort must be a tuple of values"):
        Filters(cohort=value)  # type: ignore[arg-type]


def test_unknown_facet_values_everywhere_give_zero(engine: SearchEngine) -> None:
    filters = Filters(cohort=("?",), wave=("urn:ddi:x:y:1",), year=(1850,), topic=("?",),
                      instrument=("?",), response_type=("?",), access=("?",), kind=("?",))
    for text in ("", "tabac"):
        for group in (False, True):
            results = engine.search(SearchQuery(text, filters=filters, group=group))
            assert (results.total, results.hits, results.groups) == (0, (), ())


def test_an_empty_index_answers_every_query(empty_engine: SearchEngine) -> None:
    for text in ("", "tabac", "smokng", "tabag*", '"tour de taille"'):
        results = empty_engine.search(SearchQuery(text, group=text == "tabac"))
        assert (results.total, results.hits, results.suggestion) == (0, (), None)
        assert all(f.values == () for f in results.facets)


def test_an_unknown_engine_name_is_refused() -> None:
    with pytest.raises(InvalidSearch, match="unknown search engine 'solr'"):
        open_engine("solr", "/nonexistent")


def test_an_index_of_the_other_engine_is_refused(engine_name: str, tmp_path: Path) -> None:
    path = tmp_path / "index"
    other = "whoosh" if engine_name == "tantivy" else "tantivy"
    open_engine(other, path).close()
    with pytest.raises(IndexUnusable, match="rebuild it with catalogue reindex"):
        open_engine(engine_name, path)


def test_an_unusable_index_is_replaced_only_when_asked(engine_name: str, tmp_path: Path,
                                                       documents: list[SearchDocument]
                                                       ) -> None:
    path = tmp_path / "index"
    with open_engine(engine_name, path) as engine:
        engine.rebuild(documents)
    marker = path / "catalogue-index.json"
    marker.write_text(marker.read_text().replace('"schema": ', '"schema": 1000'))
    with pytest.raises(IndexUnusable, match="rebuild it with catalogue reindex"):
        open_engine(engine_name, path)
    with open_engine(engine_name, path, replace_unusable=True) as engine:
        assert engine.search(SearchQuery()).total == 0
        engine.rebuild(documents)
    with open_engine(engine_name, path) as engine:
        assert engine.search(SearchQuery()).total == 17


def test_a_directory_of_other_files_is_never_discarded(engine_name: str,
                                                       tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(IndexUnusable, match="holds files that are not a catalogue index"):
        open_engine(engine_name, tmp_path, replace_unusable=True)
    assert (tmp_path / "thesis.tex").read_text() == "precious"
