"""Each quirk listed in ddi-examples/README.md, on the real file that shows it.

Expected values are read here from the XML with lxml (namespaces matched by URI), or
quoted from the file with the line they are on; model items are read through
``DocumentReader`` and, where structure matters, resolved through the store."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lxml import etree

from catalogue.model import AnyItem, Reference
from catalogue.reader import DocumentReader
from catalogue.store import Store
from ddi_schemas.inspect import inspect_document
from ddi_schemas.registry import load_schema

if TYPE_CHECKING:
    from conftest import CliRunner

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


# -- helpers ----------------------------------------------------------------------------------


def read_items(path: Path, schema_dir: Path) -> list[AnyItem]:
    info = inspect_document(path)
    reader = DocumentReader(info, load_schema(info.ddi_version, schema_dir))
    return [read.item for read in reader]


def item(items: list[AnyItem], id_: str) -> AnyItem:
    [found] = {i.identity: i for i in items if i.identity.id == id_}.values()
    return found


def ns(version: str, module: str) -> str:
    return f"ddi:{module}:{version.replace('.', '_')}"


def elements(path: Path, module: str, local: str) -> Iterator[etree._Element]:
    """Elements named ``local`` in a DDI-L module's namespace, whatever their prefix."""
    tree = etree.parse(str(path))
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname.localname == local and re.fullmatch(rf"ddi:{module}:3_[23]",
                                                     qname.namespace or ""):
            yield element


def own_id(element: etree._Element) -> str:
    reusable = re.sub(r":[a-z]+:", ":reusable:", etree.QName(element).namespace or "")
    id_ = element.findtext(f"{{{reusable}}}ID")
    if id_:
        return id_.strip()
    urn = element.findtext(f"{{{reusable}}}URN") or ""
    return urn.strip().split(":")[3]


def plain(text: str) -> str:
    return " ".join(text.split())


def publish(cli: CliRunner, path: Path, *extra: str) -> None:
    result = cli("publish", path, *extra)
    assert result.code == 0, result.err


def open_store(data_dir: Path) -> Store:
    return Store(f"sqlite:///{data_dir / 'catalogue.sqlite'}")


def findings(cli: CliRunner, path: Path, rule: str) -> list[dict[str, Any]]:
    [report] = cli("validate", "--format", "json", path).json_lines()
    return [e for e in report["errors"] if e["rule"] == rule]


def references_and_identities(path: Path) -> tuple[set[str], set[str]]:
    """IDs referenced (by ``*Reference`` elements) and IDs defined, in one file. A
    FragmentInstance's TopLevelReference names the publication, not a link: left out."""
    referenced, defined = set(), set()
    for element in etree.parse(str(path)).iter():
        if not isinstance(element.tag, str) or not element.tag.startswith("{ddi:"):
            continue
        if element.tag.endswith("}TopLevelReference"):
            continue
        if element.find("{*}ID") is None and element.find("{*}URN") is None:
            continue
        target = referenced if element.tag.endswith("Reference") else defined
        target.add(own_id(element))
    return referenced, defined


# -- 1. roots ---------------------------------------------------------------------------------


def expected_publication(path: Path) -> tuple[str, str]:
    """(root local name, URN) of a file, from the XML: the DDI element (inside an OAI-PMH
    envelope if any), or the top-level reference of a FragmentInstance."""
    root = etree.parse(str(path)).getroot()
    ddi = next(e for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith("{ddi:"))
    version = etree.QName(ddi).namespace.rsplit(":", 1)[1]  # type: ignore[union-attr]
    r = f"{{ddi:reusable:{version}}}"
    holder = ddi.find(f"{{ddi:instance:{version}}}TopLevelReference")
    holder = ddi if holder is None else holder
    agency, id_, number = (holder.findtext(r + t) for t in ("Agency", "ID", "Version"))
    urn = (f"urn:ddi:{agency}:{id_}:{number}" if agency else
           (holder.findtext(r + "URN") or "").strip())
    return etree.QName(ddi).localname, urn


