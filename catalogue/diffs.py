"""What changed between two versions of a cohort's metadata: two publications, or an
upload and what is published.

Items are matched by Agency+ID (a new version of an item is the same item, changed).
For variables, questions, code lists and categories, each side's items are kept as the
store keeps them, their canonical JSON (:func:`catalogue.codec.encode_item`), so that
telling unchanged items apart is a string comparison and a side costs about what its
content weighs. Only changed items are decoded again and compared field by field.

Fields are named by a path into the item's content: ``label[fr]``, ``representation.unit``,
``references.question``, ``user_attributes[catalogue:access]``, ``codes[2].label[en]``
(codes by value, other nested identifiables by ID, anything else by position from 1).
Where an item was published (its parent, its line) is not content and is never compared;
as in the codec, a field left at its default value is absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from catalogue.codec import decode_item, encode_item
from catalogue.model import (
    AnyItem,
    Code,
    Identity,
    Item,
    LangText,
    Reference,
    Representation,
    UserAttribute,
)
from catalogue.store import Store
from catalogue.store.records import Publication, version_key

#: The kinds compared, and what a diff calls them (also the JSON keys).
DIFF_KINDS: dict[str, str] = {"Variable": "variables", "Question": "questions",
                              "CodeList": "code_lists", "Category": "categories"}
ChangeKind = Literal["added", "removed", "changed"]
#: Not content (where an item was published) or not compared as a field (identity and
#: element are the item's own columns; a nested item's identity follows its parent's).
_NOT_FIELDS = frozenset({"parent", "location", "identity", "element"})


# -- what a diff holds ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of an item: its value before and after (None: absent on that side)."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class ItemChange:
    """An item added, removed or changed; ``fields`` says how, for a changed one."""

    kind: str
    change: ChangeKind
    agency: str
    id: str
    version_before: str | None
    version_after: str | None
    name: str
    label: LangText
    fields: tuple[FieldChange, ...] = ()

    @property
    def urn(self) -> str:
        """The URN of the newest side's version."""
        version = self.version_after or self.version_before or ""
        return Identity(self.agency, self.id, version).urn


@dataclass(frozen=True, slots=True)
class KindDiff:
    """The changes to items of one kind (``section``: variables, questions...)."""

    kind: str
    added: tuple[ItemChange, ...] = ()
    removed: tuple[ItemChange, ...] = ()
    changed: tuple[ItemChange, ...] = ()
    unchanged: int = 0

    @property
    def section(self) -> str:
        return DIFF_KINDS[self.kind]

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)


@dataclass(frozen=True, slots=True)
class DiffSide:
    """What one side of a comparison is: a publication, or an upload not yet published."""

    title: LangText
    file_name: str
    urn: str = ""
    publication_id: int | None = None
    published_at: str | None = None
    withdrawn: bool = False
    upload: str | None = None

    @staticmethod
    def of_publication(publication: Publication) -> DiffSide:
        return DiffSide(publication.title, publication.file_name, publication.urn,
                        publication.id, publication.published_at, publication.withdrawn)


@dataclass(frozen=True, slots=True)
class Diff:
    """Two sides and, kind by kind, what changed from ``before`` to ``after``."""

    before: DiffSide | None
    after: DiffSide
    kinds: tuple[KindDiff, ...]

    @property
    def count(self) -> int:
        return sum(k.count for k in self.kinds)

    def totals(self) -> dict[str, int]:
        return {"added": sum(len(k.added) for k in self.kinds),
                "removed": sum(len(k.removed) for k in self.kinds),
                "changed": sum(len(k.changed) for k in self.kinds),
                "unchanged": sum(k.unchanged for k in self.kinds)}

    def to_json(self) -> DiffJSON:
        return {"from": side_json(self.before) if self.before else None,
                "to": side_json(self.after), "summary": self.totals(),
                "kinds": [kind_json(k) for k in self.kinds]}


# -- JSON -------------------------------------------------------------------------------------

class FieldChangeJSON(TypedDict):
    field: str
    before: str | None
    after: str | None


class ItemChangeJSON(TypedDict):
    change: ChangeKind
    urn: str
    agency: str
    id: str
    version_before: str | None
    version_after: str | None
    name: str
    label: dict[str, str]
    fields: list[FieldChangeJSON]


class KindDiffJSON(TypedDict):
    kind: str
    added: list[ItemChangeJSON]
    removed: list[ItemChangeJSON]
    changed: list[ItemChangeJSON]
    unchanged: int


class DiffSideJSON(TypedDict):
    publication: int | None
    upload: str | None
    urn: str
    file: str
    title: dict[str, str]
    published_at: str | None
    withdrawn: bool


