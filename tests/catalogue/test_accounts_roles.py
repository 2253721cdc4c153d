"""Roles and permissions: the cohort registry, granting and revoking, who may publish which
agency (the function and ``catalogue publish --as``), who may read which access request;
and the ``catalogue admin`` commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalogue.accounts import create_user
from catalogue.accounts_model import AuditFilter, Origin, Role, User
from catalogue.accounts_roles import (
    agencies_in_files,
    can_edit_request,
    can_publish,
    can_read_request,
    can_review,
    cohorts_of_agencies,
    grant,
    register_bundled,
    register_cohort,
    require_administrator,
    require_publisher,
    require_publisher_of_agencies,
    require_publisher_of_files,
    require_read_request,
    require_reviewer,
    revoke,
)
from catalogue.errors import Conflict, Forbidden, NotFound, Unauthorized
from catalogue.settings import Settings
from catalogue.store import Store

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI

HERE = Origin("192.0.2.10", "pytest")
CLI = Origin.cli()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings: Settings) -> Store:
    opened = Store(settings.store_url)
    register_bundled(opened, origin=CLI)
    yield opened  # type: ignore[misc]
    opened.close()


def person(store: Store, settings: Settings, address: str, *roles: Role) -> User:
    create_user(store, settings, email=address, name=address.split("@")[0], affiliation="",
                password="a long password", actor=None, origin=CLI)
    for role in roles:
        grant(store, actor=None, email=address, role=role, origin=CLI)
    user = store.user_by_email(address)
    assert user is not None
    return user


@dataclass(frozen=True)
class RequestStandIn:
    """The three facts the permission functions read of an access request. The access
    request model (issue 7) has the same attributes; this keeps these tests independent
    of it."""

    applicant_id: int
    cohort: str
    status: str


def test_bundled_cohorts_are_registered_once(store: Store) -> None:
    register_bundled(store, origin=CLI)  # again: nothing changes
    cohorts = {c.slug: c.agencies for c in store.list_registered_cohorts()}
    assert cohorts == {"constances": ("fr.constances",), "gazel": ("fr.gazel",),
                       "elfe": ("fr.elfe",), "epipage2": ("fr.epipage2",)}
    assert len(store.audit_entries(AuditFilter(action="cohort"))) == 4
    assert cohorts_of_agencies(store, ["fr.gazel", "fr.cohortes"]) == {
        "fr.gazel": "gazel", "fr.cohortes": None}


def test_an_agency_belongs_to_one_cohort(store: Store) -> None:
    with pytest.raises(Conflict, match="fr.gazel already belongs to cohort gazel"):
        register_cohort(store, actor=None, slug="other", name="Other", agencies=["fr.gazel"],
                        origin=CLI)
    assert store.registered_cohort("other") is None
    updated = register_cohort(store, actor=None, slug="gazel", name="GAZEL",
                              agencies=["fr.gazel", "fr.edf.gazel"], origin=CLI)
    assert updated.agencies == ("fr.edf.gazel", "fr.gazel")


def test_only_administrators_manage_roles_and_cohorts(store: Store,
                                                      settings: Settings) -> None:
    admin = person(store, settings, "admin@example.org", Role("administrator"))
    researcher = person(store, settings, "r@example.org")
    with pytest.raises(Forbidden):
        grant(store, actor=researcher, email="r@example.org", role=Role("administrator"),
              origin=HERE)
    with pytest.raises(Forbidden):
        register_cohort(store, actor=researcher, slug="x", name="X", agencies=[],
                        origin=HERE)
    assert store.user_by_email("r@example.org").roles == frozenset()  # type: ignore[union-attr]
    assert grant(store, actor=admin, email="R@example.org", role=Role("reviewer", "elfe"),
                 origin=HERE)
    assert not grant(store, actor=admin, email="r@example.org", role=Role("reviewer", "elfe"),
                     origin=HERE)
    with pytest.raises(NotFound):
        grant(store, actor=admin, email="r@example.org", role=Role("reviewer", "nope"),
              origin=HERE)
    [entry] = store.audit_entries(AuditFilter(action="role.granted", actor="admin@"))
    assert entry.target == "user:r@example.org"
    assert entry.details == {"role": "reviewer", "cohort": "elfe"}
    assert (entry.client, entry.user_agent) == (HERE.client, HERE.user_agent)
    assert revoke(store, actor=admin, email="r@example.org", role=Role("reviewer", "elfe"),
                  origin=HERE)
    with pytest.raises(Conflict, match="last administrator"):
        revoke(store, actor=admin, email="admin@example.org", role=Role("administrator"),
               origin=HERE)
    assert store.user_by_email("admin@example.org").is_administrator  # type: ignore[union-attr]


def test_a_publisher_acting_on_another_cohorts_agency_is_refused(
        store: Store, settings: Settings) -> None:
    publisher = person(store, settings, "pub@example.org", Role("publisher", "gazel"))
    assert require_publisher(publisher, "gazel") == publisher
    assert require_publisher_of_agencies(store, publisher, ["fr.gazel"], origin=HERE) == {
        "gazel"}
    with pytest.raises(Forbidden, match=r"not a publisher of the cohort of fr.constances"):
        require_publisher_of_agencies(store, publisher, ["fr.gazel", "fr.constances"],
                                      origin=HERE)
    with pytest.raises(Forbidden, match="belongs to no registered cohort"):
        require_publisher_of_agencies(store, publisher, ["fr.cohortes"], origin=HERE)
    with pytest.raises(Forbidden):
        require_publisher(publisher, "constances")
    with pytest.raises(Unauthorized):
        require_publisher_of_agencies(store, None, ["fr.gazel"], origin=HERE)
    refused = store.audit_entries(AuditFilter(action="publication.refused"))
    assert [e.target for e in refused] == ["agencies:fr.cohortes",
                                           "agencies:fr.constances fr.gazel"]
    assert all(e.actor_email == "pub@example.org" for e in refused)
    admin = person(store, settings, "admin@example.org", Role("administrator"))
    assert can_publish(admin, "constances")
    assert require_publisher_of_agencies(store, admin, ["fr.cohortes"], origin=HERE) == set()


def test_request_permissions(store: Store, settings: Settings) -> None:
    applicant = person(store, settings, "applicant@example.org")
    other = person(store, settings, "other@example.org")
    reviewer = person(store, settings, "rev@example.org", Role("reviewer", "constances"))
    elsewhere = person(store, settings, "rev-elfe@example.org", Role("reviewer", "elfe"))
    admin = person(store, settings, "admin@example.org", Role("administrator"))
    submitted = RequestStandIn(applicant.id, "constances", "submitted")
    draft = RequestStandIn(applicant.id, "constances", "draft")
    assert can_read_request(applicant, submitted) and can_read_request(applicant, draft)
    assert can_read_request(reviewer, submitted) and not can_read_request(reviewer, draft)
    assert can_review(reviewer, "constances") and not can_review(elsewhere, "constances")
    for refused in (other, elsewhere, admin):
        assert not can_read_request(refused, submitted)
        with pytest.raises(Forbidden):
            require_read_request(refused, submitted)
    with pytest.raises(Unauthorized):
        require_read_request(None, submitted)
    with pytest.raises(Forbidden):
        require_reviewer(elsewhere, "constances")
    assert can_edit_request(applicant, draft)
    assert can_edit_request(applicant, RequestStandIn(applicant.id, "elfe", "changes_requested"))
    assert not can_edit_request(applicant, submitted)
    assert not can_edit_request(reviewer, draft)
    with pytest.raises(Forbidden):
        require_administrator(reviewer)


def test_disabled_accounts_hold_no_permission(store: Store, settings: Settings) -> None:
    from catalogue.accounts import set_disabled  # noqa: PLC0415

    admin = person(store, settings, "admin@example.org", Role("administrator"),
                   Role("publisher", "elfe"), Role("reviewer", "elfe"))
    set_disabled(store, admin, True, actor=None, origin=CLI)
    disabled = store.user_by_email("admin@example.org")
    assert disabled is not None and disabled.disabled
    assert not can_publish(disabled, "elfe") and not can_review(disabled, "elfe")
    with pytest.raises(Forbidden):
        require_administrator(disabled)


# -- the command line ---------------------------------------------------------------------------


def constances_file(small: SmallDDI) -> Path:
    small.agency = "fr.constances"
    return small.write("constances-small.xml", small.scheme(
        "l:VariableScheme", "vs", small.variable("v1", "AGE", {"en": "Age", "fr": "Âge"})))


def test_cli_publish_as_a_publisher_of_another_cohort_is_refused(cli: CliRunner,
                                                                 ddi: SmallDDI) -> None:
    assert cli("admin", "register-bundled").code == 0
    assert cli("admin", "create-user", "pub@example.org", "--name", "Pub").code == 0
    assert cli("admin", "grant", "pub@example.org", "publisher", "gazel").code == 0
    path = constances_file(ddi)
    refused = cli("publish", "--as", "PUB@example.org", path)
    assert refused.code == 2
    assert "not a publisher of the cohort of fr.constances (constances)" in refused.err
    assert cli("list", "--json").json() == []  # nothing published
    audit = cli("admin", "audit", "--action", "publication", "--csv")
    rows = audit.out.splitlines()
    assert len(rows) == 2 and "publication.refused" in rows[1] and "pub@example.org" in rows[1]
    unknown = cli("publish", "--as", "nobody@example.org", path)
    assert unknown.code == 2 and "no account for nobody@example.org" in unknown.err

    assert cli("admin", "grant", "pub@example.org", "publisher", "constances").code == 0
    published = cli("publish", "--as", "pub@example.org", path, "--json")
    assert published.code == 0, published.err
    [publication] = published.json()
    assert publication["published_by"] == "pub@example.org"
    entries = cli("admin", "audit", "--action", "publication.published", "--csv").out
    entries = entries.splitlines()
    assert len(entries) == 2 and f"publication:{publication['id']}" in entries[1]


def test_cli_admin_commands(cli: CliRunner) -> None:
    created = cli("admin", "create-user", "root@example.org", "--name", "Root", "--admin")
    assert created.code == 0 and "administrator" in created.out
    assert cli("admin", "create-user", "ROOT@example.org", "--name", "Again").code == 2
    assert cli("admin", "grant", "root@example.org", "publisher").code == 2  # no cohort
    assert cli("admin", "grant", "root@example.org", "reviewer", "nowhere").code == 2
    assert cli("admin", "register-cohort", "nowhere", "--name", "Nowhere", "--agency",
               "org.example.nowhere").code == 0
    assert cli("admin", "grant", "root@example.org", "reviewer", "nowhere").code == 0
    users = cli("admin", "list-users", "--json").json()
    assert users == [{
        "id": 1, "email": "root@example.org", "name": "Root", "affiliation": "",
        "created_at": users[0]["created_at"], "confirmed_at": users[0]["created_at"],
        "disabled": False, "lang": "en",
        "roles": [{"role": "administrator", "cohort": None},
                  {"role": "reviewer", "cohort": "nowhere"}]}]
    assert cli("admin", "revoke", "root@example.org", "administrator").code == 2  # the last
    assert cli("admin", "disable-user", "root@example.org").code == 0
    listing = cli("admin", "list-users", "--role", "reviewer", "--cohort", "nowhere")
    assert "disabled" in listing.out
    cohorts = cli("admin", "list-cohorts", "--json").json()
    assert cohorts[0]["agencies"] == ["org.example.nowhere"]
    text = cli("admin", "audit", "--limit", "3")
    assert text.code == 0 and len(text.out.splitlines()) == 3


def test_the_files_a_publisher_may_publish(store: Store, settings: Settings, ddi: SmallDDI,
                                           schema_dir: Path) -> None:
    path = constances_file(ddi)
    assert agencies_in_files([path], schema_dir) == {"fr.constances"}
    publisher = person(store, settings, "pub@example.org", Role("publisher", "gazel"))
    with pytest.raises(Forbidden, match="fr.constances"):
        require_publisher_of_files(store, publisher, [path], schema_dir, origin=HERE)
    grant(store, actor=None, email="pub@example.org", role=Role("publisher", "constances"),
          origin=CLI)
    allowed = store.user_by_email("pub@example.org")
    assert require_publisher_of_files(store, allowed, [path], schema_dir,
                                      origin=HERE) == {"constances"}
    assert store.list_publications() == []  # checking publishes nothing
