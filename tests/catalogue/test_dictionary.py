"""catalogue import-table: a data dictionary in, valid DDI-L 3.3 out, stable IDs/versions."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from catalogue import cli
from catalogue.dictionary import format_categories, parse_categories
from catalogue.dictionary_ddi import NS, Topic, q, topics_to_ddi
from catalogue.dictionary_table import COLUMNS

XSD = Path(__file__).resolve().parents[3] / "shared" / "ddi-schemas" / "3.3" / "instance.xsd"

Run = Callable[..., tuple[int, str, str]]

if TYPE_CHECKING:
    from conftest import CliRunner

BASE = {"wave_mode": "", "source": "questionnaire", "access": "open"}
ROWS: list[dict[str, str]] = [
    {"wave": "V1", "wave_label_fr": "Inclusion", "wave_label_en": "Inclusion",
     "wave_start": "2012", "wave_end": "2013", "wave_mode": "self-administered;examination",
     "instrument": "QLIFE", "instrument_label_fr": "Mode de vie",
     "instrument_label_en": "Lifestyle", "question_id": "TABAC",
     "question_text_fr": "Fumez-vous actuellement ?", "question_text_en": "Do you smoke?",
     "variable": "TABAC_V1", "label_fr": "Statut tabagique", "label_en": "Smoking status",
     "response_type": "code", "code_list": "TABAC",
     "categories": "1=Fumeur|Smoker; 2=Ex-fumeur|Former smoker; 3=Jamais|Never; 9=NSP|DK",
     "missing_codes": "9", "concept": "tobacco", "universe": "ALL",
     "universe_label_fr": "Tous les participants", "universe_label_en": "All participants"},
    {"wave": "V1", "instrument": "QLIFE", "question_id": "ALCOOL",
     "question_text_fr": "Buvez-vous de l'alcool ?", "question_text_en": "Do you drink?",
     "variable": "ALCOOL_V1", "label_fr": "Consommation d'alcool", "label_en": "Alcohol use",
     "response_type": "code", "code_list": "OUI_NON", "categories": "1=Oui|Yes; 2=Non|No",
     "concept": "alcohol", "universe": "ALL"},
    {"wave": "V1", "instrument": "EXAM", "question_id": "POIDS",
     "question_text_fr": "Poids mesuré", "question_text_en": "Measured weight",
     "variable": "POIDS_V1", "label_fr": "Poids", "label_en": "Weight", "unit": "kg",
     "response_type": "decimal", "missing_codes": "999", "source": "health-examination"},
    {"wave": "V2", "wave_label_fr": "Suivi 1", "wave_label_en": "Follow-up 1",
     "wave_mode": "web", "instrument": "QLIFE", "question_id": "TABAC",
     "variable": "TABAC_V2", "label_fr": "Statut tabagique", "label_en": "Smoking status",
     "response_type": "code", "code_list": "TABAC", "concept": "tobacco", "universe": "ALL"},
    {"wave": "SNDS", "wave_label_fr": "Appariement SNDS", "wave_label_en": "SNDS linkage",
     "wave_mode": "records", "variable": "HOSP_N", "label_fr": "Nombre de séjours",
     "label_en": "Number of stays", "response_type": "integer", "source": "snds",
     "access": "casd", "concept": "care_use"},
]


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    header = [c for c in COLUMNS if any(c in r for r in rows) or c in BASE]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow([{**BASE, **row}.get(c, "") for c in header])
    return path


@pytest.fixture(scope="session")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture
def topics(tmp_path: Path) -> Path:
    path = tmp_path / "topics.xml"
    path.write_bytes(topics_to_ddi(
        [Topic(t, t.title(), t.title()) for t in ("tobacco", "alcohol", "care_use")],
        agency="fr.cohortes"))
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: object) -> tuple[int, str, str]:
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        assert "Traceback" not in out.err
        return code, out.out, out.err
    return invoke


def versions(xml: bytes) -> dict[str, str]:
    """ID -> version of every identified element (references excluded)."""
    root = etree.fromstring(xml)
    found = {}
    for el in root.iter():
        if el.find(q("r:ID")) is not None and el.find(q("r:TypeOfObject")) is None:
            found[el.findtext(q("r:ID")) or ""] = el.findtext(q("r:Version")) or ""
    return found


def test_import_writes_valid_ddi_with_shared_questions(
        tmp_path: Path, topics: Path, run: Run, schema: etree.XMLSchema) -> None:
    out = tmp_path / "out.xml"
    code, stdout, _ = run("import-table", write_csv(tmp_path / "d.csv", ROWS),
                          "--agency", "fr.test", "--out", out, "--topics", topics)
    assert code == 0 and "5 variables in 3 waves" in stdout
    doc = etree.parse(str(out))
    assert schema.validate(doc), schema.error_log
    root = doc.getroot()
    assert root.tag == q("ddi:DDIInstance")
    [group] = root.findall(q("g:Group"))
    units = group.findall(q("s:StudyUnit"))
    assert [u.findtext(q("r:ID")) for u in units] == ["su-V1", "su-V2", "su-SNDS"]
    questions = root.findall(f".//{q('d:QuestionItem')}")
    assert sorted(x.findtext(q("r:ID")) or "" for x in questions) == [
        "q-ALCOOL", "q-POIDS", "q-TABAC"]
    refs = root.findall(f".//{q('l:Variable')}/{q('r:QuestionReference')}/{q('r:ID')}")
    assert [r.text for r in refs].count("q-TABAC") == 2
    seq = root.find(f".//{q('d:Sequence')}")
    assert seq is not None
    assert [r.findtext(q("r:ID")) for r in seq.findall(q("d:ControlConstructReference"))] == [
        "qc-V1-QLIFE-TABAC", "qc-V1-QLIFE-ALCOOL"]
    snds = root.find(f".//{q('l:Variable')}[{q('r:ID')}='var-SNDS-HOSP_N']")
    assert snds is not None
    pairs = {p.findtext(q("r:AttributeKey")): p.findtext(q("r:AttributeValue"))
             for p in snds.findall(q("r:UserAttributePair"))}
    assert pairs == {"catalogue:access": "casd", "catalogue:source": "snds"}
    concept = snds.find(q("r:ConceptReference"))
    assert concept is not None and concept.findtext(q("r:Agency")) == "fr.cohortes"
    missing = root.findall(f".//{q('l:Category')}[@isMissing='true']/{q('r:ID')}")
    assert [m.text for m in missing] == ["cat-TABAC-9"]
    labels = root.findall(f".//{q('l:Variable')}/{q('r:Label')}/{q('r:Content')}")
    assert {label.get("{http://www.w3.org/XML/1998/namespace}lang") for label in labels} == {
        "fr", "en"}
    weight = root.find(f".//{q('r:NumericRepresentation')}")
    assert weight is not None and weight.get("missingValue") == "999"
    assert weight.findtext(q("r:MeasurementUnit")) == "kg"


def test_reimport_is_byte_identical(tmp_path: Path, topics: Path, run: Run) -> None:
    table = write_csv(tmp_path / "d.csv", ROWS)
    out = tmp_path / "out.xml"
    run("import-table", table, "--agency", "fr.test", "--out", out, "--topics", topics)
    first = out.read_bytes()
    code, stdout, _ = run("import-table", table, "--agency", "fr.test", "--out", out,
                          "--topics", topics)
    assert code == 0 and "unchanged" in stdout
    assert out.read_bytes() == first
    again = tmp_path / "again.xml"
    run("import-table", table, "--agency", "fr.test", "--out", again, "--topics", topics)
    assert again.read_bytes() == first


def test_changing_a_row_bumps_only_affected_items(tmp_path: Path, topics: Path, run: Run) -> None:
    out = tmp_path / "out.xml"
    run("import-table", write_csv(tmp_path / "d.csv", ROWS), "--agency", "fr.test",
        "--out", out, "--topics", topics)
    before = versions(out.read_bytes())
    changed = [dict(r) for r in ROWS]
    changed[3]["label_en"] = "Smoking status at follow-up"
    run("import-table", write_csv(tmp_path / "d2.csv", changed), "--agency", "fr.test",
        "--out", out, "--topics", topics)
    after = versions(out.read_bytes())
    assert set(after) == set(before)
    bumped = {k for k in after if after[k] != before[k]}
    assert bumped == {"var-V2-TABAC_V2", "vs-V2", "lp-V2", "su-V2", "test", "test-publication"}
    assert all(after[k] == "2" for k in bumped)


def test_a_shared_code_list_change_bumps_its_users(tmp_path: Path, topics: Path, run: Run) -> None:
    out = tmp_path / "out.xml"
    run("import-table", write_csv(tmp_path / "d.csv", ROWS), "--agency", "fr.test",
        "--out", out, "--topics", topics)
    before = out.read_bytes()
    changed = [dict(r) for r in ROWS]
    changed[0]["categories"] = changed[0]["categories"].replace("Jamais|Never",
                                                                "Jamais fumeur|Never smoker")
    previous = tmp_path / "previous.xml"
    previous.write_bytes(before)
    new = tmp_path / "new.xml"
    code, _, _ = run("import-table", write_csv(tmp_path / "d2.csv", changed), "--agency",
                     "fr.test", "--out", new, "--previous", previous, "--topics", topics)
    assert code == 0
    old_v, new_v = versions(before), versions(new.read_bytes())
    bumped = {k for k in new_v if new_v[k] != old_v[k]}
    # the category, the code list whose code points at it, the question and variables using
    # the list, the constructs and instruments placing that question, and their containers
    assert bumped == {
        "cat-TABAC-3", "test-categories", "cl-TABAC", "code-TABAC-3", "test-code-lists",
        "q-TABAC", "test-questions", "test-resources",
        "qc-V1-QLIFE-TABAC", "seq-V1-QLIFE", "inst-V1-QLIFE", "ccs-V1", "is-V1", "ce-V1",
        "dc-V1", "var-V1-TABAC_V1", "vs-V1", "lp-V1", "su-V1",
        "qc-V2-QLIFE-TABAC", "seq-V2-QLIFE", "inst-V2-QLIFE", "ccs-V2", "is-V2", "ce-V2",
        "dc-V2", "var-V2-TABAC_V2", "vs-V2", "lp-V2", "su-V2",
        "test", "test-publication", "mode-V1-self-administered", "mode-V1-examination",
        "mode-V2-web"} | {f"code-TABAC-{n}" for n in (1, 2, 9)}  # identifiables: owner's version


@pytest.mark.parametrize(("mutate", "line", "column", "words"), [
    (lambda rows: rows[1].update(response_type="nombre"), 3, "response_type",
     "unknown response type 'nombre'"),
    (lambda rows: rows[3].update(categories="1=Fumeur|Smoker; 2=Non-fumeur|Non-smoker"), 5,
     "categories", "code list TABAC has categories"),
    (lambda rows: rows[2].update(variable="TABAC_V1"), 4, "variable",
     "variable TABAC_V1 appears twice in wave V1 (first on line 2)"),
    (lambda rows: rows[4].update(access="open"), 6, "access", "only reachable in CASD"),
    (lambda rows: rows[4].update(concept="astrology"), 6, "concept", "unknown topic"),
    (lambda rows: rows[2].update(wave_start="2012-13"), 4, "wave_start", "is not a date"),
])
def test_each_bad_row_gets_one_located_message(
        tmp_path: Path, topics: Path, run: Run, mutate: Callable[[list[dict[str, str]]], None],
        line: int, column: str, words: str) -> None:
    rows = [dict(r) for r in ROWS]
    mutate(rows)
    out = tmp_path / "out.xml"
    code, _, err = run("import-table", write_csv(tmp_path / "d.csv", rows), "--agency",
                       "fr.test", "--out", out, "--topics", topics)
    assert code == 1
    assert not out.exists()
    details = [x for x in err.splitlines() if x.startswith("  ")]
    assert len(details) == 1, err
    assert details[0].startswith(f"  d.csv:{line}:{column}: ") and words in details[0]


def test_missing_column(tmp_path: Path, topics: Path, run: Run) -> None:
    rows = [{k: v for k, v in r.items() if k != "label_en"} for r in ROWS]
    code, _, err = run("import-table", write_csv(tmp_path / "d.csv", rows), "--agency",
                       "fr.test", "--out", tmp_path / "o.xml", "--topics", topics)
    assert code == 1
    assert "  d.csv:1:label_en: missing column label_en" in err


def test_non_utf8_bytes_are_located(tmp_path: Path, topics: Path, run: Run) -> None:
    table = write_csv(tmp_path / "d.csv", ROWS)
    table.write_bytes(table.read_text(encoding="utf-8").encode("latin-1"))
    code, _, err = run("import-table", table, "--agency", "fr.test", "--out",
                       tmp_path / "o.xml", "--topics", topics)
    assert code == 1
    # "mesuré" (line 4) and "séjours" (line 6) are the only non-ASCII text of the table
    offsets = [line.find(b"\xe9") + 1 for line in table.read_bytes().split(b"\n")]
    assert [x for x in err.splitlines() if x.startswith("  ")] == [
        f"  d.csv:{n}: byte {offsets[n - 1]} (0xE9) is not valid UTF-8; save the file as UTF-8 "
        '("CSV UTF-8" in Excel)' for n in (4, 6)]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf\n \n"])
def test_empty_file(tmp_path: Path, topics: Path, run: Run, content: bytes) -> None:
    table = tmp_path / "d.csv"
    table.write_bytes(content)
    code, _, err = run("import-table", table, "--agency", "fr.test", "--out",
                       tmp_path / "o.xml", "--topics", topics)
    assert code == 1 and "  d.csv:1: the file is empty" in err


def test_all_problems_are_reported_at_once_and_nothing_is_replaced(
        tmp_path: Path, topics: Path, run: Run) -> None:
    out = tmp_path / "out.xml"
    out.write_bytes(b"<kept/>")
    rows = [dict(r) for r in ROWS]
    rows[0]["response_type"] = "boolean"
    rows[1]["missing_codes"] = "7"
    rows[2]["instrument"] = ""
    rows[4]["source"] = "rumour"
    code, _, err = run("import-table", write_csv(tmp_path / "d.csv", rows), "--agency",
                       "fr.test", "--out", out, "--topics", topics)
    assert code == 1
    assert out.read_bytes() == b"<kept/>"
    assert "error: d.csv: 4 problem(s); nothing was written" in err
    assert ":2:response_type:" in err and ":3:missing_codes:" in err
    assert ":4:instrument:" in err and ":6:source:" in err
    assert not list(tmp_path.glob(".out.xml.*"))


def test_a_thousand_bad_rows_get_a_thousand_located_lines(
        tmp_path: Path, topics: Path, run: Run) -> None:
    rows = [{**ROWS[2], "variable": f"POIDS_{n}", "response_type": "boolean"}
            for n in range(1000)]
    code, _, err = run("import-table", write_csv(tmp_path / "d.csv", rows), "--agency",
                       "fr.test", "--out", tmp_path / "out.xml", "--topics", topics)
    assert code == 1
    located = [line for line in err.splitlines() if ":response_type:" in line]
    assert len(located) == 1000
    assert located[-1].strip().startswith("d.csv:1001:response_type:")

def test_usage_errors_exit_2(tmp_path: Path, run: Run) -> None:
    table = write_csv(tmp_path / "d.csv", ROWS)
    assert run("import-table", tmp_path / "none.csv", "--agency", "fr.test", "--out",
               tmp_path / "o.xml")[0] == 2
    assert run("import-table", table, "--agency", "not an agency", "--out", tmp_path / "o.xml")[
        0] == 2
    assert run("import-table", table, "--out", tmp_path / "o.xml")[0] == 2
    assert run("import-table", tmp_path / "d.ods", "--agency", "fr.test", "--out", "o.xml")[
        0] == 2
    assert run("import-table", table, "--agency", "fr.test", "--out", tmp_path / "o.xml",
               "--study", tmp_path / "none.study.csv")[0] == 2
    assert not (tmp_path / "o.xml").exists()


def test_xlsx_and_semicolon_csv_give_the_same_ddi(tmp_path: Path, topics: Path, run: Run) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    study = [("field", "value"), ("slug", "test"), ("title_fr", "Étude test"),
             ("title_en", "Test study"), ("participants", 1234)]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "variables"
    header = list(COLUMNS)
    sheet.append(header)
    for row in ROWS:
        sheet.append([{**BASE, **row}.get(c, "") for c in header])
    meta = book.create_sheet("study")
    for pair in study:
        meta.append(list(pair))
    book.save(tmp_path / "d.xlsx")
    with (tmp_path / "d.study.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(study)
    outs = []
    for source in (tmp_path / "d.xlsx", write_csv(tmp_path / "d.csv", ROWS, delimiter=";")):
        out = tmp_path / f"{source.suffix[1:]}.xml"
        assert run("import-table", source, "--agency", "fr.test", "--out", out,
                   "--topics", topics)[0] == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    group = etree.fromstring(outs[0]).find(q("g:Group"))
    assert group is not None
    assert group.findtext(f"{q('r:Citation')}/{q('r:Title')}/{q('r:String')}") == "Étude test"
    assert "catalogue:participants" in etree.tostring(group, encoding="unicode")


def test_study_sidecar_problems_are_located(tmp_path: Path, topics: Path, run: Run) -> None:
    table = write_csv(tmp_path / "d.csv", ROWS)
    (tmp_path / "d.study.csv").write_text("field,value\nparticipants,many\ncolour,blue\n",
                                          encoding="utf-8")
    code, _, err = run("import-table", table, "--agency", "fr.test", "--out",
                       tmp_path / "o.xml", "--topics", topics)
    assert code == 1
    assert "d.study.csv:2:value: participants must be a whole number" in err
    assert "d.study.csv:3:field: unknown study field 'colour'" in err


def test_import_topics(tmp_path: Path, run: Run, schema: etree.XMLSchema) -> None:
    table = tmp_path / "topics.csv"
    table.write_text("id,label_fr,label_en,description_fr,description_en\n"
                     "tobacco,Tabac,Tobacco,Consommation de tabac,Tobacco use\n"
                     "diet,Alimentation,,,\n", encoding="utf-8")
    out = tmp_path / "topics.xml"
    code, _, err = run("import-topics", table, "--agency", "fr.cohortes", "--out", out)
    assert code == 1 and "topics.csv:3:label_en: a topic needs both" in err
    table.write_text(table.read_text(encoding="utf-8").replace("Alimentation,,",
                                                               "Alimentation,Diet,"))
    assert run("import-topics", table, "--agency", "fr.cohortes", "--out", out)[0] == 0
    assert schema.validate(etree.parse(str(out))), schema.error_log
    concepts = etree.parse(str(out)).getroot().findall(f".//{{{NS['c']}}}Concept")
    assert [c.findtext(q("r:ID")) for c in concepts] == ["tobacco", "diet"]


def test_categories_cell_escapes_separators() -> None:
    entries, errors = parse_categories(r"1=Oui\; souvent|Yes\|often; -9=Manquant|Missing")
    assert not errors
    assert [(e.code, e.label_fr, e.label_en) for e in entries] == [
        ("1", "Oui; souvent", "Yes|often"), ("-9", "Manquant", "Missing")]
    assert parse_categories(format_categories(entries))[0] == entries
    assert parse_categories("1 Oui")[1] == ["category '1 Oui' has no '='; write code=label "
                                            "fr|label en"]


def test_a_published_version_is_never_given_again(tmp_path: Path, topics: Path,
                                                  cli: CliRunner) -> None:
    """A variable leaves the dictionary, then comes back changed: the catalogue already
    published its version 1, so the new content is version 2, and publishes."""
    assert cli("publish", topics).code == 0
    out = tmp_path / "out.xml"

    def import_and_publish(rows: list[dict[str, str]], name: str) -> dict[str, str]:
        table = write_csv(tmp_path / name, rows)
        result = cli("import-table", table, "--agency", "fr.test", "--out", out,
                     "--topics", topics)
        assert result.code == 0, result.err
        published = cli("publish", out)
        assert published.code == 0, published.out + published.err
        return versions(out.read_bytes())

    first = import_and_publish(ROWS, "d1.csv")
    assert first["var-V1-POIDS_V1"] == "1"
    without = import_and_publish([r for r in ROWS if r["variable"] != "POIDS_V1"], "d2.csv")
    assert "var-V1-POIDS_V1" not in without
    back = [dict(r) for r in ROWS]
    back[2]["label_en"] = "Weight, measured"
    again = import_and_publish(back, "d3.csv")
    assert again["var-V1-POIDS_V1"] == "2"
    # items that stayed the same keep their version
    assert again["var-V1-TABAC_V1"] == first["var-V1-TABAC_V1"] == "1"
