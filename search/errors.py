"""Errors raised by the search layer, placed in the catalogue's one hierarchy.

Each also derives from the builtin a caller would naturally catch (``ValueError`` for a
bad request), so that code which does not know the catalogue's errors still works.
"""

from __future__ import annotations

from catalogue.errors import BadRequest, ConfigurationError, Conflict


class InvalidSearch(BadRequest, ValueError):
    """A search request that cannot be answered as asked (bad facet name, bad page size)."""


class InvalidPage(InvalidSearch):
    """A page number that is not a positive integer."""


class InvalidDocument(ValueError):
    """A :class:`~search.documents.SearchDocument` that cannot be indexed (a programming error)."""


class IndexLocked(Conflict):
    """Another process kept the index's write lock for longer than the lock timeout."""


class IndexUnusable(ConfigurationError):
    """An index directory written by another version of the catalogue, or not an index."""
