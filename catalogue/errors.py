"""One exception hierarchy for the whole catalogue.

Every error carries an HTTP-style ``status`` and a short, literal message that says what
to do. The CLI maps them to exit codes, the web layer to a page or the fixed JSON shape
``{"ok": false, "error": ..., "errors": [...], "status": ...}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CatalogueError(Exception):
    """Base of every error the catalogue raises on purpose."""

    status = 500
    #: CLI exit code: 1 for content that breaks the rules, 2 for unusable input or usage.
    exit_code = 2

    def __init__(self, message: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[dict[str, Any]] = list(errors)

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "error": self.message, "errors": self.errors, "status": self.status}


class BadRequest(CatalogueError):
    status = 400


class Unauthorized(CatalogueError):
    status = 401


class Forbidden(CatalogueError):
    status = 403


class NotFound(CatalogueError):
    status = 404


class Conflict(CatalogueError):
    status = 409


class PayloadTooLarge(CatalogueError):
    status = 413


class TooManyRequests(CatalogueError):
    status = 429


class StoreBusy(CatalogueError):
    """The store stayed locked by another writer longer than this one could wait."""

    status = 503


class UnusableInput(BadRequest):
    """Input that cannot be read as DDI-L at all: not XML, empty, wrong namespace, DTD."""

    exit_code = 2


class InvalidDDI(CatalogueError):
    """Readable DDI-L that breaks the official XSD or an error-level profile rule."""

    status = 422
    exit_code = 1


class InvalidDictionary(CatalogueError):
    """A data dictionary (CSV/XLSX) with problems; ``errors`` lists each one, located."""

    status = 422
    exit_code = 1


class ConfigurationError(CatalogueError):
    """A setting or an installation problem (missing schema, bad environment value)."""

    status = 500
    exit_code = 2


class SchemaUnavailable(ConfigurationError):
    """No official XSD could be found or verified for a DDI-L version."""
