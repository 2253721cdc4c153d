"""One writer at a time, across processes: an advisory lock file next to the index.

The engines' own locks fail at once when busy; publishing instead waits its turn for a
while (a publication is indexed in seconds), then gives up with a clear message. The
kernel drops the lock when its holder dies, so a crashed writer never blocks the index.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from search.errors import IndexLocked

LOCK_FILE = "catalogue-write.lock"
_POLL_SECONDS = 0.05


class WriteLock:
    """``with WriteLock(index_dir, timeout):`` holds the index's write lock."""

    def __init__(self, directory: Path, timeout: float) -> None:
        self.path = directory / LOCK_FILE
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise IndexLocked(
                        f"the search index in {self.path.parent} is being written by another "
                        f"process (waited {self.timeout:g} s); try again when it has finished"
                    ) from None
                time.sleep(_POLL_SECONDS)
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
