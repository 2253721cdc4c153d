"""XSD validation in a separate process: ``python -m ddi_schemas.worker PATH
SCHEMA_DIR``. Prints one JSON object: ``{"status": "ok", "findings": [...]}`` or
``{"status": "unusable", "message": ...}``. Lets a large file be validated on one core
while the catalogue reads it on another, and the first file of ``catalogue validate``
while the catalogue is still starting (see :mod:`catalogue.xsd_runner`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from catalogue.errors import CatalogueError
from ddi_schemas.inspect import inspect_document
from ddi_schemas.registry import load_schema
from ddi_schemas.xsd import validate_xsd


def main(argv: list[str]) -> int:
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
