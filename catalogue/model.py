"""The catalogue's domain model: frozen dataclasses read from DDI-Lifecycle.

Identity is DDI's own: Agency + ID + Version, written as a URN
``urn:ddi:AGENCY:ID:VERSION``. Items never embed each other; they point at each other
with :class:`Reference` values, resolved by the store at read time, so that structure
comes from references and never from XML nesting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

URN_PREFIX = "urn:ddi:"
_URN = re.compile(r"^urn:ddi:(?P<agency>[^:]+):(?P<id>[^:]+)(?::(?P<version>[^:]+))?$", re.I)


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """Agency + ID + Version of a DDI identifiable."""

    agency: str
    id: str
    version: str

    @property
    def urn(self) -> str:
        return f"{URN_PREFIX}{self.agency}:{self.id}:{self.version}"

    @property
    def key(self) -> str:
        """The version-independent part, ``agency:id``."""
        return f"{self.agency}:{self.id}"

    @property
    def unversioned_urn(self) -> str:
        return f"{URN_PREFIX}{self.agency}:{self.id}"

    def __str__(self) -> str:
        return self.urn


@dataclass(frozen=True, slots=True)
class UrnParts:
    agency: str
    id: str
    version: str | None


def parse_urn(text: str) -> UrnParts | None:
    """Split ``urn:ddi:agency:id[:version]``; None when ``text`` is not a DDI URN."""
    match = _URN.match(text.strip())
    if match is None:
        return None
    return UrnParts(match["agency"], match["id"], match["version"])


@dataclass(frozen=True, slots=True)
class Reference:
    """A pointer to another item: Agency + ID and, usually, a Version.

    ``version`` is None for late-bound references (meaning: the latest version).
    ``role`` says what the pointer means for the source item (for example
    ``question``, ``code_list``, ``concept``, ``contains``), ``type_of_object`` is the DDI
    type named in the reference when the producer gave one.
    """

    agency: str
    id: str
    version: str | None
    role: str
    type_of_object: str | None = None

    @property
    def key(self) -> str:
        return f"{self.agency}:{self.id}"

    @property
    def urn(self) -> str:
        base = f"{URN_PREFIX}{self.agency}:{self.id}"
        return f"{base}:{self.version}" if self.version else base


@dataclass(frozen=True, slots=True)
class LangText:
    """Text in several languages, in document order: ``((lang, text), ...)``.

    ``lang`` is the ``xml:lang`` value as published ("" when absent). Lookups match the
    primary language subtag case-insensitively, so ``get("fr")`` finds ``fr-FR``.
    """

    values: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        # A plain loop: pages test texts hundreds of times, and any() over a generator
        # costs six times as much.
        for _, text in self.values:
            if text:
                return True
        return False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.values)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(primary_language(lang) for lang, _ in self.values))

    def get(self, lang: str) -> str | None:
        wanted = primary_language(lang)
        for tag, text in self.values:
            if text and primary_language(tag) == wanted:
                return text
        return None

    def best(self, *preferences: str) -> str:
        """The text in the first preferred language present, else the first text."""
        for lang in preferences:
            text = self.get(lang)
            if text:
                return text
        for _, text in self.values:
            if text:
                return text
        return ""

    def all_text(self) -> str:
        return " ".join(text for _, text in self.values if text)

    @staticmethod
    def of(**by_lang: str) -> LangText:
        return LangText(tuple((lang, text) for lang, text in by_lang.items() if text))


def primary_language(tag: str) -> str:
    found = _PRIMARY.get(tag)
    if found is None:
        found = tag.split("-", 1)[0].split("_", 1)[0].strip().lower()
        if len(_PRIMARY) < _PRIMARY_KEPT:
            _PRIMARY[tag] = found
    return found


#: Primary subtags by tag as published: a catalogue uses a handful of tags, looked up for
#: every text a page shows. Bounded, since tags come from published files.
_PRIMARY: dict[str, str] = {}
_PRIMARY_KEPT = 1024


@dataclass(frozen=True, slots=True)
class UserAttribute:
    """An ``r:UserAttributePair``; ``value`` is kept verbatim (often a JSON blob)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class SourceLocation:
    line: int
    path: str


