"""XSD validation beside the reading: a thread for a small file, a helper process for a
large one, and the helper of a command's first file started before anything else loads."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from catalogue import xsd_runner
from catalogue.validation import validate_paths
from catalogue.xsd_runner import XsdRunner
from ddi_schemas import registry, worker
from ddi_schemas.profile import ProfileChecker
from ddi_schemas.registry import load_schema
from ddi_schemas.worker import start_early

if TYPE_CHECKING:
    from conftest import NewProcessValidate


@pytest.fixture
def invalid(examples_dir: Path) -> Path:
    """A readable file that breaks the XSD."""
    return examples_dir / "ddi-alliance-3.3" / "ArchiveExample.xml"


@pytest.fixture
def fresh_schemas(schema_dir: Path, tmp_path: Path) -> Path:
    """A copy of the 3.3 schemas: a schema this process has not compiled yet."""
    schemas = tmp_path / "schemas"
    shutil.copytree(schema_dir / "3.3", schemas / "3.3")
    return schemas


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The helpers started during the test, forked or new processes."""
    started: list[Any] = []

    def recording(real: Any) -> Any:
        def start(*args: Any) -> Any:
            helper = real(*args)
            if helper is not None:
                started.append(helper)
            return helper
        return start

    for module, name in ((worker, "fork"), (worker, "spawn"), (xsd_runner, "spawn")):
        monkeypatch.setattr(module, name, recording(getattr(module, name)))
    return started


def assert_only_xsd_errors(report: Any) -> None:
    assert not report.valid and report.unusable is None
    assert [f.rule for f in report.errors] == ["XSD"] * len(report.errors) != []


