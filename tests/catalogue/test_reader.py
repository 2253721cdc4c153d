"""``DocumentReader`` turns DDI-L into the model: every field checked on a small document
written here, the XML of each item kept, facts-only reading, and bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lxml import etree

from catalogue import reader as reader_module
from catalogue.model import AnyItem, Identity, Reference
from catalogue.reader import DocumentReader, ReadItem
from catalogue.validation import validate_paths
from ddi_schemas.inspect import inspect_document
from ddi_schemas.profile import ProfileChecker
from ddi_schemas.registry import load_schema

if TYPE_CHECKING:
    from conftest import LargeWriter, SmallDDI


def read(path: Path, schema_dir: Path, **options: object) -> list[ReadItem]:
    info = inspect_document(path)
    reader = DocumentReader(info, load_schema(info.ddi_version, schema_dir),
                            **options)  # type: ignore[arg-type]
    return list(reader)


def by_id(reads: list[ReadItem]) -> dict[str, AnyItem]:
    return {r.item.identity.id: r.item for r in reads}


@pytest.fixture
def smoking(ddi: SmallDDI) -> Path:
    return ddi.write(
        "smoking.xml",
        ddi.scheme("d:QuestionScheme", "qs", ddi.question(
            "q-smoke", {"fr": "Fumez-vous actuellement ?", "en": "Do you currently smoke?"})),
        ddi.scheme("l:CategoryScheme", "cs",
                   ddi.category("yes", {"fr": "Oui", "en": "Yes"}),
                   ddi.category("no", {"fr": "Non", "en": "No"})),
        ddi.scheme("l:CodeListScheme", "cls",
                   ddi.code_list("yes-no", [("1", "yes"), ("2", "no")])),
        ddi.scheme("l:VariableScheme", "vs",
                   ddi.variable("smoker", "FUMEUR", {"fr": "Fumeur actuel", "en": "Current smoker"},
                                question=("q-smoke", "1"), code_list=("yes-no", "1"))),
        id_="smoking")


def test_a_variable_is_read_with_everything_it_says(smoking: Path, schema_dir: Path) -> None:
    items = by_id(read(smoking, schema_dir))

    variable = items["smoker"]
    assert variable.kind == "Variable"
    assert variable.identity == Identity("fr.test", "smoker", "1")
    assert variable.name == "FUMEUR"
    assert variable.label.values == (("fr", "Fumeur actuel"), ("en", "Current smoker"))
    assert variable.refs("question") == (
        Reference("fr.test", "q-smoke", "1", "question", "QuestionItem"),)
    assert variable.representation.kind == "code"  # type: ignore[union-attr]
    assert variable.representation.code_list == Reference(  # type: ignore[union-attr]
        "fr.test", "yes-no", "1", "code_list", "CodeList")
    assert variable.parent == Identity("fr.test", "vs", "1")
    line = next(n for n, text in enumerate(smoking.read_text().splitlines(), 1)
                if text.startswith("<l:Variable>"))
    assert variable.location is not None and variable.location.line == line


def test_questions_code_lists_and_categories(smoking: Path, schema_dir: Path) -> None:
    items = by_id(read(smoking, schema_dir))

    question = items["q-smoke"]
    assert question.kind == "Question" and question.name == "q-smoke"
    assert question.text.values == (  # type: ignore[union-attr]
        ("fr", "Fumez-vous actuellement ?"), ("en", "Do you currently smoke?"))
    assert question.response_kind == "text"  # type: ignore[union-attr]

    code_list = items["yes-no"]
    codes = code_list.codes  # type: ignore[union-attr]
    assert [(c.value, [r.id for r in c.refs("category")]) for c in codes] == [
        ("1", ["yes"]), ("2", ["no"])]
    # codes are items of their own too, inside their code list
    assert items["yes-no-1"].kind == "Code"
    assert items["yes-no-1"].parent == code_list.identity
    assert items["no"].label.get("en") == "No"


def test_nested_identifiables_are_not_versionable(smoking: Path, schema_dir: Path) -> None:
    reads = {r.item.identity.id: r for r in read(smoking, schema_dir)}
    assert reads["yes-no-1"].versionable is False
    assert reads["yes-no"].versionable is True
    assert reads["smoker"].versionable is True


def test_each_item_keeps_its_xml_without_the_items_inside_it(smoking: Path,
                                                              schema_dir: Path) -> None:
    reads = {r.item.identity.id: r for r in read(smoking, schema_dir, keep_xml=True)}

    variable_xml = reads["smoker"].xml
    assert variable_xml is not None
    variable = etree.fromstring(variable_xml)
    assert etree.QName(variable).localname == "Variable"
    assert variable.findtext("{*}VariableName/{*}String") == "FUMEUR"

    scheme_xml = reads["vs"].xml
    assert scheme_xml is not None
    scheme = etree.fromstring(scheme_xml)
    assert scheme.findtext("{*}ID") == "vs"
    assert scheme.find("{*}Variable") is None  # published as an item of its own
    assert read(smoking, schema_dir)[0].xml is None  # only kept when asked for


def test_facts_mode_checks_without_building_items(ddi: SmallDDI, schema_dir: Path) -> None:
    path = ddi.write("dangling.xml", ddi.scheme(
        "l:VariableScheme", "vs",
        ddi.variable("v1", "", {}, question=("missing", "1"))))
    info = inspect_document(path)
    checker = ProfileChecker()
    reader = DocumentReader(info, load_schema("3.3", schema_dir), checker, mode="facts")

    assert list(reader) == []

    rules = sorted(f.rule for f in checker.finish())
    assert rules == ["reference-dangling", "variable-label", "variable-name"]



def test_facts_mode_walks_a_small_file_parsed_whole(
        ddi: SmallDDI, schema_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsed whole then walked: faster than the stream; publishing keeps to the stream.
    path = ddi.write("small.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "V1", {"fr": "Âge"})))
    info, schema = inspect_document(path), load_schema("3.3", schema_dir)

    def streamed(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed as a stream")

    monkeypatch.setattr(reader_module.etree, "iterparse", streamed)
    assert list(DocumentReader(info, schema, ProfileChecker(), mode="facts")) == []
    with pytest.raises(AssertionError, match="parsed as a stream"):
        list(DocumentReader(info, schema, mode="model"))


def test_walking_a_tree_finds_what_the_stream_finds(
        examples_dir: Path, schema_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every fact, in order (an element the walk skipped would often add no finding).
    facts: list[tuple[str, tuple[object, ...]]] = []

    def recorded(name: str) -> Any:
        real = getattr(ProfileChecker, name)

        def recording(self: ProfileChecker, *args: Any, **kwargs: Any) -> Any:
            facts.append((name, tuple(a for a in args if not callable(a))))
            return real(self, *args, **kwargs)
        return recording

    for name in ("identity", "reference", "variable", "language", "date"):
        monkeypatch.setattr(ProfileChecker, name, recorded(name))
    files = sorted(p for p in examples_dir.rglob("*.xml"))

    walked = [r.to_json() for r in validate_paths(files, schema_dir)]
    walked_facts = facts[:]
    facts.clear()
    monkeypatch.setattr(reader_module, "TREE_BYTES", 0)  # every file streamed
    streamed = [r.to_json() for r in validate_paths(files, schema_dir)]

    assert walked == streamed
    assert walked_facts == facts
    assert sum(len(r["errors"]) for r in walked) > 100  # findings of every kind to compare
    assert len(facts) > 10_000


@pytest.mark.parametrize("mode", ["facts", "model"])
def test_an_unknown_access_level_reads_as_casd_with_a_warning(
        ddi: SmallDDI, schema_dir: Path, mode: str) -> None:
    def with_access(variable: str, value: str) -> str:
        pair = ("<r:UserAttributePair><r:AttributeKey>catalogue:access</r:AttributeKey>"
                f"<r:AttributeValue>{value}</r:AttributeValue></r:UserAttributePair>")
        return variable.replace("</r:Version>", "</r:Version>" + pair, 1)

    path = ddi.write("access.xml", ddi.scheme(
        "l:VariableScheme", "vs",
        with_access(ddi.variable("v1", "A", {"en": "A"}), "closed"),
        with_access(ddi.variable("v2", "B", {"en": "B"}), " CASD "),
        ddi.variable("v3", "C", {"en": "C"})))
    checker = ProfileChecker()
    reader = DocumentReader(inspect_document(path), load_schema("3.3", schema_dir), checker,
                            mode=mode)  # type: ignore[arg-type]
    items = {r.item.identity.id: r.item for r in reader}
    findings = [f for f in checker.finish() if f.rule == "access-value"]
    assert len(findings) == 1 and "'closed'" in findings[0].message
    assert findings[0].severity == "warning" and findings[0].line
    if mode == "model":
        access = {k: getattr(v, "access", None) for k, v in items.items()}
        assert (access["v1"], access["v2"], access["v3"]) == ("casd", "casd", "open")

#: Reads a file (``reader``: through DocumentReader; ``tree``: lxml.etree.parse whole) and
#: prints the item count and peak RSS. VmHWM, not getrusage: a child's ru_maxrss also
#: counts the process it was forked from (pytest, grown by the tests before this one).
_READ_AND_MEASURE = r"""
import json, re, sys
from pathlib import Path

