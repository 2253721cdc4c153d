"""Escaping and security headers. A cohort published with script injections in its titles,
labels, question texts, categories, names, routing condition and IDs shows them as text:
no element or attribute comes from the published content (the browser test checks that
nothing runs, too)."""

from __future__ import annotations

from urllib.parse import quote

import lxml.html
import pytest
from conftest import PAYLOAD, Client
from support import main_text

ODD_URN = 'urn:ddi:fr.xss:x"><img src=x onerror=window.__pwned=1>:1'
XSS_PAGES = [
    "/", "/cohorts/xss", "/waves/urn:ddi:fr.xss:su-W1", "/instruments/urn:ddi:fr.xss:inst-W1",
    "/questions/urn:ddi:fr.xss:q-SMOKE", "/variables/urn:ddi:fr.xss:var-W1-SMOKE",
    "/variables/" + quote(ODD_URN, safe=":"), "/search?q=" + quote("Smoke? <script>"),
    "/search?q=" + quote(PAYLOAD) + "&group=0", "/search?cohort=xss&group=0",
    "/variables/" + quote("urn:ddi:fr.xss:<script>alert(1)</script>", safe=":"),
]


def _assert_inert(doc: lxml.html.HtmlElement) -> None:
    scripts = doc.xpath("//script")
    assert [s.get("src", "").rsplit("/", 1)[-1] for s in scripts] == ["catalogue.js"]
    assert all(not (s.text or "").strip() for s in scripts)
    assert not doc.xpath("//img | //svg | //iframe | //object | //embed")
    for element in doc.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            assert not value.strip().lower().startswith("javascript:"), (element.tag, value)


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("url", XSS_PAGES)
def test_injected_markup_is_shown_as_text(site: Client, url: str, lang: str) -> None:
    sep = "&" if "?" in url else "?"
    response = site.get(f"{url}{sep}lang={lang}")
    assert response.status_code in (200, 404), response.status_code
    _assert_inert(lxml.html.fromstring(response.text))


def test_payload_is_visible_as_text(site: Client) -> None:
    doc = site.html("/variables/urn:ddi:fr.xss:var-W1-SMOKE?lang=en")
    assert "<script>window.__pwned=1</script>" in main_text(doc)
    odd = site.html("/variables/" + quote(ODD_URN, safe=":") + "?lang=en")
    assert 'x"><img src=x onerror=window.__pwned=1>' in main_text(odd)
    flow = site.html("/instruments/urn:ddi:fr.xss:inst-W1?lang=en")
    assert "a < b && <script>" in main_text(flow)


def test_links_to_odd_urns_work(site: Client) -> None:
    doc = site.html("/waves/urn:ddi:fr.xss:su-W1?lang=en")
    search = site.html("/search?cohort=xss&group=0&kind=variable&lang=en")
    hrefs = [a.get("href") for a in search.xpath("//ol[@class='results']//h3/a")]
    odd = [h for h in hrefs if "x%22%3E%3Cimg" in h]
    assert odd, hrefs
    path = odd[0].split("testserver", 1)[1]
    assert site.get(path).status_code == 200
    assert doc is not None


def test_json_keeps_the_text_as_published(site: Client) -> None:
    body = site.json("/variables/urn:ddi:fr.xss:var-W1-SMOKE.json")
    assert body["variable"]["label"]["en"] == "Label " + PAYLOAD
    response = site.get("/variables/urn:ddi:fr.xss:var-W1-SMOKE.json")
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("url", ["/", "/search.json?q=x", "/nope", "/static/catalogue.css"])
def test_security_headers(site: Client, url: str) -> None:
    headers = site.get(url).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-frame-options"] == "DENY"


def test_no_inline_script_or_style_in_templates(site: Client) -> None:
    for url in ("/", "/search?q=tabac", "/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93"):
        doc = site.html(url)
        assert not [s for s in doc.xpath("//script") if not s.get("src")]
        assert not doc.xpath("//style | //*[@style]")
