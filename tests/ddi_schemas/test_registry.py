"""The schema registry: the version comes from the namespace, the XSD files must be the
official ones byte for byte, a refusal names where it looked, and the compiled schema is
made once per process."""

from __future__ import annotations

import hashlib
import importlib.resources
import re
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lxml import etree

from catalogue.errors import SchemaUnavailable
from ddi_schemas import registry
from ddi_schemas.registry import CompiledSchema, load_schema

if TYPE_CHECKING:
    from conftest import CliRunner


def bare_variable_scheme(version: str, prefix: str) -> str:
    """A tiny document whose root is a VariableScheme of DDI-L ``version``, written with a
    prefix chosen to mislead (the version must come from the namespace URI)."""
    suffix = version.replace(".", "_")
    return (f'<?xml version="1.0"?>\n<{prefix}:VariableScheme '
            f'xmlns:{prefix}="ddi:logicalproduct:{suffix}" xmlns:r="ddi:reusable:{suffix}">'
            f"<r:Agency>fr.test</r:Agency><r:ID>vs</r:ID><r:Version>1</r:Version>"
            f"<{prefix}:Variable><r:Agency>fr.test</r:Agency><r:ID>v</r:ID>"
            f"<r:Version>1</r:Version><{prefix}:VariableName><r:String>V</r:String>"
            f"</{prefix}:VariableName><r:Label><r:Content>V</r:Content></r:Label>"
            f"</{prefix}:Variable></{prefix}:VariableScheme>\n")


@pytest.mark.parametrize("version, prefix", [("3.2", "ddi33"), ("3.3", "ddi32"), ("3.3", "r32")])
def test_the_version_comes_from_the_namespace(cli: CliRunner, tmp_path: Path, version: str,
                                              prefix: str) -> None:
    path = tmp_path / "scheme.xml"
    path.write_text(bare_variable_scheme(version, prefix), encoding="utf-8")

    result = cli("validate", "--format", "json", path)

    assert result.code == 0, result.out + result.err
    [report] = result.json_lines()
    assert (report["ddi_version"], report["valid"]) == (version, True)


def test_an_unknown_ddi_version_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "future.xml"
    path.write_text(bare_variable_scheme("3.3", "l").replace("3_3", "3_4"), encoding="utf-8")
    result = cli("validate", path)
    assert result.code == 2
    assert "DDI-Lifecycle 3.4 (namespace ddi:logicalproduct:3_4) is not supported" in result.out


def copy_schemas(schema_dir: Path, destination: Path, version: str) -> Path:
    shutil.copytree(schema_dir / version, destination / version)
    return destination


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("x") if data[middle] != ord("x") else ord("y")
    path.write_bytes(bytes(data))


def test_a_copy_with_one_byte_changed_is_refused(cli: CliRunner, schema_dir: Path,
                                                 tmp_path: Path, examples_dir: Path) -> None:
    copy = copy_schemas(schema_dir, tmp_path / "schemas", "3.3")
    flip_one_byte(copy / "3.3" / "reusable.xsd")
    example = examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml"

    result = cli("validate", example, schemas=copy)

    assert result.code == 2
    assert "reusable.xsd" in result.err
    assert str(copy / "3.3") in result.err
    assert "not the official ones" in result.err
    # nothing else in the copy is blamed
    assert "datacollection.xsd" not in result.err
    with pytest.raises(SchemaUnavailable, match="reusable.xsd"):
        load_schema("3.3", copy)