@pytest.mark.parametrize("name, root, lenient", [
    ("third-party/33_insee_vqs2021_paper.xml", "DDIInstance", False),
    ("third-party/33_closer_extract2ddi_testfile_fragments.xml", "FragmentInstance", True),
    ("third-party/32_colectica_soc2010_codelist_fragments.xml", "FragmentInstance", False),
    ("third-party/32_cessda_oai_ZA0004_study.xml", "DDIInstance", True),
    ("ddi-alliance-3.3/QuestionExample.xml", "ResourcePackage", False),
    ("third-party/33_nhgis_archive_root.xml", "Archive", True),
    ("ddi-alliance-3.3/RepresentedVariableExample.xml", "LogicalProduct", False),
])
def test_every_kind_of_root_is_read_and_named(cli: CliRunner, examples_dir: Path, name: str,
                                              root: str, lenient: bool) -> None:
    path = examples_dir / name
    expected_root, urn = expected_publication(path)
    assert expected_root == root
    info = inspect_document(path)
    assert info.root_name == root

    publish(cli, path, *(["--lenient"] if lenient else []))

    [publication] = cli("list", "--json").json()
    assert publication["urn"] == urn


def test_an_oai_pmh_envelope_is_looked_into(cli: CliRunner, examples_dir: Path,
                                            schema_dir: Path) -> None:
    path = examples_dir / "third-party" / "32_cessda_oai_ZA0004_study.xml"
    info = inspect_document(path)
    assert (info.envelope, etree.QName(info.document_root).localname) == ("oai-pmh", "OAI-PMH")

    study = item(read_items(path, schema_dir), "ZA0004_SU")

    # line 194: <r:String xml:lang="en">International Outlooks of Political Leaders (USA)
    assert study.kind == "StudyUnit"
    assert study.title.get("en") == "International Outlooks of Political Leaders (USA)"
    assert study.parent is not None and study.parent.id == "gesis_ZA0004"
    publish(cli, path, "--lenient")
    [publication] = cli("list", "--json").json()
    # line 35: the DDIInstance's own citation
    assert publication["title"] == ("DDI3.2 study level documentation for study ZA0004 "
                                    "International Outlooks of Political Leaders (USA)")


# -- 2. fragments in any order, namespaces by URI -----------------------------------------------


CLOSER_33 = "third-party/33_closer_extract2ddi_testfile_fragments.xml"


def containers_last(path: Path, destination: Path) -> Path:
    """The same fragments, those before the first Variable moved to the end: the resource
    package, schemes and code lists then come after what they point at. (Not a plain
    reversal: this export reuses each Variable's ID for its VariableStatistics, and the
    first copy of an identity is the one kept.)"""
    tree = etree.parse(str(path))
    root = tree.getroot()
    fragments = [child for child in root if etree.QName(child).localname == "Fragment"]
    first_variable = next(i for i, f in enumerate(fragments)
                          if etree.QName(f[0]).localname == "Variable")
    for fragment in fragments:
        root.remove(fragment)
    root.extend(fragments[first_variable:] + fragments[:first_variable])
    tree.write(str(destination), xml_declaration=True, encoding="UTF-8")
    return destination


def test_fragments_resolve_in_any_order(cli: CliRunner, examples_dir: Path, tmp_path: Path,
                                        data_dir: Path) -> None:
    original = examples_dir / CLOSER_33
    referenced, defined = references_and_identities(original)
    assert referenced <= defined  # every reference of this export points inside it
    shuffled = containers_last(original, tmp_path / "containers-last.xml")
    scheme = next(elements(original, "logicalproduct", "VariableScheme"))
    names = {own_id(v): v.findtext("{*}VariableName/{*}String")
             for v in elements(original, "logicalproduct", "Variable")}
    in_scheme = [names[own_id(ref)] for ref in scheme.iterfind("{*}VariableReference")]
    assert len(in_scheme) == 14

    counts = []
    for index, path in enumerate((original, shuffled)):
        assert findings(cli, path, "reference-dangling") == []
        data = data_dir / str(index)
        result = cli("publish", "--lenient", path, data=data)
        assert result.code == 0, result.err
        counts.append(cli("list", "--json", data=data).json()[0]["counts"])
        store = open_store(data)
        stored_scheme = store.get_item(f"urn:ddi:uk.closer:{own_id(scheme)}:1")
        assert stored_scheme is not None
        resolved = [store.resolve(ref) for ref in stored_scheme.item.refs("variable")]
        assert [r.item.name if r else None for r in resolved] == in_scheme
    assert counts[0] == counts[1]


