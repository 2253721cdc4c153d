"""Withdrawing a publication: only its cohort's publishers (and administrators) may, with a
reason; it leaves search (the versions it superseded come back) and browsing, stays
resolvable by URN, access requests that selected its variables still show them, and the
audit trail records it. An index left behind by a crash catches up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalogue.accounts import create_user
from catalogue.accounts_model import AuditFilter, Origin, Role, User
from catalogue.accounts_roles import grant, register_bundled, register_cohort
from catalogue.browse import Catalogue
from catalogue.errors import BadRequest, Conflict, Forbidden
from catalogue.publishing import publish_paths
from catalogue.requests import start_application, view_request
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.withdrawal import after_withdrawal, may_withdraw, withdraw_publication
from search.engine import ranked_urns
from search.indexing import catch_up, index_publications, open_index

if TYPE_CHECKING:
    from conftest import CliRunner, SmallDDI

ORIGIN = Origin("192.0.2.8", "pytest")
V1 = "urn:ddi:fr.test:v-smoke:1"
V2 = "urn:ddi:fr.test:v-smoke:2"


@dataclass
class World:
    settings: Settings
    store: Store
    one: int
    two: int
    publisher: User
    gazel: User
    admin: User

    def found(self, text: str) -> list[str]:
        with open_index(self.settings) as engine:
            return ranked_urns(engine, text)


def user(store: Store, settings: Settings, address: str, role: Role | None) -> User:
    create_user(store, settings, email=address, name=address, affiliation="Inserm",
                password="correct horse battery", actor=None, origin=Origin.cli())
    if role is not None:
        grant(store, actor=None, email=address, role=role, origin=Origin.cli())
    found = store.user_by_email(address)
    assert found is not None
    return found


@pytest.fixture
def world(tmp_path: Path, ddi: SmallDDI, schema_dir: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", ddi_schemas=schema_dir)
    store = Store(settings.store_url)
    register_bundled(store, origin=Origin.cli())
    register_cohort(store, actor=None, slug="test", name="Test", agencies=["fr.test"],
                    origin=Origin.cli())
    ids = []
    for version, label in (("1", "Smokes tobacco"), ("2", "Smokes cigarettes")):
        path = ddi.write(f"v{version}.xml", ddi.scheme("l:VariableScheme", "vars", ddi.variable(
            "v-smoke", "SMOKE", {"en": label}, version=version), version=version),
            version=version)
        [result] = publish_paths([path], store, schema_dir)
        ids.append(result.publication.id)
        index_publications(settings, store, [result.publication.id])
    yield World(settings, store, ids[0], ids[1],
                user(store, settings, "pub@example.org", Role("publisher", "test")),
                user(store, settings, "gazel@example.org", Role("publisher", "gazel")),
                user(store, settings, "admin@example.org", Role("administrator")))
    store.close()


def test_withdrawal_takes_it_out_of_search_and_brings_back_what_it_superseded(
        world: World) -> None:
    assert world.found("cigarettes") == [V2] and world.found("tobacco") == []
    withdrawn = withdraw_publication(world.store, world.two, actor=world.publisher,
                                     reason="  wrong\nlabels ", origin=ORIGIN)
    after_withdrawal(world.settings, world.store, world.two)
    assert withdrawn.affected == (world.one,)
    publication = withdrawn.publication
    assert publication.withdrawn and publication.withdrawn_by == "pub@example.org"
    assert publication.withdrawal_reason == "wrong labels"
    assert world.found("cigarettes") == [] and world.found("tobacco") == [V1]
    # still resolvable by URN, flagged; the latest is the live one again
    stored = world.store.get_item(V2)
    assert stored is not None and stored.withdrawn
    latest = world.store.get_item("urn:ddi:fr.test:v-smoke")
    assert latest is not None and latest.urn == V1
    assert world.store.list_publications(include_withdrawn=False)[-1].id == world.one
    [entry] = world.store.audit_entries(AuditFilter(action="publication.withdrawn"))
    assert entry.actor_email == "pub@example.org" and entry.target == f"publication:{world.two}"
    assert entry.details["reason"] == "wrong labels" and entry.client == "192.0.2.8"


def test_an_index_left_behind_catches_up(world: World) -> None:
    withdraw_publication(world.store, world.two, actor=world.admin, reason="test",
                         origin=ORIGIN)
    # the process died before indexing: the next start catches up
    assert world.found("cigarettes") == [V2]
    assert set(world.store.unindexed_publications(world.settings.search_engine)) == {
        world.one, world.two}
    catch_up(world.settings, world.store)
    assert world.found("cigarettes") == [] and world.found("tobacco") == [V1]


def test_only_its_cohorts_publishers_may_withdraw(world: World) -> None:
    publication = world.store.get_publication(world.two)
    assert may_withdraw(world.store, world.publisher, publication)
    assert may_withdraw(world.store, world.admin, publication)
    assert not may_withdraw(world.store, world.gazel, publication)
    assert not may_withdraw(world.store, None, publication)
    with pytest.raises(Forbidden):
        withdraw_publication(world.store, world.two, actor=world.gazel, reason="mine",
                             origin=ORIGIN)
    assert not world.store.get_publication(world.two).withdrawn
    [entry] = world.store.audit_entries(AuditFilter(action="publication.withdrawal_refused"))
    assert entry.actor_email == "gazel@example.org"
    assert world.store.audit_entries(AuditFilter(action="publication.withdrawn")) == []


def test_a_reason_is_needed_and_once_is_enough(world: World) -> None:
    with pytest.raises(BadRequest) as refused:
        withdraw_publication(world.store, world.two, actor=world.publisher, reason=" \n ",
                             origin=ORIGIN)
    assert refused.value.errors[0]["field"] == "reason"
    with pytest.raises(BadRequest):
        withdraw_publication(world.store, world.two, actor=world.publisher, reason="x" * 2001,
                             origin=ORIGIN)
    assert not world.store.get_publication(world.two).withdrawn
    withdraw_publication(world.store, world.two, actor=None, reason="from the command line",
                         origin=Origin.cli())
    assert world.store.get_publication(world.two).withdrawn_by == "command line"
    with pytest.raises(Conflict):
        withdraw_publication(world.store, world.two, actor=world.publisher, reason="again",
                             origin=ORIGIN)


def test_access_requests_that_selected_it_keep_working(world: World) -> None:
    researcher = user(world.store, world.settings, "ada@example.org", None)
    catalogue = Catalogue(world.store)
    project = start_application(catalogue, researcher, urns=[V2], title="Smoking")
    [request] = project.requests
    withdraw_publication(world.store, world.two, actor=world.publisher, reason="wrong",
                         origin=ORIGIN)
    catalogue.refresh()
    view = view_request(catalogue, researcher, request.id)
    [variable] = view.data.variables
    assert variable.found and variable.urn == V2
    assert variable.label.best("en") == "Smokes cigarettes"


def test_from_the_command_line(world: World, cli: CliRunner) -> None:
    refused = cli("withdraw", str(world.two), "--reason", "not mine", "--as",
                  "gazel@example.org")
    assert refused.code == 2 and "may withdraw it" in refused.err
    assert not world.store.get_publication(world.two).withdrawn
    done = cli("withdraw", str(world.two), "--reason", "wrong labels", "--as",
               "pub@example.org")
    assert done.code == 0, done.err
    assert done.out.startswith(f"withdrew publication {world.two} ")
    assert world.found("cigarettes") == [] and world.found("tobacco") == [V1]
    [entry] = world.store.audit_entries(AuditFilter(action="publication.withdrawn"))
    assert entry.actor_email == "pub@example.org" and entry.client == "cli"
    again = cli("withdraw", str(world.two), "--reason", "again")
    assert again.code == 2 and "already withdrawn" in again.err

    diff = cli("diff", str(world.one), str(world.two), "--json")
    assert diff.code == 0
    [variables, *_] = diff.json()["kinds"]
    assert [c["urn"] for c in variables["changed"]] == [V2]
    text = cli("diff", str(world.one), str(world.two)).out.splitlines()
    assert text[0] == (f"from publication {world.one} to publication {world.two}: 1 changed, "
                       "0 added, 0 removed, 0 unchanged")
    assert f"  ~ {V2} SMOKE 'Smokes cigarettes'" in text
    assert "      label[en]: 'Smokes tobacco' -> 'Smokes cigarettes'" in text
    assert cli("diff", "0", str(world.one)).out.startswith("from nothing to publication")
    assert cli("diff", "1", "99").code == 2
