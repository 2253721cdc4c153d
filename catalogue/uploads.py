"""Web uploads, as plain functions: receive a file, check what it is, validate it, preview
what publishing it would change, then publish or discard it.

A publisher uploads a DDI-L file or a data dictionary (CSV or XLSX, turned into DDI-L 3.3
by the import of :mod:`catalogue.dictionary_ddi`, versions carried on from the cohort's
current publication). The upload is *staged*: kept in ``DATA_DIR/uploads/TOKEN/`` with its
validation report and the preview (the diff against the cohort's current publication)
until its owner publishes or discards it; stale ones go after :data:`UPLOAD_TTL`.

Safety is the command line's: the size is capped by the ``max_upload_mb`` setting while
the file is copied, the type is decided by content (never by the name), DDI-L goes through
the same first look and streaming read as ``catalogue publish`` (no entities, no DTD, no
network, memory bounded by the largest item), and a workbook is refused when it declares
entities or expands far beyond its size (zip bombs).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from catalogue.accounts_audit import record_publication, record_publication_refused
from catalogue.accounts_model import Origin, User
from catalogue.accounts_roles import can_publish, require_publisher_of_agencies
from catalogue.dictionary import StudyFacts, read_dictionary
from catalogue.dictionary_ddi import dictionary_to_ddi, read_topic_refs
from catalogue.dictionary_items import study_from_items
from catalogue.diffs import Diff, DiffSide, ItemSet, compare_items, diff_from_json
from catalogue.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidDictionary,
    NotFound,
    PayloadTooLarge,
)
from catalogue.history import CohortHistory, baseline, cohort_history, series_key
from catalogue.model import LangText
from catalogue.publishing import Published, PublishRefused, now_iso, publish_paths
from catalogue.reader import ReadItem
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.store.records import Publication
from catalogue.validation import HeldContents, batch_resolver, open_file, read_file
from catalogue.validation_report import DICTIONARY_RULE, report_from_record, report_to_record
from catalogue.xsd_runner import XsdRunner
from ddi_schemas.findings import XSD_RULE, FileReport, Finding

SourceType = Literal["ddi", "csv", "xlsx"]
UPLOADS_DIR = "uploads"
#: Staged uploads older than this (seconds) are removed on the next upload.
UPLOAD_TTL = 24 * 3600
_CHUNK = 1024 * 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
#: An .xlsx may expand to this many times the upload limit, and no member may be
#: compressed more than this ratio (real workbooks stay far below both).
_XLSX_EXPANSION = 10
_XLSX_RATIO = 200
_ENTITY_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")

# Messages that reach people (the web translates them; keep them constant).
TOO_LARGE = "The file is larger than the upload limit."
NO_FILE = "Choose a file to upload."
UNSUPPORTED = ("This file is neither DDI-L XML nor a data dictionary (.csv or .xlsx with a "
               "header row naming wave, variable, label_fr, label_en and response_type).")
NOT_XLSX = "This ZIP archive is not an Excel workbook (.xlsx)."
UNSAFE_XLSX = "This workbook declares XML entities or expands too much; save it again."
NOT_PUBLISHER = "Only publishers of this cohort may publish its metadata."
OTHER_COHORT = "This file holds another cohort's items: choose that cohort."
NOTHING_TO_PUBLISH = "There is nothing to publish: fix the problems in the report first."
BEING_PUBLISHED = "This upload is already being published."
UNKNOWN_UPLOAD = "There is no such upload: it was published, discarded or has expired."


@dataclass(frozen=True, slots=True)
class StagedUpload:
    """An upload kept until it is published or discarded."""

    token: str
    directory: Path
    owner_id: int
    cohort: str
    file_name: str
    source_type: SourceType
    size: int
    sha256: str
    uploaded_at: str
    report: FileReport
    agencies: tuple[str, ...]
    series: str | None
    #: the DDI-L to publish (the upload itself, or what the dictionary became)
    ddi_name: str | None
    diff: Diff | None
    #: True once a publication attempt was refused: the report is publishing's own
    refused: bool = False

    @property
    def ddi_path(self) -> Path | None:
        return self.directory / self.ddi_name if self.ddi_name else None

    @property
    def publishable(self) -> bool:
        """Publishable at all (leniently, when only the XSD objects)."""
        report = self.report
        return (self.ddi_name is not None and report.unusable is None
                and all(f.rule == XSD_RULE for f in report.errors))

    @property
    def needs_lenient(self) -> bool:
        """Only publishable leniently: the XSD objects, nothing else does."""
        return self.publishable and not self.report.xsd_valid

    @property
    def publish_name(self) -> str:
        """The file name the publication records."""
        if self.source_type == "ddi":
            return self.file_name
        return (self.file_name.rsplit(".", 1)[0] or "dictionary") + ".xml"


# -- receiving ----------------------------------------------------------------------------------

def uploads_root(settings: Settings) -> Path:
    return settings.data_dir / UPLOADS_DIR


def clean_file_name(name: str) -> str:
    """A file name fit to show and record: no directories, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:200] or "upload"


