"""The ``catalogue`` command line.

Each group of subcommands lives beside the code it drives and exposes
``register(subparsers)``; this module only assembles them, maps catalogue errors to exit
codes (0 ok, 1 invalid content, 2 unusable input or usage) and never shows a traceback
for an expected error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from catalogue.errors import CatalogueError
from catalogue.settings import Settings

#: Modules that add subcommands, each exposing ``register(subparsers) -> None``, with the
#: commands each registers: a command imports only its own module, so that ``validate``
#: does not pay for the web server or the store (a test checks this table).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "catalogue.commands": ("validate", "publish", "list", "show", "reindex", "search"),
    "catalogue.commands_import": ("import-table", "import-topics"),
    "catalogue.accounts_cli": ("admin",),
    "catalogue.commands_publishing": ("diff", "withdraw"),
    "web.cli": ("serve",),
}

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser(modules: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the commands of ``modules`` (default: all of them)."""
    parser = argparse.ArgumentParser(
        prog="catalogue",
        description="Cohort metadata catalogue built on DDI-Lifecycle 3.2/3.3.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES if modules is None else modules:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def _modules_for(argv: Sequence[str]) -> list[str] | None:
    """The one module a command line needs, or None (help, unknown command: all)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is None or any(a in ("-h", "--help") for a in argv[:argv.index(command)]):
        return None
    found = [m for m, commands in COMMAND_MODULES.items() if command in commands]
    return found or None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_modules_for(arguments))
    args = parser.parse_args(arguments)
    try:
        settings = Settings.from_env()
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s",
                            stream=sys.stderr)
        handler: Handler = args.handler
        return handler(args, settings)
    except CatalogueError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for detail in exc.errors:  # every problem, each located (like a compiler)
            print(f"  {_format_detail(detail)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a command that stopped reading (head)
        sys.stderr.close()
        return 0


def _format_detail(detail: dict[str, object]) -> str:
    where = ":".join(str(detail[k]) for k in ("file", "line", "column") if detail.get(k))
    text = str(detail.get("message", detail))
    return f"{where}: {text}" if where else text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
