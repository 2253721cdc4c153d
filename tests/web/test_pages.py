"""Every page, in both languages, read with a real HTML parser."""

from __future__ import annotations

import pytest
from conftest import Client
from support import links, main_text, text_of

GAZEL_VAR = "urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93"
GAZEL_Q = "urn:ddi:fr.gazel:q-TABAC_STATUT"
PAGES = [
    "/", "/cohorts/gazel", "/waves/urn:ddi:fr.gazel:su-Q1993:1",
    "/waves/urn:ddi:fr.gazel:dc-Q1993", "/instruments/urn:ddi:fr.gazel:inst-Q1993-QA",
    f"/questions/{GAZEL_Q}", f"/variables/{GAZEL_VAR}", "/concepts",
    "/concepts/urn:ddi:fr.cohortes:tobacco", "/search?q=tabac", "/search",
    "/instruments/urn:ddi:fr.sample:inst-W1", "/variables/urn:ddi:fr.sample:var-W1-SMOKE:1",
]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("url", PAGES)
def test_every_page_in_both_languages(site: Client, url: str, lang: str) -> None:
    sep = "&" if "?" in url else "?"
    doc = site.html(f"{url}{sep}lang={lang}")
    assert doc.get("lang") == lang
    assert len(doc.findall(".//h1")) == 1
    assert doc.get_element_by_id("main") is not None
    skip = doc.find(".//a[@class='skip-link']")
    assert skip is not None and skip.get("href") == "#main"
    switch = doc.xpath("//nav[contains(@class,'lang-switch')]//a")
    assert {a.get("hreflang") for a in switch} == {"fr", "en"}
    current = [a for a in switch if a.get("aria-current")]
    assert [a.get("hreflang") for a in current] == [lang]
    if url != "/":
        crumbs = doc.xpath("//nav[contains(@class,'breadcrumbs')]//li")
        assert crumbs, "every page but home has breadcrumbs"
    json_link = doc.xpath("//link[@rel='alternate'][@type='application/json']/@href")
    assert json_link and ".json" in json_link[0]


def test_home_lists_cohorts_with_figures(site: Client) -> None:
    doc = site.html("/?lang=en")
    cards = doc.xpath("//ul[@class='cards']/li")
    titles = [text_of(c.find(".//h3")) for c in cards]
    assert titles[:4] == ["Constances", "GAZEL", "Elfe", "Epipage 2"]
    assert "Withdrawn cohort" not in titles
    gazel = cards[1]
    figures = {text_of(d.find("dt")): text_of(d.find("dd")) for d in gazel.xpath(".//dl/div")}
    assert figures["Participants"] == "20,625"
    assert figures["Waves"] == "11"
    assert int(figures["Variables"].replace(",", "")) == 509
    assert int(figures["Topics"]) > 5
    french = site.html("/?lang=fr").xpath("//ul[@class='cards']/li")[1]
    assert "20\u202f625" in text_of(french) or "20 625" in text_of(french)


def test_cohort_page(site: Client) -> None:
    doc = site.html("/cohorts/gazel?lang=en")
    text = main_text(doc)
    assert "EDF-GDF" in text
    waves = doc.xpath("//ol[@class='timeline']/li//h3/a")
    assert len(waves) == 11 and "1989 inclusion questionnaire" in text_of(waves[0])
    assert any("/instruments/urn:ddi:fr.gazel:inst-Q1989-QA:1" in h for h in links(doc))
    topics = doc.xpath("//section[@aria-labelledby='topics-title']//li")
    assert any("Tobacco" in text_of(t) for t in topics)


def test_wave_page_from_study_unit_and_data_collection(site: Client) -> None:
    by_study = site.html("/waves/urn:ddi:fr.gazel:su-Q1993?lang=en")
    by_collection = site.html("/waves/urn:ddi:fr.gazel:dc-Q1993:1?lang=en")
    for doc in (by_study, by_collection):
        assert text_of(doc.find(".//h1")) == "1993 annual questionnaire"
        assert "Self-administered questionnaire" in main_text(doc)
        assert any("inst-Q1993-QA" in h for h in links(doc))
    assert by_collection.xpath("//li[@class='highlight']")
    assert "1993" in main_text(by_study)
    nav = by_study.xpath("//nav[@class='prev-next']/a/@rel")
    assert nav == ["prev", "next"]


def test_questionnaire_shows_routing(site: Client) -> None:
    doc = site.html("/instruments/urn:ddi:fr.sample:inst-W1?lang=en")
    steps = [text_of(li) for li in doc.xpath("//ol[@class='flow']/li")]
    assert steps[0].startswith("SMOKE Do you smoke?")
    assert "Routing: if SMOKE = 1" in steps[1]
    assert steps[2].startswith("if yes CIGS")
    assert steps[3] == "otherwise Go to the next question."
    assert steps[4].startswith("AGE")
    depths = [li.get("class") for li in doc.xpath("//ol[@class='flow']/li")]
    assert "depth-1" in depths[2] and "depth-0" in depths[0]


