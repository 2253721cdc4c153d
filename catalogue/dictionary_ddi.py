"""A checked data dictionary as a DDI-Lifecycle 3.3 ``DDIInstance``, and back.

Layout of the output (the conventions the catalogue's reader relies on):

- ``g:Group`` (one per cohort) holding a ``s:StudyUnit`` per wave or data source, each with
  a ``d:DataCollection`` (collection event with dates and modes, a ControlConstructScheme
  with one ``d:Sequence`` of ``d:QuestionConstruct`` per instrument, an InstrumentScheme)
  and an ``l:LogicalProduct`` whose ``l:VariableScheme`` holds the wave's variables;
- one ``g:ResourcePackage`` after the Group with what the waves share: the UniverseScheme,
  the QuestionScheme (a question asked in several waves is one QuestionItem), the
  CategoryScheme and the CodeListScheme. Topics are ``c:Concept`` of a separate
  publication (``cohorts/topics/topics.xml``), referenced with their own agency.

IDs come from natural keys (``var-V1-BMI_V1``, ``q-TABAC_STATUT``, ``cl-OUI_NON``...), so
they are stable. Versions are integers: an item keeps the version it has in the previous
output when its content (its own fields, its children's identities and versions, the
versions it references) is unchanged, and gets the next integer otherwise. ``published``
gives the highest version the catalogue ever published for an ID of the agency: a version
is never given twice, even to an item that left the dictionary and came back changed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from lxml import etree

from catalogue.dictionary import (
    MODES,
    Dictionary,
    QuestionEntry,
    Row,
    StudyFacts,
    WaveEntry,
)
from catalogue.errors import UnusableInput

NS = {
    "ddi": "ddi:instance:3_3", "r": "ddi:reusable:3_3", "g": "ddi:group:3_3",
    "s": "ddi:studyunit:3_3", "d": "ddi:datacollection:3_3", "l": "ddi:logicalproduct:3_3",
    "c": "ddi:conceptualcomponent:3_3",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LANGUAGES = ("fr", "en")


@functools.cache
def q(name: str) -> str:
    """``"r:Label"`` -> ``"{ddi:reusable:3_3}Label"``."""
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


_R_ID, _R_AGENCY, _R_VERSION, _R_TYPE = q("r:ID"), q("r:Agency"), q("r:Version"), q(
    "r:TypeOfObject")
_R_PAIR, _R_KEY, _R_VALUE = q("r:UserAttributePair"), q("r:AttributeKey"), q("r:AttributeValue")
_SUB = etree.SubElement
_CODE_LIST = q("l:CodeList")
#: Identifiable (not versionable) elements: they carry the version of the item holding them.
_OWNED = frozenset({q("l:Code"), q("d:CollectionEvent"), q("d:ModeOfCollection"),
                    q("r:TemporalCoverage")})
#: Versionable elements that never hold another versionable in this layout.
_LEAVES = frozenset(q(t) for t in (
    "l:Variable", "d:QuestionItem", "l:Category", "l:CodeList", "c:Universe", "c:Concept",
    "d:QuestionConstruct", "d:Sequence", "d:Instrument"))
#: Every versionable element this module writes, to find them in a previous output.
_WRITTEN = _LEAVES | frozenset(q(t) for t in (
    "ddi:DDIInstance", "g:Group", "g:ResourcePackage", "s:StudyUnit", "d:DataCollection",
    "l:LogicalProduct", "l:VariableScheme", "d:QuestionScheme", "l:CategoryScheme",
    "l:CodeListScheme", "c:UniverseScheme", "c:ConceptScheme", "d:ControlConstructScheme",
    "d:InstrumentScheme"))

_NUMERIC_TYPES = {"integer": "Integer", "decimal": "Decimal"}
_DATE_TYPES = {"date": ("YYYY-MM-DD", "Date"), "year": ("YYYY", "Year")}


@dataclass(frozen=True, slots=True)
class TopicRef:
    """Where a topic concept is published: what variables and questions reference."""

    agency: str
    id: str
    version: str


@dataclass(frozen=True, slots=True)
class Topic:
    """A row of the topics table."""

    id: str
    label_fr: str
    label_en: str
    description_fr: str = ""
    description_en: str = ""


_Element: TypeAlias = etree._Element


def dictionary_to_ddi(dictionary: Dictionary, *, agency: str, topics: Mapping[str, TopicRef],
                      previous: bytes | None = None,
                      published: Mapping[str, int] | None = None) -> bytes:
    """The DDIInstance for ``dictionary``; ``previous`` is the last output, and
    ``published`` the highest version already published per ID, for versions."""
    build = _Builder(agency, _PreviousOutput(previous), published)
    study = dictionary.study
    group_id = study.id or study.slug or agency.rsplit(".", 1)[-1]
    root = build.item(None, "ddi:DDIInstance", f"{group_id}-publication")
    package = _shared_package(build, dictionary, group_id, topics)
    group = build.item(root, "g:Group", group_id, _group_attributes(study))
    _study_content(build, group, study, group_id)
    reqs = build.sub(group, "r:RequiredResourcePackages")
    build.ref(reqs, "r:ResourcePackageReference", "ResourcePackage", f"{group_id}-resources")
    for wave in dictionary.waves:
        _study_unit(build, group, wave, topics)
    build.finish(group)
    root.append(package)
    build.finish(root)
    return _serialize(root)


def topics_to_ddi(topics: Iterable[Topic], *, agency: str,
                  previous: bytes | None = None,
                  published: Mapping[str, int] | None = None) -> bytes:
    """The shared topics as a ConceptScheme in a ResourcePackage of its own."""
    build = _Builder(agency, _PreviousOutput(previous), published)
    root = build.item(None, "ddi:DDIInstance", "topics-publication")
    package = build.item(root, "g:ResourcePackage", "topics-resources")
    citation = build.sub(package, "r:Citation")
    build.strings(citation, "r:Title", {"fr": "Thèmes des cohortes", "en": "Cohort topics"})
    scheme = build.item(package, "c:ConceptScheme", "topics")
    build.names(scheme, "c:ConceptSchemeName", "topics")
    build.texts(scheme, "r:Label", {"fr": "Thèmes partagés par les cohortes",
                                    "en": "Topics shared by the cohorts"})
    for topic in topics:
        concept = build.item(scheme, "c:Concept", topic.id)
        build.names(concept, "c:ConceptName", topic.id)
        build.texts(concept, "r:Label", {"fr": topic.label_fr, "en": topic.label_en})
        build.texts(concept, "r:Description", {"fr": topic.description_fr,
                                               "en": topic.description_en})
        build.finish(concept)
    build.finish(scheme)
    build.finish(package)
    build.finish(root)
    return _serialize(root)


def _serialize(root: _Element) -> bytes:
    etree.cleanup_namespaces(root, top_nsmap=NS)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


def read_topic_refs(xml: bytes) -> dict[str, TopicRef]:
    """Topic id -> where it is published, from a topics publication."""
    root = _parse(xml, "topics file")
    refs = {}
    for concept in root.iter(q("c:Concept")):
        agency, id_, version = (concept.findtext(t) for t in (_R_AGENCY, _R_ID, _R_VERSION))
        if agency and id_ and version:
            refs[id_] = TopicRef(agency, id_, version)
    return refs


def _parse(xml: bytes, what: str) -> _Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True,
                             remove_blank_text=True)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise UnusableInput(f"the {what} is not readable XML: {exc.msg}") from None


class _Builder:
    """Creates DDI elements and gives each versionable item its version once complete."""

    def __init__(self, agency: str, previous: _PreviousOutput,
                 published: Mapping[str, int] | None = None) -> None:
        self.agency = agency
        self.previous = previous
        self.published = published or {}
        self.versions: dict[str, str] = {}
        self.changed = 0

    def sub(self, parent: _Element | None, tag: str, text: str | None = None,
            **attributes: str) -> _Element:
        el = etree.Element(q(tag), nsmap=NS) if parent is None else _SUB(parent, q(tag))
        if text is not None:
            el.text = text
        for key, value in attributes.items():
            el.set(key, value)
        return el

    def item(self, parent: _Element | None, tag: str, id_: str,
             attributes: Iterable[tuple[str, str]] = ()) -> _Element:
        """An identified element; its version is set by :meth:`finish`."""
        el = self.sub(parent, tag)
        _SUB(el, _R_AGENCY).text = self.agency
        _SUB(el, _R_ID).text = id_
        _SUB(el, _R_VERSION).text = "0"
        for key, value in attributes:
            pair = _SUB(el, _R_PAIR)
            _SUB(pair, _R_KEY).text = key
            _SUB(pair, _R_VALUE).text = value
        return el

    def ref(self, parent: _Element, tag: str, type_: str, id_: str,
            target: TopicRef | None = None) -> None:
        el = _SUB(parent, q(tag))
        _SUB(el, _R_AGENCY).text = target.agency if target else self.agency
        _SUB(el, _R_ID).text = id_
        _SUB(el, _R_VERSION).text = target.version if target else self.versions[id_]
        _SUB(el, _R_TYPE).text = type_

    def finish(self, el: _Element) -> str:
        """Give ``el`` (complete, children finished) its version: the previous one when the
        content is unchanged, else the next integer."""
        digest, own = _fingerprint(el)
        id_ = el.findtext(_R_ID) or ""
        before = self.previous.get((el.tag, self.agency, id_))
        highest = self.published.get(id_, 0)
        if before is None:
            version = str(highest + 1)
        elif before[1] == digest:
            version = before[0]
        else:
            version = str(max(int(before[0].split(".")[0]), highest) + 1)
        if before is None or before[0] != version:
            self.changed += 1
        for node in own:
            node.text = version
        self.versions[id_] = version
        return version

    def strings(self, parent: _Element, tag: str, by_lang: Mapping[str, str]) -> None:
        """An InternationalString (``r:String`` per language), skipped when all are empty."""
        if any(by_lang.values()):
            el = self.sub(parent, tag)
            for lang, text in by_lang.items():
                if text:
                    self.sub(el, "r:String", text).set(XML_LANG, lang)

    def texts(self, parent: _Element, tag: str, by_lang: Mapping[str, str]) -> None:
        """A StructuredString (``r:Content`` per language), skipped when all are empty."""
        if any(by_lang.values()):
            el = self.sub(parent, tag)
            for lang, text in by_lang.items():
                if text:
                    self.sub(el, "r:Content", text).set(XML_LANG, lang)

    def names(self, parent: _Element, tag: str, name: str) -> None:
        self.sub(self.sub(parent, tag), "r:String", name)


def _fingerprint(el: _Element) -> tuple[bytes, list[_Element]]:
    """A digest of ``el``'s content with its own version left out, and the version elements
    that hold its own version (its own and those of the identifiables it owns).

    Nested versionable items count by identity and version only, so a change deep inside
    shows here through the version of the child that changed. Items that hold no other
    versionable (most of them) are digested from their exclusive C14N form."""
    if el.tag in _LEAVES:
        held = el.iter(*_OWNED) if el.tag == _CODE_LIST else ()  # only lists hold some
        own = [v for v in (el.find(_R_VERSION), *(o.find(_R_VERSION) for o in held))
               if v is not None]
        saved = [v.text for v in own]
        for v in own:
            v.text = "0"
        digest = hashlib.sha256(etree.tostring(el, method="c14n", exclusive=True)).digest()
        for v, text in zip(own, saved, strict=True):
            v.text = text
        return digest, own
    parts: list[str] = [el.tag, repr(sorted(el.attrib.items()))]
    own = []

    def walk(node: _Element) -> None:
        for child in node:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag == _R_VERSION and node.find(_R_TYPE) is None:
                own.append(child)
                parts.append("<version/>")
                continue
            if tag in _LEAVES or (tag not in _OWNED and child.find(_R_ID) is not None
                                  and child.find(_R_TYPE) is None):
                parts.append(f"<{tag} {child.findtext(_R_AGENCY)}:{child.findtext(_R_ID)}:"
                             f"{child.findtext(_R_VERSION)}/>")
                continue
            parts.append(f"<{tag} {sorted(child.attrib.items())}>{(child.text or '').strip()}")
            walk(child)
            parts.append("</>")

    walk(el)
    return hashlib.sha256("\x1f".join(parts).encode()).digest(), own


class _PreviousOutput:
    """The versionable items of the previous output, digested only when asked for."""

    def __init__(self, xml: bytes | None) -> None:
        self.items: dict[tuple[str, str, str], _Element] = {}
        if xml:
            root = _parse(xml, "previous output (--previous, or the existing --out file)")
            for el in root.iter(*_WRITTEN):
                key = (el.tag, el.findtext(_R_AGENCY) or "", el.findtext(_R_ID) or "")
                self.items[key] = el

    def get(self, key: tuple[str, str, str]) -> tuple[str, bytes] | None:
        """(version, digest) of an item, None when absent or its version is not a number."""
        el = self.items.get(key)
        version = el.findtext(_R_VERSION) if el is not None else None
        if el is None or not version or not version.split(".")[0].isdigit():
            return None
        return version, _fingerprint(el)[0]


# --- The cohort: Group, ResourcePackage, StudyUnits --------------------------------------


def _group_attributes(study: StudyFacts) -> list[tuple[str, str]]:
    pairs = []
    if study.participants is not None:
        pairs.append(("catalogue:participants", str(study.participants)))
    if study.slug:
        pairs.append(("catalogue:slug", study.slug))
    return pairs


def _study_content(build: _Builder, group: _Element, study: StudyFacts, group_id: str) -> None:
    if study.title_fr or study.title_en or study.alternate_title:
        citation = build.sub(group, "r:Citation")
        build.strings(citation, "r:Title", {"fr": study.title_fr, "en": study.title_en})
        if study.alternate_title:
            build.sub(build.sub(citation, "r:AlternateTitle"), "r:String", study.alternate_title)
    build.texts(group, "r:Abstract", {"fr": study.abstract_fr, "en": study.abstract_en})
    if study.funding_fr or study.funding_en:
        funding = build.sub(group, "r:FundingInformation")
        build.texts(funding, "r:Description", {"fr": study.funding_fr, "en": study.funding_en})
    build.texts(group, "r:Purpose", {"fr": study.purpose_fr, "en": study.purpose_en})
    if study.start or study.end:
        coverage = build.item(build.sub(group, "r:Coverage"), "r:TemporalCoverage",
                              f"{group_id}-temporal")
        _date_range(build, build.sub(coverage, "r:ReferenceDate"), study.start, study.end)
    if study.analysis_unit:
        build.sub(group, "r:AnalysisUnit", study.analysis_unit)
    if study.kind_of_data:
        build.sub(group, "r:KindOfData", study.kind_of_data)


def _date_range(build: _Builder, parent: _Element, start: str, end: str) -> None:
    if start:
        build.sub(parent, "r:StartDate", start)
    if end:
        build.sub(parent, "r:EndDate", end)


def _shared_package(build: _Builder, dictionary: Dictionary, group_id: str,
                    topics: Mapping[str, TopicRef]) -> _Element:
    """The ResourcePackage (built detached; it is placed after the Group)."""
    package = build.item(None, "g:ResourcePackage", f"{group_id}-resources")
    citation = build.sub(package, "r:Citation")
    build.strings(citation, "r:Title", {"fr": "Questions, univers et listes de codes partagés",
                                        "en": "Shared questions, universes and code lists"})
    categories = build.item(None, "l:CategoryScheme", f"{group_id}-categories")
    code_lists = build.item(None, "l:CodeListScheme", f"{group_id}-code-lists")
    for entry in dictionary.code_lists:
        for cat in entry.categories:
            category = build.item(categories, "l:Category", f"cat-{entry.name}-{cat.code}")
            if cat.code in entry.missing:
                category.set("isMissing", "true")
            build.texts(category, "r:Label", {"fr": cat.label_fr, "en": cat.label_en})
            build.finish(category)
        code_list = build.item(code_lists, "l:CodeList", f"cl-{entry.name}")
        build.names(code_list, "l:CodeListName", entry.name)
        for cat in entry.categories:
            code = build.item(code_list, "l:Code", f"code-{entry.name}-{cat.code}")
            build.ref(code, "r:CategoryReference", "Category", f"cat-{entry.name}-{cat.code}")
            build.sub(code, "r:Value", cat.code)
        build.finish(code_list)
    universes = build.item(None, "c:UniverseScheme", f"{group_id}-universes")
    for universe in dictionary.universes:
        el = build.item(universes, "c:Universe", f"u-{universe.key}")
        build.names(el, "c:UniverseName", universe.key)
        build.texts(el, "r:Label", {"fr": universe.label_fr, "en": universe.label_en})
        build.finish(el)
    questions = build.item(None, "d:QuestionScheme", f"{group_id}-questions")
    for question in dictionary.questions:
        _question_item(build, questions, question, topics)
    for scheme, has_items in ((universes, dictionary.universes),
                              (questions, dictionary.questions),
                              (categories, dictionary.code_lists),
                              (code_lists, dictionary.code_lists)):
        if has_items:
            build.finish(scheme)
            package.append(scheme)
    build.finish(package)
    return package


def _question_item(build: _Builder, scheme: _Element, question: QuestionEntry,
                   topics: Mapping[str, TopicRef]) -> None:
    el = build.item(scheme, "d:QuestionItem", f"q-{question.id}")
    build.names(el, "d:QuestionItemName", question.id)
    for lang, text in zip(LANGUAGES, (question.text_fr, question.text_en), strict=True):
        if text:
            wording = build.sub(el, "d:QuestionText", audienceLanguage=lang)
            build.sub(build.sub(wording, "d:LiteralText"), "d:Text", text).set(XML_LANG, lang)
    kind = question.response_type
    if kind == "code":
        domain = build.sub(el, "d:CodeDomain")
        build.ref(domain, "r:CodeListReference", "CodeList", f"cl-{question.code_list}")
    elif kind in _NUMERIC_TYPES:
        build.sub(build.sub(el, "d:NumericDomain"), "r:NumericTypeCode", _NUMERIC_TYPES[kind])
    elif kind in _DATE_TYPES:
        domain = build.sub(el, "d:DateTimeDomain")
        build.sub(domain, "r:DateFieldFormat", _DATE_TYPES[kind][0])
        build.sub(domain, "r:DateTypeCode", _DATE_TYPES[kind][1])
    else:
        build.sub(el, "d:TextDomain")
    if question.concept:
        build.ref(el, "r:ConceptReference", "Concept", question.concept, topics[question.concept])
    build.finish(el)


def _study_unit(build: _Builder, group: _Element, wave: WaveEntry,
                topics: Mapping[str, TopicRef]) -> None:
    key = wave.key
    unit = build.item(group, "s:StudyUnit", f"su-{key}")
    if wave.label_fr or wave.label_en:
        build.strings(build.sub(unit, "r:Citation"), "r:Title",
                      {"fr": wave.label_fr, "en": wave.label_en})
    constructs = build.item(None, "d:ControlConstructScheme", f"ccs-{key}")
    instruments = build.item(None, "d:InstrumentScheme", f"is-{key}")
    for instrument in wave.instruments:
        prefix = f"{key}-{instrument.key}"
        members = []
        for question_id in instrument.questions:
            construct = build.item(None, "d:QuestionConstruct", f"qc-{prefix}-{question_id}")
            build.ref(construct, "r:QuestionReference", "QuestionItem", f"q-{question_id}")
            build.finish(construct)
            members.append(construct)
        sequence = build.item(constructs, "d:Sequence", f"seq-{prefix}")
        build.names(sequence, "d:ConstructName", instrument.key)
        for construct in members:
            build.ref(sequence, "d:ControlConstructReference", "QuestionConstruct",
                      construct.findtext(_R_ID) or "")
        build.finish(sequence)
        constructs.extend(members)
        el = build.item(instruments, "d:Instrument", f"inst-{prefix}")
        build.names(el, "d:InstrumentName", instrument.key)
        build.texts(el, "r:Label", {"fr": instrument.label_fr, "en": instrument.label_en})
        build.ref(el, "d:ControlConstructReference", "Sequence", f"seq-{prefix}")
        build.finish(el)
    collection = build.item(unit, "d:DataCollection", f"dc-{key}")
    event = build.item(collection, "d:CollectionEvent", f"ce-{key}")
    if wave.start or wave.end:
        _date_range(build, build.sub(event, "d:DataCollectionDate"), wave.start, wave.end)
    for mode in wave.modes:
        el = build.item(event, "d:ModeOfCollection", f"mode-{key}-{mode}")
        build.sub(el, "d:TypeOfModeOfCollection", mode)
        build.texts(el, "r:Description", dict(zip(LANGUAGES, MODES[mode], strict=True)))
    for instrument in wave.instruments:
        build.ref(event, "d:InstrumentReference", "Instrument", f"inst-{key}-{instrument.key}")
    if wave.instruments:
        for scheme in (constructs, instruments):
            build.finish(scheme)
            collection.append(scheme)
    build.finish(collection)
    product = build.item(unit, "l:LogicalProduct", f"lp-{key}")
    variables = build.item(product, "l:VariableScheme", f"vs-{key}")
    for row in wave.variables:
        _variable(build, variables, row, topics)
    build.finish(variables)
    build.finish(product)
    build.finish(unit)


def _variable(build: _Builder, scheme: _Element, row: Row,
              topics: Mapping[str, TopicRef]) -> None:
    attributes = [("catalogue:access", row.access)]
    if row.source:
        attributes.append(("catalogue:source", row.source))
    el = build.item(scheme, "l:Variable", f"var-{row.wave}-{row.variable}", attributes)
    build.names(el, "l:VariableName", row.variable)
    build.texts(el, "r:Label", {"fr": row.label_fr, "en": row.label_en})
    build.texts(el, "r:Description", {"fr": row.description_fr, "en": row.description_en})
    if row.universe:
        build.ref(el, "r:UniverseReference", "Universe", f"u-{row.universe}")
    if row.concept:
        build.ref(el, "r:ConceptReference", "Concept", row.concept, topics[row.concept])
    if row.question_id:
        build.ref(el, "r:QuestionReference", "QuestionItem", f"q-{row.question_id}")
    kind = row.response_type
    tag = {"code": "r:CodeRepresentation", "text": "r:TextRepresentation"}.get(
        kind, "r:NumericRepresentation" if kind in _NUMERIC_TYPES else "r:DateTimeRepresentation")
    rep = build.sub(build.sub(el, "l:VariableRepresentation"), tag)
    if row.missing_codes:
        rep.set("missingValue", " ".join(row.missing_codes))
    if row.unit:
        build.sub(rep, "r:MeasurementUnit", row.unit)
    if kind == "code":
        build.ref(rep, "r:CodeListReference", "CodeList", f"cl-{row.code_list}")
    elif kind in _NUMERIC_TYPES:
        build.sub(rep, "r:NumericTypeCode", _NUMERIC_TYPES[kind])
    elif kind in _DATE_TYPES:
        build.sub(rep, "r:DateFieldFormat", _DATE_TYPES[kind][0])
        build.sub(rep, "r:DateTypeCode", _DATE_TYPES[kind][1])
    build.finish(el)
