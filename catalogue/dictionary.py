"""Data dictionaries: the one-row-per-variable tables cohort teams keep (CSV or XLSX).

:func:`read_dictionary` reads and checks a table and returns a :class:`Dictionary` whose
rows are *resolved*: a value written once for a wave, an instrument, a question, a universe
or a code list is copied to every row that shares it. Every problem is reported at once,
located by line and column, in one :class:`~catalogue.errors.InvalidDictionary`.
:func:`catalogue.dictionary_items.dictionary_from_items` goes the other way, from model
items read from DDI-L back to rows.
"""

from __future__ import annotations

import calendar
import csv
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from catalogue.dictionary_table import (
    COLUMNS,
    REQUIRED_COLUMNS,
    Problems,
    Table,
    read_study_table,
    read_table,
)
from catalogue.errors import InvalidDictionary

#: Natural keys (wave, instrument, question, code list, universe, variable) become DDI IDs.
KEY = re.compile(r"^[A-Za-z0-9_]+$")
CODE = re.compile(r"^-?[A-Za-z0-9_]+$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")

RESPONSE_TYPES = ("code", "integer", "decimal", "text", "date", "year")
ACCESS_LEVELS = ("open", "casd")
SOURCES = (
    "questionnaire", "health-examination", "snds", "hr-file", "pension-fund",
    "occupational-medicine", "biobank", "medical-records", "social-security-scheme", "derived",
)
#: Modes of collection: token -> (French, English) description.
MODES: dict[str, tuple[str, str]] = {
    "self-administered": ("Questionnaire auto-administré", "Self-administered questionnaire"),
    "web": ("Questionnaire en ligne", "Web questionnaire"),
    "interview": ("Entretien", "Interview"),
    "face-to-face": ("Entretien en face à face", "Face-to-face interview"),
    "telephone": ("Entretien téléphonique", "Telephone interview"),
    "examination": ("Examen de santé (mesures et tests)",
                    "Health examination (measurements and tests)"),
    "records": ("Données administratives ou médicales existantes",
                "Existing administrative or medical records"),
    "biological-samples": ("Prélèvements biologiques", "Biological samples"),
}

STUDY_FIELDS = (
    "id", "slug", "title_fr", "title_en", "alternate_title", "abstract_fr", "abstract_en",
    "purpose_fr", "purpose_en", "participants", "start", "end", "funding_fr", "funding_en",
    "kind_of_data", "analysis_unit",
)


@dataclass(frozen=True, slots=True)
class CategoryEntry:
    """One category of a code list: ``code=label fr|label en`` in the table."""

    code: str
    label_fr: str
    label_en: str


@dataclass(frozen=True, slots=True)
class Row:
    """One variable, resolved; ``line`` (the table row) is not part of equality."""

    wave: str
    variable: str
    response_type: str
    wave_label_fr: str = ""
    wave_label_en: str = ""
    wave_start: str = ""
    wave_end: str = ""
    wave_mode: tuple[str, ...] = ()
    instrument: str = ""
    instrument_label_fr: str = ""
    instrument_label_en: str = ""
    question_id: str = ""
    question_text_fr: str = ""
    question_text_en: str = ""
    label_fr: str = ""
    label_en: str = ""
    description_fr: str = ""
    description_en: str = ""
    code_list: str = ""
    categories: tuple[CategoryEntry, ...] = ()
    missing_codes: tuple[str, ...] = ()
    unit: str = ""
    concept: str = ""
    universe: str = ""
    universe_label_fr: str = ""
    universe_label_en: str = ""
    source: str = ""
    access: str = "open"
    line: int = field(default=0, compare=False)

    def cell(self, column: str) -> str:
        """The value as written in a table cell."""
        value = getattr(self, column)
        if column == "categories":
            return format_categories(value)
        if isinstance(value, tuple):
            return ";".join(value)
        return str(value)


@dataclass(frozen=True, slots=True)
class StudyFacts:
    """Cohort-level facts from the ``study`` sheet or the ``.study.csv`` sidecar."""

    id: str = ""
    slug: str = ""
    title_fr: str = ""
    title_en: str = ""
    alternate_title: str = ""
    abstract_fr: str = ""
    abstract_en: str = ""
    purpose_fr: str = ""
    purpose_en: str = ""
    participants: int | None = None
    start: str = ""
    end: str = ""
    funding_fr: str = ""
    funding_en: str = ""
    kind_of_data: str = ""
    analysis_unit: str = ""


