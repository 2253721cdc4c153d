"""First look at an input file: is it safe XML, is it DDI-L, which version, where is the DDI?

Only the prolog and the first elements are read. Files with a DOCTYPE that declares
entities or points at an external DTD are refused (XXE, billion laughs), as are empty
files, files that are not XML, and XML whose root is not DDI-L (an OAI-PMH envelope
around DDI-L is accepted and looked into).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from catalogue.errors import UnusableInput
from ddi_schemas.registry import check_supported, ddi_version_of_namespace

OAI_NAMESPACE = "http://www.openarchives.org/OAI/2.0/"
_CHUNK = 64 * 1024
#: How far into an envelope (OAI-PMH header...) the DDI element may start.
_ENVELOPE_LIMIT = 4 * 1024 * 1024
#: Files up to this size are parsed whole (a tree takes about six times its file): for
#: their XSD validation (:mod:`ddi_schemas.xsd`) and for the profile rules' reading
#: (:mod:`catalogue.reader`). Larger files are streamed.
TREE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    path: Path
    size: int
    ddi_version: str
    #: Clark name of the outermost DDI-L element (the document root, or the DDI element
    #: inside an envelope)
    ddi_root: str
    #: Clark name of the document root (differs from ddi_root for an envelope)
    document_root: str
    #: "oai-pmh" when the DDI-L sits inside an OAI-PMH record
    envelope: str | None = None

    @property
    def root_name(self) -> str:
        return str(etree.QName(self.ddi_root).localname)


def safe_parser_options() -> dict[str, bool]:
    """Options for every parse of untrusted input: no entities, no DTD, no network."""
    return {"resolve_entities": False, "load_dtd": False, "no_network": True, "huge_tree": False}


def inspect_document(path: Path) -> DocumentInfo:
    """Read the beginning of ``path`` and say what it is; raise UnusableInput otherwise."""
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnusableInput(f"{name}: cannot read the file ({exc.strerror})") from None
    if path.is_dir():
        raise UnusableInput(f"{name}: is a directory, expected a DDI-L XML file")
    if size == 0:
        raise UnusableInput(f"{name}: the file is empty; expected a DDI-L XML document")
    parser = etree.XMLPullParser(events=("start",), **safe_parser_options())
    document_root: str | None = None
    read = 0
    head = b""
    try:
        with path.open("rb") as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                if not read:
                    head = chunk
                read += len(chunk)
                parser.feed(chunk)
                for _event, element in parser.read_events():
                    if document_root is None:
                        document_root = element.tag
                        _refuse_dangerous_doctype(name, element)
                    namespace = etree.QName(element).namespace or ""
                    version = ddi_version_of_namespace(namespace)
                    if version is not None:
                        check_supported(version, namespace)
                        envelope = None if element.tag == document_root else _envelope(
                            name, document_root)
                        return DocumentInfo(path, size, version, element.tag, document_root,
                                            envelope)
                    if element.tag == document_root and not _is_envelope(document_root):
                        raise UnusableInput(
                            f"{name}: not a DDI-Lifecycle document: the root element is "
                            f"{_describe(element.tag)}; expected an element in a DDI-L 3.2 or "
                            "3.3 namespace such as ddi:instance:3_3"
                        )
                if read > _ENVELOPE_LIMIT:
                    break
            parser.close()
    except etree.XMLSyntaxError as exc:
        if document_root is None and b"<!ENTITY" in head:
            # libxml2 may refuse the entity declarations themselves (amplification limit)
            # before the root element is seen: say why the file is refused.
            raise UnusableInput(_doctype_refusal(name, "declares entities")) from None
        raise UnusableInput(_syntax_message(name, exc)) from None
    if document_root is None:
        raise UnusableInput(f"{name}: no XML element found; expected a DDI-L XML document")
    raise UnusableInput(
        f"{name}: no DDI-L element found inside {_describe(document_root)}; expected a "
        "DDIInstance, FragmentInstance or another element in a DDI-L namespace"
    )


def _refuse_dangerous_doctype(name: str, element: etree._Element) -> None:
    docinfo = element.getroottree().docinfo
    dtd = docinfo.internalDTD
    entities = [e.name for e in dtd.iterentities()] if dtd is not None else []
    if entities or docinfo.system_url or docinfo.public_id:
        what = (f"declares entities ({', '.join(str(e) for e in entities[:5])})" if entities
                else f"points at an external DTD ({docinfo.system_url or docinfo.public_id})")
        raise UnusableInput(_doctype_refusal(name, what))


def _doctype_refusal(name: str, what: str) -> str:
    return (f"{name}: refused: the DOCTYPE {what}. DDI-L files do not use DTDs; entity "
            "declarations are refused because they can expand without bound or read other "
            "files. Remove the DOCTYPE.")


def _is_envelope(tag: str) -> bool:
    return bool(etree.QName(tag).namespace == OAI_NAMESPACE)


def _envelope(name: str, document_root: str | None) -> str:
    if document_root is not None and _is_envelope(document_root):
        return "oai-pmh"
    raise UnusableInput(f"{name}: DDI-L found inside an unsupported envelope "
                        f"{_describe(document_root or '')}")


def _describe(tag: str) -> str:
    qname = etree.QName(tag)
    if qname.namespace:
        return f"<{qname.localname}> in namespace {qname.namespace}"
    return f"<{qname.localname}> with no namespace"


def _syntax_message(name: str, exc: etree.XMLSyntaxError) -> str:
    line, column = exc.position if exc.position else (exc.lineno, 0)
    message = exc.msg if hasattr(exc, "msg") and exc.msg else str(exc)
    if "Document is empty" in message or "Start tag expected" in message:
        return f"{name}: line {line}: no XML content; expected a DDI-L XML document"
    return f"{name}: line {line}, column {column}: not well-formed XML: {message}"


def syntax_error_message(name: str, exc: etree.XMLSyntaxError) -> str:
    """A located message for a well-formedness error met later in the file."""
    return _syntax_message(name, exc)


class ParsedTree:
    """A file parsed whole in a thread of its own. libxml2 parses without holding the GIL,
    so a command that starts it first (:func:`parse_early`) has the tree parsed while it
    imports what reads it. :meth:`tree` waits for it, and raises what the parse raised."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tree: etree._ElementTree | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._parse, daemon=True,
                                        name="catalogue-parse")
        self._thread.start()

    def _parse(self) -> None:
        try:
            self._tree = etree.parse(str(self.path), etree.XMLParser(**safe_parser_options()))
        except BaseException as exc:  # noqa: BLE001 - raised again by tree()
            self._error = exc

    def tree(self) -> etree._ElementTree:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._tree


def parse_early(path: Path) -> ParsedTree | None:
    """``path`` parsed whole in a thread, when it is a DDI-L file of up to
    :data:`TREE_BYTES` (checked first: nothing unsafe is parsed); None otherwise, the
    file left to the caller's own checks."""
    try:
        info = inspect_document(path)
    except UnusableInput:
        return None
    return ParsedTree(path) if info.size <= TREE_BYTES else None
