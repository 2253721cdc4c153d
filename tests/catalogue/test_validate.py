"""``catalogue validate`` gives every example file the official XSD's verdict, located,
in the stable JSON shape scripts rely on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalogue.validation import validate_paths
from ddi_schemas.inspect import ParsedTree
from ddi_schemas.worker import PARALLEL_BYTES

if TYPE_CHECKING:
    from conftest import CliRunner, Example, LargeWriter, NewProcessValidate

FILE_KEYS = {"file", "ddi_version", "valid", "errors"}
ERROR_KEYS = {"severity", "rule", "line", "column", "path", "message"}


def xsd_errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in report["errors"] if e["rule"] == "XSD"]


def element_of(message: str) -> str:
    """The local name of the element an XSD message is about: ``Element
    '{ddi:reusable:3_3}OtherMaterial': ...`` -> ``OtherMaterial`` (the catalogue writes
    ``r:OtherMaterial``; either way the local name is there)."""
    match = re.match(r"Element '(?:\{[^}]*\}|[\w.-]+:)?([\w.-]+)'", message)
    assert match, message
    return match.group(1)


def test_each_example_gets_the_official_verdict(cli: CliRunner, example: Example) -> None:
    result = cli("validate", "--format", "json", example.path)

    assert result.code == (0 if example.valid else 1), result.out + result.err
    [report] = result.json_lines()
    assert report["file"] == str(example.path)
    assert report["ddi_version"] == example.ddi_version
    assert report["valid"] is example.valid
    errors = xsd_errors(report)
    assert len(errors) == example.error_count
    if not example.valid:
        first = errors[0]
        assert first["line"] == example.first_error_line
        assert element_of(first["message"]) == element_of(example.first_error)
        assert all(e["severity"] == "error" for e in errors)
    # profile findings never make a file invalid by themselves on these files
    assert all(e["severity"] == "warning" for e in report["errors"] if e["rule"] != "XSD")


def test_the_json_report_has_a_fixed_shape(cli: CliRunner, examples_dir: Path) -> None:
    result = cli("validate", "--format", "json", examples_dir)

    reports = result.json_lines()
    files = sorted(examples_dir.rglob("*.xml"))
    assert [r["file"] for r in reports] == [str(f) for f in files]
    assert result.code == 1  # some examples break the official XSD
    for report in reports:
        assert set(report) == FILE_KEYS
        assert isinstance(report["valid"], bool)
        for error in report["errors"]:
            assert set(error) - {"expected"} == ERROR_KEYS
            assert error["severity"] in ("error", "warning")
            assert isinstance(error["message"], str) and error["message"]
            assert error["line"] is None or error["line"] >= 1
            assert error["column"] is None or error["column"] >= 1
            if "expected" in error:
                assert error["expected"] and all(isinstance(x, str) for x in error["expected"])


def test_xsd_errors_are_located_with_column_path_and_expected_elements(
        cli: CliRunner, examples_dir: Path) -> None:
    path = examples_dir / "ddi-alliance-3.3" / "Example_QuestionnaireDevelopment.xml"
    [report] = cli("validate", "--format", "json", path).json_lines()

    [error] = xsd_errors(report)
    line = path.read_text(encoding="utf-8-sig").splitlines()[error["line"] - 1]
    # the column points at the start tag of the element the message is about
    assert line[error["column"] - 1:].startswith("<d:QuestionnaireDevelopment")
    assert error["path"].endswith("/QuestionnaireDevelopment")
    assert "r:UserID" in error["expected"]


def test_the_text_report_has_a_verdict_and_one_line_per_finding(
        cli: CliRunner, example: Example) -> None:
    result = cli("validate", example.path)

    lines = result.out.splitlines()
    verdict = "valid" if example.valid else "invalid"
    assert lines[0].startswith(f"{example.path}: {verdict} (DDI-L {example.ddi_version}, "
                               f"<{example.root}>): {example.error_count} error")
    located = [line for line in lines if "error [XSD]" in line]
    assert len(located) == example.error_count
    if located:
        assert located[0].lstrip().startswith(f"line {example.first_error_line}")


def test_validate_paths_reports_every_file_of_a_batch(examples_dir: Path, schema_dir: Path,
                                                      tmp_path: Path) -> None:
    valid = examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml"
    invalid = examples_dir / "ddi-alliance-3.3" / "ArchiveExample.xml"
    broken = tmp_path / "broken.xml"
    broken.write_text("<ddi:DDIInstance xmlns:ddi='ddi:instance:3_3'>", encoding="utf-8")

    reports = validate_paths([valid, invalid, broken], schema_dir)

    assert [(r.file, r.valid, r.unusable is None) for r in reports] == [
        (str(valid), True, True), (str(invalid), False, True), (str(broken), False, False)]


def test_usage_errors_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("validate").code == 2
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    result = cli("validate", empty_dir)
    assert result.code == 2
    assert "no file to validate" in result.err
    missing = cli("validate", tmp_path / "missing.xml")
    assert missing.code == 2
    assert "cannot read the file" in missing.out


def test_a_file_parsed_early_is_read_from_that_tree(
        examples_dir: Path, schema_dir: Path, tmp_path: Path) -> None:
    good = examples_dir / "ddi-alliance-3.3" / "ArchiveExample.xml"
    text = good.read_text(encoding="utf-8")
    cut = tmp_path / "cut.xml"
    cut.write_text(text[:len(text) // 2], encoding="utf-8")
    asked: list[Path] = []

    class Spy(ParsedTree):
        def tree(self) -> Any:
            asked.append(self.path)
            return super().tree()

    for path in (good, cut):
        [early] = validate_paths([path], schema_dir, parsed={path: Spy(path)})
        [usual] = validate_paths([path], schema_dir)
        assert early.to_json() == usual.to_json()
    assert asked == [good, cut]
    assert early.unusable and "line" in early.unusable  # located, as without the tree


def test_catalogue_validate_parses_a_larger_file_before_loading_the_reader(
        tmp_path: Path, write_large_ddi: LargeWriter,
        validate_in_new_process: NewProcessValidate) -> None:
    # Too large for an XSD helper started early, the file is parsed while this process
    # imports the reader and the profile rules.
    path = tmp_path / "larger.xml"
    assert write_large_ddi(path, 1_800) > PARALLEL_BYTES
    result = validate_in_new_process(
        "import sys, threading\n"
        "real = threading.Thread.start\n"
        "def start(self):\n"
        "    if self.name == 'catalogue-parse':\n"
        "        print('reader loaded' if 'catalogue.reader' in sys.modules\n"
        "              else 'reader not loaded', file=sys.stderr)\n"
        "    real(self)\n"
        "threading.Thread.start = start\n"
        "from ddi_schemas.inspect import ParsedTree\n"
        "tree = ParsedTree.tree\n"
        "def used(self):\n"
        "    print('tree used', file=sys.stderr)\n"
        "    return tree(self)\n"
        "ParsedTree.tree = used\n", path)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["reader not loaded", "tree used"]
    assert ": valid (DDI-L 3.3" in result.stdout
