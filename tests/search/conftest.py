"""A small bilingual corpus and one engine fixture per engine; the bundled cohorts.

The corpus is synthetic (two cohorts, a tobacco question asked in six waves, a few
other variables, questions and studies) so that every expectation can be read here.
``bundled_catalogue`` is a data directory holding the four bundled cohorts, published
once per session, for the relevance set and the documents built from the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalogue.publishing import publish_paths
from catalogue.settings import Settings
from catalogue.store import Store
from cohorts import bundled_files
from search.documents import SearchDocument
from search.engine import ENGINE_NAMES, SearchEngine, open_engine

CONSTANCES = "urn:ddi:fr.inserm.constances"
ELFE = "urn:ddi:fr.ined.elfe"
TOBACCO_QUESTION = f"{CONSTANCES}:q-tabac:1"
WAVES = [(f"{CONSTANCES}:wave-{year}:1", f"Suivi {year}", year)
         for year in (2012, 2013, 2014, 2015, 2016, 2017)]
TOBACCO = dict(
    label=(("fr", "Consommation de tabac"), ("en", "Tobacco consumption")),
    question_text=(("fr", "Fumez-vous actuellement ?"), ("en", "Do you currently smoke?")),
    concept_labels=(("fr", "Tabagisme"), ("en", "Smoking")),
    category_labels=(("fr", "Oui"), ("en", "Yes"), ("fr", "Non"), ("en", "No")),
    topics=("Tobacco",),
    instruments=("Questionnaire annuel",),
    response_type="code",
)


def tobacco_urns() -> list[str]:
    return [f"{CONSTANCES}:v-tabac-{i}:1" for i in range(1, 7)]


def constances(urn_id: str, publication_id: int = 1, wave: int = 0, version: str = "1",
               **fields: object) -> SearchDocument:
    wave_urn, wave_label, year = WAVES[wave]
    values: dict[str, object] = dict(
        cohort="constances", cohort_label="Constances", wave=wave_label, wave_urn=wave_urn,
        years=(year,), access="open", instruments=("Questionnaire annuel",))
    values.update(fields)
    return SearchDocument(urn=f"{CONSTANCES}:{urn_id}:{version}", publication_id=publication_id,
                          kind=values.pop("kind", "variable"), **values)  # type: ignore[arg-type]


def corpus() -> list[SearchDocument]:
    docs = [
        constances(f"v-tabac-{i}", wave=i - 1, name=f"TABAC_V{i}", group_key=TOBACCO_QUESTION,
                   **TOBACCO)
        for i in range(1, 7)
    ]
    docs += [
        constances("q-tabac", kind="question", name="Q_TABAC", group_key=TOBACCO_QUESTION,
                   question_text=TOBACCO["question_text"], concept_labels=TOBACCO["concept_labels"],
                   topics=("Tobacco",), response_type="code"),
        constances("v-bmi-1", name="BMI_V1", wave=0, response_type="numeric",
                   label=(("fr", "Indice de masse corporelle"), ("en", "Body mass index")),
                   concept_labels=(("fr", "Anthropométrie"), ("en", "Anthropometry")),
                   topics=("Anthropometry",), instruments=("Examen de santé",)),
        constances("v-bmi-2", name="BMI_V2", wave=3, response_type="numeric",
                   label=(("fr", "Indice de masse corporelle"), ("en", "Body mass index")),
                   concept_labels=(("fr", "Anthropométrie"), ("en", "Anthropometry")),
                   topics=("Anthropometry",), instruments=("Examen de santé",)),
        constances("v-taille", name="TOUR_TAILLE", wave=0, response_type="numeric",
                   label=(("fr", "Tour de taille (cm)"), ("en", "Waist circumference (cm)")),
                   concept_labels=(("fr", "Anthropométrie"), ("en", "Anthropometry")),
                   topics=("Anthropometry",), instruments=("Examen de santé",)),
        constances("v-alcool", name="ALCOOL_12M", wave=1, response_type="code",
                   label=(("fr", "Consommation d'alcool au cours des 12 derniers mois"),
                          ("en", "Alcohol consumption in the past 12 months")),
                   concept_labels=(("fr", "Alcool"), ("en", "Alcohol")),
                   category_labels=(("fr", "Jamais"), ("en", "Never"),
                                    ("fr", "Tous les jours"), ("en", "Every day")),
                   topics=("Alcohol",)),
        constances("v-passif", name="EXPO_PASSIVE", wave=2, response_type="code",
                   label=(("fr", "Exposition passive à la fumée"),
                          ("en", "Second-hand smoke exposure")),
                   description=(("fr", "Exposition à la fumée du tabac des autres au domicile"),),
                   concept_labels=(("fr", "Environnement"), ("en", "Environment")),
                   topics=("Environment",)),
        constances("v-activite", name="ACTIV_PHYS", wave=2, response_type="code",
                   label=(("fr", "Activité physique de loisir"),
                          ("en", "Leisure physical activity")),
                   concept_labels=(("fr", "Activité physique"), ("en", "Physical activity")),
                   topics=("Physical activity",)),
        constances("v-sejours", name="SNDS_SEJOURS", wave=5, response_type="numeric",
                   access="casd", instruments=("SNDS",),
                   label=(("fr", "Nombre de séjours hospitaliers"),
                          ("en", "Number of hospital stays")),
                   description=(("fr", "Issu du Système national des données de santé (SNDS)"),),
                   topics=("Health care use",)),
        constances("study", kind="study", name="CONSTANCES", wave=0,
                   label=(("fr", "Constances"), ("en", "Constances")),
                   description=(("fr", "Cohorte en population générale de plus de 200 000 "
                                       "volontaires : <b>illustratif</b>"),
                                ("en", "Population-based cohort of more than 200,000 "
                                       "volunteers")),
                   response_type=""),
        SearchDocument(urn=f"{ELFE}:v-allait:1", kind="variable", publication_id=2,
                       name="ALLAIT_2M", cohort="elfe", cohort_label="Elfe",
                       wave="Enquête 2 mois", wave_urn=f"{ELFE}:wave-2m:1", years=(2011,),
                       label=(("fr", "Allaitement maternel à 2 mois"),
                              ("en", "Breastfeeding at 2 months")),
                       concept_labels=(("fr", "Alimentation du nourrisson"),
                                       ("en", "Infant feeding")),
                       topics=("Diet",), instruments=("Entretien téléphonique",),
                       response_type="code", access="open"),
        SearchDocument(urn=f"{ELFE}:v-tabac-mere:1", kind="variable", publication_id=2,
                       name="TABAC_MERE", cohort="elfe", cohort_label="Elfe",
                       wave="Enquête maternité", wave_urn=f"{ELFE}:wave-mat:1", years=(2011,),
                       label=(("fr", "Tabagisme de la mère pendant la grossesse"),
                              ("en", "Maternal smoking during pregnancy")),
                       concept_labels=(("fr", "Tabagisme"), ("en", "Smoking")),
                       topics=("Tobacco",), instruments=("Entretien maternité",),
                       response_type="code", access="casd"),
    ]
    return docs


def publish(engine: SearchEngine, documents: list[SearchDocument]) -> None:
    for publication_id in sorted({d.publication_id for d in documents}):
        engine.replace_publication(publication_id,
                                   [d for d in documents if d.publication_id == publication_id])


@pytest.fixture
def documents() -> list[SearchDocument]:
    return corpus()


@pytest.fixture
def by_name() -> dict[str, SearchDocument]:
    return {d.name: d for d in corpus()}


@pytest.fixture
def tobacco() -> list[str]:
    """URNs of the six tobacco variables (one per wave)."""
    return tobacco_urns()


@pytest.fixture(params=ENGINE_NAMES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_engine(engine_name: str, tmp_path: Path) -> Iterator[SearchEngine]:
    with open_engine(engine_name, tmp_path / engine_name, lock_timeout=5) as engine:
        yield engine


@pytest.fixture
def engine(empty_engine: SearchEngine) -> SearchEngine:
    publish(empty_engine, corpus())
    return empty_engine


@pytest.fixture(scope="session")
def bundled_catalogue(tmp_path_factory: pytest.TempPathFactory, schema_dir: Path) -> Settings:
    """Settings of a data directory holding the four bundled cohorts and their topics
    (published, not indexed). Treat it as read-only."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("bundled") / "data",
                        ddi_schemas=schema_dir)
    store = Store(settings.store_url)
    try:
        publish_paths(bundled_files(), store, schema_dir)
    finally:
        store.close()
    return settings
