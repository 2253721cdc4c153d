"""The basket over HTTP: adding from search results and item pages (a variable, a question
across its waves, a topic within a wave), the page grouped by cohort and wave with counts,
access levels, the CASD notice and version drift; the persistent cookie, and the move
into the account on sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from requests_support import (
    KINE,
    SMOKE_V1,
    SMOKE_V2,
    WEIGHT,
    Visitor,
    main_text,
    page,
    text_of,
)
from requests_support import accounts_site as accounts_site  # noqa: F401 - fixture
from requests_support import anyio_backend as anyio_backend  # noqa: F401 - fixture
from requests_support import visitors as visitors  # noqa: F401 - fixture

from web.views.requests_common import BASKET_COOKIE

pytestmark = pytest.mark.anyio


def _basket(doc: Any) -> dict[str, list[str]]:
    """Cohort heading -> variable names, as the basket page lists them."""
    out: dict[str, list[str]] = {}
    for section in doc.xpath("//section[contains(@class,'basket-cohort')]"):
        heading = text_of(section.find("h2"))
        out[heading] = [text_of(c) for c in section.xpath(".//tbody/tr/td[1]")]
    return out


async def test_a_visitor_adds_from_the_search_results(visitors: Any) -> None:
    visitor: Visitor = visitors()
    results = await visitor.get("/search?q=kine")
    # browsing starts no session: the button is a link to a page holding the form
    assert "set-cookie" not in results.headers
    links = page(results).xpath("//main//a[contains(@class,'basket-button')]/@href")
    target = next(link for link in links if "SNDS_KINE_A2010" in link)
    confirm = await visitor.get(target)
    assert confirm.status_code == 200 and "SNDS_KINE_A2010" in main_text(confirm)
    form = page(confirm).xpath("//main//form[@method='post']")[0]
    fields = [(i.get("name"), i.get("value")) for i in form.xpath(".//input")]
    added = await visitor.send(form.get("action"), fields)
    assert added.status_code == 303
    assert added.headers["location"] == "/search?q=kine"
    cookie = next(c for c in added.headers.get_list("set-cookie")
                  if c.startswith(BASKET_COOKIE + "="))
    assert "HttpOnly" in cookie and "Max-Age=2592000" in cookie and "samesite=lax" in (
        cookie.lower())

    again = await visitor.get("/search?q=kine")
    doc = page(again)
    [marked] = doc.xpath("//li[@class='result'][.//form[contains(@action,'/basket/remove')]]")
    assert "SNDS_KINE_A2010" in text_of(marked) and "In your basket" in text_of(marked)
    # now that there is a session, adding is one click
    assert doc.xpath("//li[@class='result']//form[contains(@action,'/basket/add')]")
    header = doc.xpath("//nav[@class='basket-nav']//a[@class='basket-link']")[0]
    assert text_of(header) == "Basket (1)"


async def test_the_basket_page_groups_by_cohort_and_wave(visitors: Any) -> None:
    visitor: Visitor = visitors()
    await visitor.add(KINE, WEIGHT)
    response = await visitor.get("/basket")
    doc = page(response)
    grouped = _basket(doc)
    assert grouped == {"Elfe 1 variable": ["CR_POIDS_M2"],
                       "GAZEL 1 variable CASD secure workspace required": ["SNDS_KINE_A2010"]}
    captions = [text_of(c) for c in doc.xpath("//table[@class='basket-table']/caption")]
    assert any(c.endswith("1 variable, 1 CASD only") for c in captions)
    notice = text_of(doc.xpath("//div[contains(@class,'notice-casd')]")[0])
    assert "CASD secure workspace is required" in notice
    badges = [text_of(b) for b in doc.xpath("//tbody//span[contains(@class,'badge-')]")]
    assert sorted(badges) == ["CASD secure workspace only", "Open access"]
    # not signed in: starting a request asks to sign in first, coming back here
    assert doc.xpath("//section[@class='basket-start']//a[contains(@href,'next=%2Fbasket')]")

    data = (await visitor.get("/basket.json")).json()
    assert data["count"] == 2 and data["casd_required"] and data["casd_only"] == 1
    gazel = next(c for c in data["cohorts"] if c["slug"] == "gazel")
    [line] = gazel["waves"][0]["variables"]
    assert line["urn"] == KINE and line["version"] == "1" and line["access"] == "casd"

    french = page(await visitor.get("/basket?lang=fr"))
    assert french.findtext(".//h1") == "Votre panier"
    assert "Bulle sécurisée du CASD nécessaire" in text_of(french.get_element_by_id("main"))


async def test_a_question_across_waves_and_a_topic_within_a_wave(visitors: Any) -> None:
    visitor: Visitor = visitors()
    question = await visitor.get("/questions/urn:ddi:fr.sample:q-SMOKE")
    forms = page(question).xpath("//main//form[contains(@action,'/basket/')]"
                                 "[.//input[@name='question']]|//main//a[contains(@href,"
                                 "'question=')]")
    assert forms, "the question page offers its variables of every wave"
    response = await visitor.post("/basket/add", {"question": "urn:ddi:fr.sample:q-SMOKE",
                                                  "next": "/basket"})
    assert response.status_code == 303
    names = sorted(n for ns in _basket(page(await visitor.get("/basket"))).values() for n in ns)
    assert names == ["SMOKE_W1", "SMOKE_W2"]
    await visitor.post("/basket/remove", {"question": "urn:ddi:fr.sample:q-SMOKE"})
    assert _basket(page(await visitor.get("/basket"))) == {}

    search = await visitor.get("/search?wave=urn:ddi:fr.sample:su-W1&topic=tobacco")
    buttons = page(search).xpath("//main//form[@method='post'][.//input[@name='topic']]")
    assert len(buttons) == 2  # add, remove
    fields = {i.get("name"): i.get("value") for i in buttons[0].xpath(".//input")}
    assert fields["wave"] == "urn:ddi:fr.sample:su-W1" and fields["topic"] == "tobacco"
    await visitor.post("/basket/add", {"wave": fields["wave"], "topic": "tobacco"})
    names = sorted(n for ns in _basket(page(await visitor.get("/basket"))).values() for n in ns)
    assert names == ["AGE_W1", "CIGS_W1", "SMOKE_W1"]
    await visitor.post("/basket/remove", {"wave": fields["wave"], "topic": "tobacco"})
    assert (await visitor.get("/basket.json")).json()["count"] == 0


async def test_json_answers_remove_and_empty(visitors: Any) -> None:
    visitor: Visitor = visitors()
    token = await visitor.token()
    answer = await visitor.http.post("/basket/add", data={"urn": [KINE, WEIGHT]},
                                     headers={"X-CSRF-Token": token,
                                              "Accept": "application/json"})
    assert answer.json() == {"ok": True, "added": [KINE, WEIGHT], "replaced": [],
                             "unchanged": [], "removed": [], "cleared": 0, "count": 2}
    answer = await visitor.http.post("/basket/remove", data={"urn": WEIGHT},
                                     headers={"X-CSRF-Token": token,
                                              "Accept": "application/json"})
    assert answer.json()["removed"] == [WEIGHT] and answer.json()["count"] == 1
    refused = await visitor.http.post("/basket/add", data={"urn": "urn:ddi:fr.gazel:nothing:1"},
                                      headers={"X-CSRF-Token": token,
                                               "Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"field": "urn:ddi:fr.gazel:nothing:1",
                                         "message": "not in the catalogue"}]
    emptied = await visitor.post("/basket/remove", {"all": "1", "next": "/basket"})
    assert emptied.status_code == 303
    assert (await visitor.get("/basket.json")).json()["count"] == 0


async def test_the_basket_survives_a_restart_and_joins_the_account(visitors: Any) -> None:
    first: Visitor = visitors()
    await first.add(KINE)
    token = first.http.cookies[BASKET_COOKIE]
    # the browser restarts: the session cookie is gone, the basket cookie is not
    second: Visitor = visitors()
    second.http.cookies.set(BASKET_COOKIE, token, domain="testserver.local")
    assert (await second.get("/basket.json")).json()["count"] == 1
    await second.add(WEIGHT)
    assert second.http.cookies[BASKET_COOKIE] == token

    await second.sign_in("ana@example.org")
    signed_in = (await second.get("/basket.json")).json()
    assert {v["urn"] for c in signed_in["cohorts"] for w in c["waves"]
            for v in w["variables"]} == {KINE, WEIGHT}
    # the anonymous basket is gone: signed out, the old cookie names an empty basket
    third: Visitor = visitors()
    third.http.cookies.set(BASKET_COOKIE, token, domain="testserver.local")
    assert (await third.get("/basket.json")).json()["count"] == 0
    # and the account keeps it in another browser
    fourth: Visitor = visitors()
    await fourth.sign_in("ana@example.org")
    assert (await fourth.get("/basket.json")).json()["count"] == 2


async def test_version_drift_and_switching_to_the_newer_version(visitors: Any) -> None:
    visitor: Visitor = visitors()
    await visitor.add(SMOKE_V1)
    doc = page(await visitor.get("/basket"))
    drift = text_of(doc.xpath("//div[@class='drift']")[0])
    assert "Version 1 selected; version 2 is newer." in drift
    rows = [[text_of(td) for td in tr.findall("td")]
            for tr in doc.xpath("//div[@class='drift']//table/tbody/tr")]
    assert ["label [en]", "Smoking status", "Smoking status (v2)"] in rows
    line = (await visitor.get("/basket.json")).json()["cohorts"][0]["waves"][0]["variables"][0]
    assert line["newer_version"]["latest_urn"] == SMOKE_V2
    use = doc.xpath(f"//form[.//input[@value='{SMOKE_V2}']]")[0]
    fields = [(i.get("name"), i.get("value")) for i in use.xpath(".//input")]
    assert (await visitor.send(use.get("action"), fields)).status_code == 303
    after = (await visitor.get("/basket.json")).json()
    [line] = after["cohorts"][0]["waves"][0]["variables"]
    assert line["urn"] == SMOKE_V2 and line["newer_version"] is None


async def test_variable_page_button_and_safe_return(visitors: Any) -> None:
    visitor: Visitor = visitors()
    await visitor.token()  # a session: the page shows forms
    doc = page(await visitor.get("/variables/" + WEIGHT))
    [form] = doc.xpath("//main//form[contains(@action,'/basket/add')]")
    fields = dict((i.get("name"), i.get("value")) for i in form.xpath(".//input"))
    assert fields["urn"] == WEIGHT and fields["next"] == "/variables/" + WEIGHT
    # "next" only ever leads back into the site
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = await visitor.post("/basket/add", {"urn": WEIGHT, "next": elsewhere})
        assert answer.headers["location"] == "http://testserver/basket"
    doc = page(await visitor.get("/variables/" + WEIGHT))
    assert doc.xpath("//main//form[contains(@action,'/basket/remove')]")
