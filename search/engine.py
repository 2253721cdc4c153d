"""The one engine interface the catalogue calls, and the factory that opens an engine.

An engine holds the index of one data directory: variables, questions and studies of
every publication. Publishing replaces one publication's documents atomically (readers
see the old documents or the new ones, never a mix); ``catalogue reindex`` rebuilds
everything from the store. Any number of processes may search while one writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from search.errors import InvalidSearch
from search.fields import Indexable
from search.query import Filters, SearchQuery
from search.results import SearchResults

ENGINE_NAMES: tuple[str, ...] = ("tantivy", "whoosh")
DEFAULT_ENGINE = "tantivy"
#: How long a writer waits for another process's write to finish, in seconds.
DEFAULT_LOCK_TIMEOUT = 60.0


class SearchEngine(ABC):
    """A search index: write publications, search, suggest."""

    name: ClassVar[str]
    path: Path

    @classmethod
    @abstractmethod
    def open(cls, path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
             replace_unusable: bool = False) -> Self:
        """Open the index in ``path``, creating an empty one when there is none.

        An index this version cannot use (older schema, other engine, damaged) raises
        :class:`~search.errors.IndexUnusable`; ``replace_unusable`` discards it for an
        empty one instead, which is what a full rebuild wants.
        """

    @abstractmethod
    def close(self) -> None:
        """Release readers and files; the engine is unusable afterwards."""

    @abstractmethod
    def replace_publication(self, publication_id: int,
                            documents: Iterable[Indexable]) -> int:
        """Make ``documents`` the whole of publication ``publication_id``, in one commit.

        Returns the number of documents indexed. Raises
        :class:`~search.errors.IndexLocked` when another writer holds the index longer than
        the lock timeout, :class:`~search.errors.InvalidDocument` when a document belongs
        to another publication (nothing is written then).
        """

    @abstractmethod
    def delete_publication(self, publication_id: int) -> None:
        """Remove every document of publication ``publication_id``, in one commit."""

    @abstractmethod
    def rebuild(self, documents: Iterable[Indexable]) -> int:
        """Replace the whole index with ``documents``, in one commit; returns their number."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResults:
        """Hits (or groups), total, facet counts and a suggestion for ``query``."""

    @abstractmethod
    def suggest(self, text: str) -> str | None:
        """``text`` with unknown words replaced by close indexed words, or None."""

    @abstractmethod
    def commit_id(self) -> str:
        """Names the latest commit (a reader re-opened on it if need be): a different
        value after every commit, so what was computed from the index can be kept until
        then."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_engine(name: str, path: Path | str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                replace_unusable: bool = False) -> SearchEngine:
    """Open the engine called ``name`` (``tantivy`` or ``whoosh``) on the index in ``path``.

    Each engine has its own directory format: give each its own ``path``. Pass
    ``replace_unusable=True`` before a full :meth:`SearchEngine.rebuild`.
    """
    engine: type[SearchEngine]
    if name == "tantivy":
        from search.tantivy_engine import TantivyEngine
        engine = TantivyEngine
    elif name == "whoosh":
        from search.whoosh_engine import WhooshEngine
        engine = WhooshEngine
    else:
        raise InvalidSearch(f"unknown search engine {name!r}: use one of "
                            f"{', '.join(ENGINE_NAMES)}")
    return engine.open(Path(path), lock_timeout=lock_timeout, replace_unusable=replace_unusable)


def ranked_urns(engine: SearchEngine, text: str, filters: Filters | None = None,
                limit: int = 10) -> list[str]:
    """The URNs of the first ``limit`` hits for ``text``, best first (for relevance tests)."""
    query = SearchQuery(text=text, filters=filters or Filters(), page_size=limit, facets=(),
                        highlight=False)
    return engine.search(query).urns()
