"""The review of access requests by cohort teams: the state machine, who may move a
request, amendments, comments, the audit trail, and version drift of selected
variables."""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from catalogue.accounts_model import AuditFilter, User, iso, utc_now
from catalogue.basket import BasketKey, add_variables, basket_contents
from catalogue.browse import Catalogue
from catalogue.errors import BadRequest, Forbidden
from catalogue.publishing import publish_paths
from catalogue.requests import (
    get_request,
    save_amendment,
    save_project,
    save_section,
    start_application,
    view_request,
)
from catalogue.requests_model import (
    LIMITS,
    AccessRequest,
    Action,
    Commitments,
    Funding,
    IncompleteApplication,
    OversizedFields,
    ProjectFields,
    Protocol,
    RequestState,
    TeamMember,
    TransitionRefused,
)
from catalogue.requests_workflow import (
    add_comment,
    allowed_actions,
    can_edit,
    can_read,
    comments,
    history,
    submit_project,
    transition,
    visible_requests,
)
from catalogue.store import Store
from cohorts import COHORTS

#: ``make_user(store, email, *reviewer_of)``, the fixture of tests/catalogue/conftest.py
MakeUser = Callable[..., User]
SHARED = Path(__file__).resolve().parents[3] / "shared"
C = "urn:ddi:fr.constances"
HEALTH_S1 = f"{C}:var-S1-SANTE_PERCUE_S1:1"
KINE_SNDS = f"{C}:var-SNDS-SNDS_KINE_A0:1"
ELFE_WEIGHT = "urn:ddi:fr.elfe:var-M2-CR_POIDS_M2:1"
TODAY = date(2025, 3, 1)
SCRIPT = "<script>alert('x')</script> & <b>bold</b>"