#: ``from`` is a Python keyword, hence the functional form.
DiffJSON = TypedDict("DiffJSON", {"from": DiffSideJSON | None, "to": DiffSideJSON,
                                  "summary": dict[str, int], "kinds": list[KindDiffJSON]})


def _texts(text: LangText) -> dict[str, str]:
    out: dict[str, str] = {}
    for lang, value in text.values:
        out.setdefault(lang, value)
    return out


def item_change_json(change: ItemChange) -> ItemChangeJSON:
    return {"change": change.change, "urn": change.urn, "agency": change.agency,
            "id": change.id, "version_before": change.version_before,
            "version_after": change.version_after, "name": change.name,
            "label": _texts(change.label),
            "fields": [{"field": f.field, "before": f.before, "after": f.after}
                       for f in change.fields]}


def kind_json(kind: KindDiff) -> KindDiffJSON:
    return {"kind": kind.section, "added": [item_change_json(c) for c in kind.added],
            "removed": [item_change_json(c) for c in kind.removed],
            "changed": [item_change_json(c) for c in kind.changed],
            "unchanged": kind.unchanged}


def side_json(side: DiffSide) -> DiffSideJSON:
    return {"publication": side.publication_id, "upload": side.upload, "urn": side.urn,
            "file": side.file_name, "title": _texts(side.title),
            "published_at": side.published_at, "withdrawn": side.withdrawn}


# -- one side's items ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    element: str
    data: str
    name: str
    label: LangText


@dataclass
class ItemSet:
    """The compared items of one side, by kind then Agency+ID, in the order first seen.

    When a side holds several versions of one item, the highest version is compared."""

    by_kind: dict[str, dict[tuple[str, str], _Entry]] = field(
        default_factory=lambda: {kind: {} for kind in DIFF_KINDS})

    def add(self, item: AnyItem) -> None:
        entries = self.by_kind.get(item.kind)
        if entries is None:
            return
        ident = item.identity
        key = (ident.agency, ident.id)
        known = entries.get(key)
        if known is not None and version_key(known.version) >= version_key(ident.version):
            return
        entries[key] = _Entry(ident.version, item.element, encode_item(item), item.name,
                              item.label)

    def __len__(self) -> int:
        return sum(len(entries) for entries in self.by_kind.values())

    @staticmethod
    def of_items(items: Iterable[AnyItem]) -> ItemSet:
        found = ItemSet()
        for item in items:
            found.add(item)
        return found

    @staticmethod
    def of_publication(store: Store, publication_id: int) -> ItemSet:
        return ItemSet.of_items(s.item for s in store.items_of_publication(
            publication_id, tuple(DIFF_KINDS)))


# -- comparing ------------------------------------------------------------------------------

def compare_items(before: ItemSet, after: ItemSet) -> tuple[KindDiff, ...]:
    """Kind by kind: items only in ``after`` (added), only in ``before`` (removed), in
    both with another version or content (changed, field by field)."""
    out = []
    for kind in DIFF_KINDS:
        old, new = before.by_kind[kind], after.by_kind[kind]
        added, changed = [], []
        unchanged = 0
        for key, entry in new.items():
            previous = old.get(key)
            if previous is None:
                added.append(_change(kind, "added", key, None, entry))
            elif previous.data != entry.data or previous.version != entry.version:
                fields = field_changes(_decode(kind, key, previous), _decode(kind, key, entry))
                changed.append(_change(kind, "changed", key, previous, entry, fields))
            else:
                unchanged += 1
        removed = [_change(kind, "removed", key, entry, None)
                   for key, entry in old.items() if key not in new]
        out.append(KindDiff(kind, tuple(added), tuple(removed), tuple(changed), unchanged))
    return tuple(out)


def compare_publications(store: Store, before: int | None, after: int) -> Diff:
    """The diff from publication ``before`` (None: from nothing) to publication ``after``."""
    new = store.get_publication(after)
    old = store.get_publication(before) if before is not None else None
    kinds = compare_items(ItemSet.of_publication(store, before) if before is not None
                          else ItemSet(), ItemSet.of_publication(store, after))
    return Diff(DiffSide.of_publication(old) if old else None, DiffSide.of_publication(new),
                kinds)


def _decode(kind: str, key: tuple[str, str], entry: _Entry) -> AnyItem:
    return decode_item(kind, Identity(key[0], key[1], entry.version), entry.element,
                       entry.data)


def _change(kind: str, change: ChangeKind, key: tuple[str, str], before: _Entry | None,
            after: _Entry | None, fields: tuple[FieldChange, ...] = ()) -> ItemChange:
    shown = after or before
    assert shown is not None
    return ItemChange(kind, change, key[0], key[1], before.version if before else None,
                      after.version if after else None, shown.name, shown.label, fields)