def test_namespaces_are_matched_by_uri_not_prefix(examples_dir: Path, schema_dir: Path) -> None:
    path = examples_dir / "third-party" / "32_closer_extract2ddi_testfile.xml"
    root = etree.parse(str(path)).getroot()
    assert root.nsmap["ddi"] == "ddi:logicalproduct:3_2"  # the prefix that misleads
    expected = {own_id(v): v.findtext("{*}VariableName/{*}String")
                for v in elements(path, "logicalproduct", "Variable")}
    assert len(expected) == 14

    items = read_items(path, schema_dir)

    variables = {i.identity.id: i.name for i in items if i.kind == "Variable"}
    assert variables == expected
    # line 1176: <ddi:Variable> urn:ddi:uk.closer:a1609e79-...:1, label "String (32 characters)"
    first = item(items, "a1609e79-5aba-4b14-ae72-656aeccebc75")
    assert (first.name, first.label.get("en")) == ("TestString", "String (32 characters)")
    assert first.label.values == (("en-GB", "String (32 characters)"),)  # xml:lang inherited


# -- 3. references -------------------------------------------------------------------------------


COLECTICA = "third-party/32_colectica_soc2010_codelist_fragments.xml"


def test_a_code_list_keeps_its_codes_in_order_with_their_categories(
        cli: CliRunner, examples_dir: Path, data_dir: Path) -> None:
    path = examples_dir / COLECTICA
    categories = {own_id(c): c.findtext("{*}Label/{*}Content")
                  for c in elements(path, "logicalproduct", "Category")}
    [code_list_el] = elements(path, "logicalproduct", "CodeList")
    expected = [(code.findtext("{*}Value"),
                 categories[code.findtext("{*}CategoryReference/{*}ID") or ""])
                for code in code_list_el.iter(f"{{{ns('3.2', 'logicalproduct')}}}Code")]
    assert len(expected) == 493  # 493 <Code>, nested in five levels
    publish(cli, path)
    store = open_store(data_dir)

    code_list = store.get_item(f"urn:ddi:int.example:{own_id(code_list_el)}:1")

    assert code_list is not None
    codes = code_list.item.codes  # type: ignore[union-attr]
    got = []
    for code in codes:
        [category_ref] = code.refs("category")  # Agency/ID/Version references
        category = store.resolve(category_ref)
        assert category is not None, category_ref
        got.append((code.value, category.item.label.best("en")))
    assert got == [(value, plain(label)) for value, label in expected]
    # lines 14-26: code 1 -> category 86df488a..., labelled at line 5940
    assert got[0] == ("1", "MANAGERS, DIRECTORS AND SENIOR OFFICIALS")


def test_references_by_urn_only_resolve(cli: CliRunner, examples_dir: Path,
                                        data_dir: Path) -> None:
    path = examples_dir / "third-party" / "32_closer_extract2ddi_testfile.xml"
    [record] = elements(path, "logicalproduct", "LogicalRecord")
    used = record.findall("{*}VariablesInRecord/{*}VariableUsedReference")
    assert used and all(u.find("{*}ID") is None and u.find("{*}URN") is not None for u in used)
    publish(cli, path)
    store = open_store(data_dir)

    stored = store.get_item(record.findtext("{*}URN") or "")

    assert stored is not None
    refs = stored.item.refs("variable_used")
    assert [r.urn for r in refs] == [(u.findtext("{*}URN") or "").strip() for u in used]
    assert all(store.resolve(r) is not None for r in refs)


