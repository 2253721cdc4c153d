"""Settings, each declared once: a typed field with a default and one line of help.

Values come from environment variables named ``CATALOGUE_`` + the upper-case field name.
The README's settings table is checked against this declaration by a test.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from catalogue.errors import ConfigurationError

PREFIX = "CATALOGUE_"


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(
        default=Path("var"),
        metadata=_help("Directory holding the store, the search index, the outbox and uploads."),
    )
    database_url: str = field(
        default="",
        metadata=_help("SQLAlchemy URL of the store; empty means SQLite in the data directory."),
    )
    ddi_schemas: Path | None = field(
        default=None,
        metadata=_help("Directory with the official DDI-L XSDs in 3.3/ and/or 3.2/ subfolders."),
    )
    search_engine: str = field(
        default="tantivy",
        metadata=_help("Search engine: tantivy (default, fast) or whoosh (pure Python).",
                       choices=("tantivy", "whoosh")),
    )
    secret_key: str = field(
        default="",
        metadata=_help("Key signing session cookies; empty means one kept in the data directory."),
    )
    max_upload_mb: int = field(
        default=50,
        metadata=_help("Largest DDI-L or dictionary file accepted by the web upload, in MB."),
    )
    smtp_url: str = field(
        default="",
        metadata=_help("smtp://user:password@host:port for outgoing mail; empty writes an outbox."),
    )
    base_url: str = field(
        default="http://127.0.0.1:8000",
        metadata=_help("Public address of the site, used in links sent by e-mail."),
    )
    session_max_age: int = field(
        default=8 * 3600,
        metadata=_help("Lifetime of a sign-in session, in seconds."),
    )
    anonymous_session_max_age: int = field(
        default=30 * 24 * 3600,
        metadata=_help("Lifetime of a visitor's session before sign-in (forms, basket), in "
                       "seconds."),
    )
    mail_from: str = field(
        default="Cohort catalogue <no-reply@localhost>",
        metadata=_help("Sender (From:) of the e-mails the catalogue sends."),
    )
    sign_in_window: int = field(
        default=15 * 60,
        metadata=_help("Period, in seconds, over which failed sign-ins are counted."),
    )
    sign_in_failures_per_account: int = field(
        default=5,
        metadata=_help("Failed sign-ins to one account within the window before it waits."),
    )
    sign_in_failures_per_address: int = field(
        default=30,
        metadata=_help("Failed sign-ins from one client address within the window before it "
                       "waits."),
    )
    page_cache_mb: int = field(
        default=64,
        metadata=_help("Memory, in MB per worker, for whole pages kept for visitors without a "
                       "session (0 turns the cache off)."),
    )
    shared_page_cache_mb: int = field(
        default=256,
        metadata=_help("Disk, in MB, for the same pages shared by every worker of the data "
                       "directory (0 turns it off)."),
    )
    shared_page_cache_dir: Path | None = field(
        default=None,
        metadata=_help("Directory for the pages shared by the workers; empty means one in "
                       "memory (/dev/shm) where the system has it, else page-cache/ in the "
                       "data directory."),
    )
    log_level: str = field(
        default="INFO",
        metadata=_help("Logging level: DEBUG, INFO, WARNING or ERROR."),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name in env:
                values[f.name] = _convert(name, env[name], hints[f.name], f.metadata)
        values.update(overrides)
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'catalogue.sqlite').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index" / self.search_engine

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text(encoding="ascii").strip()
        import secrets  # noqa: PLC0415 - once per data directory; 7 ms of every command

        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key, encoding="ascii")
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # first writer wins when several workers start together
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text(encoding="ascii").strip()


def describe() -> list[tuple[str, str, str, str]]:
    """(environment variable, type, default, help) for every setting, for docs and --help."""
    hints = typing.get_type_hints(Settings)
    rows = []
    for f in fields(Settings):
        rows.append((PREFIX + f.name.upper(), _type_name(hints[f.name]), _default_text(f.default),
                     f.metadata["help"]))
    return rows


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(args[0])
    return {Path: "path", str: "string", int: "integer", bool: "boolean"}.get(tp, str(tp))


def _default_text(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    return str(value)


def _convert(name: str, raw: str, tp: Any, meta: Mapping[str, Any]) -> Any:
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional, tp = True, args[0]
    if optional and raw == "":
        return None
    if tp is Path:
        return Path(raw).expanduser()
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if tp is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigurationError(f"{name} must be true or false, got {raw!r}")
    choices = meta.get("choices")
    if choices and raw not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw
