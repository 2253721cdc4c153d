"""The applicant's side of access requests: starting one from the basket, the form, one's
list of requests.

- ``POST /applications``: a project draft from the basket, one request per cohort;
- ``GET|POST /applications/{id}``: the form, in sections (project and protocol, data
  requested pre-filled from the basket with a justification per wave or per variable,
  scientific team, funding, charters and commitments, CASD estimate inputs with the
  itemised estimate); every button saves the whole draft; "Submit" saves, then submits
  one request per cohort, or shows what is missing next to each field;
  ``?check=1`` shows what is missing without submitting;
- ``POST /applications/{id}/variables`` (``urn``: add variables or switch to a newer
  version), ``/add-basket``, ``/cohorts/{request_id}/remove``, ``/delete``;
- ``GET|POST /requests/{id}/amend``: the same form for one request whose reviewers asked
  for changes ("Save and resubmit");
- ``GET /requests`` (and ``/requests.json``): one's projects and their requests.

Each save is checked whole before anything is written (sizes, numbers, that only this
request's variables are named), so a refused form saves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypedDict

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalogue.basket import basket_entries, remove_variables
from catalogue.browse import Catalogue
from catalogue.casd import CasdEstimate, CasdInputError, PriceList, estimate, load_price_lists
from catalogue.errors import BadRequest, CatalogueError, NotFound
from catalogue.model import LangText
from catalogue.requests import (
    add_to_draft,
    delete_draft,
    get_project,
    get_request,
    my_projects,
    remove_draft_request,
    save_amendment,
    save_project,
    save_section,
    start_application,
)
from catalogue.requests_forms import (
    project_fields_from_form,
    project_fields_to_form,
    section_from_form,
    section_to_form,
)
from catalogue.requests_model import (
    AccessRequest,
    Action,
    CohortSection,
    IncompleteApplication,
    Project,
    ProjectFields,
    RequestState,
    field_name,
)
from catalogue.requests_selection import CohortSelection
from catalogue.requests_validation import check_sizes
from catalogue.requests_workflow import (
    casd_estimate,
    data_requested,
    require_edit,
    submission_errors,
    submission_problems,
    submit_project,
    transition,
)
from web.auth import current_user, origin, require_user
from web.i18n import gettext_for
from web.resources import resources
from web.routing import Page, Resource
from web.templating import url_for
from web.views.accounts import render
from web.views.common import LANG_PARAM, Crumb, Texts, crumbs_home, texts
from web.views.requests_common import (
    N_,
    current_basket,
    euros,
    form_errors,
    labels,
    read_form,
    sign_in_to_see,
    translate,
)

REMOVE = "remove:"
_TEAM = re.compile(r"^team\.(\d{1,4})\.(\w+)$")
BLANK_TEAM_ROWS = 2
NOT_IN_REQUEST = N_("not a variable of this request: variables are added from the basket")


def _id(request: Request, name: str = "id") -> int:
    raw = str(request.path_params[name])
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"no access request {raw}: ids are whole numbers")
    return int(raw)


# -- one cohort's part of the form --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CohortBlock:
    """One cohort's section as the form shows it."""

    request: AccessRequest
    data: CohortSelection
    estimate: CasdEstimate | None
    #: why the CASD inputs cannot be priced, by input
    casd_problems: tuple[tuple[str, str], ...]

    @property
    def prefix(self) -> str:
        return field_name("requests", self.request.cohort)

    @property
    def casd_shown(self) -> bool:
        return self.data.casd_required or self.request.section.casd is not None


def cohort_block(catalogue: Catalogue, request: AccessRequest,
                 today: date | None = None) -> CohortBlock:
    data = data_requested(catalogue, request)
    problems: tuple[tuple[str, str], ...] = ()
    if request.section.casd is not None:
        try:
            estimate(request.section.casd, today=today)
        except CasdInputError as refused:
            problems = tuple((str(e["field"]), str(e["message"])) for e in refused.errors)
    return CohortBlock(request, data, casd_estimate(request, today), problems)


@dataclass(frozen=True, slots=True)
class CasdChoices:
    """What the CASD inputs offer: the offers, configurations and options of every price
    list (the estimate says when a choice is not in the list in force)."""

    lists: tuple[PriceList, ...]

    @property
    def offers(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict((p.offer, p.title) for p in self.lists).items())

    @property
    def configurations(self) -> tuple[tuple[str, str, str], ...]:
        """(offer title, code, label)."""
        seen: dict[str, tuple[str, str, str]] = {}
        for p in self.lists:
            for c in p.configurations:
                seen.setdefault(c.code, (p.title, c.code, c.label))
        return tuple(seen.values())

    @property
    def options(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict((o.code, o.label) for p in self.lists for o in p.options).items())


