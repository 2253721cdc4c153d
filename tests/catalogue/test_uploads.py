"""Uploads as the web uses them: size limit, type by content, the command line's safety,
who may upload, dictionaries turned into DDI-L (versions carried on), the preview against
the cohort's current publication, lenient publishing as a recorded choice, staging kept
per owner until published, discarded or expired."""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalogue.accounts import create_user
from catalogue.accounts_model import AuditFilter, Origin, Role, User
from catalogue.accounts_roles import grant, register_bundled
from catalogue.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from catalogue.publishing import PublishRefused, publish_paths
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.uploads import (
    UPLOAD_TTL,
    StagedUpload,
    discard_upload,
    load_upload,
    publish_upload,
    purge_expired,
    sniff_type,
    stage_upload,
    staged_uploads,
    uploads_root,
)
from catalogue.validation_report import report_json
from cohorts import COHORTS, TOPICS_XML

GAZEL = next(c for c in COHORTS if c.slug == "gazel")
ORIGIN = Origin("192.0.2.7", "pytest")


@pytest.fixture(scope="module")
def published_gazel(tmp_path_factory: pytest.TempPathFactory, schema_dir: Path) -> Path:
    """A data directory with the topics and GAZEL published, the cohorts registered."""
    data = tmp_path_factory.mktemp("uploads") / "data"
    store = Store(Settings(data_dir=data).store_url)
    publish_paths([TOPICS_XML, GAZEL.xml], store, schema_dir)
    register_bundled(store, origin=Origin.cli())
    store.close()
    return data


@dataclass
class World:
    settings: Settings
    store: Store
    publisher: User
    elfe: User
    researcher: User

    def stage(self, content: bytes, name: str = "gazel.xml", *, user: User | None = None,
              cohort: str = "gazel", study: bytes | None = None) -> StagedUpload:
        return stage_upload(self.settings, self.store, user=user or self.publisher,
                            cohort=cohort, file_name=name, source=io.BytesIO(content),
                            study=io.BytesIO(study) if study is not None else None,
                            origin=ORIGIN)

    def audit(self, action: str) -> list[object]:
        return list(self.store.audit_entries(AuditFilter(action=action)))


@pytest.fixture
def world(published_gazel: Path, tmp_path: Path, schema_dir: Path) -> Iterator[World]:
    data = tmp_path / "data"
    shutil.copytree(published_gazel, data)
    settings = Settings(data_dir=data, ddi_schemas=schema_dir, max_upload_mb=4)
    store = Store(settings.store_url)
    users = []
    for address, role in (("pub@example.org", Role("publisher", "gazel")),
                          ("elfe@example.org", Role("publisher", "elfe")),
                          ("ada@example.org", None)):
        create_user(store, settings, email=address, name=address, affiliation="Inserm",
                    password="correct horse battery", actor=None, origin=Origin.cli())
        if role is not None:
            grant(store, actor=None, email=address, role=role, origin=Origin.cli())
        user = store.user_by_email(address)
        assert user is not None
        users.append(user)
    yield World(settings, store, *users)
    store.close()


def gazel_dictionary(change_label: bool = True, drop_last: bool = False) -> bytes:
    with GAZEL.dictionary.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if change_label:
        rows[1][rows[0].index("label_en")] += " (revised)"
    if drop_last:
        rows.pop()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def nothing_staged(world: World) -> bool:
    root = uploads_root(world.settings)
    return not root.exists() or not any(root.iterdir())


# -- size and type ----------------------------------------------------------------------------


def test_too_large_is_refused_while_copying(world: World) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        world.stage(b"<x/>" + b" " * (4 * 1024 * 1024))
    assert refused.value.status == 413 and refused.value.errors[0]["limit_mb"] == 4
    assert nothing_staged(world)


@pytest.mark.parametrize("content", [b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", b"\x89PNG\r\n\x1a\n\x00",
                                     b"name,age\nada,36\n", b"just some words"])
