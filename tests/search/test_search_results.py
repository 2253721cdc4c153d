"""Ranking, pagination, facets and filters, grouping, snippets."""

from __future__ import annotations

import random
from dataclasses import replace

import lxml.html
import pytest

from search.documents import SearchDocument
from search.engine import SearchEngine, ranked_urns
from search.errors import InvalidSearch
from search.query import Filters, SearchQuery
from search.results import SearchResults
from tests.search.conftest import CONSTANCES, constances, corpus, publish

CORPUS_SIZE = 17
TOBACCO_QUESTION = "urn:ddi:fr.inserm.constances:q-tabac:1"


def search(engine: SearchEngine, text: str = "", **options: object) -> SearchResults:
    return engine.search(SearchQuery(text, **options))  # type: ignore[arg-type]


def test_label_matches_rank_above_description_matches(engine: SearchEngine) -> None:
    names = [hit.name for hit in search(engine, "tabac", page_size=100).hits]
    labelled = [names.index(f"TABAC_V{i}") for i in range(1, 7)]
    assert names.index("EXPO_PASSIVE") > max(labelled)


def test_browse_returns_everything_in_name_order(engine: SearchEngine) -> None:
    results = search(engine, page_size=100)
    assert results.total == CORPUS_SIZE
    names = [hit.name for hit in results.hits]
    assert names == sorted(names)


def test_pages_cover_the_results_once(engine: SearchEngine) -> None:
    first = search(engine, page_size=5)
    assert (first.total, first.pages, first.has_next) == (CORPUS_SIZE, 4, True)
    seen = [hit.urn for page in range(1, 5) for hit in search(engine, page=page,
                                                                page_size=5).hits]
    assert len(seen) == len(set(seen)) == CORPUS_SIZE
    last = search(engine, page=4, page_size=5)
    assert (len(last.hits), last.has_next) == (2, False)


def test_text_results_are_paginated_too(engine: SearchEngine) -> None:
    everything = search(engine, "tabac", page_size=100).urns()
    pages = [search(engine, "tabac", page=p, page_size=4).urns() for p in (1, 2, 3)]
    assert [urn for page in pages for urn in page] == everything


def test_browse_counts_every_facet(engine: SearchEngine) -> None:
    results = search(engine)
    assert results.counts("cohort") == {"constances": 15, "elfe": 2}
    assert results.counts("access") == {"open": 15, "casd": 2}
    assert results.counts("kind") == {"variable": 15, "question": 1, "study": 1}
    assert results.counts("year")["2011"] == 2
    assert results.counts("topic")["Tobacco"] == 8
    assert results.counts("instrument")["Examen de santé"] == 3
    assert results.counts("response_type") == {"code": 12, "numeric": 4}
    assert [f.name for f in results.facets] == list(SearchQuery().facets)


def test_identifier_facets_carry_their_labels(engine: SearchEngine) -> None:
    results = search(engine)
    cohorts = {v.value: v.label for v in results.facet("cohort").values}
    assert cohorts == {"constances": "Constances", "elfe": "Elfe"}
    waves = {v.value: v.label for v in results.facet("wave").values}
    assert waves["urn:ddi:fr.ined.elfe:wave-2m:1"] == "Enquête 2 mois"


def test_facet_values_are_sorted_by_count(engine: SearchEngine) -> None:
    counts = [v.count for v in search(engine).facet("topic").values]
    assert counts == sorted(counts, reverse=True)


def test_text_restricts_the_counts(engine: SearchEngine) -> None:
    results = search(engine, "tabac")
    assert results.counts("cohort") == {"constances": 8, "elfe": 1}
    assert results.counts("topic") == {"Tobacco": 8, "Environment": 1}


def test_filters_combine_with_or_within_a_facet(engine: SearchEngine) -> None:
    both = search(engine, filters=Filters(cohort=("constances", "elfe")))
    assert both.total == CORPUS_SIZE
    years = search(engine, filters=Filters(year=(2011, 2012)))
    assert years.total == 2 + 5


def test_filters_combine_with_and_across_facets(engine: SearchEngine) -> None:
    results = search(engine, filters=Filters(cohort=("elfe",), access=("casd",)))
    assert [hit.name for hit in results.hits] == ["TABAC_MERE"]
    results = search(engine, "tabac", filters=Filters(topic=("Tobacco",), access=("open",)))
    assert results.total == 7


def test_each_facet_ignores_its_own_filter(engine: SearchEngine) -> None:
    results = search(engine, filters=Filters(cohort=("elfe",)))
    assert results.total == 2
    # The cohort facet still offers Constances, so that the choice can be widened...
    cohort = {v.value: (v.count, v.selected) for v in results.facet("cohort").values}
    assert cohort == {"constances": (15, False), "elfe": (2, True)}
    # ...while every other facet counts only what the filter lets through.
    assert results.counts("access") == {"open": 1, "casd": 1}


