"""French and English: the page language (?lang=, then the cookie, then Accept-Language),
complete catalogs, and no user-facing text left out of them in the templates."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest
from babel.messages.extract import extract_from_dir
from conftest import Client
from support import text_of

from web.i18n import load_translations, negotiate

WEB = Path(__file__).resolve().parents[2] / "web"
TEMPLATES = WEB / "templates"
#: Attributes whose value a person reads.
READ_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label", "value", "summary")


def test_lang_parameter_is_remembered_in_a_cookie(site: Client) -> None:
    response = site.get("/?lang=fr")
    assert "lang=fr" in response.headers["set-cookie"]
    assert lxml.html.fromstring(response.text).get("lang") == "fr"
    again = site.get("/cohorts/gazel", headers={"Cookie": "lang=fr"})
    assert lxml.html.fromstring(again.text).get("lang") == "fr"
    assert "set-cookie" not in again.headers
    back = site.get("/cohorts/gazel?lang=en", headers={"Cookie": "lang=fr"})
    assert lxml.html.fromstring(back.text).get("lang") == "en"


def test_accept_language_decides_without_parameter_or_cookie(site: Client) -> None:
    french = site.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"})
    assert lxml.html.fromstring(french.text).get("lang") == "fr"
    english = site.get("/", headers={"Accept-Language": "de-DE,en;q=0.5,fr;q=0.4"})
    assert lxml.html.fromstring(english.text).get("lang") == "en"
    unknown = site.get("/?lang=xx", headers={"Accept-Language": "fr"})
    assert lxml.html.fromstring(unknown.text).get("lang") == "fr"
    assert "set-cookie" not in unknown.headers


def test_negotiate() -> None:
    assert negotiate("fr", "en", "en").lang == "fr"
    assert negotiate(None, "fr", "en").lang == "fr"
    assert negotiate(None, None, "en;q=0.1, fr;q=0.9").lang == "fr"
    assert negotiate(None, "zz", None).lang == "en"
    assert negotiate("fr", None, None).remember


def test_interface_strings_are_translated(site: Client) -> None:
    doc = site.html("/search?q=tabac&lang=fr")
    titles = [text_of(h) for h in doc.xpath("//aside[@class='facets']//h3")]
    assert "Cohorte" in titles and "Thème" in titles
    assert doc.findtext(".//h1") == "Rechercher"
    nav = [text_of(a) for a in doc.xpath("//nav[@class='site-nav']//a")]
    assert nav == ["Cohortes", "Thèmes", "Rechercher"]


def test_ddi_texts_follow_the_page_language(site: Client) -> None:
    fr = site.html("/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93?lang=fr")
    en = site.html("/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93?lang=en")
    assert "Statut tabagique" in text_of(fr.find(".//h1"))
    assert "Smoking status" in text_of(en.find(".//h1"))


def _extracted() -> list[str | tuple[str, ...]]:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    return [message for _, _, message, _, _ in extract_from_dir(
        str(WEB), method_map, options_map=options)]


def test_french_catalog_translates_every_message() -> None:
    french = load_translations()["fr"]
    untranslated = []
    for message in _extracted():
        if isinstance(message, tuple):
            singular, plural = message[0], message[1]
            if french.ngettext(singular, plural, 1) == singular and not _same_in_french(
                    singular):
                untranslated.append(singular)
        elif french.gettext(message) == message and not _same_in_french(message):
            untranslated.append(message)
    assert not untranslated, (
        "messages without a French translation; run `python -m web.i18n` and fill "
        f"web/translations/fr/LC_MESSAGES/messages.po: {untranslated}")


def _same_in_french(message: str) -> bool:
    """Messages spelt the same in both languages are translated as themselves."""
    french = load_translations()["fr"]
    catalog = getattr(french, "_catalog", {})
    return message in catalog or (message, 0) in catalog


_JINJA = re.compile(r"{#.*?#}|{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}|{{.*?}}|{%.*?%}",
                    re.DOTALL)


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_text_outside_the_catalogs(template: str) -> None:
    """Strip Jinja tags, expressions and {% trans %} blocks: no words may remain, in text
    nor in attributes people read."""
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    stripped = _JINJA.sub(" ", source)
    fragment = lxml.html.fragment_fromstring(
        stripped.replace("<!doctype html>", ""), create_parent="div")
    words = [t for t in fragment.itertext() if re.search(r"[A-Za-zÀ-ÿ]{2,}", t)]
    assert not words, f"{template}: text not in a {{% trans %}} block: {words}"
    for element in fragment.iter():
        for attribute in READ_ATTRIBUTES:
            value = element.get(attribute) or ""
            assert not re.search(r"[A-Za-zÀ-ÿ]{2,}", value), (
                f"{template}: untranslated {attribute}={value!r}")
