"""One whoosh reader and what it caches: document sets as bitsets.

Whoosh iterates postings in Python, so counting facets document by document costs
hundreds of milliseconds at 200,000 documents. Instead, each reader keeps, per facet
term, the set of its documents as a Python integer used as a bitset (built once per
commit), and per recent query the set of matching documents. A facet count is then one
``&`` and one ``bit_count()`` per facet value, a total is one ``bit_count()``, and a
filter is an ``|`` of its values' sets: all done in C on 25 kB integers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from whoosh.idsets import DocIdSet

from search.facets import filter_field
from search.fields import GROUP, SORT
from search.query import Filters

_MATCH_CACHE_SIZE = 64


class WhooshSnapshot:
    """A searcher on one commit, with lazily built bitsets."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.generation: int = self.reader.generation()
        self.size: int = self.reader.doc_count_all()
        self._lock = threading.Lock()
        self._live: int | None = None
        self._terms: dict[str, dict[str, int]] = {}
        self._matches: OrderedDict[Hashable, int] = OrderedDict()
        self._browse_order: list[int] | None = None
        self._groups: list[str] | None = None

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

    def matches(self, key: Hashable, documents: Callable[[], Iterable[int]]) -> int:
        """Documents matching the query identified by ``key`` (computed on first use)."""
        with self._lock:
            bits = self._matches.get(key)
            if bits is not None:
                self._matches.move_to_end(key)
                return bits
        bits = to_bits(documents(), self.size) & self.live
        with self._lock:
            self._matches[key] = bits
            if len(self._matches) > _MATCH_CACHE_SIZE:
                self._matches.popitem(last=False)
        return bits

    def browse_order(self) -> list[int]:
        """Live documents in browse order (by the sort column)."""
        if self._browse_order is None and self.size == 0:
            self._browse_order = []  # an empty index has no columns to read
        if self._browse_order is None:
            keys = self.reader.column_reader(SORT)
            live = BitFilter(self.live)
            self._browse_order = sorted((d for d in range(self.size) if d in live),
                                        key=lambda d: (keys[d], d))
        return self._browse_order

    def groups(self) -> list[str]:
        """The group key of every document, by document number."""
        if self._groups is None and self.size == 0:
            self._groups = []
        if self._groups is None:
            column = self.reader.column_reader(GROUP)
            self._groups = [_text(column[d]) for d in range(self.size)]
        return self._groups


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
