"""What the store hands out: plain frozen dataclasses, never rows."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from catalogue.model import AnyItem, Identity, ItemCounts, LangText
from ddi_schemas.findings import Finding

_VERSION_PART = re.compile(r"(\d+)|(\D+)")


@lru_cache(maxsize=4096)
def version_key(version: str) -> str:
    """A string that sorts versions as numbers: ``1.10`` after ``1.9``, ``165`` after
    ``2``. Each numeric part is zero-padded; other text keeps its order."""
    parts = []
    for piece in version.split("."):
        digits = "".join(
            m.group(1).rjust(12, "0") if m.group(1) else m.group(2)
            for m in _VERSION_PART.finditer(piece))
        parts.append(digits)
    return ".".join(parts)


@dataclass(frozen=True, slots=True)
class Publication:
    id: int
    urn: str
    title: LangText
    file_name: str
    sha256: str
    ddi_version: str
    root: str
    valid: bool
    lenient: bool
    published_at: str
    published_by: str | None
    agencies: tuple[str, ...]
    counts: ItemCounts
    item_count: int
    source_size: int
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = None
    report: tuple[Finding, ...] = ()

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "urn": self.urn,
            "title": self.title.best("en", "fr"),
            "file": self.file_name,
            "ddi_version": self.ddi_version,
            "valid": self.valid,
            "lenient": self.lenient,
            "published_at": self.published_at,
            "published_by": self.published_by,
            "withdrawn_at": self.withdrawn_at,
            "counts": {
                "variables": self.counts.variables,
                "questions": self.counts.questions,
                "code_lists": self.counts.code_lists,
                "categories": self.counts.categories,
                "concepts": self.counts.concepts,
            },
        }


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as stored: the model plus where and when it was published."""

    pk: int
    publication_id: int
    item: AnyItem
    published_at: str
    withdrawn: bool
    versionable: bool = True

    @property
    def urn(self) -> str:
        return self.item.urn


@dataclass(frozen=True, slots=True)
class ListedItem:
    """An item as another item's page lists it: who it is, what it is called and where
    it sits (its parent), with no more of its content decoded."""

    pk: int
    publication_id: int
    identity: Identity
    kind: str
    name: str
    label: LangText
    parent: Identity | None = None

    @property
    def urn(self) -> str:
        return self.identity.urn


@dataclass(frozen=True, slots=True)
class ItemVersion:
    version: str
    publication_id: int
    published_at: str
    withdrawn: bool
    pk: int


def title_json(title: LangText) -> str:
    return json.dumps([list(pair) for pair in title.values], ensure_ascii=False)


def title_from_json(text: str) -> LangText:
    return LangText(tuple((lang, value) for lang, value in json.loads(text or "[]")))
