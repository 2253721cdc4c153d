"""Model items from DDI-L elements, one builder per kind of element.

Called by :class:`catalogue.reader.DocumentReader` with the fields every item has already
read (identity, name, label, references...); each builder adds what is specific to its
kind. Element names are the same in DDI-L 3.2 and 3.3; where they differ both are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from catalogue.ddi_text import element_text, lang_text
from catalogue.model import (
    PARTICIPANTS_ATTRIBUTE,
    AnyItem,
    Category,
    Code,
    CodeList,
    CollectionEvent,
    Concept,
    ConceptScheme,
    ConstructType,
    ControlConstruct,
    Coverage,
    DataCollection,
    DateRange,
    Funding,
    Identity,
    Instruction,
    Instrument,
    LangText,
    OtherItem,
    Question,
    Reference,
    Representation,
    ResponseKind,
    SourceLocation,
    Study,
    Universe,
    UserAttribute,
    Variable,
)
from catalogue.reader import local_name

if TYPE_CHECKING:
    from catalogue.reader import DocumentReader

Builder = Callable[["DocumentReader", etree._Element, dict[str, Any]], AnyItem]


def _texts(reader: DocumentReader, el: etree._Element, path: str) -> LangText:
    """Texts at an ElementPath below ``el``, every language kept and its tag checked."""
    text = lang_text(el.findall(path))
    reader.note_languages(text, el)
    return text


def _first_child(el: etree._Element, tag: str) -> etree._Element | None:
    """``el.find(tag)`` for a namespaced tag, in half the time: the tag is matched in C,
    without ``find``'s path machinery (it counts for every item read)."""
    return next(el.iterchildren(tag), None)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1")


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:  # the common case: no attribute at all (raising costs more than this)
        return None
    try:
        return int(text)
    except ValueError:
        return None


# -- studies -------------------------------------------------------------------------------