@dataclass(frozen=True, slots=True)
class InstrumentEntry:
    key: str
    label_fr: str
    label_en: str
    questions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WaveEntry:
    key: str
    label_fr: str
    label_en: str
    start: str
    end: str
    modes: tuple[str, ...]
    instruments: tuple[InstrumentEntry, ...]
    variables: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class QuestionEntry:
    id: str
    text_fr: str
    text_en: str
    response_type: str
    code_list: str
    concept: str


@dataclass(frozen=True, slots=True)
class CodeListEntry:
    name: str
    categories: tuple[CategoryEntry, ...]
    missing: frozenset[str]


@dataclass(frozen=True, slots=True)
class UniverseEntry:
    key: str
    label_fr: str
    label_en: str


@dataclass(frozen=True, slots=True)
class Dictionary:
    """A checked dictionary: resolved rows plus the things they share, in table order."""

    path: str
    study: StudyFacts
    rows: tuple[Row, ...]
    waves: tuple[WaveEntry, ...]
    questions: tuple[QuestionEntry, ...]
    code_lists: tuple[CodeListEntry, ...]
    universes: tuple[UniverseEntry, ...]


def read_dictionary(path: Path, *, study_path: Path | None = None,
                    topics: Collection[str] | None = None) -> Dictionary:
    """Read and check ``path`` (.csv or .xlsx); raise InvalidDictionary listing every problem.

    The study facts come from ``study_path``, else the workbook's ``study`` sheet or the
    ``NAME.study.csv`` file beside a CSV. ``topics``, when given, lists the allowed
    ``concept`` values.
    """
    problems = Problems(path.name)
    table = read_table(path, problems)
    study = StudyFacts()
    study_rows = read_study_table(path, study_path, problems)
    if study_rows is not None:
        study = _study_facts(study_rows, problems)
    rows = _check_table(table, problems, topics) if table is not None else []
    if problems:
        raise InvalidDictionary(f"{path.name}: {len(problems)} problem(s); nothing was written",
                                problems.errors)
    return _assemble(str(path), study, rows)


def format_categories(categories: Iterable[CategoryEntry]) -> str:
    """``1=Oui|Yes; 2=Non|No``: the ``categories`` cell; ``;`` and ``|`` are escaped."""
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(";", "\\;").replace("|", "\\|")
    return "; ".join(f"{esc(c.code)}={esc(c.label_fr)}|{esc(c.label_en)}" for c in categories)


def parse_categories(text: str) -> tuple[list[CategoryEntry], list[str]]:
    """Parse a ``categories`` cell into entries and a list of problems."""
    items: list[list[str]] = [[""]]
    escaped = False
    for char in text:
        if escaped:
            items[-1][-1] += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ";":
            items.append([""])
        elif char == "|" and len(items[-1]) == 1:
            items[-1].append("")
        else:
            items[-1][-1] += char
    entries: list[CategoryEntry] = []
    errors: list[str] = []
    for parts in items:
        if not "".join(parts).strip():
            continue
        code, sep, label_fr = parts[0].partition("=")
        code, label_fr = code.strip(), label_fr.strip()
        label_en = parts[1].strip() if len(parts) > 1 else ""
        if not sep:
            errors.append(f"category {parts[0].strip()!r} has no '='; write code=label fr|label en")
        elif not CODE.match(code):
            errors.append(f"category code {code!r} must be letters, digits or _ (a leading - is "
                          "allowed)")
        elif not (label_fr or label_en):
            errors.append(f"category {code} has no label")
        else:
            entries.append(CategoryEntry(code, label_fr, label_en))
    seen: set[str] = set()
    for entry in entries:
        if entry.code in seen:
            errors.append(f"category code {entry.code} appears twice")
        seen.add(entry.code)
    return entries, errors


