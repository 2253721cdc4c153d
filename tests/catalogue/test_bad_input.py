"""Input the catalogue must refuse safely, or accept with a clear report: broken XML,
other namespaces, entities, huge files, dangling and repeated identities, conflicts with
what is published, and a publish killed midway."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import catalogue.store
from catalogue.store import Store

if TYPE_CHECKING:
    from conftest import CliResult, CliRunner, LargeWriter, SmallDDI

DDI33 = 'xmlns:ddi="ddi:instance:3_3"'


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_refused(result: CliResult, *phrases: str) -> None:
    """Exit 2, no traceback, and the message says what is wrong."""
    assert result.code == 2, result.out + result.err
    text = result.out + result.err
    assert "Traceback" not in text
    for phrase in phrases:
        assert phrase in text, text


def catalogue_env(schema_dir: Path, data_dir: Path) -> dict[str, str]:
    return dict(os.environ, CATALOGUE_DDI_SCHEMAS=str(schema_dir),
                CATALOGUE_DATA_DIR=str(data_dir))


# -- not DDI-L, or not safe ---------------------------------------------------------------


def test_malformed_xml_is_located(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "malformed.xml",
                 f'<?xml version="1.0"?>\n<ddi:DDIInstance {DDI33}>\n  <open>\n'
                 "</ddi:DDIInstance>\n")
    for command in ("validate", "publish"):
        result = cli(command, path)
        assert_refused(result, str(path), "line 4", "not well-formed")
        column = re.search(r"line 4, column (\d+)", result.out + result.err)
        assert column, result.out + result.err
        assert 1 <= int(column.group(1)) <= len("</ddi:DDIInstance>") + 1
    assert cli("list", "--json").json() == []


def test_a_file_in_another_namespace_is_not_ddi(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "dc.xml", '<?xml version="1.0"?>\n'
                 '<record xmlns="http://purl.org/dc/elements/1.1/"><title>x</title></record>\n')
    assert_refused(cli("validate", path), "not a DDI-Lifecycle document",
                   "http://purl.org/dc/elements/1.1/")
    assert_refused(cli("publish", path), "http://purl.org/dc/elements/1.1/")


@pytest.mark.parametrize("content, phrase", [
    (b"", "the file is empty"),
    (b"   \n\t\n  \n", "no XML content"),
    (b"\xef\xbb\xbf", "no XML content"),
])
def test_empty_and_blank_files_are_refused(cli: CliRunner, tmp_path: Path, content: bytes,
                                           phrase: str) -> None:
    path = write(tmp_path, "blank.xml", content)
    result = cli("validate", "--format", "json", path)
    assert_refused(result, phrase)
    [report] = result.json_lines()
    assert report["valid"] is False and report["errors"][0]["severity"] == "error"


BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ddi:DDIInstance {DDI33} xmlns:r="ddi:reusable:3_3">
  <r:Agency>&lol9;</r:Agency><r:ID>x</r:ID><r:Version>1</r:Version>
</ddi:DDIInstance>
"""


def test_entity_declarations_are_refused_unexpanded(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "laughs.xml", BILLION_LAUGHS)
    started = time.monotonic()
    for command in ("validate", "publish"):
        result = cli(command, path)
        assert_refused(result, "DOCTYPE", "declares entities", "Remove the DOCTYPE")
        assert "lollollol" not in result.out + result.err
    assert time.monotonic() - started < 30
    assert cli("list", "--json").json() == []


