"""Selected variables, as baskets and access requests show them: resolved at the version
selected, grouped by cohort and wave, with their access level, and compared with the
newest version when the cohort has published one since (version drift).

Selections hold Agency + ID + Version only; everything shown here is read from the
catalogue at that version, which never changes once published.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from catalogue.browse import Catalogue
from catalogue.model import ACCESS_CASD, Identity, LangText, Reference, Variable
from catalogue.store.records import StoredItem, version_key
from catalogue.structure import VariableContext

NO_WAVE = ""
_NO_WAVE_LABEL = LangText((("en", "Outside any wave"), ("fr", "Hors vague")))


@dataclass(frozen=True, slots=True)
class Selected:
    """One selected variable: Agency + ID + Version, and its justification if any."""

    agency: str
    id: str
    version: str
    justification: str = ""

    @property
    def urn(self) -> str:
        return Identity(self.agency, self.id, self.version).urn


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference between the version selected and the newest one."""

    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class VersionDrift:
    selected_version: str
    latest_version: str
    latest_urn: str
    changes: tuple[FieldChange, ...]
    #: the version selected has been withdrawn by its cohort
    selected_withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class SelectedVariable:
    urn: str
    agency: str
    id: str
    version: str
    name: str
    label: LangText
    access: str
    cohort: str
    cohort_label: LangText
    wave_urn: str
    wave_label: LangText
    question_urn: str
    question_text: LangText
    justification: str
    #: False when the catalogue no longer holds this version (nothing else is known then)
    found: bool = True
    drift: VersionDrift | None = None
    #: the cohort withdrew the publication of this version (it stays readable by URN)
    withdrawn: bool = False

    @property
    def casd_only(self) -> bool:
        return self.access == ACCESS_CASD


@dataclass(frozen=True, slots=True)
class WaveSelection:
    urn: str
    label: LangText
    variables: tuple[SelectedVariable, ...]

    @property
    def count(self) -> int:
        return len(self.variables)

    @property
    def casd_count(self) -> int:
        return sum(1 for v in self.variables if v.casd_only)


@dataclass(frozen=True, slots=True)
class CohortSelection:
    slug: str
    label: LangText
    waves: tuple[WaveSelection, ...]

    @property
    def variables(self) -> tuple[SelectedVariable, ...]:
        return tuple(v for w in self.waves for v in w.variables)

    @property
    def count(self) -> int:
        return sum(w.count for w in self.waves)

    @property
    def casd_count(self) -> int:
        return sum(w.casd_count for w in self.waves)

    @property
    def casd_required(self) -> bool:
        """Any CASD-only (SNDS-linked) variable means a CASD secure workspace."""
        return self.casd_count > 0

    @property
    def drifted(self) -> tuple[SelectedVariable, ...]:
        return tuple(v for v in self.variables if v.drift is not None)


def describe_selection(catalogue: Catalogue, selection: Sequence[Selected]
                       ) -> tuple[CohortSelection, ...]:
    """Resolve, group (cohort, then wave, in the cohort's wave order) and check drift."""
    store = catalogue.store
    # a list, not a generator: resolve_many reads its argument twice
    exact = store.resolve_many([Reference(s.agency, s.id, s.version, "selected")
                                for s in selection])
    found: dict[tuple[str, str, str], StoredItem] = {
        (s.agency, s.id, s.version): stored for s in selection
        if (stored := exact.get((s.agency, s.id, s.version))) is not None
        and isinstance(stored.item, Variable)}
    latest = newest_versions(catalogue, {(s.agency, s.id) for s in selection})
    newer = {key: newest for key, stored in found.items()
             if (newest := latest.get(key[:2])) is not None and _is_newer(newest, stored)}
    contexts = contexts_of(catalogue, [*found.values(), *newer.values()])
    owners = store.agency_owners({s.agency for s in selection})
    lines: list[SelectedVariable] = []
    for selected in selection:
        key = (selected.agency, selected.id, selected.version)
        stored = found.get(key)
        context = contexts.get(stored.pk) if stored is not None else None
        drift = None
        newest = newer.get(key)
        if stored is not None and newest is not None:
            drift = VersionDrift(selected.version, newest.item.identity.version, newest.urn,
                                 compare_contexts(context, contexts.get(newest.pk), stored,
                                                  newest), stored.withdrawn)
        fallback = owners.get(selected.agency, selected.agency)
        lines.append(_line(selected, stored, context, drift, fallback))
    return group_by_cohort_and_wave(catalogue, lines)


def _line(selected: Selected, stored: StoredItem | None, context: VariableContext | None,
          drift: VersionDrift | None, fallback_cohort: str) -> SelectedVariable:
    if stored is None or not isinstance(stored.item, Variable):
        return SelectedVariable(
            urn=selected.urn, agency=selected.agency, id=selected.id, version=selected.version,
            name="", label=LangText(), access="", cohort=fallback_cohort,
            cohort_label=LangText(), wave_urn=NO_WAVE, wave_label=_NO_WAVE_LABEL,
            question_urn="", question_text=LangText(), justification=selected.justification,
            found=False)
    variable = stored.item
    cohort = context.cohort if context else None
    wave = context.wave if context else None
    question = context.question if context else None
    return SelectedVariable(
        urn=variable.urn, agency=selected.agency, id=selected.id, version=selected.version,
        name=variable.name, label=variable.label, access=variable.access,
        cohort=cohort.slug if cohort else fallback_cohort,
        cohort_label=(cohort.study.title or cohort.study.label) if cohort else LangText(),
        wave_urn=wave.study.urn if wave else NO_WAVE,
        wave_label=(wave.study.title or wave.study.label) if wave else _NO_WAVE_LABEL,
        question_urn=question.urn if question else "",
        question_text=question.text if question else LangText(),
        justification=selected.justification, drift=drift, withdrawn=stored.withdrawn)


