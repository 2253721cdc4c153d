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

import orjson

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
    """Canonical JSON of what an item says (not of where it was published).

    The text is what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` gives
    (content hashes of items stored earlier depend on it), written by orjson: an item
    encodes in 4-7 us instead of 11-15 us. The standard library takes over for what
    orjson refuses (an integer beyond 64 bits)."""
    return compact_json(_encoder(type(item), True)(item))


#: For what orjson refuses; ``json.dumps`` with options builds an encoder per call.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compact_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, written by
    orjson (the same text, in a third to a seventh of the time), the standard library
    taking over for what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        return _COMPACT.encode(value)


def _loads(data: str) -> Any:
    """JSON text to Python values (orjson, else the standard library for what orjson
    refuses: an integer beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def content_hash(encoded: str) -> str:
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


# -- encoding ----------------------------------------------------------------------------
#
# As for decoding, each class gets an encoder written for its fields. A field is left
# out when it holds its default: for texts and tuples, when it is empty (a text whose
# values are all empty strings included); for any other field, when it is or equals the
# default. Changing what is left out changes every content hash: tests pin the output.

Encoder = Callable[[Any], Any]
_ENCODERS: dict[tuple[type, bool], Encoder] = {}


def _encoder(cls: type, top: bool = False) -> Encoder:
    found = _ENCODERS.get((cls, top))
    if found is None:
        found = _ENCODERS[(cls, top)] = _make_encoder(cls, top)
    return found


def _make_encoder(cls: type, top: bool) -> Encoder:
    """Write, compile and return ``encode(obj) -> dict`` for a dataclass of the model."""
    hints = _hints(cls)
    skip = _NOT_CONTENT | _COLUMNS if top else _NOT_CONTENT
    names: dict[str, Any] = {}
    lines = ["def encode(o):", "    out = {}"]
    for f in dataclasses.fields(cls):
        if not f.init or f.name in skip:
            continue
        expression = _encode_expression(hints[f.name], "v", names)
        lines.append(f"    v = o.{f.name}")
        if isinstance(f.default, (tuple, LangText)):
            lines.append(f"    if v: out[{f.name!r}] = {expression}")
        elif f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            lines.append(f"    if not (v is _default_{f.name} or v == _default_{f.name}): "
                         f"out[{f.name!r}] = {expression}")
        else:
            lines.append(f"    out[{f.name!r}] = {expression}")
    lines.append("    return out")
    exec("\n".join(lines), names)  # noqa: S102 - source written above from the model
    return typing.cast(Encoder, names["encode"])


def _encode_expression(hint: Any, var: str, names: dict[str, Any]) -> str:
    """Python source giving the JSON form of ``var``, a value of type ``hint``; json
    writes tuples as arrays, so texts, references and identities go out as tuples."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            sub = _encode_expression(inner[0], var, names)
            if sub != var:
                return f"(None if {var} is None else {sub})"
        return var
    if origin is tuple:
        sub = _encode_expression(typing.get_args(hint)[0], "x", names)
        return var if sub == "x" else f"[{sub} for x in {var}]"
    if hint is LangText:
        return f"{var}.values"
    if hint in (Reference, Identity):
        fields = ", ".join(f"{var}.{f.name}" for f in dataclasses.fields(hint))
        return f"({fields},)"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        names[f"_encode_{hint.__name__}"] = _encoder(hint)
        return f"_encode_{hint.__name__}({var})"
    return var


# -- decoding ----------------------------------------------------------------------------
#
# Reading items back is what a page that is not cached, and indexing, spend most of their
# time on. Each class gets one decoder written for its fields (no loop over a plan, no
# keyword arguments), which builds the frozen dataclass the way its ``__init__`` would:
# every field set (through the slot, which skips the frozen check), ``init=False`` fields
# given their default, then ``__post_init__``. That is 1.5-2 times faster than calling
# the class, and gives an equal object (the tests compare both on every bundled item).

Decoder = Callable[[Any], Any]
ItemDecoder = Callable[[dict[str, Any], Identity, str, "Identity | None"], Any]
_MISSING = object()


def decode_item(kind: str, identity: Identity, element: str, data: str,
                parent: Identity | None = None) -> AnyItem:
    cls = CLASS_OF_KIND.get(kind, OtherItem)
    item = _item_decoder(cls)(_loads(data), identity, element, parent)
    return typing.cast(AnyItem, item)


def decode_name_and_label(data: str) -> tuple[str, LangText]:
    """The name and label of a stored item, without building the rest of it (for lists
    of items shown on another item's page)."""
    fields = _loads(data)
    return fields.get("name", ""), _value_decoder(LangText)(fields.get("label", ()))


