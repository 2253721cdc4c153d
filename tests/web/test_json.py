"""The JSON form of every resource: ``.json`` suffix or ``Accept: application/json``,
checked against the OpenAPI description generated from the route declarations."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Client

GAZEL_VAR = "urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93"
RESOURCES = {
    "/": "/index.json",
    "/cohorts/gazel": "/cohorts/gazel.json",
    "/waves/urn:ddi:fr.gazel:su-Q1993": "/waves/urn:ddi:fr.gazel:su-Q1993.json",
    "/instruments/urn:ddi:fr.sample:inst-W1": "/instruments/urn:ddi:fr.sample:inst-W1.json",
    "/questions/urn:ddi:fr.gazel:q-TABAC_STATUT":
        "/questions/urn:ddi:fr.gazel:q-TABAC_STATUT.json",
    f"/variables/{GAZEL_VAR}": f"/variables/{GAZEL_VAR}.json",
    "/concepts": "/concepts.json",
    "/concepts/urn:ddi:fr.cohortes:tobacco": "/concepts/urn:ddi:fr.cohortes:tobacco.json",
    "/search?q=tabac&cohort=gazel": "/search.json?q=tabac&cohort=gazel",
}


@pytest.mark.parametrize("page", sorted(RESOURCES))
def test_suffix_and_accept_header_give_the_same_json(site: Client, page: str) -> None:
    by_suffix = site.json(RESOURCES[page])
    by_accept = site.json(page, headers={"Accept": "application/json"})
    assert by_suffix == by_accept
    html = site.get(page, headers={"Accept": "text/html,application/json;q=0.9"})
    assert html.headers["content-type"].startswith("text/html")
    assert "Accept" in html.headers["vary"]


@pytest.mark.parametrize("page", sorted(RESOURCES))
def test_json_follows_the_openapi_schema(site: Client, page: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = site.json("/api/openapi.json")
    path = RESOURCES[page].split("?")[0]
    operation = next(op["get"] for template, op in document["paths"].items()
                     if _matches(template, path))
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    body = site.json(RESOURCES[page])
    resolver_schema = {**schema, "components": document["components"]}
    jsonschema.validate(body, resolver_schema)


def _matches(template: str, path: str) -> bool:
    prefix, _, rest = template.partition("{")
    if not rest:
        return template == path
    suffix = rest.partition("}")[2]
    return path.startswith(prefix) and path.endswith(suffix) and len(path) > len(prefix)


def test_variable_json(site: Client) -> None:
    body: dict[str, Any] = site.json(f"/variables/{GAZEL_VAR}.json")
    assert body["variable"]["name"] == "TABAC_STATUT_93"
    assert body["variable"]["label"] == {"fr": "Statut tabagique", "en": "Smoking status"}
    assert body["cohort"]["slug"] == "gazel"
    assert body["wave"]["urn"] == "urn:ddi:fr.gazel:su-Q1993:1"
    assert body["years"] == [1993]
    assert body["access"] == "open"
    assert body["question"]["name"] == "TABAC_STATUT"
    categories = body["representation"]["code_list"]["categories"]
    assert categories[0] == {"value": "1", "missing": False,
                             "label": {"fr": "Fumeur régulier",
                                       "en": "Current regular smoker"}}
    assert len(body["other_waves"]) == 5
    assert body["version"]["current"] is True and body["version"]["versions"][0]["version"] == "1"
    assert body["ddi_xml"].endswith(".xml")
    assert body["variable"]["json"].endswith(".json")


def test_sample_variable_json_has_missing_codes_and_versions(site: Client) -> None:
    body = site.json("/variables/urn:ddi:fr.sample:var-W1-SMOKE:1.json")
    assert body["version"]["current"] is False
    assert body["version"]["current_urn"] == "urn:ddi:fr.sample:var-W1-SMOKE:2"
    missing = [c["value"] for c in body["representation"]["code_list"]["categories"]
               if c["missing"]]
    assert missing == ["9"]
    withdrawn = site.json("/variables/urn:ddi:fr.gone:var-W1-SMOKE.json")
    assert withdrawn["version"]["withdrawn"] is True


def test_instrument_json_has_the_routing(site: Client) -> None:
    flow = site.json("/instruments/urn:ddi:fr.sample:inst-W1.json")["flow"]
    assert [s["type"] for s in flow] == ["QuestionConstruct", "IfThenElse",
                                         "QuestionConstruct", "StatementItem",
                                         "QuestionConstruct"]
    assert flow[1]["condition"] == "SMOKE = 1"
    assert [s["branch"] for s in flow[2:4]] == ["then", "else"]


def test_search_json_is_the_cli_shape(site: Client) -> None:
    body = site.json("/search.json?q=tabac&cohort=gazel&group=0&page_size=5")
    assert set(body) >= {"total", "page", "pages", "hits", "facets", "suggestion", "query"}
    assert len(body["hits"]) == 5
    assert all(h["cohort"] == "gazel" for h in body["hits"])
    assert body["facets"]["cohort"]["gazel"] == body["total"]
    assert body["query"] == {"q": "tabac", "filters": {"cohort": ["gazel"]}, "page": 1,
                             "page_size": 5, "group": False}
    grouped = site.json("/search.json?q=tabac&cohort=gazel")
    assert grouped["groups"] and grouped["total"] < body["total"]


def test_home_json(site: Client) -> None:
    body = site.json("/index.json")
    slugs = [c["slug"] for c in body["cohorts"]]
    assert slugs[:4] == ["constances", "gazel", "elfe", "epipage2"]
    assert "gone" not in slugs
    constances = body["cohorts"][0]
    assert constances["participants"] == 200000
    assert constances["variables"] == 543
    assert body["topics"] and body["topics"][0]["variables"] > 0
