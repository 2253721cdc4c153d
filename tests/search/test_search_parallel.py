"""A large publication's documents are built by this process and a helper process: the
index gets the same documents as when one process builds them all, and a helper that
cannot start, fails or dies leaves the work to this process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.structure import PublicationStructure
from search import indexing, parallel
from search.fields import IndexedDocument, prepared


@pytest.fixture
def constances(bundled_catalogue: Settings) -> Iterator[PublicationStructure]:
    store = Store(bundled_catalogue.store_url)
    try:
        (pid,) = [p.id for p in store.list_publications() if p.file_name == "constances.xml"]
        yield PublicationStructure(store, pid)
    finally:
        store.close()


def _key(document: IndexedDocument) -> str:
    return document.stored


def sequential(structure: PublicationStructure,
               current: set[str] | None = None) -> list[IndexedDocument]:
    if current is None:
        current = indexing.current_urns(structure.store, structure.publication_id)
    return sorted((prepared(d) for d in indexing.publication_documents(structure, current)),
                  key=_key)


def shared(settings: Settings, structure: PublicationStructure,
           current: set[str] | None = None) -> list[IndexedDocument]:
    if current is None:
        current = indexing.current_urns(structure.store, structure.publication_id)
    return sorted((prepared(d) for d in parallel.publication_documents(settings, structure,
                                                                       current)), key=_key)


@pytest.fixture
def split_from_the_first_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 1)


@pytest.mark.usefixtures("split_from_the_first_variable")
def test_the_helper_builds_the_same_documents(
        bundled_catalogue: Settings, constances: PublicationStructure,
        caplog: pytest.LogCaptureFixture) -> None:
    expected = sequential(constances)
    assert len(expected) > 100
    with caplog.at_level(logging.WARNING, logger="search.parallel"):
        assert shared(bundled_catalogue, constances) == expected
    assert not caplog.records  # the helper did its share


@pytest.mark.usefixtures("split_from_the_first_variable")
def test_the_helper_leaves_out_what_is_no_longer_current(
        bundled_catalogue: Settings, constances: PublicationStructure) -> None:
    # As when a later publication supersedes some of this one's items: the helper is
    # given the list of those still current.
    everything = indexing.current_urns(constances.store, constances.publication_id)
    current = {urn for n, urn in enumerate(sorted(everything)) if n % 3}
    expected = sequential(constances, current)
    assert 0 < len(expected) < len(sequential(constances))
    assert shared(bundled_catalogue, constances, current) == expected


@pytest.mark.usefixtures("split_from_the_first_variable")
def test_a_helper_that_fails_leaves_its_share_to_this_process(
        bundled_catalogue: Settings, constances: PublicationStructure,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    expected = sequential(constances)
    # The helper opens the store from the settings (this process uses the one it has):
    # here another, empty one, which does not hold the publication.
    elsewhere = replace(bundled_catalogue, database_url=f"sqlite:///{tmp_path / 'other.sqlite'}")
    with caplog.at_level(logging.WARNING, logger="search.parallel"):
        assert shared(elsewhere, constances) == expected
    assert "the indexing helper failed (NotFound: no publication" in caplog.text


@pytest.mark.usefixtures("split_from_the_first_variable")
@pytest.mark.parametrize(("executable", "said"), [
    ("/bin/false", "it stopped before it was done"),  # starts, dies at once
    ("/nonexistent/python", "no indexing helper"),  # cannot start
])
def test_a_helper_that_dies_or_never_starts_leaves_the_work_to_this_process(
        bundled_catalogue: Settings, constances: PublicationStructure,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        executable: str, said: str) -> None:
    expected = sequential(constances)
    monkeypatch.setattr(parallel.sys, "executable", executable)
    with caplog.at_level(logging.WARNING, logger="search.parallel"):
        assert shared(bundled_catalogue, constances) == expected
    assert said in caplog.text


def test_a_small_publication_is_built_here(
        bundled_catalogue: Settings, constances: PublicationStructure,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(parallel.sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger="search.parallel"):
        assert shared(bundled_catalogue, constances) == sequential(constances)
    assert not caplog.records  # no helper was asked for
