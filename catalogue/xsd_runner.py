"""XSD validation beside the reading of a file: in a thread of this process for a small
file (libxml2 parses and validates a tree without holding the GIL), in a helper process
(:mod:`ddi_schemas.worker`) for a large one (a streaming parse holds it), or by a helper
started early for the first file of a command (:func:`ddi_schemas.worker.start_early`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from catalogue.errors import UnusableInput
from ddi_schemas.findings import Finding
from ddi_schemas.inspect import DocumentInfo
from ddi_schemas.registry import CompiledSchema
from ddi_schemas.worker import PARALLEL_BYTES, Helper, spawn
from ddi_schemas.xsd import validate_xsd

if TYPE_CHECKING:
    from catalogue.validation import FileCheck


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
Validation = _XsdThread | Helper | None


class XsdRunner:
    """Runs XSD validation beside the reading: in a thread for small files, in a helper
    process for large ones; a large file in an envelope is validated after the reading
    (its tree is the whole envelope). ``early`` holds helpers already started, by path
    (:func:`ddi_schemas.worker.start_early`); use the runner as a context manager then: a
    helper for a file never read is stopped on exit."""

    def __init__(self, schema_dir: Path | None,
                 early: Mapping[Path, Helper | None] | None = None) -> None:
        self.schema_dir = schema_dir
        self._early = {path: helper for path, helper in (early or {}).items()
                       if helper is not None}

    def __enter__(self) -> XsdRunner:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for helper in self._early.values():
            self.cancel(helper)
        self._early.clear()

    def start(self, check: FileCheck) -> Validation:
        assert check.info is not None and check.schema is not None
        early = self._early.pop(check.path, None)
        if early is not None:
            return early
        if check.info.size < PARALLEL_BYTES:
            return _XsdThread(check.info, check.schema)
        if check.info.envelope is not None:
            return None
        return spawn(check.info.path, self.schema_dir)  # None: validated after the reading

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
        if running is not None and not isinstance(running, _XsdThread):
            running.kill()
            running.communicate()  # reaps it and closes its pipe
