"""Every setting is declared once, read from its CATALOGUE_ variable, and documented in
the README's settings table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalogue.errors import ConfigurationError
from catalogue.settings import Settings, describe

if TYPE_CHECKING:
    from conftest import CliRunner

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_settings() -> dict[str, tuple[str, str, str]]:
    """Rows of the table under ``## Settings``: name -> (type, default, help)."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Settings\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Settings' section"
    rows: dict[str, tuple[str, str, str]] = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 4 or set(cells[0]) <= {"-", ":"} or cells[0] == "Variable":
            continue
        name, type_, default, help_ = (c.strip("`").replace("\\|", "|") for c in cells)
        rows[name] = (type_, default, help_)
    return rows


def test_every_setting_is_in_the_readme_table() -> None:
    documented = readme_settings()
    declared = {name: (type_, default, help_) for name, type_, default, help_ in describe()}

    missing = sorted(set(declared) - set(documented))
    assert not missing, f"settings missing from README.md's settings table: {missing}"
    stale = sorted(set(documented) - set(declared))
    assert not stale, f"README.md documents settings that do not exist: {stale}"
    for name, (type_, default, help_) in declared.items():
        assert documented[name][:2] == (type_, default), name
        assert documented[name][2] == help_, name


def test_describe_covers_every_field_with_help() -> None:
    names = [name for name, *_ in describe()]
    assert len(names) == len(set(names)) == len(Settings.__dataclass_fields__)
    assert all(name.startswith("CATALOGUE_") for name in names)
    assert all(help_ and type_ in {"path", "string", "integer", "boolean"}
               for _, type_, _, help_ in describe())


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({
        "CATALOGUE_DATA_DIR": "/srv/catalogue", "CATALOGUE_MAX_UPLOAD_MB": "12",
        "CATALOGUE_DDI_SCHEMAS": "/opt/ddi", "CATALOGUE_SEARCH_ENGINE": "whoosh",
        "CATALOGUE_LOG_LEVEL": "DEBUG", "OTHER_DATA_DIR": "/ignored",
    })
    assert settings.data_dir == Path("/srv/catalogue")
    assert settings.max_upload_mb == 12
    assert settings.ddi_schemas == Path("/opt/ddi")
    assert settings.search_engine == "whoosh"
    assert settings.store_url == "sqlite:////srv/catalogue/catalogue.sqlite"
    defaults = Settings.from_env({"CATALOGUE_DDI_SCHEMAS": ""})
    assert defaults.ddi_schemas is None and defaults.data_dir == Path("var")


@pytest.mark.parametrize("name, value, phrase", [
    ("CATALOGUE_MAX_UPLOAD_MB", "fifty", "must be an integer"),
    ("CATALOGUE_SEARCH_ENGINE", "lucene", "must be one of tantivy, whoosh"),
])
def test_bad_values_are_refused_clearly(name: str, value: str, phrase: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} {phrase}"):
        Settings.from_env({name: value})


def test_the_cli_reports_a_bad_setting_without_a_traceback(
        cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOGUE_MAX_UPLOAD_MB", "fifty")
    result = cli("list")
    assert result.code == 2
    assert "CATALOGUE_MAX_UPLOAD_MB must be an integer, got 'fifty'" in result.err
    assert "Traceback" not in result.err
