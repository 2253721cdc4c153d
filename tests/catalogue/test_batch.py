"""Batch commands space out the garbage collector's passes while they run, and give the
process its own thresholds back afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import catalogue.publishing
import catalogue.validation
import search.indexing
from catalogue.batch import BATCH_THRESHOLDS

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI


@pytest.fixture
def thresholds() -> Iterator[None]:
    outside = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults
    yield
    gc.set_threshold(*outside)


def _recording(seen: list[tuple[int, int, int]], function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return function(*args, **kwargs)
    return wrapper


@pytest.mark.usefixtures("thresholds")
def test_publish_validate_and_reindex_run_with_batch_thresholds(
        cli: CliRunner, ddi: SmallDDI, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ddi.write("one.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("age", "AGE", {"fr": "Âge", "en": "Age"})))
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(catalogue.publishing, "publish_paths",
                        _recording(seen, catalogue.publishing.publish_paths))
    monkeypatch.setattr(search.indexing, "index_publications",
                        _recording(seen, search.indexing.index_publications))
    monkeypatch.setattr(search.indexing, "reindex", _recording(seen, search.indexing.reindex))
    monkeypatch.setattr(catalogue.validation, "validate_paths",
                        _recording(seen, catalogue.validation.validate_paths))

    assert cli("validate", path).code == 0
    assert cli("publish", path).code == 0
    assert cli("reindex").code == 0

    assert seen == [BATCH_THRESHOLDS] * 4  # validate, publish, its indexing, reindex
    assert gc.get_threshold() == (700, 10, 10)
