"""The pure-Python engine: whoosh (whoosh-reloaded), same index layout as tantivy.

Slower than tantivy by two orders of magnitude on large catalogues (see
``bench/search.py``), but with no native code. To keep it usable, the text match of a
query is computed once per commit and reused for the total, every facet count and every
page (see :mod:`search.whoosh_snapshot`); filters are bitsets rather than queries.

A whoosh searcher is not safe to share between threads, so one engine serves one search
at a time (the work is CPU-bound Python: threads would not run it faster anyway).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

import whoosh.index
from whoosh import fields as wf
from whoosh import formats
from whoosh import query as wq
from whoosh.analysis import Filter, IDTokenizer, RegexTokenizer
from whoosh.columns import NumericColumn
from whoosh.lang import stemmer_for_language
from whoosh.writing import CLEAR

from search.analysis import (
    MAX_TOKEN_LENGTH,
    STOP_WORDS_BY_LANGUAGE,
    WORD_PATTERN,
    Analyzer,
    Language,
    fold,
)
from search.documents import SearchDocument
from search.engine import DEFAULT_LOCK_TIMEOUT
from search.errors import IndexLocked, IndexUnusable
from search.fields import (
    ACCENTS,
    FACET_FIELDS,
    GROUP,
    NAME,
    PUBLICATION,
    SORT,
    STORED,
    TEXT_FIELDS,
    URN,
    URN_KEY,
    Indexable,
    IndexedDocument,
    checked_documents,
    prepared,
)
from search.index_dir import open_index_dir
from search.locking import WriteLock
from search.plan import AllNode, AnyNode, Node, PhraseNode, PrefixNode, TermNode, TextPlan
from search.query import Filters, SearchQuery
from search.results import SearchResults
from search.searching import IndexedEngine
from search.whoosh_snapshot import (
    BitFilter,
    Ranking,
    WhooshSnapshot,
    documents_of,
    first_members,
)

#: Bump when the schema, the analysis or what a document holds changes: older indexes
#: are then rebuilt from the store.
SCHEMA_VERSION = 5
#: Joins the values of multi-valued keyword fields (their terms may hold "\x1f").
_SEPARATOR = "\x1e"
_WRITER_MB = 256
_REBUILD_PROCESSES = max(1, min(4, os.cpu_count() or 1))
_REBUILD_BATCH = 500
_OPEN_ATTEMPTS = 5
_WORD_CACHE_SIZE = 100_000


class WhooshEngine(IndexedEngine[WhooshSnapshot, int]):
    name = "whoosh"

    def __init__(self, path: Path, index: Any, lock_timeout: float) -> None:
        super().__init__()
        self.path = path
        self.lock_timeout = lock_timeout
        self._index = index
        self._analyzers = _analyzers()
        self._current: WhooshSnapshot | None = None
        self._search_lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
             replace_unusable: bool = False) -> Self:
        index = open_index_dir(path, "whoosh", SCHEMA_VERSION,
                               exists=lambda: whoosh.index.exists_in(str(path)),
                               create=lambda: whoosh.index.create_in(str(path), _schema()),
                               open_existing=lambda: _open(path), lock_timeout=lock_timeout,
                               replace_unusable=replace_unusable)
        return cls(path, index, lock_timeout)

    def close(self) -> None:
        with self._search_lock:
            if self._current is not None:
                self._current.searcher.close()
                self._current = None
            self._index.close()

    # -- writing -----------------------------------------------------------------------

    def replace_publication(self, publication_id: int,
                            documents: Iterable[Indexable]) -> int:
        count = 0
        with WriteLock(self.path, self.lock_timeout):
            writer = self._writer()
            try:
                writer.delete_by_term(PUBLICATION, str(publication_id))
                for document in checked_documents(publication_id, documents):
                    writer.add_document(**_fields(document))
                    count += 1
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            self._after_commit()
        return count

    def delete_publication(self, publication_id: int) -> None:
        with WriteLock(self.path, self.lock_timeout):
            writer = self._writer()
            try:
                writer.delete_by_term(PUBLICATION, str(publication_id))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            self._after_commit()

    def rebuild(self, documents: Iterable[Indexable]) -> int:
        count = 0
        with WriteLock(self.path, self.lock_timeout):
            # Batches of documents go to one indexing process per core (whoosh's MpWriter,
            # once there are more than a batch); each adds its own segment.
            writer = self._writer(procs=_REBUILD_PROCESSES, multisegment=True,
                                  batchsize=_REBUILD_BATCH, limitmb=_WRITER_MB)
            try:
                for document in documents:
                    writer.add_document(**_fields(prepared(document)))
                    count += 1
            except BaseException:
                writer.cancel()
                raise
            # CLEAR drops every existing segment in the same commit as the new ones.
            writer.commit(mergetype=CLEAR)
            indexed = self._index.doc_count()
            if indexed != count:
                # Whoosh drops a sub-process's segment silently if that process dies.
                raise IndexUnusable(f"the whoosh index in {self.path} holds {indexed} of "
                                    f"the {count} documents given: rebuild it again")
            self._after_commit()
        return count

    def _after_commit(self) -> None:
        # The publishing process builds the new commit's sets now, so that no web worker
        # builds them while a visitor waits for a search.
        snapshot = WhooshSnapshot(self._index.searcher(), self.path)
        try:
            snapshot.warm()
            snapshot.remove_other_sets()
        finally:
            snapshot.searcher.close()

    def _writer(self, **options: Any) -> Any:
        try:
            return self._index.writer(timeout=self.lock_timeout, **options)
        except whoosh.index.LockError:
            raise IndexLocked(f"the whoosh index in {self.path} is locked by another "
                              f"writer; try again later") from None

    # -- reading -----------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        with self._search_lock:
            return super().search(query)

    def suggest(self, text: str) -> str | None:
        with self._search_lock:
            return super().suggest(text)

    def commit_id(self) -> str:
        with self._search_lock:
            return super().commit_id()

    def _snapshot(self) -> WhooshSnapshot:
        current = self._current
        if current is not None and self._index.latest_generation() == current.generation:
            return current
        attempts = 0
        while True:
            try:
                # The previous searcher is left to the garbage collector rather than
                # closed: results being rendered may still read documents through it.
                fresh = WhooshSnapshot(self._index.searcher(), self.path)
                fresh.warm()
                self._current = fresh
                return fresh
            except (OSError, EOFError) as error:
                # A writer merged away a segment between our reading the table of
                # contents and opening that segment: the next table names the new one.
                attempts += 1
                if attempts == _OPEN_ATTEMPTS:
                    if current is not None:
                        return current
                    raise IndexUnusable(f"cannot read the whoosh index in {self.path} "
                                        f"({error}): rebuild it with catalogue reindex"
                                        ) from None
                time.sleep(0.02)

    def _generation(self, snapshot: WhooshSnapshot) -> Hashable:
        return snapshot.generation

    def _tokens(self, analyzer: Analyzer, text: str) -> list[str]:
        return [token.text for token in self._analyzers[analyzer](text, mode="query")]

    def _matching(self, snapshot: WhooshSnapshot, plan: TextPlan | None) -> int:
        return snapshot.live if plan is None else self._ranking(snapshot, plan).bits

    def _selected(self, snapshot: WhooshSnapshot, plan: TextPlan | None,
                  filters: Filters) -> int:
        """The matches that pass ``filters``, as bits by document number."""
        selected = self._matching(snapshot, plan)
        allowed = snapshot.filter_bits(filters)
        return selected if allowed is None else selected & allowed

    def _ranking(self, snapshot: WhooshSnapshot, plan: TextPlan) -> Ranking:
        # One scored pass over every match gives the total, the facet counts and every
        # page at once: whoosh would otherwise walk the matches twice (count, then top).
        query = self._query(plan)
        return snapshot.ranking(
            plan, lambda: snapshot.searcher.search(query, limit=None).top_n)

    def _top(self, snapshot: WhooshSnapshot, plan: TextPlan | None, filters: Filters,
             offset: int, limit: int) -> tuple[int, list[tuple[int, float]]]:
        allowed = snapshot.filter_bits(filters)
        selected = self._matching(snapshot, plan)
        if allowed is not None:
            selected &= allowed
        total = selected.bit_count()
        if offset >= total:
            return total, []
        if plan is None:
            page = first_members(snapshot.browse_order(), allowed, offset, limit)
            return total, [(d, 0.0) for d in page]
        return total, self._ranking(snapshot, plan).page(allowed, offset, limit)

    def _term_counts(self, snapshot: WhooshSnapshot, plan: TextPlan | None,
                     filters: Filters, fields: Sequence[str]) -> dict[str, dict[str, int]]:
        selected = self._selected(snapshot, plan, filters)
        counts: dict[str, dict[str, int]] = {}
        for field in fields:
            counts[field] = {term: count for term, bits in snapshot.term_bits(field).items()
                             if (count := (bits & selected).bit_count())}
        return counts

    def _documents(self, snapshot: WhooshSnapshot, refs: Sequence[int]) -> list[SearchDocument]:
        stored = snapshot.searcher.stored_fields
        return [SearchDocument.from_json(stored(docnum)[STORED]) for docnum in refs]

    def _ref_key(self, ref: int) -> Hashable:
        return ref

    def _group_ids(self, snapshot: WhooshSnapshot, refs: Sequence[int]) -> list[Hashable]:
        groups = snapshot.groups()
        return [groups[docnum] for docnum in refs]

    def _group_sizes(self, snapshot: WhooshSnapshot, plan: TextPlan | None,
                     filters: Filters) -> dict[Hashable, int]:
        selected = self._selected(snapshot, plan, filters)
        groups = snapshot.groups()
        return dict(Counter(groups[docnum] for docnum in documents_of(selected)))

    def _members(self, snapshot: WhooshSnapshot, plan: TextPlan | None, filters: Filters,
                 groups: Sequence[Hashable], limit: int) -> list[tuple[int, float]]:
        # A group has a handful of documents: test each against the cached matches rather
        # than running the text query again, restricted to the groups.
        selected = self._selected(snapshot, plan, filters)
        members = BitFilter(selected)
        docnums = sorted({d for group in groups
                          for d in snapshot.reader.postings(GROUP, str(group)).all_ids()
                          if d in members})
        if plan is None:  # in browse order, as _top gives them
            return [(d, 0.0) for d in snapshot.in_browse_order(docnums)[:limit]]
        scores = self._ranking(snapshot, plan).score_of()
        ranked = sorted(((d, scores[d]) for d in docnums), key=lambda pair: -pair[1])
        return ranked[:limit]

    def _holds(self, snapshot: WhooshSnapshot, field: str, term: str) -> bool:
        return bool(snapshot.reader.doc_frequency(field, term))

    def _terms_with_prefix(self, snapshot: WhooshSnapshot, field: str,
                           prefix: str) -> list[tuple[str, int]]:
        terms = []
        for term, info in snapshot.reader.iter_prefix(field, prefix):
            text = term.decode("utf-8") if isinstance(term, bytes) else str(term)
            terms.append((text, int(info.doc_frequency())))
        return terms

    def _is_live_term(self, snapshot: WhooshSnapshot, field: str, term: str) -> bool:
        # Postings skip deleted documents; the frequencies above do not.
        reader = snapshot.reader
        if not reader.doc_frequency(field, term):
            return False
        if not reader.has_deletions():
            return True
        return any(True for _ in reader.postings(field, term).all_ids())

    # -- plans to queries --------------------------------------------------------------

    def _query(self, plan: TextPlan) -> Any:
        required = [self._node(n) for n in plan.required] or [wq.Every()]
        query: Any = required[0] if len(required) == 1 else wq.And(required)
        if plan.optional:
            query = wq.AndMaybe(query, wq.Or([self._node(n) for n in plan.optional]))
        if plan.excluded:
            query = wq.AndNot(query, wq.Or([self._node(n) for n in plan.excluded]))
        return query

    def _node(self, node: Node) -> Any:
        if isinstance(node, TermNode):
            return wq.Term(node.field, node.value, boost=node.boost)
        if isinstance(node, PhraseNode):
            return wq.Phrase(node.field, list(node.values), boost=node.boost)
        if isinstance(node, PrefixNode):
            return wq.Prefix(node.field, node.prefix, boost=node.boost)
        if isinstance(node, AnyNode):
            if not node.children:
                return wq.NullQuery
            if len(node.children) == 1:
                return self._node(node.children[0])
            return wq.Or([self._node(c) for c in node.children])
        assert isinstance(node, AllNode)
        return wq.And([self._node(c) for c in node.children])


class _WordFilter(Filter):  # type: ignore[misc]
    """Fold, drop stop words and over-long tokens, then stem: one step, cached by word.

    Whoosh would chain a Python generator per step; catalogues repeat a small vocabulary,
    so one dictionary look-up per token replaces three filters (half the indexing time
    spent in analysis).
    """

    def __init__(self, language: Language | None) -> None:
        self.language = language
        self._cache: dict[str, str] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _WordFilter) and other.language == self.language

    def __hash__(self) -> int:
        return hash((type(self), self.language))

    def __getstate__(self) -> dict[str, Any]:
        # Whoosh pickles the schema into every commit: leave the cache out.
        return {"language": self.language}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["language"])  # type: ignore[misc]

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        cache = self._cache
        for token in tokens:
            text = cache.get(token.text)
            if text is None:
                if len(cache) >= _WORD_CACHE_SIZE:
                    cache.clear()
                text = cache[token.text] = self._analyze(token.text)
            if text:
                token.text = text
                yield token

    def _analyze(self, word: str) -> str:
        folded = fold(word)
        if len(folded) > MAX_TOKEN_LENGTH:
            return ""
        if self.language is None:
            return folded
        if folded in STOP_WORDS_BY_LANGUAGE[self.language]:
            return ""
        return str(_stemmer(self.language)(folded))


@lru_cache(maxsize=2)
def _stemmer(language: Language) -> Callable[[str], str]:
    stem: Callable[[str], str] = stemmer_for_language(language)
    return stem


def _analyzers() -> dict[Analyzer, Any]:
    tokenizer = RegexTokenizer(WORD_PATTERN.pattern)
    return {"plain": tokenizer | _WordFilter(None), "fr": tokenizer | _WordFilter("fr"),
            "en": tokenizer | _WordFilter("en")}


def _open(path: Path) -> Any:
    try:
        return whoosh.index.open_dir(str(path))
    except Exception as error:  # whoosh raises many kinds on a damaged index
        raise IndexUnusable(f"cannot open the whoosh index in {path} ({error}): "
                            f"rebuild it with catalogue reindex") from None


def _schema() -> Any:
    analyzers = _analyzers()
    separated = RegexTokenizer(f"[^{_SEPARATOR}]+")
    spec: dict[str, Any] = {
        URN: _scored_keyword(), URN_KEY: _scored_keyword(), NAME: _scored_keyword(),
        PUBLICATION: wf.ID(),
        GROUP: wf.ID(sortable=True),
        SORT: wf.COLUMN(NumericColumn("Q")),
        ACCENTS: _keywords(separated),
        STORED: wf.STORED(),
    }
    for field, analyzer in TEXT_FIELDS.items():
        spec[field] = wf.TEXT(analyzer=analyzers[analyzer], phrase=analyzer == "plain")
    for field in FACET_FIELDS:
        spec[field] = _keywords(separated)
    return wf.Schema(**spec)


def _scored_keyword() -> Any:
    # A name or URN typed exactly is the strongest match there is: scored like any term
    # (a rare one), as tantivy does, not the flat boost whoosh gives an unscored ID field,
    # which twelve variables named TABAC_STATUT_xx outscored on their labels' words.
    return wf.FieldType(formats.Existence(), IDTokenizer(), scorable=True)


def _keywords(analyzer: Any) -> Any:
    # Scorable only so that whoosh writes a (tiny) length column: without one it calls
    # stat() on the missing column file for every posting it writes.
    return wf.FieldType(formats.Existence(), analyzer, scorable=True)


def _fields(document: IndexedDocument) -> dict[str, Any]:
    values: dict[str, Any] = {PUBLICATION: str(document.publication_id),
                              SORT: document.sort_key, STORED: document.stored}
    for field, keyword in document.keywords.items():
        if keyword:
            values[field] = keyword
    for field, texts in document.texts.items():
        if texts:
            # A line break between values keeps phrase positions apart only loosely, as
            # tantivy does for multi-valued fields.
            values[field] = "\n".join(texts)
    for field, terms in document.facets.items():
        if terms:
            values[field] = _SEPARATOR.join(terms)
    if document.accents:
        values[ACCENTS] = _SEPARATOR.join(document.accents)
    return values