def _copy_database(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as a, closing(sqlite3.connect(target)) as b:
        a.backup(b)


COMPLETE = ProjectFields(
    title="Self-rated health and care use",
    protocol=Protocol(objectives="Relate self-rated health to reimbursed care.",
                      method="Longitudinal mixed models.", expected_results="Effect sizes."),
    team=(TeamMember("Ana Martin", "principal investigator", "Inserm U1018",
                     "ana@example.org", principal_investigator=True),),
    funding=Funding(project="ANR grant", access_costs="Laboratory budget", industrial=False),
    commitments=Commitments(publish_results=True, destruction_report=True))


@dataclass(frozen=True)
class Scene:
    applicant: User
    reviewer: User          # reviewer of constances
    elsewhere: User         # reviewer of gazel
    stranger: User
    constances: int         # request ids
    elfe: int


def submit_application(catalogue: Catalogue, applicant: User, urns: list[str]) -> list[int]:
    key = BasketKey.of_user(applicant.id)
    add_variables(catalogue, key, urns)
    project = start_application(catalogue, applicant, basket=key)
    save_project(catalogue, applicant, project.id, COMPLETE)
    for request in project.requests:
        waves = {v.wave_urn for v in view_request(catalogue, applicant, request.id).data
                 .variables}
        save_section(catalogue, applicant, request.id, replace(
            request.section, charter_accepted=True,
            group_justifications=tuple((w, "Main analysis.") for w in waves)))
    submitted = submit_project(catalogue, applicant, project.id, today=TODAY)
    return [r.id for r in submitted.requests]


@pytest.fixture
def scene(make_user: MakeUser, catalogue: Catalogue) -> Scene:
    store = catalogue.store
    applicant = make_user(store, "ana@example.org")
    constances, elfe = submit_application(catalogue, applicant,
                                          [HEALTH_S1, KINE_SNDS, ELFE_WEIGHT])
    return Scene(applicant, make_user(store, "rev@example.org", "constances"),
                 make_user(store, "gaz@example.org", "gazel"),
                 make_user(store, "eve@example.org"), constances, elfe)


def state_and_events(catalogue: Catalogue, user: User, request_id: int
                     ) -> tuple[RequestState, int]:
    return (get_request(catalogue, user, request_id).state,
            len(history(catalogue, user, request_id)))


def test_a_request_goes_through_changes_requested_amendment_and_approval(
        catalogue: Catalogue, scene: Scene) -> None:
    a, r = scene.applicant, scene.reviewer
    assert [q.id for q in visible_requests(catalogue, r, cohort="constances")] == [
        scene.constances]
    assert len(visible_requests(catalogue, a)) == 2
    request = get_request(catalogue, r, scene.constances)
    assert allowed_actions(r, request) == (Action.START_REVIEW,)
    assert allowed_actions(a, request) == ()
    transition(catalogue, r, scene.constances, Action.START_REVIEW)
    request = transition(catalogue, r, scene.constances, "request_changes",
                         "Justify the SNDS variable separately.")
    assert request.state is RequestState.CHANGES_REQUESTED
    assert allowed_actions(a, request) == (Action.RESUBMIT,) and can_edit(a, request)
    assert allowed_actions(r, request) == ()

    amended = replace(COMPLETE, protocol=replace(COMPLETE.protocol,
                                                 objectives="Sharper objectives."))
    save_amendment(catalogue, a, scene.constances, amended)
    save_section(catalogue, a, scene.constances, replace(
        request.section, variables=tuple(replace(v, justification="Outcome: care use")
                                         if v.urn == KINE_SNDS else v
                                         for v in request.section.variables)))
    # the other cohort's request keeps the project as submitted to it
    assert get_request(catalogue, a, scene.elfe).project == COMPLETE
    request = transition(catalogue, a, scene.constances, Action.RESUBMIT)
    assert (request.state, request.revision, request.project) == (
        RequestState.SUBMITTED, 2, amended)
    revisions = catalogue.store.revision_rows(scene.constances)
    assert [v.number for v in revisions] == [1, 2]
    assert revisions[1].content["project"]["protocol"]["objectives"] == "Sharper objectives."
    assert revisions[0].content["project"]["protocol"]["objectives"] == (
        COMPLETE.protocol.objectives)

    transition(catalogue, r, scene.constances, Action.START_REVIEW)
    request = transition(catalogue, r, scene.constances, Action.APPROVE, "Fine.")
    assert request.state is RequestState.APPROVED and request.decided_at is not None
    assert allowed_actions(r, request) == allowed_actions(a, request) == ()
    assert [(e.actor_id, e.action.value, e.to_state.value, e.reason)
            for e in history(catalogue, a, scene.constances)] == [
        (a.id, "submit", "submitted", ""),
        (r.id, "start_review", "under_review", ""),
        (r.id, "request_changes", "changes_requested", "Justify the SNDS variable separately."),
        (a.id, "resubmit", "submitted", ""),
        (r.id, "start_review", "under_review", ""),
        (r.id, "approve", "approved", "Fine.")]
    assert get_request(catalogue, a, scene.elfe).state is RequestState.SUBMITTED


def test_illegal_transitions_are_refused_and_change_nothing(catalogue: Catalogue,
                                                            scene: Scene) -> None:
    a, r = scene.applicant, scene.reviewer
    before = state_and_events(catalogue, a, scene.constances)
    with pytest.raises(TransitionRefused, match="it is submitted; that is possible only "
                                                "when it is under review") as refused:
        transition(catalogue, r, scene.constances, Action.APPROVE)
    assert refused.value.status == 409
    with pytest.raises(TransitionRefused):
        transition(catalogue, a, scene.constances, Action.RESUBMIT)
    with pytest.raises(TransitionRefused):
        transition(catalogue, a, scene.constances, Action.SUBMIT)
    with pytest.raises(BadRequest, match="unknown action"):
        transition(catalogue, r, scene.constances, "publish")
    assert state_and_events(catalogue, a, scene.constances) == before
    transition(catalogue, r, scene.constances, Action.START_REVIEW)
    with pytest.raises(TransitionRefused):
        transition(catalogue, r, scene.constances, Action.START_REVIEW)
    transition(catalogue, r, scene.constances, Action.REJECT, "Out of scope.")
    after = state_and_events(catalogue, a, scene.constances)
    for action in (Action.APPROVE, Action.REQUEST_CHANGES, Action.START_REVIEW):
        with pytest.raises(TransitionRefused):
            transition(catalogue, r, scene.constances, action, "again")
    assert state_and_events(catalogue, a, scene.constances) == after == (
        RequestState.REJECTED, 3)


def test_only_the_cohorts_reviewers_move_submitted_requests(make_user: MakeUser,
                                                            catalogue: Catalogue,
                                                            scene: Scene) -> None:
    a, r = scene.applicant, scene.reviewer
    before = state_and_events(catalogue, a, scene.constances)
    with pytest.raises(Forbidden, match="Only reviewers of constances"):
        transition(catalogue, a, scene.constances, Action.START_REVIEW)
    for outsider in (scene.elsewhere, scene.stranger):
        with pytest.raises(Forbidden, match="not yours to read"):
            get_request(catalogue, outsider, scene.constances)
        with pytest.raises(Forbidden):
            transition(catalogue, outsider, scene.constances, Action.START_REVIEW)
    with pytest.raises(Forbidden):
        visible_requests(catalogue, scene.elsewhere, cohort="constances")
    assert visible_requests(catalogue, scene.elsewhere, cohort="gazel") == ()
    # a reviewer of constances is not a reviewer of elfe
    with pytest.raises(Forbidden):
        get_request(catalogue, r, scene.elfe)
    assert state_and_events(catalogue, a, scene.constances) == before
    # a reviewer never decides their own request
    own = make_user(catalogue.store, "self@example.org", "constances")
    mine = submit_application(catalogue, own, [HEALTH_S1])[0]
    request = get_request(catalogue, own, mine)
    assert allowed_actions(own, request) == ()
    with pytest.raises(Forbidden, match="never their own"):
        transition(catalogue, own, mine, Action.START_REVIEW)
    transition(catalogue, r, mine, Action.START_REVIEW)
    transition(catalogue, r, mine, Action.REQUEST_CHANGES, "More detail.")
    with pytest.raises(Forbidden, match="Only the applicant"):
        transition(catalogue, r, mine, Action.RESUBMIT)
    with pytest.raises(Forbidden):
        save_amendment(catalogue, r, mine, COMPLETE)


def test_decisions_other_than_approval_need_a_reason(catalogue: Catalogue,
                                                     scene: Scene) -> None:
    r = scene.reviewer
    transition(catalogue, r, scene.constances, Action.START_REVIEW)
    for action in (Action.REJECT, Action.REQUEST_CHANGES, Action.APPROVE_WITH_CONDITIONS):
        with pytest.raises(BadRequest) as refused:
            transition(catalogue, r, scene.constances, action, "   ")
        assert refused.value.errors == [{"field": "reason",
                                         "message": "say why: the applicant will read it"}]
    with pytest.raises(OversizedFields):
        transition(catalogue, r, scene.constances, Action.REJECT,
                   "x" * (LIMITS.long_text + 1))
    assert get_request(catalogue, r, scene.constances).state is RequestState.UNDER_REVIEW
    request = transition(catalogue, r, scene.constances, Action.APPROVE_WITH_CONDITIONS,
                         "Cite the cohort; no linkage beyond the SNDS.")
    assert request.state is RequestState.APPROVED_WITH_CONDITIONS
    assert history(catalogue, scene.applicant, scene.constances)[-1].reason.startswith("Cite")


def test_a_resubmission_is_checked_like_a_submission(catalogue: Catalogue,
                                                     scene: Scene) -> None:
    a, r = scene.applicant, scene.reviewer
    transition(catalogue, r, scene.constances, Action.START_REVIEW)
    request = transition(catalogue, r, scene.constances, Action.REQUEST_CHANGES, "Charter?")
    save_section(catalogue, a, scene.constances, replace(request.section,
                                                         charter_accepted=False))
    save_amendment(catalogue, a, scene.constances, replace(COMPLETE, title=""))
    with pytest.raises(IncompleteApplication) as refused:
        transition(catalogue, a, scene.constances, Action.RESUBMIT)
    assert {e["field"] for e in refused.value.errors} == {
        "title", "requests.constances.charter_accepted"}
    assert get_request(catalogue, a, scene.constances).state is RequestState.CHANGES_REQUESTED
    with pytest.raises(TransitionRefused):
        save_amendment(catalogue, a, scene.elfe, COMPLETE)  # submitted, not amendable


def test_comments_are_for_the_applicant_or_internal_to_the_team(make_user: MakeUser,
                                                                catalogue: Catalogue,
                                                                scene: Scene) -> None:
    a, r = scene.applicant, scene.reviewer
    add_comment(catalogue, r, scene.constances, "Looks feasible.", "internal")
    add_comment(catalogue, r, scene.constances, "Please detail the SNDS years.")
    add_comment(catalogue, a, scene.constances, SCRIPT)
    with pytest.raises(Forbidden, match="internal comments"):
        add_comment(catalogue, a, scene.constances, "psst", "internal")
    with pytest.raises(Forbidden):
        add_comment(catalogue, scene.elsewhere, scene.constances, "hello")
    with pytest.raises(BadRequest):
        add_comment(catalogue, r, scene.constances, "x", "public")
    with pytest.raises(BadRequest, match="Write something"):
        add_comment(catalogue, r, scene.constances, "  ")
    with pytest.raises(OversizedFields):
        add_comment(catalogue, r, scene.constances, "x" * (LIMITS.comment + 1))
    assert [c.text for c in comments(catalogue, a, scene.constances)] == [
        "Please detail the SNDS years.", SCRIPT]
    assert [(c.text, c.internal) for c in comments(catalogue, r, scene.constances)] == [
        ("Looks feasible.", True), ("Please detail the SNDS years.", False), (SCRIPT, False)]
    draft_owner = make_user(catalogue.store, "dra@example.org")
    key = BasketKey.of_user(draft_owner.id)
    add_variables(catalogue, key, [HEALTH_S1])
    draft = start_application(catalogue, draft_owner, basket=key).requests[0]
    with pytest.raises(TransitionRefused, match="once the request is submitted"):
        add_comment(catalogue, draft_owner, draft.id, "note to self")


@pytest.fixture
def audit_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for the accounts' audit module and records what it is sent."""
    calls: list[dict[str, Any]] = []
    fake = types.ModuleType("catalogue.accounts_audit")

    def record_request_transition(store: Store, **details: Any) -> None:
        calls.append(details)

    fake.record_request_transition = record_request_transition  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "catalogue.accounts_audit", fake)
    return calls


