"""The search page: facets as links with counts, highlights, pagination, grouping by
question, "did you mean"."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Client
from support import text_of

from web.views.search import facet_groups


def _query(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def test_facets_are_links_that_add_and_remove_filters(site: Client) -> None:
    doc = site.html("/search?q=tabac&lang=en")
    gazel = doc.xpath("//section[@aria-labelledby='facet-cohort']//a[contains(., 'GAZEL')]")[0]
    count = int(text_of(gazel.find(".//span[@class='count']")).replace(",", ""))
    assert _query(gazel.get("href")) == {"q": ["tabac"], "cohort": ["gazel"]}
    filtered = site.html(urlsplit(gazel.get("href")).path + "?" +
                         urlsplit(gazel.get("href")).query + "&group=0&lang=en")
    total = text_of(filtered.find(".//h2[@id='results-title']"))
    assert total == f"{count} documents"
    selected = filtered.xpath("//a[@aria-current='true'][contains(@class,'selected')]")
    assert selected and "cohort" not in _query(selected[0].get("href"))
    remove = filtered.xpath("//ul[@class='active-filters']//a")
    assert len(remove) == 1 and "cohort" not in _query(remove[0].get("href"))
    # a second value of the same facet widens the search (OR), kept in the links
    elfe = filtered.xpath("//section[@aria-labelledby='facet-cohort']//a[contains(., 'Elfe')]")
    assert _query(elfe[0].get("href"))["cohort"] == ["gazel", "elfe"]


def test_results_are_highlighted_and_grouped_by_question(site: Client) -> None:
    doc = site.html("/search?q=tabac&cohort=gazel&lang=en")
    first = doc.xpath("//ol[@class='results']/li")[0]
    assert first.xpath(".//mark"), "matched words are marked"
    members = first.xpath(".//ul[@class='members']/li/a")
    assert len(members) == 6 and all("/variables/" in a.get("href") for a in members)
    toggle = doc.xpath("//p[@class='group-toggle']/a")[0]
    assert _query(toggle.get("href"))["group"] == ["0"]
    flat = site.html("/search?q=tabac&cohort=gazel&group=0&lang=en")
    assert not flat.xpath("//ul[@class='members']")


def test_group_members_link_each_variable_by_its_wave(site: Client) -> None:
    doc = site.html("/search?q=tabac&cohort=gazel&lang=en")
    members = doc.xpath("//ol[@class='results']/li[1]//ul[@class='members']/li/a")
    assert len(members) > 1
    for link in members:
        variable = site.json(link.get("href") + ".json?lang=en")
        name = text_of(link.find("code"))
        assert variable["variable"]["name"] == name
        wave = dict(variable["wave"]["label"])["en"]
        assert text_of(link) == f"{name} {wave}"


def test_the_json_form_builds_no_links_for_the_page(
        site: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Facet links, snippets and basket buttons are the HTML's: the JSON form skips them
    (they were most of its time)."""
    calls: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("facet_groups")
        return facet_groups(*args, **kwargs)

    monkeypatch.setattr("web.views.search.facet_groups", counted)
    # a page size no other test asks for: neither form can come from the page cache
    body = site.json("/search.json?q=tabac&cohort=elfe&page_size=7&lang=en")
    assert body["groups"] and body["facets"]["cohort"]["elfe"] > 0
    assert calls == []
    site.html("/search?q=tabac&cohort=elfe&page_size=7&lang=en")
    assert calls == ["facet_groups"]


def test_pagination(site: Client) -> None:
    doc = site.html("/search?q=tabac&group=0&lang=en")
    pages = doc.xpath("//nav[@class='pagination']//a")
    assert pages[0].get("aria-current") == "page"
    numbers = [text_of(a).replace("Page ", "") for a in pages]
    assert numbers[:2] == ["1", "2"]
    second = site.html("/search?q=tabac&group=0&page=2&lang=en")
    start = second.xpath("//ol[@class='results']/@start")
    assert start == ["21"]
    current = second.xpath("//nav[@class='pagination']//a[@aria-current='page']")
    assert text_of(current[0]) == "2"


def test_did_you_mean(site: Client) -> None:
    doc = site.html("/search?q=tabbac&lang=en")
    suggestion = doc.xpath("//p[@class='did-you-mean']/a")
    assert suggestion and text_of(suggestion[0]) == "tabac"
    assert _query(suggestion[0].get("href"))["q"] == ["tabac"]
    assert site.json("/search.json?q=tabbac")["suggestion"] == "tabac"


def test_empty_query_browses_everything(site: Client) -> None:
    doc = site.html("/search?lang=fr")
    assert doc.xpath("//ol[@class='results']/li")
    assert "résultats" in text_of(doc.find(".//h2[@id='results-title']"))
    kinds = doc.xpath("//section[@aria-labelledby='facet-kind']//a//span[@class='facet-label']")
    assert [text_of(k) for k in kinds][:2] == ["Variables", "Questions"]


def test_facet_labels_follow_the_language(site: Client) -> None:
    en = site.html("/search?q=tabac&lang=en")
    fr = site.html("/search?q=tabac&lang=fr")
    wave = "//section[@aria-labelledby='facet-wave']//span[@class='facet-label']"
    assert any("1993 annual questionnaire" in text_of(w) for w in en.xpath(wave))
    assert any("Questionnaire annuel 1993" in text_of(w) for w in fr.xpath(wave))
    topic = "//section[@aria-labelledby='facet-topic']//span[@class='facet-label']"
    assert "Tabac" in [text_of(t) for t in fr.xpath(topic)]
