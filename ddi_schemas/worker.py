"""XSD validation in a separate process: ``python -m ddi_schemas.worker PATH
SCHEMA_DIR``. Prints one JSON object: ``{"status": "ok", "findings": [...]}`` or
``{"status": "unusable", "message": ...}``. Lets a large file be validated on one core
while the catalogue reads it on another, and the first file of ``catalogue validate``
while the catalogue is still starting (:func:`start_early`).

Starting a helper needs nothing but this module, which imports no more than that: the
validation itself is imported by the helper.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, Protocol

#: Files larger than this are XSD-validated by a helper while the catalogue reads them;
#: smaller ones in a thread of the catalogue's process (as a tree, which takes about six
#: times the file), unless :func:`start_early` started their helper.
PARALLEL_BYTES = 4 * 1024 * 1024


class Helper(Protocol):
    """A helper validating one file: its answer is what :meth:`communicate` reads (it
    waits for the end); :meth:`kill` stops it."""

    def communicate(self) -> tuple[bytes, Any]: ...

    def kill(self) -> None: ...


class ForkedHelper:
    """A helper forked from this process (:func:`start_early`): it has the interpreter
    started already, about 35 ms of a new one's start, and writes its answer to a pipe."""

    def __init__(self, pid: int, answer: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._answer = answer

    def communicate(self) -> tuple[bytes, None]:
        with os.fdopen(self._answer, "rb") as pipe:
            output = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        return output, None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - reaped already
            pass


def fork(path: Path, schema_dir: Path | None) -> ForkedHelper | None:
    """A helper forked from this process; None where it cannot be done safely: other
    threads running, whose locks the child would inherit held, or a system other than
    Linux (Windows has no ``fork``; on macOS system libraries may hold locks of threads
    of their own, which is why Python does not fork there by default)."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    answer, into = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        stream.flush()
    pid = os.fork()
    if pid == 0:  # the helper: answer, and leave without running the parent's exit code
        code = 1
        try:
            os.close(answer)
            with os.fdopen(into, "w", encoding="utf-8") as out:
                validate_to(out, path, schema_dir)
            code = 0
        finally:
            os._exit(code)
    os.close(into)
    return ForkedHelper(pid, answer)


def spawn(path: Path, schema_dir: Path | None) -> subprocess.Popen[bytes] | None:
    """A helper validating ``path`` (its answer on its stdout); None when none can start."""
    try:
        return subprocess.Popen(
            [sys.executable, "-m", __name__, str(path), str(schema_dir or "")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def start_early(path: Path, schema_dir: Path | None) -> Helper | None:
    """The helper of a small file, started before the caller imports the reader and the
    profile rules: it compiles the XSD meanwhile, where a thread would compile it after
    them, under the reading's GIL (about a third of ``catalogue validate`` on a 2.5 MB
    file). Forked where that can be done safely, else a new process. None when it would
    not pay: a large file has its helper started with its reading anyway, and a process
    that has compiled an XSD already (the web, the tests) validates in a thread sooner
    than a new process could. A file that turns out not to be DDI-L is reported by the
    caller, its helper stopped unheard."""
    registry = sys.modules.get("ddi_schemas.registry")  # not loaded: nothing compiled
    if registry is not None and registry.compiled_any():
        return None
    try:
        if not path.is_file() or path.stat().st_size >= PARALLEL_BYTES:
            return None
    except OSError:
        return None
    return fork(path, schema_dir) or spawn(path, schema_dir)


def validate_to(out: IO[str], path: Path, schema_dir: Path | None) -> None:
    """The helper's work: validate ``path`` and write the answer to ``out``."""
    # imported here: the processes that only start helpers do without them
    from catalogue.errors import CatalogueError  # noqa: PLC0415
    from ddi_schemas.inspect import inspect_document  # noqa: PLC0415
    from ddi_schemas.registry import load_schema  # noqa: PLC0415
    from ddi_schemas.xsd import validate_xsd  # noqa: PLC0415

    try:
        info = inspect_document(path)
        schema = load_schema(info.ddi_version, schema_dir)
        findings = validate_xsd(info, schema)
    except CatalogueError as exc:
        json.dump({"status": "unusable", "message": exc.message}, out)
        return
    json.dump({"status": "ok", "findings": [f.to_json() for f in findings]}, out)


def main(argv: list[str]) -> int:
    path, schema_dir = Path(argv[0]), (Path(argv[1]) if len(argv) > 1 and argv[1] else None)
    validate_to(sys.stdout, path, schema_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
