"""XSD validation of DDI-L files in bounded memory, with every error located.

libxml2 can validate while it parses (``iterparse(schema=...)``), so memory stays bounded
whatever the file size, but errors met that way carry no line and no element. To locate
them, each identifiable element (a "unit": Variable, QuestionItem, Code, a scheme...) is
kept until it ends. Errors are received as libxml2 emits them, before the elements of the
chunk being parsed are handed out; while an error is pending, each unit that ends is
validated again on its own (libxml2 validates a subtree as if it were a document, which
costs little for one unit) and the pending error is matched, message for message, with
the located errors of that small validation. Units are emptied once they end, so a
parent's own validation only sees its direct structure (which is all its content model
checks); errors that emptying causes never match a pending message and are ignored.

Documents inside an envelope (OAI-PMH) are validated as a tree: they are small, and the
DDI element is not the document root, which streaming validation would need.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from catalogue.errors import UnusableInput
from ddi_schemas.findings import XSD_RULE, Finding
from ddi_schemas.inspect import (
    TREE_BYTES,
    DocumentInfo,
    safe_parser_options,
    syntax_error_message,
)
from ddi_schemas.registry import CompiledSchema

_PREFIX_OF_MODULE = {
    "instance": "ddi", "reusable": "r", "group": "g", "studyunit": "s", "datacollection": "d",
    "logicalproduct": "l", "conceptualcomponent": "c", "archive": "a",
    "physicalinstance": "pi", "physicaldataproduct": "p", "comparative": "cm",
    "ddiprofile": "pr", "dataset": "ds",
}
_CLARK = re.compile(r"\{([^}]*)\}([A-Za-z_][\w.-]*)")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ?(.*?) ?\)")
_ELEMENT = re.compile(r"^Element '([^']+)'")


def prefixed(clark_or_name: str) -> str:
    """``{ddi:reusable:3_3}Label`` -> ``r:Label`` (other namespaces keep their URI)."""

    def one(match: re.Match[str]) -> str:
        namespace, local = match.group(1), match.group(2)
        parts = namespace.split(":")
        if len(parts) == 3 and parts[0] == "ddi" and parts[1] in _PREFIX_OF_MODULE:
            return f"{_PREFIX_OF_MODULE[parts[1]]}:{local}"
        if namespace == "http://www.w3.org/XML/1998/namespace":
            return f"xml:{local}"
        return f"{{{namespace}}}{local}" if namespace else local

    return _CLARK.sub(one, clark_or_name)


def element_path(element: etree._Element) -> str:
    """``/DDIInstance/ResourcePackage/VariableScheme/Variable[3]`` (1-based positions,
    given only where an element has same-named siblings)."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        tag = node.tag
        if not isinstance(tag, str):
            node = node.getparent()
            continue
        name = etree.QName(tag).localname
        before = sum(1 for _ in node.itersiblings(tag, preceding=True))
        after = before or next(node.itersiblings(tag), None) is not None
        steps.append(f"{name}[{before + 1}]" if after else name)
        node = node.getparent()
    return "/" + "/".join(reversed(steps))


_STEP = re.compile(r"^(?:[\w.-]+:)?(\*|[\w.-]+)(?:\[(\d+)\])?$")


def _path_below(root: etree._Element, libxml2_path: str | None) -> str:
    """Our element path for a libxml2 path relative to a validation root, such as
    ``/l:Variable/r:Label[2]`` or ``/pi:PhysicalInstance/*[7]`` (libxml2 writes ``*`` for
    elements it does not know): the steps are followed in the tree and named again."""
    steps = [s for s in (libxml2_path or "").split("/") if s][1:]
    node = root
    for step in steps:
        match = _STEP.match(step)
        if match is None:
            return element_path(root) + "/" + "/".join(steps)
        name, position = match.group(1), int(match.group(2) or 1)
        children = [c for c in node if isinstance(c.tag, str)
                    and (name == "*" or etree.QName(c).localname == name)]
        if len(children) < position:
            return element_path(root) + "/" + "/".join(steps)
        node = children[position - 1]
    return element_path(node)


@dataclass
class _Pending:
    message: str
    #: line of the first element handed out after the error appeared (fallback location)
    near_line: int | None


def _finding(message: str, line: int | None, path: str) -> Finding:
    text = prefixed(message.strip())
    expected: tuple[str, ...] = ()
    match = _EXPECTED.search(message)
    if match:
        expected = tuple(prefixed(x.strip()) for x in match.group(1).split(",") if x.strip())
    return Finding("error", XSD_RULE, text, line=line or None, path=path, expected=expected)


def validate_xsd(info: DocumentInfo, schema: CompiledSchema, *,
                 streaming: bool | None = None) -> list[Finding]:
    """Validate the file described by ``info`` against the official XSD of its version.

    ``streaming`` forces one way or the other (both give the same findings; tests check
    it); by default, large files are streamed and small ones validated as a tree."""
    if info.envelope is not None:
        return _validate_tree(info, schema)
    if streaming is None:
        streaming = info.size > TREE_BYTES
    return _validate_streaming(info, schema) if streaming else _validate_tree(info, schema)