def copy_limited(source: IO[bytes], target: Path, limit: int) -> tuple[int, str]:
    """Copy ``source`` to ``target`` a chunk at a time; PayloadTooLarge past ``limit``
    bytes. Returns the size and the SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(TOO_LARGE, [{"field": "file", "message": TOO_LARGE,
                                                   "limit_mb": limit // (1024 * 1024)}])
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def sniff_type(path: Path, limit: int) -> SourceType:
    """What a file is, from its content: DDI-L (XML), an .xlsx workbook or a CSV table.
    BadRequest for anything else, or for a workbook unsafe to open."""
    with path.open("rb") as stream:
        head = stream.read(64 * 1024)
    if not head:
        raise BadRequest(NO_FILE, [{"field": "file", "message": NO_FILE}])
    if head.startswith(b"PK\x03\x04"):
        _check_workbook(path, limit)
        return "xlsx"
    text = head
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        text = text.removeprefix(bom)
    if text.lstrip().startswith(b"<") or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "ddi"  # the DDI-L first look decides the rest
    if b"\x00" not in head:
        first = text.split(b"\n", 1)[0].decode("latin-1").lower()
        names = {re.sub(r"[\s\-]+", "_", c.strip().strip('"')) for c in re.split(r"[,;\t]", first)}
        if {"wave", "variable"} <= names:
            return "csv"
    raise BadRequest(UNSUPPORTED, [{"field": "file", "message": UNSUPPORTED}])


def _check_workbook(path: Path, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if "xl/workbook.xml" not in {i.filename for i in infos}:
                raise BadRequest(NOT_XLSX, [{"field": "file", "message": NOT_XLSX}])
            if sum(i.file_size for i in infos) > _XLSX_EXPANSION * max(limit, 16 * _CHUNK) or any(
                    i.file_size > _XLSX_RATIO * max(i.compress_size, 1) for i in infos):
                raise BadRequest(UNSAFE_XLSX, [{"field": "file", "message": UNSAFE_XLSX}])
            for info in infos:
                if info.filename.endswith((".xml", ".rels")) and _declares_entities(
                        archive.open(info)):
                    raise BadRequest(UNSAFE_XLSX, [{"field": "file", "message": UNSAFE_XLSX}])
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
        raise BadRequest(NOT_XLSX, [{"field": "file", "message": NOT_XLSX,
                                     "detail": type(exc).__name__}]) from None


def _declares_entities(member: IO[bytes]) -> bool:
    tail = b""
    with member:
        while chunk := member.read(_CHUNK):
            window = (tail + chunk).upper()
            if any(marker in window for marker in _ENTITY_MARKERS):
                return True
            tail = chunk[-16:]
    return False


# -- staging -----------------------------------------------------------------------------------

def stage_upload(settings: Settings, store: Store, *, user: User, cohort: str, file_name: str,
                 source: IO[bytes], study: IO[bytes] | None, origin: Origin) -> StagedUpload:
    """Receive, check and validate an upload for ``cohort``, and preview its diff.

    Forbidden (audited) when ``user`` may not publish for the cohort or for the agencies
    the file holds; PayloadTooLarge or BadRequest for a file too large or of the wrong
    type. Otherwise the upload is staged, whatever its report says."""
    history = cohort_history(store, cohort)  # NotFound for an unknown cohort
    if not can_publish(user, cohort):
        record_publication_refused(store, actor=user, agencies=history.agencies,
                                   reason=f"{user.email} is not a publisher of {cohort}",
                                   origin=origin)
        raise Forbidden(NOT_PUBLISHER)
    purge_expired(settings)
    token = secrets.token_urlsafe(18)
    directory = uploads_root(settings) / token
    directory.mkdir(parents=True, mode=0o700)
    try:
        return _stage(settings, store, user=user, history=history, token=token,
                      directory=directory, file_name=clean_file_name(file_name),
                      source=source, study=study, origin=origin)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _stage(settings: Settings, store: Store, *, user: User, history: CohortHistory, token: str,
           directory: Path, file_name: str, source: IO[bytes], study: IO[bytes] | None,
           origin: Origin) -> StagedUpload:
    limit = settings.max_upload_mb * 1024 * 1024
    received = directory / "received"
    size, sha256 = copy_limited(source, received, limit)
    if size == 0:
        raise BadRequest(NO_FILE, [{"field": "file", "message": NO_FILE}])
    source_type = sniff_type(received, limit)
    current = baseline(history, None)
    ddi_name: str | None = "upload.xml"
    report = FileReport(file=file_name, ddi_version=None)
    if source_type == "ddi":
        received.rename(directory / "upload.xml")
    else:
        report, ddi_name = _convert_dictionary(settings, store, history, current, directory,
                                               received, source_type, study, file_name)
    items = ItemSet()
    agencies: set[str] = set()
    series: str | None = None
    if ddi_name is not None:
        report, items, agencies, series = check_ddi(directory / ddi_name, settings, store,
                                                    file_name)
    if agencies:
        owners = set(require_publisher_of_agencies(store, user, agencies, origin=origin))
        if owners and history.slug not in owners:
            raise BadRequest(OTHER_COHORT, [{"field": "cohort", "message": OTHER_COHORT,
                                             "cohorts": sorted(owners)}])
    diff = None
    if ddi_name is not None and report.unusable is None:
        current = baseline(history, series)
        before = ItemSet.of_publication(store, current.id) if current else ItemSet()
        diff = Diff(DiffSide.of_publication(current) if current else None,
                    DiffSide(LangText(), file_name, upload=token),
                    compare_items(before, items))
    staged = StagedUpload(token, directory, user.id, history.slug, file_name, source_type,
                          size, sha256, now_iso(), report, tuple(sorted(agencies)), series,
                          ddi_name, diff)
    _save(staged)
    return staged


def check_ddi(path: Path, settings: Settings, store: Store, display: str
              ) -> tuple[FileReport, ItemSet, set[str], str | None]:
    """Validate one DDI-L file as ``catalogue publish`` would (XSD, profile rules,
    references resolved against the catalogue) while keeping what the diff needs: the
    items compared, the agencies held and the document's series."""
    check = open_file(path, settings.ddi_schemas)
    items = ItemSet()
    agencies: set[str] = set()
    if check.unusable is None:
        runner = XsdRunner(settings.ddi_schemas)

        held = HeldContents()

        def sink(read: ReadItem) -> None:
            agencies.add(read.item.identity.agency)
            items.add(read.item)
            held.add(read)

        xsd = runner.start(check)
        try:
            read_file(check, mode="model", sink=sink)
        except BaseException:
            runner.cancel(xsd)
            raise
        if check.unusable is None:
            runner.finish(check, xsd)
            check.profile = check.checker.finish(batch_resolver([check], 0,
                                                                store.existing_targets))
            check.profile.extend(held.conflicts(store.held_contents(held.keys())))
        else:
            runner.cancel(xsd)
    summary = check.summary
    root = summary.root_identity.urn if summary.root_identity else (
        summary.top_level[0].urn if summary.top_level else None)
    report = dataclasses.replace(check.report(), file=display)
    return report, items, agencies, series_key(root) if root else None


