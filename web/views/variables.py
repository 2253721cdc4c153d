"""Variable pages (``/variables/{urn}``) and their DDI-L fragment (``/variables/{urn}.xml``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from starlette.requests import Request
from starlette.routing import BaseRoute

from catalogue.browse import variable_page
from web.resources import resources
from web.routing import Page, Resource
from web.templating import url_for
from web.views.common import (
    LANG_PARAM,
    URN_PARAM,
    CohortRefJSON,
    Crumb,
    LocatedJSON,
    RefJSON,
    Texts,
    cohort_ref_json,
    located_json,
    ref_json,
    texts,
    wave_crumbs,
    wave_rows,
    xml_route,
)
from web.views.questionnaires import (
    ResponseJSON,
    VariableInWaveJSON,
    response_json,
    variable_in_wave_json,
)


class QuestionRefJSON(TypedDict):
    urn: str
    name: str
    text: Texts
    url: str


class VariableJSON(TypedDict):
    variable: RefJSON
    description: Texts
    access: str
    source: str
    analysis_unit: str
    question: QuestionRefJSON | None
    representation: ResponseJSON
    universes: list[RefJSON]
    concepts: list[RefJSON]
    instruments: list[RefJSON]
    cohort: CohortRefJSON | None
    wave: RefJSON | None
    years: list[int]
    other_waves: list[VariableInWaveJSON]
    ddi_xml: str
    version: LocatedJSON


def variable(request: Request) -> Page:
    page = variable_page(resources(request).catalogue, request.path_params["urn"])
    context = page.context
    xml_url = url_for(request, "variable_xml", urn=request.path_params["urn"])

    def as_json() -> Mapping[str, object]:
        question = context.question
        body: VariableJSON = {
            "variable": ref_json(request, page.variable),
            "description": texts(page.variable.description), "access": context.access,
            "source": page.variable.source, "analysis_unit": page.variable.analysis_unit,
            "question": {"urn": question.urn, "name": question.name,
                         "text": texts(question.text),
                         "url": url_for(request, "question", urn=question.urn)}
            if question else None,
            "representation": response_json(page.response),
            "universes": [ref_json(request, u) for u in context.universes],
            "concepts": [ref_json(request, c) for c in context.concepts],
            "instruments": [ref_json(request, i) for i in context.instruments],
            "cohort": cohort_ref_json(request, context.cohort) if context.cohort else None,
            "wave": ref_json(request, context.wave.study) if context.wave else None,
            "years": list(context.wave.years) if context.wave else [],
            "other_waves": [variable_in_wave_json(request, v) for v in page.other_waves],
            "ddi_xml": xml_url, "version": located_json(page.located)}
        return body

    crumbs = wave_crumbs(request, context.cohort, context.wave) + [
        Crumb(page.variable.name or page.variable.identity.id)]
    return Page("variable.html", {"page": page, "context": context, "xml_url": xml_url,
                                  "crumbs": crumbs,
                                  "wave_rows": lambda: wave_rows(request, page.other_waves)},
                as_json)


def routes() -> list[BaseRoute]:
    return [xml_route("/variables/{urn:path}.xml", "variable_xml", ("Variable",))]


RESOURCES = (
    Resource("/variables/{urn}", "variable", variable,
             "A variable: labels, question, code list with missing codes, universe, concepts, "
             "wave, access level, versions and the same variable in other waves",
             VariableJSON, (LANG_PARAM,), URN_PARAM),
)
