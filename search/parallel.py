"""The documents of a large publication, built by this process and a helper process.

A variable's document is made of the variable and what it points at (its question, code
list, categories, concepts), each read back from the store and decoded: about 330 µs a
variable, most of the time that indexing a publication of 100,000 variables takes, and
work for one core while the other idles. From :data:`PARALLEL_FROM` variables on, they are
split in two ranges of store keys: a helper process (``python -m search.parallel``: it
inherits nothing of this one) builds the documents of the second range, then the
questions', and sends them back in batches, while this process builds those of the first
range and the studies', and hands everything to the index writer.

Nothing here decides what a document holds (see :mod:`search.indexing`): both processes
build them with the same functions, and the index gets the same documents either way.
If the helper fails or dies, this process builds what it had not sent, and logs why.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from multiprocessing.connection import Connection

from catalogue.batch import batch_collection
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.structure import PublicationStructure
from search import indexing
from search.documents import SearchDocument
from search.fields import Indexable, IndexedDocument, indexed_document
from search.indexing import question_documents, study_documents, variable_documents

log = logging.getLogger(__name__)

#: Below this many variables, starting a helper (about a second: a new interpreter, its
#: imports, the publication's structure) costs more than it saves.
PARALLEL_FROM = 20_000
#: The helper's share of the documents: the questions', and as many variables' as it
#: takes to reach it. This process also turns every document into the index's form and
#: writes it: with this share both end at about the same time. Measured on the
#: publications of ``bench/ingest.py`` (one question a variable), indexing 100,000
#: variables in turn: 44.9-46.6 s with the helper building 35% of the variables (this
#: share), 53.9-54.4 s at 60% (the helper ended 26 s after this process).
HELPER_SHARE = 0.67
#: Documents per message from the helper, and messages received ahead of their use.
_BATCH = 500
_QUEUED = 40
#: The documents this process builds between two looks at what the helper has sent (its
#: pipe holds a few batches; a helper whose pipe is full waits).
_POLL_EVERY = 200


#: A message from the helper: URNs and the indexed form of as many documents.
_Batch = tuple[list[str], list[IndexedDocument]]


def publication_documents(settings: Settings, structure: PublicationStructure,
                          current: set[str] | None = None) -> Iterator[Indexable]:
    """The documents of :func:`search.indexing.publication_documents`, the variables of
    a large publication built on two cores (see the module docstring)."""
    keys = structure.store.item_keys(structure.publication_id, ("Variable",))
    if len(keys) < max(PARALLEL_FROM, 2):
        yield from indexing.publication_documents(structure, current)
        return
    questions = structure.store.item_count(structure.publication_id, ("Question",))
    theirs_count = round(HELPER_SHARE * (len(keys) + questions)) - questions
    split = len(keys) - min(len(keys) - 1, max(1, theirs_count))  # each builds one at least
    own, theirs = (keys[0], keys[split - 1]), (keys[split], keys[-1])
    job = _Job(settings, structure.publication_id, theirs, current)
    try:
        helper = subprocess.Popen([sys.executable, "-m", "search.parallel"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
    except OSError as exc:
        log.warning("no indexing helper (%s): building every document here", exc)
        yield from indexing.publication_documents(structure, current)
        return
    try:
        yield from _share(structure, current, own, theirs, job, helper)
    finally:
        if helper.stdin is not None:
            with contextlib.suppress(OSError):
                helper.stdin.close()
        try:
            helper.wait(timeout=5)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()


def _share(structure: PublicationStructure, current: set[str] | None, own: tuple[int, int],
           theirs: tuple[int, int], job: _Job, helper: subprocess.Popen[bytes]
           ) -> Iterator[Indexable]:
    """This process's documents, and the helper's as they arrive."""
    assert helper.stdin is not None and helper.stdout is not None
    receiving = Connection(os.dup(helper.stdout.fileno()), writable=False)
    helper.stdout.close()
    with contextlib.suppress(OSError), helper.stdin:  # a helper that died is seen below
        pickle.dump(job, helper.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    helper_documents = _HelperDocuments(receiving)
    try:
        mine = chain(variable_documents(structure, current, own),
                     study_documents(structure, current))
        for count, document in enumerate(mine):
            yield document
            if count % _POLL_EVERY == 0:
                yield from helper_documents.arrived(wait=False)
        yield from helper_documents.arrived(wait=True)
        if helper_documents.failure is not None:
            log.warning("the indexing helper failed (%s); building its documents here",
                        helper_documents.failure)
            yield from (d for d in _helper_part(structure, current, theirs)
                        if d.urn not in helper_documents.received)
    finally:
        helper_documents.close()


class _HelperDocuments:
    """What the helper sends: batches of documents (their URNs, and their indexed form:
    turning them into it is a good part of the work), then None (done) or why it failed.
    Only builtins and :mod:`search.fields` classes cross: the helper runs as
    ``__main__``, whose own classes would not unpickle here.

    A thread receives them as they come, so the helper never waits for this process to
    get round to reading (its pipe holds less than a batch): up to :data:`_QUEUED`
    batches wait here instead."""

    def __init__(self, receiving: Connection) -> None:
        self.receiving = receiving
        self.done = False
        self.failure: str | None = None
        self.received: set[str] = set()
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=_QUEUED)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive_all, daemon=True,
                                        name="catalogue-index-helper-reader")
        self._thread.start()

    def arrived(self, *, wait: bool) -> Iterator[IndexedDocument]:
        """The documents received so far; with ``wait``, every one until the helper ends."""
        while not self.done:
            try:
                batch = self._queue.get(block=wait)
            except queue.Empty:
                return
            if batch is None:
                self.done = True
                return
            urns, documents = batch
            self.received.update(urns)
            yield from documents

    def close(self) -> None:
        self._closed.set()
        self.receiving.close()
        while self._thread.is_alive():  # let a thread waiting to queue a batch end
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _receive_all(self) -> None:
        while True:
            batch = self._receive()
            while not self._closed.is_set():
                with contextlib.suppress(queue.Full):
                    self._queue.put(batch, timeout=0.05)
                    break
            if batch is None or self._closed.is_set():
                return

    def _receive(self) -> _Batch | None:
        try:
            message = self.receiving.recv()
        except Exception as exc:  # noqa: BLE001 - whatever it is, this process takes over
            if not self._closed.is_set():
                self.failure = f"it stopped before it was done ({type(exc).__name__})"
            return None
        if isinstance(message, str):
            self.failure = message
            return None
        batch: _Batch | None = message
        return batch


@dataclass(frozen=True, slots=True)
class _Job:
    settings: Settings
    publication_id: int
    keys: tuple[int, int]
    current: set[str] | None


def _helper_part(structure: PublicationStructure, current: set[str] | None,
                 keys: tuple[int, int]) -> Iterator[SearchDocument]:
    """The helper's share: the variables whose keys are in ``keys``, then the questions
    (built here instead when the helper fails)."""
    return chain(variable_documents(structure, current, keys),
                 question_documents(structure, current))


def _build(job: _Job, sending: Connection) -> None:
    """The helper: documents of the variables whose keys are in ``job.keys``, then of
    the questions."""
    try:
        store = Store(job.settings.store_url)
        store.get_publication(job.publication_id)  # the same store: NotFound otherwise
        structure = PublicationStructure(store, job.publication_id)
        urns: list[str] = []
        documents: list[IndexedDocument] = []
        for document in _helper_part(structure, job.current, job.keys):
            urns.append(document.urn)
            documents.append(indexed_document(document))
            if len(documents) >= _BATCH:
                sending.send((urns, documents))
                urns, documents = [], []
        if documents:
            sending.send((urns, documents))
        sending.send(None)
    except Exception as exc:  # reported to the parent, which does the work itself
        sending.send(f"{type(exc).__name__}: {exc}")


def main() -> int:
    """``python -m search.parallel``: a job on stdin, batches of documents on stdout."""
    sending = Connection(os.dup(sys.stdout.fileno()), readable=False)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot garble them
    job = pickle.load(sys.stdin.buffer)
    try:
        with batch_collection():
            _build(job, sending)
    finally:
        sending.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
