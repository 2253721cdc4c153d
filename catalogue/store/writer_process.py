"""The rows of a large publication, written by a helper process.

Publishing is work for one core: reading the file and building its items, then writing
their rows (the SQL, each item's content hash and its compressed XML fragment), about
two fifths of the time. For a large batch, :meth:`catalogue.store.Store.publishing`
hands the rows to a writer process (``python -m catalogue.store.writer_process``: it
inherits nothing of this one) that writes them while this process reads on.

All or nothing still holds: the writer commits batches of rows of an incomplete (unseen)
publication, and the publication is marked complete only when this process says so,
once it has checked everything (see :mod:`catalogue.store.publications`). If this process
dies, the writer reads the end of its pipe and removes what it wrote; if the writer dies
or fails, this process raises :class:`WriterFailed` and removes it. Messages are tuples
of builtins (and :class:`Conflict` in replies): rows are sent in batches without waiting
for an answer, the pipe's capacity keeping this process at most a few batches ahead;
only ``start``, ``conflicts``, ``finish`` and ``commit`` wait for one. A writer that
fails says why and ends at once, removing what it wrote.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from catalogue.batch import batch_collection
from catalogue.errors import CatalogueError
from catalogue.store.publications import Conflict, QueuedItem, RowWriter

log = logging.getLogger(__name__)

#: Seconds to wait for the writer to end once told to (removing what it wrote).
_EXIT_WAIT = 60


class WriterFailed(CatalogueError):
    """The writer process failed or stopped: nothing was published."""

    status = 500
    exit_code = 2


class WriterProcess:
    """This process's end: a :class:`catalogue.store.publications.Rows` whose rows go to
    the writer process. Use it as a context manager; :meth:`commit` inside the block."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._sending = Connection(os.dup(process.stdin.fileno()), readable=False)
        self._receiving = Connection(os.dup(process.stdout.fileno()), writable=False)
        process.stdin.close()
        process.stdout.close()
        self._send(("open", url))

    @classmethod
    def launch(cls, url: str) -> WriterProcess | None:
        """A new writer process for the store at ``url``; None when none can start."""
        try:
            process = subprocess.Popen([sys.executable, "-m", __name__],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
        except OSError as exc:
            log.warning("no writer process (%s): writing the rows here", exc)
            return None
        return cls(url, process)

    # -- the Rows protocol ---------------------------------------------------------------

    def start(self, values: dict[str, Any]) -> int:
        result: int = self._call(("start", values))
        return result

    def add(self, queued: list[QueuedItem]) -> None:
        if self._receiving.poll():  # the writer failed: it says so, and ends
            raise WriterFailed(self._stopped(None))
        self._send(("add", queued))

    def conflicts(self, publication_id: int, agencies: Sequence[str] | None = None,
                  siblings: Sequence[int] = ()) -> list[Conflict]:
        result: list[Conflict] = self._call(("conflicts", publication_id, agencies,
                                             siblings))
        return result

    def finish(self, publication_id: int, values: dict[str, Any], source: bytes) -> None:
        self._call(("finish", publication_id, values, source))

    def commit(self) -> None:
        self._call(("commit",))

    # -- the process ---------------------------------------------------------------------

    def __enter__(self) -> WriterProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        # Closing the pipe is the writer's signal to end: after a commit it is already
        # ending; otherwise it rolls back first.
        self._sending.close()
        try:
            self.process.wait(timeout=_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._receiving.close()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._sending.send(message)
        except OSError as exc:  # the writer is gone: its reason, when it gave one
            raise WriterFailed(self._stopped(exc)) from None

    def _call(self, message: tuple[Any, ...]) -> Any:
        self._send(message)
        try:
            status, value = self._receiving.recv()
        except (EOFError, OSError) as exc:
            raise WriterFailed(self._stopped(exc)) from None
        if status != "ok":
            raise WriterFailed(f"nothing published: the store's writer failed ({value})")
        return value

    def _stopped(self, exc: BaseException | None) -> str:
        """Why the writer ended: what it said, else how its process ended."""
        reason = None
        with contextlib.suppress(EOFError, OSError):
            if self._receiving.poll():
                status, value = self._receiving.recv()
                if status != "ok":
                    reason = str(value)
        if reason is None:
            try:
                code = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            reason = (f"killed by signal {-code}" if code is not None and code < 0
                      else f"exit status {code}" if code is not None
                      else type(exc).__name__ if exc is not None else "no answer")
        return f"nothing published: the store's writer stopped ({reason})"


def _serve(receiving: Connection, sending: Connection) -> None:
    """The writer: rows written as they come, the publication marked complete when (and
    only when) told to. On the first failure, or when the pipe ends first, it removes
    what it wrote, says why (on a failure) and ends."""
    from catalogue.store import Store  # noqa: PLC0415 - the package imports this module

    url = receiving.recv()[1]
    try:
        store = Store(url)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        sending.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    try:
        with store.engine.connect() as conn:
            rows = RowWriter(conn)
            while True:
                try:
                    message = receiving.recv()
                except EOFError:  # told to end, or the publishing process died
                    conn.rollback()
                    store.discard_incomplete(rows.started)
                    return
                try:
                    result = _answer(rows, message)
                except Exception as exc:  # noqa: BLE001 - reported to the parent
                    conn.rollback()
                    sending.send(("error", f"{type(exc).__name__}: {exc}"))
                    store.discard_incomplete(rows.started)
                    return
                if message[0] != "add":
                    sending.send(("ok", result))
                if message[0] == "commit":
                    return
    finally:
        store.close()


def _answer(rows: RowWriter, message: tuple[Any, ...]) -> Any:
    operation = message[0]
    if operation == "add":
        rows.add(message[1])
        return None
    if operation == "start":
        return rows.start(message[1])
    if operation == "conflicts":
        return rows.conflicts(message[1], message[2], message[3])
    if operation == "finish":
        rows.finish(message[1], message[2], message[3])
        return None
    if operation == "commit":
        rows.conn.commit()
        return None
    raise ValueError(f"unknown operation {operation!r}")


def main() -> int:
    """``python -m catalogue.store.writer_process``: requests on stdin, answers on stdout."""
    receiving = Connection(os.dup(sys.stdin.fileno()), writable=False)
    sending = Connection(os.dup(sys.stdout.fileno()), readable=False)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot garble them
    try:
        with batch_collection():
            _serve(receiving, sending)
    except EOFError:
        pass  # the publishing process ended before saying where the store is
    finally:
        sending.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
