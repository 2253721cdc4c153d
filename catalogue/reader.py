"""Streaming reader: DDI-L 3.2/3.3 files into the catalogue's model.

One pass of ``lxml.etree.iterparse`` that stops only at versionable elements (the set
comes from the official XSD's own type hierarchy). When a versionable ends, one scan of
its ``r:ID``/``r:URN`` markers tells apart its own identity, the identifiable children
published inside it (codes, collection events, parameters) and its references; it is
then turned into model items and removed from the tree, so memory stays bounded by the
largest single item, not by the file.

Structure is never taken from nesting: every pointer becomes a :class:`Reference`, and
an item published inline inside another only records that other item as its ``parent``.
This reads DDIInstance, FragmentInstance (one object per Fragment, in any order), an
OAI-PMH record wrapping DDI-L and bare maintainables alike.

Two modes: ``model`` builds every item (for publishing and browsing); ``facts`` only
feeds the profile checker (for ``catalogue validate``, about three times faster), and
walks a file of up to 32 MB parsed whole rather than streamed (see ``_events``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from lxml import etree

from catalogue.codec import encode_item
from catalogue.ddi_text import XML_LANG, inherited_lang, lang_text
from catalogue.errors import UnusableInput
from catalogue.model import ACCESS_ATTRIBUTE, AnyItem, Identity, LangText, Reference, parse_urn
from ddi_schemas.inspect import (
    TREE_BYTES,
    DocumentInfo,
    ParsedTree,
    safe_parser_options,
    syntax_error_message,
)
from ddi_schemas.profile import ProfileChecker, RefTarget
from ddi_schemas.registry import CompiledSchema

Mode = Literal["model", "facts"]


@dataclass(frozen=True, slots=True)
class ReadItem:
    """An item and, when asked for, its XML as published (versionables published inside
    it are items of their own and are not repeated in it)."""

    item: AnyItem
    xml: bytes | None = None
    #: False for identifiables that are not versionable (codes, parameters...): those
    #: are often referenced with another item's version and resolve by Agency+ID.
    versionable: bool = True
    #: The item's canonical JSON (catalogue.codec.encode_item), computed once while
    #: reading: it fingerprints the content for the profile rules and is what is stored.
    data: str | None = None


@dataclass
class ReadSummary:
    """What is known about the file as a whole once it has been read."""

    root_identity: Identity | None = None
    top_level: list[Reference] = field(default_factory=list)
    title: LangText = LangText()
    item_count: int = 0


class Names:
    """Clark names of the DDI-L elements the reader looks for, for one version."""

    def __init__(self, version: str) -> None:
        suffix = version.replace(".", "_")
        self.version = version
        self.r = f"{{ddi:reusable:{suffix}}}"
        self.d = f"{{ddi:datacollection:{suffix}}}"
        self.lp = f"{{ddi:logicalproduct:{suffix}}}"
        self.c = f"{{ddi:conceptualcomponent:{suffix}}}"
        self.ddi = f"{{ddi:instance:{suffix}}}"
        r = self.r
        self.urn, self.agency, self.id, self.version_tag = (
            r + "URN", r + "Agency", r + "ID", r + "Version")
        self.type_of_object = r + "TypeOfObject"
        self.label, self.description = r + "Label", r + "Description"
        self.string, self.content = r + "String", r + "Content"
        self.user_attribute_pair = r + "UserAttributePair"
        self.attribute_key, self.attribute_value = r + "AttributeKey", r + "AttributeValue"
        self.variable = self.lp + "Variable"
        self.variable_name = self.lp + "VariableName"
        self.question_text, self.text = self.d + "QuestionText", self.d + "Text"
        self.code, self.value = self.lp + "Code", r + "Value"
        self.category_reference = r + "CategoryReference"
        self.code_list_reference = r + "CodeListReference"
        self.number_range, self.low, self.high = r + "NumberRange", r + "Low", r + "High"
        self.measurement_unit, self.numeric_type_code = r + "MeasurementUnit", r + "NumericTypeCode"
        self.date_field_format, self.date_type_code = r + "DateFieldFormat", r + "DateTypeCode"
        self.text_representation = r + "TextRepresentation"
        d = self.d
        self.question_text_path = f"{d}QuestionText/{d}LiteralText/{d}Text"
        self.question_plain_text_path = f"{d}QuestionText/{d}Text"
        self.inline_instruction_path = (
            f"{d}InterviewerInstruction/{d}InstructionText/{d}LiteralText/{d}Text")


def local_name(tag: str) -> str:
    return tag[tag.index("}") + 1:] if tag[:1] == "{" else tag


@lru_cache(maxsize=1024)
def reference_role(element_name: str) -> str:
    """What a reference element means for its item: ``QuestionReference`` -> question."""
    special = _ROLES.get(element_name)
    if special:
        return special
    base = element_name[: -len("Reference")] if element_name.endswith("Reference") else (
        element_name)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()


@lru_cache(maxsize=1024)
def _role_of_tag(tag: str) -> str:
    """:func:`reference_role` of a namespaced element name."""
    return reference_role(local_name(tag))


_ROLES = {
    "ControlConstructReference": "child",
    "ThenConstructReference": "then",
    "ElseConstructReference": "else",
    "UntilConstructReference": "child",
    "WhileConstructReference": "child",
    "InterviewerInstructionReference": "instruction",
    "SubclassOfReference": "broader",
    "SubGroupReference": "group",
}


@dataclass(slots=True)
class Scan:
    """What one scan of a versionable's identity markers found."""

    identity: Identity | None
    #: identified elements published inside it, each with its identity, outermost first
    nested: list[tuple[etree._Element, Identity]]
    #: references, keyed by the element that owns them (the versionable or a nested one)
    references: dict[etree._Element, list[Reference]]