def group_by_cohort_and_wave(catalogue: Catalogue, lines: Sequence[SelectedVariable]
                             ) -> tuple[CohortSelection, ...]:
    """Cohorts by slug; waves in the order their cohort lists them (unknown ones last,
    "outside any wave" at the end); variables in selection order."""
    wave_rank: dict[str, int] = {}
    for cohort in catalogue.state.cohorts:
        for index, wave in enumerate(cohort.waves):
            wave_rank.setdefault(wave.study.urn, index)
    by_cohort: dict[str, dict[str, list[SelectedVariable]]] = {}
    labels: dict[str, LangText] = {}
    wave_labels: dict[str, LangText] = {}
    for line in lines:
        by_cohort.setdefault(line.cohort, {}).setdefault(line.wave_urn, []).append(line)
        if line.cohort_label or line.cohort not in labels:
            labels[line.cohort] = line.cohort_label
        wave_labels.setdefault(line.wave_urn, line.wave_label)
    out = []
    for slug in sorted(by_cohort):
        waves = by_cohort[slug]
        order = sorted(waves, key=lambda urn: (urn == NO_WAVE, wave_rank.get(urn, 10_000), urn))
        out.append(CohortSelection(slug, labels[slug] or LangText((("", slug),)), tuple(
            WaveSelection(urn, wave_labels[urn], tuple(waves[urn])) for urn in order)))
    return tuple(out)


def contexts_of(catalogue: Catalogue, stored: Iterable[StoredItem]
                ) -> dict[int, VariableContext]:
    """Variable contexts by item pk, built publication by publication."""
    by_publication: dict[int, list[StoredItem]] = {}
    for item in stored:
        by_publication.setdefault(item.publication_id, []).append(item)
    out: dict[int, VariableContext] = {}
    for publication_id, items in by_publication.items():
        structure = catalogue.structures.get(publication_id)
        for item, context in zip(items, structure.variable_contexts(items), strict=True):
            out[item.pk] = context
    return out


def newest_versions(catalogue: Catalogue, keys: Iterable[tuple[str, str]]
                    ) -> dict[tuple[str, str], StoredItem]:
    """The newest live version of each Agency+ID (withdrawn only when nothing is live)."""
    wanted = sorted(set(keys))
    resolved = catalogue.store.resolve_many([Reference(a, i, None, "latest")
                                                    for a, i in wanted])
    return {(a, i): stored for (a, i, _), stored in resolved.items()}


def _is_newer(newest: StoredItem, selected: StoredItem) -> bool:
    if newest.pk == selected.pk or newest.withdrawn:
        return False
    newer_version = version_key(newest.item.identity.version)
    selected_version = version_key(selected.item.identity.version)
    return newer_version > selected_version or (selected.withdrawn
                                                and newer_version != selected_version)


# -- what changed between two versions ---------------------------------------------------

def compare_contexts(before: VariableContext | None, after: VariableContext | None,
                     old: StoredItem, new: StoredItem) -> tuple[FieldChange, ...]:
    """Field by field: name, label and description per language, question (and its
    text), code list and categories, representation, concepts, universes, access."""
    assert isinstance(old.item, Variable) and isinstance(new.item, Variable)
    a, b = old.item, new.item
    changes: list[FieldChange] = []

    def differ(name: str, x: str, y: str) -> None:
        if x != y:
            changes.append(FieldChange(name, x, y))

    differ("name", a.name, b.name)
    _texts(changes, "label", a.label, b.label)
    _texts(changes, "description", a.description, b.description)
    qa = before.question if before else None
    qb = after.question if after else None
    differ("question", qa.urn if qa else "", qb.urn if qb else "")
    if qa is not None and qb is not None:
        _texts(changes, "question text", qa.text, qb.text)
    cla = before.code_list if before else None
    clb = after.code_list if after else None
    differ("code list", cla.urn if cla else "", clb.urn if clb else "")
    cats_a = {c.value: c.label for c in (before.categories if before else ())}
    cats_b = {c.value: c.label for c in (after.categories if after else ())}
    for value in sorted(set(cats_a) | set(cats_b)):
        if value not in cats_b:
            changes.append(FieldChange(f"category {value}", cats_a[value].best("en", "fr")
                                       or "(no label)", "(removed)"))
        elif value not in cats_a:
            changes.append(FieldChange(f"category {value}", "(absent)",
                                       cats_b[value].best("en", "fr") or "(no label)"))
        else:
            _texts(changes, f"category {value}", cats_a[value], cats_b[value])
    ra, rb = a.representation, b.representation
    for attribute in ("kind", "numeric_type", "minimum", "maximum", "max_length",
                      "date_format", "unit"):
        differ(f"representation {attribute.replace('_', ' ')}",
               _text(getattr(ra, attribute)), _text(getattr(rb, attribute)))
    differ("missing values", " ".join(ra.missing_values), " ".join(rb.missing_values))
    differ("concepts", _ids(before.concepts if before else ()),
           _ids(after.concepts if after else ()))
    differ("universes", _ids(before.universes if before else ()),
           _ids(after.universes if after else ()))
    differ("access level", a.access, b.access)
    return tuple(changes)


def _texts(changes: list[FieldChange], name: str, a: LangText, b: LangText) -> None:
    languages = list(dict.fromkeys([*a.languages, *b.languages]))
    for lang in languages:
        x, y = a.get(lang) or "", b.get(lang) or ""
        if x != y:
            changes.append(FieldChange(f"{name} [{lang}]" if lang else name, x, y))


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _ids(items: Iterable[object]) -> str:
    return " ".join(sorted(getattr(i, "urn", "") for i in items))
