"""The catalogue's structure, derived from references: cohorts, waves, questionnaires
and the context of every variable.

DDI-L says how items point at each other, not what a cohort or a wave is. The catalogue
reads it this way:

- a **cohort** is a Group that no other Group holds (or a StudyUnit outside any Group);
- a **wave** is a StudyUnit (a wave or a data source) held by a cohort; its dates and
  modes come from its DataCollections' CollectionEvents;
- an item **belongs to** what holds it: the item it was published inside (``parent``),
  or a scheme, logical product, study unit, group, resource package or data collection
  that references it;
- a **questionnaire** (Instrument) lists its questions by walking its control constructs
  in order: sequences, branches (with their conditions) and loops.

Publications never change once stored, so a :class:`PublicationStructure` is built once
per publication and cached; references leaving the publication (a shared concept scheme)
are resolved through the store.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from catalogue.model import (
    SLUG_ATTRIBUTE,
    AnyItem,
    Category,
    CodeList,
    Concept,
    ControlConstruct,
    DataCollection,
    DateRange,
    Identity,
    Instrument,
    Item,
    LangText,
    Question,
    Reference,
    Study,
    Universe,
    Variable,
)
from catalogue.store import Store
from catalogue.store.records import StoredItem

#: Kinds whose items make up a publication's skeleton (loaded whole); variables,
#: questions, code lists and the like are read in chunks and resolved on demand, and so
#: are control constructs (a questionnaire's when its flow is asked for): only the links
#: between constructs are kept, to tell which instruments ask a question. Loading every
#: construct made a worker hold 430 MB for a cohort of 200,000 variables.
SKELETON_KINDS = ("Group", "StudyUnit", "DataCollection", "CollectionEvent", "Instrument",
                  "Other")
#: Flows deeper than this are cut (a guard against reference cycles).
_MAX_FLOW_DEPTH = 40
_HOLDER_ELEMENTS = re.compile(
    r"(Scheme|LogicalProduct|ResourcePackage|StudyUnit|Group|SubGroup|DataCollection|"
    r"PhysicalDataProduct|DDIInstance|ConceptualComponent)$")
#: References that say "this item is described by / restricted to", not "holds".
_NOT_HOLDING = frozenset({"concept", "universe", "question", "code_list", "grid_code_list",
                          "category", "broader", "instruction", "top_level", "funder"})
_CHUNK = 1000
#: Items kept resolved while a publication's variables are read (shared code lists...).
_RESOLVED_CACHE = 20_000
#: Categories kept resolved, apart: they are the most shared items (one "yes" for
#: thousands of code lists) and the smallest (about 1.3 KB decoded). Kept with the other
#: items, a publication with more categories than a few chunks of variables use decoded
#: them again chunk after chunk: 300,000 times, 17 s of indexing 100,000 variables
#: (``bench/ingest.py``), for 30,000 categories.
_CATEGORY_CACHE = 50_000


class Placed(Protocol):
    """What tells where an item sits: its identity and the item it was published in (a
    model item, or a :class:`~catalogue.store.records.ListedItem`)."""

    @property
    def identity(self) -> Identity: ...

    @property
    def parent(self) -> Identity | None: ...


@dataclass(frozen=True, slots=True)
class Ref:
    """A pointer a page can render: URN (with version), kind and a label."""

    urn: str
    kind: str
    label: LangText
    name: str = ""

    @staticmethod
    def of(item: Item) -> Ref:
        label = item.label
        if isinstance(item, Study) and item.title:
            label = item.title
        if not label and item.name:
            label = LangText((("", item.name),))
        return Ref(item.urn, item.kind, label, item.name)


@dataclass(frozen=True, slots=True)
class Wave:
    study: Study
    dates: DateRange
    modes: tuple[LangText, ...]
    data_collections: tuple[DataCollection, ...]
    instruments: tuple[Instrument, ...]

    @property
    def years(self) -> tuple[int, ...]:
        start, end = self.dates.start_year, self.dates.end_year
        if start is None:
            return (end,) if end is not None else ()
        if end is None or end < start:
            return (start,)
        return tuple(range(start, min(end, start + 60) + 1))

    @property
    def ref(self) -> Ref:
        return Ref.of(self.study)


@dataclass(frozen=True, slots=True)
class Cohort:
    study: Study
    slug: str
    waves: tuple[Wave, ...]
    publication_id: int

    @property
    def ref(self) -> Ref:
        return Ref.of(self.study)


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One line of a questionnaire: a question, a statement or a routing condition, at a
    nesting depth; ``condition`` holds the branch condition that leads to it."""

    depth: int
    construct: ControlConstruct
    question: Question | None = None
    condition: str = ""
    branch: str = ""


