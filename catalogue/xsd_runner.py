"""XSD validation beside the reading of a file: in a thread of this process for a small
file (libxml2 parses and validates a tree without holding the GIL), in a helper process
(``python -m ddi_schemas.worker``) for a large one (a streaming parse holds it).

This module imports no more than the XSD check needs, so that a command can start the
helper of its first file (:meth:`XsdRunner.prestart`) before it loads the reader and the
profile rules: the helper then compiles the XSD while this process imports, instead of
after (about a third of ``catalogue validate`` on a 2.5 MB file).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from catalogue.errors import CatalogueError, UnusableInput
from ddi_schemas.findings import Finding
from ddi_schemas.inspect import DocumentInfo, inspect_document
from ddi_schemas.registry import CompiledSchema, is_compiled
from ddi_schemas.xsd import validate_xsd

if TYPE_CHECKING:
    from catalogue.validation import FileCheck

#: Files larger than this are XSD-validated in a second process while this one reads;
#: smaller ones in a thread of this one (as a tree, which takes about six times the file).
PARALLEL_BYTES = 4 * 1024 * 1024


class _XsdThread:
    """The tree validation of a small file, in a thread: libxml2 parses and validates it
    without holding the GIL, so the reading goes on meanwhile (it used to wait for it)."""

    def __init__(self, info: DocumentInfo, schema: CompiledSchema) -> None:
        self.findings: list[Finding] = []
        self.unusable: str | None = None
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(info, schema), daemon=True,
                                        name="catalogue-xsd")
        self._thread.start()

    def _run(self, info: DocumentInfo, schema: CompiledSchema) -> None:
        try:
            self.findings = validate_xsd(info, schema)
        except UnusableInput as exc:
            self.unusable = exc.message
        except BaseException as exc:  # noqa: BLE001 - raised again by the reading thread
            self.failure = exc

    def join(self) -> None:
        self._thread.join()


#: XSD validation under way beside the reading: a thread, a helper process, or None (done
#: after the reading, for a large file in an envelope, or when no helper could start).
Validation = _XsdThread | subprocess.Popen[bytes] | None


class XsdRunner:
    """Runs XSD validation beside the reading: in a thread for small files, in a helper
    process for large ones; a large file in an envelope is validated after the reading
    (its tree is the whole envelope). Use it as a context manager when calling
    :meth:`prestart`: a helper started for a file never read is stopped on exit."""

    def __init__(self, schema_dir: Path | None) -> None:
        self.schema_dir = schema_dir
        self._early: dict[Path, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> XsdRunner:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for helper in self._early.values():
            self.cancel(helper)
        self._early.clear()

    def prestart(self, path: Path) -> None:
        """Start the helper of ``path`` now, whatever its size, when this process has not
        compiled the XSD of its version yet (a fresh command): it compiles its own while
        the caller goes on importing. A file that cannot be read as DDI-L is left to
        :func:`catalogue.validation.open_file`, which reports why."""
        try:
            info = inspect_document(path)
        except CatalogueError:
            return
        if (info.envelope is not None and info.size >= PARALLEL_BYTES) or is_compiled(
                info.ddi_version, self.schema_dir):
            return
        helper = self._helper(path)
        if helper is not None:
            self._early[path] = helper

    def start(self, check: FileCheck) -> Validation:
        assert check.info is not None and check.schema is not None
        early = self._early.pop(check.path, None)
        if early is not None:
            return early
        if check.info.size < PARALLEL_BYTES:
            return _XsdThread(check.info, check.schema)
        if check.info.envelope is not None:
            return None
        return self._helper(check.info.path)

    def _helper(self, path: Path) -> subprocess.Popen[bytes] | None:
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "ddi_schemas.worker", str(path),
                 str(self.schema_dir or "")],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None  # validated after the reading instead

    def finish(self, check: FileCheck, running: Validation) -> None:
        assert check.info is not None and check.schema is not None
        if isinstance(running, _XsdThread):
            running.join()
            if running.failure is not None:
                raise running.failure
            check.xsd, check.unusable = running.findings, running.unusable
            return
        if running is not None:
            output, _ = running.communicate()
            try:
                result = json.loads(output)
            except ValueError:
                result = None  # the helper died: validate here instead
            if result is not None:
                if result["status"] == "unusable":
                    check.unusable = result["message"]
                else:
                    check.xsd = [Finding.from_json(f) for f in result["findings"]]
                return
        try:
            check.xsd = validate_xsd(check.info, check.schema)
        except UnusableInput as exc:
            check.unusable = exc.message

    @staticmethod
    def cancel(running: Validation) -> None:
        """Stop the validation of a file whose reading failed: a helper is killed; a
        thread (a small file: a fraction of a second) ends on its own, unheard."""
        if isinstance(running, subprocess.Popen):
            running.kill()
            running.communicate()  # reaps it and closes its pipe
