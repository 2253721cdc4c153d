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

Behind each worker's cache, :class:`SharedPages` keeps the same pages on disk, in the data
directory, for every worker (``shared_page_cache_mb``): a page one worker rendered is not
rendered again by the others. One file per page, written under a temporary name then
renamed, so a reader sees a whole page or none; a directory per generation, so a new one
leaves the old pages behind, to be removed. It is a cache: a file that cannot be read or
written is a miss, never an error.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import threading
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

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
log = logging.getLogger(__name__)


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

    def to_bytes(self) -> bytes:
        head = {"status": self.status, "gzipped": self.gzipped,
                "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                            for k, v in self.headers]}
        return json.dumps(head, separators=(",", ":")).encode("ascii") + b"\n" + self.body

    @staticmethod
    def from_bytes(data: bytes) -> KeptResponse:
        head_line, _, body = data.partition(b"\n")
        head = json.loads(head_line)
        return KeptResponse(int(head["status"]), body,
                            tuple((k.encode("latin-1"), v.encode("latin-1"))
                                  for k, v in head["headers"]), bool(head["gzipped"]))


def _write_file(path: str, data: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    finally:
        os.close(handle)


def _digest(parts: Key) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


class SharedPages:
    """Pages on disk, shared by the workers of one data directory (see the module
    docstring), at most about ``limit`` bytes: past it, the oldest written go first."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self._written = 0
        self._pruning = threading.Lock()
        #: Directories known to exist: a page written costs a tenth of a millisecond,
        #: and asking for its directory again each time was a good part of it.
        self._made: set[str] = set()
        self._generation: tuple[Key, str] = ((), _digest(()))

    def get(self, generation: Key, key: Key) -> KeptResponse | None:
        path = self._path(generation, key)
        try:
            with open(path, "rb") as stream:
                return KeptResponse.from_bytes(stream.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("shared page %s unreadable, dropped: %s", path, exc)
            with suppress(OSError):
                os.unlink(path)
            return None

    def put(self, generation: Key, key: Key, kept: KeptResponse) -> None:
        path = self._path(generation, key)
        data = kept.to_bytes()
        folder, name = os.path.split(path)
        temporary = os.path.join(folder, f"{name}.{os.getpid()}.tmp")
        for attempt in (1, 2):
            try:
                if folder not in self._made:
                    os.makedirs(folder, exist_ok=True)
                    self._made.add(folder)
                _write_file(temporary, data)
                os.replace(temporary, path)
                break
            except FileNotFoundError:  # its directory was removed (a prune, a restart)
                self._made.discard(folder)
                if attempt == 2:
                    return
            except OSError as exc:
                log.debug("shared page %s not written: %s", path, exc)
                with suppress(OSError):
                    os.unlink(temporary)
                return
        self._written += len(data)
        if self._written > self.limit // 8 and not self._pruning.locked():
            # Listing thousands of files takes a while: not in the event loop.
            threading.Thread(target=self._prune_while_written, daemon=True,
                             name="shared-pages-prune").start()

    def _prune_while_written(self) -> None:
        """Prune the current generation, and again while more than ``limit / 8`` bytes
        came in meanwhile. Checked again once the lock is released: a page written just
        before that saw the lock held and started no thread of its own."""
        while self._written > self.limit // 8:
            if not self._pruning.acquire(blocking=False):
                return  # the thread holding it looks again after releasing it
            try:
                while self._written > self.limit // 8:
                    self._written = 0
                    self.prune(self._generation[0])
            finally:
                self._pruning.release()

    def prune(self, generation: Key) -> None:
        """Remove the pages of other generations, then the oldest of this one while they
        hold more than ``limit`` bytes."""
        current = _digest(generation)
        try:
            listed = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in listed:
            if entry.name != current and entry.is_dir():
                shutil.rmtree(entry.path, ignore_errors=True)
        files: list[tuple[float, int, str]] = []
        for root, _dirs, names in os.walk(self.directory / current):
            for name in names:
                try:
                    stat = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                files.append((stat.st_mtime, stat.st_size, os.path.join(root, name)))
        total = sum(size for _, size, _ in files)
        for _mtime, size, name in sorted(files):
            if total <= self.limit:
                break
            with suppress(OSError):
                os.unlink(name)
            total -= size

    def _path(self, generation: Key, key: Key) -> str:
        known, digest = self._generation
        if known != generation:
            digest = _digest(generation)
            self._generation = (generation, digest)
            self._made.clear()  # the old generation's directories are pruned away
        name = _digest(key)
        return os.path.join(self.directory, digest, name[:2], name)


@dataclass
class PageCache:
    """A least-recently-used map of responses, at most ``limit`` bytes, in front of the
    workers' :class:`SharedPages` when there is one."""

    limit: int
    shared: SharedPages | None = None
    _entries: OrderedDict[Key, KeptResponse] = field(default_factory=OrderedDict)
    _bytes: int = 0
    _generation: Key = ()
    hits: int = 0
    #: Of the hits, those found in the shared pages (rendered by another worker).
    shared_hits: int = 0
    misses: int = 0

    def get(self, generation: Key, key: Key) -> KeptResponse | None:
        self._renew(generation)
        found = self._entries.get(key)
        if found is None and self.shared is not None:
            found = self.shared.get(generation, key)
            if found is not None:
                self._keep(key, found)
                self.shared_hits += 1
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
        self._keep(key, kept)
        if self.shared is not None:
            self.shared.put(generation, key, kept)

    def _keep(self, key: Key, kept: KeptResponse) -> None:
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
