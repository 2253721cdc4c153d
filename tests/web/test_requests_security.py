"""Basket and access requests under attack, over HTTP: CSRF token missing or wrong,
another researcher's ids, a reviewer of another cohort, nobody signed in, tampered
cookies, oversized or malformed fields, script in every text field. Each is refused (or
shown as text), and nothing is saved half-way."""

from __future__ import annotations

import re
from typing import Any

import lxml.html
import pypdfium2
import pytest
from requests_support import (
    ANA,
    BOB,
    ELFE_REVIEWER,
    GAZEL_REVIEWER,
    KINE,
    PAYLOAD,
    WEIGHT,
    Site,
    Visitor,
    complete,
    form_fields,
    page,
    start_application,
    submitted_requests,
    text_of,
)
from requests_support import accounts_site as accounts_site  # noqa: F401 - fixture
from requests_support import anyio_backend as anyio_backend  # noqa: F401 - fixture
from requests_support import visitors as visitors  # noqa: F401 - fixture

from catalogue.accounts_model import AuditFilter
from web.auth import SESSION_COOKIE
from web.views.requests_common import BASKET_COOKIE

pytestmark = pytest.mark.anyio
COOKIE_DOMAIN = "testserver.local"


async def _snapshot(visitor: Visitor, *request_ids: int) -> list[Any]:
    """Everything the visitor's actions could change, as JSON."""
    found = [(await visitor.get("/basket.json")).json(),
             (await visitor.get("/requests.json")).json()]
    for request_id in request_ids:
        found.append((await visitor.get(f"/requests/{request_id}.json")).json())
    return found


def _post_routes(project: int, request_id: int) -> list[tuple[str, dict[str, str]]]:
    return [("/basket/add", {"urn": WEIGHT}), ("/basket/remove", {"all": "1"}),
            ("/applications", {}),
            (f"/applications/{project}", {"title": "changed", "action": "save"}),
            (f"/applications/{project}/variables", {"urn": WEIGHT}),
            (f"/applications/{project}/add-basket", {}),
            (f"/applications/{project}/cohorts/{request_id}/remove", {}),
            (f"/applications/{project}/delete", {}),
            (f"/requests/{request_id}/amend", {"title": "changed", "action": "resubmit"}),
            (f"/requests/{request_id}/transition", {"action": "submit"}),
            (f"/requests/{request_id}/comments", {"text": "hello"})]


