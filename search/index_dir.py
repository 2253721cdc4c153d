"""An index directory: which engine and schema wrote it, created once under the lock.

A marker file names the engine and its schema version, so that an index written by
the other engine or by an older catalogue is refused with a clear message instead of
being misread (or overwritten).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from search.errors import IndexUnusable
from search.locking import WriteLock

MARKER_FILE = "catalogue-index.json"


def ensure_index(path: Path, engine: str, schema_version: int, exists: Callable[[], bool],
                 create: Callable[[], None], lock_timeout: float) -> None:
    """Create the engine's index in ``path`` unless there is one; refuse a foreign one."""
    path.mkdir(parents=True, exist_ok=True)
    if not exists():
        with WriteLock(path, lock_timeout):
            if not exists():
                if (path / MARKER_FILE).exists():
                    check_marker(path, engine, schema_version)
                # The marker first: whoever sees the index also finds its marker.
                marker = {"engine": engine, "schema": schema_version}
                (path / MARKER_FILE).write_text(json.dumps(marker), encoding="utf-8")
                create()
    check_marker(path, engine, schema_version)


def check_marker(path: Path, engine: str, schema_version: int) -> None:
    try:
        marker = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = None
    if marker != {"engine": engine, "schema": schema_version}:
        raise IndexUnusable(f"{path} does not hold a catalogue {engine} index of schema "
                            f"version {schema_version}: rebuild it with catalogue reindex")
