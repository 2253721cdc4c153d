"""Access requests: from the basket to a project with one request per cohort.

A researcher starts an application from their basket (:func:`start_application`): a
project draft, plus one draft request per cohort holding that cohort's variables (by
URN and version) and, when any of them is CASD-only, default CASD estimate inputs. The
applicant saves the project (:func:`save_project`) and each cohort's section
(:func:`save_section`: justifications, charter, CASD inputs) as often as they like,
partial content allowed; :func:`~catalogue.requests_workflow.submit_project` checks
every required field and submits the requests together.

When a reviewer requests changes, the applicant amends that request
(:func:`save_amendment`, :func:`save_section`) and resubmits it; the other cohorts'
requests are not touched (each keeps its own copy of the project once submitted).

Every function takes the signed-in :class:`~catalogue.accounts_model.User` (or None),
checks what they may do, and saves all or nothing in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from catalogue.accounts_model import User
from catalogue.basket import BasketKey, basket_entries
from catalogue.browse import Catalogue
from catalogue.casd import CasdEstimate, CasdInputs
from catalogue.errors import BadRequest, Forbidden
from catalogue.model import Variable, parse_urn
from catalogue.requests_model import (
    LIMITS,
    AccessRequest,
    Action,
    CohortSection,
    FieldError,
    OversizedFields,
    Project,
    ProjectFields,
    RequestComment,
    RequestedVariable,
    RequestEvent,
    RequestState,
    TransitionRefused,
)
from catalogue.requests_selection import CohortSelection, Selected, describe_selection
from catalogue.requests_validation import check_sizes, section_path
from catalogue.requests_workflow import (
    allowed_actions,
    can_edit,
    casd_estimate,
    comments,
    data_requested,
    history,
    load_project,
    load_request,
    now,
    require_edit,
    require_read,
    require_signed_in,
    submission_problems,
)
from catalogue.store.requests import RequestVariableRow


@dataclass(frozen=True, slots=True)
class RequestView:
    """Everything a request's page (or its PDF) shows, for one viewer."""

    request: AccessRequest
    #: the data requested: variables by wave, with justifications, access and drift
    data: CohortSelection
    casd_required: bool
    casd_estimate: CasdEstimate | None
    #: what still stops submission (or resubmission); empty when complete
    problems: tuple[FieldError, ...]
    events: tuple[RequestEvent, ...]
    comments: tuple[RequestComment, ...]
    #: what the viewer may do now
    actions: tuple[Action, ...]
    editable: bool


def default_casd_inputs() -> CasdInputs:
    """Pre-filled CASD inputs: one user, a 12-month new project, configuration 1, one
    SD-Box, no option. The applicant adjusts them."""
    return CasdInputs()


# -- starting --------------------------------------------------------------------------------

def _resolve(catalogue: Catalogue, urns: Sequence[str]) -> list[Selected]:
    """URNs to Agency + ID + Version (the current version when none is given)."""
    if len(urns) > LIMITS.variables_per_request:
        raise OversizedFields(f"at most {LIMITS.variables_per_request} variables at once",
                              [{"field": "urns", "message": "too many variables"}])
    out: list[Selected] = []
    errors: list[dict[str, str]] = []
    for urn in urns:
        stored = catalogue.store.get_item(urn) if parse_urn(urn) is not None else None
        if stored is None or not isinstance(stored.item, Variable):
            errors.append({"field": urn, "message": "not a variable of the catalogue"})
            continue
        identity = stored.item.identity
        out.append(Selected(identity.agency, identity.id, identity.version))
    if errors:
        raise BadRequest("nothing saved: " + "; ".join(e["field"] for e in errors[:5])
                         + ": not variables of the catalogue", errors)
    return out


def _route(catalogue: Catalogue, selection: Sequence[Selected]) -> tuple[CohortSelection, ...]:
    """Group by cohort; refuse variables the catalogue no longer holds."""
    groups = describe_selection(catalogue, selection)
    gone = [v.urn for g in groups for v in g.variables if not v.found]
    if gone:
        raise BadRequest("nothing saved: some selected versions are no longer in the "
                         "catalogue", [{"field": urn, "message": "no longer in the catalogue"}
                                       for urn in gone])
    return groups


def start_application(catalogue: Catalogue, actor: User | None, *,
                      basket: BasketKey | None = None, urns: Sequence[str] = (),
                      title: str = "") -> Project:
    """A project draft with one draft request per cohort, pre-filled with the basket's
    variables (at the versions in the basket) and/or ``urns``."""
    user = require_signed_in(actor)
    selection = [*(basket_entries(catalogue, basket) if basket is not None else ()),
                 *_resolve(catalogue, urns)]
    if not selection:
        raise BadRequest("The basket is empty: pick the variables you need first.")
    fields = ProjectFields(title=title)
    check_sizes(project=fields)
    groups = _route(catalogue, selection)
    store = catalogue.store
    at = now()
    with store.transaction() as conn:
        project_id = store.insert_project(conn, owner_id=user.id, title=title,
                                          content=fields.to_json(), at=at)
        for group in groups:
            section = CohortSection(
                variables=tuple(RequestedVariable(v.urn) for v in group.variables),
                casd=default_casd_inputs() if group.casd_required else None)
            request_id = store.insert_request(conn, project_id=project_id, cohort=group.slug,
                                              owner_id=user.id, state=RequestState.DRAFT.value,
                                              content=section.content_json(), at=at)
            store.replace_request_variables(conn, request_id, _variable_rows(section))
    return load_project(catalogue, project_id)


