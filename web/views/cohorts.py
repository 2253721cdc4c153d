"""Cohort pages (``/cohorts/{slug}``) and wave pages (``/waves/{urn}``, the URN of a
StudyUnit or of a DataCollection)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from starlette.requests import Request

from catalogue.browse import cohort_page, wave_page
from search.query import Filters
from web.resources import resources
from web.routing import Page, Resource
from web.templating import url_for, with_query
from web.views.common import (
    LANG_PARAM,
    URN_PARAM,
    CohortRefJSON,
    Crumb,
    DatesJSON,
    LocatedJSON,
    RefJSON,
    Texts,
    WaveJSON,
    cohort_crumbs,
    cohort_ref_json,
    dates_json,
    located_json,
    ref_json,
    texts,
    title_of,
    wave_json,
)
from web.views.home import (
    Figures,
    TopicCountJSON,
    YearsJSON,
    cohort_figures,
    facet_counts,
    topic_counts,
    topic_json,
)


class FundingJSON(TypedDict):
    agency: str
    grant: str
    description: Texts


class CoverageJSON(TypedDict):
    dates: DatesJSON
    spatial: Texts
    subjects: list[Texts]
    keywords: list[Texts]


class CohortJSON(TypedDict):
    slug: str
    urn: str
    title: Texts
    alternate_title: Texts
    abstract: Texts
    purpose: Texts
    participants: int | None
    years: YearsJSON
    coverage: CoverageJSON
    funding: list[FundingJSON]
    analysis_units: list[str]
    kind_of_data: list[str]
    waves: list[WaveJSON]
    instruments: list[RefJSON]
    topics: list[TopicCountJSON]
    variables: int
    questions: int
    search: str
    version: LocatedJSON


def cohort(request: Request) -> Page:
    res = resources(request)
    slug = request.path_params["slug"]
    page = cohort_page(res.catalogue, slug)
    figures, topics = res.cached(("cohort-figures", slug), lambda: (
        cohort_figures(res, [slug]).get(slug, Figures()),
        topic_counts(res, Filters(kind=("variable",), cohort=(slug,)))))
    search_url = with_query(url_for(request, "search"), [("cohort", slug)])
    study = page.study

    def as_json() -> Mapping[str, object]:
        coverage = study.coverage
        body: CohortJSON = {
            "slug": slug, "urn": study.urn, "title": texts(title_of(study)),
            "alternate_title": texts(study.alternate_title), "abstract": texts(study.abstract),
            "purpose": texts(study.purpose), "participants": page.summary.participants,
            "years": {"first": page.summary.first_year, "last": page.summary.last_year},
            "coverage": {"dates": dates_json(coverage.temporal),
                         "spatial": texts(coverage.spatial),
                         "subjects": [texts(s) for s in coverage.subjects],
                         "keywords": [texts(k) for k in coverage.keywords]},
            "funding": [{"agency": f.agency, "grant": f.grant_number,
                         "description": texts(f.description)} for f in study.funding],
            "analysis_units": list(study.analysis_units),
            "kind_of_data": list(study.kind_of_data),
            "waves": [wave_json(request, w) for w in page.cohort.waves],
            "instruments": [ref_json(request, i) for i in page.instruments],
            "topics": [topic_json(request, t) for t in topics],
            "variables": figures.variables, "questions": figures.questions,
            "search": search_url, "version": located_json(page.located)}
        return body

    crumbs = cohort_crumbs(request, None) + [Crumb(title_of(study))]
    base = url_for(request, "search")
    return Page("cohort.html", {
        "page": page, "figures": figures, "topics": topics, "search_url": search_url,
        "variables_url": with_query(base, [("cohort", slug), ("kind", "variable")]),
        "questions_url": with_query(base, [("cohort", slug), ("kind", "question")]),
        "crumbs": crumbs}, as_json)


class DataCollectionJSON(TypedDict):
    urn: str
    label: Texts
    dates: DatesJSON
    modes: list[Texts]


class WavePageJSON(TypedDict):
    wave: WaveJSON
    cohort: CohortRefJSON | None
    requested: str
    data_collections: list[DataCollectionJSON]
    datasets: list[RefJSON]
    variables: int
    search: str
    previous: str | None
    next: str | None
    version: LocatedJSON


def wave(request: Request) -> Page:
    res = resources(request)
    page = wave_page(res.catalogue, request.path_params["urn"])
    wave_urn = page.wave.study.identity.unversioned_urn
    cohort_slugs = (page.cohort.slug,) if page.cohort else ()
    counts = res.cached(("wave-counts", *cohort_slugs), lambda: facet_counts(
        res, "wave", Filters(kind=("variable",), cohort=cohort_slugs)))
    variables = counts.get(wave_urn, 0)
    search_url = with_query(url_for(request, "search"), [("wave", wave_urn)])

    def as_json() -> Mapping[str, object]:
        body: WavePageJSON = {
            "wave": wave_json(request, page.wave),
            "cohort": cohort_ref_json(request, page.cohort) if page.cohort else None,
            "requested": page.collection.urn if page.collection else page.wave.study.urn,
            "data_collections": [{"urn": dc.urn, "label": texts(dc.label),
                                  "dates": dates_json(dc.dates),
                                  "modes": [texts(m) for e in dc.events for m in e.modes]}
                                 for dc in page.wave.data_collections],
            "datasets": [ref_json(request, d) for d in page.datasets],
            "variables": variables, "search": search_url,
            "previous": url_for(request, "wave", urn=page.previous.study.urn)
            if page.previous else None,
            "next": url_for(request, "wave", urn=page.next.study.urn) if page.next else None,
            "version": located_json(page.located)}
        return body

    crumbs = cohort_crumbs(request, page.cohort) + [Crumb(title_of(page.wave.study))]
    return Page("wave.html", {"page": page, "variables": variables, "search_url": search_url,
                              "crumbs": crumbs}, as_json)


RESOURCES = (
    Resource("/cohorts/{slug}", "cohort", cohort,
             "A cohort: description, coverage, waves, instruments, topics and counts",
             CohortJSON, (LANG_PARAM,), {"slug": "The cohort's short name, as on the home page"}),
    Resource("/waves/{urn}", "wave", wave,
             "A wave (StudyUnit) or one of its data collections: dates, modes, instruments",
             WavePageJSON, (LANG_PARAM,), URN_PARAM),
)
