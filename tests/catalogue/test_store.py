"""The store keeps every version of every item: a new version becomes current, older
ones stay resolvable by URN, and the file as published can be served back exactly."""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lxml import etree
from sqlalchemy import event, select, update

from catalogue.model import Reference
from catalogue.publishing import publish_paths
from catalogue.store import Store
from catalogue.store.items import plain_agencies
from catalogue.store.publications import PublicationWriter, RowWriter
from catalogue.store.records import version_key
from catalogue.store.tables import publication_sources, publications
from cohorts import bundled_files

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI

AGE = "urn:ddi:fr.test:age"
LABELS = {"1": {"fr": "Âge", "en": "Age"}, "2": {"fr": "Âge révolu", "en": "Age in years"}}


def age_publication(ddi: SmallDDI, version: str) -> Path:
    """A publication whose every item is at ``version``: the variable ``age`` and its
    scheme (a new version of an item is published with a new version of its scheme)."""
    labels = LABELS.get(version, {"fr": f"Âge (version {version})"})
    return ddi.write(f"age-{version}.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("age", "AGE", labels, version=version),
        version=version), version=version)


def open_store(data_dir: Path) -> Store:
    return Store(f"sqlite:///{data_dir / 'catalogue.sqlite'}")


def test_version_2_becomes_current_and_version_1_stays(cli: CliRunner, ddi: SmallDDI,
                                                       data_dir: Path) -> None:
    assert cli("validate", age_publication(ddi, "1"), age_publication(ddi, "2")).code == 0
    assert cli("publish", age_publication(ddi, "1")).code == 0
    assert cli("publish", age_publication(ddi, "2")).code == 0

    for urn, version in ((f"{AGE}:1", "1"), (f"{AGE}:2", "2"), (AGE, "2")):
        shown = cli("show", "--json", urn)
        assert shown.code == 0, shown.err
        item = shown.json()
        assert item["urn"] == f"{AGE}:{version}"
        assert item["label"] == LABELS[version]
        assert [v["version"] for v in item["versions"]] == ["2", "1"]

    text = cli("show", AGE).out
    assert text.splitlines()[0].startswith(f"{AGE}:2")
    assert "label [fr]: Âge révolu" in text
    versions = text[text.index("versions:"):].splitlines()[1:]
    assert [line.split()[0] for line in versions] == ["2", "1"]
    assert [line.split()[2] for line in versions] == ["2", "1"]  # publication ids

    store = open_store(data_dir)
    old, new = store.get_item(f"{AGE}:1"), store.get_item(f"{AGE}:2")
    assert old is not None and new is not None
    assert not store.is_current(old) and store.is_current(new)
    current = [s.item.urn for s in store.current_items(["Variable"])]
    assert current == [f"{AGE}:2"]


def test_every_item_of_a_publication_is_current_until_something_supersedes_one(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path) -> None:
    assert cli("publish", age_publication(ddi, "1")).code == 0
    store = open_store(data_dir)
    try:
        assert store.all_items_current(1)
        assert cli("publish", age_publication(ddi, "2")).code == 0
        assert not store.all_items_current(1)  # age:1 and its scheme are superseded
        assert store.all_items_current(2)
        assert store.current_urns_of_publication(1) == set()
        assert cli("publish", age_publication(ddi, "3")).code == 0
        assert cli("withdraw", "3", "--reason", "mistake").code == 0
        assert not store.all_items_current(3)  # withdrawn: nothing of it is current
        assert store.all_items_current(2)  # current again
        assert not store.all_items_current(4)  # no such publication
    finally:
        store.close()


