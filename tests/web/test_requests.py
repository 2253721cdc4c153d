"""Access requests over HTTP: the application pre-filled from the basket, saved at every
step, submission refused field by field (errors next to the fields) then accepted as one
request per cohort; the CASD estimate in the form; the review cycle (start, request
changes with a reason, amend, resubmit, approve) with its history and comments; the
downloads (PDF in both languages, JSON, DDI-L)."""

from __future__ import annotations

import io
from typing import Any

import pypdfium2
import pytest
from lxml import etree
from requests_support import (
    ANA,
    CLIENT,
    ELFE_REVIEWER,
    GAZEL_REVIEWER,
    KINE,
    SMOKE_V1,
    SMOKE_V2,
    WEIGHT,
    Site,
    Visitor,
    complete,
    form_fields,
    main_text,
    page,
    start_application,
    submitted_requests,
    text_of,
)
from requests_support import accounts_site as accounts_site  # noqa: F401 - fixture
from requests_support import anyio_backend as anyio_backend  # noqa: F401 - fixture
from requests_support import visitors as visitors  # noqa: F401 - fixture

from catalogue.accounts_model import AuditFilter

pytestmark = pytest.mark.anyio
GAZEL_PREFIX = "requests.gazel"


def _errors(doc: Any) -> dict[str, str]:
    """Field name -> its error, as shown next to the field (and linked to it)."""
    found = {}
    for error in doc.xpath("//main//p[@class='field-error']"):
        name = error.get("id").removesuffix("-error")
        found[name] = text_of(error).removeprefix("Error: ")
    return found


async def test_the_application_is_pre_filled_saved_and_submitted(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    project = await start_application(ana, KINE, WEIGHT)
    form = await ana.get(f"/applications/{project}")
    doc = page(form)
    # pre-filled from the basket, by cohort and wave, with name, label, URN and version
    cohorts = [text_of(legend) for legend in doc.xpath("//fieldset[@class='cohort']/legend")]
    assert cohorts == ["Elfe 1 variable", "GAZEL 1 variable"]
    rows = [text_of(r) for r in doc.xpath("//fieldset[@class='cohort']//tbody/tr/th")]
    assert rows[1].startswith("SNDS_KINE_A2010 Number of reimbursed physiotherapy")
    assert rows[1].endswith(KINE)
    # the CASD-only variable brings the CASD section, pre-filled, with an estimate
    assert doc.get_element_by_id(f"{GAZEL_PREFIX}.casd") is not None
    assert doc.xpath("//table[@class='estimate']//strong[@class='estimate-total']")
    with pytest.raises(KeyError):
        doc.get_element_by_id("requests.elfe.casd")
    # every field has a label; fieldsets have legends
    for control in doc.xpath("//form[@id='application']//textarea"
                             "|//form[@id='application']//input[not(@type='hidden')]"
                             "|//form[@id='application']//select"):
        assert doc.xpath(f"//label[@for='{control.get('id')}']"), control.get("name")
    assert all(f.find("legend") is not None for f in doc.xpath("//form//fieldset"))

    # save part of it: kept as a draft
    fields = form_fields(form.text)
    fields.update({"title": "Care use", "protocol.objectives": "Relate care use.",
                   "action": "save:section-project"})
    saved = await ana.post(f"/applications/{project}", fields)
    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"/applications/{project}?done=saved"
                                              "#section-project")
    again = await ana.get(f"/applications/{project}")
    assert form_fields(again.text)["protocol.objectives"] == "Relate care use."
    assert "Your draft is saved." in main_text(await ana.get(saved.headers["location"]))

    # submitting an incomplete application: 422, every missing field says so, next to it
    fields = form_fields(again.text)
    fields["action"] = "submit"
    refused = await ana.post(f"/applications/{project}", fields)
    assert refused.status_code == 422
    doc = page(refused)
    errors = _errors(doc)
    assert errors["protocol.method"] == "describe the method"
    assert errors["team"] == "name the scientific team, its PI first"
    assert errors["funding.industrial"] == "say whether the project has industrial funding"
    assert errors[f"{GAZEL_PREFIX}.charter_accepted"] == "the PI must accept the cohort's charter"
    wave = next(n for n in errors if n.startswith(f"{GAZEL_PREFIX}.groups."))
    assert errors[wave] == "justify the use of this variable, in its group or on its own"
    method = doc.get_element_by_id("protocol.method")
    assert method.get("aria-invalid") == "true"
    assert "protocol.method-error" in method.get("aria-describedby").split()
    summary = doc.xpath("//div[@class='error-summary']//a/@href")
    assert "#protocol.method" in summary and f"#{GAZEL_PREFIX}.charter_accepted" in summary
    listing = (await ana.get("/requests.json")).json()["projects"]
    assert [r["state"] for p in listing for r in p["requests"]] == ["draft", "draft"]

    # complete, come back, submit: one request per cohort
    data = complete(form_fields(refused.text), refused.text, action="submit")
    sent = await ana.post(f"/applications/{project}", data)
    assert sent.status_code == 303 and sent.headers["location"].endswith(
        "/requests?done=submitted")
    [mine] = (await ana.get("/requests.json")).json()["projects"]
    assert not mine["draft"]
    assert sorted((r["cohort"], r["state"]) for r in mine["requests"]) == [
        ("elfe", "submitted"), ("gazel", "submitted")]
    # the requested variables left the basket
    assert (await ana.get("/basket.json")).json()["count"] == 0
    listed = page(await ana.get("/requests"))
    assert [text_of(s) for s in listed.xpath("//tbody//span[contains(@class,'state')]")] == [
        "Submitted", "Submitted"]
    # a submitted project's form leads to its requests
    assert (await ana.get(f"/applications/{project}")).status_code == 303


