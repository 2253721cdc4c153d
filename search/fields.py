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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from search.analysis import WORD_PATTERN, Analyzer, accented_form, fold, language_of
from search.documents import SearchDocument, Texts
from search.errors import InvalidDocument
from search.facets import FACETS, LABEL_SEPARATOR, FacetSpec, count_field, filter_field

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
#: Each facet with its filtering field and, when it has a labelled twin, its counting field.
_FACET_PLAN: tuple[tuple[FacetSpec, str, str | None], ...] = tuple(
    (facet, filter_field(facet.name), count_field(facet.name) if facet.labelled else None)
    for facet in FACETS)


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
    # Called once per document of every publication written: plain loops and per-text
    # caches, no helper calls per value (it was 150 us a document, 40% of a rebuild).
    title_fr: list[str] = []
    title_en: list[str] = []
    title_plain: list[str] = []
    text_fr: list[str] = []
    text_en: list[str] = []
    text_plain: list[str] = []
    _split(document.label, title_fr, title_en, title_plain)
    _split(document.question_text, title_fr, title_en, title_plain)
    if document.name:
        title_plain.append(document.name)
    for group_texts in (document.concept_labels, document.description,
                        document.category_labels):
        _split(group_texts, text_fr, text_en, text_plain)
    for extra in (*document.topics, *document.instruments,
                  document.cohort_label or document.cohort, document.wave):
        if extra:  # of no known language: both stemmed fields
            text_fr.append(extra)
            text_en.append(extra)
            text_plain.append(extra)
    texts = {"title_fr": title_fr, "title_en": title_en, "title_plain": title_plain,
             "text_fr": text_fr, "text_en": text_en, "text_plain": text_plain}

    facets: dict[str, tuple[str, ...]] = {}
    for facet, filter_name, count_name in _FACET_PLAN:
        facets[filter_name] = facet.values(document)
        if count_name is not None:
            facets[count_name] = facet.counted_terms(document)

    accents: dict[str, None] = {}
    for group_texts in (document.label, document.question_text, document.concept_labels,
                        document.description, document.category_labels):
        for _, text in group_texts:
            if not text.isascii():
                accents.update(dict.fromkeys(_accent_terms(text)))
    for topic in document.topics:
        if not topic.isascii():
            accents.update(dict.fromkeys(_accent_terms(topic)))

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


#: What an engine indexes: a document, or its indexed form prepared elsewhere (by the
#: helper process of :mod:`search.parallel`).
Indexable = SearchDocument | IndexedDocument


def prepared(document: Indexable) -> IndexedDocument:
    return document if isinstance(document, IndexedDocument) else indexed_document(document)


def checked_documents(publication_id: int,
                      documents: Iterable[Indexable]) -> Iterator[IndexedDocument]:
    """The documents of one publication, prepared one by one as they come (a publication
    of 100,000 variables is never held whole); a document of another publication raises
    :class:`InvalidDocument`, and the engine then discards what it had written."""
    for document in documents:
        if document.publication_id != publication_id:
            name = document.urn if isinstance(document, SearchDocument) else (
                document.keywords[URN])
            raise InvalidDocument(f"{name} belongs to publication "
                                  f"{document.publication_id}, not {publication_id}")
        yield prepared(document)


@lru_cache(maxsize=100_000)
def group_hash(group_key: str) -> int:
    """A stable unsigned 63-bit number for a group key (fits signed and unsigned fields)."""
    digest = hashlib.blake2b(group_key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# Catalogues repeat a small vocabulary over and over (labels asked in every wave, answer
# categories, concepts): each accented text is looked at once.
@lru_cache(maxsize=100_000)
def _accent_terms(text: str) -> tuple[str, ...]:
    """``folded<US>written`` for each accented word of ``text`` worth suggesting, in order."""
    terms: dict[str, None] = {}
    for word in WORD_PATTERN.findall(text):
        pair = accented_form(word)
        if pair is not None:
            terms[f"{pair[0]}{LABEL_SEPARATOR}{pair[1]}"] = None
    return tuple(terms)


def _sort_key(text: str) -> int:
    return int.from_bytes(fold(text).encode("utf-8")[:8].ljust(8, b"\0"), "big")


def _split(values: Texts, french: list[str], english: list[str], plain: list[str]) -> None:
    """Texts to their language's stemmed field (both when the language is unknown), and
    every text to the plain field."""
    for lang, text in values:
        if not text:
            continue
        language = language_of(lang)
        if language is None:
            french.append(text)
            english.append(text)
        elif language == "fr":
            french.append(text)
        else:
            english.append(text)
        plain.append(text)