class JoinsToOtherVersions:
    """The statements run on a store that join its items to other versions of their
    Agency+ID (conflicts, supersession): each walks every item of a publication."""

    def __init__(self, store: Store) -> None:
        self.seen: list[str] = []
        event.listen(store.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(alias in statement for alias in ("items AS old", "items AS newer")):
            self.seen.append(statement)


def test_a_first_publication_of_its_agencies_is_not_joined_to_other_versions(
        ddi: SmallDDI, schema_dir: Path, data_dir: Path) -> None:
    """No other publication has an item of its agencies: none holds a version of its
    items, so there is no conflict to look for, nothing it supersedes and nothing that
    supersedes it, without a query over its items. Once another publication shares an
    agency, the queries are run."""
    data_dir.mkdir()
    store = open_store(data_dir)
    try:
        publish_paths([age_publication(ddi, "1")], store, schema_dir)
        other = type(ddi)(ddi.directory, agency="fr.other")
        other_file = other.write("other.xml", other.scheme(
            "l:VariableScheme", "vs", other.variable("age", "AGE", {"fr": "Âge"})),
            id_="other-publication")
        joins = JoinsToOtherVersions(store)

        [published] = publish_paths([other_file], store, schema_dir)

        assert published.superseded == ()
        assert store.publications_superseded_by(2) == []
        assert store.superseded_by(2) == []
        assert store.all_items_current(2) and store.all_items_current(1)
        assert joins.seen == []

        [version_2] = publish_paths([age_publication(ddi, "2")], store, schema_dir)

        assert {f"{AGE}:1", "urn:ddi:fr.test:vs:1"} <= set(version_2.superseded)
        assert store.publications_superseded_by(3) == [1]
        assert not store.all_items_current(1)
        assert len(joins.seen) >= 4  # conflicts, then each question above
    finally:
        store.close()


def test_conflicts_are_looked_for_while_another_publication_is_incomplete(
        ddi: SmallDDI, schema_dir: Path, data_dir: Path) -> None:
    """The agencies of an incomplete publication are recorded only when it completes:
    unless it is a file of the same batch (whose agencies the writer knows), its items
    are looked at."""
    data_dir.mkdir()
    store = open_store(data_dir)
    try:
        publish_paths([age_publication(ddi, "1")], store, schema_dir)
        with store.engine.begin() as conn:
            conn.execute(update(publications).where(publications.c.id == 1)
                         .values(complete=False))
        with store.engine.connect() as conn:
            rows = RowWriter(conn)
            pid = rows.start({"file_name": "x.xml", "ddi_version": "3.3", "root": "DDIInstance",
                              "published_at": "2026-11-24T00:00:00Z", "published_by": None,
                              "source_size": 0})
            rows.add([((pid, "fr.test", "age", "1", version_key("1"), "Variable", "Variable",
                        True, "AGE", None, None, None, 3,
                        '{"name":"AGE","label":[["fr","Autre chose"]]}', None), [])])
            joins = JoinsToOtherVersions(store)

            # publication 1 taken for a file of the same batch, found to share no agency
            assert rows.conflicts(pid, ["fr.test"], siblings=[1]) == []
            assert joins.seen == []
            [conflict] = rows.conflicts(pid, ["fr.test"])
            assert (conflict.urn, conflict.other_publication) == (f"{AGE}:1", 1)
            assert len(joins.seen) == 1
            conn.rollback()
    finally:
        store.close()


def test_agencies_compare_with_the_recorded_ones_only_when_each_is_one_word() -> None:
    assert plain_agencies(["fr.test", "fr.other"]) == {"fr.test", "fr.other"}
    assert plain_agencies(["fr test"]) is None
    assert plain_agencies([""]) is None


def test_versions_compare_as_numbers(cli: CliRunner, ddi: SmallDDI) -> None:
    assert cli("publish", age_publication(ddi, "10")).code == 0
    assert cli("publish", age_publication(ddi, "9")).code == 0  # published later
    shown = cli("show", "--json", AGE).json()
    assert shown["urn"] == f"{AGE}:10"
    assert [v["version"] for v in shown["versions"]] == ["10", "9"]


def test_unknown_and_malformed_urns(cli: CliRunner, ddi: SmallDDI) -> None:
    assert cli("publish", age_publication(ddi, "1")).code == 0
    missing = cli("show", f"{AGE}:3")
    assert missing.code == 2
    assert f"{AGE}:3 is not in the catalogue" in missing.err
    malformed = cli("show", "age")
    assert malformed.code == 2
    assert "is not a DDI URN" in malformed.err


def test_the_file_is_kept_exactly_as_published(examples_dir: Path, schema_dir: Path,
                                               data_dir: Path) -> None:
    path = examples_dir / "ddi-alliance-3.3" / "NoteExample.xml"
    original = path.read_bytes()
    assert original.startswith(b"\xef\xbb\xbf")  # a byte-order mark, kept too
    store = open_store(data_dir)

    [published] = publish_paths([path], store, schema_dir)

    assert gzip.decompress(store.publication_source(published.publication.id)) == original
    assert published.publication.file_name == "NoteExample.xml"
    assert published.publication.sha256 == hashlib.sha256(original).hexdigest()


def test_the_file_is_kept_apart_from_its_publication_row(
        examples_dir: Path, schema_dir: Path, data_dir: Path) -> None:
    """Listing publications must not walk the file's blob (SQLite stores a row's columns
    in order): the file goes to its own table, and a store made when it sat in the
    publication's row has it moved there when opened."""
    path = examples_dir / "ddi-alliance-3.3" / "NoteExample.xml"
    original = path.read_bytes()
    store = open_store(data_dir)
    [published] = publish_paths([path], store, schema_dir)
    pid = published.publication.id
    with store.engine.begin() as conn:
        assert conn.execute(select(publications.c.source)
                            .where(publications.c.id == pid)).scalar_one() is None
        # as an older store held it
        source = conn.execute(select(publication_sources.c.source)).scalar_one()
        conn.execute(publication_sources.delete())
        conn.execute(update(publications).where(publications.c.id == pid)
                     .values(source=source))
    store.close()

    reopened = open_store(data_dir)

    assert gzip.decompress(reopened.publication_source(pid)) == original
    with reopened.engine.connect() as conn:
        assert conn.execute(select(publications.c.source)).scalars().all() == [None]
    assert [p.id for p in reopened.list_publications()] == [pid]


def test_each_item_keeps_its_published_xml(cli: CliRunner, ddi: SmallDDI,
                                           data_dir: Path) -> None:
    assert cli("publish", age_publication(ddi, "1")).code == 0
    store = open_store(data_dir)
    stored = store.get_item(f"{AGE}:1")
    assert stored is not None

    xml = store.item_xml(stored.pk)

    assert xml is not None
    element = etree.fromstring(xml)
    assert etree.QName(element).localname == "Variable"
    r = "{ddi:reusable:3_3}"
    assert element.findtext(f"{r}ID") == "age"
    assert [c.text for c in element.iter(f"{r}Content")] == ["Âge", "Age"]


def test_references_between_files_of_one_batch_resolve(cli: CliRunner, ddi: SmallDDI,
                                                       data_dir: Path) -> None:
    variables = ddi.write("variables.xml", ddi.scheme(
        "l:VariableScheme", "vs", ddi.variable("smoker", "FUMEUR", {"fr": "Fumeur"},
                                               question=("q-smoke", "1"),
                                               code_list=("yes-no", "1"))), id_="variables")
    questions = ddi.write("questions.xml",
                          ddi.scheme("d:QuestionScheme", "qs", ddi.question(
                              "q-smoke", {"fr": "Fumez-vous ?", "en": "Do you smoke?"})),
                          ddi.scheme("l:CategoryScheme", "cs",
                                     ddi.category("yes", {"fr": "Oui", "en": "Yes"}),
                                     ddi.category("no", {"fr": "Non", "en": "No"})),
                          ddi.scheme("l:CodeListScheme", "cls",
                                     ddi.code_list("yes-no", [("1", "yes"), ("2", "no")])),
                          id_="questions")

    result = cli("publish", variables, questions)

    assert result.code == 0, result.err
    assert "reference-dangling" not in result.out + result.err
    store = open_store(data_dir)
    smoker = store.get_item("urn:ddi:fr.test:smoker:1")
    assert smoker is not None
    [question_ref] = smoker.item.refs("question")
    question = store.resolve(question_ref)
    assert question is not None
    assert question.item.kind == "Question"
    assert dict(question.item.text.values) == {"fr": "Fumez-vous ?", "en": "Do you smoke?"}
    [code_list_ref] = smoker.item.refs("code_list")
    code_list = store.resolve(code_list_ref)
    assert code_list is not None
    categories = [store.resolve(ref) for code in code_list.item.codes
                  for ref in code.refs("category")]
    assert [(c.item.label.get("fr") if c else None) for c in categories] == ["Oui", "Non"]
    # a code is identifiable, not versionable: found by Agency+ID whatever the version
    code = store.resolve(Reference("fr.test", "yes-no-1", "7", "code"))
    assert code is not None and code.item.identity.version == "1"


def test_listed_referrers_are_the_referrers_with_name_label_and_parent(
        cli: CliRunner, data_dir: Path) -> None:
    # A question's page lists its variables of every wave from this lighter form.
    gazel = next(p for p in bundled_files() if p.name == "gazel.xml")
    assert cli("publish", bundled_files()[0], gazel).code == 0
    store = open_store(data_dir)
    (pid,) = [p.id for p in store.list_publications() if p.file_name == "gazel.xml"]
    compared = 0
    for stored in store.items_of_publication(pid, ("Question",)):
        question = stored.item.identity
        full = store.referrers(question, roles=("question",), kinds=("Variable",))
        listed = store.listed_referrers(question, roles=("question",), kinds=("Variable",))
        assert [(s.pk, s.publication_id, s.item.identity, s.item.kind, s.item.name,
                 s.item.label, s.item.parent) for s in full] == [
            (i.pk, i.publication_id, i.identity, i.kind, i.name, i.label, i.parent)
            for i in listed]
        assert all(i.urn == i.identity.urn for i in listed)
        compared += len(listed)
    assert compared > 100
    labelled = [i for s in store.items_of_publication(pid, ("Question",))
                for i in store.listed_referrers(s.item.identity, roles=("question",))]
    assert any(i.label.get("fr") and i.label.get("en") for i in labelled)


def test_a_publication_is_read_by_kind_and_by_ranges_of_keys(
        cli: CliRunner, data_dir: Path) -> None:
    # How indexing splits a large publication between two processes.
    gazel = next(p for p in bundled_files() if p.name == "gazel.xml")
    assert cli("publish", bundled_files()[0], gazel).code == 0
    store = open_store(data_dir)
    (publication,) = [p for p in store.list_publications() if p.file_name == "gazel.xml"]
    pid = publication.id
    for kinds, count in ((("Variable",), publication.counts.variables),
                         (("Question",), publication.counts.questions),
                         (("Variable", "Question"), publication.counts.variables
                          + publication.counts.questions)):
        keys = store.item_keys(pid, kinds)
        assert keys == sorted(keys) and len(keys) == count > 0
        assert store.item_count(pid, kinds) == count
        middle = keys[len(keys) // 2]
        first = [s.pk for s in store.items_of_publication(pid, kinds, keys=(keys[0], middle))]
        rest = [s.pk for s in store.items_of_publication(pid, kinds, keys=(middle + 1,
                                                                             keys[-1]))]
        assert first + rest == keys
    assert store.item_count(pid, ("Nothing",)) == 0
    assert store.item_count(pid + 1, ("Variable",)) == 0


def test_a_publication_being_written_is_seen_nowhere_until_complete(
        cli: CliRunner, ddi: SmallDDI, data_dir: Path, schema_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Its rows are committed batch by batch (other writers are not held up): until the
    # last transaction marks it complete, no query may take them into account.
    assert cli("publish", age_publication(ddi, "1")).code == 0
    written, release = threading.Event(), threading.Event()
    finishing = PublicationWriter.finish

    def paused(self: PublicationWriter, *args: Any, **kwargs: Any) -> None:
        written.set()
        assert release.wait(60)
        finishing(self, *args, **kwargs)

    monkeypatch.setattr(PublicationWriter, "finish", paused)
    version_2 = age_publication(ddi, "2")
    outcome: list[object] = []

    def publish() -> None:
        store = open_store(data_dir)
        try:
            outcome.extend(publish_paths([version_2], store, schema_dir))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcome.append(exc)
        finally:
            store.close()

    thread = threading.Thread(target=publish)
    thread.start()
    try:
        assert written.wait(60), outcome
        store = open_store(data_dir)
        try:
            with store.read() as conn:  # its rows are there, committed
                assert conn.execute(select(publications.c.id)).scalars().all() == [1, 2]
            assert [p.id for p in store.list_publications()] == [1]
            found = store.get_item(AGE)
            assert found is not None and found.item.identity.version == "1"
            assert f"{AGE}:1" in store.current_urns_of_publication(1)
            assert store.publications_sharing_items(1) == []
        finally:
            store.close()
    finally:
        release.set()
        thread.join(60)
    assert [type(o).__name__ for o in outcome] == ["Published"]
    assert cli("show", "--json", AGE).json()["urn"] == f"{AGE}:2"
