"""An index directory: which engine and schema wrote it, created once under the lock.

A marker file names the engine and its schema version, so that an index written by
the other engine or by an older catalogue is refused with a clear message instead of
being misread (or overwritten).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from search.errors import IndexUnusable
from search.locking import LOCK_FILE, WriteLock

MARKER_FILE = "catalogue-index.json"

EngineT = TypeVar("EngineT")


def open_index_dir(path: Path, engine: str, schema_version: int, *,
                   exists: Callable[[], bool], create: Callable[[], None],
                   open_existing: Callable[[], EngineT], lock_timeout: float,
                   replace_unusable: bool) -> EngineT:
    """Open the engine's index in ``path``, creating it when there is none.

    An index of another schema version, of the other engine, or damaged, raises
    :class:`IndexUnusable`, or with ``replace_unusable`` (``catalogue reindex``) is
    discarded for an empty one. A directory holding anything but a catalogue index is
    never discarded.
    """
    try:
        ensure_index(path, engine, schema_version, exists, create, lock_timeout)
        return open_existing()
    except IndexUnusable:
        if not replace_unusable or not (path / MARKER_FILE).exists():
            raise
    with WriteLock(path, lock_timeout):
        for entry in path.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        _create(path, engine, schema_version, create)
    return open_existing()


def ensure_index(path: Path, engine: str, schema_version: int, exists: Callable[[], bool],
                 create: Callable[[], None], lock_timeout: float) -> None:
    """Create the engine's index in ``path`` unless there is one; refuse a foreign one."""
    path.mkdir(parents=True, exist_ok=True)
    if not exists():
        with WriteLock(path, lock_timeout):
            if not exists():
                if (path / MARKER_FILE).exists():
                    check_marker(path, engine, schema_version)
                elif any(p.name != LOCK_FILE for p in path.iterdir()):
                    raise IndexUnusable(f"{path} holds files that are not a catalogue index: "
                                        f"choose an empty directory for the index")
                _create(path, engine, schema_version, create)
    check_marker(path, engine, schema_version)


def _create(path: Path, engine: str, schema_version: int, create: Callable[[], None]) -> None:
    # The marker first: whoever sees the index also finds its marker.
    marker = {"engine": engine, "schema": schema_version}
    (path / MARKER_FILE).write_text(json.dumps(marker), encoding="utf-8")
    create()


def check_marker(path: Path, engine: str, schema_version: int) -> None:
    try:
        marker = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = None
    if marker != {"engine": engine, "schema": schema_version}:
        raise IndexUnusable(f"{path} does not hold a catalogue {engine} index of schema "
                            f"version {schema_version}: rebuild it with catalogue reindex")
