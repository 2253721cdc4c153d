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
import subprocess
import sys
from pathlib import Path

#: Files larger than this are XSD-validated by a helper while the catalogue reads them;
#: smaller ones in a thread of the catalogue's process (as a tree, which takes about six
#: times the file), unless :func:`start_early` started their helper.
PARALLEL_BYTES = 4 * 1024 * 1024


def spawn(path: Path, schema_dir: Path | None) -> subprocess.Popen[bytes] | None:
    """A helper validating ``path`` (its answer on its stdout); None when none can start."""
    try:
        return subprocess.Popen(
            [sys.executable, "-m", __name__, str(path), str(schema_dir or "")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def start_early(path: Path, schema_dir: Path | None) -> subprocess.Popen[bytes] | None:
    """The helper of a small file, started before the caller imports the reader and the
    profile rules: it compiles the XSD meanwhile, where a thread would compile it after
    them, under the reading's GIL (about a third of ``catalogue validate`` on a 2.5 MB
    file). None when it would not pay: a large file has its helper started with its
    reading anyway, and a process that has compiled an XSD already (the web, the tests)
    validates in a thread sooner than a new process could. A file that turns out not to
    be DDI-L is reported by the caller, its helper stopped unheard."""
    registry = sys.modules.get("ddi_schemas.registry")  # not loaded: nothing compiled
    if registry is not None and registry.compiled_any():
        return None
    try:
        if not path.is_file() or path.stat().st_size >= PARALLEL_BYTES:
            return None
    except OSError:
        return None
    return spawn(path, schema_dir)


def main(argv: list[str]) -> int:
    # imported here: the processes that only start helpers do without them
    from catalogue.errors import CatalogueError  # noqa: PLC0415
    from ddi_schemas.inspect import inspect_document  # noqa: PLC0415
    from ddi_schemas.registry import load_schema  # noqa: PLC0415
    from ddi_schemas.xsd import validate_xsd  # noqa: PLC0415

    path, schema_dir = Path(argv[0]), (Path(argv[1]) if len(argv) > 1 and argv[1] else None)
    try:
        info = inspect_document(path)
        schema = load_schema(info.ddi_version, schema_dir)
        findings = validate_xsd(info, schema)
    except CatalogueError as exc:
        json.dump({"status": "unusable", "message": exc.message}, sys.stdout)
        return 0
    json.dump({"status": "ok", "findings": [f.to_json() for f in findings]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
