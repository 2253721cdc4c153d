"""Highlighted snippets, built the same way for both engines.

The snippet is taken from the hit's own texts (label first, then question, concepts,
description, categories): the text holding most query words wins. Words are marked when
they match the query the way the index matched them (same word, same stem in the text's
language, prefix, phrase). The text is HTML-escaped; only ``<mark>`` tags are added.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from search.analysis import WORD_PATTERN, Language, language_of
from search.documents import SearchDocument, Texts
from search.plan import Analyze
from search.syntax import ParsedQuery

SNIPPET_CHARS = 240
#: Characters of context kept before the first match when a text is cut.
_LEAD = 60
_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Highlighter:
    plain: frozenset[str]
    prefixes: tuple[str, ...]
    french_stems: frozenset[str]
    english_stems: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]


def highlighter_for(parsed: ParsedQuery, analyze: Analyze) -> Highlighter | None:
    """What to mark for ``parsed``; None when there is nothing to mark (browse)."""
    plain: set[str] = set()
    prefixes: list[str] = []
    french: set[str] = set()
    english: set[str] = set()
    phrases: list[tuple[str, ...]] = []
    for clause in parsed.required:
        for term in clause.options:
            if term.kind == "urn":
                continue
            tokens = analyze("plain", term.text)
            if not tokens:
                continue
            if term.kind == "prefix":
                plain.update(tokens[:-1])
                prefixes.append(tokens[-1])
            elif len(tokens) > 1:
                phrases.append(tuple(tokens))
            elif term.kind == "phrase":
                plain.update(tokens)
            else:
                plain.update(tokens)
                french.update(analyze("fr", term.text))
                english.update(analyze("en", term.text))
    if not (plain or prefixes or phrases):
        return None
    return Highlighter(frozenset(plain), tuple(prefixes), frozenset(french),
                       frozenset(english), tuple(phrases))


class Snippets:
    """The snippets of one search's hits.

    Hits share texts (a label asked in six waves, the same concept, the same answer
    categories) and words: each text's matches and each word's verdict are worked out
    once per search.
    """

    def __init__(self, highlighter: Highlighter | None, analyze: Analyze,
                 max_chars: int = SNIPPET_CHARS) -> None:
        self._highlighter = highlighter
        self._analyze = analyze
        self._max_chars = max_chars
        self._spans: dict[tuple[Language | None, str], list[tuple[int, int]]] = {}
        self._words: dict[tuple[Language | None, str], tuple[str, bool]] = {}

    def __call__(self, document: SearchDocument) -> str:
        """An HTML-safe excerpt of ``document`` with matched words in ``<mark>``."""
        candidates = _candidates(document)
        highlighter = self._highlighter
        best: tuple[int, str, list[tuple[int, int]]] | None = None
        if highlighter is not None:
            # No text can match more distinct words than the query has terms.
            most = len(highlighter.plain) + len(highlighter.prefixes) + len(highlighter.phrases)
            for lang, text in candidates:
                spans = self._matches(text, language_of(lang), highlighter)
                words = len({text[a:b].lower() for a, b in spans})
                if spans and (best is None or words > best[0]):
                    best = (words, text, spans)
                    if words >= most:
                        break
        if best is None:
            return _render(candidates[0][1] if candidates else "", [], self._max_chars)
        return _render(best[1], best[2], self._max_chars)

    def _matches(self, text: str, language: Language | None,
                 highlighter: Highlighter) -> list[tuple[int, int]]:
        key = (language, text)
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = self._find(text, language, highlighter)
        return spans

    def _find(self, text: str, language: Language | None,
              highlighter: Highlighter) -> list[tuple[int, int]]:
        tokens = [(m.start(), m.end(), m.group()) for m in WORD_PATTERN.finditer(text)]
        verdicts = [self._word(language, word, highlighter) for _, _, word in tokens]
        marked = [hit for _, hit in verdicts]
        plains = [plain for plain, _ in verdicts]
        for phrase in highlighter.phrases:
            size = len(phrase)
            for i in range(len(tokens) - size + 1):
                if tuple(plains[i:i + size]) == phrase:
                    marked[i:i + size] = [True] * size
        spans: list[tuple[int, int]] = []
        for (start, end, _), hit in zip(tokens, marked, strict=True):
            if not hit:
                continue
            if spans and not text[spans[-1][1]:start].strip():
                # Adjacent marked words ("tour de taille") read better as one mark.
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def _word(self, language: Language | None, word: str,
              highlighter: Highlighter) -> tuple[str, bool]:
        """(plain form, marked?) of one word of a text in ``language``."""
        key = (language, word)
        verdict = self._words.get(key)
        if verdict is None:
            analyze = self._analyze
            plain = (analyze("plain", word) or [""])[0]
            hit = bool(plain) and (
                plain in highlighter.plain
                or any(plain.startswith(p) for p in highlighter.prefixes)
                or (language != "en" and bool(highlighter.french_stems)
                    and _first(analyze("fr", word)) in highlighter.french_stems)
                or (language != "fr" and bool(highlighter.english_stems)
                    and _first(analyze("en", word)) in highlighter.english_stems))
            verdict = self._words[key] = (plain, hit)
        return verdict


def _candidates(document: SearchDocument) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for group in (document.label, document.question_text, document.concept_labels,
                  document.description):
        texts.extend((lang, text) for lang, text in group if text)
    texts.extend(_joined(document.category_labels))
    return texts


def _joined(texts: Texts) -> list[tuple[str, str]]:
    by_lang: dict[str, list[str]] = {}
    for lang, text in texts:
        if text:
            by_lang.setdefault(lang, []).append(text)
    return [(lang, " · ".join(values)) for lang, values in by_lang.items()]


def _first(tokens: list[str]) -> str:
    return tokens[0] if tokens else ""


def _render(text: str, spans: list[tuple[int, int]], max_chars: int) -> str:
    start, end = 0, len(text)
    if len(text) > max_chars:
        first = spans[0][0] if spans else 0
        start = 0 if first < _LEAD else _word_start(text, first - _LEAD)
        end = min(len(text), start + max_chars)
        if end < len(text):
            end = _word_end(text, end)
    out: list[str] = [_ELLIPSIS] if start > 0 else []
    position = start
    for a, b in spans:
        if a < start or b > end:
            continue
        out.append(_escape(text[position:a]))
        out.append(f"<mark>{_escape(text[a:b])}</mark>")
        position = b
    out.append(_escape(text[position:end]))
    if end < len(text):
        out.append(_ELLIPSIS)
    return "".join(out)


def _escape(text: str) -> str:
    # Snippets are element content: quotes need no escaping there, and stay readable in
    # JSON output.
    return html.escape(text, quote=False)


def _word_start(text: str, index: int) -> int:
    space = text.rfind(" ", 0, index)
    return index if space < 0 else space + 1


def _word_end(text: str, index: int) -> int:
    space = text.rfind(" ", 0, index)
    return index if space <= 0 else space