def add_to_draft(catalogue: Catalogue, actor: User | None, project_id: int,
                 urns: Sequence[str]) -> Project:
    """Add variables to a draft project, each to its cohort's request (a new cohort gets
    a new draft request). A variable already there keeps its justification and takes
    the version given."""
    project = _own_draft_project(catalogue, actor, project_id)
    groups = _route(catalogue, _resolve(catalogue, urns))
    store = catalogue.store
    at = now()
    existing = {r.cohort: r for r in project.requests}
    with store.transaction() as conn:
        for group in groups:
            request = existing.get(group.slug)
            if request is None:
                section = CohortSection(
                    variables=tuple(RequestedVariable(v.urn) for v in group.variables),
                    casd=default_casd_inputs() if group.casd_required else None)
                request_id = store.insert_request(
                    conn, project_id=project_id, cohort=group.slug, owner_id=project.owner_id,
                    state=RequestState.DRAFT.value, content=section.content_json(), at=at)
            else:
                section = _merged(request.section, group)
                request_id = request.id
                if not store.update_request_content(conn, request_id,
                                                    content=section.content_json(), at=at,
                                                    states=[RequestState.DRAFT.value]):
                    raise TransitionRefused("This project has been submitted already.")
            check_sizes(sections={group.slug: section})
            store.replace_request_variables(conn, request_id, _variable_rows(section))
    return load_project(catalogue, project_id)


def _merged(section: CohortSection, group: CohortSelection) -> CohortSection:
    by_key: dict[str, RequestedVariable] = {}
    for variable in section.variables:
        by_key[_key(variable.urn)] = variable
    for line in group.variables:
        before = by_key.get(_key(line.urn))
        by_key[_key(line.urn)] = RequestedVariable(line.urn, before.justification
                                                   if before else "")
    casd = section.casd or (default_casd_inputs() if group.casd_required else None)
    return CohortSection(tuple(by_key.values()), section.group_justifications,
                         section.charter_accepted, casd)


def _key(urn: str) -> str:
    parts = parse_urn(urn)
    return f"{parts.agency}:{parts.id}" if parts else urn


def _variable_rows(section: CohortSection) -> list[RequestVariableRow]:
    rows = []
    for variable in section.variables:
        parts = parse_urn(variable.urn)
        assert parts is not None and parts.version is not None
        rows.append(RequestVariableRow(parts.agency, parts.id, parts.version,
                                       variable.justification))
    return rows


# -- saving ----------------------------------------------------------------------------------

def _own_draft_project(catalogue: Catalogue, actor: User | None, project_id: int) -> Project:
    user = require_signed_in(actor)
    project = load_project(catalogue, project_id)
    if project.owner_id != user.id:
        raise Forbidden("This project is not yours.")
    if not project.is_draft:
        raise TransitionRefused("This project has been submitted: amend the request for "
                                "which changes are requested instead.")
    return project


def save_project(catalogue: Catalogue, actor: User | None, project_id: int,
                 fields: ProjectFields) -> Project:
    """Save the project's draft (partial content allowed; sizes are checked)."""
    _own_draft_project(catalogue, actor, project_id)
    check_sizes(project=fields)
    with catalogue.store.transaction() as conn:
        if not catalogue.store.update_project(conn, project_id, title=fields.title,
                                              content=fields.to_json(), at=now()):
            raise TransitionRefused("This project has been submitted already.")
    return load_project(catalogue, project_id)


def save_section(catalogue: Catalogue, actor: User | None, request_id: int,
                 section: CohortSection) -> AccessRequest:
    """Save one cohort's section of a draft or of a request being amended: its
    variables (by versioned URN, each of this cohort) with their justifications, the
    group justifications, the charter, the CASD inputs."""
    request = load_request(catalogue, request_id)
    require_edit(actor, request)
    check_sizes(sections={request.cohort: section})
    section = _checked_variables(catalogue, request.cohort, section)
    store = catalogue.store
    with store.transaction() as conn:
        row = store.request_row(request_id, conn)
        assert row is not None
        content = section.content_json()
        if "project" in row.content:
            content["project"] = row.content["project"]
        if not store.update_request_content(conn, request_id, content=content, at=now(),
                                            states=[request.state.value]):
            raise TransitionRefused("This request changed meanwhile: reload it.")
        store.replace_request_variables(conn, request_id, _variable_rows(section))
    return load_request(catalogue, request_id)


