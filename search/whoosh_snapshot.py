"""One whoosh reader and what it caches: document sets as bitsets.

Whoosh iterates postings in Python, so counting facets document by document costs
hundreds of milliseconds at 200,000 documents. Instead, each reader keeps, per facet
term, the set of its documents as a Python integer used as a bitset (built once per
commit), and per recent query its matches, scored once, as a bitset and in rank order.
A facet count is then one ``&`` and one ``bit_count()`` per facet value, a total is one
``bit_count()``, a filter is an ``|`` of its values' sets (all done in C on 25 kB
integers), and another page or another filter on the same text costs no new search.

Building the per-commit sets takes seconds at 200,000 documents, so they are kept in a
file next to the index, named for the commit: the publishing process writes it right
after committing, and every web worker loads it instead of building it again.
"""

from __future__ import annotations

import os
import pickle
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from whoosh.idsets import DocIdSet

from search.facets import filter_field
from search.fields import FACET_FIELDS, GROUP, SORT
from search.query import Filters

#: Rankings kept per reader: enough for paging and facet clicks on recent queries, at
#: 12 bytes per match (2.4 MB for a query matching 200,000 documents).
_RANKING_CACHE_SIZE = 16
SETS_FILE_PREFIX = "catalogue-sets-"


class WhooshSnapshot:
    """A searcher on one commit, with lazily built bitsets."""

    def __init__(self, searcher: Any, directory: Path) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.generation: int = self.reader.generation()
        self.size: int = self.reader.doc_count_all()
        self._directory = directory
        self._lock = threading.Lock()
        self._live: int | None = None
        self._terms: dict[str, dict[str, int]] = {}
        self._rankings: OrderedDict[Hashable, Ranking] = OrderedDict()
        self._browse_order: array[int] | None = None
        self._groups: list[str] | None = None

    def warm(self) -> None:
        """Load this commit's sets from their file, or build them and write the file."""
        if self._load():
            return
        for name in FACET_FIELDS:
            self.term_bits(name)
        state = {"size": self.size, "live": self.live, "terms": self._terms,
                 "browse": self.browse_order()}
        path = self._sets_path()
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(temporary, "wb") as file:
                pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)  # readers see the whole file or none
        except OSError:
            temporary.unlink(missing_ok=True)  # a read-only index: keep sets in memory

    def remove_other_sets(self) -> None:
        """Delete the set files of other commits (called by the writer, under its lock)."""
        current = self._sets_path().name
        for path in self._directory.glob(f"{SETS_FILE_PREFIX}*"):
            if path.name != current:
                path.unlink(missing_ok=True)

    def _sets_path(self) -> Path:
        return self._directory / f"{SETS_FILE_PREFIX}{self.generation}.pickle"

    def _load(self) -> bool:
        try:
            # The file sits in the index directory, which whoosh itself reads pickles
            # from (its table of contents): it is as trusted as the index.
            with open(self._sets_path(), "rb") as file:
                state = pickle.load(file)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError):
            return False
        if not isinstance(state, dict) or state.get("size") != self.size:
            return False
        self._live, self._terms, self._browse_order = (state["live"], state["terms"],
                                                       state["browse"])
        return True

    @property
    def live(self) -> int:
        """Every document not deleted."""
        if self._live is None:
            self._live = to_bits(self.reader.all_doc_ids(), self.size)
        return self._live

    def term_bits(self, field: str) -> dict[str, int]:
        """``{term: documents}`` for every term of a facet field."""
        bits = self._terms.get(field)
        if bits is None:
            bits = {}
            for term in self.reader.lexicon(field):
                text = term.decode("utf-8") if isinstance(term, bytes) else str(term)
                bits[text] = to_bits(self.reader.postings(field, text).all_ids(), self.size)
            with self._lock:
                self._terms[field] = bits
        return bits

    def filter_bits(self, filters: Filters) -> int | None:
        """Documents passing ``filters`` (OR within a facet, AND across); None: no filter."""
        selected: int | None = None
        for facet, values in filters.active():
            terms = self.term_bits(filter_field(facet))
            union = 0
            for value in values:
                union |= terms.get(value, 0)
            selected = union if selected is None else selected & union
        return selected

    def ranking(self, key: Hashable, scored: Callable[[], Iterable[tuple[float, int]]]
                ) -> Ranking:
        """Every match of the query identified by ``key``, best first (computed once)."""
        with self._lock:
            ranking = self._rankings.get(key)
            if ranking is not None:
                self._rankings.move_to_end(key)
                return ranking
        order, scores = array("l"), array("d")
        for score, docnum in scored():
            order.append(docnum)
            scores.append(score)
        ranking = Ranking(to_bits(order, self.size) & self.live, order, scores)
        with self._lock:
            self._rankings[key] = ranking
            if len(self._rankings) > _RANKING_CACHE_SIZE:
                self._rankings.popitem(last=False)
        return ranking

    def browse_order(self) -> array[int]:
        """Live documents in browse order (by the sort column)."""
        if self._browse_order is None and self.size == 0:
            self._browse_order = array("l")  # an empty index has no columns to read
        if self._browse_order is None:
            live = BitFilter(self.live)
            self._browse_order = array("l", self.in_browse_order(
                d for d in range(self.size) if d in live))
        return self._browse_order

    def in_browse_order(self, docnums: Iterable[int]) -> list[int]:
        """``docnums`` (live documents) sorted by the sort column, then number: the order
        of :meth:`browse_order`."""
        keys = self.reader.column_reader(SORT)
        return sorted(docnums, key=lambda d: (keys[d], d))

    def groups(self) -> list[str]:
        """The group key of every document, by document number."""
        if self._groups is None and self.size == 0:
            self._groups = []
        if self._groups is None:
            column = self.reader.column_reader(GROUP)
            self._groups = [_text(column[d]) for d in range(self.size)]
        return self._groups