async def test_the_casd_estimate_reproduces_the_2020_example(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    project = await start_application(ana, KINE)
    form = await ana.get(f"/applications/{project}")
    fields = form_fields(form.text)
    p = f"{GAZEL_PREFIX}.casd"
    fields.update({f"{p}.users": "2", f"{p}.months": "12", f"{p}.configuration": "1",
                   f"{p}.sd_boxes": "1", f"{p}.start": "2020-08-01",
                   f"{p}.options.security_referent": "on",
                   f"{p}.options.automatic_exports": "on", "action": "save:section-casd"})
    assert (await ana.post(f"/applications/{project}", fields)).status_code == 303
    doc = page(await ana.get(f"/applications/{project}"))
    table = doc.xpath("//table[@class='estimate']")[0]
    amounts = [text_of(td) for td in table.xpath("./tbody/tr/td[@class='amount']")]
    assert amounts == ["€420.00", "€2,856.00", "€444.00", "€720.00", "€300.00"]
    assert text_of(table.xpath(".//strong[@class='estimate-total']")[0]) == "€4,740.00"
    french = page(await ana.get(f"/applications/{project}?lang=fr"))
    total = french.xpath("//strong[@class='estimate-total']")[0]
    assert text_of(total).replace("\u202f", " ").replace("\xa0", " ") == "4 740,00 €"
    calculations = [text_of(td).replace("\u202f", " ").replace("\xa0", " ")
                    for td in french.xpath("//table[@class='estimate']/tbody/tr/td[2]")]
    assert calculations[2:4] == ["12 mois × 37,00 €", "12 mois × 2 utilisateurs × 30,00 €"]

    # six months of a new project are billed twelve, and the form says so
    fields[f"{p}.months"] = "6"
    assert (await ana.post(f"/applications/{project}", fields)).status_code == 303
    doc = page(await ana.get(f"/applications/{project}?lang=en"))
    notes = [text_of(n) for n in doc.xpath("//fieldset[@class='casd']//p[@class='notice']")]
    assert notes == ["A new project is invoiced for at least 12 months (6 asked)."]
    # numbers that are not: nothing saved, the error next to the field
    fields[f"{p}.users"] = "two"
    refused = await ana.post(f"/applications/{project}", fields)
    assert refused.status_code == 400
    assert _errors(page(refused))[f"{p}.users"] == "give a whole number"
    assert form_fields((await ana.get(f"/applications/{project}")).text)[f"{p}.users"] == "2"


async def test_draft_actions_remove_cohort_add_basket_newer_version_delete(
        visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    project = await start_application(ana, KINE, WEIGHT, SMOKE_V1)
    form = await ana.get(f"/applications/{project}")
    doc = page(form)
    # a newer version: shown, and one click switches to it (its justification kept)
    drift = text_of(doc.xpath("//div[@class='drift']")[0])
    assert "Version 1 selected; version 2 is newer." in drift
    [use] = doc.xpath(f"//button[@form='use-newer'][@value='{SMOKE_V2}']")
    fields = form_fields(form.text)
    justification = f"requests.sample.variables.{SMOKE_V1}.justification"
    fields[justification] = "Smoking as a confounder."
    fields["action"] = "save"
    await ana.post(f"/applications/{project}", fields)
    switched = await ana.post(f"/applications/{project}/variables", {"urn": SMOKE_V2})
    assert switched.status_code == 303
    fields = form_fields((await ana.get(f"/applications/{project}")).text)
    assert fields[f"requests.sample.variables.{SMOKE_V2}.justification"] == (
        "Smoking as a confounder.")
    assert justification not in fields

    # remove the sample cohort's request; then a variable through its checkbox
    requests = (await ana.get("/requests.json")).json()["projects"][0]["requests"]
    sample = next(r["id"] for r in requests if r["cohort"] == "sample")
    gone = await ana.post(f"/applications/{project}/cohorts/{sample}/remove", {})
    assert gone.status_code == 303
    form = await ana.get(f"/applications/{project}")
    fields = form_fields(form.text)
    fields[f"remove:requests.elfe.variables.{WEIGHT}"] = "on"
    fields["action"] = "save"
    await ana.post(f"/applications/{project}", fields)
    cohorts = [text_of(x) for x in page(await ana.get(f"/applications/{project}")).xpath(
        "//fieldset[@class='cohort']/legend")]
    assert cohorts == ["Elfe 0 variables", "GAZEL 1 variable"]

    # the basket's variables the draft lacks (the sample's, the one removed) come back
    doc = page(await ana.get(f"/applications/{project}"))
    notice = doc.xpath("//form[contains(@action,'/add-basket')]")[0]
    assert "holds 2 variables that this draft does not" in text_of(notice)
    assert (await ana.post(f"/applications/{project}/add-basket", {})).status_code == 303
    doc = page(await ana.get(f"/applications/{project}"))
    assert [text_of(x) for x in doc.xpath("//fieldset[@class='cohort']/legend")] == [
        "Elfe 1 variable", "GAZEL 1 variable", "Sample cohort 1 variable"]
    assert not doc.xpath("//form[contains(@action,'/add-basket')]")

    deleted = await ana.post(f"/applications/{project}/delete", {})
    assert deleted.headers["location"].endswith("/requests?done=deleted")
    assert (await ana.get("/requests.json")).json() == {"projects": []}


async def test_the_review_cycle(accounts_site: Site, visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    ids = await submitted_requests(ana, KINE, WEIGHT)
    gazel = ids["gazel"]
    reviewer: Visitor = visitors()
    await reviewer.sign_in(GAZEL_REVIEWER)
    listed = (await reviewer.get("/reviews.json")).json()
    assert [c["slug"] for c in listed["cohorts"]] == ["gazel"]
    assert [r["id"] for r in listed["cohorts"][0]["requests"]] == [gazel]
    doc = page(await reviewer.get("/reviews"))
    assert doc.xpath(f"//a[@href='http://testserver/requests/{gazel}']")

    page_ = page(await reviewer.get(f"/requests/{gazel}"))
    buttons = [b.get("value") for b in page_.xpath("//section[@id='decision']//button")]
    assert buttons == ["start_review"]
    started = await reviewer.post(f"/requests/{gazel}/transition", {"action": "start_review"})
    assert started.headers["location"].endswith(f"/requests/{gazel}?done=start_review")

    # a reason is required to request changes: 400, said next to the field, nothing moved
    refused = await reviewer.post(f"/requests/{gazel}/transition",
                                  {"action": "request_changes", "reason": "  "})
    assert refused.status_code == 400
    assert _errors(page(refused)) == {"reason": "say why: the applicant will read it"}
    assert (await reviewer.get(f"/requests/{gazel}.json")).json()["state"] == "under_review"
    moved = await reviewer.post(f"/requests/{gazel}/transition", {
        "action": "request_changes", "reason": "Justify the SNDS variables one by one."})
    assert moved.status_code == 303
    # comments: one the applicant reads, one internal to the team
    await reviewer.post(f"/requests/{gazel}/comments", {"text": "See the charter, article 4.",
                                                        "visibility": "applicant"})
    await reviewer.post(f"/requests/{gazel}/comments", {"text": "Check the funding.",
                                                        "visibility": "internal"})

    mine = page(await ana.get(f"/requests/{gazel}"))
    state = text_of(mine.xpath("//p[@class='request-state']")[0])
    assert state == "State: Changes requested"
    history = [text_of(h) for h in mine.xpath("//ol[@class='timeline']/li")]
    assert any("Request changes" in h and "Justify the SNDS variables one by one." in h
               for h in history)
    comments = [text_of(c) for c in mine.xpath("//ul[@class='comments']/li")]
    assert len(comments) == 1 and "See the charter, article 4." in comments[0]
    assert mine.xpath(f"//a[@href='http://testserver/requests/{gazel}/amend']")
    assert not mine.xpath("//input[@name='visibility'][@value='internal']")

    amend = await ana.get(f"/requests/{gazel}/amend")
    assert amend.status_code == 200
    fields = form_fields(amend.text)
    variable = f"{GAZEL_PREFIX}.variables.{KINE}.justification"
    fields.update({variable: "Physiotherapy sessions are the outcome.",
                   "protocol.method": "Mixed models, amended.", "action": "resubmit"})
    resubmitted = await ana.post(f"/requests/{gazel}/amend", fields)
    assert resubmitted.status_code == 303
    assert resubmitted.headers["location"].endswith(f"/requests/{gazel}?done=resubmit")
    body = (await ana.get(f"/requests/{gazel}.json")).json()
    assert body["state"] == "submitted" and body["revision"] == 2
    assert body["project"]["protocol"]["method"] == "Mixed models, amended."
    # the other cohort's request keeps its own copy of the project
    elfe = (await ana.get(f"/requests/{ids['elfe']}.json")).json()
    assert elfe["project"]["protocol"]["method"] == "Mixed models."

    await reviewer.post(f"/requests/{gazel}/transition", {"action": "start_review"})
    approved = await reviewer.post(f"/requests/{gazel}/transition", {"action": "approve"})
    assert approved.status_code == 303
    final = (await reviewer.get(f"/requests/{gazel}.json")).json()
    assert final["state"] == "approved" and final["decided_at"]
    assert [e["action"] for e in final["history"]] == [
        "submit", "start_review", "request_changes", "resubmit", "start_review", "approve"]
    assert {c["visibility"] for c in final["comments"]} == {"applicant", "internal"}
    # every move is in the audit trail too: who, from where, why
    audited = [e for e in accounts_site.store.audit_entries(
        AuditFilter(action="request.transition")) if e.target == f"request:{gazel}"]
    assert sorted((e.actor_email, e.details["to"]) for e in audited) == sorted([
        (ANA, "submitted"), (GAZEL_REVIEWER, "under_review"),
        (GAZEL_REVIEWER, "changes_requested"), (ANA, "submitted"),
        (GAZEL_REVIEWER, "under_review"), (GAZEL_REVIEWER, "approved")])
    assert {e.client for e in audited} == {CLIENT[0]}
    assert any(e.details["comment"] == "Justify the SNDS variables one by one."
               for e in audited)

    french = page(await ana.get(f"/requests/{gazel}?lang=fr"))
    assert text_of(french.xpath("//p[@class='request-state']")[0]) == "État : Approuvée"
    steps = [text_of(h) for h in french.xpath("//ol[@class='timeline']/li/h3")]
    assert steps[2] == "Demander des modifications (En cours d’évaluation → Modifications " \
                       "demandées)"

    # the reviewer of Elfe sees Elfe's request, not GAZEL's
    other: Visitor = visitors()
    await other.sign_in(ELFE_REVIEWER)
    listed = (await other.get("/reviews.json")).json()
    assert [r["id"] for c in listed["cohorts"] for r in c["requests"]] == [ids["elfe"]]


async def test_downloads(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    ids = await submitted_requests(ana, KINE, WEIGHT)
    doc = page(await ana.get(f"/requests/{ids['gazel']}"))
    links = doc.xpath("//ul[contains(@class,'downloads')]//a/@href")
    assert len(links) == 4
    for lang in ("en", "fr"):
        pdf = await ana.get(f"/requests/{ids['gazel']}/pdf/{lang}")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        document = pypdfium2.PdfDocument(pdf.content)
        assert len(document) >= 1
        text = "".join(document[i].get_textpage().get_text_range()
                       for i in range(len(document)))
        assert "SNDS_KINE_A2010" in text
        document.close()
    # the language of the pages does not change with the PDF's
    assert "lang=" not in "".join(pdf.headers.get_list("set-cookie"))
    body = (await ana.get(f"/requests/{ids['gazel']}.json")).json()
    assert body["schema"] == "cohort-catalogue/access-request/1"
    assert body["casd"]["secure_workspace_required"] is True
    assert body["downloads"]["pdf_fr"].endswith(f"/requests/{ids['gazel']}/pdf/fr")
    xml = await ana.get(f"/requests/{ids['gazel']}/data-requested.xml")
    assert xml.status_code == 200
    root = etree.parse(io.BytesIO(xml.content)).getroot()
    assert root.tag == "{ddi:instance:3_3}FragmentInstance"
    assert b"SNDS_KINE_A2010" in xml.content
    assert (await ana.get(f"/requests/{ids['gazel']}/pdf/de")).status_code == 400
