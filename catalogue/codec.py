"""Model items to JSON and back: how the store keeps an item's content.

The encoding is canonical (fields in declaration order, defaults left out, no
whitespace), so two items with the same content always encode to the same text and the
SHA-256 of that text is the item's content hash: the store compares versions by it.
Where an item was published (``parent``, ``location``) is not content and is not encoded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Callable
from typing import Any

from catalogue.model import (
    AnyItem,
    Category,
    Code,
    CodeList,
    CollectionEvent,
    Concept,
    ConceptScheme,
    ControlConstruct,
    DataCollection,
    Identity,
    Instruction,
    Instrument,
    Item,
    LangText,
    OtherItem,
    Question,
    Reference,
    Study,
    Universe,
    Variable,
)

#: Not content: where an item was published. Identity and element name are columns of
#: their own for a stored item, but part of the content of items nested in it (codes).
_NOT_CONTENT = frozenset({"parent", "location"})
_COLUMNS = frozenset({"identity", "element"})

CLASS_OF_KIND: dict[str, type[Item]] = {
    "Group": Study, "StudyUnit": Study, "DataCollection": DataCollection,
    "CollectionEvent": CollectionEvent, "Instrument": Instrument,
    "ControlConstruct": ControlConstruct, "Question": Question, "Instruction": Instruction,
    "Variable": Variable, "CodeList": CodeList, "Code": Code, "Category": Category,
    "ConceptScheme": ConceptScheme, "Concept": Concept, "Universe": Universe,
    "Other": OtherItem,
}


def encode_item(item: AnyItem) -> str:
    """Canonical JSON of what an item says (not of where it was published)."""
    return json.dumps(_encoder(type(item), True)(item), ensure_ascii=False,
                      separators=(",", ":"))


def content_hash(encoded: str) -> str:
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def decode_item(kind: str, identity: Identity, element: str, data: str,
                parent: Identity | None = None) -> AnyItem:
    cls = CLASS_OF_KIND.get(kind, OtherItem)
    values = _decoder(cls, True)(json.loads(data))
    item = cls(identity=identity, element=element, parent=parent, **values)
    return typing.cast(AnyItem, item)


# -- encoding ----------------------------------------------------------------------------

Encoder = Callable[[Any], Any]


def _optional(sub: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else sub(value)


def _each_to_list(sub: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda values: [sub(v) for v in values]


def _each_to_tuple(sub: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda values: tuple(sub(v) for v in values)


_ENCODERS: dict[tuple[type, bool], Encoder] = {}
_DECODERS: dict[tuple[type, bool], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _encoder(cls: type, top: bool = False) -> Encoder:
    found = _ENCODERS.get((cls, top))
    if found is None:
        found = _ENCODERS[(cls, top)] = _make_encoder(cls, top)
    return found


def _make_encoder(cls: type, top: bool) -> Encoder:
    # json writes tuples as arrays: texts, references and identities go out as they are.
    if cls is LangText:
        return lambda value: value.values
    if cls is Reference:
        return lambda r: (r.agency, r.id, r.version, r.role, r.type_of_object)
    if cls is Identity:
        return lambda i: (i.agency, i.id, i.version)
    hints = _hints(cls)
    skip = _NOT_CONTENT | _COLUMNS if top else _NOT_CONTENT
    # Per field: (name, default, encoder, True when "empty" alone means "default").
    plan = [(f.name, f.default, _field_encoder(hints[f.name]),
             isinstance(f.default, (tuple, LangText)))
            for f in dataclasses.fields(cls) if f.init and f.name not in skip]

    def encode(obj: Any) -> dict[str, Any]:
        out = {}
        for name, default, sub, by_emptiness in plan:
            value = getattr(obj, name)
            if by_emptiness:
                if not value:
                    continue
            elif value is default or value == default:
                continue
            out[name] = sub(value) if sub is not None else value
        return out

    return encode


def _field_encoder(hint: Any) -> Encoder | None:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        sub = _field_encoder(inner[0]) if len(inner) == 1 else None
        return _optional(sub) if sub is not None else None
    if origin is tuple:
        sub = _field_encoder(typing.get_args(hint)[0])
        return _each_to_list(sub) if sub is not None else None
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or hint in (LangText,)):
        return _encoder(hint)
    return None


# -- decoding ----------------------------------------------------------------------------

Decoder = Callable[[Any], Any]


def _decoder(cls: type, top: bool = False) -> Callable[[dict[str, Any]], dict[str, Any]]:
    found = _DECODERS.get((cls, top))
    if found is None:
        found = _DECODERS[(cls, top)] = _make_decoder(cls, top)
    return found


def _make_decoder(cls: type, top: bool) -> Callable[[dict[str, Any]], dict[str, Any]]:
    hints = _hints(cls)
    skip = _NOT_CONTENT | _COLUMNS if top else _NOT_CONTENT
    plan = {f.name: _field_decoder(hints[f.name]) for f in dataclasses.fields(cls)
            if f.init and f.name not in skip}

    def decode(data: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in data.items():
            if name in plan:
                sub = plan[name]
                out[name] = sub(value) if sub is not None else value
        return out

    return decode


def _value_decoder(cls: type) -> Decoder:
    if cls is LangText:
        return lambda pairs: LangText(tuple(map(tuple, pairs)))
    if cls is Reference:
        return lambda r: Reference(*r)
    if cls is Identity:
        return lambda i: Identity(*i)
    fields_decoder = _decoder(cls)
    return lambda data: cls(**fields_decoder(data))


def _field_decoder(hint: Any) -> Decoder | None:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        sub = _field_decoder(inner[0]) if len(inner) == 1 else None
        return _optional(sub) if sub is not None else None
    if origin is tuple:
        sub = _field_decoder(typing.get_args(hint)[0])
        return _each_to_tuple(sub) if sub is not None else tuple
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or hint is LangText):
        return _value_decoder(hint)
    return None


def _hints(owner: type) -> dict[str, Any]:
    return typing.get_type_hints(owner)