mode, path, schemas = sys.argv[1:]
count = 0
if mode == "reader":
    from catalogue.reader import DocumentReader
    from ddi_schemas.inspect import inspect_document
    from ddi_schemas.registry import load_schema

    info = inspect_document(Path(path))
    reader = DocumentReader(info, load_schema("3.3", Path(schemas)), keep_xml=True)
    count = sum(1 for _ in reader)
else:
    from lxml import etree

    etree.parse(path)
with open("/proc/self/status") as status:
    peak_kb = int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))
print(json.dumps({"items": count, "peak_kb": peak_kb}))
"""


def read_and_measure(mode: str, path: Path, schema_dir: Path) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", _READ_AND_MEASURE, mode, str(path),
                           str(schema_dir)], capture_output=True, text=True, check=True,
                          timeout=600)
    result: dict[str, int] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_reading_keeps_memory_bounded(tmp_path: Path, schema_dir: Path,
                                      write_large_ddi: LargeWriter) -> None:
    path = tmp_path / "large.xml"
    assert write_large_ddi(path, 8_000) > 20_000_000

    streamed = read_and_measure("reader", path, schema_dir)
    whole_tree = read_and_measure("tree", path, schema_dir)

    # 8,000 variables, questions and code lists, 24,000 codes, 2,400 categories, and the
    # instance, its resource package and four schemes
    assert streamed["items"] == 8_000 * 3 + 24_000 + 2_400 + 6
    assert streamed["peak_kb"] < 100 * 1024
    assert streamed["peak_kb"] < whole_tree["peak_kb"] / 2
