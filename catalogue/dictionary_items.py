"""Back from the catalogue model to a data dictionary: the rows (and study facts) of a
publication laid out as :mod:`catalogue.dictionary_ddi` writes it. Used to check the
round trip dictionary -> DDI-L -> model -> dictionary, and to keep a cohort's study facts
when a new dictionary is uploaded without them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from catalogue.dictionary import (
    MODES,
    CategoryEntry,
    Row,
    StudyFacts,
)
from catalogue.model import (
    CodeList,
    DataCollection,
    Item,
    LangText,
    Question,
    Representation,
    Study,
    Variable,
)


def dictionary_from_items(items: Iterable[Item]) -> list[Row]:
    """One row per variable, from the model items of a publication that follows the layout
    above (variables in a StudyUnit's VariableScheme, questions placed in instruments
    through QuestionConstructs). Rows come wave by wave, in publication order."""
    index = _Index(items)
    instrument_of: dict[tuple[str, str], Item] = {}
    for instrument in index.of_kind("Instrument"):
        wave = index.study_unit(instrument)
        flow = index.targets(instrument, "construct") or index.targets(instrument, "child")
        for sequence in flow:
            for construct in index.targets(sequence, "child"):
                for question in construct.refs("question"):
                    instrument_of.setdefault((wave, question.key), instrument)
    rows: dict[str, list[Row]] = {key: [] for key in index.study_units}
    for variable in index.of_kind("Variable"):
        wave = index.study_unit(variable)
        if wave in rows and isinstance(variable, Variable):
            rows[wave].append(_row(index, variable, wave, instrument_of))
    return [row for wave_rows in rows.values() for row in wave_rows]


def study_from_items(items: Iterable[Item]) -> StudyFacts:
    """The study facts of the first Group among ``items``."""
    group = next((i for i in items if isinstance(i, Study) and i.element == "Group"), None)
    if group is None:
        return StudyFacts()
    participants = group.attribute("catalogue:participants")
    funding = group.funding[0].description if group.funding else LangText()
    return StudyFacts(
        id=group.identity.id, slug=group.attribute("catalogue:slug") or "",
        title_fr=group.title.get("fr") or "", title_en=group.title.get("en") or "",
        alternate_title=group.alternate_title.best(),
        abstract_fr=group.abstract.get("fr") or "", abstract_en=group.abstract.get("en") or "",
        purpose_fr=group.purpose.get("fr") or "", purpose_en=group.purpose.get("en") or "",
        participants=int(participants) if participants and participants.isdigit() else None,
        start=group.coverage.temporal.start or "", end=group.coverage.temporal.end or "",
        funding_fr=funding.get("fr") or "", funding_en=funding.get("en") or "",
        kind_of_data=";".join(group.kind_of_data), analysis_unit=";".join(group.analysis_units),
    )


class _Index:
    """Items by key, and who holds whom (from ``parent`` and ``contains`` references)."""

    def __init__(self, items: Iterable[Item]) -> None:
        self.items = list(items)
        self.by_key = {item.identity.key: item for item in self.items}
        self.parent: dict[str, str] = {}
        for item in self.items:
            if item.parent is not None:
                self.parent[item.identity.key] = item.parent.key
            for ref in item.refs("contains"):
                self.parent.setdefault(ref.key, item.identity.key)
        self.study_units = [i.identity.key for i in self.items
                            if isinstance(i, Study) and i.element == "StudyUnit"]

    def of_kind(self, kind: str) -> list[Item]:
        return [item for item in self.items if item.kind == kind]

    def get(self, key: str | None) -> Item | None:
        return self.by_key.get(key) if key else None

    def targets(self, item: Item, role: str) -> list[Item]:
        return [t for r in item.refs(role) if (t := self.by_key.get(r.key)) is not None]

    def study_unit(self, item: Item) -> str:
        key: str | None = item.identity.key
        seen = set()
        while key is not None and key not in seen:
            seen.add(key)
            found = self.by_key.get(key)
            if isinstance(found, Study) and found.element == "StudyUnit":
                return key
            key = self.parent.get(key)
        return ""


def _lang(text: LangText) -> tuple[str, str]:
    return text.get("fr") or "", text.get("en") or ""


def _row(index: _Index, variable: Variable, wave_key: str,
         instrument_of: Mapping[tuple[str, str], Item]) -> Row:
    unit = index.by_key[wave_key]
    wave_fr, wave_en = _lang(unit.title if isinstance(unit, Study) else LangText())
    collections = [i for i in index.of_kind("DataCollection")
                   if isinstance(i, DataCollection) and index.study_unit(i) == wave_key]
    events = [e for c in collections for e in c.events]
    start = next((e.dates.start for e in events if e.dates.start), "") or ""
    end = next((e.dates.end for e in events if e.dates.end), "") or ""
    modes = tuple(m for e in events for text in e.modes if (m := _mode_token(text)))
    rep = variable.representation
    question = next(iter(index.targets(variable, "question")), None)
    instrument = instrument_of.get((wave_key, question.identity.key)) if question else None
    code_list = index.get(rep.code_list.key if rep.code_list else None)
    universe = next(iter(index.targets(variable, "universe")), None)
    concept = next(iter(variable.refs("concept")), None)
    label_fr, label_en = _lang(variable.label)
    return Row(
        wave=_natural(unit, "su-"), variable=variable.name, response_type=_response_type(rep),
        wave_label_fr=wave_fr, wave_label_en=wave_en, wave_start=start, wave_end=end,
        wave_mode=modes,
        instrument=instrument.name if instrument else "",
        instrument_label_fr=_lang(instrument.label)[0] if instrument else "",
        instrument_label_en=_lang(instrument.label)[1] if instrument else "",
        question_id=_natural(question, "q-") if question else "",
        question_text_fr=_lang(question.text)[0] if isinstance(question, Question) else "",
        question_text_en=_lang(question.text)[1] if isinstance(question, Question) else "",
        label_fr=label_fr, label_en=label_en,
        description_fr=_lang(variable.description)[0],
        description_en=_lang(variable.description)[1],
        code_list=_natural(code_list, "cl-") if code_list else "",
        categories=_categories(index, code_list), missing_codes=rep.missing_values,
        unit=rep.unit, concept=concept.id if concept else "",
        universe=_natural(universe, "u-") if universe else "",
        universe_label_fr=_lang(universe.label)[0] if universe else "",
        universe_label_en=_lang(universe.label)[1] if universe else "",
        source=variable.source, access=variable.access,
    )


def _natural(item: Item, prefix: str) -> str:
    """The dictionary's key for an item: its name, else its ID without the type prefix."""
    return item.name or item.identity.id.removeprefix(prefix)


def _categories(index: _Index, code_list: Item | None) -> tuple[CategoryEntry, ...]:
    if not isinstance(code_list, CodeList):
        return ()
    entries = []
    for code in code_list.codes:
        category = next(iter(index.targets(code, "category")), None)
        label_fr, label_en = _lang(category.label) if category else ("", "")
        entries.append(CategoryEntry(code.value, label_fr, label_en))
    return tuple(entries)


def _response_type(rep: Representation) -> str:
    if rep.kind == "code":
        return "code"
    if rep.kind == "numeric":
        return "decimal" if rep.numeric_type.lower() == "decimal" else "integer"
    if rep.kind == "datetime":
        return "year" if rep.date_format.upper() in ("YYYY", "YEAR") else "date"
    return "text"


def _mode_token(text: LangText) -> str:
    values = {value.strip().lower() for _, value in text}
    for token, labels in MODES.items():
        if token in values or {label.lower() for label in labels} & values:
            return token
    return ""
