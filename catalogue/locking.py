"""One holder at a time, across processes: an advisory lock on a file.

Used where a writer must wait for another one instead of failing half-way: publishing
(one publication written at a time, see :meth:`catalogue.store.Store.publishing`) and
the search index (:mod:`search.locking`). The kernel drops the lock when its holder dies,
so a crashed writer never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from catalogue.errors import CatalogueError

_POLL_SECONDS = 0.05


class FileLock:
    """``with FileLock(path, timeout, busy):`` holds the lock on ``path`` (created when
    missing), waiting at most ``timeout`` seconds for it; past that, raises ``busy()``.
    ``waiting`` is called once when the lock is taken by someone else."""

    def __init__(self, path: Path, timeout: float, busy: Callable[[], CatalogueError],
                 waiting: Callable[[], None] | None = None) -> None:
        self.path = path
        self.timeout = timeout
        self.busy = busy
        self.waiting = waiting
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self.busy() from None
                if not told and self.waiting is not None:
                    self.waiting()
                    told = True
                time.sleep(_POLL_SECONDS)
            except BaseException:
                os.close(fd)
                raise
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
