"""The command table: each command is found in the one module that registers it."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from catalogue.cli import COMMAND_MODULES, build_parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


@pytest.mark.parametrize("module", sorted(COMMAND_MODULES))
def test_each_module_registers_exactly_the_commands_the_table_names(module: str) -> None:
    assert _commands(build_parser([module])) == set(COMMAND_MODULES[module])


def test_the_full_parser_has_every_command_once() -> None:
    listed = [c for commands in COMMAND_MODULES.values() for c in commands]
    assert len(listed) == len(set(listed))
    assert _commands(build_parser()) == set(listed)


def test_validate_does_not_import_the_store_or_the_web_server() -> None:
    code = (
        "import sys\n"
        "from catalogue.cli import main\n"
        "try:\n"
        "    main(['validate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('catalogue.store', 'web.app', 'starlette')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from catalogue.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for commands in COMMAND_MODULES.values():
        for command in commands:
            assert command in out