def test_a_reference_with_both_urn_and_agency_id_version(cli: CliRunner, examples_dir: Path,
                                                         schema_dir: Path) -> None:
    path = examples_dir / "third-party" / "32_cessda_oai_ZA0004_study.xml"
    # line 395: <d:DataCollectorOrganizationReference> with r:URN and r:Agency/ID/Version
    event = item(read_items(path, schema_dir), "ZA0004_ColEve")
    [collector] = event.refs("data_collector_organization")
    assert (collector.agency, collector.id, collector.version) == (
        "de.gesis", "ZA0004_Org_DC", "1.0.0")
    dangling = [f["message"] for f in findings(cli, path, "reference-dangling")]
    assert not any("ZA0004_Org_DC" in m for m in dangling)


def test_an_identifiable_child_referenced_with_another_version_resolves(
        cli: CliRunner, examples_dir: Path, data_dir: Path) -> None:
    path = examples_dir / "third-party" / "33_insee_vqs2021_paper.xml"
    [parameter] = [p for p in elements(path, "reusable", "InParameter")
                   if own_id(p) == "BOUCLEINDIV-IP-1"]
    [target] = [t for t in elements(path, "reusable", "TargetParameterReference")
                if own_id(t) == "BOUCLEINDIV-IP-1"]
    assert (parameter.findtext("{*}Version"), target.findtext("{*}Version")) == ("1.0", "1")

    dangling = [f["message"] for f in findings(cli, path, "reference-dangling")]
    assert dangling and not any("BOUCLEINDIV-IP-1" in m for m in dangling)
    publish(cli, path)
    store = open_store(data_dir)
    resolved = store.resolve(Reference("fr.insee", "BOUCLEINDIV-IP-1", "1", "target_parameter"))
    assert resolved is not None
    assert (resolved.item.element, resolved.item.identity.version) == ("InParameter", "1.0")
    # a versionable is not resolved to another version
    assert store.resolve(Reference("fr.insee", "INSEE-k1g74vqsbisrep", "2", "x")) is None


# -- 4. user attribute pairs ----------------------------------------------------------------------

CADRE_DE_VIE = "third-party/33_insee_cadre_de_vie.xml"
JSON_BLOB = ('{"UIComponent": "HouseholdPairing", "options": {"min": 1, "max": 20},\n'
             '  "label": "Lien avec \\u00ab Personne 1 \\u00bb", "tags": ["ménage", "lien"]}')


def test_user_attribute_pairs_are_kept_verbatim(cli: CliRunner, examples_dir: Path,
                                                schema_dir: Path, tmp_path: Path,
                                                data_dir: Path) -> None:
    path = examples_dir / CADRE_DE_VIE
    # line 12883: <r:AttributeKey>UIComponent</r:AttributeKey> on QuestionItem livjrp7n
    question = item(read_items(path, schema_dir), "livjrp7n")
    assert question.attribute("UIComponent") == "HouseholdPairing"

    original = path.read_text(encoding="utf-8")
    scalar = "<r:AttributeValue>HouseholdPairing</r:AttributeValue>"
    assert original.count(scalar) == 1
    blob_file = tmp_path / "cadre_de_vie_json.xml"
    blob_file.write_text(original.replace(
        scalar, f"<r:AttributeValue>{escape(JSON_BLOB)}</r:AttributeValue>"), encoding="utf-8")

    question = item(read_items(blob_file, schema_dir), "livjrp7n")
    assert question.attribute("UIComponent") == JSON_BLOB
    publish(cli, blob_file)
    stored = open_store(data_dir).get_item("urn:ddi:fr.insee:livjrp7n:1")
    assert stored is not None
    assert stored.item.attribute("UIComponent") == JSON_BLOB
    assert json.loads(stored.item.attribute("UIComponent") or "")["options"] == {
        "min": 1, "max": 20}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- 5. missing labels ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "ddi-alliance-3.3/Example_Weighting.xml", "ddi-alliance-3.3/RepresentationExamples.xml",
    "ddi-alliance-3.3/InOutBindingExample.xml",
])
def test_variables_without_a_label_are_reported(cli: CliRunner, examples_dir: Path,
                                                name: str) -> None:
    path = examples_dir / name
    unlabelled = sorted(
        v.sourceline for v in elements(path, "logicalproduct", "Variable")
        if not "".join(t for label in v.iterfind("{*}Label") for t in label.itertext()).strip())
    assert unlabelled

    reported = findings(cli, path, "variable-label")

    assert sorted(f["line"] for f in reported) == unlabelled
    assert all(f["severity"] == "warning" for f in reported)
    publish(cli, path, "--lenient")
    [publication] = cli("list", "--json").json()
    assert publication["counts"]["variables"] >= 1