def _unit_tags(info: DocumentInfo, schema: CompiledSchema) -> list[str]:
    ns = f"ddi:instance:{info.ddi_version.replace('.', '_')}"
    return sorted(schema.versionable | {info.ddi_root, f"{{{ns}}}Fragment"})


class _ErrorSink(etree.PyErrorLog):  # type: ignore[misc]
    """Receives libxml2 messages as they are emitted, in this thread.

    lxml forwards every error to the thread's global log; a streaming parse's own log is
    only reachable through a copy, far too slow to read after each element.
    """

    def __init__(self) -> None:
        super().__init__()
        self.collecting: list[str] | None = None

    def receive(self, entry: etree._LogEntry) -> None:
        if self.collecting is not None and entry.domain_name == "SCHEMASV":
            self.collecting.append(entry.message)


_sinks = threading.local()


def _sink() -> _ErrorSink:
    sink: _ErrorSink | None = getattr(_sinks, "sink", None)
    if sink is None:
        sink = _ErrorSink()
        etree.use_global_python_log(sink)
        _sinks.sink = sink
    return sink


def _validate_streaming(info: DocumentInfo, schema: CompiledSchema) -> list[Finding]:
    findings: list[Finding] = []
    pending: list[_Pending] = []
    arrived: list[str] = []
    sink = _sink()
    with schema.lock:
        events = etree.iterparse(
            str(info.path), events=("end",), tag=_unit_tags(info, schema), schema=schema.xsd,
            **safe_parser_options(),
        )
        sink.collecting = arrived
        try:
            for _event, element in events:
                if arrived:
                    # Errors of a chunk arrive before its elements are handed out, so the
                    # unit holding each of them ends now or later.
                    pending.extend(_Pending(m, element.sourceline) for m in arrived)
                    arrived.clear()
                if pending:
                    sink.collecting = None
                    _locate(element, schema, pending, findings)
                    sink.collecting = arrived
                element.clear(keep_tail=True)
        except etree.XMLSyntaxError as exc:
            if any(e.domain_name != "SCHEMASV" for e in events.error_log):
                raise UnusableInput(syntax_error_message(str(info.path), exc)) from None
            # libxml2 ends a schema-invalid parse by raising its first validity error once
            # every element has been handed out; the findings are complete.
        finally:
            sink.collecting = None
    pending.extend(_Pending(m, None) for m in arrived)
    for item in pending:
        findings.append(_finding(item.message, item.near_line, ""))
    return sorted(findings, key=Finding.sort_key)


def _locate(element: etree._Element, schema: CompiledSchema, pending: list[_Pending],
            findings: list[Finding]) -> None:
    """Validate ``element`` alone and take out of ``pending`` the errors it reproduces."""
    schema.xsd.validate(element)
    for entry in schema.xsd.error_log:
        for index, item in enumerate(pending):
            if item.message == entry.message:
                path = _path_below(element, entry.path)
                findings.append(_finding(entry.message, entry.line, path))
                del pending[index]
                break
        if not pending:
            return


def _validate_tree(info: DocumentInfo, schema: CompiledSchema) -> list[Finding]:
    parser = etree.XMLParser(**safe_parser_options())
    try:
        tree = etree.parse(str(info.path), parser)
    except etree.XMLSyntaxError as exc:
        raise UnusableInput(syntax_error_message(str(info.path), exc)) from None
    ddi = next(tree.getroot().iter(info.ddi_root), None)
    if ddi is None:  # pragma: no cover - inspect_document found it
        return []
    findings: list[Finding] = []
    with schema.lock:
        schema.xsd.validate(ddi)
        entries = list(schema.xsd.error_log)
    for entry in entries:
        findings.append(_finding(entry.message, entry.line, _path_below(ddi, entry.path)))
    return sorted(findings, key=Finding.sort_key)


def add_columns(path: Path, findings: Iterable[Finding]) -> list[Finding]:
    """Fill in the column of findings that have a line, from the element's start tag on
    that line (libxml2 gives no column for validity errors)."""
    todo = list(findings)
    wanted: dict[int, str] = {}
    for finding in todo:
        if finding.line and finding.column is None:
            wanted[finding.line] = ""
    if not wanted:
        return todo
    last = max(wanted)
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if number in wanted:
                wanted[number] = raw.decode("utf-8", errors="replace")
            if number >= last:
                break
    located = []
    for finding in todo:
        if finding.line and finding.column is None:
            column = _column_of(wanted.get(finding.line, ""), finding)
            located.append(_with_column(finding, column))
        else:
            located.append(finding)
    return located


def _column_of(text: str, finding: Finding) -> int | None:
    name = ""
    match = _ELEMENT.match(finding.message)
    if match:
        name = match.group(1).split(":")[-1].split("}")[-1]
    elif finding.path:
        name = finding.path.rsplit("/", 1)[-1].split("[", 1)[0]
    if not name:
        return None
    found = re.search(r"<(?:[\w.-]+:)?" + re.escape(name) + r"(?=[\s/>])", text)
    return found.start() + 1 if found else None


def _with_column(finding: Finding, column: int | None) -> Finding:
    return Finding(finding.severity, finding.rule, finding.message, finding.line, column,
                   finding.path, finding.expected)
