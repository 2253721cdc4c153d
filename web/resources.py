"""What a worker process opens once, in ``lifespan``: the store, the catalogue (structures
and page data), the search engine. Views reach it with :func:`resources`.

Several workers (and ``catalogue publish`` in another process) share one store and one
index. The search engine notices a new commit on its own; the catalogue's cached state is
checked against the store at most every :data:`REFRESH_INTERVAL` seconds (the highest
publication id and the number of withdrawals), so a publication is visible everywhere
within a second.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from starlette.requests import Request

from catalogue.browse import Catalogue
from catalogue.settings import Settings
from catalogue.store import Store
from search.engine import SearchEngine
from search.indexing import catch_up, open_index
from search.query import SearchQuery
from search.results import SearchResults
from web.page_cache import Key, PageCache, SharedPages

log = logging.getLogger(__name__)
T = TypeVar("T")
REFRESH_INTERVAL = 0.25


@dataclass
class Resources:
    settings: Settings
    store: Store
    engine: SearchEngine
    catalogue_: Catalogue
    _checked: float = field(default=0.0)
    #: The index's commit when last checked (``SearchEngine.commit_id``, the same in every
    #: worker): keys what is computed from the index, and the pages shared by workers.
    _commit: str = field(default="")
    #: Whole responses for visitors without a session (see :mod:`web.page_cache`).
    page_cache: PageCache = field(default_factory=lambda: PageCache(0))

    @property
    def catalogue(self) -> Catalogue:
        """The catalogue, its state re-checked against the store when due."""
        now = time.monotonic()
        if now - self._checked >= REFRESH_INTERVAL or not self._commit:
            self._checked = now
            self.catalogue_.refresh()
            # (it was the count of documents found by an empty search: 2.2 ms with
            # 200,000 variables indexed, four times a second in every worker)
            self._commit = self.engine.commit_id()
        return self.catalogue_

    def generation(self) -> Key:
        """What the store and the index hold now, as far as pages are concerned."""
        catalogue = self.catalogue
        return (str(catalogue.state.generation), self._commit)

    def cached(self, key: tuple[str, ...], build: Callable[[], T]) -> T:
        """``build()`` (page data drawn from the store and the index), remembered until
        either changes."""
        catalogue = self.catalogue
        return catalogue.cached(("index", self._commit, *key), build)

    def search(self, query: SearchQuery) -> SearchResults:
        """The engine's answer, remembered (like a search server's result cache) until
        the store or the index changes: popular searches and facet counts are asked
        again and again, and a page of grouped results costs the index dozens of reads."""
        return self.cached(("search", repr(query)), lambda: self.engine.search(query))

    def close(self) -> None:
        self.engine.close()
        self.store.close()


def resources(request: Request) -> Resources:
    found: Resources = request.app.state.resources
    return found


def page_cache(settings: Settings) -> PageCache:
    """This worker's page cache, in front of the pages shared by all workers."""
    shared = None
    if settings.shared_page_cache_mb > 0:
        shared = SharedPages(shared_pages_dir(settings),
                             settings.shared_page_cache_mb * 1024 * 1024)
    return PageCache(settings.page_cache_mb * 1024 * 1024, shared)


def forget_shared_pages(settings: Settings) -> None:
    """Remove the shared pages: those a previous server left were rendered by the code and
    templates it ran, maybe not those about to run (``catalogue serve`` calls this before
    its workers start, and again once they stopped)."""
    shutil.rmtree(shared_pages_dir(settings), ignore_errors=True)


#: A memory-backed file system, where most Linux systems have one. Writing a page there
#: takes 0.02 ms against 0.1 ms on disk (ext4), and more while the other workers write
#: too: 8% of a worker's time under the web benchmark, where a quarter of the requests
#: render a page.
MEMORY_DIR = Path("/dev/shm")


def shared_pages_dir(settings: Settings) -> Path:
    """Where the workers of this data directory share their pages (the setting, else in
    memory when the system has a writable /dev/shm, else in the data directory)."""
    if settings.shared_page_cache_dir is not None:
        return settings.shared_page_cache_dir
    if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK | os.X_OK):
        data_dir = str(settings.data_dir.resolve())
        digest = hashlib.blake2b(data_dir.encode("utf-8"), digest_size=8).hexdigest()
        return MEMORY_DIR / f"cohort-catalogue-pages-{digest}"
    return settings.data_dir / "page-cache"


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    store = Store(settings.store_url)
    engine = open_index(settings, store)
    try:
        indexed = catch_up(settings, store, engine)
        if indexed:
            log.info("indexed %s documents left behind by an earlier publication", indexed)
        catalogue = Catalogue(store)
        catalogue.refresh()  # builds the structures of live publications once, now
        found = Resources(settings, store, engine, catalogue, time.monotonic(),
                          page_cache=page_cache(settings))
        yield found
    finally:
        engine.close()
        store.close()
        if settings.shared_page_cache_mb > 0:
            # A worker stopping takes the shared pages with it (in memory by default);
            # workers still running find a miss and write the pages again.
            forget_shared_pages(settings)