def test_question_page(site: Client) -> None:
    doc = site.html(f"/questions/{GAZEL_Q}?lang=en")
    assert "Do you smoke, or have you ever smoked, tobacco?" in text_of(doc.find(".//h1"))
    rows = doc.xpath("//table[@class='by-wave']/tbody/tr")
    assert len(rows) == 6
    assert "TABAC_STATUT_89" in text_of(rows[0]) and "1989" in text_of(rows[0])
    asked = doc.xpath("//section[@aria-labelledby='asked-title']//li")
    assert len(asked) == 6
    codes = doc.xpath("//table[@class='codes']/tbody/tr")
    assert [text_of(r.find("td")) for r in codes][:2] == ["1", "2"]


def test_variable_page(site: Client) -> None:
    doc = site.html(f"/variables/{GAZEL_VAR}?lang=en")
    text = main_text(doc)
    for expected in ("TABAC_STATUT_93", "Smoking status", "GAZEL", "1993 annual questionnaire",
                     "Do you smoke, or have you ever smoked, tobacco?", "Current regular smoker",
                     "urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93:1", "Open access", "Tobacco"):
        assert expected in text, expected
    others = doc.xpath("//table[@class='by-wave']/tbody/tr")
    assert len(others) == 5
    assert not any("TABAC_STATUT_93" in text_of(r) for r in others)
    download = doc.xpath("//a[@download]/@href")
    assert download and download[0].endswith(".xml")


def test_variable_missing_codes_versions_universe_and_access(site: Client) -> None:
    doc = site.html("/variables/urn:ddi:fr.sample:var-W1-SMOKE?lang=en")
    missing = doc.xpath("//table[@class='codes']/tbody/tr[@class='missing']")
    assert [text_of(r.find("td")) for r in missing] == ["9"]
    assert "Smoking status (v2)" in main_text(doc)
    versions = doc.xpath("//ul[@class='versions']/li")
    assert [text_of(v).split()[0] for v in versions] == ["2", "1"]
    assert "Everyone" in main_text(doc)
    assert doc.xpath("//table[@class='by-wave']//a[contains(@href,'var-W2-SMOKE')]")
    old = site.html("/variables/urn:ddi:fr.sample:var-W1-SMOKE:1?lang=en")
    notice = old.xpath("//div[contains(@class,'notice')]")
    assert notice and "A newer version exists" in text_of(notice[0])
    assert "Smoking status" in main_text(old) and "(v2)" not in text_of(old.find(".//h1"))
    casd = site.html("/variables/urn:ddi:fr.sample:var-W1-AGE?lang=en")
    assert "CASD" in text_of(casd.xpath("//p[@class='kicker']")[0])
    cigs = site.html("/variables/urn:ddi:fr.sample:var-W1-CIGS?lang=en")
    assert "99" in main_text(cigs)


def test_other_language_text_is_marked(site: Client) -> None:
    doc = site.html("/variables/urn:ddi:fr.sample:var-W1-AGE?lang=fr")
    marked = doc.xpath("//h1//span[@lang='en']")
    assert marked and text_of(marked[0]) == "Age at interview"
    assert not doc.xpath("//h1//span[@lang='fr']")


def test_concepts(site: Client) -> None:
    doc = site.html("/concepts?lang=en")
    items = doc.xpath("//ul[@class='topic-list']/li")
    assert any("Tobacco" in text_of(i) for i in items)
    concept = site.html("/concepts/urn:ddi:fr.cohortes:tobacco?lang=en")
    title = text_of(concept.find(".//h2[@id='variables-title']"))
    assert "variables on this topic" in title
    cohorts = [text_of(li) for li in concept.xpath("//section//ul[@class='inline-list']/li")]
    assert any(c.startswith("GAZEL") for c in cohorts)
    assert concept.xpath("//ul[@class='results']/li")


def test_withdrawn_items_stay_reachable_with_a_notice(site: Client) -> None:
    doc = site.html("/variables/urn:ddi:fr.gone:var-W1-SMOKE:1?lang=en")
    notice = doc.xpath("//div[contains(@class,'notice')]")
    assert notice and "withdrawn" in text_of(notice[0])
    home = site.html("/?lang=en")
    assert "Withdrawn cohort" not in main_text(home)
    site.html("/cohorts/gone", status=404)
    results = site.json("/search.json?q=smoking&page_size=100")
    assert not any("fr.gone" in h["urn"] for h in results["hits"])


def test_wrong_kind_redirects_to_the_right_page(site: Client) -> None:
    response = site.get(f"/variables/{GAZEL_Q}")
    assert response.status_code == 302
    assert response.headers["location"].endswith(f"/questions/{GAZEL_Q}")
    response = site.get(f"/variables/{GAZEL_Q}.json")
    assert response.headers["location"].endswith(f"/questions/{GAZEL_Q}.json")


def test_ddi_fragment_download(site: Client) -> None:
    response = site.get(f"/variables/{GAZEL_VAR}.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "attachment" in response.headers["content-disposition"]
    from lxml import etree

    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "Variable"
    assert root.findtext("{ddi:reusable:3_3}ID") == "var-Q1993-TABAC_STATUT_93"
    assert site.get(f"/questions/{GAZEL_Q}.xml").status_code == 200