def _study_facts(rows: list[tuple[int, str, str]], problems: Problems) -> StudyFacts:
    values: dict[str, str] = {}
    file = problems.study_file
    for line, name, value in rows:
        key = name.strip().lower()
        if key not in STUDY_FIELDS:
            problems.add(line, "field", f"unknown study field {name!r}; use one of "
                         f"{', '.join(STUDY_FIELDS)}", file=file)
        elif key in values:
            problems.add(line, "field", f"study field {key} is given twice", file=file)
        else:
            values[key] = value.strip()
            message = _study_value_problem(key, values[key])
            if message:
                problems.add(line, "value", message, file=file)
    participants = values.pop("participants", "")
    count = int(participants) if participants.isdigit() else None
    return StudyFacts(participants=count, **values)


def _study_value_problem(key: str, value: str) -> str:
    if key == "participants" and value and not value.isdigit():
        return f"participants must be a whole number, got {value!r}"
    if key in ("start", "end") and value and not _valid_date(value):
        return f"{key} must be a date YYYY, YYYY-MM or YYYY-MM-DD, got {value!r}"
    if key == "id" and value and not KEY.match(value):
        return f"id {value!r} must be letters, digits or _"
    if key == "slug" and value and not _SLUG.match(value):
        return f"slug {value!r} must be lower-case letters, digits or -"
    return ""


def _valid_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    parts = [int(p) for p in value.split("-")]
    if len(parts) > 1 and not 1 <= parts[1] <= 12:
        return False
    if len(parts) == 3:
        return 1 <= parts[2] <= calendar.monthrange(parts[0], parts[1])[1]
    return True


class _Shared:
    """Values written once for a wave/instrument/question/universe/code list, then inherited."""

    def __init__(self, kind: str, problems: Problems) -> None:
        self.kind = kind
        self.problems = problems
        self.values: dict[tuple[str, ...], dict[str, tuple[str, int]]] = {}

    def see(self, key: tuple[str, ...], line: int, column: str, value: str) -> None:
        """Record ``value``; report a different value given earlier (a blank inherits)."""
        known = self.values.setdefault(key, {})
        if not value:
            return
        if column not in known:
            known[column] = (value, line)
        elif known[column][0] != value:
            first, first_line = known[column]
            self.problems.add(line, column, f"{self.kind} {'/'.join(key)} has {column} "
                              f"{first!r} on line {first_line}, not {value!r}")

    def get(self, key: tuple[str, ...], column: str) -> str:
        return self.values.get(key, {}).get(column, ("", 0))[0]


def _check_table(table: Table, problems: Problems,
                 topics: Collection[str] | None) -> list[Row]:
    present = set(table.header)
    drafts: list[Row] = []
    for line, cells in table.rows:
        values = dict(zip(table.header, cells, strict=True))
        row = _check_row(line, values, present, problems, topics)
        if row is not None:
            drafts.append(row)
    if not drafts and not problems:
        problems.add(2, None, "the table has a header but no variable rows")
    return _resolve(drafts, problems)


