"""Exports of an access request: JSON (stable shape), PDF (rendered to PNG and read
back), and the data requested as a DDI-L 3.3 FragmentInstance checked with the official
XSD."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pypdfium2
import pytest
from lxml import etree

from catalogue.accounts_model import User
from catalogue.basket import BasketKey, add_topic, add_variables
from catalogue.browse import Catalogue
from catalogue.casd import CasdInputs
from catalogue.errors import Forbidden
from catalogue.request_exports import (
    JSON_SCHEMA,
    as_ddi_33,
    data_requested_fragment_instance,
    fragment_problem,
    request_json,
    request_pdf,
)
from catalogue.requests import get_request, save_project, save_section, start_application
from catalogue.requests_model import (
    Commitments,
    Funding,
    ProjectFields,
    Protocol,
    RequestedVariable,
    TeamMember,
)
from catalogue.requests_workflow import add_comment, submit_project, transition
from ddi_schemas.registry import load_schema

#: ``make_user(store, email, *reviewer_of)``, the fixture of tests/catalogue/conftest.py
MakeUser = Callable[..., User]
SHARED = Path(__file__).resolve().parents[3] / "shared"
SCHEMAS = SHARED / "ddi-schemas"
C = "urn:ddi:fr.constances"
HEALTH_S1 = f"{C}:var-S1-SANTE_PERCUE_S1:1"
KINE_SNDS = f"{C}:var-SNDS-SNDS_KINE_A0:1"
#: TestCodedValue1 of the CLOSER test file (DDI-L 3.2), identified by URN only
CLOSER_CODED = "urn:ddi:uk.closer:510d602c-5af0-4637-b68f-18b767d05465"
TODAY = date(2025, 3, 1)
SCRIPT = "<script>alert('x')</script> & <b>bold</b>"
INS, R = "ddi:instance:3_3", "ddi:reusable:3_3"


FIELDS = ProjectFields(
    title="Self-rated health and drug dispensing",
    protocol=Protocol(objectives=SCRIPT, method="Longitudinal mixed models.",
                      expected_results="Effect sizes."),
    team=(TeamMember("Ana Martin", "principal investigator", "Inserm U1018",
                     "ana@example.org", principal_investigator=True),),
    funding=Funding(project="ANR grant", access_costs="Laboratory budget", industrial=False),
    commitments=Commitments(publish_results=True, destruction_report=True))
EXAMPLE_2020 = CasdInputs(users=2, months=12, options=("security_referent",
                                                       "automatic_exports"),
                          start=date(2020, 8, 1))


@dataclass(frozen=True)
class Submitted:
    applicant: User
    reviewer: User
    request_id: int


@pytest.fixture
def submitted(make_user: MakeUser, catalogue: Catalogue) -> Submitted:
    """A Constances request with 38 variables (36 CASD-only), reviewed a little."""
    applicant = make_user(catalogue.store, "ana@example.org")
    reviewer = make_user(catalogue.store, "rev@example.org", "constances")
    key = BasketKey.of_user(applicant.id)
    add_variables(catalogue, key, [HEALTH_S1, KINE_SNDS])
    add_topic(catalogue, key, f"{C}:su-SNDS", "urn:ddi:fr.cohortes:medication")
    project = start_application(catalogue, applicant, basket=key)
    save_project(catalogue, applicant, project.id, FIELDS)
    request = project.requests[0]
    save_section(catalogue, applicant, request.id, replace(
        request.section, charter_accepted=True, casd=EXAMPLE_2020,
        variables=tuple(RequestedVariable(v.urn, SCRIPT if v.urn == HEALTH_S1 else "")
                        for v in request.section.variables),
        group_justifications=((f"{C}:su-SNDS:1", "Drug dispensing as outcome."),)))
    submit_project(catalogue, applicant, project.id, today=TODAY)
    transition(catalogue, reviewer, request.id, "start_review")
    add_comment(catalogue, reviewer, request.id, "Internal note.", "internal")
    add_comment(catalogue, reviewer, request.id, "Which years of dispensing?")
    return Submitted(applicant, reviewer, request.id)


def test_the_json_export_has_a_stable_shape(make_user: MakeUser, catalogue: Catalogue,
                                            submitted: Submitted) -> None:
    data = request_json(catalogue, submitted.applicant, submitted.request_id, TODAY)
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "schema", "id", "project_id", "cohort", "cohort_label", "state", "revision",
        "created_at", "updated_at", "submitted_at", "decided_at", "applicant", "project",
        "data_requested", "charter_accepted", "casd", "history", "comments", "missing"}
    assert (data["schema"], data["cohort"], data["state"], data["revision"]) == (
        JSON_SCHEMA, "constances", "under_review", 1)
    assert data["applicant"] == {"id": submitted.applicant.id, "name": "ana",
                                 "email": "ana@example.org", "affiliation": "Inserm"}
    assert data["project"]["protocol"]["objectives"] == SCRIPT
    requested = data["data_requested"]
    assert (requested["variables"], requested["casd_only_variables"]) == (38, 37)
    assert [w["urn"] for w in requested["waves"]] == [f"{C}:su-S1:1", f"{C}:su-SNDS:1"]
    first = requested["waves"][0]["variables"][0]
    assert set(first) == {"urn", "agency", "id", "version", "name", "label", "access",
                          "question", "justification", "in_catalogue", "withdrawn",
                          "newer_version"}
    assert (first["urn"], first["version"], first["name"], first["label"]["en"],
            first["justification"], first["newer_version"]) == (
        HEALTH_S1, "1", "SANTE_PERCUE_S1", "Self-rated health", SCRIPT, None)
    assert requested["waves"][1]["justification"] == "Drug dispensing as outcome."
    assert data["casd"]["secure_workspace_required"] is True
    assert data["casd"]["inputs"] == EXAMPLE_2020.to_json()
    assert data["casd"]["estimate"]["total"] == "4740.00"
    assert [(h["action"], h["to"]) for h in data["history"]] == [
        ("submit", "submitted"), ("start_review", "under_review")]
    assert [c["text"] for c in data["comments"]] == ["Which years of dispensing?"]
    reviewer_view = request_json(catalogue, submitted.reviewer, submitted.request_id, TODAY)
    assert [c["visibility"] for c in reviewer_view["comments"]] == ["internal", "applicant"]
    stranger = make_user(catalogue.store, "eve@example.org")
    with pytest.raises(Forbidden):
        request_json(catalogue, stranger, submitted.request_id)


def _page_text(document: pypdfium2.PdfDocument) -> str:
    texts = []
    for index in range(len(document)):
        text_page = document[index].get_textpage()
        texts.append(text_page.get_text_range())
        text_page.close()
    return "\n".join(texts)


def test_the_pdf_is_paginated_readable_and_shows_script_as_text(
        catalogue: Catalogue, submitted: Submitted, tmp_path: Path) -> None:
    pdf = request_pdf(catalogue, submitted.reviewer, submitted.request_id, today=TODAY)
    assert pdf.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) >= 3
    for index in range(len(document)):
        image = document[index].render(scale=1).to_pil().convert("L")
        image.save(tmp_path / f"page-{index + 1}.png")
        histogram = image.histogram()
        dark = sum(histogram[:200])
        assert dark > 0.005 * image.width * image.height, f"page {index + 1} looks blank"
    text = _page_text(document).replace("\r\n", "\n")
    for expected in ("Self-rated health and drug dispensing", "Access request",
                     "SANTE_PERCUE_S1", "SNDS_KINE_A0", "anti-inflammatory", "Data requested",
                     "Drug dispensing as outcome.", "CASD secure workspace", "4,740.00",
                     "2,370.00", "12 months x 2 users x 30.00 = 720.00", "Internal note.",
                     "page 2"):
        assert expected in text, expected
    assert "<script>alert('x')</script> & <b>bold</b>" in text
    document.close()
    french = pypdfium2.PdfDocument(request_pdf(catalogue, submitted.applicant,
                                               submitted.request_id, lang="fr", today=TODAY))
    french_text = _page_text(french)
    assert "Données demandées" in french_text and "Bulle sécurisée du CASD" in french_text
    assert "Internal note." not in french_text  # the applicant never sees internal comments
    french.close()


def _validate(xml: bytes) -> etree._Element:
    schema = load_schema("3.3", SCHEMAS)
    tree = etree.fromstring(xml)
    assert schema.xsd.validate(tree), schema.xsd.error_log
    return tree


def test_the_data_requested_is_a_valid_self_contained_fragment_instance(
        catalogue: Catalogue, submitted: Submitted) -> None:
    export = data_requested_fragment_instance(catalogue, submitted.applicant,
                                              submitted.request_id, SCHEMAS)
    tree = _validate(export.xml)
    request = get_request(catalogue, submitted.applicant, submitted.request_id)
    assert export.variables == tuple(v.urn for v in request.section.variables)
    references = tree.findall(f"{{{INS}}}TopLevelReference")
    assert [f"urn:ddi:{r.findtext(f'{{{R}}}Agency')}:{r.findtext(f'{{{R}}}ID')}:"
            f"{r.findtext(f'{{{R}}}Version')}" for r in references] == list(export.variables)
    carried = {}
    for fragment in tree.findall(f"{{{INS}}}Fragment"):
        (item,) = list(fragment)
        urn = (f"urn:ddi:{item.findtext(f'{{{R}}}Agency')}:{item.findtext(f'{{{R}}}ID')}:"
               f"{item.findtext(f'{{{R}}}Version')}")
        carried[urn] = etree.QName(item).localname
    assert {*carried.values()} == {"Variable", "QuestionItem", "CodeList", "Category",
                                   "Concept", "Universe"}
    assert carried[f"{C}:cl-SANTE_PERCUE:1"] == "CodeList"
    assert carried[f"{C}:cat-SANTE_PERCUE-1:1"] == "Category"
    # self-contained: every reference points at an item of the document
    for reference in tree.iter(etree.Element):
        name = etree.QName(reference).localname
        if name.endswith("Reference") and name != "TopLevelReference":
            urn = (f"urn:ddi:{reference.findtext(f'{{{R}}}Agency')}:"
                   f"{reference.findtext(f'{{{R}}}ID')}:{reference.findtext(f'{{{R}}}Version')}")
            assert urn in carried, urn
    # each variable exactly as published
    store = catalogue.store
    for urn in export.variables:
        stored = store.get_item(urn)
        assert stored is not None
        published = store.item_xml(stored.pk)
        assert published is not None
        assert b"<ddi:Fragment>" + published.rstrip() + b"</ddi:Fragment>" in export.xml
    assert export.converted == () and export.omitted == ()


def test_variables_published_in_ddi_32_are_carried_into_33(make_user: MakeUser,
                                                           catalogue: Catalogue) -> None:
    applicant = make_user(catalogue.store, "ana@example.org")
    project = start_application(catalogue, applicant, urns=[CLOSER_CODED])
    (request,) = project.requests
    assert request.cohort == "uk.closer"  # no cohort structure: routed by agency
    export = data_requested_fragment_instance(catalogue, applicant, request.id, SCHEMAS)
    tree = _validate(export.xml)
    assert export.variables == (f"{CLOSER_CODED}:1",)
    assert export.converted == export.fragments == (f"{CLOSER_CODED}:1",)
    assert not any("3_2" in (etree.QName(e).namespace or "") for e in tree.iter()
                   if isinstance(e.tag, str))
    stored = catalogue.store.get_item(f"{CLOSER_CODED}:1")
    assert stored is not None
    published = catalogue.store.item_xml(stored.pk)
    assert published is not None and b"ddi:logicalproduct:3_2" in published
    assert as_ddi_33(published.rstrip()) in export.xml


def test_what_ddi_33_refuses_is_named(catalogue: Catalogue) -> None:
    schema = load_schema("3.3", SCHEMAS)
    bogus = as_ddi_33(b'<l:Variable xmlns:l="ddi:logicalproduct:3_2" '
                      b'xmlns:r="ddi:reusable:3_2"><r:Agency>a.b</r:Agency><r:ID>x</r:ID>'
                      b"<r:Version>1</r:Version><l:NoSuchElement/></l:Variable>")
    problem = fragment_problem(schema, bogus)
    assert problem is not None and "NoSuchElement" in problem
    stored = catalogue.store.get_item(f"{CLOSER_CODED}:1")
    assert stored is not None
    published = catalogue.store.item_xml(stored.pk)
    assert published is not None
    assert fragment_problem(schema, as_ddi_33(published.rstrip())) is None