def test_every_transition_is_sent_to_the_audit_trail(make_user: MakeUser, catalogue: Catalogue,
                                                     audit_calls: list[dict[str, Any]]) -> None:
    applicant = make_user(catalogue.store, "ana@example.org")
    reviewer = make_user(catalogue.store, "rev@example.org", "constances")
    constances, elfe = submit_application(catalogue, applicant, [HEALTH_S1, ELFE_WEIGHT])
    transition(catalogue, reviewer, constances, Action.START_REVIEW)
    transition(catalogue, reviewer, constances, Action.REJECT, "Out of scope.")
    with pytest.raises(TransitionRefused):
        transition(catalogue, reviewer, constances, Action.APPROVE)
    assert [(c["request_id"], c["actor"].id, c["from_state"], c["to_state"], c["comment"],
             c["action"], c["cohort"]) for c in audit_calls] == [
        (constances, applicant.id, "draft", "submitted", "", "submit", "constances"),
        (elfe, applicant.id, "draft", "submitted", "", "submit", "elfe"),
        (constances, reviewer.id, "submitted", "under_review", "", "start_review", "constances"),
        (constances, reviewer.id, "under_review", "rejected", "Out of scope.", "reject",
         "constances")]


def test_a_failing_audit_trail_is_logged_and_the_transition_stands(
        catalogue: Catalogue, scene: Scene, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    fake = types.ModuleType("catalogue.accounts_audit")

    def broken(store: Store, **details: Any) -> None:
        raise RuntimeError("disk full")

    fake.record_request_transition = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "catalogue.accounts_audit", fake)
    with caplog.at_level(logging.ERROR, logger="catalogue.requests_workflow"):
        transition(catalogue, scene.reviewer, scene.constances, Action.START_REVIEW)
    assert get_request(catalogue, scene.reviewer, scene.constances).state is (
        RequestState.UNDER_REVIEW)
    assert "could not be written to the audit trail" in caplog.text


