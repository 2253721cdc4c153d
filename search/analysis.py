"""Text analysis shared by both engines: words, accent folding, stop words, languages.

Each engine builds its own analyzer chain (tantivy in Rust, whoosh in Python) from the
same choices made here: words are runs of letters and digits (``BMI_V1`` is ``bmi`` +
``v1``), lower-cased, folded to ASCII *before* stemming (so that ``activite`` and
``activité`` reach the same stem), stop words removed, then stemmed with the Snowball
stemmer of the text's language. An unstemmed ("plain") analysis keeps every word, for
prefixes, phrases and exact matches.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

from catalogue.model import primary_language

Language = Literal["fr", "en"]
#: The analyzers an engine provides: stemmed French, stemmed English, plain (unstemmed).
Analyzer = Literal["fr", "en", "plain"]

LANGUAGES: tuple[Language, ...] = ("fr", "en")
SNOWBALL_NAMES: dict[Language, str] = {"fr": "french", "en": "english"}

#: Letters and digits; the underscore separates words, like tantivy's simple tokenizer.
WORD_PATTERN = re.compile(r"[^\W_]+")
#: Longer tokens are dropped: they are never words, and they bloat the term dictionary.
MAX_TOKEN_LENGTH = 40
#: Words offered by "did you mean" are at least this long and hold no digit.
MIN_VOCABULARY_LENGTH = 3

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d",
                            "þ": "th", "ð": "d", "ı": "i"})


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents and ligatures: ``Œuvre Été`` -> ``oeuvre ete``."""
    text = text.lower().translate(_LIGATURES)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return WORD_PATTERN.findall(text)


@lru_cache(maxsize=1024)
def language_of(tag: str) -> Language | None:
    """``fr``/``en`` for a French or English ``xml:lang`` tag, None for any other."""
    primary = primary_language(tag)
    if primary == "fr":
        return "fr"
    if primary == "en":
        return "en"
    return None


def accented_form(word: str) -> tuple[str, str] | None:
    """(folded, lower-cased) when ``word`` is a suggestable word with accents, else None.

    "Did you mean" takes its words from the plain (folded) fields; these pairs give
    back the accents (``activite`` is offered as ``activité``).
    """
    if not MIN_VOCABULARY_LENGTH <= len(word) <= MAX_TOKEN_LENGTH or word.isascii():
        return None
    written = word.lower()
    folded = fold(written)
    if folded == written or not written.isalpha() or folded in STOP_WORDS:
        return None
    return folded, written


def is_suggestable(folded: str) -> bool:
    """Words offered as corrections: letters only, long enough, not stop words."""
    return (MIN_VOCABULARY_LENGTH <= len(folded) <= MAX_TOKEN_LENGTH and folded.isalpha()
            and folded not in STOP_WORDS)


# Function words only: verb forms such as "été" (also "summer") stay searchable.
_FRENCH = """
a afin ai au aucun aussi autre aux avec c ca ce cela celle celles celui ces cet cette ceux
chaque chez comme d dans de des donc dont du elle elles en entre est et etc eux il ils j je
l la le les leur leurs lui m ma mais me meme mes moi mon n ne ni nos notre nous on ont ou
par parmi pas pendant peu plus pour pourquoi qu quand que quel quelle quelles quels qui
s sa sans se ses si son sont sous sur t ta te tes toi ton tous tout toute toutes tres tu
un une vers vos votre vous y
"""
_ENGLISH = """
a about after all also an and any are as at be been before being between both but by can
could did do does during each either for from had has have he her hers him his how i if
in into is it its me more most my no nor not of on or other our ours over per she should
so some such than that the their theirs them then there these they this those through to
too under until up very was we were what when where which while who whom why will with
would you your yours
"""
STOP_WORDS_FR: frozenset[str] = frozenset(_FRENCH.split())
STOP_WORDS_EN: frozenset[str] = frozenset(_ENGLISH.split())
STOP_WORDS: frozenset[str] = STOP_WORDS_FR | STOP_WORDS_EN
STOP_WORDS_BY_LANGUAGE: dict[Language, frozenset[str]] = {"fr": STOP_WORDS_FR,
                                                          "en": STOP_WORDS_EN}