_ITEM_DECODERS: dict[type, ItemDecoder] = {}
_VALUE_DECODERS: dict[type, Decoder] = {}


def _item_decoder(cls: type) -> ItemDecoder:
    found = _ITEM_DECODERS.get(cls)
    if found is None:
        found = _ITEM_DECODERS[cls] = _make_decoder(cls, top=True)
    return found


def _value_decoder(cls: type) -> Decoder:
    found = _VALUE_DECODERS.get(cls)
    if found is None:
        found = _VALUE_DECODERS[cls] = _make_decoder(cls, top=False)
    return found


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The slot's own setter (a frozen dataclass refuses ``setattr``), from the class
    that declares the field."""
    owner = next(c for c in cls.__mro__ if name in c.__dict__)
    return typing.cast(Callable[[Any, Any], None], owner.__dict__[name].__set__)


def _make_decoder(cls: type, top: bool) -> Any:
    """Write, compile and return the decoder of ``cls``: ``decode(data)`` for a value,
    ``decode(data, identity, element, parent)`` for a stored item (those three are
    columns of the store, and where it was published is not content)."""
    if cls is LangText:
        set_values = _setter(LangText, "values")

        def lang_text(pairs: list[list[str]]) -> LangText:
            text = object.__new__(LangText)
            set_values(text, tuple(map(tuple, pairs)))
            return text
        return lang_text
    if cls in (Reference, Identity):
        return _positional_decoder(cls)
    hints = _hints(cls)
    names: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_MISSING": _MISSING,
                             "_tuple": tuple}
    lines = ["def decode(d" + (", identity, element, parent):" if top else "):"),
             "    o = _new(_cls)", "    get = d.get"]
    for f in dataclasses.fields(cls):
        names[f"_set_{f.name}"] = _setter(cls, f.name)
        if top and f.name in ("identity", "element", "parent"):
            lines.append(f"    _set_{f.name}(o, {f.name})")
            continue
        if f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            default = f"_default_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{f.name}"] = f.default_factory
            default = f"_factory_{f.name}()"
        else:
            default = ""
        if not f.init or f.name in _NOT_CONTENT:
            lines.append(f"    _set_{f.name}(o, {default or 'None'})")
            continue
        expression = _field_expression(hints[f.name], "v", names)
        lines.append(f"    v = get({f.name!r}, _MISSING)")
        if default:
            lines.append(f"    _set_{f.name}(o, {default} if v is _MISSING else {expression})")
        else:  # a required field the data lacks fails as calling the class would
            lines += [f"    if v is _MISSING: raise TypeError('{cls.__name__} needs {f.name}')",
                      f"    _set_{f.name}(o, {expression})"]
    if hasattr(cls, "__post_init__"):
        names["_post_init"] = cls.__post_init__
        lines.append("    _post_init(o)")
    lines.append("    return o")
    exec("\n".join(lines), names)  # noqa: S102 - source written above from the model
    return names["decode"]


def _positional_decoder(cls: type) -> Decoder:
    """References and identities are written as arrays of their fields, in order; a
    trailing field with a default may be left out."""
    names: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = ["def decode(v):", "    o = _new(_cls)", "    n = len(v)"]
    for position, f in enumerate(dataclasses.fields(cls)):
        names[f"_set_{f.name}"] = _setter(cls, f.name)
        if f.default is dataclasses.MISSING:
            lines.append(f"    _set_{f.name}(o, v[{position}])")
        else:
            names[f"_default_{f.name}"] = f.default
            lines.append(f"    _set_{f.name}(o, v[{position}] if n > {position} "
                         f"else _default_{f.name})")
    lines.append("    return o")
    exec("\n".join(lines), names)  # noqa: S102 - source written above from the model
    return typing.cast(Decoder, names["decode"])


def _field_expression(hint: Any, var: str, names: dict[str, Any], depth: int = 0) -> str:
    """Python source that turns ``var``, a JSON value, into a value of type ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            sub = _field_expression(inner[0], var, names, depth)
            if sub != var:
                return f"(None if {var} is None else {sub})"
        return var
    if origin is tuple:
        item = f"x{depth}"
        sub = _field_expression(typing.get_args(hint)[0], item, names, depth + 1)
        return f"_tuple({var})" if sub == item else f"_tuple([{sub} for {item} in {var}])"
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or hint is LangText):
        names[f"_decode_{hint.__name__}"] = _value_decoder(hint)
        return f"_decode_{hint.__name__}({var})"
    return var


def _hints(owner: type) -> dict[str, Any]:
    return typing.get_type_hints(owner)