def test_a_category_without_a_label_is_stored_and_shown(cli: CliRunner,
                                                        examples_dir: Path) -> None:
    path = examples_dir / CADRE_DE_VIE
    [category] = [c for c in elements(path, "logicalproduct", "Category")
                  if own_id(c) == "INSEE-COMMUN-CA-Booleen-1"]
    assert not "".join(category.itertext()).replace("INSEE-COMMUN-CA-Booleen-1", "").replace(
        "fr.insee", "").strip("1 \n\t")  # line 26109: <r:Content xml:lang="fr-FR"/>
    publish(cli, path)

    shown = cli("show", "urn:ddi:fr.insee:INSEE-COMMUN-CA-Booleen-1:1")

    assert shown.code == 0, shown.err
    assert "(Category)" in shown.out
    assert "label" not in shown.out


# -- 6. languages ----------------------------------------------------------------------------------


def test_language_tags_are_kept_as_published(examples_dir: Path, schema_dir: Path) -> None:
    path = examples_dir / CADRE_DE_VIE
    items = read_items(path, schema_dir)
    # lines 42383-42385: a French text tagged en-IE, then an English one
    scheme = item(items, "INSEE-SIMPSONS-MRS")
    assert [(lang, plain(text)) for lang, text in scheme.label.values] == [
        ("en-IE", "Liste de formats numériques et dates de l'enquête"),
        ("en-IE", "Numeric and DateTime list for the survey")]
    # the variables are labelled in French, whatever language the schemes are named in
    languages = {lang for i in items if i.kind == "Variable" for lang, _ in i.label.values}
    assert languages == {"fr-FR"}

    question_example = examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml"
    tagged = {plain("".join(e.itertext())): e.get(XML_LANG)
              for e in etree.parse(str(question_example)).iter("{*}Content")}
    assert tagged["Set designer"] == "en-us"  # line 180, a Category's label
    designer = item(read_items(question_example, schema_dir), "CS_PISA_2.Cat_1")
    assert designer.label.values == (("en-us", "Set designer"),)
    assert designer.label.get("en") == "Set designer"


def test_valid_tags_pass_and_a_typo_is_reported(cli: CliRunner, examples_dir: Path,
                                                tmp_path: Path) -> None:
    for name in (CADRE_DE_VIE, "ddi-alliance-3.3/QuestionExample.xml"):
        assert findings(cli, examples_dir / name, "language-tag") == []

    original = (examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml").read_text(
        encoding="utf-8")
    typo = tmp_path / "typo.xml"
    # en-EN: well-formed for the XSD's xs:language, but EN is no region
    typo.write_text(original.replace('<r:Content xml:lang="en-us">Set designer',
                                     '<r:Content xml:lang="en-EN">Set designer'),
                    encoding="utf-8")
    line = next(n for n, text in enumerate(typo.read_text().splitlines(), 1) if "en-EN" in text)

    [reported] = findings(cli, typo, "language-tag")

    assert "'en-EN'" in reported["message"] and reported["severity"] == "warning"
    assert reported["line"] == line
    assert cli("validate", typo).code == 0
    assert cli("validate", "--strict", typo).code == 1


