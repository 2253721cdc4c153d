"""The index is derived from the store: an index this version cannot use is replaced and
rebuilt from the store on the next search, and ``catalogue reindex`` always works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from search.index_dir import MARKER_FILE


def _publish_one_variable(cli: Any, ddi: Any, data: Path) -> None:
    path = ddi.write(
        "small.xml",
        ddi.scheme("l:VariableScheme", "vs",
                   ddi.variable("v1", "TABAC_V1", {"fr": "Statut tabagique", "en": "Smoking"})))
    assert cli("publish", path, data=data).code == 0


@pytest.mark.parametrize("engine", ["tantivy", "whoosh"])
def test_an_unusable_index_is_rebuilt_from_the_store(cli: Any, ddi: Any, data_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     engine: str) -> None:
    monkeypatch.setenv("CATALOGUE_SEARCH_ENGINE", engine)
    _publish_one_variable(cli, ddi, data_dir)
    marker = data_dir / "index" / engine / MARKER_FILE
    # As an older version of the catalogue would have left it.
    marker.write_text(json.dumps({"engine": engine, "schema": 0}), encoding="utf-8")

    found = cli("search", "tabac", "--json", data=data_dir)

    assert found.code == 0, found.err
    assert [h["name"] for h in found.json()["hits"]] == ["TABAC_V1"]


def test_reindex_replaces_an_unusable_index(cli: Any, ddi: Any, data_dir: Path) -> None:
    _publish_one_variable(cli, ddi, data_dir)
    marker = data_dir / "index" / "tantivy" / MARKER_FILE
    marker.write_text(json.dumps({"engine": "tantivy", "schema": 0}), encoding="utf-8")

    assert cli("reindex", data=data_dir).code == 0
    found = cli("search", "smoking", "--json", data=data_dir)
    assert [h["name"] for h in found.json()["hits"]] == ["TABAC_V1"]