def field_changes(before: Item, after: Item) -> tuple[FieldChange, ...]:
    """Every field whose value differs, in the order the newer item lists its fields;
    the version first when it changed."""
    old, new = item_fields(before), item_fields(after)
    changes = []
    if before.identity.version != after.identity.version:
        changes.append(FieldChange("version", before.identity.version,
                                   after.identity.version))
    for name in dict.fromkeys([*new, *old]):
        if old.get(name) != new.get(name):
            changes.append(FieldChange(name, old.get(name), new.get(name)))
    return tuple(changes)


def item_fields(item: Item) -> dict[str, str]:
    """The item's content as ``{field path: text}`` (empty values left out)."""
    out: dict[str, str] = {}
    _walk_fields(out, "", item)
    return out


def _walk_fields(out: dict[str, str], path: str, value: Any) -> None:
    for name, sub in _fields_of(value):
        _walk(out, f"{path}.{name}" if path else name, sub)


def _fields_of(value: Any) -> Iterator[tuple[str, Any]]:
    for f in dataclasses.fields(value):
        if f.name in _NOT_FIELDS or not f.init:
            continue
        if isinstance(value, Representation) and f.name == "code_list":
            continue  # also among the owner's references (role code_list)
        found = getattr(value, f.name)
        if f.default is not dataclasses.MISSING and found == f.default:
            continue  # as the codec does: a default is not said
        yield f.name, found


def _put(out: dict[str, str], path: str, text: str) -> None:
    key, count = path, 1
    while key in out:
        count += 1
        key = f"{path}#{count}"
    out[key] = text


def _walk(out: dict[str, str], path: str, value: Any) -> None:
    if value is None or value == "" or value == ():
        return
    if isinstance(value, LangText):
        for lang, text in value.values:
            if text:
                _put(out, f"{path}[{lang or '-'}]", text)
    elif isinstance(value, (Reference, Identity)):
        _put(out, path, value.urn)
    elif isinstance(value, bool):
        _put(out, path, "true" if value else "false")
    elif isinstance(value, (str, int, float)):
        _put(out, path, str(value))
    elif isinstance(value, tuple):
        _walk_tuple(out, path, value)
    elif dataclasses.is_dataclass(value):
        _walk_fields(out, path, value)
    else:  # pragma: no cover - every model field is one of the above
        _put(out, path, repr(value))


def _walk_tuple(out: dict[str, str], path: str, values: tuple[Any, ...]) -> None:
    if all(isinstance(v, str) for v in values):
        _put(out, path, ", ".join(values))
    elif all(isinstance(v, Reference) for v in values):
        by_role: dict[str, list[str]] = {}
        for ref in values:
            by_role.setdefault(ref.role, []).append(ref.urn)
        for role, urns in by_role.items():
            _put(out, f"{path}.{role}", ", ".join(urns))
    elif all(isinstance(v, UserAttribute) for v in values):
        for pair in values:
            _put(out, f"{path}[{pair.key}]", pair.value)
    else:
        for position, value in enumerate(values, start=1):
            if isinstance(value, Code):
                key = value.value or str(position)
            elif isinstance(value, Item):
                key = value.identity.id
            else:
                key = str(position)
            _walk(out, f"{path}[{key}]", value)


# -- back from JSON (a staged upload keeps its preview on disk) --------------------------------

def _lang_text(data: dict[str, str]) -> LangText:
    return LangText(tuple(data.items()))


def _side_from_json(data: DiffSideJSON) -> DiffSide:
    return DiffSide(_lang_text(data["title"]), data["file"], data["urn"], data["publication"],
                    data["published_at"], data["withdrawn"], data["upload"])


def diff_from_json(data: DiffJSON) -> Diff:
    """The inverse of :meth:`Diff.to_json`."""
    kinds = []
    by_section = {section: kind for kind, section in DIFF_KINDS.items()}
    for entry in data["kinds"]:
        kind = by_section[entry["kind"]]
        lists = {name: tuple(
            ItemChange(kind, change["change"], change["agency"], change["id"],
                       change["version_before"], change["version_after"], change["name"],
                       _lang_text(change["label"]),
                       tuple(FieldChange(f["field"], f["before"], f["after"])
                             for f in change["fields"]))
            for change in entry[name]) for name in ("added", "removed", "changed")}
        kinds.append(KindDiff(kind, lists["added"], lists["removed"], lists["changed"],
                              entry["unchanged"]))
    before = data["from"]
    return Diff(_side_from_json(before) if before else None, _side_from_json(data["to"]),
                tuple(kinds))
