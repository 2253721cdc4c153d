"""From the store to the index: the documents of a publication, kept in step with
publishing.

Only current items are indexed: a publication that brings a new version of an item
takes the old one out of search, and a withdrawn publication has no documents. After a
publication is stored, its documents are written in one commit; the older publications
whose items it supersedes are written again (usually to almost nothing). The store
records which publications each engine has indexed, so an index left behind (a crash
between the store's commit and the index's) is caught up on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from catalogue.model import LangText, Question, Study
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.structure import (
    PublicationStructure,
    StructureCache,
    VariableContext,
    Wave,
    cohort_slug,
)
from search.documents import SearchDocument, Texts
from search.engine import SearchEngine, open_engine
from search.errors import IndexUnusable
from search.fields import Indexable

log = logging.getLogger(__name__)


def open_index(settings: Settings, store: Store | None = None) -> SearchEngine:
    """The search engine chosen by the settings, on the data directory's index.

    An index this version cannot use (built by an older version, or damaged) is, when
    the store is given, replaced by an empty one and every publication marked to be
    indexed again, which :func:`catch_up` then does: the store is the source of truth.
    """
    path = settings.index_dir
    path.mkdir(parents=True, exist_ok=True)
    try:
        return open_engine(settings.search_engine, path)
    except IndexUnusable as exc:
        if store is None:
            raise IndexUnusable(f"{exc.message}; run `catalogue reindex` to rebuild it "
                                "from the store") from None
        log.warning("search index replaced, it will be rebuilt from the store: %s",
                    exc.message)
        engine = open_engine(settings.search_engine, path, replace_unusable=True)
        store.forget_indexed(list(store.publication_ids()))
        return engine


def _texts(text: LangText) -> Texts:
    return tuple(text.values)


def _label(text: LangText, name: str = "") -> str:
    return text.best("en", "fr") or name


def variable_document(context: VariableContext) -> SearchDocument:
    variable = context.variable
    wave = context.wave
    categories = tuple(pair for c in context.categories for pair in c.label.values)
    concepts = tuple(pair for c in context.concepts for pair in c.label.values)
    response = variable.representation.kind
    if response == "none" and context.question is not None:
        response = context.question.response_kind
    return SearchDocument(
        urn=variable.urn, kind="variable", publication_id=context.publication_id,
        name=variable.name, label=_texts(variable.label),
        question_text=_texts(context.question.text) if context.question else (),
        description=_texts(variable.description), category_labels=categories,
        concept_labels=concepts,
        cohort=context.cohort.slug if context.cohort else "",
        cohort_label=_label(context.cohort.study.title) if context.cohort else "",
        wave=_label(wave.study.title, wave.study.name) if wave else "",
        wave_urn=wave.study.identity.unversioned_urn if wave else "",
        years=wave.years if wave else (),
        topics=tuple(c.identity.id for c in context.concepts),
        instruments=tuple(_label(i.label, i.name) for i in context.instruments),
        response_type="" if response == "none" else response,
        access="casd" if context.access == "casd" else "open",
        # Only a question makes variables of several waves one result: a concept is
        # often a topic shared by unrelated variables (every ALD of four cohorts).
        group_key=context.question.identity.unversioned_urn if context.question else "",
    )


def publication_documents(structure: PublicationStructure,
                          current: set[str] | None = None) -> Iterator[SearchDocument]:
    """Documents for the variables, questions and studies of one publication; with
    ``current``, only items whose URN is in it."""
    yield from variable_documents(structure, current)
    yield from question_documents(structure, current)
    yield from study_documents(structure, current)


def variable_documents(structure: PublicationStructure, current: set[str] | None = None,
                       keys: tuple[int, int] | None = None) -> Iterator[SearchDocument]:
    """Documents for the publication's variables (those whose store key is in ``keys``,
    when given); with ``current``, only variables whose URN is in it."""
    variables = (s for s in structure.store.items_of_publication(
                     structure.publication_id, ("Variable",), keys=keys)
                 if current is None or s.item.urn in current)
    for context in structure.variable_contexts(variables):
        yield variable_document(context)


def question_documents(structure: PublicationStructure,
                       current: set[str] | None = None) -> Iterator[SearchDocument]:
    """Documents for the publication's questions (see :func:`publication_documents`)."""
    for stored in structure.store.items_of_publication(structure.publication_id,
                                                       ("Question",)):
        question = stored.item
        if isinstance(question, Question) and (current is None or question.urn in current):
            yield _question_document(structure, question)


def study_documents(structure: PublicationStructure,
                    current: set[str] | None = None) -> Iterator[SearchDocument]:
    """Documents for the publication's studies (see :func:`publication_documents`)."""
    for study in structure.skeleton.values():
        if isinstance(study, Study) and (current is None or study.urn in current):
            yield _study_document(structure, study)


