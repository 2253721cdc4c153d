"""What the catalogue indexes for a variable, a question or a study.

A :class:`SearchDocument` carries everything the index needs (texts in each language,
facet values, grouping key) and everything a result page needs to render a hit (labels
in French and English, cohort, wave, URN, kind, name), so that showing a hit never needs
another lookup in the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import orjson

from catalogue.codec import compact_json
from catalogue.model import parse_urn, primary_language
from search.errors import InvalidDocument

DocumentKind = Literal["variable", "question", "study"]
Access = Literal["open", "casd"]
#: ``((lang, text), ...)`` in document order; ``lang`` as published ("" when unknown).
Texts = tuple[tuple[str, str], ...]

DOCUMENT_KINDS: tuple[str, ...] = get_args(DocumentKind)
ACCESS_LEVELS: tuple[str, ...] = get_args(Access)


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One indexed item. Build it with keywords; texts are ``(lang, text)`` tuples.

    ``group_key`` is the unversioned URN of the question that the item shares with the
    same question asked in other waves; an empty key (a variable asked by no question)
    makes the item a group of its own.
    """

    urn: str
    kind: DocumentKind
    publication_id: int
    name: str = ""
    label: Texts = ()
    question_text: Texts = ()
    description: Texts = ()
    category_labels: Texts = ()
    concept_labels: Texts = ()
    cohort: str = ""
    cohort_label: str = ""
    wave: str = ""
    wave_urn: str = ""
    years: tuple[int, ...] = ()
    topics: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    response_type: str = ""
    access: Access = "open"
    group_key: str = ""

    def __post_init__(self) -> None:
        parts = parse_urn(self.urn)
        if parts is None or parts.version is None:
            raise InvalidDocument(f"urn must look like urn:ddi:agency:id:version, got {self.urn!r}")
        if self.kind not in DOCUMENT_KINDS:
            raise InvalidDocument(f"kind must be one of {', '.join(DOCUMENT_KINDS)}, "
                                  f"got {self.kind!r}")
        if self.access not in ACCESS_LEVELS:
            raise InvalidDocument(f"access must be open or casd, got {self.access!r}")
        if isinstance(self.publication_id, bool) or not isinstance(self.publication_id, int):
            raise InvalidDocument("publication_id must be an integer")

    @property
    def unversioned_urn(self) -> str:
        return self.urn.rsplit(":", 1)[0]

    @property
    def effective_group_key(self) -> str:
        return self.group_key or self.urn

    def label_in(self, lang: str) -> str:
        """The label in ``lang``, else in the other language, else the name."""
        return (text_in(self.label, lang) or text_in(self.question_text, lang)
                or self.name or self.urn)

    def to_json(self) -> str:
        """Compact JSON kept in the index, so that hits are rendered from the index alone."""
        record: dict[str, Any] = {"urn": self.urn, "kind": self.kind, "pub": self.publication_id}
        for key, value in (("name", self.name), ("label", self.label),
                           ("question_text", self.question_text),
                           ("description", self.description),
                           ("category_labels", self.category_labels),
                           ("concept_labels", self.concept_labels),
                           ("cohort", self.cohort), ("cohort_label", self.cohort_label),
                           ("wave", self.wave), ("wave_urn", self.wave_urn),
                           ("years", self.years), ("topics", self.topics),
                           ("instruments", self.instruments),
                           ("response_type", self.response_type), ("access", self.access),
                           ("group_key", self.group_key)):
            if value:
                record[key] = value
        # orjson: 1.2 against 8.6 us a document; publishing 200,000 variables encodes
        # 210,000 documents.
        return compact_json(record)

    @staticmethod
    def from_json(text: str | bytes) -> SearchDocument:
        """The document :meth:`to_json` wrote (UTF-8 bytes as well: orjson reads them as
        they come out of the index; a search reads a hundred documents or more)."""
        record = orjson.loads(text)
        return SearchDocument(
            urn=record["urn"],
            kind=record["kind"],
            publication_id=record["pub"],
            name=record.get("name", ""),
            label=_texts(record.get("label")),
            question_text=_texts(record.get("question_text")),
            description=_texts(record.get("description")),
            category_labels=_texts(record.get("category_labels")),
            concept_labels=_texts(record.get("concept_labels")),
            cohort=record.get("cohort", ""),
            cohort_label=record.get("cohort_label", ""),
            wave=record.get("wave", ""),
            wave_urn=record.get("wave_urn", ""),
            years=tuple(record.get("years", ())),
            topics=tuple(record.get("topics", ())),
            instruments=tuple(record.get("instruments", ())),
            response_type=record.get("response_type", ""),
            access=cast(Access, record.get("access", "open")),
            group_key=record.get("group_key", ""),
        )


def text_in(texts: Texts, lang: str) -> str:
    """The text in ``lang`` (primary subtag, ``fr`` finds ``fr-FR``), else the first one."""
    wanted = primary_language(lang)
    for tag, text in texts:
        if text and primary_language(tag) == wanted:
            return text
    for _, text in texts:
        if text:
            return text
    return ""


def _texts(value: Sequence[Sequence[str]] | None) -> Texts:
    if not value:
        return ()
    return tuple(map(tuple, value))  # type: ignore[arg-type]
