"""Questionnaires (``/instruments/{urn}``: the questions in order, with routing) and
questions (``/questions/{urn}``: text, response domain, instructions, the variables it
feeds, the waves that ask it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from starlette.requests import Request
from starlette.routing import BaseRoute

from catalogue.browse import (
    ResponseDomain,
    VariableInWave,
    instrument_page,
    question_page,
)
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
    cohort_crumbs,
    cohort_ref_json,
    located_json,
    ref_json,
    texts,
    title_of,
    wave_crumbs,
    wave_rows,
    xml_route,
)


class CategoryJSON(TypedDict):
    value: str
    label: Texts
    missing: bool


class CodeListJSON(TypedDict):
    urn: str
    label: Texts
    categories: list[CategoryJSON]


class ResponseJSON(TypedDict):
    kind: str
    numeric_type: str
    minimum: str | None
    maximum: str | None
    max_length: int | None
    date_format: str
    unit: str
    missing_values: list[str]
    code_list: CodeListJSON | None


def response_json(response: ResponseDomain) -> ResponseJSON:
    rep = response.representation
    code_list: CodeListJSON | None = None
    if response.code_list is not None:
        code_list = {"urn": response.code_list.urn, "label": texts(response.code_list.label),
                     "categories": [{"value": c.value, "label": texts(c.label),
                                     "missing": c.is_missing or c.value in rep.missing_values}
                                    for c in response.categories]}
    return {"kind": rep.kind, "numeric_type": rep.numeric_type, "minimum": rep.minimum,
            "maximum": rep.maximum, "max_length": rep.max_length,
            "date_format": rep.date_format, "unit": rep.unit,
            "missing_values": list(rep.missing_values), "code_list": code_list}


class VariableInWaveJSON(TypedDict):
    variable: RefJSON
    wave: RefJSON | None
    years: list[int]
    cohort: CohortRefJSON | None


def variable_in_wave_json(request: Request, found: VariableInWave) -> VariableInWaveJSON:
    return {"variable": ref_json(request, found.variable),
            "wave": ref_json(request, found.wave.study) if found.wave else None,
            "years": list(found.wave.years) if found.wave else [],
            "cohort": cohort_ref_json(request, found.cohort) if found.cohort else None}


class FlowStepJSON(TypedDict):
    depth: int
    type: str
    name: str
    condition: str
    branch: str
    text: Texts
    question: RefJSON | None
    question_text: Texts


class InstrumentJSON(TypedDict):
    instrument: RefJSON
    description: Texts
    wave: RefJSON | None
    cohort: CohortRefJSON | None
    questions: int
    flow: list[FlowStepJSON]
    version: LocatedJSON


def instrument(request: Request) -> Page:
    page = instrument_page(resources(request).catalogue, request.path_params["urn"])

    def as_json() -> Mapping[str, object]:
        body: InstrumentJSON = {
            "instrument": ref_json(request, page.instrument),
            "description": texts(page.instrument.description),
            "wave": ref_json(request, page.wave.study) if page.wave else None,
            "cohort": cohort_ref_json(request, page.cohort) if page.cohort else None,
            "questions": page.question_count,
            "flow": [{"depth": s.depth, "type": s.construct.construct_type,
                      "name": s.construct.name, "condition": s.condition,
                      "branch": s.branch, "text": texts(s.construct.text),
                      "question": ref_json(request, s.question) if s.question else None,
                      "question_text": texts(s.question.text) if s.question else {}}
                     for s in page.steps],
            "version": located_json(page.located)}
        return body

    crumbs = wave_crumbs(request, page.cohort, page.wave) + [
        Crumb(title_of(page.instrument))]
    return Page("instrument.html", {"page": page, "crumbs": crumbs}, as_json)


class AskedInJSON(TypedDict):
    instrument: RefJSON
    wave: RefJSON | None
    years: list[int]


class QuestionJSON(TypedDict):
    question: RefJSON
    text: Texts
    description: Texts
    instructions: list[Texts]
    responses: list[ResponseJSON]
    concepts: list[RefJSON]
    variables: list[VariableInWaveJSON]
    asked_in: list[AskedInJSON]
    cohort: CohortRefJSON | None
    version: LocatedJSON


def question(request: Request) -> Page:
    page = question_page(resources(request).catalogue, request.path_params["urn"])

    def as_json() -> Mapping[str, object]:
        body: QuestionJSON = {
            "question": ref_json(request, page.question), "text": texts(page.question.text),
            "description": texts(page.question.description),
            "instructions": [texts(i) for i in page.instructions],
            "responses": [response_json(r) for r in page.responses],
            "concepts": [ref_json(request, c) for c in page.concepts],
            "variables": [variable_in_wave_json(request, v) for v in page.variables],
            "asked_in": [{"instrument": ref_json(request, a.instrument),
                          "wave": ref_json(request, a.wave.study) if a.wave else None,
                          "years": list(a.wave.years) if a.wave else []}
                         for a in page.asked_in],
            "cohort": cohort_ref_json(request, page.cohort) if page.cohort else None,
            "version": located_json(page.located)}
        return body

    crumbs = cohort_crumbs(request, page.cohort) + [
        Crumb(page.question.name or page.question.identity.id)]
    return Page("question.html", {"page": page, "crumbs": crumbs,
                                  "wave_rows": lambda: wave_rows(request, page.variables),
                                  "xml_url": url_for(request, "question_xml",
                                                     urn=request.path_params["urn"])},
                as_json)


RESOURCES = (
    Resource("/instruments/{urn}", "instrument", instrument,
             "A questionnaire: its questions in order, with routing conditions",
             InstrumentJSON, (LANG_PARAM,), URN_PARAM),
    Resource("/questions/{urn}", "question", question,
             "A question: text, response domain, instructions, variables, waves asking it",
             QuestionJSON, (LANG_PARAM,), URN_PARAM),
)


def routes() -> list[BaseRoute]:
    return [xml_route("/questions/{urn:path}.xml", "question_xml", ("Question",)),
            xml_route("/instruments/{urn:path}.xml", "instrument_xml", ("Instrument",))]
