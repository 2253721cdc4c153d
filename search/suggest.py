""""Did you mean": correct the words of a query that the index does not know.

Only words that find nothing are corrected: a word found as written or through its stem
(``allergies`` finds ``allergie``) is left alone. The vocabulary is the index itself: the
words of the plain (unstemmed, folded) fields, plus the accented forms kept in the
``accents`` field of :mod:`search.fields`, so it is replaced with each publication and
never drifts from the documents. Candidates are
compared folded (accents do not count as errors) and offered as written
(``tabagism`` -> ``tabagisme``, ``activte`` -> ``activité``). The closest word wins
(restricted Damerau-Levenshtein distance, at most 1 for words of up to 4 letters, else
2), then the one found in most documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from search.analysis import MIN_VOCABULARY_LENGTH, STOP_WORDS, WORD_PATTERN, fold

_TOKEN = re.compile(r"\S+")
_OPERATORS = frozenset({"OR", "AND", "NOT"})


class Vocabulary(Protocol):
    def is_known(self, folded: str) -> bool:
        """True when some document holds ``folded``, as written or through its stem (a
        search for it finds documents)."""
        ...

    def words_with_prefix(self, prefix: str) -> list[tuple[str, str, int]]:
        """``(folded, as written, document count)`` for suggestable words starting
        ``prefix``."""
        ...

    def is_live(self, folded: str) -> bool:
        """True when a document not deleted holds ``folded``.

        Counts may include deleted documents (whoosh keeps them until segments merge):
        a correction is only offered once this confirms it.
        """
        ...


def suggest_correction(text: str, vocabulary: Vocabulary) -> str | None:
    """``text`` with its unknown words replaced by the closest known ones, or None."""
    changed = False
    pieces: list[str] = []
    position = 0
    for token in _TOKEN.finditer(text):
        raw = token.group()
        if raw in _OPERATORS or raw.endswith("*") or raw.lower().startswith(("urn:", "-urn:")):
            continue
        for word in WORD_PATTERN.finditer(raw):
            correction = _correct(word.group(), vocabulary)
            if correction is None:
                continue
            start = token.start() + word.start()
            pieces.append(text[position:start])
            pieces.append(correction)
            position = token.start() + word.end()
            changed = True
    if not changed:
        return None
    pieces.append(text[position:])
    return "".join(pieces)


def _correct(word: str, vocabulary: Vocabulary) -> str | None:
    folded = fold(word)
    if (len(folded) < MIN_VOCABULARY_LENGTH or not folded.isalpha() or folded in STOP_WORDS
            or vocabulary.is_known(folded)):
        return None
    limit = max_distance(folded)
    for prefix in (folded[:2], folded[:1]):
        candidates = vocabulary.words_with_prefix(prefix)
        while candidates:
            best = best_correction(folded, candidates, limit)
            if best is None:
                break
            best_folded = next(c for c, w, _ in candidates if w == best)
            if vocabulary.is_live(best_folded):
                return best[:1].upper() + best[1:] if word[:1].isupper() else best
            candidates = [c for c in candidates if c[1] != best]
    return None


def max_distance(folded: str) -> int:
    return 1 if len(folded) <= 4 else 2


def best_correction(folded: str, candidates: Iterable[tuple[str, str, int]],
                    limit: int) -> str | None:
    """The written form of the closest, then most frequent, ``(folded, written, count)``."""
    best: tuple[int, int, str] | None = None
    for candidate, written, count in candidates:
        if candidate == folded or abs(len(candidate) - len(folded)) > limit:
            continue
        distance = edit_distance(folded, candidate, limit)
        if distance > limit:
            continue
        key = (distance, -count, written)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance between ``a`` and ``b``, capped at ``limit + 1``."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            value = min(previous[j] + 1, current[j - 1] + 1,
                        previous[j - 1] + (char != b[j - 1]))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)