def _convert_dictionary(settings: Settings, store: Store, history: CohortHistory,
                        current: Publication | None, directory: Path, received: Path,
                        source_type: SourceType, study: IO[bytes] | None, display: str
                        ) -> tuple[FileReport, str | None]:
    """The dictionary as DDI-L 3.3 (``dictionary.xml``), or a report of its problems."""
    table = directory / f"dictionary.{source_type}"
    received.rename(table)
    if study is not None:
        copy_limited(study, directory / "dictionary.study.csv",
                     settings.max_upload_mb * 1024 * 1024)
    from cohorts import TOPICS_XML  # noqa: PLC0415 - the import's default topics, as the CLI's

    topics = read_topic_refs(TOPICS_XML.read_bytes()) if TOPICS_XML.is_file() else {}
    try:
        dictionary = read_dictionary(table, topics=topics)
    except InvalidDictionary as invalid:
        findings = tuple(Finding("error", DICTIONARY_RULE, str(e.get("message", "")),
                                 line=e.get("line") or None,
                                 path=_cell(e.get("file"), e.get("column"), display))
                         for e in invalid.errors)
        return FileReport(file=display, ddi_version=None, findings=findings,
                          xsd_valid=True), None
    previous = None
    if current is not None:
        previous = gzip.decompress(store.publication_source(current.id))
        if dictionary.study == StudyFacts():
            groups = [s.item for s in store.items_of_publication(current.id, ("Group",))]
            dictionary = dataclasses.replace(dictionary, study=study_from_items(groups))
    agency = _agency(store, history, current)
    xml = dictionary_to_ddi(dictionary, agency=agency, topics=topics, previous=previous,
                            published=store.published_versions(agency))
    (directory / "dictionary.xml").write_bytes(xml)
    return FileReport(file=display, ddi_version=None), "dictionary.xml"


def _cell(file: object, column: object, display: str) -> str:
    where = "study" if isinstance(file, str) and "study" in file else display
    return f"{where}: {column}" if column else str(where)


