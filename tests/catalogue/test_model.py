"""Texts in several languages: how pages and documents pick one."""

from __future__ import annotations

from catalogue.model import LangText, primary_language


def test_a_text_is_found_by_its_primary_language_whatever_the_case_or_region() -> None:
    text = LangText((("fr-FR", "Âge"), ("EN_gb", "Age"), ("de", "")))
    assert text.get("fr") == text.get("FR") == text.get("fr-CA") == "Âge"
    assert text.get("en") == text.get("en-US") == "Age"
    assert text.get("de") is None  # present, but empty
    assert text.get("es") is None
    assert text.best("es", "en") == "Age"
    assert text.best("es") == "Âge"


def test_a_text_is_true_when_one_of_its_languages_says_something() -> None:
    assert not LangText()
    assert not LangText((("fr", ""), ("en", "")))
    assert LangText((("fr", ""), ("en", "Age")))


def test_primary_languages_stay_right_for_many_tags() -> None:
    # Tags come from published files: however many there are, each is read right.
    tags = [f"x{n}-Region{n}" for n in range(3000)]
    assert [primary_language(t) for t in tags] == [f"x{n}" for n in range(3000)]
    assert [primary_language(t) for t in reversed(tags)] == [f"x{n}" for n in reversed(
        range(3000))]
    assert primary_language(" FR_fr ") == "fr"