# -- reading the posted form --------------------------------------------------------------------

def _prepared(posted: Mapping[str, str]) -> dict[str, str]:
    """The posted form as :mod:`catalogue.requests_forms` reads it: variables ticked
    "remove" are left out, and team rows left blank are dropped (the others numbered from
    0, as the saved team will be, so that errors land on the right row)."""
    form: dict[str, str] = {}
    rows: dict[int, dict[str, str]] = {}
    for name, value in posted.items():
        if name.startswith(REMOVE):
            continue
        match = _TEAM.match(name)
        if match is not None:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
        else:
            form[name] = value
    for name, value in posted.items():
        if name.startswith(REMOVE) and value.strip():
            form[name[len(REMOVE):]] = ""
            form[name] = value
    kept = [row for _, row in sorted(rows.items())
            if any(v.strip() for k, v in row.items() if k != "principal_investigator")]
    for index, row in enumerate(kept):
        form.update({field_name("team", index, key): value for key, value in row.items()})
    return form


def parse_application(form: Mapping[str, str], requests: tuple[AccessRequest, ...]
                      ) -> tuple[ProjectFields, dict[int, CohortSection]]:
    """The project and each request's section from the form, all checked before anything
    is saved: BadRequest or OversizedFields (by field) when any part is refused."""
    fields = project_fields_from_form(form)
    sections: dict[int, CohortSection] = {}
    errors: list[dict[str, Any]] = []
    for access in requests:
        try:
            section = section_from_form(access.cohort, form)
        except BadRequest as refused:
            errors.extend(refused.errors)
            continue
        held = {v.urn for v in access.section.variables}
        errors.extend({"field": field_name("requests", access.cohort, "variables", v.urn),
                       "message": NOT_IN_REQUEST}
                      for v in section.variables if v.urn not in held)
        sections[access.id] = section
    if errors:
        raise BadRequest("nothing saved: " + "; ".join(f"{e['field']}: {e['message']}"
                                                      for e in errors[:5]), errors)
    check_sizes(project=fields, sections={r.cohort: sections[r.id] for r in requests})
    return fields, sections


def saved_values(fields: ProjectFields, requests: tuple[AccessRequest, ...]) -> dict[str, str]:
    values = project_fields_to_form(fields)
    for access in requests:
        values.update(section_to_form(access.cohort, access.section))
    return values


# -- the form page ------------------------------------------------------------------------------

def _form_page(request: Request, *, project: Project | None, access: AccessRequest | None,
               values: Mapping[str, str] | None = None,
               errors: Mapping[str, str] | None = None, status: int = 200) -> Response:
    """The draft's form (``project``), or one request's amendment form (``access``)."""
    catalogue = resources(request).catalogue
    _ = gettext_for(request)
    user = current_user(request)
    if project is not None:
        requests, fields = project.requests, project.fields
        action = url_for(request, "application", id=project.id)
        title = fields.title or _("Untitled project")
    else:
        assert access is not None
        requests, fields = (access,), access.project
        action = url_for(request, "request_amend", id=access.id)
        title = access.project.title or _("Untitled project")
    shown = dict(values) if values is not None else saved_values(fields, requests)
    if errors is None and request.query_params.get("check") == "1":
        errors = _problems(request, catalogue, project, access)
    team = max([int(m.group(1)) + 1 for n in shown if (m := _TEAM.match(n))] or [0])
    basket_extra = 0
    if project is not None and user is not None:
        held = {(v.agency, v.id) for block in requests for v in
                data_requested(catalogue, block).variables}
        key = current_basket(request)
        basket_extra = sum(1 for s in (basket_entries(catalogue, key) if key else ())
                           if (s.agency, s.id) not in held)
    crumbs = [*crumbs_home(request), Crumb(_("Your requests"), url_for(request, "my_requests")),
              Crumb(title)]
    return render(request, "requests/form.html", {
        "project": project, "access": access, "action_url": action, "title": title,
        "values": shown, "errors": dict(errors or {}), "team_rows": team + BLANK_TEAM_ROWS,
        "cohorts": tuple(cohort_block(catalogue, r) for r in requests),
        "casd": CasdChoices(load_price_lists()), "basket_extra": basket_extra,
        "done": request.query_params.get("done", ""), "euros": lambda a: euros(
            a, request.state.lang), "translate": lambda m: translate(_, m),
        "crumbs": crumbs, **labels(request)}, status=status)


