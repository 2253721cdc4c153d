"""A store another writer keeps locked: publications wait their turn, and a writer that
cannot wait longer fails with a clear message (exit 2, HTTP 503), never a traceback,
and changes nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import catalogue.store
from catalogue.store import Store

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI


def age_publication(ddi: SmallDDI, version: str) -> Path:
    """Version ``version`` of a publication holding one variable (in its scheme)."""
    return ddi.write(f"weight-{version}.xml", ddi.scheme(
        "l:VariableScheme", "weights", ddi.variable(
            "weight", "POIDS", {"fr": f"Poids {version}", "en": f"Weight {version}"},
            version=version), version=version), version=version)


class _Abandoned(Exception):
    pass


@contextmanager
def _publication_being_written(database: Path, seconds: float) -> Iterator[None]:
    """Another publisher, in a thread: it takes its turn, writes a publication row and
    holds it (and SQLite's write lock) for ``seconds``, then gives up (rolled back)."""
    writing = threading.Event()

    def publisher() -> None:
        store = Store(f"sqlite:///{database}")
        try:
            with store.publishing() as writer:
                writer.start(file_name="slow.xml", ddi_version="3.3", root="DDIInstance",
                             published_at="2026-11-23T00:00:00Z", published_by=None,
                             source_size=0)
                writing.set()
                time.sleep(seconds)
                raise _Abandoned
        except _Abandoned:
            pass
        finally:
            writing.set()
            store.close()

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        assert writing.wait(30)
        yield
    finally:
        thread.join(30)


@contextmanager
def _locked_by_another_connection(database: Path) -> Iterator[None]:
    """A write transaction held open by some other connection (not a publication)."""
    with closing(sqlite3.connect(database, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE publications SET title = title")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


def test_a_publication_waits_for_the_one_being_written(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # SQLite alone would make the second publisher give up when its busy timeout (made
    # short here) runs out, however long the first still takes: a large publication
    # holds the write lock for minutes.
    assert cli("publish", age_publication(ddi, "1")).code == 0
    monkeypatch.setattr(catalogue.store, "BUSY_TIMEOUT_SECONDS", 0.2)
    with _publication_being_written(data_dir / "catalogue.sqlite", 1.5):
        started = time.monotonic()
        result = cli("publish", age_publication(ddi, "2"))
        waited = time.monotonic() - started
    assert result.code == 0, result.err
    assert waited > 1.0
    assert "waiting for another publication" in caplog.text
    listed = cli("list", "--json").json()
    assert [p["urn"] for p in listed] == ["urn:ddi:fr.test:publication:1",
                                          "urn:ddi:fr.test:publication:2"]


def test_a_store_locked_too_long_is_a_clear_error_and_nothing_changes(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("publish", age_publication(ddi, "1")).code == 0
    before = cli("list", "--json").json()
    monkeypatch.setattr(catalogue.store, "BUSY_TIMEOUT_SECONDS", 0.2)
    with _locked_by_another_connection(data_dir / "catalogue.sqlite"):
        result = cli("publish", age_publication(ddi, "2"))
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.out + result.err
    assert "the store is busy" in result.err and "nothing was changed" in result.err
    assert cli("list", "--json").json() == before
    assert cli("publish", age_publication(ddi, "2")).code == 0


def test_a_publication_waits_at_most_so_long_for_its_turn(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("publish", age_publication(ddi, "1")).code == 0
    monkeypatch.setattr(catalogue.store, "PUBLISH_WAIT_SECONDS", 0.3)
    with _publication_being_written(data_dir / "catalogue.sqlite", 1.5):
        result = cli("publish", age_publication(ddi, "2"))
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.out + result.err
    assert "another publication was being written" in result.err
    assert [p["urn"] for p in cli("list", "--json").json()] == [
        "urn:ddi:fr.test:publication:1"]
