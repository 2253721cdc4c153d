"""The default engine: tantivy (Rust, embedded, memory-mapped), through its Python binding.

Readers reload when ``meta.json`` changes (a stat per search), so a commit by the
publishing process is visible to every web worker on its next search; the segments a
reader holds stay readable after a writer replaces them (POSIX unlink semantics).
Custom analyzers are not stored in the index: they are registered again on every open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import tantivy
from tantivy import Document, Filter, Occur, Query, TextAnalyzerBuilder, Tokenizer

from search.analysis import (
    MAX_TOKEN_LENGTH,
    SNOWBALL_NAMES,
    STOP_WORDS_BY_LANGUAGE,
    Analyzer,
)
from search.documents import SearchDocument
from search.engine import DEFAULT_LOCK_TIMEOUT
from search.errors import IndexLocked, IndexUnusable
from search.facets import filter_field
from search.fields import (
    ACCENTS,
    FACET_FIELDS,
    GROUP,
    GROUP_HASH,
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
from search.plan import AnyNode, Node, PhraseNode, PrefixNode, TermNode, TextPlan
from search.query import Filters
from search.searching import IndexedEngine

#: Bump when the schema, the analysis or what a document holds changes: older indexes
#: are then rebuilt from the store.
SCHEMA_VERSION = 4
_META = "meta.json"
_WRITER_HEAP = 128_000_000
_RELOAD_ATTEMPTS = 5
_COMPILED_QUERIES = 256
#: A prefix with more words than this matches them all unscored.
_PREFIX_WORDS = 64
_REGEX_SPECIALS = frozenset("\\.+*?()|[]{}^$#&-~")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    searcher: tantivy.Searcher
    generation: tuple[int, int, int]


class TantivyEngine(IndexedEngine[_Snapshot, tantivy.DocAddress]):
    name = "tantivy"

    def __init__(self, path: Path, index: tantivy.Index, lock_timeout: float) -> None:
        super().__init__()
        self.path = path
        self.lock_timeout = lock_timeout
        self._index = index
        self._schema = index.schema
        self._analyzers = _register_analyzers(index)
        self._seen: tuple[int, int, int] = (-1, -1, -1)
        self._searcher: tantivy.Searcher | None = None
        self._compiled: dict[tuple[Hashable, TextPlan | None, Filters], Query] = {}

    @classmethod
    def open(cls, path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
             replace_unusable: bool = False) -> Self:
        index = open_index_dir(path, "tantivy", SCHEMA_VERSION, exists=(path / _META).exists,
                               create=lambda: _create(path), open_existing=lambda: _open(path),
                               lock_timeout=lock_timeout, replace_unusable=replace_unusable)
        index.config_reader(reload_policy="manual")
        return cls(path, index, lock_timeout)

    def close(self) -> None:
        self._searcher = None
        self._analysis_cache.clear()
        self._count_cache.clear()

    # -- writing -----------------------------------------------------------------------

    def replace_publication(self, publication_id: int,
                            documents: Iterable[Indexable]) -> int:
        # Documents stream from the store into the writer (tantivy indexes them on its
        # own threads meanwhile); nothing is visible before the commit, and a failure
        # rolls back what was added.
        with WriteLock(self.path, self.lock_timeout):
            return self._write(checked_documents(publication_id, documents),
                               delete=Query.term_query(self._schema, PUBLICATION,
                                                       publication_id))

    def delete_publication(self, publication_id: int) -> None:
        with WriteLock(self.path, self.lock_timeout):
            self._write([], delete=Query.term_query(self._schema, PUBLICATION, publication_id))

    def rebuild(self, documents: Iterable[Indexable]) -> int:
        with WriteLock(self.path, self.lock_timeout):
            return self._write((prepared(d) for d in documents), delete=None)

    def _write(self, documents: Iterable[IndexedDocument], delete: Query | None) -> int:
        writer = self._writer()
        count = 0
        try:
            if delete is None:
                writer.delete_all_documents()
            else:
                writer.delete_documents_by_query(delete)
            for document in documents:
                writer.add_document(self._tantivy_document(document))
                count += 1
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        return count

    def _writer(self) -> tantivy.IndexWriter:
        # Our lock is held, so tantivy's own can only be busy for a moment (a writer of
        # this process being dropped, or a tool outside the catalogue).
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return self._index.writer(heap_size=_WRITER_HEAP)
            except ValueError as error:
                if "LockBusy" not in str(error) or time.monotonic() >= deadline:
                    raise IndexLocked(f"the tantivy index in {self.path} is locked by "
                                      f"another writer; try again later") from None
                time.sleep(0.05)

    def _tantivy_document(self, document: IndexedDocument) -> Document:
        values: dict[str, Any] = {PUBLICATION: document.publication_id, SORT: document.sort_key,
                                  GROUP_HASH: document.group_hash,
                                  STORED: document.stored.encode("utf-8"),
                                  ACCENTS: list(document.accents)}
        for field, keyword in document.keywords.items():
            if keyword:
                values[field] = keyword
        for field, texts in document.texts.items():
            if texts:
                values[field] = texts
        for field, terms in document.facets.items():
            if terms:
                values[field] = list(terms)
        return Document.from_dict(values, self._schema)

    # -- reading -----------------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        try:
            stat = os.stat(self.path / _META)
        except FileNotFoundError:
            raise IndexUnusable(f"the tantivy index in {self.path} has gone: "
                                f"rebuild it with catalogue reindex") from None
        generation = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if generation != self._seen or self._searcher is None:
            for attempt in range(_RELOAD_ATTEMPTS):
                try:
                    self._index.reload()
                    break
                except ValueError:
                    # A writer removed a segment between our reading meta.json and
                    # opening that segment: the next meta.json names the new ones.
                    if attempt == _RELOAD_ATTEMPTS - 1 and self._searcher is not None:
                        return _Snapshot(self._searcher, self._seen)
                    if attempt == _RELOAD_ATTEMPTS - 1:
                        raise
                    time.sleep(0.02)
            self._seen = generation
            self._searcher = self._index.searcher()
        return _Snapshot(self._searcher, self._seen)

    def _generation(self, snapshot: _Snapshot) -> Hashable:
        return snapshot.generation

    def _tokens(self, analyzer: Analyzer, text: str) -> list[str]:
        return self._analyzers[analyzer].analyze(text)

    def _top(self, snapshot: _Snapshot, plan: TextPlan | None, filters: Filters,
             offset: int, limit: int) -> tuple[int, list[tuple[tantivy.DocAddress, float]]]:
        searcher = snapshot.searcher
        query = self._query(snapshot, plan, filters)
        if offset >= searcher.num_docs:
            # Nothing to show, but the total is still the answer: never ask tantivy for
            # a heap as large as a far-away page.
            return _total(searcher.search(query, 1, count=True)), []
        if plan is None:
            result = searcher.search(query, limit, count=True, order_by_field=SORT,
                                     offset=offset, order=tantivy.Order.Asc)
            return _total(result), [(address, 0.0) for _, address in result.hits]
        result = searcher.search(query, limit, count=True, offset=offset)
        return _total(result), [(address, float(score)) for score, address in result.hits]

    def _term_counts(self, snapshot: _Snapshot, plan: TextPlan | None, filters: Filters,
                     fields: Sequence[str]) -> dict[str, dict[str, int]]:
        request = {field: {"terms": {"field": field, "size": 65_000}} for field in fields}
        result = snapshot.searcher.aggregate(self._query(snapshot, plan, filters), request)
        return {field: {str(bucket["key"]): int(bucket["doc_count"])
                        for bucket in result[field]["buckets"]} for field in fields}

    def _documents(self, snapshot: _Snapshot,
                   refs: Sequence[tantivy.DocAddress]) -> list[SearchDocument]:
        searcher = snapshot.searcher
        return [SearchDocument.from_json(bytes(searcher.doc(ref).get_first(STORED) or b"{}"))
                for ref in refs]

    def _ref_key(self, ref: tantivy.DocAddress) -> Hashable:
        return ref.segment_ord, ref.doc

    def _group_ids(self, snapshot: _Snapshot,
                   refs: Sequence[tantivy.DocAddress]) -> list[Hashable]:
        if not refs:
            return []
        return list(snapshot.searcher.fast_field_values(GROUP_HASH, list(refs)))

    def _group_sizes(self, snapshot: _Snapshot, plan: TextPlan | None,
                     filters: Filters) -> dict[Hashable, int]:
        request = {"groups": {"terms": {"field": GROUP_HASH, "size": 10_000_000}}}
        result = snapshot.searcher.aggregate(self._query(snapshot, plan, filters), request)
        return {bucket["key"]: int(bucket["doc_count"])
                for bucket in result["groups"]["buckets"]}

    def _members(self, snapshot: _Snapshot, plan: TextPlan | None, filters: Filters,
                 groups: Sequence[Hashable],
                 limit: int) -> list[tuple[tantivy.DocAddress, float]]:
        # The groups' term scores nothing, so members keep the scores (and the order)
        # they have among all matches.
        in_groups = Query.const_score_query(
            Query.term_set_query(self._schema, GROUP_HASH, list(groups)), 0.0)
        query = Query.boolean_query([
            (Occur.Must, self._query(snapshot, plan, filters)), (Occur.Must, in_groups)])
        if plan is None:
            result = snapshot.searcher.search(query, limit, order_by_field=SORT,
                                              order=tantivy.Order.Asc)
            return [(address, 0.0) for _, address in result.hits]
        result = snapshot.searcher.search(query, limit)
        return [(address, float(score)) for score, address in result.hits]

    def _holds(self, snapshot: _Snapshot, field: str, term: str) -> bool:
        return snapshot.searcher.doc_freq(field, term) > 0

    def _terms_with_prefix(self, snapshot: _Snapshot, field: str,
                           prefix: str) -> list[tuple[str, int]]:
        # Counting against a query skips deleted documents, which doc_freq still counts.
        return snapshot.searcher.terms_with_prefix(field, prefix,
                                                   filter_query=Query.all_query())

    def _is_live_term(self, snapshot: _Snapshot, field: str, term: str) -> bool:
        return True  # _terms_with_prefix counted live documents only

    # -- plans to queries --------------------------------------------------------------

    def _query(self, snapshot: _Snapshot, plan: TextPlan | None, filters: Filters) -> Query:
        # One search compiles the same plan several times (page, counts, groups), and a
        # prefix looks its words up each time: keep recent compilations, per commit since
        # a prefix's words are those of the commit.
        key = (snapshot.generation, plan, filters)
        query = self._compiled.get(key)
        if query is None:
            query = self._compiled[key] = self._compile(snapshot.searcher, plan, filters)
            if len(self._compiled) > _COMPILED_QUERIES:
                self._compiled.pop(next(iter(self._compiled)), None)
        return query

    def _compile(self, searcher: tantivy.Searcher, plan: TextPlan | None,
                 filters: Filters) -> Query:
        clauses: list[tuple[Occur, Query]] = []
        if plan is not None:
            clauses.extend((Occur.Must, self._node(searcher, n)) for n in plan.required)
            clauses.extend((Occur.Should, self._node(searcher, n)) for n in plan.optional)
            clauses.extend((Occur.MustNot, self._node(searcher, n)) for n in plan.excluded)
        for facet, values in filters.active():
            terms = Query.term_set_query(self._schema, filter_field(facet), list(values))
            clauses.append((Occur.Must, Query.const_score_query(terms, 0.0)))
        if not any(occur is Occur.Must for occur, _ in clauses):
            clauses.append((Occur.Must, Query.all_query()))
        if len(clauses) == 1:
            return clauses[0][1]
        return Query.boolean_query(clauses)

    def _node(self, searcher: tantivy.Searcher, node: Node) -> Query:
        schema = self._schema
        query: Query
        if isinstance(node, TermNode):
            query = Query.term_query(schema, node.field, node.value)
        elif isinstance(node, PhraseNode):
            query = Query.phrase_query(schema, node.field, list(node.values))
        elif isinstance(node, PrefixNode):
            query = self._prefix(searcher, node)
        elif isinstance(node, AnyNode):
            if not node.children:
                return Query.empty_query()
            if len(node.children) == 1:
                return self._node(searcher, node.children[0])
            return Query.boolean_query([(Occur.Should, self._node(searcher, c))
                                        for c in node.children])
        else:
            return Query.boolean_query([(Occur.Must, self._node(searcher, c))
                                        for c in node.children])
        boost = node.boost
        return query if boost == 1.0 else Query.boost_query(query, boost)

    def _prefix(self, searcher: tantivy.Searcher, node: PrefixNode) -> Query:
        """The words starting with the prefix, each scored as a word is (as whoosh does).

        A regex query gives every match the same score, and tantivy breaks ties by
        segment, which changes with each build: ``hypertens*`` showed any ten of its
        fifteen matches. Past a few dozen words the regex stays (weighing each would
        cost more than it tells).
        """
        words = searcher.terms_with_prefix(node.field, node.prefix, limit=_PREFIX_WORDS + 1)
        if not words or len(words) > _PREFIX_WORDS:
            return Query.regex_query(self._schema, node.field,
                                     _regex_escape(node.prefix) + ".*")
        return Query.boolean_query([(Occur.Should, Query.term_query(self._schema, node.field,
                                                                    word))
                                    for word, _ in words])


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for keyword in (URN, URN_KEY, NAME, GROUP):
        builder.add_text_field(keyword, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field(PUBLICATION, indexed=True)
    builder.add_unsigned_field(SORT, fast=True)
    builder.add_unsigned_field(GROUP_HASH, indexed=True, fast=True)
    for field, analyzer in TEXT_FIELDS.items():
        # Only plain fields need positions (phrases); stemmed ones need frequencies.
        builder.add_text_field(field, tokenizer_name=_analyzer_name(analyzer),
                               index_option="position" if analyzer == "plain" else "freq")
    for field in FACET_FIELDS:
        builder.add_text_field(field, tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_text_field(ACCENTS, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field(STORED, stored=True)
    return builder.build()


def _analyzer_name(analyzer: Analyzer) -> str:
    return f"catalogue_{analyzer}"


def _register_analyzers(index: tantivy.Index) -> dict[Analyzer, tantivy.TextAnalyzer]:
    def base() -> tantivy.TextAnalyzerBuilder:
        return (TextAnalyzerBuilder(Tokenizer.simple())
                .filter(Filter.remove_long(MAX_TOKEN_LENGTH + 1))
                .filter(Filter.lowercase())
                .filter(Filter.ascii_fold()))

    analyzers: dict[Analyzer, tantivy.TextAnalyzer] = {"plain": base().build()}
    for language, snowball in SNOWBALL_NAMES.items():
        analyzers[language] = (base()
                               .filter(Filter.custom_stopword(
                                   sorted(STOP_WORDS_BY_LANGUAGE[language])))
                               .filter(Filter.stemmer(snowball))
                               .build())
    for name, analyzer in analyzers.items():
        index.register_tokenizer(_analyzer_name(name), analyzer)
    return analyzers


def _total(result: tantivy.SearchResult) -> int:
    # The binding's stub omits ``count``, set when searching with count=True.
    return int(result.count)  # type: ignore[attr-defined]


def _regex_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in _REGEX_SPECIALS else c for c in text)


def _open(path: Path) -> tantivy.Index:
    try:
        return tantivy.Index.open(str(path))
    except ValueError as error:
        raise IndexUnusable(f"cannot open the tantivy index in {path} ({error}): "
                            f"rebuild it with catalogue reindex") from None


def _create(path: Path) -> None:
    tantivy.Index(_schema(), str(path), reuse=False)
