""""Did you mean": corrections from the index's own vocabulary."""

from __future__ import annotations

import pytest

from search.engine import SearchEngine
from search.query import SearchQuery
from search.suggest import best_correction, edit_distance


@pytest.mark.parametrize(("typed", "meant"), [
    ("tabagism", "tabagisme"),
    ("smokng", "smoking"),
    ("activte", "activité"),
    ("Tabagism", "Tabagisme"),
    ("consommation de tabagism", "consommation de tabagisme"),
    ('"tour de taile"', '"tour de taille"'),
    ("allaitment maternel", "allaitement maternel"),
])
def test_misspelled_words_get_a_suggestion(engine: SearchEngine, typed: str,
                                           meant: str) -> None:
    assert engine.suggest(typed) == meant
    assert engine.search(SearchQuery(typed)).suggestion == meant


@pytest.mark.parametrize("text", ["tabagisme", "smoking", "activite", "Activité",
                                  "consommation de tabac", "BMI_V1", "tabag*", "",
                                  "urn:ddi:fr.inserm.constances:v-bmi-1:1", "xyzzyqwv"])
def test_known_or_hopeless_words_get_none(engine: SearchEngine, text: str) -> None:
    assert engine.suggest(text) is None
    assert engine.search(SearchQuery(text)).suggestion is None


@pytest.mark.parametrize("text", ["allaitements", "consommations", "smokes"])
def test_words_found_through_their_stem_get_none(engine: SearchEngine, text: str) -> None:
    results = engine.search(SearchQuery(text))
    assert results.total > 0
    assert results.suggestion is None
    assert engine.suggest(text) is None


def test_a_suggestion_finds_what_the_misspelling_missed(engine: SearchEngine,
                                                        tobacco: list[str]) -> None:
    results = engine.search(SearchQuery("smokng"))
    assert results.total == 0
    assert results.suggestion is not None
    corrected = engine.search(SearchQuery(results.suggestion, page_size=50))
    assert set(tobacco) <= set(corrected.urns())


def test_deleted_publications_leave_the_vocabulary(engine: SearchEngine) -> None:
    assert engine.suggest("allaitment") == "allaitement"
    engine.delete_publication(2)
    assert engine.suggest("allaitment") is None


def test_the_closest_then_the_most_frequent_word_wins() -> None:
    candidates = [("tabac", "tabac", 3), ("tabas", "tabas", 50), ("tabacs", "tabacs", 900)]
    assert best_correction("tabak", candidates, 1) == "tabas"
    assert best_correction("tabacc", candidates, 1) == "tabacs"
    assert best_correction("zzzzz", candidates, 2) is None


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("smoking", "smoking", 0), ("smokng", "smoking", 1), ("smoknig", "smoking", 1),
    ("tabagism", "tabagisme", 1), ("taille", "title", 2), ("abc", "xyz", 3),
])
def test_edit_distance_counts_transpositions_as_one(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, 3) == distance


def test_edit_distance_stops_early_past_the_limit() -> None:
    assert edit_distance("tabagisme", "consommation", 2) == 3