async def test_csrf_token_missing_or_wrong(accounts_site: Site, visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    project = await start_application(ana, KINE)
    request_id = (await ana.get("/requests.json")).json()["projects"][0]["requests"][0]["id"]
    await ana.add(WEIGHT)
    before = await _snapshot(ana, request_id)
    good = await ana.token()
    wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    refusals = len(accounts_site.store.audit_entries(AuditFilter(action="csrf.refused")))
    for url, fields in _post_routes(project, request_id):
        for token in (None, wrong, "x" * 300):
            pairs = list(fields.items()) + ([("csrf_token", token)] if token else [])
            answer = await ana.send(url, pairs)
            assert answer.status_code == 403, (url, token, answer.status_code)
    assert await _snapshot(ana, request_id) == before
    audited = accounts_site.store.audit_entries(AuditFilter(action="csrf.refused"))
    assert len(audited) == refusals + 3 * len(_post_routes(project, request_id))
    # a token of another session is wrong too
    bob: Visitor = visitors()
    await bob.sign_in(BOB)
    stolen = await bob.token()
    answer = await ana.send(f"/applications/{project}/delete", [("csrf_token", stolen)])
    assert answer.status_code == 403
    assert await _snapshot(ana, request_id) == before


async def test_another_researchers_ids(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    draft = await start_application(ana, KINE)
    draft_request = (await ana.get("/requests.json")).json()["projects"][0]["requests"][0]["id"]
    submitted = await submitted_requests(ana, WEIGHT)
    before = await _snapshot(ana, draft_request, submitted["elfe"])
    bob: Visitor = visitors()
    await bob.sign_in(BOB)
    for url in (f"/applications/{draft}", f"/requests/{draft_request}",
                f"/requests/{draft_request}.json", f"/requests/{submitted['elfe']}",
                f"/requests/{submitted['elfe']}.json", f"/requests/{submitted['elfe']}/pdf/en",
                f"/requests/{submitted['elfe']}/data-requested.xml",
                f"/requests/{submitted['elfe']}/amend"):
        answer = await bob.get(url)
        assert answer.status_code == 403, (url, answer.status_code)
    for url, fields in _post_routes(draft, draft_request)[3:]:
        answer = await bob.post(url, fields)
        assert answer.status_code == 403, (url, answer.status_code)
    for action in ("start_review", "approve", "resubmit"):
        answer = await bob.post(f"/requests/{submitted['elfe']}/transition", {"action": action})
        assert answer.status_code == 403
    answer = await bob.post(f"/requests/{submitted['elfe']}/comments", {"text": "hello"})
    assert answer.status_code == 403
    # an id that does not exist, or is not a number
    assert (await bob.get("/requests/999999")).status_code == 404
    assert (await bob.get("/requests/abc")).status_code == 404
    assert (await bob.get("/applications/1e3")).status_code == 404
    assert await _snapshot(ana, draft_request, submitted["elfe"]) == before
    assert (await bob.get("/requests.json")).json() == {"projects": []}
    # and reviewers never see drafts, even of their cohort
    reviewer: Visitor = visitors()
    await reviewer.sign_in(GAZEL_REVIEWER)
    assert (await reviewer.get(f"/requests/{draft_request}")).status_code == 403


async def test_a_reviewer_of_another_cohort(accounts_site: Site, visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    ids = await submitted_requests(ana, KINE)
    gazel = ids["gazel"]
    before = await _snapshot(ana, gazel)
    denied = len(accounts_site.store.audit_entries(AuditFilter(action="access.denied")))
    other: Visitor = visitors()
    await other.sign_in(ELFE_REVIEWER)
    for url in (f"/requests/{gazel}", f"/requests/{gazel}.json", f"/requests/{gazel}/pdf/fr",
                f"/requests/{gazel}/data-requested.xml"):
        assert (await other.get(url)).status_code == 403, url
    for action in ("start_review", "approve", "reject"):
        answer = await other.post(f"/requests/{gazel}/transition",
                                  {"action": action, "reason": "no"})
        assert answer.status_code == 403
    answer = await other.post(f"/requests/{gazel}/comments",
                              {"text": "internal?", "visibility": "internal"})
    assert answer.status_code == 403
    listed = (await other.get("/reviews.json")).json()["cohorts"]
    assert [(c["slug"], c["requests"]) for c in listed] == [("elfe", [])]
    assert await _snapshot(ana, gazel) == before
    assert len(accounts_site.store.audit_entries(AuditFilter(action="access.denied"))) > denied
    # the applicant cannot decide on their own request, nor write internal comments
    for action in ("start_review", "approve"):
        assert (await ana.post(f"/requests/{gazel}/transition",
                               {"action": action})).status_code == 403
    answer = await ana.post(f"/requests/{gazel}/comments",
                            {"text": "psst", "visibility": "internal"})
    assert answer.status_code == 403
    # someone who reviews nothing has no reviews page
    bob: Visitor = visitors()
    await bob.sign_in(BOB)
    assert (await bob.get("/reviews")).status_code == 403
    assert await _snapshot(ana, gazel) == before


async def test_nobody_signed_in(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    ids = await submitted_requests(ana, KINE)
    visitor: Visitor = visitors()
    for url in (f"/requests/{ids['gazel']}", "/requests", "/reviews", "/applications/1"):
        answer = await visitor.get(url)
        assert answer.status_code == 303 and "/sign-in?next=" in answer.headers["location"]
    for url in (f"/requests/{ids['gazel']}.json", "/requests.json", "/reviews.json",
                f"/requests/{ids['gazel']}/pdf/en"):
        answer = await visitor.get(url)
        assert answer.status_code == 401, url
        if url.endswith(".json"):
            assert answer.json()["error"] == "Sign in to continue."
    await visitor.add(WEIGHT)
    for url, fields in (("/applications", {}),
                        (f"/requests/{ids['gazel']}/comments", {"text": "hi"}),
                        (f"/requests/{ids['gazel']}/transition", {"action": "approve"})):
        assert (await visitor.post(url, fields)).status_code == 401


async def test_tampered_cookies(accounts_site: Site, visitors: Any) -> None:
    visitor: Visitor = visitors()
    for value in ("x", "<script>alert(1)</script>", "A" * 43, "é" * 43, "a" * 5000):
        visitor.http.cookies.clear()
        visitor.http.headers["Cookie"] = f"{BASKET_COOKIE}={value}"
        basket = await visitor.get("/basket.json")
        assert basket.status_code == 200 and basket.json()["count"] == 0
        assert (await visitor.get("/search?q=kine")).status_code == 200
    del visitor.http.headers["Cookie"]
    # a token nobody was given is not adopted: adding starts a new basket
    forged = "B" * 43
    visitor.http.cookies.set(BASKET_COOKIE, forged, domain=COOKIE_DOMAIN)
    added = await visitor.add(WEIGHT)
    [given] = [c for c in added.headers.get_list("set-cookie")
               if c.startswith(BASKET_COOKIE + "=")]
    assert forged not in given
    other: Visitor = visitors()
    other.http.cookies.set(BASKET_COOKIE, forged, domain=COOKIE_DOMAIN)
    assert (await other.get("/basket.json")).json()["count"] == 0

    # a tampered session cookie is no session: not signed in, its forms refused
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    ids = await submitted_requests(ana, KINE)
    token = await ana.token()
    session = ana.http.cookies.get(SESSION_COOKIE, domain=COOKIE_DOMAIN)
    assert session is not None
    tampered = session[:-3] + ("abc" if not session.endswith("abc") else "xyz")
    ana.http.cookies.set(SESSION_COOKIE, tampered, domain=COOKIE_DOMAIN)
    answer = await ana.get(f"/requests/{ids['gazel']}")
    assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
    refused = await ana.send(f"/requests/{ids['gazel']}/comments",
                             [("csrf_token", token), ("text", "forged")])
    assert refused.status_code == 403
    assert accounts_site.store.audit_entries(AuditFilter(action="session.invalid_cookie"))
    ana.http.cookies.set(SESSION_COOKIE, session, domain=COOKIE_DOMAIN)
    assert (await ana.get(f"/requests/{ids['gazel']}.json")).json()["comments"] == []


async def test_oversized_and_malformed_fields_save_nothing(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    project = await start_application(ana, KINE, WEIGHT)
    form = await ana.get(f"/applications/{project}")
    base = complete(form_fields(form.text), form.text)
    base["action"] = "save"
    assert (await ana.post(f"/applications/{project}", base)).status_code == 303
    before = await _snapshot(ana)
    saved_form = form_fields((await ana.get(f"/applications/{project}")).text)
    group = next(n for n in base if n.startswith("requests.gazel.groups."))
    justification = f"requests.elfe.variables.{WEIGHT}.justification"
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"title": "t" * 301}, 413, "title"),
        ({"protocol.objectives": "o" * 20_001}, 413, "protocol.objectives"),
        ({group: "g" * 20_001}, 413, group),
        ({justification: "j" * 20_001}, 413, justification),
        ({"team.0.email": "e" * 301}, 413, "team.0.email"),
        ({"funding.project": "bad\x00byte"}, 400, "funding.project"),
        ({"requests.gazel.casd.months": "12.5"}, 400, "requests.gazel.casd.months"),
        ({"requests.gazel.casd.start": "tomorrow"}, 400, "requests.gazel.casd.start"),
        ({f"requests.gazel.variables.{WEIGHT}": "on"}, 400,
         f"requests.gazel.variables.{WEIGHT}"),
        ({"requests.gazel.variables.urn:ddi:fr.gazel:var-SNDS-SNDS_KINE_A2011:1": "on"}, 400,
         "requests.gazel.variables.urn:ddi:fr.gazel:var-SNDS-SNDS_KINE_A2011:1"),
    ]
    for change, status, field in cases:
        # each refused form also carries changes that would be fine on their own
        data = {**base, **change, "protocol.method": "A new method.",
                justification if field != justification else group: "A fine text."}
        answer = await ana.post(f"/applications/{project}", data)
        assert answer.status_code == status, (field, answer.status_code)
        shown = page(answer)
        assert shown.xpath(f"//div[@class='error-summary']//a[@href='#{field}']"), field
        if ":" not in field:  # a variable the form does not show has no field to be next to
            assert shown.xpath(f"//p[@id='{field}-error']"), field
        assert await _snapshot(ana) == before, field
        assert form_fields((await ana.get(f"/applications/{project}")).text) == saved_form
    # too many team members
    crowd = {f"team.{i}.name": f"Member {i}" for i in range(102)}
    answer = await ana.post(f"/applications/{project}", {**base, **crowd})
    assert answer.status_code == 413 and await _snapshot(ana) == before
    # a form larger than the app reads at all
    answer = await ana.post(f"/applications/{project}", {**base, "title": "t" * 3_000_000})
    assert answer.status_code == 413 and await _snapshot(ana) == before
    # too many variables at once in the basket
    many = [("urn", f"urn:ddi:fr.gazel:v{i}:1") for i in range(5_001)]
    answer = await ana.post("/basket/add", many)
    assert answer.status_code == 400 and await _snapshot(ana) == before

    # comments and reasons too long: refused next to the field, nothing written
    ids = await submitted_requests(ana, KINE)
    reviewer: Visitor = visitors()
    await reviewer.sign_in(GAZEL_REVIEWER)
    gazel = ids["gazel"]
    await reviewer.post(f"/requests/{gazel}/transition", {"action": "start_review"})
    before = (await reviewer.get(f"/requests/{gazel}.json")).json()
    answer = await reviewer.post(f"/requests/{gazel}/comments", {"text": "c" * 10_001})
    assert answer.status_code == 413 and page(answer).xpath("//p[@id='text-error']")
    answer = await reviewer.post(f"/requests/{gazel}/transition",
                                 {"action": "reject", "reason": "r" * 20_001})
    assert answer.status_code == 413 and page(answer).xpath("//p[@id='reason-error']")
    answer = await reviewer.post(f"/requests/{gazel}/transition", {"action": "fly"})
    assert answer.status_code == 400
    assert (await reviewer.get(f"/requests/{gazel}.json")).json() == before


async def test_script_in_every_text_field_is_shown_as_text(visitors: Any) -> None:
    ana: Visitor = visitors()
    await ana.sign_in(ANA)
    project = await start_application(ana, KINE, WEIGHT)
    form = await ana.get(f"/applications/{project}")
    data = complete(form_fields(form.text), form.text)
    texts = ["title", "team.0.name", "team.0.role", "team.0.affiliation", "funding.project",
             "funding.access_costs", "funding.industrial_details",
             *(n for n in data if n.startswith("protocol.")),
             *(n for n in data if ".groups." in n or n.endswith(".justification"))]
    assert len(texts) == 15  # 7 + 4 protocol + 2 groups + 2 variables
    for n, name in enumerate(texts):
        data[name] = f"{PAYLOAD} #{n}"
    data["team.0.email"] = PAYLOAD
    data["action"] = "save"
    assert (await ana.post(f"/applications/{project}", data)).status_code == 303
    shown = await ana.get(f"/applications/{project}")
    _assert_inert(shown.text)
    assert form_fields(shown.text)["title"] == f"{PAYLOAD} #0"  # kept exactly as typed
    assert form_fields(shown.text)["team.0.email"] == PAYLOAD

    data["team.0.email"] = "ana@example.org"
    data["action"] = "submit"
    answer = await ana.post(f"/applications/{project}", data)
    assert answer.status_code == 303
    requests = (await ana.get("/requests.json")).json()["projects"][0]["requests"]
    gazel = next(r["id"] for r in requests if r["cohort"] == "gazel")
    reviewer: Visitor = visitors()
    await reviewer.sign_in(GAZEL_REVIEWER)
    await reviewer.post(f"/requests/{gazel}/transition", {"action": "start_review"})
    await reviewer.post(f"/requests/{gazel}/transition",
                        {"action": "request_changes", "reason": PAYLOAD + " reason"})
    await reviewer.post(f"/requests/{gazel}/comments", {"text": PAYLOAD + " comment",
                                                        "visibility": "internal"})
    await ana.post(f"/requests/{gazel}/comments", {"text": PAYLOAD + " answer"})
    for visitor, url in ((ana, f"/requests/{gazel}"), (reviewer, f"/requests/{gazel}"),
                         (ana, "/requests"), (reviewer, "/reviews"),
                         (ana, f"/requests/{gazel}/amend"), (ana, f"/requests/{gazel}?lang=fr")):
        answer = await visitor.get(url)
        assert answer.status_code == 200, url
        _assert_inert(answer.text)
    doc = page(await reviewer.get(f"/requests/{gazel}"))
    main = text_of(doc.get_element_by_id("main"))
    for marker in ("#0", "reason", "comment", "answer"):
        assert f"{PAYLOAD} {marker}" in main, marker
    # literal in the PDF
    pdf = await reviewer.get(f"/requests/{gazel}/pdf/en")
    document = pypdfium2.PdfDocument(pdf.content)
    text = re.sub(r"\s+", " ", "".join(document[i].get_textpage().get_text_range()
                                       for i in range(len(document))))
    document.close()
    assert "<script>window.__pwned=1</script>" in text
    assert 'onerror="window.__pwned=1"' in text


def _assert_inert(html: str) -> None:
    doc = lxml.html.fromstring(html)
    assert not [s for s in doc.xpath("//script") if not s.get("src")]
    assert not doc.xpath("//*[@onerror or @onload]")
    assert not doc.xpath("//img[@src='x']")
