"""The catalogue's store: the source of truth (publications, every version of every item,
references as edges). SQLite now, PostgreSQL-ready: all SQL is in this package, written
with SQLAlchemy Core, nothing SQLite-specific outside :func:`_sqlite_pragmas`,
:func:`_sqlite_busy` and the publishing lock's file.

Nothing is updated in place: publishing adds rows, seen only once their publication is
marked complete (see :mod:`catalogue.store.publications`); "current" (the latest version
of each item among publications not withdrawn) is a query, not a copy.
(Opening a store made before ``publication_sources`` moves the published files there
once: see :meth:`Store._move_sources`.)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from catalogue.errors import StoreBusy
from catalogue.locking import FileLock
from catalogue.store.accounts import AccountQueries
from catalogue.store.items import ItemQueries
from catalogue.store.publications import PublicationQueries, PublicationWriter, RowWriter
from catalogue.store.requests import RequestQueries
from catalogue.store.tables import metadata, publication_sources, publications

log = logging.getLogger(__name__)

#: How long a statement waits for another connection's write to end (SQLite's busy
#: timeout) before failing with :class:`StoreBusy`.
BUSY_TIMEOUT_SECONDS = 60.0
#: How long a publication waits for another one being written to the same store.
PUBLISH_WAIT_SECONDS = 30 * 60.0


class Store(PublicationQueries, ItemQueries, AccountQueries, RequestQueries):
    """Open once per process (in ``lifespan`` for the web app); thread-safe."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        #: Whether another process opening ``url`` reaches this same database (not so for
        #: an SQLite database in memory).
        self.shared = parsed.get_backend_name() != "sqlite" or (
            parsed.database not in (None, "", ":memory:") and parsed.query.get("mode") != "memory")
        #: Publishing takes this lock for as long as it writes (see :meth:`publishing`).
        self._publishing_lock: Path | threading.Lock | None = None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "handle_error", _sqlite_busy)
            self._publishing_lock = (
                Path(f"{parsed.database}.publishing-lock") if self.shared
                else threading.Lock())
        self._create_schema()

    def _create_schema(self) -> None:
        """Create missing tables. Several processes (web workers) may start on an empty
        data directory at once: the one that loses the race finds the tables made by
        the other and checks again."""
        for attempt in range(5):
            try:
                metadata.create_all(self.engine)
                break
            except OperationalError as exc:
                if "already exists" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        self._move_sources()

    def _move_sources(self) -> None:
        """Move published files still kept in their publication's row (stores made before
        ``publication_sources``) to that table, in one transaction: a worker that loses
        the race to another doing the same finds nothing left to move."""
        moved = select(publications.c.id).where(publications.c.source.is_not(None))
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(moved.limit(1)).first() is None:
                        return
                    conn.execute(publication_sources.insert().from_select(
                        ["publication_id", "source"],
                        select(publications.c.id, publications.c.source)
                        .where(publications.c.source.is_not(None))))
                    conn.execute(update(publications)
                                 .where(publications.c.source.is_not(None))
                                 .values(source=None))
                return
            except (OperationalError, IntegrityError):
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All or nothing: committed when the block ends, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def publishing(self, *, writer_process: bool = False) -> Iterator[PublicationWriter]:
        """A writer of new publications: all of them made visible when the block ends, none
        on any error. With ``writer_process`` (for large batches), the rows are written by
        a helper process while this one goes on (see :mod:`catalogue.store.writer_process`),
        or here when it cannot start or cannot reach the database (one in memory).

        Rows are committed batch by batch, their publication incomplete and so unseen,
        which keeps SQLite's write lock free for other writers most of the time (see
        :mod:`catalogue.store.publications`); they are removed if the block fails, or by
        the next publication if this process dies first.

        One publication is written at a time: a second one waits for the first to be done
        (up to :data:`PUBLISH_WAIT_SECONDS`). Holding that turn, whatever incomplete
        publication is found was left by a process that died: it is removed first."""
        with self._publishing_turn() as exclusive:
            # Without a turn to hold (no such lock for other databases yet), an incomplete
            # publication may be another one being written: only ours are removed then.
            left = self.discard_incomplete() if exclusive else []
            if left:
                log.warning("removed the rows of publication(s) %s, left incomplete by a "
                            "publishing process that stopped", ", ".join(map(str, left)))
            yield from self._publishing(writer_process)

    def _publishing(self, writer_process: bool) -> Iterator[PublicationWriter]:
        writer: PublicationWriter | None = None
        try:
            if writer_process and self.shared:
                from catalogue.store.writer_process import (  # noqa: PLC0415
                    WriterFailed,
                    WriterProcess,
                )

                remote = WriterProcess.launch(self.url)
                if remote is not None:
                    with remote:
                        writer = PublicationWriter(remote)
                        yield writer
                        try:
                            remote.commit()
                        except WriterFailed:
                            # It may have stopped between its commit and its answer.
                            if not (writer.publication_ids
                                    and self.all_complete(writer.publication_ids)):
                                raise
                            log.warning("the store's writer stopped once it had committed")
                    return
            with self.engine.connect() as conn:  # closed uncommitted: rolled back
                writer = PublicationWriter(RowWriter(conn))
                yield writer
                conn.commit()
        except BaseException:
            if writer is not None:
                try:
                    self.discard_incomplete(writer.publication_ids)
                except Exception:  # the failure that got us here is the one to report
                    log.warning("the rows of the failed publication are left unseen, for "
                                "the next one to remove", exc_info=True)
            raise

    @contextmanager
    def _publishing_turn(self) -> Iterator[bool]:
        """Wait for this store's turn to publish; yields whether it is exclusive (no other
        process or thread is publishing to it)."""
        lock = self._publishing_lock
        if isinstance(lock, Path):
            def busy() -> StoreBusy:
                return StoreBusy(f"nothing published: another publication was being written "
                                 f"to this store for over {PUBLISH_WAIT_SECONDS:g} s; try "
                                 "again when it has finished")

            def waiting() -> None:
                log.warning("waiting for another publication to this store to be written")

            with FileLock(lock, PUBLISH_WAIT_SECONDS, busy, waiting):
                yield True
        elif lock is not None:
            with lock:
                yield True
        else:
            yield False

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers (web workers) never block the writer and see only committed data;
    # a writer killed mid-transaction leaves the last committed state.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def _sqlite_busy(context: ExceptionContext) -> None:
    """SQLite's "database is locked" (its busy timeout ran out while another connection
    held the write lock) as :class:`StoreBusy`: a clear message and a 503, not a traceback."""
    original = context.original_exception
    if isinstance(original, sqlite3.OperationalError) and (
            "database is locked" in str(original) or "database is busy" in str(original)):
        raise StoreBusy(
            f"the store is busy: another process kept it locked for over "
            f"{BUSY_TIMEOUT_SECONDS:g} s (a large publication being written?); nothing was "
            "changed, try again in a minute") from original


def open_store(url: str) -> Store:
    return Store(url)