@pytest.mark.skipif(importlib.util.find_spec("catalogue.accounts_audit") is None,
                    reason="the accounts' audit trail is not installed")
def test_transitions_land_in_the_accounts_audit_trail(catalogue: Catalogue,
                                                       scene: Scene) -> None:
    transition(catalogue, scene.reviewer, scene.constances, Action.START_REVIEW)
    entries = catalogue.store.audit_entries(AuditFilter(action="request.transition"))
    assert {(e.target, e.actor_id) for e in entries} >= {
        (f"request:{scene.constances}", scene.reviewer.id),
        (f"request:{scene.constances}", scene.applicant.id)}


# -- version drift -------------------------------------------------------------------------

def _drifted_constances(target: Path) -> None:
    """Constances republished with SANTE_PERCUE_S1 at version 2 (English label, access
    level and code list changed) and its code list at version 2 (one category fewer)."""
    source = next(c for c in COHORTS if c.slug == "constances").xml
    tree = etree.parse(str(source))
    r, l_ = "ddi:reusable:3_3", "ddi:logicalproduct:3_3"

    def item(element: str, id_: str) -> Any:
        return next(e for e in tree.iter(f"{{{l_}}}{element}")
                    if e.findtext(f"{{{r}}}ID") == id_)

    variable = item("Variable", "var-S1-SANTE_PERCUE_S1")
    variable.find(f"{{{r}}}Version").text = "2"
    label = next(c for c in variable.find(f"{{{r}}}Label") if c.get(
        "{http://www.w3.org/XML/1998/namespace}lang") == "en")
    label.text = "Self-rated general health"
    for pair in variable.iter(f"{{{r}}}UserAttributePair"):
        if pair.findtext(f"{{{r}}}AttributeKey") == "catalogue:access":
            pair.find(f"{{{r}}}AttributeValue").text = "casd"
    variable.find(f".//{{{r}}}CodeListReference/{{{r}}}Version").text = "2"
    code_list = item("CodeList", "cl-SANTE_PERCUE")
    code_list.find(f"{{{r}}}Version").text = "2"
    codes = code_list.findall(f"{{{l_}}}Code")
    code_list.remove(codes[-1])
    tree.write(str(target), xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="session")