def _passwd_line() -> str:
    text = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace")
    return next(line for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("doctype, agency", [
    ('<!DOCTYPE ddi:DDIInstance SYSTEM "file:///etc/passwd">', "fr.test"),
    ('<!DOCTYPE ddi:DDIInstance [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>', "&xxe;"),
    ('<!DOCTYPE ddi:DDIInstance PUBLIC "-//x//y" "http://127.0.0.1:9/evil.dtd">', "fr.test"),
])
def test_external_dtds_and_entities_are_never_read(cli: CliRunner, tmp_path: Path,
                                                   doctype: str, agency: str) -> None:
    secret = _passwd_line()
    path = write(tmp_path, "xxe.xml",
                 f'<?xml version="1.0"?>\n{doctype}\n'
                 f'<ddi:DDIInstance {DDI33} xmlns:r="ddi:reusable:3_3"><r:Agency>{agency}'
                 "</r:Agency><r:ID>x</r:ID><r:Version>1</r:Version></ddi:DDIInstance>\n")
    for args in (("validate", path), ("validate", "--format", "json", path), ("publish", path)):
        result = cli(*args)
        assert_refused(result, "refused: the DOCTYPE")
        assert secret not in result.out + result.err
    assert cli("list", "--json").json() == []


def test_ddi_lifecycle_3_1_is_not_supported(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "old.xml",
                 '<?xml version="1.0"?>\n<DDIInstance xmlns="ddi:instance:3_1" '
                 'xmlns:r="ddi:reusable:3_1"><r:Agency>fr.test</r:Agency></DDIInstance>\n')
    assert_refused(cli("validate", path), "DDI-Lifecycle 3.1", "not supported", "3.2 and 3.3")
    assert_refused(cli("publish", path), "not supported")


# -- a 200 MB file, in bounded memory -------------------------------------------------------

#: Runs a command and prints its exit code and the peak RSS (KiB) of its process tree.
_MEASURED = ("import json, resource, subprocess, sys\n"
             "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "print(json.dumps({'code': done.returncode, 'out': done.stdout[-4000:],\n"
             "  'err': done.stderr[-4000:],\n"
             "  'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n")


def run_measured(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _MEASURED, *args], env=env,
                          capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_a_200_mb_file_is_validated_in_bounded_memory(tmp_path: Path, schema_dir: Path,
                                                      write_large_ddi: LargeWriter) -> None:
    path = tmp_path / "large.xml"
    size = write_large_ddi(path, 80_000)
    assert size > 200_000_000

    result = run_measured([sys.executable, "-m", "catalogue.cli", "validate", "--format", "json",
                           str(path)], catalogue_env(schema_dir, tmp_path / "data"))

    assert result["code"] == 0, result["err"]
    report = json.loads(result["out"])
    assert report["valid"] is True and report["errors"] == []
    peak = result["maxrss_kb"] * 1024
    assert peak < 600 * 2**20, f"peak RSS {peak / 2**20:.0f} MB for {size / 1e6:.0f} MB of XML"


# -- references and identities ----------------------------------------------------------------


def dangling_file(ddi: SmallDDI) -> Path:
    return ddi.write("dangling.xml", ddi.scheme(
        "l:VariableScheme", "vs",
        ddi.variable("v1", "AGE", {"fr": "Âge", "en": "Age"}, question=("q-age", "1"))))


def findings(result: CliResult, rule: str) -> list[dict[str, Any]]:
    return [e for r in result.json_lines() for e in r["errors"] if e["rule"] == rule]


def test_a_dangling_reference_is_a_warning(cli: CliRunner, ddi: SmallDDI) -> None:
    path = dangling_file(ddi)

    result = cli("validate", "--format", "json", path)
    assert result.code == 0
    [dangling] = findings(result, "reference-dangling")
    assert dangling["severity"] == "warning"
    assert "urn:ddi:fr.test:q-age:1" in dangling["message"]
    reference_line = next(n for n, line in enumerate(path.read_text().splitlines(), 1)
                          if "QuestionReference" in line)
    assert dangling["line"] == reference_line
    assert dangling["path"].endswith("/QuestionReference")

    assert cli("validate", "--strict", path).code == 1
    assert cli("publish", path).code == 0


def test_a_reference_resolves_once_its_target_is_published(cli: CliRunner,
                                                           ddi: SmallDDI) -> None:
    path = dangling_file(ddi)
    assert cli("publish", path).code == 0
    question = ddi.write("question.xml", ddi.scheme(
        "d:QuestionScheme", "qs", ddi.question("q-age", {"fr": "Quel âge avez-vous ?"})),
        id_="questions")
    assert cli("publish", question).code == 0

    result = cli("validate", "--format", "json", "--strict", path)
    assert findings(result, "reference-dangling") == []
    assert result.code == 0


def repeated_file(ddi: SmallDDI, second_label: str) -> Path:
    return ddi.write("repeated.xml", ddi.scheme(
        "l:VariableScheme", "vs",
        ddi.variable("v1", "AGE", {"fr": "Âge"}),
        ddi.variable("v1", "AGE", {"fr": second_label})))


def test_an_identical_repeat_in_one_file_is_a_warning(cli: CliRunner, ddi: SmallDDI) -> None:
    path = repeated_file(ddi, "Âge")
    result = cli("validate", "--format", "json", path)

    assert result.code == 0
    [repeated] = findings(result, "identity-repeated")
    assert repeated["severity"] == "warning"
    assert "same content" in repeated["message"]
    assert cli("publish", path).code == 0
    [publication] = cli("list", "--json").json()
    assert publication["counts"]["variables"] == 1


def test_a_different_repeat_in_one_file_keeps_the_first(cli: CliRunner, ddi: SmallDDI) -> None:
    path = repeated_file(ddi, "Âge révolu")
    result = cli("validate", "--format", "json", path)

    assert result.code == 0
    [repeated] = findings(result, "identity-repeated")
    assert repeated["severity"] == "warning"
    assert "different content" in repeated["message"]
    variable_lines = [n for n, line in enumerate(path.read_text().splitlines(), 1)
                      if line.startswith("<l:Variable>")]
    assert repeated["line"] == variable_lines[1]

    assert cli("publish", path).code == 0
    shown = cli("show", "--json", "urn:ddi:fr.test:v1:1").json()
    assert shown["label"] == {"fr": "Âge"}


def test_in_a_batch_the_later_file_is_blamed_for_a_conflict(cli: CliRunner,
                                                             ddi: SmallDDI) -> None:
    first = ddi.write("first.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "AGE", {"fr": "Âge"})))
    second = ddi.write("second.xml", ddi.scheme(
        "l:VariableScheme", "vs2", ddi.variable("v1", "AGE", {"fr": "Âge en années"})),
        id_="other-publication")

    result = cli("publish", first, second)

    assert result.code == 1
    assert "nothing published: 1 of 2 file(s) have errors" in result.err
    verdicts = [line for line in result.err.splitlines() if line.startswith(str(ddi.directory))]
    assert [v.split(": ", 1)[1].split(" ")[0] for v in verdicts] == ["valid", "invalid"]
    assert verdicts[1].startswith(str(second))
    assert result.err.count("identity-conflict") == 1
    assert "(another file of this batch)" in result.err
    assert cli("list", "--json").json() == []

def test_other_content_under_a_published_identity_is_refused(cli: CliRunner,
                                                             ddi: SmallDDI) -> None:
    first = ddi.write("first.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "AGE", {"fr": "Âge"})))
    assert cli("publish", first).code == 0
    before = cli("list", "--json").json()
    changed = ddi.write("changed.xml", ddi.scheme(
        "l:VariableScheme", "vs2", ddi.variable("v1", "AGE", {"fr": "Âge en années"})),
        id_="other-publication")

    # validate says so before anyone tries to publish, located
    checked = cli("validate", "--format", "json", changed)
    assert checked.code == 1
    [conflict] = [f for f in checked.json()["errors"] if f["rule"] == "identity-conflict"]
    assert conflict["severity"] == "error" and "publication 1" in conflict["message"]
    assert conflict["line"] and conflict["path"] == "//Variable[@ID='v1']"
    assert "urn:ddi:fr.test:v1:1" in conflict["message"]

    result = cli("publish", changed)

    assert result.code == 1
    assert "identity-conflict" in result.err
    assert "urn:ddi:fr.test:v1:1" in result.err
    assert cli("list", "--json").json() == before
    assert cli("show", "--json", "urn:ddi:fr.test:v1:1").json()["label"] == {"fr": "Âge"}
    # the same content again is not a conflict
    again = ddi.write("again.xml", ddi.scheme(
        "l:VariableScheme", "vs2", ddi.variable("v1", "AGE", {"fr": "Âge"})),
        id_="other-publication")
    assert cli("validate", again).code == 0
    assert cli("publish", again).code == 0


def test_one_bad_file_stops_the_whole_batch(cli: CliRunner, ddi: SmallDDI, tmp_path: Path,
                                            examples_dir: Path) -> None:
    good = ddi.write("good.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "AGE", {"fr": "Âge"})))
    malformed = write(tmp_path, "malformed.xml", f"<ddi:DDIInstance {DDI33}>")
    xsd_invalid = examples_dir / "ddi-alliance-3.3" / "ArchiveExample.xml"
    conflicting = ddi.write("conflicting.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "AGE", {"fr": "Autre"})), id_="other")

    assert cli("publish", good, malformed).code == 2
    assert cli("publish", good, xsd_invalid).code == 1
    assert cli("publish", good, conflicting, "--lenient").code == 1
    assert cli("list", "--json").json() == []
    assert cli("show", "urn:ddi:fr.test:v1:1").code == 2
    assert cli("publish", good, xsd_invalid, "--lenient").code == 0
    assert len(cli("list", "--json").json()) == 2


# -- a publish killed midway --------------------------------------------------------------------


def _wait_for_writes(process: subprocess.Popen[bytes], data_dir: Path, timeout: float) -> int:
    """Wait until the publish has committed a few batches of rows of its publication (not
    yet complete, so unseen); return how many items."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("the publish ended before it could be killed midway")
        with contextlib.suppress(sqlite3.OperationalError):  # no tables yet
            with contextlib.closing(sqlite3.connect(data_dir / "catalogue.sqlite")) as db:
                (written,) = db.execute(
                    "SELECT count(*) FROM items WHERE agency = 'fr.bench'").fetchone()
            if written >= 8000:
                return int(written)
        time.sleep(0.05)
    raise AssertionError("the publish did not start writing in time")


def _writer_process_of(process: subprocess.Popen[bytes]) -> int:
    """The pid of the publish's writer process (a large batch's rows are written there)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == process.pid and b"catalogue.store.writer_process" in command:
            return int(entry.name)
    raise AssertionError("the publish has no writer process")


def _ends_within(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True  # gone
        if state == "Z":
            return True  # ended; its parent, killed, cannot reap it yet
        time.sleep(0.05)
    return False


LargePublish = tuple[list[Any], subprocess.Popen[bytes]]


@pytest.fixture
def large_publish(cli: CliRunner, ddi: SmallDDI, tmp_path: Path, data_dir: Path,
                  schema_dir: Path, write_large_ddi: LargeWriter) -> Iterator[LargePublish]:
    """After a small publication, ``catalogue publish`` of 20,000 variables in a process
    group of its own, caught writing: (the publications before it, its process). Whatever
    is left of the group is killed after the test."""
    small = ddi.write("small.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("v1", "AGE", {"fr": "Âge"})))
    assert cli("publish", small).code == 0
    before = cli("list", "--json").json()
    large = tmp_path / "large.xml"
    write_large_ddi(large, 20_000)
    process = subprocess.Popen(
        [sys.executable, "-m", "catalogue.cli", "publish", str(large)],
        env=catalogue_env(schema_dir, data_dir), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for_writes(process, data_dir, timeout=120)
        yield before, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _no_rows_left(data_dir: Path, publications: int) -> None:
    """Not a row of the killed publish is in the store, incomplete or not."""
    with contextlib.closing(sqlite3.connect(data_dir / "catalogue.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM publications").fetchone() == (publications,)
        assert db.execute("SELECT count(*) FROM items WHERE agency = 'fr.bench'"
                          ).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM edges WHERE publication_id NOT IN "
                          "(SELECT id FROM publications)").fetchone() == (0,)


def _publishes_again(cli: CliRunner, ddi: SmallDDI, data_dir: Path, before: list[Any]) -> None:
    """Nothing of the killed publish is seen, and the store takes the next one, which
    leaves no row of it (a process killed with its writer leaves them to the next)."""
    assert cli("list", "--json").json() == before
    assert cli("show", "urn:ddi:fr.bench:v0:1").code == 2
    other = ddi.write("other.xml", ddi.scheme(
        "l:VariableScheme", "vs2", ddi.variable("v2", "SEXE", {"fr": "Sexe"})), id_="other")
    assert cli("publish", other).code == 0
    assert len(cli("list", "--json").json()) == len(before) + 1
    _no_rows_left(data_dir, len(before) + 1)


@pytest.mark.slow
def test_a_publish_killed_midway_leaves_the_previous_state(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, large_publish: LargePublish) -> None:
    before, process = large_publish
    os.killpg(process.pid, signal.SIGKILL)  # the publish and its helpers (XSD, writer)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    _publishes_again(cli, ddi, data_dir, before)
    assert [p["urn"] for p in cli("list", "--json").json()] == [
        before[0]["urn"], "urn:ddi:fr.test:other:1"]
    assert cli("show", "urn:ddi:fr.test:v2:1").code == 0


@pytest.mark.slow
def test_a_publish_killed_alone_leaves_its_writer_process_to_remove_what_it_wrote(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, large_publish: LargePublish) -> None:
    before, process = large_publish
    writer = _writer_process_of(process)
    process.kill()  # the publish only: its writer process is told by its pipe
    process.communicate()
    assert _ends_within(writer, timeout=60), "the writer process outlived the publish"
    _no_rows_left(data_dir, len(before))  # the writer removed what it wrote
    _publishes_again(cli, ddi, data_dir, before)


@pytest.mark.slow
def test_a_writer_process_killed_midway_fails_the_publish_cleanly(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, large_publish: LargePublish) -> None:
    before, process = large_publish
    os.kill(_writer_process_of(process), signal.SIGKILL)
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert ("nothing published: the store's writer stopped (killed by signal 9)"
            in err.decode())
    assert b"Traceback" not in err
    _no_rows_left(data_dir, len(before))  # the publish removed what the writer wrote
    _publishes_again(cli, ddi, data_dir, before)


@pytest.mark.slow
def test_other_writes_go_on_while_a_large_publication_is_written(
        data_dir: Path, large_publish: LargePublish, monkeypatch: pytest.MonkeyPatch) -> None:
    # A visitor signing up (a row) while 20,000 variables are being stored: its write is
    # not held until the publication's end (with a 2 s busy timeout it would fail), and
    # the publication goes on to its end.
    before, process = large_publish
    monkeypatch.setattr(catalogue.store, "BUSY_TIMEOUT_SECONDS", 2.0)
    store = Store(f"sqlite:///{data_dir / 'catalogue.sqlite'}")
    try:
        for n in range(3):
            store.add_user(email=f"visitor{n}@example.org", email_key=f"visitor{n}@example.org",
                           name="Visitor", affiliation="", password_hash=None, lang="fr",
                           created_at="2026-11-23T00:00:00Z", confirmed_at=None)
            time.sleep(0.2)
        assert store.user_by_email("visitor2@example.org") is not None
        assert len(store.list_publications()) == len(before), (
            "the publication was complete before the writes were tried")
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
        assert len(store.list_publications()) == len(before) + 1
    finally:
        store.close()
