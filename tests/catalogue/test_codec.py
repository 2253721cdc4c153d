"""The store's item codec: what is encoded decodes to an equal item, on every item of the
example files and the bundled cohorts (every field the model has is used somewhere in
them), and the encoding is the canonical one content hashes are made of."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalogue.codec import decode_item, encode_item
from catalogue.errors import UnusableInput
from catalogue.model import (
    Code,
    CodeList,
    Coverage,
    DateRange,
    Funding,
    Identity,
    LangText,
    Reference,
    Representation,
    SourceLocation,
    Study,
    UserAttribute,
    Variable,
)
from catalogue.reader import DocumentReader
from cohorts import bundled_files
from ddi_schemas.inspect import inspect_document
from ddi_schemas.registry import load_schema

if TYPE_CHECKING:
    from conftest import Example


def _round_trip(path: Path, schema_dir: Path) -> int:
    info = inspect_document(path)
    reader = DocumentReader(info, load_schema(info.ddi_version, schema_dir))
    count = 0
    for read in reader:
        item = read.item
        data = encode_item(item)
        back = decode_item(item.kind, item.identity, item.element, data, item.parent)
        assert type(back) is type(item), item.urn
        assert back == item, item.urn
        assert back.kind == item.kind and back.parent == item.parent
        assert back.location is None  # where it was read is not content
        assert encode_item(back) == data
        # the canonical text content hashes are made of: the standard library's
        assert data == json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":"))
        count += 1
    return count


def test_every_item_of_the_examples_round_trips(example: Example, schema_dir: Path) -> None:
    try:
        _round_trip(example.path, schema_dir)
    except UnusableInput:  # unreadable examples are the reader tests' business
        pytest.skip(f"{example.name} is not readable DDI")


def test_every_item_of_the_bundled_cohorts_round_trips(schema_dir: Path) -> None:
    assert sum(_round_trip(path, schema_dir) for path in bundled_files()) > 1000


def test_every_field_decodes_as_the_class_builds_it() -> None:
    """The decoder sets fields itself: it must give what calling the class gives, defaults,
    ``kind`` (set by ``__post_init__``) and nested values included."""
    reference = Reference("fr.test", "cl1", "2", "code_list", "CodeList")
    variable = Variable(
        identity=Identity("fr.test", "v1", "3"), element="Variable", name="AGE",
        label=LangText((("fr", "Âge"), ("en", "Age"))), references=(reference,),
        representation=Representation(kind="code", code_list=reference,
                                      missing_values=("-9", "-8")),
        parent=Identity("fr.test", "vs", "1"))
    back = decode_item("Variable", variable.identity, "Variable", encode_item(variable),
                       variable.parent)
    assert back == variable and back.kind == "Variable"
    for field in dataclasses.fields(Variable):
        assert getattr(back, field.name) == getattr(variable, field.name), field.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.name = "changed"  # type: ignore[misc]

    code_list = CodeList(identity=Identity("fr.test", "cl1", "2"), element="CodeList",
                         codes=(Code(identity=Identity("fr.test", "c1", "2"), element="Code",
                                     value="1", level=2, is_discrete=False),))
    back_list = decode_item("CodeList", code_list.identity, "CodeList",
                            encode_item(code_list))
    assert back_list == code_list and back_list.codes[0].kind == "Code"

    group = Study(identity=Identity("fr.test", "g", "1"), element="Group", sample_size=200)
    back_group = decode_item("Group", group.identity, "Group", encode_item(group))
    assert back_group.kind == "Group" and back_group == group


def test_a_reference_written_without_its_type_decodes() -> None:
    """Older stores wrote references as four values: the type of object is optional."""
    data = json.dumps({"references": [["fr.test", "q1", "1", "question"]]})
    item = decode_item("Variable", Identity("fr.test", "v", "1"), "Variable", data)
    assert item.references == (Reference("fr.test", "q1", "1", "question"),)


def test_a_field_the_model_no_longer_has_is_ignored() -> None:
    data = json.dumps({"name": "AGE", "retired_field": [1, 2]})
    item = decode_item("Variable", Identity("fr.test", "v", "1"), "Variable", data)
    assert item.name == "AGE"


def test_the_encoding_is_pinned() -> None:
    """Content hashes are SHA-256 of this text, compared with what older versions of the
    catalogue stored: a change here is a change of every hash (and every publication of
    an unchanged item would then be refused as a conflict)."""
    reference = Reference("fr.test", "cl1", "2", "code_list", "CodeList")
    variable = Variable(
        identity=Identity("fr.test", "v1", "3"), element="Variable", name="AGE",
        label=LangText((("fr", "Âge « déclaré »"), ("en", 'Age "stated"\n'))),
        description=LangText((("fr", ""),)),  # only empty texts: left out
        user_attributes=(UserAttribute("catalogue:access", "casd"),),
        references=(reference, Reference("fr.test", "q1", None, "question")),
        representation=Representation(kind="code", code_list=reference,
                                      missing_values=("-9",), max_length=3),
        parent=Identity("fr.test", "vs", "1"), location=SourceLocation(12, "//x"))
    assert encode_item(variable) == (
        '{"name":"AGE","label":[["fr","Âge « déclaré »"],["en","Age \\"stated\\"\\n"]],'
        '"user_attributes":[{"key":"catalogue:access","value":"casd"}],'
        '"references":[["fr.test","cl1","2","code_list","CodeList"],'
        '["fr.test","q1",null,"question",null]],'
        '"representation":{"kind":"code","code_list":["fr.test","cl1","2","code_list",'
        '"CodeList"],"max_length":3,"missing_values":["-9"]}}')
    study = Study(identity=Identity("fr.test", "g", "1"), element="Group", sample_size=200,
                  kind_of_data=("survey",), funding=(Funding(agency="ANR"),),
                  coverage=Coverage(temporal=DateRange("2012", None),
                                    subjects=(LangText((("fr", "tabac"),)),)))
    assert encode_item(study) == (
        '{"coverage":{"temporal":{"start":"2012"},"subjects":[[["fr","tabac"]]]},'
        '"funding":[{"agency":"ANR"}],"kind_of_data":["survey"],"sample_size":200}')


def test_integers_beyond_64_bits_encode_and_decode_too() -> None:
    """orjson refuses them; the standard library takes over (a sample size in a DDI file
    is an xs:integer, unbounded)."""
    huge = 2 ** 70
    group = Study(identity=Identity("fr.test", "g", "1"), element="Group", sample_size=huge)
    data = encode_item(group)
    assert data == json.dumps({"sample_size": huge}, separators=(",", ":"))
    back = decode_item("Group", group.identity, "Group", data)
    assert back.sample_size == huge