def test_crlf_line_endings_alone_do_not_make_a_copy_unofficial(
        schema_dir: Path, tmp_path: Path) -> None:
    copy = copy_schemas(schema_dir, tmp_path / "schemas", "3.3")
    for xsd in (copy / "3.3").glob("*.xsd"):
        xsd.write_bytes(xsd.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert load_schema("3.3", copy).version == "3.3"


def test_a_missing_version_names_every_place_looked(cli: CliRunner, schema_dir: Path,
                                                    tmp_path: Path, examples_dir: Path) -> None:
    only_33 = copy_schemas(schema_dir, tmp_path / "only-3.3", "3.3")
    result = cli("validate", examples_dir / "third-party" / "32_snd_ECDS0018_lomrog.xml",
                 schemas=only_33)
    assert result.code == 2
    assert "no official DDI-L 3.2 XSD found" in result.err
    assert str(only_33 / "3.2") in result.err

    only_32 = copy_schemas(schema_dir, tmp_path / "only-3.2", "3.2")
    result = cli("validate", examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml",
                 schemas=only_32)
    assert result.code == 2
    assert str(only_32 / "3.3") in result.err  # first the configured directory,
    assert "ddi_l" in result.err  # then the installed package


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def test_the_installed_ddi_l_bundle_is_checked_too(cli: CliRunner, schema_dir: Path,
                                                   examples_dir: Path) -> None:
    bundle = Path(str(importlib.resources.files("ddi_l") / "schemas" / "ddi" / "v3_3"))
    renamed = {"instance.xsd": "instance_3_3.xsd"}
    official = schema_dir / "3.3"
    different = sorted(
        p.name for p in official.glob("*.xsd")
        if digest(p) != digest(bundle / renamed.get(p.name, p.name)))
    assert different == ["conceptualcomponent.xsd", "logicalproduct.xsd"]

    result = cli("validate", examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml",
                 schemas="")

    assert result.code == 2
    assert "package ddi_l" in result.err
    blamed = re.search(r"differ from the official release: (.+?)(?:;|$)", result.err, re.M)
    assert blamed, result.err
    assert blamed.group(1).split(", ") == different
    assert "CATALOGUE_DDI_SCHEMAS: not set" in result.err  # and where else it looked


def test_the_compiled_schema_is_made_once(schema_dir: Path) -> None:
    first = load_schema("3.3", schema_dir)
    assert load_schema("3.3", schema_dir) is first
    assert load_schema("3.3", schema_dir.parent / schema_dir.name) is first
    assert load_schema("3.2", schema_dir) is load_schema("3.2", schema_dir)
    assert load_schema("3.2", schema_dir) is not first
    assert first.xsd is first.xsd


def test_the_xsd_is_compiled_when_first_used(schema_dir: Path, tmp_path: Path,
                                             xsd_compilations: list[object]) -> None:
    schema = load_schema("3.3", copy_schemas(schema_dir, tmp_path / "schemas", "3.3"))
    assert schema.versionable and not xsd_compilations  # reading needs only the element sets

    threads = [threading.Thread(target=lambda: schema.xsd) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(xsd_compilations) == 1
    assert schema.xsd.validate(etree.fromstring(
        b'<r:Agency xmlns:r="ddi:reusable:3_3">fr.example</r:Agency>'))


@pytest.fixture
def element_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each time the element sets are read from the XSD files."""
    reads: list[object] = []
    real = registry._identifiable_elements

    def counting(files: Any) -> Any:
        reads.append(files)
        return real(files)

    monkeypatch.setattr(registry, "_identifiable_elements", counting)
    return reads


def assert_right_sets(schema: CompiledSchema) -> None:
    assert "{ddi:logicalproduct:3_3}Variable" in schema.versionable
    assert "{ddi:logicalproduct:3_3}Code" in schema.identifiable - schema.versionable
    assert "{ddi:logicalproduct:3_3}CodeListScheme" in schema.maintainable


def test_the_element_sets_are_read_from_the_files_when_first_used(
        schema_dir: Path, tmp_path: Path, element_reads: list[object]) -> None:
    # A helper validating a file as a tree needs only the compiled XSD.
    schema = load_schema("3.3", copy_schemas(schema_dir, tmp_path / "schemas", "3.3"))
    schema.xsd  # noqa: B018
    assert element_reads == []

    assert_right_sets(schema)
    assert len(element_reads) == 1


def test_the_element_sets_are_kept_for_the_next_process(
        schema_dir: Path, tmp_path: Path, element_reads: list[object]) -> None:
    first = load_schema("3.3", copy_schemas(schema_dir, tmp_path / "first", "3.3"))
    assert_right_sets(first)
    # another copy: a new schema, as in a new process
    second = load_schema("3.3", copy_schemas(schema_dir, tmp_path / "second", "3.3"))

    assert (second.identifiable, second.versionable, second.maintainable) == (
        first.identifiable, first.versionable, first.maintainable)
    assert len(element_reads) == 1
    assert list((tmp_path / "user-cache" / "cohort-catalogue").glob("ddi-3.3-*.json"))


def test_damaged_kept_element_sets_are_read_again_from_the_files(
        schema_dir: Path, tmp_path: Path, element_reads: list[object]) -> None:
    assert_right_sets(load_schema("3.3", copy_schemas(schema_dir, tmp_path / "a", "3.3")))
    [kept] = (tmp_path / "user-cache" / "cohort-catalogue").glob("ddi-3.3-*.json")
    damaged = (b'{"identifiable": [', b'{"identifiable": 1}', b"[]", b"",
               b'{"identifiable": "abc", "versionable": "abc", "maintainable": "abc"}')
    for n, damage in enumerate(damaged):
        kept.write_bytes(damage)
        schema = load_schema("3.3", copy_schemas(schema_dir, tmp_path / f"damaged-{n}", "3.3"))
        assert_right_sets(schema)
    assert len(element_reads) == 6
    assert_right_sets(load_schema("3.3", copy_schemas(schema_dir, tmp_path / "b", "3.3")))
    assert len(element_reads) == 6  # kept anew


def test_element_sets_that_cannot_be_kept_are_done_without(
        schema_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        element_reads: list[object]) -> None:
    not_a_directory = tmp_path / "cache-file"
    not_a_directory.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))

    for copy in ("a", "b"):
        assert_right_sets(load_schema("3.3", copy_schemas(schema_dir, tmp_path / copy, "3.3")))
    assert len(element_reads) == 2