def test_two_selected_facets_each_count_under_the_other(engine: SearchEngine) -> None:
    results = search(engine, filters=Filters(cohort=("elfe",), access=("casd",)))
    assert results.counts("cohort") == {"constances": 1, "elfe": 1}
    assert results.counts("access") == {"open": 1, "casd": 1}
    assert results.counts("kind") == {"variable": 1}


def test_unknown_facet_values_match_nothing_but_stay_visible(engine: SearchEngine) -> None:
    results = search(engine, filters=Filters(cohort=("nowhere",)))
    assert (results.total, results.hits) == (0, ())
    cohort = {v.value: (v.count, v.selected) for v in results.facet("cohort").values}
    assert cohort["nowhere"] == (0, True)
    assert cohort["constances"] == (15, False)


def test_filters_from_query_string_pairs() -> None:
    filters = Filters.from_pairs([("cohort", "elfe"), ("year", "2011"), ("cohort", "elfe")])
    assert filters == Filters(cohort=("elfe",), year=(2011,))
    with pytest.raises(InvalidSearch, match="unknown facet 'colour'"):
        Filters.from_pairs([("colour", "red")])
    with pytest.raises(InvalidSearch, match="year must be a whole number"):
        Filters.from_pairs([("year", "last")])


def test_only_the_requested_facets_are_counted(engine: SearchEngine) -> None:
    results = search(engine, facets=("access",))
    assert [f.name for f in results.facets] == ["access"]
    assert search(engine, facets=()).facets == ()


def test_grouping_shows_a_question_once_with_its_waves(engine: SearchEngine) -> None:
    results = search(engine, "tabac", group=True)
    assert results.total == 3
    first = results.groups[0]
    assert first.group_key == TOBACCO_QUESTION
    assert first.size == 7
    assert [h.name for h in first.hits] == ["Q_TABAC"] + [f"TABAC_V{i}" for i in range(1, 7)]
    assert first.best.score == max(h.score for h in first.hits)
    assert results.hits == ()


def test_groups_are_paginated(engine: SearchEngine) -> None:
    keys = [g.group_key for g in search(engine, "tabac", group=True).groups]
    paged = [search(engine, "tabac", group=True, page=p, page_size=1).groups[0].group_key
             for p in (1, 2, 3)]
    assert paged == keys
    beyond = search(engine, "tabac", group=True, page=4, page_size=1)
    assert (beyond.total, beyond.groups) == (3, ())


def test_groups_list_their_best_members_up_to_the_number_asked(engine: SearchEngine) -> None:
    everything = search(engine, "tabac", group=True).groups[0]
    first = search(engine, "tabac", group=True, members=3).groups[0]
    assert (first.group_key, first.size) == (TOBACCO_QUESTION, 7)
    assert len(first.hits) == 3
    # the best three (variables of equal score are equally good)
    assert sorted(h.score for h in first.hits) == sorted(h.score for h in everything.hits)[-3:]


@pytest.mark.parametrize("members", [0, 21, True, "3"])
def test_members_must_be_a_small_positive_integer(members: object) -> None:
    with pytest.raises(InvalidSearch, match="members"):
        SearchQuery("tabac", group=True, members=members)  # type: ignore[arg-type]


def test_hits_show_a_document_as_last_written(engine: SearchEngine) -> None:
    """Decoded documents are kept between searches; a new commit must not show old ones."""
    before = search(engine, "tabac", group=True).groups[0]
    assert before.hits[1].document.name == "TABAC_V1"
    renamed = [d if d.name != "TABAC_V1" else replace(d, name="TABAC_RENAMED")
               for d in corpus() if d.publication_id == before.hits[1].document.publication_id]
    engine.replace_publication(before.hits[1].document.publication_id, renamed)
    names = [h.name for h in search(engine, "tabac", group=True).groups[0].hits]
    assert "TABAC_RENAMED" in names and "TABAC_V1" not in names
    plain = search(engine, "tabac", page_size=50)
    assert "TABAC_RENAMED" in [h.name for h in plain.hits]


def test_grouped_browse_counts_groups_and_respects_filters(engine: SearchEngine) -> None:
    assert search(engine, group=True).total == CORPUS_SIZE - 6
    results = search(engine, group=True, filters=Filters(year=(2012,)))
    assert results.total == 4
    members = {g.group_key: [h.name for h in g.hits] for g in results.groups}
    assert members[TOBACCO_QUESTION] == ["Q_TABAC", "TABAC_V1"]


def test_snippets_mark_matches_and_escape_the_text(engine: SearchEngine) -> None:
    results = search(engine, "illustratif")
    snippet = results.hits[0].snippet
    fragment = lxml.html.fragment_fromstring(snippet, create_parent="div")
    assert [e.tag for e in fragment.iter()] == ["div", "mark"]
    assert fragment.find("mark").text == "illustratif"
    assert "<b>illustratif</b>" in fragment.text_content()


def test_snippets_come_from_the_text_that_matched(engine: SearchEngine) -> None:
    hits = {h.name: h.snippet for h in search(engine, "smoking", page_size=50).hits}
    assert hits["TABAC_V1"] == "Do you currently <mark>smoke</mark>?"
    assert hits["TABAC_MERE"] == "Maternal <mark>smoking</mark> during pregnancy"
    phrase = search(engine, '"tour de taille"').hits[0].snippet
    assert phrase == "<mark>Tour de taille</mark> (cm)"


