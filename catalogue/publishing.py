"""Publishing: validate -> read -> store, all or nothing.

Every file of a batch is validated (XSD and profile rules) and read into the store, its
rows unseen until the batch is marked complete (:meth:`catalogue.store.Store.publishing`).
If any file is unusable, breaks the XSD (unless ``lenient``) or an error-level profile
rule, nothing is published: the store keeps its previous state, as it does when the
process is killed midway. Indexing for search happens after that (the store is the
source of truth; the index is rebuilt from it when needed).
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from catalogue.errors import InvalidDDI, UnusableInput
from catalogue.model import LangText, Study
from catalogue.reader import ReadItem
from catalogue.store import Store
from catalogue.store.publications import PublicationWriter
from catalogue.store.records import Publication
from catalogue.validation import FileCheck, batch_resolver, open_file, read_file
from catalogue.xsd_runner import XsdRunner
from ddi_schemas.findings import FileReport, Finding

#: From this many bytes in a batch, its rows are written by a helper process while this
#: one reads (see :mod:`catalogue.store.writer_process`): below, starting it (a new
#: interpreter and its imports, a few hundred ms of the other core) is not worth it.
WRITER_PROCESS_BYTES = 8 * 1024 * 1024


class PublishRefused(InvalidDDI):
    """Nothing was published; ``reports`` says why, file by file."""

    def __init__(self, message: str, reports: Sequence[FileReport]) -> None:
        errors = [
            {"file": r.file, **f.to_json()}
            for r in reports for f in r.findings if f.severity == "error"
        ]
        super().__init__(message, errors)
        self.reports = list(reports)
        if any(r.unusable is not None for r in self.reports):
            # a file found unreadable while reading (truncated, not well-formed further
            # down) is unusable input, as it is for ``catalogue validate``
            self.status, self.exit_code = UnusableInput.status, UnusableInput.exit_code


@dataclass(frozen=True, slots=True)
class Published:
    publication: Publication
    report: FileReport
    #: URNs of items of earlier publications that this one supersedes
    superseded: tuple[str, ...]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def publish_paths(paths: Sequence[Path], store: Store, schema_dir: Path | None, *,
                  lenient: bool = False, published_by: str | None = None,
                  display_names: Sequence[str] | None = None) -> list[Published]:
    """Publish files as one batch (see the module docstring). ``display_names`` replaces
    the file names recorded (for uploads kept under temporary names)."""
    names = list(display_names) if display_names else [p.name for p in paths]
    checks = [open_file(path, schema_dir) for path in paths]
    unusable = [c for c in checks if c.unusable is not None]
    if unusable:
        raise UnusableInput(
            f"nothing published: {len(unusable)} of {len(checks)} file(s) cannot be read as "
            "DDI-L", [{"file": str(c.path), "message": c.report().unusable} for c in unusable])
    runner = XsdRunner(schema_dir)
    published_at = now_iso()
    outcome: list[tuple[int, FileCheck, list[Finding], LangText, Future[_Source]]] = []
    large = sum(c.info.size for c in checks if c.info is not None) >= WRITER_PROCESS_BYTES
    with store.publishing(writer_process=large) as writer:
        for check, name in zip(checks, names, strict=True):
            pid, title, copy = _read_into(writer, runner, check, name, published_at,
                                          published_by)
            outcome.append((pid, check, [], title, copy))
        blocking = False
        for index, (pid, check, extra, _title, _copy) in enumerate(outcome):
            if check.unusable is not None:
                blocking = True
                continue
            check.profile = check.checker.finish(
                batch_resolver(checks, index, store.existing_targets))
            for conflict in writer.conflicts(pid):
                if conflict.other_publication > pid:
                    continue  # a later file of this batch differs: that file is to blame
                other = (f"publication {conflict.other_publication}"
                         if conflict.other_publication < outcome[0][0]
                         else "another file of this batch")
                extra.append(Finding(
                    "error", "identity-conflict",
                    f"{conflict.urn} is already published with different content ({other}); "
                    "a published version never changes: give this one a new version",
                    line=conflict.line, path=conflict.path))
            check.profile = sorted([*check.profile, *extra], key=Finding.sort_key)
            report = check.report()
            if report.errors and (not lenient or any(f.rule != "XSD" for f in report.errors)):
                blocking = True
        reports = [check.report() for _, check, _, _, _ in outcome]
        if blocking:
            bad = sum(1 for r in reports if r.unusable or (
                r.errors and (not lenient or any(f.rule != "XSD" for f in r.errors))))
            hint = "" if lenient or all(
                f.rule != "XSD" for r in reports for f in r.errors) else (
                "; use --lenient to publish XSD-invalid files whose content is readable")
            raise PublishRefused(
                f"nothing published: {bad} of {len(reports)} file(s) have errors{hint}",
                reports)
        for (pid, check, _, title, copy), report in zip(outcome, reports, strict=True):
            source, digest = copy.result()
            writer.finish(pid, urn=_publication_urn(check), title=title,
                          report=report.findings, valid=report.valid,
                          lenient=lenient and not report.xsd_valid, source=source,
                          sha256=digest)
    results = []
    for (pid, _check, _, _, _), report in zip(outcome, reports, strict=True):
        results.append(Published(store.get_publication(pid), report,
                                 tuple(store.superseded_by(pid))))
    return results


def _read_into(writer: PublicationWriter, runner: XsdRunner, check: FileCheck, name: str,
               published_at: str, published_by: str | None
               ) -> tuple[int, LangText, Future[_Source]]:
    """Read a file into a new publication; returns its id, its title and its compressed
    copy, made on another thread while the file is read (zlib and hashlib let go of the
    GIL): 0.8 s for 255 MB, which the reading used to wait for."""
    assert check.info is not None
    with ThreadPoolExecutor(1, thread_name_prefix="catalogue-source-copy") as copying:
        copy = copying.submit(_compressed_copy, check.path)
        pid = writer.start(file_name=name, ddi_version=check.info.ddi_version,
                           root=check.info.root_name, published_at=published_at,
                           published_by=published_by, source_size=check.info.size)
        title = _read_items(writer, pid, runner, check)
    return pid, title or LangText((("", name),)), copy


def _read_items(writer: PublicationWriter, pid: int, runner: XsdRunner,
                check: FileCheck) -> LangText:
    """Read the file's items into publication ``pid`` (the XSD checked meanwhile);
    returns the publication's title, when the file gives one."""
    first_title: list[LangText] = []

    def sink(read: ReadItem) -> None:
        writer.add(pid, read)
        item = read.item
        if not first_title and isinstance(item, Study) and item.title:
            first_title.append(item.title)

    xsd = runner.start(check)
    try:
        read_file(check, mode="model", keep_xml=True, sink=sink)
    except BaseException:
        runner.cancel(xsd)
        raise
    if check.unusable is None:
        runner.finish(check, xsd)
    else:
        runner.cancel(xsd)
    return check.summary.title or (first_title[0] if first_title else LangText())


def _publication_urn(check: FileCheck) -> str:
    if check.summary.root_identity is not None:
        return check.summary.root_identity.urn
    if check.summary.top_level:
        return check.summary.top_level[0].urn
    return ""


#: A file gzip-compressed, and the SHA-256 of the file.
_Source = tuple[bytes, str]


def _compressed_copy(path: Path) -> _Source:
    """The file gzip-compressed (kept so it can be served back exactly), and its SHA-256."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as spool:
        with path.open("rb") as source, gzip.GzipFile(fileobj=spool, mode="wb",
                                                      compresslevel=1, mtime=0) as packed:
            while chunk := source.read(1024 * 1024):
                digest.update(chunk)
                packed.write(chunk)
        spool.seek(0)
        data = spool.read()
    return data, digest.hexdigest()