@dataclass(frozen=True, slots=True)
class DateRange:
    """A DDI date or date range, kept as published (XML Schema date/dateTime/gYear...)."""

    start: str | None = None
    end: str | None = None

    @property
    def start_year(self) -> int | None:
        return _year(self.start)

    @property
    def end_year(self) -> int | None:
        return _year(self.end)

    def __bool__(self) -> bool:
        return bool(self.start or self.end)


_YEAR = re.compile(r"-?(\d{4})")


def _year(value: str | None) -> int | None:
    if not value:
        return None
    match = _YEAR.match(value)
    return int(match.group(1)) if match else None


ItemKind = Literal[
    "Group",
    "StudyUnit",
    "DataCollection",
    "CollectionEvent",
    "Instrument",
    "ControlConstruct",
    "Question",
    "Instruction",
    "Variable",
    "CodeList",
    "Code",
    "Category",
    "ConceptScheme",
    "Concept",
    "Universe",
    "Other",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """Fields every catalogue item has.

    ``element`` is the DDI element name (``QuestionGrid``, ``CategoryScheme``...);
    ``kind`` the catalogue's coarser class. ``references`` lists every outgoing pointer,
    including ``contains`` for items published inline inside this one; ``parent`` is the
    enclosing identifiable in the published XML, when there is one.
    """

    identity: Identity
    element: str
    name: str = ""
    label: LangText = LangText()
    description: LangText = LangText()
    version_date: str | None = None
    user_attributes: tuple[UserAttribute, ...] = ()
    references: tuple[Reference, ...] = ()
    # Where an item was published does not change what it is: two copies of one version
    # compare equal wherever they sit.
    parent: Identity | None = field(default=None, compare=False)
    location: SourceLocation | None = field(default=None, compare=False)

    kind: ItemKind = field(default="Other", init=False)

    @property
    def urn(self) -> str:
        return self.identity.urn

    def attribute(self, key: str) -> str | None:
        for pair in self.user_attributes:
            if pair.key == key:
                return pair.value
        return None

    def refs(self, role: str) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.role == role)

    def display_label(self, *languages: str) -> str:
        return self.label.best(*languages) or self.name or self.identity.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    temporal: DateRange = DateRange()
    spatial: LangText = LangText()
    subjects: tuple[LangText, ...] = ()
    keywords: tuple[LangText, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Funding:
    agency: str = ""
    grant_number: str = ""
    description: LangText = LangText()


@dataclass(frozen=True, slots=True, kw_only=True)
class Study(Item):
    """A Group (a cohort, a series) or a StudyUnit (a wave, a data source)."""

    title: LangText = LangText()
    alternate_title: LangText = LangText()
    abstract: LangText = LangText()
    purpose: LangText = LangText()
    coverage: Coverage = Coverage()
    funding: tuple[Funding, ...] = ()
    kind_of_data: tuple[str, ...] = ()
    analysis_units: tuple[str, ...] = ()
    sample_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Group" if self.element == "Group" else "StudyUnit")


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectionEvent(Item):
    """When and how data were collected (identifiable child of a DataCollection)."""

    dates: DateRange = DateRange()
    modes: tuple[LangText, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "CollectionEvent")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataCollection(Item):
    """A data collection, the catalogue's "wave": its events give dates and modes."""

    events: tuple[CollectionEvent, ...] = ()
    sample_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "DataCollection")

    @property
    def dates(self) -> DateRange:
        starts = sorted(d for e in self.events if (d := e.dates.start))
        ends = sorted(d for e in self.events if (d := e.dates.end or e.dates.start))
        return DateRange(starts[0] if starts else None, ends[-1] if ends else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument(Item):
    """A questionnaire; ``references`` with role ``construct`` point at its flow."""

    instrument_type: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Instrument")


ConstructType = Literal[
    "Sequence", "IfThenElse", "Loop", "RepeatUntil", "RepeatWhile", "QuestionConstruct",
    "StatementItem", "ComputationItem", "Other",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlConstruct(Item):
    """A node of an instrument's flow.

    Children are references with role ``child`` (in order), ``then`` and ``else`` for
    branches, ``question`` for a QuestionConstruct. ``condition`` is the routing condition
    as published (IfThenElse, loops), ``text`` the statement of a StatementItem.
    """

    construct_type: ConstructType = "Other"
    condition: str = ""
    text: LangText = LangText()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "ControlConstruct")


ResponseKind = Literal["code", "numeric", "text", "datetime", "scale", "geographic", "mixed",
                       "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Representation:
    """A question's response domain or a variable's representation.

    ``code_list`` (role ``code_list`` in the owner's references) names the code list;
    ``missing_values`` lists missing-value codes declared on the representation.
    """

    kind: ResponseKind = "none"
    code_list: Reference | None = None
    numeric_type: str = ""
    minimum: str | None = None
    maximum: str | None = None
    max_length: int | None = None
    date_format: str = ""
    unit: str = ""
    missing_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Question(Item):
    """A QuestionItem or QuestionGrid; instructions are references with role ``instruction``."""

    text: LangText = LangText()
    responses: tuple[Representation, ...] = ()
    instruction_text: LangText = LangText()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Question")

    @property
    def response_kind(self) -> ResponseKind:
        kinds = {r.kind for r in self.responses if r.kind != "none"}
        if not kinds:
            return "none"
        if len(kinds) > 1:
            return "mixed"
        return kinds.pop()


@dataclass(frozen=True, slots=True, kw_only=True)
class Instruction(Item):
    text: LangText = LangText()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Instruction")


ACCESS_OPEN = "open"
ACCESS_CASD = "casd"
#: Values of ``catalogue:access`` and the access level each means. Any other value reads
#: as CASD-only (a profile warning says so): sensitive data must never look open.
ACCESS_VALUES = {"open": ACCESS_OPEN, "casd": ACCESS_CASD, "casd-only": ACCESS_CASD,
                 "restricted": ACCESS_CASD}
ACCESS_ATTRIBUTE = "catalogue:access"
SOURCE_ATTRIBUTE = "catalogue:source"
PARTICIPANTS_ATTRIBUTE = "catalogue:participants"
SLUG_ATTRIBUTE = "catalogue:slug"


@dataclass(frozen=True, slots=True, kw_only=True)
class Variable(Item):
    """A variable; roles in ``references``: ``question``, ``concept``, ``universe``,
    ``code_list`` (through its representation), ``source_variable``."""

    representation: Representation = Representation()
    analysis_unit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Variable")

    @property
    def access(self) -> str:
        value = (self.attribute(ACCESS_ATTRIBUTE) or "").strip().lower()
        return ACCESS_VALUES.get(value, ACCESS_CASD) if value else ACCESS_OPEN

    @property
    def source(self) -> str:
        return self.attribute(SOURCE_ATTRIBUTE) or ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Code(Item):
    """A code of a code list: a value and the category it stands for (role ``category``)."""

    value: str = ""
    level: int | None = None
    is_discrete: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Code")


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeList(Item):
    """A code list; codes keep their published order."""

    codes: tuple[Code, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "CodeList")


@dataclass(frozen=True, slots=True, kw_only=True)
class Category(Item):
    is_missing: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Category")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConceptScheme(Item):
    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "ConceptScheme")


@dataclass(frozen=True, slots=True, kw_only=True)
class Concept(Item):
    """A concept; broader concepts are references with role ``broader``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Concept")


@dataclass(frozen=True, slots=True, kw_only=True)
class Universe(Item):
    is_inclusive: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Universe")


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherItem(Item):
    """Any other identifiable (schemes, physical instances...): kept for identity,
    references and versions, not browsed on its own."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "Other")


AnyItem = (
    Study | DataCollection | CollectionEvent | Instrument | ControlConstruct | Question
    | Instruction | Variable | CodeList | Code | Category | ConceptScheme | Concept | Universe
    | OtherItem
)


@dataclass(frozen=True, slots=True)
class ItemCounts:
    variables: int = 0
    questions: int = 0
    code_lists: int = 0
    categories: int = 0
    concepts: int = 0

    @staticmethod
    def of(items: Iterable[Item]) -> ItemCounts:
        seen: dict[str, set[Identity]] = {}
        for item in items:
            seen.setdefault(item.kind, set()).add(item.identity)
        return ItemCounts(
            variables=len(seen.get("Variable", ())),
            questions=len(seen.get("Question", ())),
            code_lists=len(seen.get("CodeList", ())),
            categories=len(seen.get("Category", ())),
            concepts=len(seen.get("Concept", ())),
        )
