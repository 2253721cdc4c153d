"""The search flow both engines share, written against a few index primitives.

Parsing, planning, facet logic, grouping, snippets and suggestions live here once, so
that the two engines cannot drift apart; an engine only says how to run a plan against
its index (top hits, counts per facet term, stored documents, vocabulary look-ups).

Every primitive of one search receives the same *snapshot* (a reader on one commit), so
hits, total and facet counts always describe the same state of the index.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

from search.analysis import Analyzer, is_suggestable
from search.documents import SearchDocument
from search.engine import SearchEngine
from search.facets import FACETS_BY_NAME, LABEL_SEPARATOR, count_field, split_counted
from search.fields import ACCENTS, PLAIN_FIELDS, STEMMED_FIELDS, TEXT_FIELDS
from search.highlight import Snippets, highlighter_for
from search.plan import TextPlan, all_but_one, build_plan
from search.query import Filters, SearchQuery
from search.results import FacetCounts, FacetValue, GroupedHit, Hit, SearchResults
from search.suggest import suggest_correction
from search.syntax import parse_query

SnapshotT = TypeVar("SnapshotT")
RefT = TypeVar("RefT")

#: The warning of a search whose results miss one of its words (see ``all_but_one``).
ALL_BUT_ONE = "no result holds every word: these hold all of them but one"
_ANALYSIS_CACHE_SIZE = 50_000
_COUNT_CACHE_SIZE = 256
_PREFIX_CACHE_SIZE = 256
#: Decoded documents kept per engine (about 4 KB each, so some 20 MB): a grouped page
#: reads up to 20 members for each of its 20 groups, and popular questions come back
#: search after search; decoding them was most of a grouped search's time.
_DOCUMENT_CACHE_SIZE = 5_000
#: Groups of up to this many matches have all their matches read at once (see
#: ``_members_of``).
_MEMBERS_AT_ONCE = 100


class IndexedEngine(SearchEngine, Generic[SnapshotT, RefT]):
    """Implements :meth:`search` and :meth:`suggest` on top of the primitives below."""

    def __init__(self) -> None:
        self._analysis_cache: dict[tuple[Analyzer, str], list[str]] = {}
        self._count_cache: OrderedDict[Hashable, dict[str, dict[str, int]]] = OrderedDict()
        self._prefix_cache: OrderedDict[Hashable, list[tuple[str, str, int]]] = OrderedDict()
        self._document_cache: OrderedDict[Hashable, SearchDocument] = OrderedDict()
        self._document_generation: Hashable = None
        # Web workers search from several threads: cache updates take this lock.
        self._cache_lock = threading.Lock()

    # -- primitives ------------------------------------------------------------------

    @abstractmethod
    def _snapshot(self) -> SnapshotT:
        """A reader on the latest commit (re-opened when a writer has committed since)."""

    @abstractmethod
    def _generation(self, snapshot: SnapshotT) -> Hashable:
        """Identifies the commit ``snapshot`` reads; cached counts are kept per commit."""

    @abstractmethod
    def _tokens(self, analyzer: Analyzer, text: str) -> list[str]:
        """The engine's own analysis of ``text``."""

    @abstractmethod
    def _top(self, snapshot: SnapshotT, plan: TextPlan | None, filters: Filters,
             offset: int, limit: int) -> tuple[int, list[tuple[RefT, float]]]:
        """Total matches and the page ``[offset, offset + limit)`` by score (by name when
        ``plan`` is None)."""

    @abstractmethod
    def _term_counts(self, snapshot: SnapshotT, plan: TextPlan | None, filters: Filters,
                     fields: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{field: {term: matching documents}}`` for facet counting fields."""

    @abstractmethod
    def _documents(self, snapshot: SnapshotT, refs: Sequence[RefT]) -> list[SearchDocument]:
        """The stored documents behind ``refs``, in order."""

    @abstractmethod
    def _ref_key(self, ref: RefT) -> Hashable:
        """A hashable value naming ``ref`` within its snapshot."""

    @abstractmethod
    def _group_ids(self, snapshot: SnapshotT, refs: Sequence[RefT]) -> list[Hashable]:
        """The group of each of ``refs``, as any value equal for equal group keys."""

    @abstractmethod
    def _group_sizes(self, snapshot: SnapshotT, plan: TextPlan | None,
                     filters: Filters) -> Mapping[Hashable, int]:
        """The groups the matches fall into (as :meth:`_group_ids` names them), each with
        its number of matches."""

    @abstractmethod
    def _members(self, snapshot: SnapshotT, plan: TextPlan | None, filters: Filters,
                 groups: Sequence[Hashable], limit: int) -> list[tuple[RefT, float]]:
        """The first ``limit`` matches that belong to ``groups`` (as :meth:`_group_ids`
        names them), in :meth:`_top`'s order."""

    @abstractmethod
    def _holds(self, snapshot: SnapshotT, field: str, term: str) -> bool:
        """True when a document (maybe a deleted one) holds ``term`` in ``field``."""

    @abstractmethod
    def _terms_with_prefix(self, snapshot: SnapshotT, field: str,
                           prefix: str) -> list[tuple[str, int]]:
        """Terms of ``field`` starting with ``prefix``, with document counts (which may
        include deleted documents)."""

    @abstractmethod
    def _is_live_term(self, snapshot: SnapshotT, field: str, term: str) -> bool:
        """True when a document not deleted holds ``term`` in ``field``."""

    # -- the shared flow -------------------------------------------------------------

    def commit_id(self) -> str:
        return repr(self._generation(self._snapshot()))

    def search(self, query: SearchQuery) -> SearchResults:
        parsed = parse_query(query.text)
        plan = build_plan(parsed, self._analyze)
        snapshot = self._snapshot()
        warnings = parsed.warnings
        relaxed = all_but_one(plan) if plan is not None else None
        if relaxed is not None and self._top(snapshot, plan, query.filters, 0, 1)[0] == 0:
            plan = relaxed
            warnings += (ALL_BUT_ONE,)
        facets = self._facets(snapshot, plan, query)
        hits: tuple[Hit, ...] = ()
        groups: tuple[GroupedHit, ...] = ()
        highlighter = highlighter_for(parsed, self._analyze) if query.highlight else None
        snippets = Snippets(highlighter, self._analyze)

        def hit(document: SearchDocument, score: float) -> Hit:
            return Hit(document, score, snippets(document) if query.highlight else "")

        if query.group:
            total, groups = self._grouped(snapshot, plan, query, hit)
        else:
            total, refs = self._top(snapshot, plan, query.filters, query.offset,
                                    query.page_size)
            documents = self._cached_documents(snapshot, [ref for ref, _ in refs])
            hits = tuple(hit(d, score) for d, (_, score) in zip(documents, refs, strict=True))
        suggestion = None
        if any(True for _ in parsed.positive_terms()):
            suggestion = suggest_correction(query.text, _SnapshotVocabulary(self, snapshot))
        return SearchResults(query=query, total=total, hits=hits, groups=groups,
                             facets=facets, suggestion=suggestion, warnings=warnings)

    def suggest(self, text: str) -> str | None:
        return suggest_correction(text, _SnapshotVocabulary(self, self._snapshot()))

    def _analyze(self, analyzer: Analyzer, text: str) -> list[str]:
        key = (analyzer, text)
        tokens = self._analysis_cache.get(key)
        if tokens is None:
            if len(self._analysis_cache) >= _ANALYSIS_CACHE_SIZE:
                self._analysis_cache.clear()
            tokens = self._analysis_cache[key] = self._tokens(analyzer, text)
        return tokens

    def _facets(self, snapshot: SnapshotT, plan: TextPlan | None,
                query: SearchQuery) -> tuple[FacetCounts, ...]:
        if not query.facets:
            return ()
        selected = dict(query.filters.active())
        # Facets without a selection share one count; each selected facet is counted
        # without its own filter, so that its other values show what widening would add.
        shared = tuple(f for f in query.facets if f not in selected)
        raw: dict[str, dict[str, int]] = {}
        if shared:
            raw.update(self._cached_counts(snapshot, plan, query.filters, shared))
        for facet in query.facets:
            if facet in selected:
                raw.update(self._cached_counts(snapshot, plan, query.filters.without(facet),
                                               (facet,)))
        return tuple(_facet_counts(facet, raw[count_field(facet)], selected.get(facet, ()),
                                   query.facet_limit) for facet in query.facets)

    def _cached_counts(self, snapshot: SnapshotT, plan: TextPlan | None, filters: Filters,
                       facets: tuple[str, ...]) -> dict[str, dict[str, int]]:
        key = (self._generation(snapshot), plan, filters, facets)
        with self._cache_lock:
            counts = self._count_cache.get(key)
            if counts is not None:
                self._count_cache.move_to_end(key)
                return counts
        counts = self._term_counts(snapshot, plan, filters, [count_field(f) for f in facets])
        with self._cache_lock:
            self._count_cache[key] = counts
            if len(self._count_cache) > _COUNT_CACHE_SIZE:
                self._count_cache.popitem(last=False)
        return counts

    def _cached_documents(self, snapshot: SnapshotT,
                          refs: Sequence[RefT]) -> list[SearchDocument]:
        """:meth:`_documents`, through a cache of the latest commit's decoded documents."""
        generation = self._generation(snapshot)
        keys = [self._ref_key(ref) for ref in refs]
        with self._cache_lock:
            if generation != self._document_generation:
                self._document_cache.clear()
                self._document_generation = generation
            found = [self._document_cache.get(key) for key in keys]
        missing = [i for i, document in enumerate(found) if document is None]
        if missing:
            decoded = self._documents(snapshot, [refs[i] for i in missing])
            with self._cache_lock:
                keep = generation == self._document_generation
                for i, document in zip(missing, decoded, strict=True):
                    found[i] = document
                    if keep:
                        self._document_cache[keys[i]] = document
                while len(self._document_cache) > _DOCUMENT_CACHE_SIZE:
                    self._document_cache.popitem(last=False)
        return found  # type: ignore[return-value]  # every None was filled above

    def _words_with_prefix(self, snapshot: SnapshotT,
                           prefix: str) -> list[tuple[str, str, int]]:
        key = (self._generation(snapshot), prefix)
        with self._cache_lock:
            words = self._prefix_cache.get(key)
        if words is None:
            counts: dict[str, int] = {}
            for field in PLAIN_FIELDS:
                for term, count in self._terms_with_prefix(snapshot, field, prefix):
                    if count > 0 and is_suggestable(term):
                        counts[term] = max(counts.get(term, 0), count)
            accents: dict[str, tuple[int, str]] = {}
            for term, count in self._terms_with_prefix(snapshot, ACCENTS, prefix):
                folded, _, written = term.partition(LABEL_SEPARATOR)
                if count > accents.get(folded, (0, ""))[0]:
                    accents[folded] = (count, written)
            words = [(folded, accents.get(folded, (0, folded))[1], count)
                     for folded, count in counts.items()]
            with self._cache_lock:
                self._prefix_cache[key] = words
                if len(self._prefix_cache) > _PREFIX_CACHE_SIZE:
                    self._prefix_cache.popitem(last=False)
        return words

    def _grouped(self, snapshot: SnapshotT, plan: TextPlan | None, query: SearchQuery,
                 hit: Callable[[SearchDocument, float], Hit],
                 ) -> tuple[int, tuple[GroupedHit, ...]]:
        sizes = self._group_sizes(snapshot, plan, query.filters)
        total = len(sizes)
        if query.offset >= total:
            return total, ()
        # Groups rank by their best member: walk hits in rank order, collecting new
        # groups, until the requested page of groups is complete.
        needed = query.offset + query.page_size
        order: list[Hashable] = []
        seen: set[Hashable] = set()
        offset, batch = 0, max(100, 3 * needed)
        while len(order) < needed:
            count, refs = self._top(snapshot, plan, query.filters, offset, batch)
            for group in self._group_ids(snapshot, [ref for ref, _ in refs]):
                if group not in seen:
                    seen.add(group)
                    order.append(group)
            offset += len(refs)
            if not refs or offset >= count:
                break
            batch *= 2
        found = self._members_of(snapshot, plan, query, order[query.offset:needed], sizes)
        groups: list[GroupedHit] = []
        for group, refs in found.items():
            size = sizes.get(group, len(refs))
            refs = refs[:query.members]
            documents = self._cached_documents(snapshot, [ref for ref, _ in refs])
            members = sorted((Hit(d, score) for d, (_, score) in zip(documents, refs,
                                                                     strict=True)),
                             key=_wave_order)
            if not members:
                continue
            # Only the best member gets a snippet: it is what the group is shown with.
            best = max(range(len(members)), key=lambda i: members[i].score)
            members[best] = hit(members[best].document, members[best].score)
            groups.append(GroupedHit(members[0].document.effective_group_key,
                                     tuple(members), size))
        return total, tuple(groups)

    def _members_of(self, snapshot: SnapshotT, plan: TextPlan | None, query: SearchQuery,
                    page: Sequence[Hashable], sizes: Mapping[Hashable, int]
                    ) -> dict[Hashable, list[tuple[RefT, float]]]:
        """The best members of each group of a page, in :meth:`_top`'s order.

        A group is one question in each wave, a few dozen matches at most: one search
        brings every match of every such group on the page, where a search per group
        was the larger part of a grouped search's time. A larger group gets a search of
        its own, for its best members only."""
        found: dict[Hashable, list[tuple[RefT, float]]] = {group: [] for group in page}
        together = [g for g in page if 0 < sizes.get(g, 0) <= _MEMBERS_AT_ONCE]
        if together:
            refs = self._members(snapshot, plan, query.filters, together,
                                 sum(sizes[g] for g in together))
            for ref, group in zip(refs, self._group_ids(snapshot, [r for r, _ in refs]),
                                  strict=True):
                found[group].append(ref)
        for group in page:
            if group not in together:
                found[group] = self._members(snapshot, plan, query.filters, [group],
                                             query.members)
        return found


def _wave_order(hit: Hit) -> tuple[tuple[int, ...], str, str]:
    document = hit.document
    return document.years, document.wave, document.name


def _facet_counts(facet: str, terms: dict[str, int], selected: tuple[str, ...],
                  limit: int) -> FacetCounts:
    if FACETS_BY_NAME[facet].labelled:
        labelled = split_counted(terms)
    else:
        labelled = {term: (term, count) for term, count in terms.items()}
    values = [FacetValue(value, label, count, value in selected)
              for value, (label, count) in labelled.items() if count > 0]
    values.sort(key=lambda v: (-v.count, v.label.lower(), v.value))
    shown = values[:limit]
    # A selected value stays visible (with its count, 0 when unknown or filtered out).
    shown_values = {v.value for v in shown}
    for value in selected:
        if value not in shown_values:
            known = next((v for v in values if v.value == value), None)
            shown.append(known or FacetValue(value, value, 0, True))
    return FacetCounts(facet, tuple(shown))


class _SnapshotVocabulary(Generic[SnapshotT, RefT]):
    """The :class:`~search.suggest.Vocabulary` of one snapshot."""

    def __init__(self, engine: IndexedEngine[SnapshotT, RefT], snapshot: SnapshotT) -> None:
        self._engine = engine
        self._snapshot = snapshot

    def is_known(self, folded: str) -> bool:
        engine, snapshot = self._engine, self._snapshot
        if any(engine._holds(snapshot, field, folded) for field in PLAIN_FIELDS):
            return True
        # Found through its stem ("allergies" finds "allergie"): nothing to correct.
        return any(engine._holds(snapshot, field, stem) for field in STEMMED_FIELDS
                   for stem in engine._analyze(TEXT_FIELDS[field], folded))

    def words_with_prefix(self, prefix: str) -> list[tuple[str, str, int]]:
        return self._engine._words_with_prefix(self._snapshot, prefix)

    def is_live(self, folded: str) -> bool:
        return any(self._engine._is_live_term(self._snapshot, field, folded)
                   for field in PLAIN_FIELDS)