def _check_row(line: int, v: dict[str, str], present: set[str], problems: Problems,
               topics: Collection[str] | None) -> Row | None:
    """Check one row on its own; columns with a problem are left blank in the returned row
    so that they do not also show up as conflicts with other rows."""
    bad: set[str] = set()

    def report(column: str, message: str) -> None:
        bad.add(column)
        if column in present or column not in REQUIRED_COLUMNS:
            problems.add(line, column, message)

    for column in ("wave", "variable", "response_type"):
        if not v.get(column):
            report(column, f"{column} is empty")
    if not (v.get("label_fr") or v.get("label_en")):
        report("label_fr", "the variable has no label: fill label_fr and/or label_en")
    for column in ("wave", "instrument", "question_id", "variable", "code_list", "universe"):
        if v.get(column) and not KEY.match(v[column]):
            report(column, f"{column} {v[column]!r} must be letters, digits or _ (it becomes "
                   "part of a DDI ID)")
    v = {**v, "response_type": v.get("response_type", "").lower()}
    response = v["response_type"]
    if response and response not in RESPONSE_TYPES:
        report("response_type", f"unknown response type {response!r}; use one of "
               f"{', '.join(RESPONSE_TYPES)}")
    elif response == "code" and not v.get("code_list"):
        report("code_list", "response_type code needs a code_list name")
    elif response and response != "code" and v.get("code_list"):
        report("code_list", f"code_list is set but response_type is {response}")
    if v.get("categories") and not v.get("code_list"):
        report("categories", "categories are given but code_list is empty")
    categories, category_errors = parse_categories(v.get("categories", ""))
    for message in category_errors:
        report("categories", message)
    if bool(v.get("instrument")) != bool(v.get("question_id")):
        report("question_id" if v.get("instrument") else "instrument", "instrument and "
               "question_id go together: a variable is placed in an instrument through its "
               "question")
    for column in ("wave_start", "wave_end"):
        if v.get(column) and not _valid_date(v[column]):
            report(column, f"{v[column]!r} is not a date YYYY, YYYY-MM or YYYY-MM-DD")
    modes = tuple(m for m in re.split(r"[;\s]+", v.get("wave_mode", "").lower()) if m)
    for mode in modes:
        if mode not in MODES:
            report("wave_mode", f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    source = v["source"] = v.get("source", "").lower()
    if source and source not in SOURCES:
        report("source", f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    access = v.get("access", "").lower() or "open"
    v["access"] = access = "casd" if access in ("casd-only", "casd only") else access
    if access not in ACCESS_LEVELS:
        report("access", f"unknown access {access!r}; use open or casd")
    elif source == "snds" and access != "casd":
        report("access", "SNDS-derived variables are only reachable in CASD: set access to casd")
    if topics is not None and v.get("concept") and v["concept"] not in topics:
        report("concept", f"unknown topic {v['concept']!r}; use the id of a published topic "
               "(see --topics)")
    missing = tuple(m for m in re.split(r"[;\s]+", v.get("missing_codes", "")) if m)
    for code in missing:
        if not CODE.match(code):
            report("missing_codes", f"missing code {code!r} must be letters, digits or _ (a "
                   "leading - is allowed)")
    if {"wave", "variable"} & bad:
        return None
    return Row(
        line=line, wave_mode=() if "wave_mode" in bad else modes,
        categories=() if "categories" in bad else tuple(categories),
        missing_codes=() if "missing_codes" in bad else missing,
        **{c: "" if c in bad else v.get(c, "") for c in COLUMNS if c not in _SPECIAL},
    )


_SPECIAL = {"wave_mode", "categories", "missing_codes"}
_WAVE_FIELDS = ("wave_label_fr", "wave_label_en", "wave_start", "wave_end")
_INSTRUMENT_FIELDS = ("instrument_label_fr", "instrument_label_en")
_UNIVERSE_FIELDS = ("universe_label_fr", "universe_label_en")
_QUESTION_TEXT = ("question_text_fr", "question_text_en", "concept")


def _resolve(drafts: list[Row], problems: Problems) -> list[Row]:
    waves, instruments = _Shared("wave", problems), _Shared("instrument", problems)
    questions, universes = _Shared("question", problems), _Shared("universe", problems)
    code_lists = _Shared("code list", problems)
    names: dict[tuple[str, str], int] = {}
    placed: dict[tuple[str, str], tuple[str, int]] = {}
    for row in drafts:
        for column in _WAVE_FIELDS:
            waves.see((row.wave,), row.line, column, getattr(row, column))
        waves.see((row.wave,), row.line, "wave_mode", ";".join(row.wave_mode))
        if row.instrument:
            for column in _INSTRUMENT_FIELDS:
                instruments.see((row.wave, row.instrument), row.line, column,
                                getattr(row, column))
        if row.question_id:
            q = (row.question_id,)
            for column in _QUESTION_TEXT:
                questions.see(q, row.line, column, getattr(row, column))
            questions.see(q, row.line, "response_type", row.response_type)
            questions.see(q, row.line, "code_list", row.code_list)
            where = placed.setdefault((row.wave, row.question_id), (row.instrument, row.line))
            if where[0] != row.instrument:
                problems.add(row.line, "instrument", f"question {row.question_id} is already in "
                             f"instrument {where[0]} of wave {row.wave} (line {where[1]})")
        if row.universe:
            for column in _UNIVERSE_FIELDS:
                universes.see((row.universe,), row.line, column, getattr(row, column))
        elif row.universe_label_fr or row.universe_label_en:
            problems.add(row.line, "universe", "universe labels are given but universe is empty")
        if row.code_list:
            code_lists.see((row.code_list,), row.line, "categories", row.cell("categories"))
        first = names.setdefault((row.wave, row.variable), row.line)
        if first != row.line:
            problems.add(row.line, "variable", f"variable {row.variable} appears twice in wave "
                         f"{row.wave} (first on line {first})")
    resolved: list[Row] = []
    for row in drafts:
        changes: dict[str, object] = {c: waves.get((row.wave,), c) for c in _WAVE_FIELDS}
        mode = waves.get((row.wave,), "wave_mode")
        changes["wave_mode"] = tuple(mode.split(";")) if mode else ()
        if row.instrument:
            changes.update({c: instruments.get((row.wave, row.instrument), c)
                            for c in _INSTRUMENT_FIELDS})
        if row.question_id:
            changes.update({c: questions.get((row.question_id,), c) for c in _QUESTION_TEXT})
        if row.universe:
            changes.update({c: universes.get((row.universe,), c) for c in _UNIVERSE_FIELDS})
        if row.code_list:
            categories, _ = parse_categories(code_lists.get((row.code_list,), "categories"))
            changes["categories"] = tuple(categories)
            if not categories and "categories" not in code_lists.values[(row.code_list,)]:
                code_lists.values[(row.code_list,)]["categories"] = ("", row.line)
                problems.add(row.line, "categories", f"code list {row.code_list} has no "
                             "categories on any row; write them once as code=label fr|label en")
            codes = {c.code for c in categories}
            for code in row.missing_codes:
                if categories and code not in codes:
                    problems.add(row.line, "missing_codes", f"missing code {code} is not a "
                                 f"category of code list {row.code_list}")
        if row.question_id and not (changes["question_text_fr"] or changes["question_text_en"]):
            problems.add(row.line, "question_text_fr", f"question {row.question_id} has no text "
                         "on any row")
        resolved.append(replace(row, **changes))  # type: ignore[arg-type]
    return resolved


def _assemble(path: str, study: StudyFacts, rows: list[Row]) -> Dictionary:
    wave_rows: dict[str, list[Row]] = {}
    questions: dict[str, QuestionEntry] = {}
    lists: dict[str, tuple[tuple[CategoryEntry, ...], set[str]]] = {}
    universes: dict[str, UniverseEntry] = {}
    for row in rows:
        wave_rows.setdefault(row.wave, []).append(row)
        if row.question_id:
            questions.setdefault(row.question_id, QuestionEntry(
                row.question_id, row.question_text_fr, row.question_text_en, row.response_type,
                row.code_list, row.concept))
        if row.code_list:
            lists.setdefault(row.code_list, (row.categories, set()))[1].update(row.missing_codes)
        if row.universe:
            universes.setdefault(row.universe, UniverseEntry(
                row.universe, row.universe_label_fr, row.universe_label_en))
    waves = []
    for key, members in wave_rows.items():
        first = members[0]
        order: dict[str, list[str]] = {}
        labels: dict[str, Row] = {}
        for row in members:
            if row.instrument:
                labels.setdefault(row.instrument, row)
                questions_in = order.setdefault(row.instrument, [])
                if row.question_id not in questions_in:
                    questions_in.append(row.question_id)
        instruments = tuple(
            InstrumentEntry(name, labels[name].instrument_label_fr,
                            labels[name].instrument_label_en, tuple(qs))
            for name, qs in order.items())
        waves.append(WaveEntry(key, first.wave_label_fr, first.wave_label_en, first.wave_start,
                               first.wave_end, first.wave_mode, instruments, tuple(members)))
    return Dictionary(
        path=path, study=study, rows=tuple(r for w in waves for r in w.variables),
        waves=tuple(waves), questions=tuple(questions.values()),
        code_lists=tuple(CodeListEntry(name, cats, frozenset(m))
                         for name, (cats, m) in lists.items()),
        universes=tuple(universes.values()),
    )



def write_dictionary_csv(rows: Iterable[Row], path: Path, study: StudyFacts | None = None) -> None:
    """Write rows as a UTF-8 CSV with every column (and the ``.study.csv`` sidecar)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row.cell(c) for c in COLUMNS])
    if study is not None:
        with path.with_name(path.stem + ".study.csv").open("w", encoding="utf-8",
                                                           newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("field", "value"))
            for name in STUDY_FIELDS:
                value = getattr(study, name)
                if value not in ("", None):
                    writer.writerow((name, value))
