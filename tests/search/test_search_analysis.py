"""Bilingual analysis: stemming, accents, stop words, names, URNs, prefixes, phrases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from search.documents import SearchDocument
from search.engine import SearchEngine
from search.query import SearchQuery


def found(engine: SearchEngine, text: str) -> list[str]:
    return engine.search(SearchQuery(text, page_size=100, facets=())).urns()


def names(engine: SearchEngine, text: str) -> list[str]:
    results = engine.search(SearchQuery(text, page_size=100, facets=()))
    return [hit.name for hit in results.hits]


@pytest.mark.parametrize("text", ["tabagisme", "tabac", "Tabac", "TABAC", "smoking",
                                  "Smoking", "smoke", "Tabagisme"])
def test_every_tobacco_word_finds_the_tobacco_variables(engine: SearchEngine, text: str,
                                                       tobacco: list[str]) -> None:
    assert set(tobacco) <= set(found(engine, text))


def test_concept_labels_let_an_english_word_find_a_french_only_variable(
        engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    cigarettes = replace(by_name["TABAC_V1"], urn="urn:ddi:fr.test:cig:1", name="NB_CIG",
                         publication_id=9, group_key="",
                         label=(("fr", "Nombre de cigarettes par jour"),), question_text=())
    engine.replace_publication(9, [cigarettes])
    assert "NB_CIG" in names(engine, "smoking")
    assert "NB_CIG" in names(engine, "tabagisme")


@pytest.mark.parametrize("text", ["activite", "ACTIVITÉ", "Activité", "activités",
                                  "physical activities"])
def test_accents_case_and_plurals_do_not_matter(engine: SearchEngine, text: str) -> None:
    assert "ACTIV_PHYS" in names(engine, text)


@pytest.mark.parametrize("text", ["anthropometrie", "Anthropométrie", "anthropometry"])
def test_concept_words_find_every_variable_of_the_concept(engine: SearchEngine,
                                                         text: str) -> None:
    assert {"BMI_V1", "BMI_V2", "TOUR_TAILLE"} <= set(names(engine, text))


def test_stemming_matches_other_forms_of_a_word(engine: SearchEngine) -> None:
    assert "TABAC_V1" in names(engine, "consommations")  # French plural
    assert "EXPO_PASSIVE" in names(engine, "exposures")  # English plural
    assert "SNDS_SEJOURS" in names(engine, "séjour")


def test_stop_words_rank_but_do_not_filter(engine: SearchEngine, tobacco: list[str]) -> None:
    assert set(tobacco) <= set(found(engine, "consommation de tabac"))
    assert set(tobacco) <= set(found(engine, "the tobacco consumption"))


def test_a_query_of_stop_words_only_still_searches(engine: SearchEngine) -> None:
    assert names(engine, "de la") == ["TABAC_MERE"]


@pytest.mark.parametrize("text", ["BMI_V1", "bmi_v1", "Bmi_V1"])
def test_exact_variable_names_are_found_as_typed(engine: SearchEngine, text: str) -> None:
    assert names(engine, text) == ["BMI_V1"]


def test_an_exact_name_ranks_first(engine: SearchEngine) -> None:
    assert names(engine, "TABAC_V3")[0] == "TABAC_V3"


def test_an_exact_name_outranks_longer_names_holding_its_words(
        engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    # A question named TABAC_STATUT, and the variables of its waves named after it, whose
    # labels and question text hold the name's two words too.
    asked = (("fr", "Fumez-vous ou avez-vous déjà fumé du tabac ?"),
             ("en", "Do you smoke, or have you ever smoked, tobacco?"))
    question = replace(by_name["Q_TABAC"], urn="urn:ddi:fr.test:q-statut:1", publication_id=3,
                       name="TABAC_STATUT", question_text=asked)
    waves = [replace(by_name[f"TABAC_V{i}"], urn=f"urn:ddi:fr.test:v-statut-{i}:1",
                     publication_id=3, name=f"TABAC_STATUT_{i}", question_text=asked,
                     label=(("fr", "Statut tabagique"), ("en", "Smoking status")))
             for i in range(1, 7)]
    engine.replace_publication(3, [question, *waves])
    assert names(engine, "TABAC_STATUT")[0] == "TABAC_STATUT"
    assert names(engine, "tabac_statut_4")[0] == "TABAC_STATUT_4"


def test_part_of_a_name_finds_every_variable_sharing_it(engine: SearchEngine) -> None:
    assert set(names(engine, "bmi")) == {"BMI_V1", "BMI_V2"}


@pytest.mark.parametrize("text", ["urn:ddi:fr.inserm.constances:v-bmi-1:1",
                                  "URN:DDI:FR.INSERM.CONSTANCES:V-BMI-1:1",
                                  "urn:ddi:fr.inserm.constances:v-bmi-1"])
def test_urns_are_found_as_typed_with_or_without_version(engine: SearchEngine,
                                                         text: str) -> None:
    assert names(engine, text) == ["BMI_V1"]


def test_an_unknown_urn_finds_nothing(engine: SearchEngine) -> None:
    assert names(engine, "urn:ddi:fr.inserm.constances:v-bmi-1:2") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("tabag*", {"TABAC_MERE", "TABAC_V1", "Q_TABAC"}),
    ("BMI*", {"BMI_V1", "BMI_V2"}),
    ("bmi_v*", {"BMI_V1", "BMI_V2"}),
    ("anthropom*", {"BMI_V1", "BMI_V2", "TOUR_TAILLE"}),
    ("séj*", {"SNDS_SEJOURS"}),
    ("tour de tai*", {"TOUR_TAILLE"}),
])
def test_prefixes_match_unstemmed_words_and_names(engine: SearchEngine, text: str,
                                                  expected: set[str]) -> None:
    assert expected <= set(names(engine, text))


def test_prefix_does_not_match_the_middle_of_words(engine: SearchEngine) -> None:
    assert names(engine, "agisme*") == []


def test_prefix_matches_are_ranked_like_words(empty_engine: SearchEngine,
                                              by_name: dict[str, SearchDocument]) -> None:
    def labelled(name: str, label: str) -> SearchDocument:
        return replace(by_name["BMI_V1"], urn=f"urn:ddi:fr.test:{name.lower()}:1", name=name,
                       label=(("fr", label),), concept_labels=(), topics=())

    empty_engine.replace_publication(1, [
        labelled("HTA_VISITE", "Hypertension artérielle déclarée à la visite médicale annuelle "
                               "du travail, quand le médecin la note"),
        labelled("HTA", "Hypertension"),
        labelled("HTA_TRAITEE", "Hypertension traitée"),
    ])
    assert names(empty_engine, "hypertens*") == ["HTA", "HTA_TRAITEE", "HTA_VISITE"]
    assert names(empty_engine, "hypertension") == ["HTA", "HTA_TRAITEE", "HTA_VISITE"]


def test_quoted_phrases_match_words_in_order(engine: SearchEngine) -> None:
    assert names(engine, '"tour de taille"') == ["TOUR_TAILLE"]
    assert names(engine, '"Tour de Taille"') == ["TOUR_TAILLE"]
    assert names(engine, '"waist circumference"') == ["TOUR_TAILLE"]
    assert names(engine, '"taille de tour"') == []


def test_a_quoted_word_is_matched_unstemmed(engine: SearchEngine) -> None:
    assert "ACTIV_PHYS" in names(engine, "activities")
    assert names(engine, '"activities"') == []


def test_or_offers_alternatives_and_minus_excludes(engine: SearchEngine) -> None:
    either = set(names(engine, "allaitement OR alcool"))
    assert either == {"ALLAIT_2M", "ALCOOL_12M"}
    assert "EXPO_PASSIVE" in names(engine, "tabac")
    assert "EXPO_PASSIVE" not in names(engine, "tabac -exposition")
    assert "EXPO_PASSIVE" not in names(engine, "tabac NOT exposition")


def test_every_word_must_match_somewhere(engine: SearchEngine) -> None:
    assert set(names(engine, "tabac grossesse")) == {"TABAC_MERE"}
    assert names(engine, "tabac elfe") == ["TABAC_MERE"]  # cohort label is indexed


def test_when_nothing_holds_every_word_results_miss_one(
        empty_engine: SearchEngine, by_name: dict[str, SearchDocument]) -> None:
    def labelled(name: str, label: str) -> SearchDocument:
        return replace(by_name["BMI_V1"], urn=f"urn:ddi:fr.test:{name.lower()}:1", name=name,
                       label=(("en", label),), concept_labels=(), topics=())

    every_word = labelled("CIG_SMOKED", "Number of cigarettes smoked per day")
    others = [labelled("CIG_DAY", "Cigarettes per day"),
              labelled("HOSP_DAYS", "Number of days in hospital"),
              labelled("CIG_EVER", "Ever smoked cigarettes")]
    empty_engine.replace_publication(1, [every_word, *others])
    strict = empty_engine.search(SearchQuery("number of cigarettes per day"))
    assert ([h.name for h in strict.hits], strict.warnings) == (["CIG_SMOKED"], ())

    empty_engine.replace_publication(1, others)
    relaxed = empty_engine.search(SearchQuery("number of cigarettes per day"))
    assert [h.name for h in relaxed.hits] == ["CIG_DAY", "HOSP_DAYS"]
    assert relaxed.warnings == ("no result holds every word: these hold all of them but one",)
    assert relaxed.counts("cohort") == {"constances": 2}
    # Two words are both needed: one alone would match far too loosely.
    assert empty_engine.search(SearchQuery("cigarettes yesterday")).total == 0