@dataclass(frozen=True, slots=True)
class CodeCategory:
    value: str
    category: Category | None

    @property
    def label(self) -> LangText:
        return self.category.label if self.category else LangText()

    @property
    def is_missing(self) -> bool:
        return bool(self.category and self.category.is_missing)


@dataclass(frozen=True, slots=True)
class VariableContext:
    """A variable with everything around it that search and pages show."""

    variable: Variable
    publication_id: int
    cohort: Cohort | None
    wave: Wave | None
    question: Question | None
    instruments: tuple[Instrument, ...]
    concepts: tuple[Concept, ...]
    code_list: CodeList | None
    categories: tuple[CodeCategory, ...]
    universes: tuple[Universe, ...]

    @property
    def access(self) -> str:
        return self.variable.access

    @property
    def group_key(self) -> str:
        """What the same question asked in several waves shares."""
        if self.question is not None:
            return self.question.identity.unversioned_urn
        if self.concepts:
            return self.concepts[0].identity.unversioned_urn
        return ""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "cohort"


class PublicationStructure:
    """The skeleton of one publication: who holds what, the waves, the cohorts and the
    questionnaires' flows."""

    def __init__(self, store: Store, publication_id: int) -> None:
        self.store = store
        self.publication_id = publication_id
        self.skeleton: dict[Identity, AnyItem] = {}
        self._by_key: dict[str, list[AnyItem]] = {}
        self._holders: dict[str, list[Identity]] = {}
        for stored in store.items_of_publication(publication_id, SKELETON_KINDS):
            item = stored.item
            self.skeleton[item.identity] = item
            self._by_key.setdefault(item.identity.key, []).append(item)
        self._held: dict[Identity, list[Identity]] = {}
        for item in self.skeleton.values():
            if item.parent is not None:
                self._holders.setdefault(item.identity.key, []).append(item.parent)
                self._held.setdefault(item.parent, []).append(item.identity)
            if _holds_by_reference(item):
                for ref in item.references:
                    if ref.role not in _NOT_HOLDING:
                        self._holders.setdefault(ref.key, []).append(item.identity)
                        target = self.lookup(ref)
                        if target is not None:
                            self._held.setdefault(item.identity, []).append(target.identity)
        self._construct_parents = self._index_constructs()
        self._asking: dict[str, tuple[Instrument, ...]] = {}
        self._wave_memo: dict[tuple[Identity | None, tuple[Identity, ...]], Wave | None] = {}
        self._cohort_memo: dict[tuple[Identity | None, tuple[Identity, ...]],
                                Cohort | None] = {}
        self._resolved: OrderedDict[tuple[str, str, str | None], StoredItem | None] = (
            OrderedDict())
        self._categories: OrderedDict[tuple[str, str, str | None], StoredItem | None] = (
            OrderedDict())
        self.cohorts = self._find_cohorts()
        self._wave_of_study = {w.study.identity: w for c in self.cohorts for w in c.waves}
        self._instrument_waves: dict[Identity, Wave] | None = None

    # -- holding -----------------------------------------------------------------------------

    def holders(self, item: Placed) -> list[AnyItem]:
        """What holds ``item``: its parent and every holder that references it."""
        found: list[AnyItem] = []
        seen: set[Identity] = set()
        candidates = list(self._holders.get(item.identity.key, ()))
        if item.parent is not None:
            candidates.insert(0, item.parent)
        for identity in candidates:
            holder = self.lookup(identity)
            if holder is not None and holder.identity not in seen:
                seen.add(holder.identity)
                found.append(holder)
        return found

    def lookup(self, identity: Identity | Reference) -> AnyItem | None:
        """A skeleton item by identity or reference (any version when it has none)."""
        if isinstance(identity, Identity):
            found = self.skeleton.get(identity)
            if found is not None:
                return found
        candidates = self._by_key.get(identity.key, [])
        version = identity.version
        for candidate in candidates:
            if candidate.identity.version == version:
                return candidate
        return candidates[-1] if candidates else None

    def enclosing(self, item: Placed, kinds: Sequence[str]) -> list[AnyItem]:
        """The nearest holders of the given kinds, walking up (breadth first)."""
        frontier: list[Placed] = [item]
        seen: set[Identity] = {item.identity}
        for _ in range(12):
            found: list[AnyItem] = []
            following: list[AnyItem] = []
            for node in frontier:
                for holder in self.holders(node):
                    if holder.identity in seen:
                        continue
                    seen.add(holder.identity)
                    (found if holder.kind in kinds else following).append(holder)
            if found:
                return found
            if not following:
                return []
            frontier = list(following)
        return []

    # -- cohorts and waves ---------------------------------------------------------------

    def _find_cohorts(self) -> tuple[Cohort, ...]:
        groups = [i for i in self.skeleton.values() if isinstance(i, Study) and i.kind == "Group"]
        tops = [g for g in groups if not self.enclosing(g, ("Group",))]
        cohorts: list[Cohort] = []
        claimed: set[Identity] = set()
        for group in tops:
            studies = [s for s in self.skeleton.values()
                       if isinstance(s, Study) and s.kind == "StudyUnit"
                       and self._cohort_of_study(s) == group.identity]
            claimed.update(s.identity for s in studies)
            cohorts.append(Cohort(group, cohort_slug(group), tuple(self._wave(s) for s in studies),
                                  self.publication_id))
        for study in self.skeleton.values():
            if isinstance(study, Study) and study.kind == "StudyUnit" and (
                    study.identity not in claimed) and not self.enclosing(study, ("Group",)):
                cohorts.append(Cohort(study, cohort_slug(study), (self._wave(study),),
                                      self.publication_id))
        return tuple(cohorts)

    def _cohort_of_study(self, study: Study) -> Identity | None:
        groups = self.enclosing(study, ("Group",))
        while groups:
            above = self.enclosing(groups[0], ("Group",))
            if not above:
                return groups[0].identity
            groups = above
        return None

    def _wave(self, study: Study) -> Wave:
        collections = [i for i in self._held_by(study) if isinstance(i, DataCollection)]
        dates = DateRange()
        modes: list[LangText] = []
        for collection in collections:
            dates = _widen(dates, collection.dates)
            for event in collection.events:
                for mode in event.modes:
                    if mode not in modes:
                        modes.append(mode)
        if not dates:
            dates = study.coverage.temporal
        instruments: list[Instrument] = []
        for collection in collections:
            for item in self._held_by(collection, depth=3):
                if isinstance(item, Instrument) and item not in instruments:
                    instruments.append(item)
            for event in collection.events:
                for ref in event.references:
                    target = self.lookup(ref)
                    if isinstance(target, Instrument) and target not in instruments:
                        instruments.append(target)
        return Wave(study, dates, tuple(modes), tuple(collections), tuple(instruments))

    def _held_by(self, holder: Item, depth: int = 2) -> list[AnyItem]:
        """Skeleton items that ``holder`` holds, up to ``depth`` levels down."""
        out: list[AnyItem] = []
        seen: set[Identity] = {holder.identity}
        frontier = [holder.identity]
        for _ in range(depth):
            following = []
            for identity in frontier:
                for held in self._held.get(identity, ()):
                    item = self.skeleton.get(held)
                    if item is not None and held not in seen:
                        seen.add(held)
                        out.append(item)
                        following.append(held)
            frontier = following
        return out

    def _placement(self, item: Placed) -> tuple[Identity | None, tuple[Identity, ...]]:
        """What decides where an item sits: its parent and the holders referencing it.
        Every variable of one scheme shares it, so waves and cohorts are worked out once
        per scheme, not once per variable."""
        return item.parent, tuple(self._holders.get(item.identity.key, ()))

    def wave_of_instrument(self, instrument: Instrument) -> Wave | None:
        """The wave whose data collections use ``instrument`` (else where it sits)."""
        if self._instrument_waves is None:
            self._instrument_waves = {}
            for cohort in self.cohorts:
                for wave in cohort.waves:
                    for used in wave.instruments:
                        self._instrument_waves.setdefault(used.identity, wave)
        found = self._instrument_waves.get(instrument.identity)
        return found if found is not None else self.wave_of(instrument)

    def wave_of(self, item: Placed) -> Wave | None:
        key = self._placement(item)
        if key in self._wave_memo:
            return self._wave_memo[key]
        found = None
        for study in self.enclosing(item, ("StudyUnit",)):
            found = self._wave_of_study.get(study.identity)
            if found is not None:
                break
        self._wave_memo[key] = found
        return found

    def cohort_of(self, item: Placed) -> Cohort | None:
        key = self._placement(item)
        if key in self._cohort_memo:
            return self._cohort_memo[key]
        found = self._find_cohort_of(item)
        self._cohort_memo[key] = found
        return found

    def _find_cohort_of(self, item: Placed) -> Cohort | None:
        wave = self.wave_of(item)
        for cohort in self.cohorts:
            if wave is not None and wave in cohort.waves:
                return cohort
        groups = self.enclosing(item, ("Group",))
        for cohort in self.cohorts:
            if any(g.identity == cohort.study.identity for g in groups):
                return cohort
        return self.cohorts[0] if len(self.cohorts) == 1 else None

    # -- questionnaires ------------------------------------------------------------------

    def _index_constructs(self) -> dict[str, list[Identity]]:
        """``agency:id`` of a construct or question -> the constructs and instruments
        that reference it (read from the store's references, not from the items)."""
        parents: dict[str, list[Identity]] = {}
        identities: dict[tuple[str, str, str], Identity] = {}
        for agency, id_, version, to_agency, to_id in self.store.construct_links(
                self.publication_id):
            holder = identities.get((agency, id_, version))
            if holder is None:
                holder = identities[(agency, id_, version)] = Identity(agency, id_, version)
            parents.setdefault(f"{to_agency}:{to_id}", []).append(holder)
        return parents

    def instruments_asking(self, question: Identity) -> list[Instrument]:
        """Instruments whose flow reaches ``question``."""
        # Remembered per question: every variable of a question asked in W waves asks
        # again, and the walk is the same each time (the skeleton never changes).
        known = self._asking.get(question.key)
        if known is not None:
            return list(known)
        found: list[Instrument] = []
        frontier = list(self._construct_parents.get(question.key, ()))
        seen: set[Identity] = set()
        while frontier:
            identity = frontier.pop()
            if identity in seen:
                continue
            seen.add(identity)
            node = self.skeleton.get(identity)
            if isinstance(node, Instrument):
                found.append(node)  # ``seen`` already keeps each instrument once
            else:  # a construct: go on up
                frontier.extend(self._construct_parents.get(identity.key, ()))
        self._asking[question.key] = tuple(found)
        return found

    def flow(self, instrument: Instrument) -> list[FlowStep]:
        """The instrument's constructs in order, questions resolved, with routing."""
        steps: list[FlowStep] = []
        constructs = self._constructs_of(instrument)
        questions = self._questions_in_flow(constructs)
        seen: set[Identity] = set()

        def walk(ref: Reference, depth: int, condition: str, branch: str) -> None:
            node = constructs.get((ref.agency, ref.id, ref.version))
            if node is None or node.identity in seen or depth > _MAX_FLOW_DEPTH:
                return
            seen.add(node.identity)
            if node.construct_type == "QuestionConstruct":
                question_ref = next(iter(node.refs("question")), None)
                question = questions.get(question_ref.key) if question_ref else None
                steps.append(FlowStep(depth, node, question, condition, branch))
                return
            if node.construct_type in ("StatementItem", "ComputationItem"):
                steps.append(FlowStep(depth, node, None, condition, branch))
                return
            if node.construct_type in ("IfThenElse", "Loop", "RepeatUntil", "RepeatWhile"):
                steps.append(FlowStep(depth, node, None, node.condition, branch))
                for child in node.references:
                    if child.role in ("then", "child"):
                        walk(child, depth + 1, node.condition, "then" if child.role == "then"
                             else "loop" if node.construct_type != "IfThenElse" else "")
                for child in node.refs("else"):
                    walk(child, depth + 1, node.condition, "else")
                return
            for child in node.refs("child"):
                walk(child, depth + (1 if steps and node.construct_type == "Sequence"
                                     and depth > 0 else 0), condition, branch)

        for ref in instrument.refs("child"):
            walk(ref, 0, "", "")
        return steps

    def _constructs_of(self, instrument: Instrument
                       ) -> dict[tuple[str, str, str | None], ControlConstruct]:
        """The constructs an instrument reaches, read from the store level by level (one
        round trip per nesting level), keyed like the references that name them."""
        found: dict[tuple[str, str, str | None], ControlConstruct] = {}
        frontier = list(instrument.refs("child"))
        for _ in range(_MAX_FLOW_DEPTH + 1):
            wanted = [r for r in frontier if (r.agency, r.id, r.version) not in found]
            if not wanted:
                break
            resolved = self.store.resolve_many(wanted)
            frontier = []
            for ref in wanted:
                stored = resolved.get((ref.agency, ref.id, ref.version))
                if stored is not None and isinstance(stored.item, ControlConstruct):
                    found[(ref.agency, ref.id, ref.version)] = stored.item
                    frontier.extend(r for r in stored.item.references
                                    if r.role in ("child", "then", "else"))
        return found

    def _questions_in_flow(self, constructs: dict[tuple[str, str, str | None],
                                                  ControlConstruct]) -> dict[str, Question]:
        refs = [r for node in constructs.values() for r in node.refs("question")]
        resolved = self.store.resolve_many(refs)
        return {key[0] + ":" + key[1]: stored.item for key, stored in resolved.items()
                if isinstance(stored.item, Question)}

    # -- variables -----------------------------------------------------------------------

    def variable_contexts(self, variables: Iterable[StoredItem] | None = None
                          ) -> Iterator[VariableContext]:
        """Contexts of the publication's variables (or of the ones given), resolved in
        chunks: one store round trip per chunk for questions, concepts, code lists,
        categories and universes."""
        source = variables if variables is not None else self.store.items_of_publication(
            self.publication_id, ("Variable",))
        chunk: list[Variable] = []
        for stored in source:
            if isinstance(stored.item, Variable):
                chunk.append(stored.item)
            if len(chunk) >= _CHUNK:
                yield from self._contexts(chunk)
                chunk = []
        if chunk:
            yield from self._contexts(chunk)

    def _contexts(self, variables: list[Variable]) -> Iterator[VariableContext]:
        first = [r for v in variables for r in v.references
                 if r.role in ("question", "concept", "code_list", "universe")]
        if any(v.representation.code_list for v in variables):
            first.extend(v.representation.code_list for v in variables
                         if v.representation.code_list)
        resolved = self._resolve(first)
        questions = [s.item for s in resolved.values() if isinstance(s.item, Question)]
        second = [r for q in questions for r in q.references if r.role in ("concept",
                                                                          "code_list")]
        resolved.update(self._resolve(second))
        code_lists = [s.item for s in resolved.values() if isinstance(s.item, CodeList)]
        category_refs = [r for cl in code_lists for code in cl.codes for r in code.refs(
            "category")]
        categories = self._resolve(category_refs, categories=True)
        for variable in variables:
            yield self._context(variable, resolved, categories)

    def _resolve(self, refs: list[Reference], *, categories: bool = False
                 ) -> dict[tuple[str, str, str | None], StoredItem]:
        """``store.resolve_many`` through a bounded cache, one for ``categories`` and one
        for the rest (questions, code lists, concepts, universes): they are shared by many
        variables."""
        cache, bound = ((self._categories, _CATEGORY_CACHE) if categories
                        else (self._resolved, _RESOLVED_CACHE))
        out: dict[tuple[str, str, str | None], StoredItem] = {}
        wanted: list[Reference] = []
        for ref in refs:
            key = (ref.agency, ref.id, ref.version)
            if key in cache:
                stored = cache[key]
                if stored is not None:
                    out[key] = stored
            else:
                wanted.append(ref)
        if wanted:
            found = self.store.resolve_many(wanted)
            out.update(found)
            for ref in wanted:
                key = (ref.agency, ref.id, ref.version)
                cache[key] = found.get(key)
            while len(cache) > bound:
                cache.popitem(last=False)
        return out

    def _context(self, variable: Variable, resolved: dict[tuple[str, str, str | None],
                                                          StoredItem],
                 categories: dict[tuple[str, str, str | None], StoredItem]) -> VariableContext:
        def get(ref: Reference) -> AnyItem | None:
            stored = resolved.get((ref.agency, ref.id, ref.version))
            return stored.item if stored else None

        question = next((q for r in variable.refs("question")
                         if isinstance(q := get(r), Question)), None)
        concepts: list[Concept] = []
        for owner in (variable, question):
            if owner is None:
                continue
            for ref in owner.refs("concept"):
                concept = get(ref)
                if isinstance(concept, Concept) and concept not in concepts:
                    concepts.append(concept)
        code_list_ref = variable.representation.code_list or next(
            iter(variable.refs("code_list")), None)
        if code_list_ref is None and question is not None:
            code_list_ref = next((rep.code_list for rep in question.responses
                                  if rep.code_list is not None), None)
        code_list = get(code_list_ref) if code_list_ref else None
        code_categories: list[CodeCategory] = []
        if isinstance(code_list, CodeList):
            for code in code_list.codes:
                category_ref = next(iter(code.refs("category")), None)
                stored = categories.get((category_ref.agency, category_ref.id,
                                         category_ref.version)) if category_ref else None
                category = stored.item if stored and isinstance(stored.item, Category) else None
                code_categories.append(CodeCategory(code.value, category))
        else:
            code_list = None
        universes = tuple(u for r in variable.refs("universe")
                          if isinstance(u := get(r), Universe))
        wave = self.wave_of(variable)
        instruments: tuple[Instrument, ...] = ()
        if question is not None:
            asking = self.instruments_asking(question.identity)
            # Compare identities, not whole instruments: a question asked in every one of
            # W waves made this W x W deep dataclass comparisons per variable.
            in_wave_ids = {i.identity for i in wave.instruments} if wave is not None else None
            in_wave = [i for i in asking if in_wave_ids is None or i.identity in in_wave_ids]
            instruments = tuple(in_wave or asking)
        return VariableContext(
            variable=variable, publication_id=self.publication_id,
            cohort=self.cohort_of(variable), wave=wave, question=question,
            instruments=instruments, concepts=tuple(concepts), code_list=code_list,
            categories=tuple(code_categories), universes=universes)


def cohort_slug(study: Study) -> str:
    explicit = study.attribute(SLUG_ATTRIBUTE)
    if explicit:
        return slugify(explicit)
    return slugify(study.title.best("en", "fr") or study.name or study.identity.id)


def _holds_by_reference(item: Item) -> bool:
    return item.kind in ("Group", "StudyUnit", "DataCollection") or bool(
        _HOLDER_ELEMENTS.search(item.element))


def _widen(a: DateRange, b: DateRange) -> DateRange:
    starts = [d for d in (a.start, b.start) if d]
    ends = [d for d in (a.end, b.end) if d]
    return DateRange(min(starts) if starts else None, max(ends) if ends else None)


@dataclass
class StructureCache:
    """Publication structures by id; publications never change, so an entry stays valid
    until the publication is withdrawn (then it is still right, just not browsed)."""

    store: Store
    size: int = 16
    _entries: OrderedDict[int, PublicationStructure] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, publication_id: int) -> PublicationStructure:
        with self._lock:
            found = self._entries.get(publication_id)
            if found is not None:
                self._entries.move_to_end(publication_id)
                return found
        built = PublicationStructure(self.store, publication_id)
        with self._lock:
            self._entries[publication_id] = built
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return built
