"""Fixtures shared by every test package: the official schemas, the example files and
their expected verdicts, the CLI run in-process on a fresh data directory, and small
DDI-L 3.3 documents written by the tests themselves."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from catalogue.cli import main

REPO = Path(__file__).resolve().parents[1]
#: CI checks out ../shared beside the repository.
SHARED = REPO.parent / "shared"
SCHEMAS = SHARED / "ddi-schemas"
EXAMPLES = SHARED / "ddi-examples"


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    """The official DDI-L XSDs (3.2/ and 3.3/)."""
    if not (SCHEMAS / "3.3" / "instance.xsd").is_file():
        pytest.fail(f"the official DDI-L schemas are missing: expected them in {SCHEMAS}")
    return SCHEMAS


@pytest.fixture
def xsd_compilations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The XSDs compiled in this process during the test (lxml's ``XMLSchema`` calls)."""
    compiled: list[object] = []
    real = etree.XMLSchema

    def counting(*args: Any, **kwargs: Any) -> etree.XMLSchema:
        compiled.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(etree, "XMLSchema", counting)
    return compiled


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """Real DDI-L 3.2/3.3 files from other producers, with EXPECTED.tsv."""
    if not (EXAMPLES / "EXPECTED.tsv").is_file():
        pytest.fail(f"the DDI-L examples are missing: expected them in {EXAMPLES}")
    return EXAMPLES


# -- the example files and the verdicts of EXPECTED.tsv -------------------------------------

_FIRST_ERROR = re.compile(r"^(\d+) errors; first: line (\d+): (.*)$")


@dataclass(frozen=True)
class Example:
    """One row of EXPECTED.tsv: the official XSD's verdict on one example file."""

    path: Path
    ddi_version: str
    root: str
    valid: bool
    error_count: int
    first_error_line: int | None
    first_error: str

    @property
    def name(self) -> str:
        return self.path.name