def test_long_texts_are_cut_around_the_first_match(empty_engine: SearchEngine,
                                                    by_name: dict[str, SearchDocument]
                                                    ) -> None:
    from dataclasses import replace
    long_text = " ".join(["remplissage"] * 60 + ["cotinine"] + ["suite"] * 60)
    document = replace(by_name["BMI_V1"], description=(("fr", long_text),))
    empty_engine.replace_publication(1, [document])
    snippet = empty_engine.search(SearchQuery("cotinine")).hits[0].snippet
    assert "<mark>cotinine</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 300


def test_browse_snippets_show_the_label_unmarked(engine: SearchEngine) -> None:
    hit = search(engine, filters=Filters(cohort=("elfe",))).hits[0]
    assert hit.snippet == "Allaitement maternel à 2 mois"


def test_highlighting_can_be_turned_off(engine: SearchEngine) -> None:
    assert search(engine, "tabac", highlight=False).hits[0].snippet == ""


def test_a_hit_renders_without_another_lookup(engine: SearchEngine) -> None:
    hit = search(engine, "BMI_V1").hits[0]
    assert hit.label("fr") == "Indice de masse corporelle"
    assert hit.label("en") == "Body mass index"
    assert hit.label("de") == "Indice de masse corporelle"
    assert (hit.kind, hit.name, hit.urn) == ("variable", "BMI_V1",
                                             "urn:ddi:fr.inserm.constances:v-bmi-1:1")
    document = hit.document
    assert (document.cohort, document.cohort_label, document.wave) == (
        "constances", "Constances", "Suivi 2012")


def test_ranked_urns_serves_relevance_tests(engine: SearchEngine) -> None:
    assert ranked_urns(engine, "BMI_V2") == ["urn:ddi:fr.inserm.constances:v-bmi-2:1"]
    assert ranked_urns(engine, "tabac", Filters(cohort=("elfe",))) == [
        "urn:ddi:fr.ined.elfe:v-tabac-mere:1"]
    assert len(ranked_urns(engine, "", limit=3)) == 3


def scattered_groups() -> list[SearchDocument]:
    """Forty questions asked in up to twelve waves and one in 110, their variables'
    labels repeating "tabac" more or less, their names starting with the wave: a group's
    members rank far apart, among other groups', by score and by name."""
    docs = []
    for q in range(41):
        for wave in range(1 + q % 12 if q < 40 else 110):  # and a very large group
            repeats = 1 + (q * 7 + wave * 5) % 6
            docs.append(constances(
                f"v-{q}-{wave}", wave=wave % 6, name=f"V{wave:02}_{q:02}",
                group_key=f"{CONSTANCES}:q-{q}:1",
                label=(("fr", " ".join(["tabac"] * repeats + ["mot"] * (6 - repeats))),),
                topics=("Tobacco",) if wave % 3 else ("Alcohol",)))
    # indexed out of name order, which is the browse order
    random.Random(5).shuffle(docs)
    return docs


@pytest.mark.parametrize("text", ["tabac", ""])
@pytest.mark.parametrize(("page", "page_size", "members"),
                         [(1, 1, 20), (2, 1, 20), (1, 3, 2), (3, 2, 7), (4, 2, 5), (1, 20, 20)])
def test_groups_hold_the_best_members_of_the_plain_ranking(
        empty_engine: SearchEngine, text: str, page: int, page_size: int,
        members: int) -> None:
    """Grouped results agree with the ungrouped ranking: groups in the order of their
    best match, each with its size and its first ``members`` matches in that ranking,
    whether a group's members come in one search with the page's other groups or, for
    the group of 110, in a search of their own."""
    docs = scattered_groups()
    publish(empty_engine, docs)
    group_of = {d.urn: d.group_key for d in docs}
    for filters in (Filters(), Filters(topic=("Tobacco",))):
        ranking: list[str] = []
        for number in (1, 2, 3, 4):  # the corpus holds 354 documents
            ranking += empty_engine.search(SearchQuery(text, filters=filters, page=number,
                                                       page_size=100)).urns()
        assert len(ranking) == len(set(ranking)) == empty_engine.search(
            SearchQuery(text, filters=filters)).total
        expected: dict[str, list[str]] = {}
        for urn in ranking:
            expected.setdefault(group_of[urn], []).append(urn)
        grouped = empty_engine.search(SearchQuery(text, filters=filters, group=True,
                                                  page=page, page_size=page_size,
                                                  members=members))
        keys = list(expected)[(page - 1) * page_size:page * page_size]
        assert grouped.total == len(expected)
        assert [g.group_key for g in grouped.groups] == keys
        for group in grouped.groups:
            assert group.size == len(expected[group.group_key])
            assert sorted(h.urn for h in group.hits) == sorted(
                expected[group.group_key][:members])
