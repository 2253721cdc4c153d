"""Search finds current items only: a new version replaces the old one in the results,
and withdrawing it brings the old one back (the older publication is indexed again,
with only its items still current)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI


def publication(ddi: SmallDDI, version: str, *, with_sex: bool = False) -> Path:
    """The variable ``age`` at ``version`` in a scheme at that version; with ``with_sex``,
    also ``sex``, always at version 1 (so never superseded by the other publications)."""
    variables = [ddi.variable("age", "AGE", {"fr": f"Âge (version {version})"},
                              version=version)]
    if with_sex:
        variables.append(ddi.variable("sex", "SEXE", {"fr": "Sexe"}))
    return ddi.write(f"age-{version}.xml", ddi.scheme("l:VariableScheme", "vs", *variables,
                                                      version=version), version=version)


def found(cli: CliRunner) -> list[str]:
    result = cli("search", "--kind", "variable", "--json")
    assert result.code == 0, result.err
    return sorted(hit["urn"] for hit in result.json()["hits"])


@pytest.mark.parametrize("engine", ["tantivy", "whoosh"])
def test_search_holds_the_current_version_of_each_item(
        cli: CliRunner, ddi: SmallDDI, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setenv("CATALOGUE_SEARCH_ENGINE", engine)
    assert cli("publish", publication(ddi, "1", with_sex=True)).code == 0
    assert found(cli) == ["urn:ddi:fr.test:age:1", "urn:ddi:fr.test:sex:1"]

    assert cli("publish", publication(ddi, "2")).code == 0
    assert found(cli) == ["urn:ddi:fr.test:age:2", "urn:ddi:fr.test:sex:1"]

    assert cli("withdraw", "2", "--reason", "published by mistake").code == 0
    assert found(cli) == ["urn:ddi:fr.test:age:1", "urn:ddi:fr.test:sex:1"]