class DocumentReader:
    """Iterate over the items of one DDI-L file (see the module docstring)."""

    def __init__(self, info: DocumentInfo, schema: CompiledSchema,
                 checker: ProfileChecker | None = None, *, mode: Mode = "model",
                 keep_xml: bool = False, parsed: ParsedTree | None = None) -> None:
        self.info = info
        #: The file's tree, parsed by the caller beforehand (``facts`` mode, small files)
        self.parsed = parsed
        self.schema = schema
        self.checker = checker
        self.mode = mode
        self.keep_xml = keep_xml and mode == "model"
        self.names = Names(info.ddi_version)
        self.summary = ReadSummary()
        self._identity_cache: dict[etree._Element, Identity | None] = {}
        self._reading: etree._Element | None = None
        self._in_grid = False
        self._seen_languages: set[str] = set()
        self._seen_dates: set[str] = set()
        self._strings: dict[str, str] = {}
        #: Items built from the identifiables inside the versionable being read, by element
        #: (a code list takes its codes from here instead of reading them twice).
        self.nested_items: dict[etree._Element, AnyItem] = {}

    def __iter__(self) -> Iterator[ReadItem]:
        n = self.names
        fragment, top_level = n.ddi + "Fragment", n.ddi + "TopLevelReference"
        tags = sorted(self.schema.versionable | {self.info.ddi_root, fragment, top_level})
        versionable, identifiable = self.schema.versionable, self.schema.identifiable
        facts = self.mode == "facts"
        try:
            events = self._events(tags)
            for _event, element in events:
                tag = element.tag
                if tag == top_level:
                    ref = self.reference_of(element, "top_level")
                    if ref is not None:
                        self.summary.top_level.append(ref)
                elif tag == fragment:
                    _detach(element)
                elif tag in versionable or tag in identifiable:
                    if facts:  # no items: straight to the checker, no generator
                        self._read_facts(element)
                    else:
                        yield from self._read(element)
                else:  # a root that is not itself an item (FragmentInstance, Citation...)
                    self._root_title(element)
        except etree.XMLSyntaxError as exc:
            raise UnusableInput(syntax_error_message(str(self.info.path), exc)) from None

    def _events(self, tags: list[str]) -> Iterator[tuple[str, etree._Element]]:
        """The end of each element named in ``tags``, in document order, parsed as the file
        is read. In ``facts`` mode, a file of up to :data:`TREE_BYTES` is parsed whole
        first, then walked: the same events (an element ends with all it holds) a fifth
        sooner (0.42 against 0.55-0.62 s for 25 MB), in the memory the XSD check of such
        a file takes anyway; or parsed already by the caller. Publishing keeps to the
        stream, its memory bounded by the largest item."""
        path = str(self.info.path)
        events: Iterator[tuple[str, etree._Element]]
        if self.mode == "model" or self.info.size > TREE_BYTES:
            events = etree.iterparse(path, events=("end",), tag=tags, **safe_parser_options())
        else:
            tree = (self.parsed.tree() if self.parsed is not None
                    else etree.parse(path, etree.XMLParser(**safe_parser_options())))
            events = etree.iterwalk(tree, events=("end",), tag=tags)
        return events

    # -- one versionable (and the identifiables inside it) --------------------------------

    def _read(self, element: etree._Element) -> Iterator[ReadItem]:
        # builders import this module; ``facts`` mode (validation) never needs them
        from catalogue.builders import build_item  # noqa: PLC0415

        self._reading = element
        self._in_grid = element.tag.endswith("}QuestionGrid")
        scan = self.scan(element)
        self._identity_cache.pop(element, None)
        is_root = self._is_ddi_root(element)
        versionable = element.tag in self.schema.versionable
        if scan.identity is None:
            if versionable and self.checker is not None:
                self.checker.missing_identity(local_name(element.tag), element.sourceline,
                                              lambda: self.item_path(element))
            if is_root:
                self._root_title(element)
            _detach(element)
            return
        parent = self.parent_identity(element)
        if is_root:
            self.summary.root_identity = scan.identity
            self._root_title(element)
        owners = {element: scan.identity, **dict(scan.nested)}
        self.nested_items = {}
        for nested, identity in scan.nested:
            item = build_item(self, nested, identity, scan.references.get(nested, ()),
                              self._owner_identity(nested, element, owners))
            self.nested_items[nested] = item
            data = encode_item(item)
            self._check_item(nested, item, data, versionable=False)
            self.summary.item_count += 1
            yield ReadItem(item, versionable=nested.tag in self.schema.versionable, data=data)
        item = build_item(self, element, scan.identity,
                          scan.references.get(element, ()), parent)
        data = encode_item(item)
        self._check_item(element, item, data, versionable=versionable)
        xml = etree.tostring(element, encoding="utf-8") if self.keep_xml else None
        self.summary.item_count += 1
        self.nested_items = {}
        yield ReadItem(item, xml, data=data)
        _detach(element)

    def _is_ddi_root(self, element: etree._Element) -> bool:
        """The outermost DDI-L element: the document root, or the DDI element inside an
        envelope (OAI-PMH), which names and titles the publication just the same."""
        if element.getparent() is None:
            return True
        return self.info.envelope is not None and element.tag == self.info.ddi_root

    def scan(self, element: etree._Element) -> Scan:
        """One pass over the ``r:ID``/``r:URN`` markers below ``element``."""
        n = self.names
        identifiable = self.schema.identifiable
        own = self.identity_of(element, report=True)
        nested: list[tuple[etree._Element, Identity]] = []
        references: dict[etree._Element, list[Reference]] = {}
        holders: set[etree._Element] = set()
        identified: set[etree._Element] = set()
        for marker in element.iter(n.id, n.urn):
            holder = marker.getparent()
            if holder is None or holder is element or holder in holders:
                continue
            holders.add(holder)
            if holder.tag in identifiable:
                identity = self.identity_of(holder, report=True)
                if identity is not None:
                    nested.append((holder, identity))
                    identified.add(holder)
                continue
            owner = self._owner(holder, element, identified)
            ref = self.reference_of(holder, None)
            if ref is not None:
                references.setdefault(owner, []).append(ref)
        return Scan(own, nested, references)

    @staticmethod
    def _owner(holder: etree._Element, element: etree._Element,
               identified: set[etree._Element]) -> etree._Element:
        """The nearest identified element that holds a reference: ``element``, or one of
        the identifiables published inside it, which :meth:`scan` has met by then (their
        identity is among their first children, before any reference they hold)."""
        node = holder.getparent()
        while node is not None and node is not element:
            if node in identified:
                return node
            node = node.getparent()
        return element

    def _owner_identity(self, nested: etree._Element, element: etree._Element,
                        owners: dict[etree._Element, Identity]) -> Identity:
        node = nested.getparent()
        while node is not None and node is not element:
            if node in owners:
                return owners[node]
            node = node.getparent()
        return owners[element]

    def _read_facts(self, element: etree._Element) -> None:
        """``facts`` mode: feed the profile checker straight from the tree (identities,
        references, labels, languages, dates), build no item, then drop the element.

        This is what ``catalogue validate`` spends its time on, next to the XSD; it is
        written for speed: names looked up once, no generator, no model objects."""
        self._identity_cache.pop(element, None)
        if element.getparent() is None or self._is_ddi_root(element):
            self._root_title(element)
        checker = self.checker
        if checker is not None:
            self._facts(element, checker)
        _detach(element)

    def _facts(self, element: etree._Element, checker: ProfileChecker) -> None:
        n = self.names
        schema = self.schema
        tag = element.tag
        is_versionable = tag in schema.versionable
        own = self._identity_tuple(element, True)
        line = element.sourceline
        if own is None:
            if is_versionable:
                checker.missing_identity(local_name(tag), line,
                                         lambda: self.item_path(element))
            return
        checker.identity(own[0], own[1], own[2], None, versionable=is_versionable,
                         line=line, path=lambda: self.item_path(element))
        identifiable = schema.identifiable
        agency_tag, id_tag, version_tag, urn_tag = n.agency, n.id, n.version_tag, n.urn
        type_tag = n.type_of_object
        reference = checker.reference
        holders: set[etree._Element] = set()
        for marker in element.iter(id_tag, urn_tag):
            holder = marker.getparent()
            if holder is None or holder is element or holder in holders:
                continue
            holders.add(holder)
            if holder.tag in identifiable:
                nested = self._identity_tuple(holder, True)
                if nested is not None:
                    checker.identity(nested[0], nested[1], nested[2], None, versionable=False,
                                     line=holder.sourceline,
                                     path=lambda h=holder: self.item_path(h))  # type: ignore[misc]
                continue
            agency = id_ = version = type_ = urn = None
            for child in holder:
                child_tag = child.tag
                if child_tag == agency_tag:
                    agency = child.text
                elif child_tag == id_tag:
                    id_ = child.text
                elif child_tag == version_tag:
                    version = child.text
                elif child_tag == type_tag:
                    type_ = child.text
                elif child_tag == urn_tag:
                    urn = child.text
            if not agency or not id_:
                parts = parse_urn(urn or "")
                if parts is None:
                    continue
                agency, id_, version = parts.agency, parts.id, version or parts.version
            reference(
                RefTarget(agency.strip(), id_.strip(), version.strip() if version else None),
                type_, holder.sourceline, lambda h=holder: self.item_path(h))  # type: ignore[misc]
        version_date = element.get("versionDate")
        if version_date and version_date not in self._seen_dates:
            self.note_date(version_date, "versionDate", element)
        # Labels, question texts and a variable's name, in one pass over the children.
        label_tag, question_text, variable_name = n.label, n.question_text, n.variable_name
        seen_languages = self._seen_languages
        labelled = False
        name = ""
        access: str | None = None
        for child in element:
            child_tag = child.tag
            if child_tag == n.user_attribute_pair and tag == n.variable:
                if (child.findtext(n.attribute_key) or "").strip() == ACCESS_ATTRIBUTE:
                    access = child.findtext(n.attribute_value) or ""
            elif child_tag == label_tag:
                for content in child:
                    labelled = labelled or bool((content.text or "").strip() or len(content))
                    lang = content.get(XML_LANG)
                    if lang not in seen_languages:
                        self._note_lang(content)
            elif child_tag == question_text:
                for text in child.iter(n.text):
                    if text.get(XML_LANG) not in seen_languages:
                        self._note_lang(text)
            elif child_tag == variable_name:
                name_el = child.find(n.string)
                if name_el is not None:
                    name = (name_el.text or "").strip()
        if tag == n.variable:
            checker.variable(name, labelled, f"urn:ddi:{own[0]}:{own[1]}:{own[2]}", line,
                             lambda: self.item_path(element), access)

    def _note_lang(self, holder: etree._Element) -> None:
        lang = holder.get(XML_LANG)
        if lang is None:
            lang = inherited_lang(holder)
        if lang not in self._seen_languages:
            self._seen_languages.add(lang)
            if self.checker is not None:
                self.checker.language(lang, holder.sourceline, lambda: self.item_path(holder))

    def _check_item(self, element: etree._Element, item: AnyItem, data: str, *,
                    versionable: bool) -> None:
        checker = self.checker
        if checker is None:
            return
        line = element.sourceline
        ident = item.identity

        def path() -> str:
            return self.item_path(element)

        checker.identity(ident.agency, ident.id, ident.version, hash(data),
                         versionable=versionable, line=line, path=path)
        if item.version_date:
            self.note_date(item.version_date, "versionDate", element)
        for text in (item.label, item.description):
            self.note_languages(text, element)
        if item.kind == "Variable":
            checker.variable(item.name, bool(item.label), item.urn, line, path,
                             item.attribute(ACCESS_ATTRIBUTE))

    def note_languages(self, text: LangText, element: etree._Element) -> None:
        """Report new language tags to the profile checker."""
        if self.checker is None:
            return
        for lang, _ in text.values:
            if lang not in self._seen_languages:
                self._seen_languages.add(lang)
                self.checker.language(lang, element.sourceline,
                                      lambda: self.item_path(element))

    def note_date(self, value: str | None, what: str, element: etree._Element) -> None:
        if self.checker is None or not value or value in self._seen_dates:
            return
        self._seen_dates.add(value)
        self.checker.date(value, what, element.sourceline, lambda: self.item_path(element))

    # -- identity and references ---------------------------------------------------------

    def identity_of(self, element: etree._Element, *, report: bool = False) -> Identity | None:
        """Agency/ID/Version (or the URN) among the first children of an identifiable."""
        found = self._identity_tuple(element, report)
        return Identity(*found) if found is not None else None

    def _identity_tuple(self, element: etree._Element,
                        report: bool = False) -> tuple[str, str, str] | None:
        n = self.names
        urn = agency = id_ = version = None
        for child in element:
            tag = child.tag
            if tag == n.agency:
                agency = (child.text or "").strip()
            elif tag == n.id:
                id_ = (child.text or "").strip()
            elif tag == n.version_tag:
                version = (child.text or "").strip()
                break
            elif tag == n.urn:
                urn = (child.text or "").strip()
            elif isinstance(tag, str):
                break
        if urn:
            parts = parse_urn(urn)
            if parts is not None and parts.version:
                if agency and id_ and version and (agency, id_, version) != (
                        parts.agency, parts.id, parts.version):
                    if report and self.checker is not None:
                        self.checker.urn_mismatch(urn, agency, id_, version,
                                                  element.sourceline,
                                                  lambda: self.item_path(element))
                else:
                    agency, id_, version = parts.agency, parts.id, parts.version
        if not agency or not id_:
            return None
        return self._intern(agency), id_, self._intern(version or "1")

    def _intern(self, text: str) -> str:
        """One string object per distinct agency or version (millions of items share a
        handful)."""
        return self._strings.setdefault(text, text)

    def parent_identity(self, element: etree._Element) -> Identity | None:
        """The identity of the nearest identified element around ``element``."""
        node = element.getparent()
        identifiable = self.schema.identifiable
        while node is not None:
            if node.tag in identifiable:
                if node in self._identity_cache:
                    cached = self._identity_cache[node]
                else:
                    cached = self.identity_of(node)
                    if node.tag in self.schema.versionable:
                        # open versionables end later; the cache entry is dropped then
                        self._identity_cache[node] = cached
                if cached is not None:
                    return cached
            node = node.getparent()
        return None

    def reference_of(self, holder: etree._Element, role: str | None, *,
                     report: bool = True) -> Reference | None:
        n = self.names
        urn = agency = id_ = version = type_ = None
        for child in holder:
            tag = child.tag
            if tag == n.agency:
                agency = (child.text or "").strip()
            elif tag == n.id:
                id_ = (child.text or "").strip()
            elif tag == n.version_tag:
                version = (child.text or "").strip() or None
            elif tag == n.type_of_object:
                type_ = (child.text or "").strip() or None
            elif tag == n.urn:
                urn = (child.text or "").strip()
        if (not agency or not id_) and urn:
            parts = parse_urn(urn)
            if parts is not None:
                agency, id_, version = parts.agency, parts.id, version or parts.version
        if not agency or not id_:
            return None
        if role is None:
            role = _role_of_tag(holder.tag)
            if role == "code_list" and self._in_grid and self.inside(holder, "GridDimension"):
                role = "grid_code_list"
        if report and self.checker is not None and role != "top_level":
            self.checker.reference(RefTarget(agency, id_, version), type_,
                                   holder.sourceline, lambda: self.item_path(holder))
        return Reference(agency, id_, version, role, type_)

    @staticmethod
    def inside(element: etree._Element, local: str) -> bool:
        suffix = "}" + local
        node = element.getparent()
        while node is not None:
            tag = node.tag
            if isinstance(tag, str) and tag.endswith(suffix):
                return True
            node = node.getparent()
        return False

    # -- paths and titles ----------------------------------------------------------------

    def item_path(self, element: etree._Element) -> str:
        """A path that finds the element from the nearest identified item around it:
        ``//Variable[@ID='V1']/VariableRepresentation/CodeRepresentation``. IDs make it
        unambiguous and cheap: no walk to the document root, no sibling counting."""
        steps: list[str] = []
        node: etree._Element | None = element
        identifiable = self.schema.identifiable
        while node is not None:
            tag = node.tag
            if isinstance(tag, str):
                step = local_name(tag)
                if tag in identifiable:
                    found = self._identity_tuple(node)
                    if found is not None:
                        steps.append(f"{step}[@ID='{found[1]}']")
                        return "//" + "/".join(reversed(steps))
                steps.append(step)
            node = node.getparent()
        return "/" + "/".join(reversed(steps))

    def _root_title(self, element: etree._Element) -> None:
        r = self.names.r
        title = lang_text(element.findall(f"{r}Citation/{r}Title/{self.names.string}"))
        if title:
            self.summary.title = title
            self.note_languages(title, element)


def _detach(element: etree._Element) -> None:
    """Drop a finished element from the tree so that memory does not grow with the file."""
    parent = element.getparent()
    element.clear(keep_tail=False)
    if parent is not None:
        parent.remove(element)
