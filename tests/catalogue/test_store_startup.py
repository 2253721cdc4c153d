"""Several processes opening the store of an empty data directory at once (web workers
starting together) all get a working store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_OPEN = "import sys; from catalogue.store import Store; Store(sys.argv[1]).list_publications()"


def test_processes_creating_the_schema_together_all_succeed(tmp_path: Path) -> None:
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'race{attempt}' / 'catalogue.sqlite'}"
        processes = [subprocess.Popen([sys.executable, "-c", _OPEN, url],
                                      stderr=subprocess.PIPE) for _ in range(4)]
        errors = [p.communicate(timeout=120)[1].decode() for p in processes]
        assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