def _problems(request: Request, catalogue: Catalogue, project: Project | None,
              access: AccessRequest | None) -> dict[str, str]:
    user = current_user(request)
    if project is not None:
        found = submission_errors(catalogue, user, project.id)
    else:
        assert access is not None
        found = tuple(submission_problems(catalogue, access))
    if not found:
        return {}
    refusal = IncompleteApplication("incomplete", [e.to_json() for e in found])
    return form_errors(request, refusal)


async def application(request: Request) -> Response:
    if (redirect := sign_in_to_see(request)) is not None:
        return redirect
    catalogue = resources(request).catalogue
    user = require_user(request)
    project = get_project(catalogue, user, _id(request))
    if not project.is_draft:
        # submitted: each request has its own page now
        first = project.requests[0].id if project.requests else None
        target = (url_for(request, "access_request", id=first) if first is not None
                  else url_for(request, "my_requests"))
        return RedirectResponse(target, status_code=303)
    if request.method == "GET":
        return _form_page(request, project=project, access=None)
    posted, _multi = await read_form(request)
    form = _prepared(posted)
    try:
        fields, sections = parse_application(form, project.requests)
    except CatalogueError as refused:
        return _form_page(request, project=project, access=None, values=form,
                          errors=form_errors(request, refused), status=refused.status)
    save_project(catalogue, user, project.id, fields)
    for access in project.requests:
        save_section(catalogue, user, access.id, sections[access.id])
    action = posted.get("action", "save")
    if action != "submit":
        # "save:team" saves and comes back to the team's section
        anchor = action.partition(":")[2]
        target = url_for(request, "application", id=project.id) + "?done=saved"
        return RedirectResponse(target + (f"#{anchor}" if _ANCHOR.match(anchor) else ""),
                                status_code=303)
    try:
        submitted = submit_project(catalogue, user, project.id, origin=origin(request))
    except IncompleteApplication as incomplete:
        saved = get_project(catalogue, user, project.id)
        return _form_page(request, project=saved, access=None,
                          errors=form_errors(request, incomplete), status=incomplete.status)
    _take_out_of_basket(request, catalogue, submitted)
    return RedirectResponse(url_for(request, "my_requests") + "?done=submitted",
                            status_code=303)


_ANCHOR = re.compile(r"^[a-z-]{1,30}$")


def _take_out_of_basket(request: Request, catalogue: Catalogue, project: Project) -> None:
    """Once requested, variables leave the basket (it starts the next project)."""
    key = current_basket(request)
    urns = [v.urn for r in project.requests for v in r.section.variables]
    if key is not None and urns:
        remove_variables(catalogue, key, urns)


async def amend(request: Request) -> Response:
    if (redirect := sign_in_to_see(request)) is not None:
        return redirect
    catalogue = resources(request).catalogue
    user = require_user(request)
    access = get_request(catalogue, user, _id(request))
    require_edit(user, access)
    if access.state is not RequestState.CHANGES_REQUESTED:
        return RedirectResponse(url_for(request, "application", id=access.project_id),
                                status_code=303)
    if request.method == "GET":
        return _form_page(request, project=None, access=access)
    posted, _multi = await read_form(request)
    form = _prepared(posted)
    try:
        fields, sections = parse_application(form, (access,))
    except CatalogueError as refused:
        return _form_page(request, project=None, access=access, values=form,
                          errors=form_errors(request, refused), status=refused.status)
    save_amendment(catalogue, user, access.id, fields)
    save_section(catalogue, user, access.id, sections[access.id])
    if posted.get("action") != "resubmit":
        return RedirectResponse(url_for(request, "request_amend", id=access.id)
                                + "?done=saved", status_code=303)
    try:
        transition(catalogue, user, access.id, Action.RESUBMIT, origin=origin(request))
    except IncompleteApplication as incomplete:
        saved = get_request(catalogue, user, access.id)
        return _form_page(request, project=None, access=saved,
                          errors=form_errors(request, incomplete), status=incomplete.status)
    return RedirectResponse(url_for(request, "access_request", id=access.id)
                            + "?done=resubmit", status_code=303)


# -- small actions on a draft -------------------------------------------------------------------

async def start(request: Request) -> Response:
    """A new project draft from the basket."""
    catalogue = resources(request).catalogue
    user = require_user(request)
    posted, _multi = await read_form(request)
    project = start_application(catalogue, user, basket=current_basket(request),
                                title=posted.get("title", "").strip())
    return RedirectResponse(url_for(request, "application", id=project.id), status_code=303)


async def add_variables(request: Request) -> Response:
    """Variables by URN into a draft (a newer version of one already there replaces it)."""
    catalogue = resources(request).catalogue
    user = require_user(request)
    _single, multi = await read_form(request)
    project_id = _id(request)
    add_to_draft(catalogue, user, project_id, [u.strip() for u in multi.get("urn", [])
                                               if u.strip()])
    return RedirectResponse(url_for(request, "application", id=project_id)
                            + "?done=added#data", status_code=303)