# -- 7. dates ------------------------------------------------------------------------------------


def test_dates_with_time_zones_and_long_fractions_are_kept(cli: CliRunner, examples_dir: Path,
                                                          schema_dir: Path) -> None:
    cases = [  # (file, item ID, versionDate as published, line)
        (CADRE_DE_VIE, "RessourcePackage-ljr4jm9a", "2018-01-25+01:00"),  # line 22
        (COLECTICA, "327fe81d-2a53-4d5e-92cd-7ff64135dcbc",
         "2015-05-06T18:19:44.9359397Z"),  # line 10
        (CLOSER_33, "0ea8a806-3db2-4a86-b471-1f5c42741c64",
         "2022-10-23T13:09:56.837218"),  # line 866, no time zone
    ]
    for name, id_, date in cases:
        path = examples_dir / name
        assert item(read_items(path, schema_dir), id_).version_date == date
        assert findings(cli, path, "date-format") == []


def test_an_impossible_date_is_reported(cli: CliRunner, examples_dir: Path,
                                        tmp_path: Path) -> None:
    original = (examples_dir / CLOSER_33).read_text(encoding="utf-8")
    bad = tmp_path / "bad-date.xml"
    bad.write_text(original.replace('versionDate="2022-10-23T13:09:56.837218"',
                                    'versionDate="2022-02-30T13:09:56.837218"'),
                   encoding="utf-8")

    [reported] = findings(cli, bad, "date-format")

    assert "2022-02-30T13:09:56.837218" in reported["message"]
    assert reported["line"] == 866


# -- 8. byte-order mark, CDATA, XHTML ------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "ddi-alliance-3.3/NoteExample.xml", "ddi-alliance-3.3/DateExamples.xml", COLECTICA])
def test_a_byte_order_mark_is_fine(cli: CliRunner, examples_dir: Path, name: str) -> None:
    path = examples_dir / name
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = cli("validate", "--format", "json", path)
    assert result.code == 0
    assert result.json_lines()[0]["valid"] is True


def test_cdata_text_is_kept(examples_dir: Path, schema_dir: Path) -> None:
    path = examples_dir / "third-party" / "32_gesis_ZA4586_allbus_study.xml"
    [event] = [e for e in elements(path, "reusable", "LifecycleEvent")
               if own_id(e) == "ZA4586_LifEve"]
    raw = event.findtext("{*}Description/{*}Content") or ""
    assert "Selection of DDI 3.2 Elements" in raw  # line 662: <![CDATA[ ...

    described = item(read_items(path, schema_dir), "ZA4586_LifEve")

    assert plain(described.description.best("en")) == plain(raw)


def test_xhtml_becomes_plain_text(examples_dir: Path, schema_dir: Path) -> None:
    path = examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml"
    [question_el] = [q for q in elements(path, "datacollection", "QuestionItem")
                     if own_id(q) == "PISA_QS.QI_2"]
    text_el = question_el.find("{*}QuestionText/{*}LiteralText/{*}Text")
    assert text_el is not None
    paragraphs = [plain("".join(p.itertext())) for p in text_el.iter("{*}p")]
    assert len(paragraphs) == 2  # line 25: <xhtml:div><xhtml:p>A. ...</xhtml:p><xhtml:p>B. ...

    question = item(read_items(path, schema_dir), "PISA_QS.QI_2")
    text = question.text.best("en")  # type: ignore[union-attr]

    assert "<" not in text and "xhtml" not in text
    assert [plain(p) for p in text.split("\n\n")] == paragraphs

    paper = examples_dir / "third-party" / "33_insee_tic2021_paper.xml"
    instruction = item(read_items(paper, schema_dir), "kc0h5ajs")  # line 108, <xhtml:b> inside
    assert instruction.text.values == (  # type: ignore[union-attr]
        ("fr-FR", "(y compris depuis un ordinateur portable, une tablette ou un téléphone "
                  "portable)"),)