def drifted_catalogue(published_catalogue: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> Path:
    folder = tmp_path_factory.mktemp("drift")
    database = folder / "drifted.sqlite"
    _copy_database(published_catalogue, database)
    _drifted_constances(folder / "constances.xml")
    store = Store(f"sqlite:///{database}")
    publish_paths([folder / "constances.xml"], store, SHARED / "ddi-schemas")
    store.close()
    return database


@pytest.fixture
def drift_scene(make_user: MakeUser, drifted_catalogue: Path, tmp_path: Path
                ) -> Iterator[tuple[Catalogue, User, int]]:
    """A basket and a request holding version 1, read once version 2 is published."""
    database = tmp_path / "catalogue.sqlite"
    _copy_database(drifted_catalogue, database)
    store = Store(f"sqlite:///{database}")
    catalogue = Catalogue(store)
    user = make_user(store, "ana@example.org")
    key = BasketKey.of_user(user.id)
    add_variables(catalogue, key, [HEALTH_S1, KINE_SNDS])
    request_id = start_application(catalogue, user, basket=key).requests[0].id
    yield catalogue, user, request_id
    store.close()


def test_the_basket_shows_the_version_selected_and_what_changed_since(
        drift_scene: tuple[Catalogue, User, int]) -> None:
    catalogue, user, _ = drift_scene
    basket = basket_contents(catalogue, BasketKey.of_user(user.id))
    assert [v.urn for v in basket.drifted] == [HEALTH_S1]
    line = basket.drifted[0]
    drift = line.drift
    assert drift is not None and line.version == "1"
    assert (drift.selected_version, drift.latest_version, drift.latest_urn) == (
        "1", "2", f"{C}:var-S1-SANTE_PERCUE_S1:2")
    changes = {c.field: (c.before, c.after) for c in drift.changes}
    assert changes["label [en]"] == ("Self-rated health", "Self-rated general health")
    assert changes["access level"] == ("open", "casd")
    assert changes["code list"] == (f"{C}:cl-SANTE_PERCUE:1", f"{C}:cl-SANTE_PERCUE:2")
    removed = [f for f, (_, after) in changes.items()
               if f.startswith("category") and after == "(removed)"]
    assert len(removed) == 1
    assert "label [fr]" not in changes and "name" not in changes
    # what the basket shows is still the version selected
    assert (line.label.get("en"), line.access) == ("Self-rated health", "open")
    # adding the variable again takes the newest version
    change = add_variables(catalogue, BasketKey.of_user(user.id), [HEALTH_S1.rsplit(":", 1)[0]])
    assert change.replaced == (f"{C}:var-S1-SANTE_PERCUE_S1:2",)
    assert basket_contents(catalogue, BasketKey.of_user(user.id)).drifted == ()


def test_a_request_keeps_the_version_selected_and_shows_the_newer_one(
        drift_scene: tuple[Catalogue, User, int]) -> None:
    catalogue, user, request_id = drift_scene
    request: AccessRequest = get_request(catalogue, user, request_id)
    assert HEALTH_S1 in [v.urn for v in request.section.variables]
    lines = {v.urn: v for v in view_request(catalogue, user, request_id, TODAY).data.variables}
    assert lines[HEALTH_S1].drift is not None
    assert lines[HEALTH_S1].drift.latest_version == "2"
    assert lines[KINE_SNDS].drift is None


def test_the_accounts_permission_checks_agree_with_these(catalogue: Catalogue,
                                                          scene: Scene) -> None:
    roles = pytest.importorskip("catalogue.accounts_roles")
    r = scene.reviewer
    transition(catalogue, r, scene.constances, Action.START_REVIEW)
    transition(catalogue, r, scene.constances, Action.REQUEST_CHANGES, "More detail.")
    for request_id in (scene.constances, scene.elfe):
        request = get_request(catalogue, scene.applicant, request_id)
        for user in (scene.applicant, r, scene.elsewhere, scene.stranger, None):
            assert roles.can_read_request(user, request) == can_read(user, request)
            assert roles.can_edit_request(user, request) == can_edit(user, request)


def test_a_withdrawn_selection_says_so_and_points_at_the_live_version(
        drift_scene: tuple[Catalogue, User, int]) -> None:
    catalogue, user, request_id = drift_scene
    original = catalogue.store.get_item(HEALTH_S1)
    assert original is not None
    catalogue.store.withdraw(original.publication_id, by="admin@example.org",
                             reason="superseded", at=iso(utc_now()))
    catalogue.refresh()
    lines = {v.urn: v for v in view_request(catalogue, user, request_id, TODAY).data.variables}
    health, kine = lines[HEALTH_S1], lines[KINE_SNDS]
    assert health.withdrawn and health.drift is not None
    assert (health.drift.selected_withdrawn, health.drift.latest_version) == (True, "2")
    # the SNDS variable's version 1 is published again, unchanged, in the newer publication
    assert not kine.withdrawn and kine.drift is None and kine.found
