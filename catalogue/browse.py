"""What the catalogue's pages show, composed from the store and the structure.

Plain functions over a :class:`Catalogue` (the store, the publication structures and a
small per-state cache) that return frozen dataclasses: a cohort, a wave, a questionnaire,
a question, a variable, a concept. Nothing here knows about HTTP or templates; the web
views call one function each and render what it returns.

A URN with a version names that version; without one, the current version. Withdrawn
publications are not browsed (no cohort, no listing), but their items stay reachable by
URN, flagged ``withdrawn``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from catalogue.errors import NotFound
from catalogue.model import (
    PARTICIPANTS_ATTRIBUTE,
    AnyItem,
    Category,
    CodeList,
    Concept,
    DataCollection,
    Identity,
    Instruction,
    Instrument,
    LangText,
    Question,
    Representation,
    Study,
    Variable,
    parse_urn,
)
from catalogue.store import Store
from catalogue.store.records import (
    ItemVersion,
    ListedItem,
    Publication,
    StoredItem,
    version_key,
)
from catalogue.structure import (
    CodeCategory,
    Cohort,
    FlowStep,
    PublicationStructure,
    Ref,
    StructureCache,
    VariableContext,
    Wave,
)

T = TypeVar("T")
#: Page data kept per catalogue state; everything is immutable until the next publication
#: or withdrawal, so an entry is right for as long as the state it was built in.
PAGE_CACHE_SIZE = 2048
#: Elements of items that a wave lists as its datasets.
_DATASET_ELEMENTS = ("PhysicalInstance", "LogicalRecord", "DataRelationship",
                     "PhysicalDataProduct", "DataFile")


class ItemOfOtherKind(NotFound):
    """The URN exists but names another kind of item than the page asked for."""

    def __init__(self, urn: str, kind: str, element: str) -> None:
        super().__init__(f"{urn} is a {element}, not the kind of item this page shows")
        self.urn = urn
        self.kind = kind
        self.element = element


# -- the catalogue's state -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CatalogueState:
    """What is browsable now: live cohorts (the latest copy of each) and the topics."""

    generation: tuple[int, int]
    publications: tuple[Publication, ...]
    cohorts: tuple[Cohort, ...]
    topics: tuple[Concept, ...]
    _by_slug: dict[str, Cohort] = field(default_factory=dict, compare=False, repr=False)
    _by_topic: dict[str, Concept] = field(default_factory=dict, compare=False, repr=False)
    _wave_titles: dict[str, LangText] = field(default_factory=dict, compare=False,
                                              repr=False)

    def __post_init__(self) -> None:
        self._by_slug.update((c.slug, c) for c in reversed(self.cohorts))
        self._by_topic.update((c.identity.id, c) for c in reversed(self.topics))
        for cohort in reversed(self.cohorts):
            for wave in cohort.waves:
                self._wave_titles[wave.study.identity.unversioned_urn] = (
                    wave.study.title or wave.study.label)

    def cohort(self, slug: str) -> Cohort | None:
        return self._by_slug.get(slug)

    def topic(self, concept_id: str) -> Concept | None:
        return self._by_topic.get(concept_id)

    def wave_title(self, unversioned_urn: str) -> LangText | None:
        return self._wave_titles.get(unversioned_urn)


def state_generation(publications: Iterable[Publication]) -> tuple[int, int]:
    """Cheap fingerprint of the store: highest publication id, number withdrawn."""
    listed = list(publications)
    return (max((p.id for p in listed), default=0), sum(1 for p in listed if p.withdrawn))


class Catalogue:
    """The store and its structures, plus page data cached for the current state.

    Open once per process. :meth:`refresh` (cheap, throttled by the caller) notices a new
    publication or a withdrawal and drops what was cached for the previous state.
    """

    def __init__(self, store: Store, structures: StructureCache | None = None) -> None:
        self.store = store
        self.structures = structures or StructureCache(store, size=64)
        self._lock = threading.Lock()
        self._pages: OrderedDict[tuple[str, ...], object] = OrderedDict()
        self._state: CatalogueState | None = None

    @property
    def state(self) -> CatalogueState:
        state = self._state
        if state is None:
            state = self.refresh()
        return state

    def refresh(self) -> CatalogueState:
        """Re-read the list of publications; rebuild the state when it changed."""
        publications = tuple(self.store.list_publications())
        generation = state_generation(publications)
        current = self._state
        if current is not None and current.generation == generation:
            return current
        state = _load_state(self.store, self.structures, publications, generation)
        with self._lock:
            self._state = state
            self._pages.clear()
        return state

    def cached(self, key: tuple[str, ...], build: Callable[[], T]) -> T:
        """``build()``, remembered for the current state under ``key``."""
        generation = self.state.generation
        full = (str(generation), *key)
        with self._lock:
            found = self._pages.get(full)
            if found is not None:
                self._pages.move_to_end(full)
                return found  # type: ignore[return-value]
        value = build()
        with self._lock:
            if self._state is not None and self._state.generation == generation:
                self._pages[full] = value
                while len(self._pages) > PAGE_CACHE_SIZE:
                    self._pages.popitem(last=False)
        return value

    def structure(self, publication_id: int) -> PublicationStructure:
        return self.structures.get(publication_id)


def _load_state(store: Store, structures: StructureCache, publications: tuple[Publication, ...],
                generation: tuple[int, int]) -> CatalogueState:
    latest: dict[str, Cohort] = {}
    for publication in publications:
        if publication.withdrawn:
            continue
        for cohort in structures.get(publication.id).cohorts:
            key = cohort.study.identity.key
            known = latest.get(key)
            if known is None or _newer(cohort, known):
                latest[key] = cohort
    by_slug: dict[str, Cohort] = {}
    for cohort in sorted(latest.values(), key=lambda c: c.publication_id):
        by_slug.setdefault(cohort.slug, cohort)
    topics = tuple(s.item for s in store.current_items(("Concept",))
                   if isinstance(s.item, Concept))
    return CatalogueState(generation, publications, tuple(by_slug.values()), topics)


def _newer(a: Cohort, b: Cohort) -> bool:
    return (version_key(a.study.identity.version), a.publication_id) > (
        version_key(b.study.identity.version), b.publication_id)


# -- where an item stands among its versions ------------------------------------------------

@dataclass(frozen=True, slots=True)
class VersionInfo:
    urn: str
    version: str
    published_at: str
    withdrawn: bool
    #: True for the current version (the highest live one).
    current: bool


@dataclass(frozen=True, slots=True)
class Located:
    """The version shown, and the others: a page says when a newer one exists."""

    urn: str
    unversioned_urn: str
    version: str
    publication_id: int
    published_at: str
    withdrawn: bool
    is_current: bool
    #: The current version's URN, when the one shown is not it.
    current_urn: str | None
    versions: tuple[VersionInfo, ...]


def _locate(catalogue: Catalogue, stored: StoredItem, listed: list[ItemVersion]) -> Located:
    """Where ``stored`` stands among its versions (``listed``, read with it)."""
    identity = stored.item.identity
    current = next((v for v in listed if not v.withdrawn), None)
    infos = tuple(VersionInfo(Identity(identity.agency, identity.id, v.version).urn, v.version,
                              v.published_at, v.withdrawn, v is current)
                  for v in listed)
    unique: dict[str, VersionInfo] = {}
    for info in infos:  # one line per version, even when republished unchanged
        unique.setdefault(info.version, info)
    is_current = current is not None and current.pk == stored.pk
    current_urn = None
    if not is_current and current is not None:
        current_urn = Identity(identity.agency, identity.id, current.version).urn
    return Located(stored.urn, identity.unversioned_urn, identity.version, stored.publication_id,
                   stored.published_at, stored.withdrawn, is_current, current_urn,
                   tuple(unique.values()))


def _fetch(catalogue: Catalogue, urn: str, kinds: tuple[str, ...]
           ) -> tuple[StoredItem, list[ItemVersion]]:
    """The item a URN names and all its versions."""
    parts = parse_urn(urn)
    if parts is None:
        raise NotFound(f"{urn!r} is not a DDI URN: expected urn:ddi:AGENCY:ID or "
                       f"urn:ddi:AGENCY:ID:VERSION")
    stored, versions = catalogue.store.find_with_versions(parts.agency, parts.id, parts.version)
    if stored is None:
        if parts.version is not None and versions:
            raise NotFound(f"version {parts.version} of urn:ddi:{parts.agency}:{parts.id} is "
                           f"not in the catalogue; leave the version out to see the latest")
        raise NotFound(f"{urn} is not in the catalogue: check the URN, or search for it")
    if stored.item.kind not in kinds:
        raise ItemOfOtherKind(stored.urn, stored.item.kind, stored.item.element)
    return stored, versions


# -- cohorts and waves ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CohortSummary:
    cohort: Cohort
    participants: int | None
    first_year: int | None
    last_year: int | None

    @property
    def waves(self) -> int:
        return len(self.cohort.waves)


def _participants(study: Study) -> int | None:
    if study.sample_size is not None:
        return study.sample_size
    raw = (study.attribute(PARTICIPANTS_ATTRIBUTE) or "").strip().replace(" ", "")
    return int(raw) if raw.isdigit() else None


def _summary(cohort: Cohort) -> CohortSummary:
    years = [y for w in cohort.waves for y in (w.dates.start_year, w.dates.end_year) if y]
    start = cohort.study.coverage.temporal.start_year
    if start:
        years.append(start)
    return CohortSummary(cohort, _participants(cohort.study), min(years, default=None),
                         max(years, default=None))


def cohort_summaries(catalogue: Catalogue) -> tuple[CohortSummary, ...]:
    """The live cohorts, in publishing order."""
    return tuple(_summary(c) for c in catalogue.state.cohorts)


@dataclass(frozen=True, slots=True)
class CohortPage:
    summary: CohortSummary
    located: Located
    instruments: tuple[Instrument, ...]

    @property
    def cohort(self) -> Cohort:
        return self.summary.cohort

    @property
    def study(self) -> Study:
        return self.summary.cohort.study


def cohort_page(catalogue: Catalogue, slug: str) -> CohortPage:
    cohort = catalogue.state.cohort(slug)
    if cohort is None:
        raise NotFound(f"no cohort called {slug!r}: the home page lists the cohorts")

    def build() -> CohortPage:
        stored, versions = catalogue.store.find_with_versions(
            cohort.study.identity.agency, cohort.study.identity.id,
            cohort.study.identity.version)
        if stored is None:  # pragma: no cover - the state was read from the store
            raise NotFound(f"no cohort called {slug!r}")
        instruments = tuple(dict.fromkeys(i for w in cohort.waves for i in w.instruments))
        return CohortPage(_summary(cohort), _locate(catalogue, stored, versions), instruments)

    return catalogue.cached(("cohort", slug), build)


@dataclass(frozen=True, slots=True)
class WavePage:
    wave: Wave
    cohort: Cohort | None
    located: Located
    #: The data collection the URN named, when it named one rather than the wave.
    collection: DataCollection | None
    datasets: tuple[Ref, ...]
    previous: Wave | None
    next: Wave | None


def wave_page(catalogue: Catalogue, urn: str) -> WavePage:
    return catalogue.cached(("wave", urn), lambda: _wave_page(catalogue, urn))


def _wave_page(catalogue: Catalogue, urn: str) -> WavePage:
    stored, versions = _fetch(catalogue, urn, ("StudyUnit", "DataCollection"))
    structure = catalogue.structure(stored.publication_id)
    item = stored.item
    collection = item if isinstance(item, DataCollection) else None
    wave = None
    if collection is not None:
        wave = structure.wave_of(collection)
    else:
        wave = next((w for c in structure.cohorts for w in c.waves
                     if w.study.identity == item.identity), None)
    if wave is None:
        raise NotFound(f"{stored.urn} is not part of a cohort's waves in its publication")
    cohort = next((c for c in structure.cohorts if wave in c.waves), None)
    candidates = catalogue.cached(("datasets", str(stored.publication_id)), lambda: tuple(
        i for i in structure.skeleton.values() if i.element in _DATASET_ELEMENTS))
    datasets = tuple(Ref.of(i) for i in candidates
                     if wave.study in structure.enclosing(i, ("StudyUnit",)))
    siblings = list(cohort.waves) if cohort else [wave]
    index = siblings.index(wave)
    located = _locate(catalogue, stored, versions)
    return WavePage(wave, cohort, located, collection, datasets,
                    siblings[index - 1] if index > 0 else None,
                    siblings[index + 1] if index + 1 < len(siblings) else None)


# -- questionnaires and questions -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InstrumentPage:
    instrument: Instrument
    located: Located
    wave: Wave | None
    cohort: Cohort | None
    steps: tuple[FlowStep, ...]

    @property
    def question_count(self) -> int:
        return sum(1 for s in self.steps if s.question is not None)


def instrument_page(catalogue: Catalogue, urn: str) -> InstrumentPage:
    return catalogue.cached(("instrument", urn), lambda: _instrument_page(catalogue, urn))


def _instrument_page(catalogue: Catalogue, urn: str) -> InstrumentPage:
    stored, versions = _fetch(catalogue, urn, ("Instrument",))
    instrument = stored.item
    assert isinstance(instrument, Instrument)
    structure = catalogue.structure(stored.publication_id)
    wave = structure.wave_of_instrument(instrument)
    return InstrumentPage(instrument, _locate(catalogue, stored, versions), wave,
                          structure.cohort_of(instrument), tuple(structure.flow(instrument)))


@dataclass(frozen=True, slots=True)
class ResponseDomain:
    representation: Representation
    code_list: CodeList | None
    categories: tuple[CodeCategory, ...]


@dataclass(frozen=True, slots=True)
class VariableInWave:
    """A variable listed on another page, with the wave and cohort it belongs to."""

    variable: ListedItem
    wave: Wave | None
    cohort: Cohort | None


@dataclass(frozen=True, slots=True)
class AskedIn:
    instrument: Instrument
    wave: Wave | None


@dataclass(frozen=True, slots=True)
class QuestionPage:
    question: Question
    located: Located
    cohort: Cohort | None
    responses: tuple[ResponseDomain, ...]
    instructions: tuple[LangText, ...]
    concepts: tuple[Concept, ...]
    variables: tuple[VariableInWave, ...]
    asked_in: tuple[AskedIn, ...]


def question_page(catalogue: Catalogue, urn: str) -> QuestionPage:
    return catalogue.cached(("question", urn), lambda: _question_page(catalogue, urn))


def _question_page(catalogue: Catalogue, urn: str) -> QuestionPage:
    stored, versions = _fetch(catalogue, urn, ("Question",))
    question = stored.item
    assert isinstance(question, Question)
    store = catalogue.store
    structure = catalogue.structure(stored.publication_id)
    responses = _response_domains(catalogue, question.responses)
    resolved = store.resolve_many([r for r in question.references
                                   if r.role in ("instruction", "concept")])
    instructions = [s.item.text for s in resolved.values() if isinstance(s.item, Instruction)]
    if question.instruction_text:
        instructions.append(question.instruction_text)
    concepts = tuple(dict.fromkeys(s.item for s in resolved.values()
                                   if isinstance(s.item, Concept)))
    asked = []
    for instrument in structure.instruments_asking(question.identity):
        asked.append(AskedIn(instrument, structure.wave_of_instrument(instrument)))
    asked.sort(key=lambda a: (a.wave.years if a.wave else (), a.instrument.urn))
    return QuestionPage(question, _locate(catalogue, stored, versions),
                        structure.cohort_of(question),
                        responses, tuple(instructions), concepts,
                        _variables_of_question(catalogue, question.identity), tuple(asked))


def _response_domains(catalogue: Catalogue, representations: Iterable[Representation]
                      ) -> tuple[ResponseDomain, ...]:
    representations = list(representations)
    refs = [r.code_list for r in representations if r.code_list is not None]
    code_lists = catalogue.store.resolve_many(refs) if refs else {}
    category_refs = [ref for s in code_lists.values() if isinstance(s.item, CodeList)
                     for code in s.item.codes for ref in code.refs("category")]
    categories = catalogue.store.resolve_many(category_refs) if category_refs else {}
    out = []
    for rep in representations:
        code_list = None
        found = code_lists.get((rep.code_list.agency, rep.code_list.id, rep.code_list.version)
                               ) if rep.code_list else None
        if found is not None and isinstance(found.item, CodeList):
            code_list = found.item
        out.append(ResponseDomain(rep, code_list, _categories(code_list, categories)))
    return tuple(out)


def _categories(code_list: CodeList | None,
                categories: dict[tuple[str, str, str | None], StoredItem]
                ) -> tuple[CodeCategory, ...]:
    if code_list is None:
        return ()
    out = []
    for code in code_list.codes:
        ref = next(iter(code.refs("category")), None)
        stored = categories.get((ref.agency, ref.id, ref.version)) if ref else None
        category = stored.item if stored and isinstance(stored.item, Category) else None
        out.append(CodeCategory(code.value, category))
    return tuple(out)


def _variables_of_question(catalogue: Catalogue, question: Identity
                           ) -> tuple[VariableInWave, ...]:
    # Shared by the question's page and the page of each of its variables.
    return catalogue.cached(("question-variables", question.urn),
                            lambda: _find_variables_of_question(catalogue, question))


def _find_variables_of_question(catalogue: Catalogue, question: Identity
                                ) -> tuple[VariableInWave, ...]:
    found = []
    for variable in catalogue.store.listed_referrers(question, roles=("question",),
                                                     kinds=("Variable",)):
        structure = catalogue.structure(variable.publication_id)
        found.append(VariableInWave(variable, structure.wave_of(variable),
                                    structure.cohort_of(variable)))
    found.sort(key=lambda v: (v.wave.years if v.wave else (), _wave_label(v.wave),
                              v.variable.name))
    return tuple(found)


def _wave_label(wave: Wave | None) -> str:
    return wave.study.title.best("en", "fr") if wave else ""


# -- variables ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class VariablePage:
    context: VariableContext
    located: Located
    response: ResponseDomain
    #: The same question's variables in other waves (this one left out).
    other_waves: tuple[VariableInWave, ...]

    @property
    def variable(self) -> Variable:
        return self.context.variable


def variable_page(catalogue: Catalogue, urn: str) -> VariablePage:
    return catalogue.cached(("variable", urn), lambda: _variable_page(catalogue, urn))


def _variable_page(catalogue: Catalogue, urn: str) -> VariablePage:
    stored, versions = _fetch(catalogue, urn, ("Variable",))
    structure = catalogue.structure(stored.publication_id)
    context = next(iter(structure.variable_contexts([stored])))
    variable = context.variable
    response = ResponseDomain(variable.representation, context.code_list, context.categories)
    others: tuple[VariableInWave, ...] = ()
    if context.question is not None:
        others = tuple(v for v in _variables_of_question(catalogue, context.question.identity)
                       if v.variable.identity.key != variable.identity.key)
    return VariablePage(context, _locate(catalogue, stored, versions), response, others)


# -- concepts -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConceptPage:
    concept: Concept
    located: Located
    broader: tuple[Concept, ...]
    narrower: tuple[Concept, ...]


def concept_page(catalogue: Catalogue, urn: str) -> ConceptPage:
    return catalogue.cached(("concept", urn), lambda: _concept_page(catalogue, urn))


def _concept_page(catalogue: Catalogue, urn: str) -> ConceptPage:
    stored, versions = _fetch(catalogue, urn, ("Concept",))
    concept = stored.item
    assert isinstance(concept, Concept)
    broader = tuple(s.item for s in catalogue.store.resolve_many(concept.refs("broader")).values()
                    if isinstance(s.item, Concept))
    narrower = tuple(s.item for s in catalogue.store.referrers(
        concept.identity, roles=("broader",), kinds=("Concept",)) if isinstance(s.item, Concept))
    return ConceptPage(concept, _locate(catalogue, stored, versions), broader, narrower)


# -- DDI-L fragments ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fragment:
    """An item's XML exactly as published, with a file name to save it under."""

    file_name: str
    xml: bytes


def item_fragment(catalogue: Catalogue, urn: str, kinds: tuple[str, ...]) -> Fragment:
    stored, _versions = _fetch(catalogue, urn, kinds)
    xml = catalogue.store.item_xml(stored.pk)
    if xml is None:
        raise NotFound(f"the XML of {stored.urn} was not kept when it was published")
    identity = stored.item.identity
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_"
                   for ch in f"{identity.agency}_{identity.id}_{identity.version}")
    return Fragment(f"{safe}.xml", b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml)


def item_kind(catalogue: Catalogue, urn: str) -> AnyItem | None:
    """The item a URN names (any kind), or None: to redirect a URN to its own page."""
    parts = parse_urn(urn)
    if parts is None:
        return None
    stored = catalogue.store.find(parts.agency, parts.id, parts.version)
    return stored.item if stored else None
