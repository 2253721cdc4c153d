"""One writer at a time, across processes: an advisory lock file next to the index.

The engines' own locks fail at once when busy; publishing instead waits its turn for a
while (a publication is indexed in seconds), then gives up with a clear message. The
kernel drops the lock when its holder dies, so a crashed writer never blocks the index.
"""

from __future__ import annotations

from pathlib import Path

from catalogue.locking import FileLock
from search.errors import IndexLocked

LOCK_FILE = "catalogue-write.lock"


class WriteLock(FileLock):
    """``with WriteLock(index_dir, timeout):`` holds the index's write lock."""

    def __init__(self, directory: Path, timeout: float) -> None:
        super().__init__(directory / LOCK_FILE, timeout, lambda: IndexLocked(
            f"the search index in {directory} is being written by another process "
            f"(waited {timeout:g} s); try again when it has finished"))
