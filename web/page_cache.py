"""Whole responses kept for visitors without a session.

Most traffic on a catalogue is anonymous reading: the same cohort pages, popular
variables and searches, asked again and again. Such a request carries no session (no
basket, no account), so its answer depends only on the address, the language, the format
(HTML or JSON) and what is published; the page data is already cached per catalogue state
(:meth:`catalogue.browse.Catalogue.cached`), this keeps the rendered bytes as well
(gzip-compressed), as a caching proxy would, but without the risk of a proxy serving a
signed-in page to someone else: a request is served from here only when it carries no
cookie but the language one, and a response is kept only when rendering it started no
session (no CSRF token on it).

Entries are keyed by the catalogue's generation and the index's document count, so a
publication or a withdrawal empties the cache the moment a worker notices it (within a
second, like everything else). The cache is bounded in bytes (``page_cache_mb``), least
recently used first out. A worker serves requests one at a time in its event loop, so
the cache needs no lock.
"""

from __future__ import annotations

import gzip
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

#: Cookies that do not make a request personal (the remembered language).
PUBLIC_COOKIES = frozenset({"lang"})
#: Headers of a kept response that must not be replayed.
_NOT_REPLAYED = frozenset({b"content-length", b"set-cookie"})
#: Bodies at least this long are kept gzip-compressed (level 6, as the GZip middleware):
#: the cache holds five times more pages, and a browser gets them without compressing again.
COMPRESS_FROM = 1024

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeptResponse:
    status: int
    #: gzip-compressed when ``gzipped``
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    gzipped: bool = False

    @staticmethod
    def of(response: Response) -> KeptResponse:
        headers = tuple((k, v) for k, v in response.raw_headers if k not in _NOT_REPLAYED)
        body = bytes(response.body)
        if len(body) >= COMPRESS_FROM and all(k != b"content-encoding" for k, _ in headers):
            return KeptResponse(response.status_code, gzip.compress(body, 6, mtime=0), headers,
                                gzipped=True)
        return KeptResponse(response.status_code, body, headers)

    def response(self, accept_encoding: str = "") -> Response:
        """The response again: compressed for a client that accepts gzip (as the GZip
        middleware would have sent it), else as it was rendered."""
        headers = list(self.headers)
        body = self.body
        if self.gzipped:
            if "gzip" in accept_encoding:  # the GZip middleware's own test
                headers = [(k, v + b", Accept-Encoding") if k == b"vary" else (k, v)
                           for k, v in headers]
                headers.append((b"content-encoding", b"gzip"))
            else:
                body = gzip.decompress(body)
        response = Response(body, status_code=self.status)
        response.raw_headers = [*headers, (b"content-length", str(len(body)).encode("ascii"))]
        return response

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


@dataclass
class PageCache:
    """A least-recently-used map of responses, at most ``limit`` bytes."""

    limit: int
    _entries: OrderedDict[Key, KeptResponse] = field(default_factory=OrderedDict)
    _bytes: int = 0
    _generation: Key = ()
    hits: int = 0
    misses: int = 0

    def get(self, generation: Key, key: Key) -> KeptResponse | None:
        self._renew(generation)
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, generation: Key, key: Key, kept: KeptResponse) -> None:
        self._renew(generation)
        if kept.size > self.limit // 8:  # one huge page must not push out everything else
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= previous.size
        self._entries[key] = kept
        self._bytes += kept.size
        while self._bytes > self.limit and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _renew(self, generation: Key) -> None:
        if generation != self._generation:
            self._entries.clear()
            self._bytes = 0
            self._generation = generation


def public_key(request: Request, *parts: str) -> Key | None:
    """The key of an anonymous GET or HEAD (``parts`` say which view and format), or None
    when the request is personal: it carries a session, a basket or any other cookie."""
    if request.method not in ("GET", "HEAD"):
        return None
    cookie = request.headers.get("cookie")
    if cookie and any(part.partition("=")[0].strip() not in PUBLIC_COOKIES
                      for part in cookie.split(";") if part.strip()):
        return None
    scope = request.scope
    return (*parts, str(request.base_url), scope["path"],
            scope.get("query_string", b"").decode("latin-1"), request.state.lang)
