"""Validation of DDI-L files: the official XSD plus the catalogue's profile rules.

For each file: a first look (safe XML? DDI-L? which version?), XSD validation in
bounded memory and a streaming read that feeds the profile checker. The XSD validation
runs beside the reading, so validating costs about what parsing and validating alone
would: in a thread for small files (libxml2 parses and validates them without holding
the GIL), in a second process for large ones (a streaming parse holds it). References
are resolved across the files of one batch and against what the catalogue already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catalogue.codec import content_hash
from catalogue.errors import UnusableInput
from catalogue.reader import DocumentReader, Mode, ReadItem, ReadSummary, local_name
from catalogue.xsd_runner import XsdRunner
from ddi_schemas.findings import FileReport, Finding, sorted_findings
from ddi_schemas.inspect import DocumentInfo, ParsedTree, inspect_document
from ddi_schemas.profile import ProfileChecker, RefTarget
from ddi_schemas.registry import CompiledSchema, load_schema
from ddi_schemas.xsd import add_columns

#: Given targets not found in a batch, those that exist in the catalogue.
PublishedLookup = Callable[[list[RefTarget]], set[RefTarget]]
#: Given (agency, ID, version) keys, the content hash and first publication of those the
#: catalogue already holds (``Store.held_contents``).
HeldLookup = Callable[[list[tuple[str, str, str]]], dict[tuple[str, str, str], tuple[str, int]]]


@dataclass
class FileCheck:
    """A file being checked: what it is, what its reading found, its XSD verdict."""

    path: Path
    info: DocumentInfo | None = None
    schema: CompiledSchema | None = None
    checker: ProfileChecker = field(default_factory=ProfileChecker)
    xsd: list[Finding] = field(default_factory=list)
    profile: list[Finding] = field(default_factory=list)
    unusable: str | None = None
    summary: ReadSummary = field(default_factory=ReadSummary)
    #: Its tree, when the caller started parsing it early (:func:`parse_early`)
    parsed: ParsedTree | None = None

    def report(self) -> FileReport:
        findings = sorted_findings([*self.xsd, *self.profile])
        if self.info is not None and findings:
            findings = tuple(add_columns(self.info.path, findings))
        return FileReport(
            file=str(self.path),
            ddi_version=self.info.ddi_version if self.info else None,
            findings=findings,
            xsd_valid=not self.xsd,
            # the report names the file once: messages raised on their own carry it too
            unusable=self.unusable.removeprefix(f"{self.path}: ") if self.unusable else None,
            root=self.info.root_name if self.info else "",
        )


def open_file(path: Path, schema_dir: Path | None) -> FileCheck:
    """Inspect ``path`` and load its schema; an unusable file is recorded, not raised."""
    check = FileCheck(path)
    try:
        check.info = inspect_document(path)
        check.schema = load_schema(check.info.ddi_version, schema_dir)
    except UnusableInput as exc:
        check.unusable = exc.message
    return check


def read_file(check: FileCheck, *, mode: Mode, keep_xml: bool = False,
              sink: Callable[[ReadItem], None] | None = None) -> None:
    """Stream through the file, feeding the checker (and ``sink`` with items)."""
    assert check.info is not None and check.schema is not None
    reader = DocumentReader(check.info, check.schema, check.checker, mode=mode,
                            keep_xml=keep_xml, parsed=check.parsed)
    check.parsed = None  # read once; its tree is let go as it is walked
    try:
        for read in reader:
            if sink is not None:
                sink(read)
    except UnusableInput as exc:
        check.unusable = exc.message
    check.summary = reader.summary
    if mode == "facts" and check.checker.needs_content_check and check.unusable is None:
        # An identity repeats: read again, with contents, to tell copies from conflicts.
        check.checker = ProfileChecker()
        read_file(check, mode="model")


def batch_resolver(checks: Sequence[FileCheck], index: int,
                   published: PublishedLookup | None) -> Callable[[list[RefTarget]],
                                                                  set[RefTarget]]:
    """Resolve a file's leftover references in the other files of its batch, then in the
    catalogue."""

    def resolve(targets: list[RefTarget]) -> set[RefTarget]:
        found: set[RefTarget] = set()
        for other_index, other in enumerate(checks):
            if other_index != index and other.unusable is None:
                found |= other.checker.known(targets)
        rest = [t for t in targets if t not in found]
        if rest and published is not None:
            found |= published(rest)
        return found

    return resolve


class HeldContents:
    """What an upload or a validation collects to tell, once the file is read, which of
    its versions the catalogue already holds with other content (``identity-conflict``):
    publishing them would be refused."""

    def __init__(self) -> None:
        self.read: dict[tuple[str, str, str], tuple[str, int | None, str]] = {}

    def add(self, read: ReadItem) -> None:
        if not read.versionable or read.data is None:
            return
        ident, item = read.item.identity, read.item
        key = (ident.agency, ident.id, ident.version)
        if key not in self.read:  # the first copy is the one a publication keeps
            location = item.location
            self.read[key] = (content_hash(read.data), location.line if location else None,
                              f"//{local_name(item.element)}[@ID='{ident.id}']")

    def keys(self) -> list[tuple[str, str, str]]:
        return list(self.read)

    def conflicts(self, known: dict[tuple[str, str, str], tuple[str, int]]) -> list[Finding]:
        """Findings for the versions read whose content differs from ``known``'s (what a
        :data:`HeldLookup` answered)."""
        checker = ProfileChecker()
        for key, (stored_hash, publication_id) in known.items():
            if key not in self.read:
                continue
            digest, line, path = self.read[key]
            if digest != stored_hash:
                checker.conflict(f"urn:ddi:{key[0]}:{key[1]}:{key[2]}",
                                 f"publication {publication_id}", line, path)
        return checker.findings


def catalogue_conflicts(check: FileCheck, held: HeldLookup) -> list[Finding]:
    """``identity-conflict`` findings of a file read in facts mode: when the catalogue
    holds none of its versions (the usual case: a new version), nothing more is read;
    otherwise the file is read again, with contents, to compare them."""
    keys = check.checker.versionable_identities()
    known = held(keys) if keys else {}
    if not known:
        return []
    collected = HeldContents()
    again = FileCheck(check.path, check.info, check.schema)
    read_file(again, mode="model", sink=collected.add)
    return collected.conflicts(known)


def validate_paths(paths: Iterable[Path], schema_dir: Path | None,
                   published: PublishedLookup | None = None,
                   held: HeldLookup | None = None,
                   runner: XsdRunner | None = None,
                   parsed: Mapping[Path, ParsedTree | None] | None = None) -> list[FileReport]:
    """Validate files as one batch; every file gets a report, unusable ones included.
    With ``held``, versions the catalogue holds with other content are reported too.
    ``runner`` (with XSD helpers started early) and ``parsed`` (trees parsing, by path)
    are the caller's, when it started work on its first files before importing this."""
    checks = [open_file(path, schema_dir) for path in paths]
    runner = runner or XsdRunner(schema_dir)
    for check in checks:
        check.parsed = (parsed or {}).get(check.path)
    for check in checks:
        if check.unusable is not None:
            continue
        xsd = runner.start(check)
        try:
            read_file(check, mode="facts")
        except BaseException:
            runner.cancel(xsd)
            raise
        if check.unusable is None:
            runner.finish(check, xsd)
        else:
            runner.cancel(xsd)
    for index, check in enumerate(checks):
        if check.unusable is None:
            check.profile = check.checker.finish(batch_resolver(checks, index, published))
            if held is not None:
                check.profile.extend(catalogue_conflicts(check, held))
    return [check.report() for check in checks]