def _question_document(structure: PublicationStructure, question: Question) -> SearchDocument:
    concepts = [c for c in (structure.store.resolve(r) for r in question.refs("concept")) if c]
    cohort = structure.cohort_of(question)
    instruments = structure.instruments_asking(question.identity)
    waves = [w for w in (structure.wave_of(i) for i in instruments) if w is not None]
    response = question.response_kind
    return SearchDocument(
        urn=question.urn, kind="question", publication_id=structure.publication_id,
        name=question.name, label=_texts(question.label) or _texts(question.text),
        question_text=_texts(question.text), description=_texts(question.description),
        concept_labels=tuple(p for c in concepts for p in c.item.label.values),
        cohort=cohort.slug if cohort else "",
        cohort_label=_label(cohort.study.title) if cohort else "",
        years=tuple(sorted({y for w in waves for y in w.years})),
        topics=tuple(c.item.identity.id for c in concepts),
        instruments=tuple(dict.fromkeys(_label(i.label, i.name) for i in instruments)),
        response_type="" if response == "none" else response,
        group_key=question.identity.unversioned_urn,
    )


def _study_document(structure: PublicationStructure, study: Study) -> SearchDocument:
    cohort = structure.cohort_of(study)
    wave = _wave_described_by(structure, study) if study.kind == "StudyUnit" else None
    return SearchDocument(
        urn=study.urn, kind="study", publication_id=structure.publication_id,
        name=study.name, label=_texts(study.title) or _texts(study.label),
        description=_texts(study.abstract),
        concept_labels=tuple(p for s in study.coverage.subjects for p in s.values),
        cohort=cohort.slug if cohort else cohort_slug(study),
        cohort_label=_label(cohort.study.title) if cohort else _label(study.title),
        wave=_label(wave.study.title) if wave else "",
        wave_urn=wave.study.identity.unversioned_urn if wave else "",
        years=wave.years if wave else (),
    )


def _wave_described_by(structure: PublicationStructure, study: Study) -> Wave | None:
    """The wave that ``study`` is, else the one holding it (a study unit within a wave).

    ``wave_of`` looks at what holds an item, so a wave's own study unit would get none,
    and its document no wave and no years: ``year=1993`` would miss the 1993 wave.
    """
    for cohort in structure.cohorts:
        for wave in cohort.waves:
            if wave.study.identity == study.identity:
                return wave
    return structure.wave_of(study)


def _documents(settings: Settings, structure: PublicationStructure,
               current: set[str] | None) -> Iterator[Indexable]:
    """:func:`publication_documents`, built on two cores for a large publication."""
    from search import parallel  # noqa: PLC0415 - it builds on this module's functions

    return parallel.publication_documents(settings, structure, current)


def current_urns(store: Store, publication_id: int) -> set[str]:
    """URNs of the publication's items that are current (not superseded, not withdrawn)."""
    return store.current_urns_of_publication(publication_id)


def _current(store: Store, publication_id: int) -> set[str] | None:
    """:func:`current_urns`, or None when every item of the publication is current (as for
    a new one): asking that is cheaper than listing them."""
    if store.all_items_current(publication_id):
        return None
    return current_urns(store, publication_id)


def index_publications(settings: Settings, store: Store, publication_ids: Iterable[int],
                       engine: SearchEngine | None = None) -> int:
    """Index new publications, and rewrite the older ones whose items they supersede."""
    own = engine is None
    engine = engine or open_index(settings)
    cache = StructureCache(store)
    written = 0
    try:
        todo = list(publication_ids)
        for pid in list(todo):
            for older in store.publications_superseded_by(pid):
                if older not in todo:
                    todo.append(older)
        for pid in todo:
            written += _write(engine, settings, store, cache, pid)
    finally:
        if own:
            engine.close()
    return written


def index_withdrawal(settings: Settings, store: Store, publication_id: int,
                     engine: SearchEngine | None = None) -> int:
    """After a withdrawal: the withdrawn publication's documents go, and every other
    publication holding a version of one of its items is written again (items it
    superseded are current again). Returns the number of documents written."""
    own = engine is None
    engine = engine or open_index(settings)
    cache = StructureCache(store)
    written = 0
    try:
        for pid in [publication_id, *store.publications_sharing_items(publication_id)]:
            written += _write(engine, settings, store, cache, pid)
    finally:
        if own:
            engine.close()
    return written


def _write(engine: SearchEngine, settings: Settings, store: Store, cache: StructureCache,
           pid: int) -> int:
    current = _current(store, pid)
    if current is not None and not current:
        engine.delete_publication(pid)
        count = 0
    else:
        count = engine.replace_publication(pid, _documents(settings, cache.get(pid), current))
    store.mark_indexed(settings.search_engine, pid)
    log.info("indexed publication %s: %s documents", pid, count)
    return count


def reindex(settings: Settings, store: Store) -> int:
    """Rebuild the whole index from the store (``catalogue reindex``)."""
    cache = StructureCache(store)

    def everything() -> Iterator[Indexable]:
        for pid in store.publication_ids():
            current = _current(store, pid)
            if current is None or current:
                yield from _documents(settings, cache.get(pid), current)

    path = settings.index_dir
    path.mkdir(parents=True, exist_ok=True)
    with open_engine(settings.search_engine, path, replace_unusable=True) as engine:
        count = engine.rebuild(everything())
    store.reset_indexed(settings.search_engine, list(store.publication_ids()))
    return count


def catch_up(settings: Settings, store: Store, engine: SearchEngine | None = None) -> int:
    """Index the publications the store holds but this engine has not indexed yet."""
    missing = store.unindexed_publications(settings.search_engine)
    if not missing:
        return 0
    return index_publications(settings, store, missing, engine)