def _checked_variables(catalogue: Catalogue, cohort: str, section: CohortSection
                       ) -> CohortSection:
    """Refuse variables that are not versioned URNs of this cohort's variables; drop
    group justifications of waves no variable belongs to any more."""
    errors: list[FieldError] = []
    selection: list[Selected] = []
    seen: set[str] = set()
    for variable in section.variables:
        parts = parse_urn(variable.urn)
        path = section_path(cohort, "variables", variable.urn)
        if parts is None or parts.version is None:
            errors.append(FieldError(path, "give the variable's URN with its version"))
        elif f"{parts.agency}:{parts.id}" in seen:
            errors.append(FieldError(path, "this variable is listed twice"))
        else:
            seen.add(f"{parts.agency}:{parts.id}")
            selection.append(Selected(parts.agency, parts.id, parts.version))
    waves: set[str] = set()
    for group in describe_selection(catalogue, selection):
        for line in group.variables:
            path = section_path(cohort, "variables", line.urn)
            if not line.found:
                errors.append(FieldError(path, "not a variable of the catalogue"))
            elif line.cohort != cohort:
                errors.append(FieldError(path, f"a variable of {line.cohort}: add it to the "
                                               f"request to {line.cohort}"))
            waves.add(line.wave_urn)
    if errors:
        raise BadRequest("nothing saved: " + "; ".join(f"{e.field}: {e.message}"
                                                       for e in errors[:5]),
                         [e.to_json() for e in errors])
    kept = tuple((urn, text) for urn, text in section.group_justifications if urn in waves)
    return CohortSection(section.variables, kept, section.charter_accepted, section.casd)


def save_amendment(catalogue: Catalogue, actor: User | None, request_id: int,
                   fields: ProjectFields) -> AccessRequest:
    """Amend the project part of a request for which changes were requested (this
    request's copy only; the other cohorts' requests keep theirs)."""
    request = load_request(catalogue, request_id)
    require_edit(actor, request)
    if request.state is not RequestState.CHANGES_REQUESTED:
        raise TransitionRefused("A draft's project is saved with the project, not per request.")
    check_sizes(project=fields)
    store = catalogue.store
    with store.transaction() as conn:
        row = store.request_row(request_id, conn)
        assert row is not None
        content = {**row.content, "project": fields.to_json()}
        if not store.update_request_content(conn, request_id, content=content, at=now(),
                                            states=[RequestState.CHANGES_REQUESTED.value]):
            raise TransitionRefused("This request changed meanwhile: reload it.")
    return load_request(catalogue, request_id)


def remove_draft_request(catalogue: Catalogue, actor: User | None, request_id: int
                         ) -> Project:
    """Drop one cohort from a draft project."""
    request = load_request(catalogue, request_id)
    project = _own_draft_project(catalogue, actor, request.project_id)
    with catalogue.store.transaction() as conn:
        catalogue.store.delete_request(conn, request_id)
    return load_project(catalogue, project.id)


def delete_draft(catalogue: Catalogue, actor: User | None, project_id: int) -> None:
    """Delete a project that was never submitted, with its draft requests."""
    _own_draft_project(catalogue, actor, project_id)
    with catalogue.store.transaction() as conn:
        catalogue.store.delete_project(conn, project_id)


# -- reading ---------------------------------------------------------------------------------

def get_project(catalogue: Catalogue, actor: User | None, project_id: int) -> Project:
    """A project and its requests, for its owner."""
    user = require_signed_in(actor)
    project = load_project(catalogue, project_id)
    if project.owner_id != user.id:
        raise Forbidden("This project is not yours.")
    return project


def my_projects(catalogue: Catalogue, actor: User | None) -> tuple[Project, ...]:
    user = require_signed_in(actor)
    return tuple(load_project(catalogue, row.id)
                 for row in catalogue.store.projects_of_owner(user.id))


def get_request(catalogue: Catalogue, actor: User | None, request_id: int) -> AccessRequest:
    """One request, for its applicant or (once submitted) its cohort's reviewers."""
    request = load_request(catalogue, request_id)
    require_read(actor, request)
    return request


def view_request(catalogue: Catalogue, actor: User | None, request_id: int,
                 today: date | None = None) -> RequestView:
    request = get_request(catalogue, actor, request_id)
    data = data_requested(catalogue, request)
    problems: tuple[FieldError, ...] = ()
    if request.state in (RequestState.DRAFT, RequestState.CHANGES_REQUESTED):
        problems = tuple(submission_problems(catalogue, request, today))
    return RequestView(
        request=request, data=data, casd_required=data.casd_required,
        casd_estimate=casd_estimate(request, today) if data.casd_required else None,
        problems=problems, events=history(catalogue, actor, request_id),
        comments=comments(catalogue, actor, request_id) if request.state is not
        RequestState.DRAFT else (),
        actions=allowed_actions(actor, request), editable=can_edit(actor, request))
