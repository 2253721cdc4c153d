"""``catalogue publish`` stores every readable example, and ``catalogue list --json``
counts what it holds: the expected counts are worked out here, with lxml, from the XML."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from catalogue.publishing import PublishRefused, publish_paths
from catalogue.store import Store

if TYPE_CHECKING:
    from conftest import CliRunner, Example

#: (DDI-L module, element) -> the count it adds to
COUNTED = {
    ("logicalproduct", "Variable"): "variables",
    ("datacollection", "QuestionItem"): "questions",
    ("datacollection", "QuestionGrid"): "questions",
    ("logicalproduct", "CodeList"): "code_lists",
    ("logicalproduct", "Category"): "categories",
}
_DDI_NAMESPACE = re.compile(r"^ddi:([a-z]+):3_[23]$")
_URN = re.compile(r"^urn:ddi:([^:]+):([^:]+):([^:]+)$", re.IGNORECASE)
LIST_KEYS = {"urn", "title", "ddi_version", "valid", "lenient", "published_at", "counts"}


def identity(element: etree._Element, reusable: str) -> tuple[str, str, str] | None:
    """Agency, ID and Version of a DDI identifiable, from its own children (or its URN);
    a missing Version counts as 1, as the catalogue does."""
    agency = element.findtext(f"{{{reusable}}}Agency")
    id_ = element.findtext(f"{{{reusable}}}ID")
    if agency and id_:
        version = element.findtext(f"{{{reusable}}}Version") or "1"
        return agency.strip(), id_.strip(), version.strip()
    match = _URN.match((element.findtext(f"{{{reusable}}}URN") or "").strip())
    return (match.group(1), match.group(2), match.group(3)) if match else None


def expected_counts(path: Path) -> dict[str, int]:
    """Distinct Agency+ID+Version of the counted elements, matched by namespace URI."""
    found: dict[str, set[tuple[str, str, str]]] = {name: set() for name in COUNTED.values()}
    for _event, element in etree.iterparse(str(path), events=("end",),
                                           resolve_entities=False, no_network=True):
        qname = etree.QName(element)
        match = _DDI_NAMESPACE.match(qname.namespace or "")
        if match is None or (match.group(1), qname.localname) not in COUNTED:
            continue
        reusable = re.sub(r":[a-z]+:", ":reusable:", qname.namespace or "")
        ident = identity(element, reusable)
        if ident is not None:
            found[COUNTED[(match.group(1), qname.localname)]].add(ident)
    return {name: len(idents) for name, idents in found.items()}


def test_each_example_publishes_with_the_right_counts(cli: CliRunner, example: Example) -> None:
    args = ["publish", example.path] + ([] if example.valid else ["--lenient"])
    published = cli(*args)
    assert published.code == 0, published.err

    [publication] = cli("list", "--json").json()
    assert set(publication) >= LIST_KEYS
    counts = publication["counts"]
    assert set(counts) == {"variables", "questions", "code_lists", "categories", "concepts"}
    assert {k: counts[k] for k in COUNTED.values()} == expected_counts(example.path)
    assert publication["ddi_version"] == example.ddi_version
    assert publication["valid"] is example.valid
    assert publication["lenient"] is (not example.valid)
    assert isinstance(publication["title"], str) and publication["title"]
    published_at = datetime.fromisoformat(publication["published_at"].replace("Z", "+00:00"))
    assert published_at.utcoffset() is not None and published_at.utcoffset().total_seconds() == 0
    assert publication["urn"].startswith(("urn:ddi:", "urn:catalogue:publication:"))


def test_the_publication_is_named_by_its_root(cli: CliRunner, examples_dir: Path) -> None:
    path = examples_dir / "third-party" / "33_insee_cadre_de_vie.xml"
    root = etree.parse(str(path)).getroot()
    reusable = root.nsmap["r"]
    agency, id_, version = identity(root, reusable) or ("", "", "")
    title = root.findtext(f"{{{reusable}}}Citation/{{{reusable}}}Title/{{{reusable}}}String")

    assert cli("publish", path).code == 0
    [publication] = cli("list", "--json").json()
    assert publication["urn"] == f"urn:ddi:{agency}:{id_}:{version}"
    assert publication["title"] == title


def test_an_invalid_file_is_refused_without_lenient(cli: CliRunner, example: Example) -> None:
    if example.valid:
        assert cli("publish", example.path).code == 0
        return
    refused = cli("publish", example.path)

    assert refused.code == 1
    assert "nothing published" in refused.err
    assert "--lenient" in refused.err
    assert cli("list", "--json").json() == []


def test_publish_paths_keeps_the_report_of_a_lenient_publication(
        examples_dir: Path, schema_dir: Path, data_dir: Path) -> None:
    path = examples_dir / "third-party" / "33_insee_ehis2025_seq1.xml"
    store = Store(f"sqlite:///{data_dir / 'catalogue.sqlite'}")
    try:
        publish_paths([path], store, schema_dir)
    except PublishRefused as refused:
        assert [len(r.errors) for r in refused.reports] == [4]
    else:
        raise AssertionError("an XSD-invalid file was published without lenient")
    assert store.list_publications() == []

    [published] = publish_paths([path], store, schema_dir, lenient=True)

    stored = store.get_publication(published.publication.id)
    assert stored.lenient and not stored.valid
    assert [f.line for f in stored.report if f.rule == "XSD"][0] == 10065
    assert len([f for f in stored.report if f.rule == "XSD"]) == 4


def test_publishing_the_same_bytes_again_is_skipped_with_if_new(
        cli: CliRunner, examples_dir: Path) -> None:
    path = examples_dir / "ddi-alliance-3.3" / "QuestionExample.xml"
    assert cli("publish", path).code == 0
    again = cli("publish", "--if-new", path)
    assert again.code == 0
    assert "nothing new to publish" in again.out
    assert len(cli("list", "--json").json()) == 1