def test_other_types_are_refused(world: World, content: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        world.stage(content, "looks-fine.xml")
    assert "neither DDI-L XML nor a data dictionary" in refused.value.message
    assert nothing_staged(world)


def test_empty_file(world: World) -> None:
    with pytest.raises(BadRequest, match="Choose a file"):
        world.stage(b"")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_type_is_decided_by_content(world: World, tmp_path: Path) -> None:
    samples = {"a.csv": b"\xef\xbb\xbfwave;variable;label_fr\nW1;V;x\n", "b.bin": b"<?xml ?><a/>",
               "c.txt": b"  \n<ddi:DDIInstance/>"}
    kinds = []
    for name, content in samples.items():
        path = tmp_path / name
        path.write_bytes(content)
        kinds.append(sniff_type(path, 1024 * 1024))
    assert kinds == ["csv", "ddi", "ddi"]


@pytest.mark.parametrize(("members", "message"), [
    ({"word/document.xml": b"<w/>"}, "not an Excel workbook"),
    ({"xl/workbook.xml": b'<!DOCTYPE w [<!ENTITY a "aaaa">]><w>&a;</w>'}, "declares XML"),
    ({"xl/workbook.xml": b"<w/>", "xl/sharedStrings.xml": b"<s>" + b"a" * 3_000_000 + b"</s>"},
     "expands too much"),
])
def test_unsafe_or_foreign_zip_files(world: World, members: dict[str, bytes],
                                     message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        world.stage(zip_bytes(members), "dictionary.xlsx")
    assert nothing_staged(world)


def test_entities_in_ddi_make_it_unusable(world: World) -> None:
    xml = (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
           b'<ddi:DDIInstance xmlns:ddi="ddi:instance:3_3">&e;</ddi:DDIInstance>')
    staged = world.stage(xml)
    assert staged.report.unusable is not None and not staged.publishable
    assert staged.diff is None
    [group] = report_json(staged.report)["rules"]
    assert group["rule"] == "INPUT" and group["severity"] == "error"
    with pytest.raises(BadRequest, match="nothing to publish"):
        publish_upload(world.settings, world.store, staged.token, user=world.publisher,
                       lenient=True, origin=ORIGIN)


# -- who may upload ---------------------------------------------------------------------


def test_a_researcher_is_refused_and_audited(world: World) -> None:
    with pytest.raises(Forbidden):
        world.stage(GAZEL.xml.read_bytes(), user=world.researcher)
    [entry] = world.audit("publication.refused")
    assert entry.actor_email == "ada@example.org"  # type: ignore[attr-defined]
    assert nothing_staged(world)


def test_a_publisher_of_another_cohort_is_refused(world: World) -> None:
    with pytest.raises(Forbidden):  # GAZEL's file, for Elfe: its agency is not Elfe's
        world.stage(GAZEL.xml.read_bytes(), user=world.elfe, cohort="elfe")
    with pytest.raises(Forbidden):  # and GAZEL is not theirs
        world.stage(GAZEL.xml.read_bytes(), user=world.elfe, cohort="gazel")
    entries = world.audit("publication.refused")
    assert len(entries) == 2 and {e.actor_email for e in entries} == {  # type: ignore[attr-defined]
        "elfe@example.org"}
    assert nothing_staged(world)
    assert len(world.store.list_publications()) == 2


def test_an_unknown_cohort(world: World) -> None:
    with pytest.raises(NotFound):
        world.stage(GAZEL.xml.read_bytes(), cohort="nope")


def test_a_file_of_another_cohort_the_publisher_also_publishes(world: World) -> None:
    grant(world.store, actor=None, email="elfe@example.org", role=Role("publisher", "gazel"),
          origin=Origin.cli())
    user = world.store.user_by_email("elfe@example.org")
    assert user is not None
    with pytest.raises(BadRequest, match="another cohort"):
        world.stage(GAZEL.xml.read_bytes(), user=user, cohort="elfe")


# -- dictionaries --------------------------------------------------------------------------------


def test_a_dictionary_becomes_ddi_with_versions_carried_on(world: World) -> None:
    staged = world.stage(gazel_dictionary(drop_last=True), "gazel-dictionary.csv")
    assert staged.source_type == "csv" and staged.publishable and staged.report.valid
    assert staged.ddi_path is not None and staged.ddi_path.name == "dictionary.xml"
    assert staged.diff is not None and staged.diff.before is not None
    assert staged.diff.totals()["changed"] == 1 and staged.diff.totals()["removed"] == 1
    [variables, *_] = staged.diff.kinds
    [changed] = variables.changed
    assert [f.field for f in changed.fields] == ["version", "label[en]"]
    assert (changed.version_before, changed.version_after) == ("1", "2")
    # no study facts uploaded: those of the current publication are kept
    assert b"EDF-GDF" in staged.ddi_path.read_bytes()

    [result] = publish_upload(world.settings, world.store, staged.token, user=world.publisher,
                              lenient=False, origin=ORIGIN)
    publication = result.publication
    assert publication.file_name == "gazel-dictionary.xml"
    assert publication.published_by == "pub@example.org" and not publication.lenient
    assert publication.agencies == ("fr.gazel",)
    [entry] = world.audit("publication.published")
    assert entry.details["files"] == ["gazel-dictionary.csv"]  # type: ignore[attr-defined]
    assert entry.client == "192.0.2.7"  # type: ignore[attr-defined]
    assert not staged.directory.exists()


def test_a_dictionary_with_its_study_facts(world: World) -> None:
    study = GAZEL.study.read_bytes().replace(b"GAZEL", b"GAZEL (new title)")
    staged = world.stage(gazel_dictionary(change_label=False), "gazel.csv", study=study)
    assert staged.diff is not None and staged.diff.count == 0  # variables and all unchanged
    assert staged.ddi_path is not None and b"GAZEL (new title)" in staged.ddi_path.read_bytes()


def test_a_workbook_dictionary(world: World, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "variables"
    for row in csv.reader(io.StringIO(gazel_dictionary().decode("utf-8"))):
        sheet.append(row)
    path = tmp_path / "gazel.xlsx"
    book.save(path)
    staged = world.stage(path.read_bytes(), "GAZEL dictionary.xlsx")
    assert staged.source_type == "xlsx" and staged.publishable
    assert staged.diff is not None and staged.diff.totals()["changed"] == 1
    assert staged.publish_name == "GAZEL dictionary.xml"


def test_a_dictionary_with_problems_is_reported_by_cell(world: World) -> None:
    table = gazel_dictionary().replace(b",decimal,", b",decimals,", 1)
    staged = world.stage(table, "gazel.csv")
    assert not staged.publishable and staged.ddi_path is None and staged.diff is None
    report = report_json(staged.report)
    [group] = report["rules"]
    assert group["rule"] == "dictionary" and group["errors"] == 1
    [finding] = group["findings"]
    assert finding["line"] and finding["path"] == "gazel.csv: response_type"
    assert "decimals" in finding["message"]


# -- DDI-L, lenient publishing, staging ------------------------------------------------------------


def xsd_invalid_gazel() -> bytes:
    """GAZEL with an element the XSD does not allow and the reader ignores: the same
    content, so the same identities may be published again."""
    xml = GAZEL.xml.read_bytes()
    return xml.replace(b"<r:Version>1</r:Version>", b"<r:Version>1</r:Version><r:Unknown/>", 1)


def test_xsd_invalid_needs_an_explicit_lenient_choice(world: World) -> None:
    staged = world.stage(xsd_invalid_gazel(), "gazel.xml")
    assert staged.publishable and staged.needs_lenient
    assert [f.rule for f in staged.report.errors] == ["XSD"]
    assert staged.report.errors[0].line and staged.report.errors[0].path
    assert staged.diff is not None and staged.diff.count == 0
    with pytest.raises(PublishRefused):
        publish_upload(world.settings, world.store, staged.token, user=world.publisher,
                       lenient=False, origin=ORIGIN)
    kept = load_upload(world.settings, staged.token, world.publisher)
    assert kept.refused and kept.publishable
    assert len(world.store.list_publications()) == 2
    [result] = publish_upload(world.settings, world.store, staged.token, user=world.publisher,
                              lenient=True, origin=ORIGIN)
    assert result.publication.lenient and not result.publication.valid
    [entry] = world.audit("publication.published")
    assert entry.details["lenient"] is True  # type: ignore[attr-defined]


def test_identity_conflicts_are_reported_when_staging_and_refused(world: World) -> None:
    xml = GAZEL.xml.read_bytes().replace(b"Partnership status", b"Couple", 1)
    staged = world.stage(xml, "gazel.xml")
    assert staged.diff is not None and staged.diff.totals()["changed"] == 1
    # the report says so before anyone presses Publish, and Publish is not offered
    [conflict] = [f for f in staged.report.errors if f.rule == "identity-conflict"]
    assert conflict.line and conflict.path.startswith("//Variable[@ID=")
    assert not staged.publishable
    publications = len(world.store.list_publications())
    with pytest.raises(BadRequest):
        publish_upload(world.settings, world.store, staged.token, user=world.publisher,
                       lenient=True, origin=ORIGIN)
    assert len(world.store.list_publications()) == publications


def test_uploads_belong_to_their_owner(world: World) -> None:
    staged = world.stage(GAZEL.xml.read_bytes())
    assert [s.token for s in staged_uploads(world.settings, world.publisher)] == [staged.token]
    for other in (world.elfe, world.researcher, None):
        with pytest.raises(NotFound):
            load_upload(world.settings, staged.token, other)
    with pytest.raises(NotFound):
        load_upload(world.settings, "../../etc", world.publisher)
    with pytest.raises(NotFound):
        publish_upload(world.settings, world.store, staged.token, user=world.elfe,
                       lenient=False, origin=ORIGIN)
    discard_upload(world.settings, staged.token, world.publisher)
    with pytest.raises(NotFound):
        load_upload(world.settings, staged.token, world.publisher)


def test_one_publication_attempt_at_a_time(world: World) -> None:
    staged = world.stage(GAZEL.xml.read_bytes())
    (staged.directory / "publishing.lock").touch()
    with pytest.raises(Conflict):
        publish_upload(world.settings, world.store, staged.token, user=world.publisher,
                       lenient=False, origin=ORIGIN)


def test_stale_uploads_expire(world: World) -> None:
    staged = world.stage(GAZEL.xml.read_bytes())
    assert purge_expired(world.settings) == 0
    old = time.time() - UPLOAD_TTL - 60
    os.utime(staged.directory, (old, old))
    assert purge_expired(world.settings) == 1
    assert nothing_staged(world)
