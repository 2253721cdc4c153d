"""Parsing a file whole in a thread, started early: only safe DDI-L of a bounded size,
and a parse error raised where the tree is asked for."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lxml import etree

from ddi_schemas import inspect
from ddi_schemas.inspect import ParsedTree, parse_early

if TYPE_CHECKING:
    from conftest import SmallDDI


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread of each whole parse."""
    names: list[str] = []
    real = etree.parse

    def parse(*args: Any, **kwargs: Any) -> Any:
        names.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(inspect.etree, "parse", parse)
    return names


def small_ddi(ddi: SmallDDI) -> Path:
    return ddi.write("small.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "V1", {"fr": "Âge"})))


def test_a_small_ddi_file_is_parsed_in_a_thread_of_its_own(ddi: SmallDDI,
                                                            parses: list[str]) -> None:
    parsed = parse_early(small_ddi(ddi))

    assert isinstance(parsed, ParsedTree)
    assert parsed.tree().getroot().tag == "{ddi:instance:3_3}DDIInstance"
    assert parses == ["catalogue-parse"]


def test_only_safe_ddi_files_of_a_bounded_size_are_parsed_early(
        ddi: SmallDDI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        parses: list[str]) -> None:
    not_ddi = tmp_path / "page.xml"
    not_ddi.write_text("<html xmlns='http://www.w3.org/1999/xhtml'/>")
    laughs = tmp_path / "laughs.xml"
    laughs.write_text('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                      '<!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
                      '<ddi:DDIInstance xmlns:ddi="ddi:instance:3_3">&lol2;</ddi:DDIInstance>')
    assert parse_early(not_ddi) is None
    assert parse_early(laughs) is None
    assert parse_early(tmp_path / "missing.xml") is None

    path = small_ddi(ddi)
    monkeypatch.setattr(inspect, "TREE_BYTES", path.stat().st_size - 1)
    assert parse_early(path) is None  # streamed when its turn comes
    assert parses == []


def test_a_parse_error_is_raised_where_the_tree_is_asked_for(ddi: SmallDDI) -> None:
    path = small_ddi(ddi)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:len(text) * 3 // 4], encoding="utf-8")  # cut short

    parsed = parse_early(path)

    assert parsed is not None
    with pytest.raises(etree.XMLSyntaxError):
        parsed.tree()