def _study(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Study:
    n = reader.names
    r = n.r
    title = _texts(reader, el, f"{r}Citation/{r}Title/{n.string}")
    coverage = _coverage(reader, el)
    funding = tuple(
        Funding(agency=(f.findtext(f"{r}AgencyOrganizationReference/{r}ID") or "").strip(),
                grant_number=(f.findtext(f"{r}GrantNumber") or "").strip(),
                description=_texts(reader, f, f"{r}Description/{n.content}"))
        for f in el.iterfind(f"{r}FundingInformation")
    )
    sample = _int(next((p.value for p in common["user_attributes"]
                        if p.key == PARTICIPANTS_ATTRIBUTE), None))
    if sample is None:
        sample = _sample_size(el)
    if not common["label"] and title:
        common["label"] = title
    return Study(
        **common,
        title=title,
        alternate_title=_texts(reader, el, f"{r}Citation/{r}AlternateTitle/{n.string}"),
        abstract=_texts(reader, el, f"{r}Abstract/{n.content}"),
        purpose=_texts(reader, el, f"{r}Purpose/{n.content}"),
        coverage=coverage,
        funding=funding,
        kind_of_data=tuple(t for k in el.iterfind(f"{r}KindOfData") if (t := element_text(k))),
        analysis_units=tuple(t for a in el.iterfind(f"{r}AnalysisUnit")
                             if (t := element_text(a))),
        sample_size=sample,
    )


def _coverage(reader: DocumentReader, el: etree._Element) -> Coverage:
    n = reader.names
    r = n.r
    cov = el.find(f"{r}Coverage")
    if cov is None:
        return Coverage()
    subjects = tuple(_texts(reader, s, ".") for s in cov.iterfind(f"{r}TopicalCoverage/{r}Subject"))
    keywords = tuple(_texts(reader, k, ".") for k in cov.iterfind(f"{r}TopicalCoverage/{r}Keyword"))
    spatial = _texts(reader, cov, f"{r}SpatialCoverage/{r}Description/{n.content}")
    temporal = DateRange()
    for ref_date in cov.iterfind(f"{r}TemporalCoverage/{r}ReferenceDate"):
        temporal = _merge(temporal, _date_range(reader, ref_date))
    return Coverage(temporal=temporal, spatial=spatial, subjects=subjects, keywords=keywords)


_SAMPLE_TAGS = ("SampleSize", "OverallSampleSize", "OverallTargetSampleSize")


def _sample_size(el: etree._Element) -> int | None:
    for node in el.iter():
        if isinstance(node.tag, str) and local_name(node.tag) in _SAMPLE_TAGS:
            value = _int(node.text) if len(node) == 0 else _int(
                next((c.text for c in node.iter() if c is not node and c.text and
                      c.text.strip().isdigit()), None))
            if value is not None:
                return value
    return None


def _date_range(reader: DocumentReader, holder: etree._Element) -> DateRange:
    """``r:SimpleDate`` or ``r:StartDate``/``r:EndDate`` below a DDI date holder."""
    r = reader.names.r
    simple = (holder.findtext(f"{r}SimpleDate") or "").strip() or None
    start = (holder.findtext(f"{r}StartDate") or "").strip() or None
    end = (holder.findtext(f"{r}EndDate") or "").strip() or None
    for value, what in ((simple, "SimpleDate"), (start, "StartDate"), (end, "EndDate")):
        reader.note_date(value, what, holder)
    if simple:
        return DateRange(simple, simple)
    return DateRange(start, end)


def _merge(a: DateRange, b: DateRange) -> DateRange:
    starts = [d for d in (a.start, b.start) if d]
    ends = [d for d in (a.end, b.end) if d]
    return DateRange(min(starts) if starts else None, max(ends) if ends else None)


# -- data collection ---------------------------------------------------------------------


def _collection_event(reader: DocumentReader, el: etree._Element,
                      common: dict[str, Any]) -> CollectionEvent:
    n = reader.names
    dates = DateRange()
    for holder in el.iterfind(f"{n.d}DataCollectionDate"):
        dates = _merge(dates, _date_range(reader, holder))
    modes = []
    for mode in el.iterfind(f"{n.d}ModeOfCollection"):
        typed = element_text(mode.find(f"{n.r}TypeOfModeOfCollection")) if mode.find(
            f"{n.r}TypeOfModeOfCollection") is not None else ""
        text = _texts(reader, mode, f"{n.r}Description/{n.content}")
        if not text and typed:
            text = LangText((("", typed),))
        if not text and len(mode) == 0 and mode.text and mode.text.strip():
            text = LangText((("", mode.text.strip()),))
        if text:
            modes.append(text)
    return CollectionEvent(**common, dates=dates, modes=tuple(modes))


def _data_collection(reader: DocumentReader, el: etree._Element,
                     common: dict[str, Any]) -> DataCollection:
    n = reader.names
    events = []
    for event in el.iterfind(f"{n.d}CollectionEvent"):
        identity = reader.identity_of(event)
        if identity is not None:
            built = build_item(reader, event, identity, (), common["identity"])
            if isinstance(built, CollectionEvent):
                events.append(built)
    return DataCollection(**common, events=tuple(events), sample_size=_sample_size(el))


def _instrument(reader: DocumentReader, el: etree._Element,
                common: dict[str, Any]) -> Instrument:
    type_el = el.find(f"{reader.names.d}TypeOfInstrument")
    return Instrument(**common, instrument_type=element_text(type_el) if type_el is not None
                      else "")


_CONSTRUCTS = {"Sequence", "IfThenElse", "Loop", "RepeatUntil", "RepeatWhile",
               "QuestionConstruct", "StatementItem", "ComputationItem"}
_CONDITIONS = ("IfCondition", "LoopWhile", "UntilCondition", "WhileCondition")


@lru_cache(maxsize=4)
def _condition_tags(d: str) -> tuple[str, ...]:
    return tuple(f"{d}{name}" for name in _CONDITIONS)


def _construct(reader: DocumentReader, el: etree._Element,
               common: dict[str, Any]) -> ControlConstruct:
    # Children looked up by tag in C (``iterchildren``), not with ``find``'s path
    # machinery: a questionnaire has a construct per question asked in each wave
    # (200,000 in bench/web.py's cohort), most with no condition and no text.
    n = reader.names
    condition = ""
    tags = _condition_tags(n.d)
    found: dict[str, etree._Element] = {}
    for child in el.iterchildren(*tags):
        found.setdefault(child.tag, child)
    for tag in tags if found else ():
        holder = found.get(tag)
        if holder is not None:
            condition = " ".join(
                (c.text or "").strip() for c in holder.iter(f"{n.r}CommandContent")).strip()
            if not condition:
                condition = element_text(holder)
            break
    text = (_texts(reader, el, f"{n.d}DisplayText/{n.d}LiteralText/{n.d}Text")
            if _first_child(el, f"{n.d}DisplayText") is not None else LangText())
    kind = cast(ConstructType, common["element"] if common["element"] in _CONSTRUCTS
                else "Other")
    return ControlConstruct(**common, construct_type=kind, condition=condition, text=text)


# -- questions -----------------------------------------------------------------------------

_DOMAIN_KINDS: dict[str, ResponseKind] = {
    "Code": "code", "Nominal": "code", "Category": "code", "Numeric": "numeric",
    "Text": "text", "DateTime": "datetime", "Scale": "scale", "Geographic": "geographic",
    "GeographicStructureCode": "geographic", "GeographicLocationCode": "geographic",
    "Location": "geographic",
}
_DOMAIN = re.compile(r"^(?:Missing)?(?P<kind>[A-Za-z]+?)(?:Domain|Representation)(?:Reference)?$")


def _representation_kind(name: str) -> ResponseKind | None:
    match = _DOMAIN.match(name)
    if match is None:
        return None
    return _DOMAIN_KINDS.get(match.group("kind"))


def _representation(reader: DocumentReader, el: etree._Element, kind: ResponseKind,
                    refs: tuple[Reference, ...]) -> Representation:
    """A representation or response domain, read in one pass over its children."""
    n = reader.names
    code_list = None
    low = high = None
    unit = numeric_type = date_format = date_type = ""
    text_max = None
    for child in el:
        tag = child.tag
        if tag == n.code_list_reference:
            wanted = ""
            for part in child:
                if part.tag == n.id:
                    wanted = (part.text or "").strip()
            code_list = next((x for x in refs if x.role == "code_list" and x.id == wanted),
                             None) or reader.reference_of(child, "code_list", report=False)
        elif tag == n.number_range:
            for bound in child:
                if bound.tag == n.low:
                    low = (bound.text or "").strip()
                elif bound.tag == n.high:
                    high = (bound.text or "").strip()
        elif tag == n.measurement_unit:
            unit = element_text(child)
        elif tag == n.numeric_type_code:
            numeric_type = (child.text or "").strip()
        elif tag == n.date_field_format:
            date_format = (child.text or "").strip()
        elif tag == n.date_type_code:
            date_type = (child.text or "").strip()
        elif tag == n.text_representation:
            text_max = child.get("maxLength")
    max_length = _int(el.get("maxLength"))
    if max_length is None:
        max_length = _int(text_max)
    return Representation(
        kind=kind, code_list=code_list,
        numeric_type=numeric_type or (el.get("type") or "").strip(),
        minimum=low, maximum=high, max_length=max_length,
        date_format=date_format or date_type, unit=unit,
        missing_values=tuple((el.get("missingValue") or "").split()),
    )


_KIND_OF_TAG: dict[str, ResponseKind | None] = {}


def _kind_of_tag(tag: str) -> ResponseKind | None:
    """The response kind an element name stands for (None: not a domain), cached: a
    handful of distinct names cover every question of a file."""
    if tag not in _KIND_OF_TAG:
        _KIND_OF_TAG[tag] = _representation_kind(local_name(tag))
    return _KIND_OF_TAG[tag]


def _response_domains(reader: DocumentReader, el: etree._Element,
                      refs: tuple[Reference, ...]) -> tuple[Representation, ...]:
    """Response domains of a question, including those of mixed and grid responses."""
    found: list[Representation] = []
    for child in el.iter():
        tag = child.tag
        if child is el or not isinstance(tag, str):
            continue
        kind = _kind_of_tag(tag)
        if kind is None or reader.inside(child, "GridDimension"):
            continue
        if tag.endswith("Reference"):
            found.append(Representation(kind=kind))
        else:
            found.append(_representation(reader, child, kind, refs))
    # A domain holding a representation (NominalDomain > CodeRepresentation) counts once.
    unique: list[Representation] = []
    for rep in found:
        if unique and unique[-1].kind == rep.kind and rep.code_list is None:
            continue
        unique.append(rep)
    return tuple(unique)


def _question(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Question:
    n = reader.names
    text = _texts(reader, el, n.question_text_path)
    if not text:
        text = _texts(reader, el, n.question_plain_text_path)
    return Question(
        **common,
        text=text,
        responses=_response_domains(reader, el, common["references"]),
        instruction_text=_texts(reader, el, n.inline_instruction_path),
    )


def _instruction(reader: DocumentReader, el: etree._Element,
                 common: dict[str, Any]) -> Instruction:
    n = reader.names
    return Instruction(**common, text=_texts(reader,
        el, f"{n.d}InstructionText/{n.d}LiteralText/{n.d}Text"))


# -- variables and code lists ----------------------------------------------------------------


def _variable(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Variable:
    n = reader.names
    representation = Representation()
    holder = _first_child(el, f"{n.lp}VariableRepresentation")
    if holder is not None:
        for child in holder:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            kind = _kind_of_tag(tag)
            if kind is None:
                continue
            if tag.endswith("Reference"):
                representation = Representation(kind=kind)
            else:
                representation = _representation(reader, child, kind, common["references"])
            break
    unit = _first_child(el, f"{n.r}AnalysisUnit")
    return Variable(**common, representation=representation,
                    analysis_unit=element_text(unit) if unit is not None else "")


def _code(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Code:
    value = ""
    for child in el:
        if child.tag == reader.names.value:
            value = (child.text or "").strip()
            break
    return Code(**common, value=value,
                level=_int(el.get("levelNumber")),
                is_discrete=el.get("isDiscrete", "true").strip().lower() != "false")


def _code_list(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> CodeList:
    """A code list with its codes in order: the Code items the reader built just before
    (each code is also an item of its own), or built here for a code list read alone."""
    codes = []
    built = reader.nested_items
    for code_el in el.iter(reader.names.code):
        code = built.get(code_el)
        if code is None:
            identity = reader.identity_of(code_el)
            if identity is None:
                continue
            refs = tuple(
                ref for holder in code_el.iterfind(reader.names.category_reference)
                if (ref := reader.reference_of(holder, "category", report=False)) is not None)
            code = build_item(reader, code_el, identity, refs, common["identity"])
        if isinstance(code, Code):
            codes.append(code)
    return CodeList(**common, codes=tuple(codes))


def _category(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Category:
    return Category(**common, is_missing=_truthy(el.get("isMissing")) or _truthy(
        el.get("missing")))


def _concept_scheme(reader: DocumentReader, el: etree._Element,
                    common: dict[str, Any]) -> ConceptScheme:
    return ConceptScheme(**common)


def _concept(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Concept:
    return Concept(**common)


def _universe(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> Universe:
    return Universe(**common, is_inclusive=el.get("isInclusive", "true").strip().lower()
                    != "false")


def _other(reader: DocumentReader, el: etree._Element, common: dict[str, Any]) -> OtherItem:
    return OtherItem(**common)


BUILDERS: dict[str, Builder] = {
    "Group": _study, "SubGroup": _study, "StudyUnit": _study,
    "DataCollection": _data_collection, "CollectionEvent": _collection_event,
    "Instrument": _instrument,
    **{name: _construct for name in _CONSTRUCTS},
    "QuestionItem": _question, "QuestionGrid": _question,
    "Instruction": _instruction,
    "Variable": _variable,
    "CodeList": _code_list, "Code": _code, "Category": _category,
    "ConceptScheme": _concept_scheme, "Concept": _concept,
    "Universe": _universe,
}


def build_item(reader: DocumentReader, el: etree._Element, identity: Identity,
               references: Iterable[Reference], parent: Identity | None) -> AnyItem:
    """The model item for ``el``: the fields every item has, then its kind's own."""
    n = reader.names
    name = ""
    labels: list[etree._Element] = []
    descriptions: list[etree._Element] = []
    pairs: list[UserAttribute] = []
    for child in el:
        tag = child.tag
        if tag == n.label:
            labels.extend(child.findall(n.content) or (child,))
        elif tag == n.description:
            descriptions.extend(child.findall(n.content) or (child,))
        elif tag == n.user_attribute_pair:
            key = (child.findtext(n.attribute_key) or "").strip()
            if key:
                pairs.append(UserAttribute(key, (child.findtext(n.attribute_value) or "").strip()))
        elif not name and isinstance(tag, str) and tag.endswith("Name") and tag[-5] != "}":
            string = _first_child(child, n.string)
            name = element_text(string if string is not None else child)
    element_name = local_name(el.tag)
    line = el.sourceline
    common: dict[str, Any] = {
        "identity": identity,
        "element": element_name,
        "name": name,
        "label": lang_text(labels) if labels else LangText(),
        "description": lang_text(descriptions) if descriptions else LangText(),
        "version_date": el.get("versionDate"),
        "user_attributes": tuple(pairs),
        "references": tuple(references),
        "parent": parent,
        "location": SourceLocation(line, "") if line else None,
    }
    return BUILDERS.get(element_name, _other)(reader, el, common)