def test_a_small_file_is_checked_against_the_xsd_while_it_is_read(
        invalid: Path, schema_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reading waits for the XSD validation to start: validated after the reading
    # (as small files used to be), it never would.
    validating = threading.Event()
    threads: list[threading.Thread] = []
    real_validate, real_identity = xsd_runner.validate_xsd, ProfileChecker.identity

    def validate_xsd(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        validating.set()
        return real_validate(*args, **kwargs)

    def identity(self: ProfileChecker, *args: Any, **kwargs: Any) -> None:
        assert validating.wait(timeout=10), "no XSD validation under way while reading"
        real_identity(self, *args, **kwargs)

    monkeypatch.setattr(xsd_runner, "validate_xsd", validate_xsd)
    monkeypatch.setattr(ProfileChecker, "identity", identity)

    [report] = validate_paths([invalid], schema_dir)

    assert threads and threads[0] is not threading.current_thread()
    assert_only_xsd_errors(report)


def test_a_failure_of_the_xsd_thread_reaches_the_caller(
        examples_dir: Path, schema_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def validate_xsd(*_args: Any, **_kwargs: Any) -> Any:
        raise MemoryError("no room for the tree")

    monkeypatch.setattr(xsd_runner, "validate_xsd", validate_xsd)

    with pytest.raises(MemoryError, match="no room for the tree"):
        validate_paths([examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml"],
                       schema_dir)


def test_a_large_file_is_validated_by_a_helper_without_compiling_the_xsd_here(
        invalid: Path, fresh_schemas: Path, monkeypatch: pytest.MonkeyPatch,
        xsd_compilations: list[object], helpers: list[Any]) -> None:
    monkeypatch.setattr(xsd_runner, "PARALLEL_BYTES", 0)  # every file is "large" here

    [report] = validate_paths([invalid], fresh_schemas)

    assert_only_xsd_errors(report)
    assert len(helpers) == 1 and xsd_compilations == []


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new ``catalogue`` process: no XSD compiled yet."""
    monkeypatch.setattr(registry, "compiled_any", lambda: False)


def test_a_helper_started_early_validates_the_file_when_its_turn_comes(
        invalid: Path, fresh_schemas: Path, fresh_process: None,
        xsd_compilations: list[object], helpers: list[Any]) -> None:
    early = start_early(invalid, fresh_schemas)  # a small file: a thread otherwise
    assert early is not None and helpers == [early]
    with XsdRunner(fresh_schemas, {invalid: early}) as runner:
        [report] = validate_paths([invalid], fresh_schemas, runner=runner)

    assert_only_xsd_errors(report)
    assert helpers == [early] and xsd_compilations == []  # that helper, no other, no thread
    assert early.returncode == 0


@pytest.mark.parametrize(("system", "threads", "forked"), [
    ("linux", 1, True), ("linux", 2, False), ("darwin", 1, False)])
def test_the_early_helper_is_forked_where_that_is_safe(
        system: str, threads: int, forked: bool, invalid: Path, fresh_schemas: Path,
        fresh_process: None, monkeypatch: pytest.MonkeyPatch, helpers: list[Any]) -> None:
    # Forked, it has the interpreter started already; with other threads running, their
    # locks could be held in the child (on macOS, system libraries' threads too): a new
    # process then.
    monkeypatch.setattr(worker.threading, "active_count", lambda: threads)
    monkeypatch.setattr(worker.sys, "platform", system)
    early = start_early(invalid, fresh_schemas)
    with XsdRunner(fresh_schemas, {invalid: early}) as runner:
        [report] = validate_paths([invalid], fresh_schemas, runner=runner)

    assert_only_xsd_errors(report)
    assert helpers == [early]
    assert isinstance(early, worker.ForkedHelper if forked else subprocess.Popen)


def test_a_forked_helper_that_fails_leaves_the_validation_to_this_process(
        invalid: Path, fresh_schemas: Path, fresh_process: None,
        monkeypatch: pytest.MonkeyPatch, helpers: list[Any]) -> None:
    def validate_to(*_args: Any) -> None:
        raise MemoryError("no room in the helper")  # raised in the forked child

    monkeypatch.setattr(worker.threading, "active_count", lambda: 1)
    monkeypatch.setattr(worker, "validate_to", validate_to)
    early = start_early(invalid, fresh_schemas)
    with XsdRunner(fresh_schemas, {invalid: early}) as runner:
        [report] = validate_paths([invalid], fresh_schemas, runner=runner)

    assert isinstance(early, worker.ForkedHelper) and early.returncode == 1
    assert_only_xsd_errors(report)


def test_no_helper_is_started_early_once_this_process_has_compiled_an_xsd(
        invalid: Path, schema_dir: Path, helpers: list[Any]) -> None:
    load_schema("3.3", schema_dir).xsd  # noqa: B018 - as by an earlier command
    assert start_early(invalid, schema_dir) is None  # a thread validates it sooner
    assert helpers == []


def test_no_helper_is_started_early_for_a_large_file_or_a_missing_one(
        invalid: Path, tmp_path: Path, fresh_schemas: Path, fresh_process: None,
        monkeypatch: pytest.MonkeyPatch, helpers: list[Any]) -> None:
    assert start_early(tmp_path / "missing.xml", fresh_schemas) is None
    monkeypatch.setattr(worker, "PARALLEL_BYTES", invalid.stat().st_size)
    assert start_early(invalid, fresh_schemas) is None  # started with its reading instead
    assert helpers == []


def test_a_helper_started_for_a_file_never_read_is_stopped(
        invalid: Path, fresh_schemas: Path, fresh_process: None,
        helpers: list[Any]) -> None:
    with XsdRunner(fresh_schemas, {invalid: start_early(invalid, fresh_schemas)}):
        pass
    assert len(helpers) == 1 and helpers[0].returncode is not None  # stopped and reaped


def test_a_file_that_is_not_ddi_gets_its_report_and_its_early_helper_is_stopped(
        tmp_path: Path, fresh_schemas: Path, fresh_process: None,
        helpers: list[Any]) -> None:
    other = tmp_path / "other.xml"
    other.write_text("<html xmlns='http://www.w3.org/1999/xhtml'/>")
    with XsdRunner(fresh_schemas, {other: start_early(other, fresh_schemas)}) as runner:
        [report] = validate_paths([other], fresh_schemas, runner=runner)

    assert report.unusable is not None and "DDI" in report.unusable
    assert len(helpers) == 1 and helpers[0].returncode is not None


def test_catalogue_validate_starts_the_xsd_helper_before_loading_the_reader(
        invalid: Path, validate_in_new_process: NewProcessValidate) -> None:
    # The helper compiles the XSD while this process imports lxml, the reader and the
    # profile rules (langcodes, the model): started after them, it would end that much
    # later.
    result = validate_in_new_process(
        "import os, sys\n"
        "real = os.fork\n"
        "def fork():\n"
        "    loaded = [m for m in ('lxml.etree', 'catalogue.reader') if m in sys.modules]\n"
        "    print('forked; loaded:', *loaded, file=sys.stderr, flush=True)\n"
        "    return real()\n"
        "os.fork = fork\n", invalid)

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0] == "forked; loaded:"
    assert "invalid" in result.stdout