def _agency(store: Store, history: CohortHistory, current: Publication | None) -> str:
    """The agency a dictionary is published under: the one of the cohort's current
    publication when it is the cohort's, else the cohort's first."""
    if current is not None:
        own = [a for a in current.agencies if a in history.agencies]
        if own:
            return own[0]
    if not history.agencies:
        raise BadRequest("This cohort has no DDI agency: an administrator adds one first.")
    return history.agencies[0]


# -- keeping, finding, publishing, discarding ----------------------------------------------------

def _save(staged: StagedUpload) -> None:
    record = {
        "token": staged.token, "owner_id": staged.owner_id, "cohort": staged.cohort,
        "file_name": staged.file_name, "source_type": staged.source_type, "size": staged.size,
        "sha256": staged.sha256, "uploaded_at": staged.uploaded_at,
        "report": report_to_record(staged.report), "agencies": list(staged.agencies),
        "series": staged.series, "ddi_name": staged.ddi_name, "refused": staged.refused,
        "diff": staged.diff.to_json() if staged.diff else None,
    }
    target = staged.directory / "upload.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, target)


def load_upload(settings: Settings, token: str, user: User | None) -> StagedUpload:
    """The staged upload ``token`` of ``user``; NotFound for anyone else (whether it
    exists is nobody else's business)."""
    directory = uploads_root(settings) / token
    if user is None or not _TOKEN.match(token) or not (directory / "upload.json").is_file():
        raise NotFound(UNKNOWN_UPLOAD)
    data: dict[str, Any] = json.loads((directory / "upload.json").read_text(encoding="utf-8"))
    if data["owner_id"] != user.id:
        raise NotFound(UNKNOWN_UPLOAD)
    return StagedUpload(
        token=token, directory=directory, owner_id=data["owner_id"], cohort=data["cohort"],
        file_name=data["file_name"], source_type=data["source_type"], size=data["size"],
        sha256=data["sha256"], uploaded_at=data["uploaded_at"],
        report=report_from_record(data["report"]), agencies=tuple(data["agencies"]),
        series=data["series"], ddi_name=data["ddi_name"],
        diff=diff_from_json(data["diff"]) if data["diff"] else None,
        refused=data.get("refused", False))


@contextmanager
def _publishing(staged: StagedUpload) -> Iterator[None]:
    """One publication attempt at a time per upload (a double click publishes once)."""
    lock = staged.directory / "publishing.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise Conflict(BEING_PUBLISHED) from None
    os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def publish_upload(settings: Settings, store: Store, token: str, *, user: User, lenient: bool,
                   origin: Origin) -> list[Published]:
    """Publish a staged upload (``lenient``: even if the XSD objects, an explicit choice
    recorded in the audit trail and with the publication), then forget it. The caller
    indexes the publication. PublishRefused keeps the upload, with publishing's report."""
    staged = load_upload(settings, token, user)
    if not staged.publishable or staged.ddi_path is None:
        raise BadRequest(NOTHING_TO_PUBLISH)
    with _publishing(staged):
        require_publisher_of_agencies(store, user, staged.agencies, origin=origin)
        try:
            results = publish_paths([staged.ddi_path], store, settings.ddi_schemas,
                                    lenient=lenient, published_by=user.email,
                                    display_names=[staged.publish_name])
        except PublishRefused as refused:
            report = dataclasses.replace(refused.reports[0], file=staged.file_name)
            _save(dataclasses.replace(staged, report=report, refused=True))
            raise
    record_publication(store, actor=user, origin=origin, lenient=lenient,
                       publication_ids=[r.publication.id for r in results],
                       files=[staged.file_name])
    shutil.rmtree(staged.directory, ignore_errors=True)
    return results


def discard_upload(settings: Settings, token: str, user: User) -> None:
    staged = load_upload(settings, token, user)
    shutil.rmtree(staged.directory, ignore_errors=True)


def purge_expired(settings: Settings, now: float | None = None) -> int:
    """Remove staged uploads older than :data:`UPLOAD_TTL`; returns how many went."""
    root = uploads_root(settings)
    if not root.is_dir():
        return 0
    limit = (now if now is not None else time.time()) - UPLOAD_TTL
    removed = 0
    for directory in root.iterdir():
        try:
            stale = directory.is_dir() and directory.stat().st_mtime < limit
        except OSError:
            continue
        if stale:
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed


def staged_uploads(settings: Settings, user: User) -> Sequence[StagedUpload]:
    """The user's staged uploads, newest first."""
    root = uploads_root(settings)
    found = []
    for directory in root.iterdir() if root.is_dir() else ():
        try:
            found.append(load_upload(settings, directory.name, user))
        except (NotFound, OSError, ValueError, KeyError):
            continue
    return sorted(found, key=lambda s: s.uploaded_at, reverse=True)