async def add_basket(request: Request) -> Response:
    """The basket's variables that the draft does not hold yet."""
    catalogue = resources(request).catalogue
    user = require_user(request)
    project = get_project(catalogue, user, _id(request))
    held = {(v.agency, v.id) for r in project.requests
            for v in data_requested(catalogue, r).variables}
    key = current_basket(request)
    urns = [s.urn for s in (basket_entries(catalogue, key) if key else ())
            if (s.agency, s.id) not in held]
    if urns:
        add_to_draft(catalogue, user, project.id, urns)
    return RedirectResponse(url_for(request, "application", id=project.id)
                            + "?done=added#data", status_code=303)


async def remove_cohort(request: Request) -> Response:
    catalogue = resources(request).catalogue
    user = require_user(request)
    project_id = _id(request)
    access = get_request(catalogue, user, _id(request, "request_id"))
    if access.project_id != project_id:
        raise NotFound(f"no request {access.id} in project {project_id}")
    remove_draft_request(catalogue, user, access.id)
    return RedirectResponse(url_for(request, "application", id=project_id)
                            + "?done=removed#data", status_code=303)


async def delete(request: Request) -> Response:
    catalogue = resources(request).catalogue
    delete_draft(catalogue, require_user(request), _id(request))
    return RedirectResponse(url_for(request, "my_requests") + "?done=deleted", status_code=303)


# -- one's requests -----------------------------------------------------------------------------

class MyRequestJSON(TypedDict):
    id: int
    cohort: str
    cohort_label: Texts
    state: str
    submitted_at: str | None
    decided_at: str | None
    url: str
    json: str


class MyProjectJSON(TypedDict):
    id: int
    title: str
    draft: bool
    created_at: str
    updated_at: str
    submitted_at: str | None
    url: str
    requests: list[MyRequestJSON]


class MyRequestsJSON(TypedDict):
    projects: list[MyProjectJSON]


def my_requests(request: Request) -> Page | Response:
    if (redirect := sign_in_to_see(request)) is not None:
        return redirect
    catalogue = resources(request).catalogue
    projects = my_projects(catalogue, require_user(request))
    state = catalogue.state

    def cohort_label(slug: str) -> LangText:
        cohort = state.cohort(slug)
        return ((cohort.study.title or cohort.study.label) if cohort is not None
                else LangText((("", slug),)))

    def project_url(project: Project) -> str:
        if project.is_draft or not project.requests:
            return url_for(request, "application", id=project.id)
        return url_for(request, "access_request", id=project.requests[0].id)

    def as_json() -> Mapping[str, object]:
        body: MyRequestsJSON = {"projects": [{
            "id": p.id, "title": p.fields.title, "draft": p.is_draft,
            "created_at": p.created_at, "updated_at": p.updated_at,
            "submitted_at": p.submitted_at, "url": project_url(p),
            "requests": [{"id": r.id, "cohort": r.cohort,
                          "cohort_label": texts(cohort_label(r.cohort)),
                          "state": r.state.value, "submitted_at": r.submitted_at,
                          "decided_at": r.decided_at,
                          "url": url_for(request, "access_request", id=r.id),
                          "json": url_for(request, "access_request_json", id=r.id)}
                         for r in p.requests]} for p in projects]}
        return body

    _ = gettext_for(request)
    return Page("requests/list.html", {
        "projects": projects, "cohort_label": cohort_label, "project_url": project_url,
        "done": request.query_params.get("done", ""),
        "crumbs": [*crumbs_home(request), Crumb(_("Your requests"))], **labels(request)},
        as_json)


def routes() -> list[BaseRoute]:
    return [
        Route("/applications", start, methods=["POST"], name="application_start"),
        Route("/applications/{id}", application, methods=["GET", "POST"], name="application"),
        Route("/applications/{id}/variables", add_variables, methods=["POST"],
              name="application_variables"),
        Route("/applications/{id}/add-basket", add_basket, methods=["POST"],
              name="application_add_basket"),
        Route("/applications/{id}/cohorts/{request_id}/remove", remove_cohort,
              methods=["POST"], name="application_remove_cohort"),
        Route("/applications/{id}/delete", delete, methods=["POST"], name="application_delete"),
        Route("/requests/{id}/amend", amend, methods=["GET", "POST"], name="request_amend"),
    ]


RESOURCES = (
    Resource("/requests", "my_requests", my_requests,
             "The signed-in researcher's projects (drafts and submitted) and their access "
             "requests, one per cohort, with their state", MyRequestsJSON, (LANG_PARAM,)),
)
