"""Unknown URNs, bad page numbers and bad filters: a helpful 404/400 page or the fixed JSON
error shape, never a 500."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import lxml.html
import pytest
from conftest import Client, Published, running
from support import main_text

import catalogue.store

ERROR_KEYS = ["error", "errors", "ok", "status"]

NOT_FOUND = [
    "/variables/urn:ddi:fr.gazel:nope",
    "/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93:7",
    "/variables/not-a-urn",
    "/questions/urn:ddi:x:y:1",
    "/waves/urn:ddi:fr.gazel:nope",
    "/instruments/urn:ddi:fr.gazel:nope",
    "/concepts/urn:ddi:fr.cohortes:nope",
    "/cohorts/nope",
    "/no/such/page",
    "/variables/urn:ddi:fr.gazel:nope.xml",
    "/variables/urn:ddi:fr.gazel:cl-TABAC_STATUT",  # a code list has no page
]
BAD_REQUESTS = [
    "/search?page=0", "/search?page=-1", "/search?page=abc", "/search?page=1.5",
    "/search?page=99999", "/search?q=tabac&page=40", "/search?year=abc",
    "/search?access=secret", "/search?kind=person", "/search?cohort=nope",
    "/search?topic=nope", "/search?wave=urn:ddi:x:y", "/search?page_size=1000",
    "/search?page_size=0", "/search?group=maybe", "/search?q=" + "x" * 600,
    "/concepts/urn:ddi:fr.cohortes:tobacco?page=0",
    "/concepts/urn:ddi:fr.cohortes:tobacco?page=500",
]


def test_error_json_shape_is_pinned(site: Client) -> None:
    body = site.json("/variables/urn:ddi:fr.gazel:nope.json", status=404)
    assert body == {"ok": False, "status": 404, "errors": [],
                    "error": "urn:ddi:fr.gazel:nope is not in the catalogue: check the URN, "
                             "or search for it"}
    bad = site.json("/search.json?page=0", status=400)
    assert bad == {"ok": False, "status": 400, "errors": [],
                   "error": "page must be a positive integer"}


@pytest.mark.parametrize("url", NOT_FOUND)
def test_not_found(site: Client, url: str) -> None:
    doc = site.html(url, status=404)
    assert "Not found" in doc.findtext(".//h1")
    assert doc.xpath("//main//a[contains(@href,'/search')]"), "says where to go next"
    body = site.json(url, status=404, headers={"Accept": "application/json"})
    assert sorted(body) == ERROR_KEYS and body["status"] == 404 and body["error"]


@pytest.mark.parametrize("url", BAD_REQUESTS)
def test_bad_request(site: Client, url: str) -> None:
    doc = site.html(url, status=400)
    assert doc.findtext(".//h1")
    body = site.json(url, status=400, headers={"Accept": "application/json"})
    assert sorted(body) == ERROR_KEYS and body["status"] == 400
    assert body["error"] in main_text(doc)


def test_messages_say_what_to_do(site: Client) -> None:
    old = site.json("/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93:7.json", status=404)
    assert "leave the version out" in old["error"]
    page = site.json("/search.json?q=tabac&page=40", status=400)
    assert "past the last page" in page["error"]
    cohort = site.json("/search.json?cohort=nope", status=400)
    assert "no cohort called 'nope'" in cohort["error"]


def test_method_not_allowed_has_the_same_shape(site: Client) -> None:
    response = site._portal.call(site._client.options, "/search.json")
    assert response.status_code == 405
    assert sorted(response.json()) == ERROR_KEYS


def test_error_page_in_french(site: Client) -> None:
    doc = site.html("/cohorts/nope?lang=fr", status=404)
    assert doc.get("lang") == "fr"
    assert doc.findtext(".//h1") == "Introuvable"
    message = doc.xpath("//p[@class='error-message']/span[@lang='en']")
    assert message, "the English message is marked as English"


def test_a_write_while_the_store_stays_locked_is_a_503_not_a_500(
        published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A visitor's first basket action starts a session (a row) while a large publication
    # holds the store's write lock: past the busy timeout (short here), a clear "busy"
    # answer, in the error page or the JSON error shape.
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
    monkeypatch.setattr(catalogue.store, "BUSY_TIMEOUT_SECONDS", 0.2)
    with running(data, published.schema_dir) as site:
        results = site.html("/search?q=tabac")
        link = results.xpath("//main//a[contains(@class,'basket-button')]/@href")[0]
        assert site.get(link).status_code == 200
        with closing(sqlite3.connect(data / "catalogue.sqlite", isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE publications SET title = title")
            busy = site.get(link)
            busy_json = site.get(link, headers={"Accept": "application/json"})
            conn.execute("ROLLBACK")
        assert busy.status_code == 503
        assert "the store is busy" in main_text(lxml.html.fromstring(busy.text))
        assert busy_json.status_code == 503
        assert sorted(busy_json.json()) == ERROR_KEYS
        assert site.get(link).status_code == 200
