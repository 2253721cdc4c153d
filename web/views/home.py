"""The home page: the cohorts with their key figures, the topics, a search box."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from starlette.requests import Request

from catalogue.browse import CohortSummary, cohort_summaries
from catalogue.model import Concept
from search.query import Filters, SearchQuery
from web.resources import Resources, resources
from web.routing import Page, Resource
from web.templating import url_for
from web.views.common import Texts, texts, title_of


@dataclass(frozen=True, slots=True)
class Figures:
    """How much of a cohort is searchable (from the index's facet counts)."""

    variables: int = 0
    questions: int = 0
    topics: int = 0


@dataclass(frozen=True, slots=True)
class CohortCard:
    summary: CohortSummary
    figures: Figures


@dataclass(frozen=True, slots=True)
class TopicCount:
    """A topic (a concept of the shared topics) and how many variables it has."""

    id: str
    concept: Concept | None
    variables: int


def facet_counts(res: Resources, facet: str, filters: Filters) -> dict[str, int]:
    """``{value: count}`` of one facet over the documents matching ``filters``."""
    results = res.search(SearchQuery(filters=filters, page_size=1, facets=(facet,),
                                     highlight=False, facet_limit=10_000))
    return results.counts(facet)


def cohort_figures(res: Resources, slugs: list[str]) -> dict[str, Figures]:
    variables = facet_counts(res, "cohort", Filters(kind=("variable",)))
    questions = facet_counts(res, "cohort", Filters(kind=("question",)))
    out = {}
    for slug in slugs:
        topics = facet_counts(res, "topic", Filters(cohort=(slug,))) if slug in variables or \
            slug in questions else {}
        out[slug] = Figures(variables.get(slug, 0), questions.get(slug, 0), len(topics))
    return out


VARIABLES = Filters(kind=("variable",))


def topic_counts(res: Resources, filters: Filters = VARIABLES) -> list[TopicCount]:
    state = res.catalogue.state
    counts = facet_counts(res, "topic", filters)
    found = [TopicCount(topic_id, state.topic(topic_id), count)
             for topic_id, count in counts.items()]
    return sorted(found, key=lambda t: (-t.variables, t.id))


def home_cards(res: Resources) -> list[CohortCard]:
    summaries = cohort_summaries(res.catalogue)
    figures = cohort_figures(res, [s.cohort.slug for s in summaries])
    return [CohortCard(s, figures.get(s.cohort.slug, Figures())) for s in summaries]


class YearsJSON(TypedDict):
    first: int | None
    last: int | None


class CohortCardJSON(TypedDict):
    slug: str
    urn: str
    title: Texts
    abstract: Texts
    participants: int | None
    waves: int
    years: YearsJSON
    variables: int
    questions: int
    topics: int
    url: str
    json: str


class TopicCountJSON(TypedDict):
    id: str
    urn: str | None
    label: Texts
    variables: int
    url: str | None


class HomeJSON(TypedDict):
    cohorts: list[CohortCardJSON]
    topics: list[TopicCountJSON]
    search: str


def card_json(request: Request, card: CohortCard) -> CohortCardJSON:
    summary = card.summary
    study = summary.cohort.study
    slug = summary.cohort.slug
    return {"slug": slug, "urn": study.urn, "title": texts(title_of(study)),
            "abstract": texts(study.abstract), "participants": summary.participants,
            "waves": summary.waves,
            "years": {"first": summary.first_year, "last": summary.last_year},
            "variables": card.figures.variables, "questions": card.figures.questions,
            "topics": card.figures.topics, "url": url_for(request, "cohort", slug=slug),
            "json": url_for(request, "cohort_json", slug=slug)}


def topic_json(request: Request, topic: TopicCount) -> TopicCountJSON:
    concept = topic.concept
    return {"id": topic.id, "urn": concept.urn if concept else None,
            "label": texts(concept.label) if concept else {"": topic.id},
            "variables": topic.variables,
            "url": url_for(request, "concept", urn=concept.urn) if concept else None}


def home(request: Request) -> Page:
    res = resources(request)
    cards, topics = res.cached(("home",), lambda: (home_cards(res), topic_counts(res)))

    def as_json() -> Mapping[str, object]:
        body: HomeJSON = {"cohorts": [card_json(request, c) for c in cards],
                          "topics": [topic_json(request, t) for t in topics],
                          "search": url_for(request, "search")}
        return body

    return Page("home.html", {"cards": cards, "topics": topics, "crumbs": []}, as_json)


RESOURCES = (
    Resource("/", "home", home, "The cohorts with their key figures, and the topics",
             HomeJSON),
)
