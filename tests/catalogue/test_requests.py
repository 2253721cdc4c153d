"""Access requests from the basket: drafts saved at every step, submission checked field
by field, one request per cohort, CASD when CASD-only variables are asked, and the
limits every saved field obeys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from catalogue.accounts_model import User
from catalogue.basket import BasketKey, add_variables, basket_entries
from catalogue.browse import Catalogue
from catalogue.casd import CasdInputs
from catalogue.errors import BadRequest, Forbidden, NotFound, Unauthorized
from catalogue.requests import (
    add_to_draft,
    delete_draft,
    get_project,
    get_request,
    my_projects,
    remove_draft_request,
    save_project,
    save_section,
    start_application,
    view_request,
)
from catalogue.requests_model import (
    LIMITS,
    CohortSection,
    Commitments,
    Funding,
    IncompleteApplication,
    OversizedFields,
    Project,
    ProjectFields,
    Protocol,
    RequestedVariable,
    RequestState,
    TeamMember,
    TransitionRefused,
    field_name,
)
from catalogue.requests_workflow import history, submission_errors, submit_project

#: ``make_user(store, email, *reviewer_of)``, the fixture of tests/catalogue/conftest.py
MakeUser = Callable[..., User]
C = "urn:ddi:fr.constances"
HEALTH_S1 = f"{C}:var-S1-SANTE_PERCUE_S1:1"
HEALTH_S2 = f"{C}:var-S2-SANTE_PERCUE_S2:1"
KINE_SNDS = f"{C}:var-SNDS-SNDS_KINE_A0:1"
ELFE_WEIGHT = "urn:ddi:fr.elfe:var-M2-CR_POIDS_M2:1"
WAVE_S1, WAVE_S2, WAVE_SNDS = f"{C}:su-S1:1", f"{C}:su-S2:1", f"{C}:su-SNDS:1"
TODAY = date(2025, 3, 1)
SCRIPT = "<script>alert('x')</script> & <b>bold</b> \"quoted\"; DROP TABLE projects;--"


COMPLETE = ProjectFields(
    title="Self-rated health and care use",
    protocol=Protocol(objectives="Relate self-rated health to reimbursed care.",
                      method="Longitudinal mixed models.", expected_results="Effect sizes."),
    team=(TeamMember("Ana Martin", "principal investigator", "Inserm U1018",
                     "ana@example.org", principal_investigator=True),
          TeamMember("Bo Chen", "statistician", "Université Paris Cité")),
    funding=Funding(project="ANR grant", access_costs="Laboratory budget", industrial=False),
    commitments=Commitments(publish_results=True, destruction_report=True))


def request_of(project: Project, cohort: str) -> int:
    return next(r.id for r in project.requests if r.cohort == cohort)


def complete_sections(catalogue: Catalogue, user: User, project: Project) -> None:
    for request in project.requests:
        waves = {line.wave_urn for line in view_request(catalogue, user, request.id).data
                 .variables}
        save_section(catalogue, user, request.id, replace(
            request.section, charter_accepted=True,
            group_justifications=tuple((w, "Needed for the main analysis.") for w in waves)))


@pytest.fixture
def applicant(make_user: MakeUser, catalogue: Catalogue) -> User:
    return make_user(catalogue.store, "ana@example.org")


@pytest.fixture
def draft(catalogue: Catalogue, applicant: User) -> Project:
    key = BasketKey.of_user(applicant.id)
    add_variables(catalogue, key, [HEALTH_S1, HEALTH_S2, KINE_SNDS, ELFE_WEIGHT])
    return start_application(catalogue, applicant, basket=key)


def test_an_application_starts_from_the_basket_with_one_draft_per_cohort(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    assert draft.is_draft and draft.owner_id == applicant.id
    assert draft.cohorts == ("constances", "elfe")
    assert all(r.state is RequestState.DRAFT for r in draft.requests)
    constances = get_request(catalogue, applicant, request_of(draft, "constances"))
    assert [v.urn for v in constances.section.variables] == [HEALTH_S1, HEALTH_S2, KINE_SNDS]
    assert constances.section.casd == CasdInputs()  # CASD-only variable: inputs pre-filled
    elfe = get_request(catalogue, applicant, request_of(draft, "elfe"))
    assert [v.urn for v in elfe.section.variables] == [ELFE_WEIGHT]
    assert elfe.section.casd is None
    # the basket is left as it was
    assert len(basket_entries(catalogue, BasketKey.of_user(applicant.id))) == 4
    view = view_request(catalogue, applicant, constances.id, TODAY)
    assert [(w.urn, [v.name for v in w.variables]) for w in view.data.waves] == [
        (WAVE_S1, ["SANTE_PERCUE_S1"]), (WAVE_S2, ["SANTE_PERCUE_S2"]),
        (WAVE_SNDS, ["SNDS_KINE_A0"])]
    line = view.data.waves[0].variables[0]
    assert (line.urn, line.version, line.label.get("en")) == (HEALTH_S1, "1", "Self-rated health")
    with pytest.raises(BadRequest, match="basket is empty"):
        start_application(catalogue, applicant, basket=BasketKey.of_user(999_999))


def test_drafts_keep_partial_content_at_every_step(catalogue: Catalogue, applicant: User,
                                                   draft: Project) -> None:
    partial = ProjectFields(title="Work in progress", protocol=Protocol(method="To be written"))
    save_project(catalogue, applicant, draft.id, partial)
    request_id = request_of(draft, "constances")
    section = CohortSection(variables=(RequestedVariable(HEALTH_S1, "Exposure"),),
                            group_justifications=((WAVE_S1, "Baseline"),))
    save_section(catalogue, applicant, request_id, section)
    again = get_project(catalogue, applicant, draft.id)
    assert again.fields == partial
    request = get_request(catalogue, applicant, request_id)
    assert request.project == partial  # a draft shows the project's draft
    assert request.section == section
    assert [p.id for p in my_projects(catalogue, applicant)] == [draft.id]
    assert view_request(catalogue, applicant, request_id, TODAY).problems  # not complete yet


def test_submission_names_every_missing_field_and_submits_nothing(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    with pytest.raises(IncompleteApplication) as refused:
        submit_project(catalogue, applicant, draft.id, today=TODAY)
    assert refused.value.status == 422
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {
        "title", "protocol.objectives", "protocol.method", "protocol.expected_results", "team",
        "funding.project", "funding.access_costs", "funding.industrial",
        "commitments.publish_results", "commitments.destruction_report",
        field_name("requests", "constances", "groups", WAVE_S1),
        field_name("requests", "constances", "groups", WAVE_S2),
        field_name("requests", "constances", "groups", WAVE_SNDS),
        "requests.constances.charter_accepted",
        field_name("requests", "elfe", "groups", "urn:ddi:fr.elfe:su-M2:1"),
        "requests.elfe.charter_accepted"}
    project = get_project(catalogue, applicant, draft.id)
    assert project.is_draft and all(r.state is RequestState.DRAFT for r in project.requests)
    assert history(catalogue, applicant, project.requests[0].id) == ()
    # the same list, without trying to submit
    assert {e.field for e in submission_errors(catalogue, applicant, draft.id, TODAY)} == fields


def test_team_funding_and_commitment_rules(catalogue: Catalogue, applicant: User,
                                           draft: Project) -> None:
    fields = replace(COMPLETE, team=(
        TeamMember("Ana", "PI", "Inserm", "not-an-address", principal_investigator=True),
        TeamMember("Bo", "", "Inserm", principal_investigator=True)),
        funding=Funding("ANR", "lab", industrial=True))
    save_project(catalogue, applicant, draft.id, fields)
    errors = {e.field: e.message for e in submission_errors(catalogue, applicant, draft.id,
                                                             TODAY)}
    assert errors["team.0.email"] == "this is not an e-mail address"
    assert errors["team.1.role"] == "give this member's role in the project"
    assert errors["team.1.email"] == "give the PI's e-mail address"
    assert "exactly one member" in errors["team"]
    assert errors["funding.industrial_details"].startswith("name the companies")
    save_project(catalogue, applicant, draft.id, COMPLETE)
    assert not any(e.field.startswith(("team", "funding", "commitments", "protocol", "title"))
                   for e in submission_errors(catalogue, applicant, draft.id, TODAY))


def test_a_justification_is_needed_per_group_or_per_variable(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    request_id = request_of(draft, "constances")
    save_section(catalogue, applicant, request_id, CohortSection(
        variables=(RequestedVariable(HEALTH_S1, "Exposure at baseline"),
                   RequestedVariable(HEALTH_S2), RequestedVariable(KINE_SNDS, "Outcome")),
        charter_accepted=True, casd=CasdInputs()))
    errors = {e.field for e in submission_errors(catalogue, applicant, draft.id, TODAY)
              if e.field.startswith("requests.constances")}
    assert errors == {field_name("requests", "constances", "groups", WAVE_S2)}
    save_section(catalogue, applicant, request_id, CohortSection(
        variables=(RequestedVariable(HEALTH_S1, "Exposure at baseline"),
                   RequestedVariable(HEALTH_S2), RequestedVariable(KINE_SNDS, "Outcome")),
        group_justifications=((WAVE_S2, "Follow-up of the exposure"),),
        charter_accepted=True, casd=CasdInputs()))
    assert not [e for e in submission_errors(catalogue, applicant, draft.id, TODAY)
                if e.field.startswith("requests.constances")]


def test_submission_creates_one_request_per_cohort_linked_to_the_project(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    save_project(catalogue, applicant, draft.id, COMPLETE)
    complete_sections(catalogue, applicant, draft)
    project = submit_project(catalogue, applicant, draft.id, today=TODAY)
    assert not project.is_draft and project.submitted_at is not None
    assert [(r.cohort, r.state, r.revision, r.project_id) for r in project.requests] == [
        ("constances", RequestState.SUBMITTED, 1, draft.id),
        ("elfe", RequestState.SUBMITTED, 1, draft.id)]
    assert all(r.project == COMPLETE and r.submitted_at for r in project.requests)
    events = history(catalogue, applicant, project.requests[0].id)
    assert [(e.actor_id, e.action.value, e.from_state.value, e.to_state.value)
            for e in events] == [(applicant.id, "submit", "draft", "submitted")]
    revisions = catalogue.store.revision_rows(project.requests[0].id)
    assert [r.number for r in revisions] == [1]
    assert revisions[0].content["casd_estimate"]["total"] == "3276.00"
    with pytest.raises(TransitionRefused):
        save_project(catalogue, applicant, draft.id, replace(COMPLETE, title="Changed"))
    with pytest.raises(TransitionRefused, match="submitted already"):
        submit_project(catalogue, applicant, draft.id, today=TODAY)
    with pytest.raises(TransitionRefused):
        save_section(catalogue, applicant, project.requests[1].id, CohortSection())


def test_casd_only_variables_require_a_workspace_and_carry_an_estimate(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    constances_id, elfe_id = request_of(draft, "constances"), request_of(draft, "elfe")
    view = view_request(catalogue, applicant, constances_id, TODAY)
    assert view.casd_required and view.data.casd_count == 1
    assert view.casd_estimate is not None and view.casd_estimate.total == Decimal("3276.00")
    elfe = view_request(catalogue, applicant, elfe_id, TODAY)
    assert (elfe.casd_required, elfe.casd_estimate) == (False, None)
    example = CasdInputs(users=2, months=12, options=("security_referent",
                                                      "automatic_exports"),
                         start=date(2020, 8, 1))
    request = get_request(catalogue, applicant, constances_id)
    save_section(catalogue, applicant, constances_id, replace(request.section, casd=example))
    assert get_request(catalogue, applicant, constances_id).section.casd == example
    estimate = view_request(catalogue, applicant, constances_id, TODAY).casd_estimate
    assert estimate is not None and estimate.total == Decimal("4740.00")
    save_section(catalogue, applicant, constances_id, replace(
        request.section, casd=replace(example, configuration="9")))
    errors = {e.field for e in submission_errors(catalogue, applicant, draft.id, TODAY)}
    assert "requests.constances.casd.configuration" in errors
    save_section(catalogue, applicant, constances_id, replace(request.section, casd=None))
    errors = {e.field for e in submission_errors(catalogue, applicant, draft.id, TODAY)}
    assert "requests.constances.casd" in errors


def test_a_section_only_takes_versioned_variables_of_its_cohort(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    request_id = request_of(draft, "constances")
    before = get_request(catalogue, applicant, request_id)
    for variables, message in (
            ((RequestedVariable(HEALTH_S1), RequestedVariable(ELFE_WEIGHT)), "a variable of elfe"),
            ((RequestedVariable(HEALTH_S1.rsplit(":", 1)[0]),), "with its version"),
            ((RequestedVariable(f"{C}:q-SANTE_PERCUE:1"),), "not a variable"),
            ((RequestedVariable(HEALTH_S1), RequestedVariable(HEALTH_S1)), "listed twice")):
        with pytest.raises(BadRequest, match=message):
            save_section(catalogue, applicant, request_id, CohortSection(variables=variables))
    assert get_request(catalogue, applicant, request_id) == before


def test_adding_to_a_draft_routes_by_cohort_and_drafts_can_be_trimmed(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    request_id = request_of(draft, "constances")
    save_section(catalogue, applicant, request_id, CohortSection(
        variables=(RequestedVariable(HEALTH_S1, "kept"),)))
    project = add_to_draft(catalogue, applicant, draft.id, [
        HEALTH_S1, f"{C}:var-S3-SANTE_PERCUE_S3",
        "urn:ddi:fr.gazel:var-SNDS-SNDS_DENTISTE_A2010:1"])
    assert project.cohorts == ("constances", "elfe", "gazel")
    constances = get_request(catalogue, applicant, request_id)
    assert [(v.urn, v.justification) for v in constances.section.variables] == [
        (HEALTH_S1, "kept"), (f"{C}:var-S3-SANTE_PERCUE_S3:1", "")]
    gazel = get_request(catalogue, applicant, request_of(project, "gazel"))
    assert gazel.section.casd == CasdInputs()
    project = remove_draft_request(catalogue, applicant, request_of(project, "elfe"))
    assert project.cohorts == ("constances", "gazel")
    delete_draft(catalogue, applicant, draft.id)
    assert my_projects(catalogue, applicant) == ()


def test_oversized_fields_are_refused_and_nothing_is_saved(
        catalogue: Catalogue, applicant: User, draft: Project) -> None:
    save_project(catalogue, applicant, draft.id, COMPLETE)
    too_long = replace(COMPLETE, title="t" * (LIMITS.short_text + 1), protocol=replace(
        COMPLETE.protocol, objectives="o" * (LIMITS.long_text + 1)))
    with pytest.raises(OversizedFields) as refused:
        save_project(catalogue, applicant, draft.id, too_long)
    assert refused.value.status == 413
    assert {e["field"] for e in refused.value.errors} == {"title", "protocol.objectives"}
    assert f"at most {LIMITS.short_text} characters (got {LIMITS.short_text + 1})" in (
        refused.value.message)
    assert get_project(catalogue, applicant, draft.id).fields == COMPLETE
    request_id = request_of(draft, "constances")
    before = get_request(catalogue, applicant, request_id)
    with pytest.raises(OversizedFields):
        save_section(catalogue, applicant, request_id, CohortSection(
            variables=(RequestedVariable(HEALTH_S1, "j" * (LIMITS.long_text + 1)),)))
    with pytest.raises(OversizedFields) as casd_refused:
        save_section(catalogue, applicant, request_id, replace(before.section, casd=CasdInputs(
            configuration="c" * (LIMITS.short_text + 1))))
    assert casd_refused.value.errors[0]["field"] == "requests.constances.casd.configuration"
    with pytest.raises(OversizedFields):
        save_project(catalogue, applicant, draft.id, replace(
            COMPLETE, team=(TeamMember("x"),) * (LIMITS.team_members + 1)))
    with pytest.raises(OversizedFields):
        add_to_draft(catalogue, applicant, draft.id,
                     [HEALTH_S1] * (LIMITS.variables_per_request + 1))
    with pytest.raises(BadRequest, match="control characters"):
        save_project(catalogue, applicant, draft.id, replace(COMPLETE, title="a\x00b"))
    assert get_request(catalogue, applicant, request_id) == before
    assert get_project(catalogue, applicant, draft.id).fields == COMPLETE


def test_script_text_is_kept_verbatim(catalogue: Catalogue, applicant: User,
                                      draft: Project) -> None:
    hostile = replace(COMPLETE, title=SCRIPT[:LIMITS.short_text], protocol=Protocol(
        SCRIPT, SCRIPT, SCRIPT, SCRIPT), team=(TeamMember(SCRIPT, SCRIPT, SCRIPT),))
    save_project(catalogue, applicant, draft.id, hostile)
    assert get_project(catalogue, applicant, draft.id).fields == hostile
    request_id = request_of(draft, "constances")
    section = CohortSection(variables=(RequestedVariable(HEALTH_S1, SCRIPT),),
                            group_justifications=((WAVE_S1, SCRIPT),))
    save_section(catalogue, applicant, request_id, section)
    assert get_request(catalogue, applicant, request_id).section == section


def test_only_the_applicant_reads_and_edits_a_draft(make_user: MakeUser, catalogue: Catalogue,
                                                    applicant: User, draft: Project) -> None:
    other = make_user(catalogue.store, "eve@example.org")
    reviewer = make_user(catalogue.store, "rev@example.org", "constances")
    request_id = request_of(draft, "constances")
    for who in (other, reviewer):
        with pytest.raises(Forbidden):
            get_request(catalogue, who, request_id)
        with pytest.raises(Forbidden):
            get_project(catalogue, who, draft.id)
        with pytest.raises(Forbidden):
            save_project(catalogue, who, draft.id, COMPLETE)
        with pytest.raises(Forbidden):
            save_section(catalogue, who, request_id, CohortSection())
        with pytest.raises(Forbidden):
            submit_project(catalogue, who, draft.id, today=TODAY)
    with pytest.raises(Unauthorized):
        get_request(catalogue, None, request_id)
    catalogue.store.update_user(applicant.id, disabled=True)
    disabled = catalogue.store.user_by_id(applicant.id)
    with pytest.raises(Forbidden, match="disabled"):
        get_request(catalogue, disabled, request_id)
    assert get_project(catalogue, applicant, draft.id).fields == ProjectFields()


def test_an_operation_failing_midway_leaves_nothing_behind(
        catalogue: Catalogue, applicant: User, draft: Project,
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = request_of(draft, "constances")
    before = get_request(catalogue, applicant, request_id)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # the section's text is written first, then its variables: the second write fails
    with monkeypatch.context() as patch:
        patch.setattr(catalogue.store, "replace_request_variables", broken)
        with pytest.raises(RuntimeError):
            save_section(catalogue, applicant, request_id, replace(
                before.section, charter_accepted=True,
                group_justifications=((WAVE_S1, "new text"),)))
    assert get_request(catalogue, applicant, request_id) == before

    # submitting writes both cohorts' requests: the second one fails
    save_project(catalogue, applicant, draft.id, COMPLETE)
    complete_sections(catalogue, applicant, draft)
    calls: list[int] = []

    def fails_second_time(conn: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        original(conn, **kwargs)

    original = catalogue.store.insert_revision
    monkeypatch.setattr(catalogue.store, "insert_revision", fails_second_time)
    with pytest.raises(RuntimeError):
        submit_project(catalogue, applicant, draft.id, today=TODAY)
    project = get_project(catalogue, applicant, draft.id)
    assert project.is_draft
    assert [(r.state, r.revision) for r in project.requests] == [
        (RequestState.DRAFT, 0), (RequestState.DRAFT, 0)]
    assert all(history(catalogue, applicant, r.id) == () for r in project.requests)
    assert catalogue.store.revision_rows(project.requests[0].id) == []


def test_unknown_ids_are_not_found(catalogue: Catalogue, applicant: User) -> None:
    with pytest.raises(NotFound):
        get_request(catalogue, applicant, 424242)
    with pytest.raises(NotFound):
        get_project(catalogue, applicant, 424242)
