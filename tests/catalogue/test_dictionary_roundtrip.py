"""Round trip: dictionary table -> DDI-L 3.3 -> catalogue model (the reader) -> table."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.dictionary import MODES, CategoryEntry, Row, StudyFacts, write_dictionary_csv
from catalogue.dictionary import read_dictionary as read_table
from catalogue.dictionary_ddi import Topic, dictionary_to_ddi, read_topic_refs, topics_to_ddi
from catalogue.dictionary_items import dictionary_from_items, study_from_items
from catalogue.model import Item
from catalogue.validation import open_file, read_file

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "ddi-schemas"
TOPICS = ("tobacco", "alcohol", "mental_health", "care_use")


def read_items(path: Path) -> list[Item]:
    """The model items of a DDI-L file, through the catalogue's reader."""
    check = open_file(path, SCHEMAS)
    assert check.unusable is None, check.unusable
    items: list[Item] = []
    read_file(check, mode="model", sink=lambda read: items.append(read.item))
    assert check.unusable is None, check.unusable
    return items


WORD = st.text(alphabet="abcdeéèàçôœxyzABCÉÀ0123456789'’;|=\\-?!:,.()«»&<>\"%", min_size=1,
               max_size=8)
TEXT = st.lists(WORD, min_size=1, max_size=5).map(" ".join)
MAYBE = st.one_of(st.just(""), TEXT)
KEY = st.from_regex(r"[A-Z][A-Z0-9_]{0,5}", fullmatch=True)
CODE = st.from_regex(r"-?[0-9A-Z_]{1,3}", fullmatch=True)
DATE = st.one_of(st.just(""), st.integers(1950, 2030).map(str),
                 st.dates().filter(lambda d: d.year > 999).map(lambda d: d.isoformat()))


@st.composite
def bilingual(draw: st.DrawFn) -> tuple[str, str]:
    """fr and en texts, at least one of them not empty."""
    fr, en = draw(MAYBE), draw(MAYBE)
    return (fr, en) if fr or en else (draw(TEXT), en)


@st.composite
def dictionaries(draw: st.DrawFn) -> list[Row]:
    """A valid dictionary, already resolved (every shared value copied to every row)."""
    code_lists: dict[str, tuple[CategoryEntry, ...]] = {}
    for name in draw(st.lists(KEY, max_size=3, unique=True)):
        codes = draw(st.lists(CODE, min_size=1, max_size=4, unique=True))
        code_lists[name] = tuple(CategoryEntry(c, *draw(bilingual())) for c in codes)
    universes = {key: draw(bilingual()) if draw(st.booleans()) else ("", "")
                 for key in draw(st.lists(KEY, max_size=2, unique=True))}
    questions: dict[str, dict[str, Any]] = {}
    for qid in draw(st.lists(KEY, max_size=5, unique=True)):
        kind = draw(st.sampled_from(("code", "integer", "decimal", "text", "date", "year")
                                    if code_lists else ("integer", "text", "date")))
        fr, en = draw(bilingual())
        questions[qid] = {"question_text_fr": fr, "question_text_en": en,
                          "response_type": kind,
                          "code_list": draw(st.sampled_from(sorted(code_lists)))
                          if kind == "code" else "",
                          "concept": draw(st.sampled_from(("", *TOPICS)))}
    rows: list[Row] = []
    for wave in draw(st.lists(KEY, min_size=1, max_size=3, unique=True)):
        wave_fr, wave_en = draw(MAYBE), draw(MAYBE)
        start, end = draw(DATE), draw(DATE)
        modes = tuple(draw(st.lists(st.sampled_from(sorted(MODES)), max_size=2, unique=True)))
        instruments = {key: (draw(MAYBE), draw(MAYBE))
                       for key in draw(st.lists(KEY, min_size=1, max_size=2, unique=True))}
        placed: dict[str, str] = {}
        for name in draw(st.lists(KEY, min_size=1, max_size=5, unique=True)):
            values: dict[str, Any] = {}
            qid = draw(st.sampled_from(("", *questions)))
            if qid:
                instrument = placed.setdefault(qid, draw(st.sampled_from(sorted(instruments))))
                values.update(questions[qid], question_id=qid, instrument=instrument,
                              instrument_label_fr=instruments[instrument][0],
                              instrument_label_en=instruments[instrument][1])
            else:
                kind = draw(st.sampled_from(("code", "integer", "text") if code_lists
                                            else ("integer", "text")))
                values.update(response_type=kind, concept=draw(st.sampled_from(("", *TOPICS))),
                              code_list=draw(st.sampled_from(sorted(code_lists)))
                              if kind == "code" else "")
            if values["code_list"]:
                categories = code_lists[values["code_list"]]
                values["categories"] = categories
                values["missing_codes"] = tuple(draw(st.lists(
                    st.sampled_from([c.code for c in categories]), max_size=2, unique=True)))
            elif values["response_type"] in ("integer", "decimal"):
                values["missing_codes"] = tuple(draw(st.lists(
                    st.sampled_from(("99", "-9", "999")), max_size=2, unique=True)))
            universe = draw(st.sampled_from(("", *universes)))
            if universe:
                values.update(universe=universe, universe_label_fr=universes[universe][0],
                              universe_label_en=universes[universe][1])
            source = draw(st.sampled_from(("", "questionnaire", "snds", "biobank")))
            label_fr, label_en = draw(bilingual())
            rows.append(Row(
                wave=wave, variable=name, wave_label_fr=wave_fr, wave_label_en=wave_en,
                wave_start=start, wave_end=end, wave_mode=modes, label_fr=label_fr,
                label_en=label_en, description_fr=draw(MAYBE), description_en=draw(MAYBE),
                unit=draw(st.sampled_from(("", "kg", "g/L", "€", "cigarettes/jour"))),
                source=source, access="casd" if source == "snds" else draw(
                    st.sampled_from(("open", "casd"))), **values))
    return rows


STUDIES = st.builds(
    StudyFacts, id=st.just("study"), slug=st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    title_fr=MAYBE, title_en=MAYBE, abstract_fr=MAYBE, abstract_en=MAYBE,
    participants=st.one_of(st.none(), st.integers(0, 10**6)),
    start=st.one_of(st.just(""), st.integers(1950, 2030).map(str)),
)


@pytest.fixture(scope="module")
def topics_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("topics") / "topics.xml"
    path.write_bytes(topics_to_ddi([Topic(t, t, t) for t in TOPICS], agency="fr.cohortes"))
    return path


@pytest.fixture(scope="module")
def roundtrip(topics_file: Path) -> Callable[[list[Row], StudyFacts], tuple[Any, ...]]:
    topics = read_topic_refs(topics_file.read_bytes())

    def run(rows: list[Row], study: StudyFacts) -> tuple[Any, ...]:
        with tempfile.TemporaryDirectory() as folder:
            table = Path(folder) / "dictionary.csv"
            write_dictionary_csv(rows, table, study)
            dictionary = read_table(table, topics=topics)
            xml = Path(folder) / "dictionary.xml"
            xml.write_bytes(dictionary_to_ddi(dictionary, agency="fr.test", topics=topics))
            items = read_items(xml)
            return dictionary.rows, dictionary_from_items(items), study_from_items(items)
    return run


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=dictionaries(), study=STUDIES)
def test_dictionary_ddi_model_dictionary(
        roundtrip: Callable[[list[Row], StudyFacts], tuple[Any, ...]], rows: list[Row],
        study: StudyFacts) -> None:
    checked, back, study_back = roundtrip(rows, study)
    assert list(checked) == rows  # the generated rows are already resolved
    assert back == rows
    assert study_back == study
