"""The query language: how typed text is read (no index needed)."""

from __future__ import annotations

import pytest

from search.syntax import MAX_CLAUSES, MAX_QUERY_CHARS, Clause, Term, parse_query


def test_words_are_required_and_stop_words_optional() -> None:
    parsed = parse_query("consommation de tabac")
    assert parsed.required == (Clause((Term("word", "consommation"),)),
                               Clause((Term("word", "tabac"),)))
    assert parsed.optional == (Term("word", "de"),)


def test_operators_prefixes_phrases_and_urns() -> None:
    parsed = parse_query('tabac OR alcool -passif NOT "tour de" bmi* urn:ddi:a:b:1')
    assert parsed.required == (
        Clause((Term("word", "tabac"), Term("word", "alcool"))),
        Clause((Term("prefix", "bmi"),)),
        Clause((Term("urn", "urn:ddi:a:b:1"),)),
    )
    assert parsed.excluded == (Term("word", "passif"), Term("phrase", "tour de"))


@pytest.mark.parametrize("text", ["", "   ", "*"])
def test_blank_text_browses(text: str) -> None:
    assert parse_query(text).is_browse


@pytest.mark.parametrize("text", ["AND OR (", "()", "-", '""', "OR", ":::"])
def test_text_without_words_is_unsearchable_not_browse(text: str) -> None:
    parsed = parse_query(text)
    assert not parsed.is_browse
    assert parsed.unsearchable
    assert parsed.warnings == ("the query has no words to search for",)


def test_broken_syntax_is_read_as_words() -> None:
    assert parse_query('"unbalanced').required == (Clause((Term("phrase", "unbalanced"),)),)
    assert parse_query("title:").required == (Clause((Term("word", "title:"),)),)
    assert parse_query("(tabac)").required == (Clause((Term("word", "tabac"),)),)
    assert parse_query("t*").required == (Clause((Term("word", "t"),)),)


def test_long_queries_are_cut_with_a_warning() -> None:
    parsed = parse_query("tabac " * 2000)
    assert len(parsed.required) == MAX_CLAUSES
    assert parsed.warnings == (
        f"the query was cut to its first {MAX_QUERY_CHARS} characters",
        f"the query was cut to its first {MAX_CLAUSES} terms",
    )
