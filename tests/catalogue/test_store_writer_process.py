"""A large batch's rows are written by a writer process: the store ends up holding what
this process would have written and identity conflicts are still found. A writer that
cannot start, or a store in memory that no other process can reach, leaves the rows to
this process; a writer that dies or fails fails the publish with its reason, nothing
committed. (A writer or a publishing process killed midway: ``test_bad_input.py``.)"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from catalogue import publishing
from catalogue.publishing import publish_paths
from catalogue.store import Store, writer_process
from catalogue.store.tables import edges, items, publication_sources, publications
from catalogue.store.writer_process import WriterFailed, WriterProcess
from cohorts import bundled_files

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stores a writer process was launched for, in order."""
    launched: list[str] = []
    launch = WriterProcess.launch

    def spy(url: str) -> WriterProcess | None:
        launched.append(url)
        return launch(url)

    monkeypatch.setattr(WriterProcess, "launch", spy)
    return launched


def every_batch_to_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publishing, "WRITER_PROCESS_BYTES", 0)


def _age_file(ddi: SmallDDI) -> Path:
    """A publication of one variable."""
    return ddi.write("age.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("age", "AGE", {"fr": "Âge"})))


def _writer_stops_at_commit(monkeypatch: pytest.MonkeyPatch, *, after_committing: bool) -> None:
    """The writer is told to commit and stops without answering, having committed or not."""
    committing = WriterProcess.commit

    def stop(self: WriterProcess) -> None:
        if after_committing:
            committing(self)
        raise WriterFailed("nothing published: the store's writer stopped (killed by "
                           "signal 9)")

    monkeypatch.setattr(WriterProcess, "commit", stop)


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a publication adds (``published_at`` aside: each batch has its own)."""
    with store.read() as conn:
        return {
            "publications": [tuple(r) for r in conn.execute(
                select(*(c for c in publications.c if c.name != "published_at"))
                .order_by(publications.c.id))],
            "sources": [tuple(r) for r in conn.execute(
                select(publication_sources).order_by(publication_sources.c.publication_id))],
            "items": [tuple(r) for r in conn.execute(select(items).order_by(items.c.pk))],
            "edges": [tuple(r) for r in conn.execute(
                select(edges).order_by(edges.c.from_pk, edges.c.position))],
        }


def published(tmp_path: Path, name: str, schema_dir: Path, paths: list[Path],
              before: Callable[[Store], None] = lambda store: None
              ) -> dict[str, list[tuple[Any, ...]]]:
    store = Store(f"sqlite:///{tmp_path / name / 'catalogue.sqlite'}")
    try:
        before(store)
        publish_paths(paths, store, schema_dir)
        return dump(store)
    finally:
        store.close()


def test_the_writer_process_stores_what_this_process_would(
        tmp_path: Path, schema_dir: Path, monkeypatch: pytest.MonkeyPatch,
        launches: list[str]) -> None:
    cohorts = list(bundled_files())
    first, rest = cohorts[:1], cohorts[1:]

    def first_cohort(store: Store) -> None:  # later ones then resolve references to it
        publish_paths(first, store, schema_dir)

    here = published(tmp_path, "here", schema_dir, rest, first_cohort)
    assert launches == []  # the bundled cohorts are small batches
    every_batch_to_the_writer(monkeypatch)
    there = published(tmp_path, "there", schema_dir, rest, first_cohort)
    assert len(launches) == 2  # the first cohort, then the others in one batch

    assert len(here["publications"]) == len(cohorts) >= 4
    assert len(here["items"]) > 1000 and len(here["edges"]) > 1000
    xml = list(items.c.keys()).index("xml")
    assert sum(row[xml] is not None for row in here["items"]) > 500  # fragments kept
    for table, rows in here.items():
        assert there[table] == rows, table


def test_an_identity_conflict_is_found_through_the_writer_process(
        cli: CliRunner, ddi: SmallDDI, monkeypatch: pytest.MonkeyPatch,
        launches: list[str]) -> None:
    first = ddi.write("first.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("age", "AGE", {"fr": "Âge"})))
    changed = ddi.write("changed.xml", ddi.scheme(
        "l:VariableScheme", "vs2", ddi.variable("age", "AGE", {"fr": "Âge révolu"})),
        id_="other")
    every_batch_to_the_writer(monkeypatch)
    assert cli("publish", first).code == 0
    result = cli("publish", changed)
    assert result.code == 1
    said = result.out + result.err
    assert "identity-conflict" in said
    assert "urn:ddi:fr.test:age:1 is already published with different content" in said
    assert [p["urn"] for p in cli("list", "--json").json()] == [
        "urn:ddi:fr.test:publication:1"]
    assert len(launches) == 2


def test_a_writer_process_that_cannot_start_leaves_the_rows_to_this_process(
        cli: CliRunner, ddi: SmallDDI, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path = _age_file(ddi)
    every_batch_to_the_writer(monkeypatch)
    monkeypatch.setattr(writer_process.sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger="catalogue.store.writer_process"):
        assert cli("publish", path).code == 0
    assert "no writer process" in caplog.text
    assert cli("show", "urn:ddi:fr.test:age:1").code == 0


def test_a_writer_process_that_dies_at_once_publishes_nothing(
        cli: CliRunner, ddi: SmallDDI, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _age_file(ddi)
    every_batch_to_the_writer(monkeypatch)
    python = sys.executable
    monkeypatch.setattr(writer_process.sys, "executable", "/bin/false")
    result = cli("publish", path)
    assert result.code == 2
    assert "nothing published: the store's writer stopped" in result.err
    assert "Traceback" not in result.err
    monkeypatch.setattr(writer_process.sys, "executable", python)
    assert cli("list", "--json").json() == []
    assert cli("publish", path).code == 0


def test_a_writer_process_that_fails_says_why(
        tmp_path: Path, schema_dir: Path, ddi: SmallDDI,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = _age_file(ddi)
    every_batch_to_the_writer(monkeypatch)
    store = Store(f"sqlite:///{tmp_path / 'data' / 'catalogue.sqlite'}")
    try:
        # The writer opens the store from its URL: here one it cannot create.
        monkeypatch.setattr(store, "url", f"sqlite:///{path}/not-a-directory/catalogue.sqlite")
        with pytest.raises(WriterFailed, match=r"^nothing published: the store's writer "
                                               r"(failed|stopped) \(NotADirectoryError: "):
            publish_paths([path], store, schema_dir)
        assert store.list_publications() == []
    finally:
        store.close()


def test_a_store_in_memory_keeps_its_rows_in_this_process(
        schema_dir: Path, ddi: SmallDDI, monkeypatch: pytest.MonkeyPatch,
        launches: list[str]) -> None:
    # Another process opening "sqlite://" would get a database of its own.
    path = _age_file(ddi)
    every_batch_to_the_writer(monkeypatch)
    store = Store("sqlite://")
    try:
        (result,) = publish_paths([path], store, schema_dir)
        assert result.publication.counts.variables == 1
        assert store.find("fr.test", "age", "1") is not None
    finally:
        store.close()
    assert launches == []


def test_a_writer_that_stops_between_its_commit_and_its_answer_has_published(
        schema_dir: Path, ddi: SmallDDI, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The publication is complete in the store: saying "nothing published" would be
    # wrong, and publishing it again would give a second copy.
    path = _age_file(ddi)
    every_batch_to_the_writer(monkeypatch)
    _writer_stops_at_commit(monkeypatch, after_committing=True)
    store = Store(f"sqlite:///{tmp_path / 'catalogue.sqlite'}")
    try:
        (result,) = publish_paths([path], store, schema_dir)
        assert result.publication.counts.variables == 1
        assert [p.id for p in store.list_publications()] == [result.publication.id]
    finally:
        store.close()


def test_a_writer_that_stops_before_its_commit_leaves_nothing(
        schema_dir: Path, ddi: SmallDDI, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Its rows were committed batch by batch: the publish removes them.
    path = _age_file(ddi)
    every_batch_to_the_writer(monkeypatch)
    _writer_stops_at_commit(monkeypatch, after_committing=False)
    store = Store(f"sqlite:///{tmp_path / 'catalogue.sqlite'}")
    try:
        with pytest.raises(WriterFailed):
            publish_paths([path], store, schema_dir)
        assert store.list_publications() == []
        with store.read() as conn:
            for table in (publications, items, edges, publication_sources):
                assert conn.execute(select(table)).first() is None, table.name
    finally:
        store.close()