@dataclass(frozen=True, slots=True)
class Ranking:
    """The matches of one query: as a bitset, and in score order (compact arrays)."""

    bits: int
    order: array[int]
    scores: array[float]
    #: Filled on first use by :meth:`score_of` (only grouped searches need it).
    _scores_by_document: dict[int, float] = field(default_factory=dict)

    def score_of(self) -> dict[int, float]:
        """``{document: score}`` for every match."""
        if not self._scores_by_document and self.order:
            self._scores_by_document.update(zip(self.order, self.scores, strict=True))
        return self._scores_by_document

    def page(self, allowed: int | None, offset: int, limit: int) -> list[tuple[int, float]]:
        """The matches ``[offset, offset + limit)`` among those in ``allowed``."""
        if allowed is None:
            positions: Iterable[int] = range(offset, min(offset + limit, len(self.order)))
        else:
            members = BitFilter(allowed)
            wanted = (i for i, docnum in enumerate(self.order) if docnum in members)
            positions = islice(wanted, offset, offset + limit)
        return [(self.order[i], self.scores[i]) for i in positions]


def first_members(order: Sequence[int], allowed: int | None, offset: int,
                  limit: int) -> list[int]:
    """Documents ``[offset, offset + limit)`` of ``order`` among those in ``allowed``."""
    if allowed is None:
        return list(order[offset:offset + limit])
    members = BitFilter(allowed)
    return list(islice((d for d in order if d in members), offset, offset + limit))


class BitFilter(DocIdSet):  # type: ignore[misc]
    """A bitset seen as whoosh's set of allowed document numbers (O(1) membership)."""

    def __init__(self, bits: int) -> None:
        self._bytes = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        self._count = bits.bit_count()

    def __contains__(self, docnum: object) -> bool:
        if not isinstance(docnum, int):
            return False
        index = docnum >> 3
        return index < len(self._bytes) and bool(self._bytes[index] >> (docnum & 7) & 1)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[int]:
        return documents_of(self._bytes)


def to_bits(docnums: Iterable[int], size: int) -> int:
    array = bytearray((size >> 3) + 1)
    for docnum in docnums:
        array[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(array, "little")


def documents_of(bits: int | bytes) -> Iterator[int]:
    """The document numbers in a bitset, ascending."""
    data = bits if isinstance(bits, bytes) else bits.to_bytes((bits.bit_length() + 7) // 8,
                                                               "little")
    for index, byte in enumerate(data):
        if byte:
            base = index << 3
            for bit in range(8):
                if byte >> bit & 1:
                    yield base + bit


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
