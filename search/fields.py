"""The index layout both engines share: field names, analyzers, boosts, and the values
of each field for one document.

Texts go to two groups, ``title`` (label, question text, name) and ``text`` (concepts,
description, categories, topics, instruments, cohort and wave), each indexed three times:
stemmed French, stemmed English (each text in its own language; text of unknown language
in both), and plain (every text, unstemmed, with positions, for prefixes and phrases).
A word found in ``title`` outranks the same word in ``text``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from search.analysis import WORD_PATTERN, Analyzer, accented_form, fold, language_of
from search.documents import SearchDocument, Texts
from search.errors import InvalidDocument
from search.facets import FACETS, LABEL_SEPARATOR, count_field, filter_field

# Keyword fields hold one lower-cased value each, matched exactly.
URN = "urn"
URN_KEY = "urn_key"
NAME = "name"
GROUP = "group"
PUBLICATION = "pub"
#: Browse order (no text): the first bytes of the folded name as an unsigned integer.
SORT = "sort"
#: The group key hashed to an unsigned integer, for engines that read numbers fastest.
GROUP_HASH = "group_hash"
#: Accented words as ``folded<US>as written`` terms, to suggest them with their accents.
ACCENTS = "accents"
#: The document itself, as JSON.
STORED = "doc"

TEXT_GROUPS: tuple[str, ...] = ("title", "text")
TEXT_FIELDS: dict[str, Analyzer] = {
    f"{group}_{analyzer}": analyzer
    for group in TEXT_GROUPS for analyzer in ("fr", "en", "plain")
}
PLAIN_FIELDS: tuple[str, ...] = tuple(f"{group}_plain" for group in TEXT_GROUPS)
STEMMED_FIELDS: tuple[str, ...] = tuple(f for f, a in TEXT_FIELDS.items() if a != "plain")
GROUP_BOOSTS: dict[str, float] = {"title": 3.0, "text": 1.0}
NAME_BOOST = 8.0
URN_BOOST = 10.0

FACET_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(
    field for facet in FACETS for field in (filter_field(facet.name), count_field(facet.name))))


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """The values of every index field for one :class:`SearchDocument`."""

    publication_id: int
    keywords: dict[str, str]
    texts: dict[str, list[str]]
    facets: dict[str, tuple[str, ...]]
    accents: tuple[str, ...]
    sort_key: int
    group_hash: int
    stored: str


def indexed_document(document: SearchDocument) -> IndexedDocument:
    texts: dict[str, list[str]] = {name: [] for name in TEXT_FIELDS}
    _add(texts, "title", document.label)
    _add(texts, "title", document.question_text)
    if document.name:
        texts["title_plain"].append(document.name)
    for group_texts in (document.concept_labels, document.description,
                        document.category_labels):
        _add(texts, "text", group_texts)
    extra = (*document.topics, *document.instruments, document.cohort_label or document.cohort,
             document.wave)
    _add(texts, "text", tuple(("", t) for t in extra if t))

    facets: dict[str, tuple[str, ...]] = {}
    for facet in FACETS:
        facets[filter_field(facet.name)] = facet.values(document)
        if facet.labelled:
            facets[count_field(facet.name)] = facet.counted_terms(document)

    written = " ".join(text for group_texts in (document.label, document.question_text,
                                                document.concept_labels, document.description,
                                                document.category_labels)
                       for _, text in group_texts)
    words = WORD_PATTERN.findall(f"{written} {' '.join(document.topics)}")
    accents = dict.fromkeys(map(_accent_term, words))
    accents.pop("", None)

    group_key = document.effective_group_key
    return IndexedDocument(
        publication_id=document.publication_id,
        keywords={URN: document.urn.lower(), URN_KEY: document.unversioned_urn.lower(),
                  NAME: document.name.lower(), GROUP: group_key},
        texts=texts,
        facets=facets,
        accents=tuple(accents),
        sort_key=_sort_key(document.name or document.label_in("en")),
        group_hash=group_hash(group_key),
        stored=document.to_json(),
    )


def prepare_publication(publication_id: int,
                        documents: Iterable[SearchDocument]) -> list[IndexedDocument]:
    """Every document of one publication, checked to belong to it before anything is written."""
    prepared = []
    for document in documents:
        if document.publication_id != publication_id:
            raise InvalidDocument(f"{document.urn} belongs to publication "
                                  f"{document.publication_id}, not {publication_id}")
        prepared.append(indexed_document(document))
    return prepared


@lru_cache(maxsize=100_000)
def group_hash(group_key: str) -> int:
    """A stable unsigned 63-bit number for a group key (fits signed and unsigned fields)."""
    digest = hashlib.blake2b(group_key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# Catalogues repeat a small vocabulary over and over: caching by word makes indexing
# cost a dictionary look-up per word rather than a fold and a format.
@lru_cache(maxsize=200_000)
def _accent_term(word: str) -> str:
    """``folded<US>written`` for an accented word worth suggesting, else an empty string."""
    pair = accented_form(word)
    return "" if pair is None else f"{pair[0]}{LABEL_SEPARATOR}{pair[1]}"


def _sort_key(text: str) -> int:
    return int.from_bytes(fold(text).encode("utf-8")[:8].ljust(8, b"\0"), "big")


def _add(texts: dict[str, list[str]], group: str, values: Texts) -> None:
    for lang, text in values:
        if not text:
            continue
        language = language_of(lang)
        if language is None:
            texts[f"{group}_fr"].append(text)
            texts[f"{group}_en"].append(text)
        else:
            texts[f"{group}_{language}"].append(text)
        texts[f"{group}_plain"].append(text)