def read_expected() -> list[Example]:
    rows = []
    with (EXAMPLES / "EXPECTED.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            match = _FIRST_ERROR.match(row["first_error"] or "")
            rows.append(Example(
                path=EXAMPLES / row["file"], ddi_version=row["ddi_version"], root=row["root"],
                valid=row["verdict"] == "valid",
                error_count=int(match.group(1)) if match else 0,
                first_error_line=int(match.group(2)) if match else None,
                first_error=match.group(3) if match else ""))
    return rows


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for ``example`` runs once per row of EXPECTED.tsv."""
    if "example" in metafunc.fixturenames:
        rows = read_expected() if (EXAMPLES / "EXPECTED.tsv").is_file() else []
        metafunc.parametrize("example", rows, ids=[r.name for r in rows])


# -- the CLI, in-process -------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


CliRunner = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _own_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads or writes the developer's catalogue (``var/``), or their cache (the
    XSD's element sets)."""
    monkeypatch.setenv("CATALOGUE_DATA_DIR", str(tmp_path / "catalogue-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, not yet created, catalogue data directory."""
    return tmp_path / "data"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], schema_dir: Path,
        data_dir: Path) -> CliRunner:
    """``cli("validate", path, ...)`` runs ``catalogue`` in-process with
    CATALOGUE_DDI_SCHEMAS and CATALOGUE_DATA_DIR set, and returns its exit code and
    output. ``data=`` and ``schemas=`` change them for one call (``schemas=""`` leaves
    the setting empty)."""

    def run(*args: str | Path, data: Path | None = None,
            schemas: str | Path | None = None) -> CliResult:
        monkeypatch.setenv("CATALOGUE_DDI_SCHEMAS", str(schema_dir if schemas is None
                                                        else schemas))
        monkeypatch.setenv("CATALOGUE_DATA_DIR", str(data or data_dir))
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


#: ``validate_in_new_process(preamble, path)``: see the fixture.
NewProcessValidate = Callable[[str, Path], "subprocess.CompletedProcess[str]"]


@pytest.fixture
def validate_in_new_process(schema_dir: Path, tmp_path: Path) -> NewProcessValidate:
    """Runs ``catalogue validate PATH`` in a new interpreter, as a user does, after the
    Python code ``preamble`` (which may hook what the command does, printing to stderr),
    and returns the finished process with its output as text."""

    def run(preamble: str, path: Path) -> subprocess.CompletedProcess[str]:
        code = (preamble + "from catalogue.cli import main\n"
                "sys.exit(main(['validate', sys.argv[1]]))\n")
        env = {"CATALOGUE_DDI_SCHEMAS": str(schema_dir), "CATALOGUE_DATA_DIR": str(tmp_path),
               "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"], "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, env=env, check=False)

    return run


# -- small DDI-L 3.3 documents -------------------------------------------------------------

NAMESPACES_33 = {
    "ddi": "ddi:instance:3_3", "r": "ddi:reusable:3_3", "g": "ddi:group:3_3",
    "d": "ddi:datacollection:3_3", "l": "ddi:logicalproduct:3_3",
}


class SmallDDI:
    """Writes small DDI-L 3.3 documents (a DDIInstance holding one ResourcePackage),
    valid against the official XSD, whose every identity and reference the test chooses.
    Items are XML strings, one line each; schemes go in the ResourcePackage in XSD order
    (questions, categories, code lists, variables)."""

    def __init__(self, directory: Path, agency: str = "fr.test") -> None:
        self.directory = directory
        self.agency = agency

    def identity(self, id_: str, version: str = "1") -> str:
        return (f"<r:Agency>{self.agency}</r:Agency><r:ID>{id_}</r:ID>"
                f"<r:Version>{version}</r:Version>")

    def reference(self, element: str, id_: str, version: str, type_of_object: str) -> str:
        return (f"<{element}>{self.identity(id_, version)}"
                f"<r:TypeOfObject>{type_of_object}</r:TypeOfObject></{element}>")

    @staticmethod
    def _contents(tag: str, texts: dict[str, str]) -> str:
        return "".join(f'<{tag} xml:lang="{lang}">{text}</{tag}>' for lang, text in texts.items())

    def variable(self, id_: str, name: str, labels: dict[str, str], *, version: str = "1",
                 question: tuple[str, str] | None = None,
                 code_list: tuple[str, str] | None = None) -> str:
        """``question`` and ``code_list`` are (ID, version) of the items referenced."""
        parts = [f"<l:Variable>{self.identity(id_, version)}",
                 f"<l:VariableName><r:String>{name}</r:String></l:VariableName>"]
        if labels:
            parts.append(f"<r:Label>{self._contents('r:Content', labels)}</r:Label>")
        if question:
            parts.append(self.reference("r:QuestionReference", *question, "QuestionItem"))
        if code_list:
            parts.append("<l:VariableRepresentation><r:CodeRepresentation>"
                         + self.reference("r:CodeListReference", *code_list, "CodeList")
                         + "</r:CodeRepresentation></l:VariableRepresentation>")
        return "".join(parts) + "</l:Variable>"

    def question(self, id_: str, texts: dict[str, str], *, version: str = "1") -> str:
        literal = "".join(
            f'<d:QuestionText audienceLanguage="{lang}"><d:LiteralText>'
            f'<d:Text xml:lang="{lang}">{text}</d:Text></d:LiteralText></d:QuestionText>'
            for lang, text in texts.items())
        return (f"<d:QuestionItem>{self.identity(id_, version)}"
                f"<d:QuestionItemName><r:String>{id_}</r:String></d:QuestionItemName>"
                f"{literal}<d:TextDomain/></d:QuestionItem>")

    def category(self, id_: str, labels: dict[str, str], *, version: str = "1") -> str:
        return (f"<l:Category>{self.identity(id_, version)}"
                f"<r:Label>{self._contents('r:Content', labels)}</r:Label></l:Category>")

    def code_list(self, id_: str, codes: list[tuple[str, str]], *, version: str = "1") -> str:
        """``codes``: (value, category ID) pairs, in order; categories of version 1."""
        body = "".join(
            f"<l:Code>{self.identity(f'{id_}-{value}', version)}"
            f"{self.reference('r:CategoryReference', category, '1', 'Category')}"
            f"<r:Value>{value}</r:Value></l:Code>" for value, category in codes)
        return f"<l:CodeList>{self.identity(id_, version)}{body}</l:CodeList>"

    def scheme(self, element: str, id_: str, *items: str, version: str = "1") -> str:
        """``element`` such as ``l:VariableScheme``."""
        body = "\n".join(items)
        return f"<{element}>{self.identity(id_, version)}\n{body}\n</{element}>"

    def document(self, *schemes: str, id_: str = "publication", version: str = "1") -> str:
        xmlns = " ".join(f'xmlns:{p}="{uri}"' for p, uri in NAMESPACES_33.items())
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ddi:DDIInstance {xmlns}>\n'
                f"{self.identity(id_, version)}\n<g:ResourcePackage>"
                f"{self.identity(id_ + '-resources', version)}\n"
                + "\n".join(schemes) + "\n</g:ResourcePackage>\n</ddi:DDIInstance>\n")

    def write(self, name: str, *schemes: str, id_: str = "publication",
              version: str = "1") -> Path:
        path = self.directory / name
        path.write_text(self.document(*schemes, id_=id_, version=version), encoding="utf-8")
        return path


@pytest.fixture
def ddi(tmp_path: Path) -> SmallDDI:
    directory = tmp_path / "ddi"
    directory.mkdir()
    return SmallDDI(directory)


LargeWriter = Callable[[Path, int], int]


@pytest.fixture(scope="session")
def write_large_ddi() -> LargeWriter:
    """``write_large_ddi(path, variables) -> bytes written``: bench/ingest.py's generator
    of schema-valid DDI-L 3.3 publications, streamed to disk (about 2.5 kB a variable,
    each with its question, code list and bilingual labels; agency ``fr.bench``, items
    ``v0``, ``q0``, ``cl0``...)."""
    spec = importlib.util.spec_from_file_location("bench_ingest", REPO / "bench" / "ingest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    writer: LargeWriter = module.write_publication
    return writer
