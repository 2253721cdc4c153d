"""The bundled cohorts: valid DDI-L 3.3, bilingual, CASD-marked, never stale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from catalogue import cli
from catalogue.dictionary_ddi import q
from cohorts import COHORTS, HERE, TOPICS_AGENCY, TOPICS_TABLE, TOPICS_XML, bundled_files

XSD = Path(__file__).resolve().parents[3] / "shared" / "ddi-schemas" / "3.3" / "instance.xsd"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SLUGS = [c.slug for c in COHORTS]
Run = Callable[..., int]


@pytest.fixture(scope="session")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture(scope="module")
def documents() -> dict[str, etree._Element]:
    return {c.slug: etree.parse(str(c.xml)).getroot() for c in COHORTS}


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: object) -> int:
        code = cli.main([str(a) for a in args])
        capsys.readouterr()
        return code
    return invoke


def variables(root: etree._Element) -> list[etree._Element]:
    return root.findall(f".//{q('l:Variable')}")


def attribute(variable: etree._Element, key: str) -> str | None:
    for pair in variable.findall(q("r:UserAttributePair")):
        if pair.findtext(q("r:AttributeKey")) == key:
            return pair.findtext(q("r:AttributeValue"))
    return None


@pytest.mark.parametrize("path", sorted(HERE.rglob("*.xml")), ids=lambda p: p.name)
def test_every_file_validates_against_the_official_xsd(path: Path,
                                                       schema: etree.XMLSchema) -> None:
    valid = schema.validate(etree.parse(str(path)))
    assert valid, [f"{e.line}: {e.message}" for e in schema.error_log][:10]


def test_bundled_files_put_the_topics_first() -> None:
    files = bundled_files()
    assert files[0] == TOPICS_XML
    assert sorted(files) == sorted(HERE.rglob("*.xml"))


def test_at_least_1500_variables_all_with_french_and_english_labels(
        documents: dict[str, etree._Element]) -> None:
    total = 0
    for slug, root in documents.items():
        for variable in variables(root):
            total += 1
            labels = {c.get(XML_LANG): (c.text or "").strip()
                      for c in variable.findall(f"{q('r:Label')}/{q('r:Content')}")}
            assert labels.get("fr") and labels.get("en"), (slug, variable.findtext(q("r:ID")))
    assert total >= 1500


@pytest.mark.parametrize("slug", SLUGS)
def test_every_cohort_has_snds_variables_and_they_are_casd_only(
        slug: str, documents: dict[str, etree._Element]) -> None:
    found = variables(documents[slug])
    snds = [v for v in found if attribute(v, "catalogue:source") == "snds"]
    assert len(snds) >= 20
    assert all(attribute(v, "catalogue:access") == "casd" for v in snds)
    assert all(attribute(v, "catalogue:access") in ("open", "casd") for v in found)


@pytest.mark.parametrize("slug", SLUGS)
def test_group_states_facts_and_says_the_variables_are_illustrative(
        slug: str, documents: dict[str, etree._Element]) -> None:
    [group] = documents[slug].findall(q("g:Group"))
    assert attribute(group, "catalogue:slug") == slug
    abstract = {c.get(XML_LANG): c.text or "" for c in group.findall(
        f"{q('r:Abstract')}/{q('r:Content')}")}
    assert "illustratives" in abstract["fr"] and "illustrative" in abstract["en"]
    participants = attribute(group, "catalogue:participants")
    assert participants == {"constances": "200000", "gazel": "20625"}.get(slug)
    assert len(group.findall(q("s:StudyUnit"))) >= 4


@pytest.mark.parametrize("slug", SLUGS)
def test_repeated_questions_are_shared_across_waves(
        slug: str, documents: dict[str, etree._Element]) -> None:
    root = documents[slug]
    waves_of: dict[str, set[str]] = {}
    for unit in root.iter(q("s:StudyUnit")):
        for ref in unit.iter(q("r:QuestionReference")):
            waves_of.setdefault(ref.findtext(q("r:ID")) or "", set()).add(
                unit.findtext(q("r:ID")) or "")
    shared = [question for question, waves in waves_of.items() if len(waves) > 1]
    assert len(shared) >= 10
    items = root.findall(f".//{q('d:QuestionItem')}")
    assert len(items) == len({i.findtext(q("r:ID")) for i in items})


def test_concept_references_point_at_published_topics(
        documents: dict[str, etree._Element]) -> None:
    topics = {c.findtext(q("r:ID")): c.findtext(q("r:Version"))
              for c in etree.parse(str(TOPICS_XML)).getroot().iter(q("c:Concept"))}
    for root in documents.values():
        for ref in root.iter(q("r:ConceptReference")):
            assert ref.findtext(q("r:Agency")) == TOPICS_AGENCY
            assert topics.get(ref.findtext(q("r:ID"))) == ref.findtext(q("r:Version"))


@pytest.mark.parametrize("slug", SLUGS)
def test_committed_xml_is_what_the_dictionary_gives(slug: str, tmp_path: Path, run: Run) -> None:
    cohort = next(c for c in COHORTS if c.slug == slug)
    out = tmp_path / "again.xml"
    assert run("import-table", cohort.dictionary, "--agency", cohort.agency, "--out", out,
               "--previous", cohort.xml, "--topics", TOPICS_XML) == 0
    assert out.read_bytes() == cohort.xml.read_bytes(), (
        f"{cohort.xml.name} is stale: run python -m cohorts and commit the result")


def test_committed_topics_are_what_the_table_gives(tmp_path: Path, run: Run) -> None:
    out = tmp_path / "topics.xml"
    assert run("import-topics", TOPICS_TABLE, "--agency", TOPICS_AGENCY, "--out", out,
               "--previous", TOPICS_XML) == 0
    assert out.read_bytes() == TOPICS_XML.read_bytes()


def test_example_dictionary_imports(tmp_path: Path, run: Run,
                                    schema: etree.XMLSchema) -> None:
    out = tmp_path / "example.xml"
    assert run("import-table", HERE / "example-dictionary.csv", "--agency", "fr.exemple",
               "--out", out, "--topics", TOPICS_XML) == 0
    assert schema.validate(etree.parse(str(out)))
