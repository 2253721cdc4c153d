"""One access request's page, for its applicant and its cohort's reviewers, and what they
do there; the reviewers' list of their cohorts' requests.

- ``GET /requests/{id}`` (and ``/requests/{id}.json``): state, version drift of the data
  requested, the CASD estimate, the application, history, the comments the viewer may
  read, the actions the viewer may take;
- ``POST /requests/{id}/transition``: ``action`` and ``reason`` (start the review,
  approve, approve with conditions, request changes, reject; resubmit);
- ``POST /requests/{id}/comments``: ``text``, ``visibility`` (``applicant``: the applicant
  reads it too; ``internal``: the cohort's team only);
- ``GET /requests/{id}/pdf/{lang}`` (``en`` or ``fr``) and
  ``/requests/{id}/data-requested.xml`` (a DDI-L 3.3 FragmentInstance of the variables
  asked for); the JSON is the page's ``.json``;
- ``GET /reviews`` (and ``/reviews.json``): the submitted requests of the cohorts one
  reviews, ``?state=`` to keep one state.

Who may read, act and comment is decided by :mod:`catalogue.requests_workflow`; a refusal
is a 403 (audited), a move the state does not allow a 409, each with nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalogue.errors import BadRequest, CatalogueError, Forbidden
from catalogue.model import LangText
from catalogue.request_exports import data_requested_fragment_instance, request_pdf, view_json
from catalogue.requests import RequestView, view_request
from catalogue.requests_model import (
    VISIBILITIES,
    VISIBLE_TO_APPLICANT,
    AccessRequest,
    Action,
    RequestState,
    parse_action,
)
from catalogue.requests_workflow import (
    add_comment,
    can_decide,
    is_reviewer,
    sees_internal_comments,
    transition,
    visible_requests,
)
from web.auth import current_user, origin, require_user
from web.i18n import LANGUAGES, gettext_for
from web.resources import resources
from web.routing import Page, QueryParam, Resource
from web.templating import url_for
from web.views.accounts import render
from web.views.common import LANG_PARAM, Crumb, Texts, crumbs_home, texts
from web.views.requests import _id, cohort_block
from web.views.requests_common import (
    euros,
    form_errors,
    labels,
    read_form,
    sign_in_to_see,
    translate,
    user_names,
)


class AccessRequestJSON(TypedDict):
    """The request as :func:`catalogue.request_exports.request_json` gives it (the shape
    named by ``schema``), with links to its downloads."""

    schema: str
    id: int
    project_id: int
    cohort: str
    cohort_label: Texts
    state: str
    revision: int
    created_at: str
    updated_at: str
    submitted_at: str | None
    decided_at: str | None
    applicant: dict[str, Any]
    project: dict[str, Any]
    data_requested: dict[str, Any]
    charter_accepted: bool
    casd: dict[str, Any] | None
    history: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    missing: list[dict[str, str]]
    downloads: dict[str, str]


def _downloads(request: Request, request_id: int) -> dict[str, str]:
    out = {f"pdf_{lang}": url_for(request, "request_pdf", id=request_id, lang=lang)
           for lang in LANGUAGES}
    out["ddi"] = url_for(request, "request_ddi", id=request_id)
    out["json"] = url_for(request, "access_request_json", id=request_id)
    return out


def _page_data(request: Request, view: RequestView, *, errors: Mapping[str, str] | None = None,
               values: Mapping[str, str] | None = None) -> dict[str, Any]:
    catalogue = resources(request).catalogue
    access = view.request
    user = current_user(request)
    _ = gettext_for(request)
    ids = [access.applicant_id, *(e.actor_id for e in view.events),
           *(c.author_id for c in view.comments)]
    applicant = catalogue.store.user_by_id(access.applicant_id)
    title = access.project.title or _("Untitled project")
    reviewing = is_reviewer(user, access.cohort) and user is not None and (
        user.id != access.applicant_id)
    crumbs = [*crumbs_home(request),
              Crumb(_("Reviews"), url_for(request, "reviews")) if reviewing else
              Crumb(_("Your requests"), url_for(request, "my_requests")), Crumb(title)]
    return {
        "view": view, "access": access, "title": title, "block": cohort_block(catalogue, access),
        "names": user_names(catalogue.store, ids), "applicant": applicant,
        "reviewing": reviewing, "decides": can_decide(user, access),
        "internal_allowed": sees_internal_comments(user, access),
        "downloads": _downloads(request, access.id), "errors": dict(errors or {}),
        "values": dict(values or {}), "done": request.query_params.get("done", ""),
        "euros": lambda a: euros(a, request.state.lang),
        "translate": lambda m: translate(_, m), "crumbs": crumbs,
        "reason_actions": [a for a in view.actions if a is not Action.SUBMIT],
        "visibilities": VISIBILITIES,
        **labels(request)}


def access_request(request: Request) -> Page | Response:
    if (redirect := sign_in_to_see(request)) is not None:
        return redirect
    catalogue = resources(request).catalogue
    view = view_request(catalogue, require_user(request), _id(request))

    def as_json() -> Mapping[str, object]:
        body: dict[str, Any] = view_json(catalogue, view)
        body["downloads"] = _downloads(request, view.request.id)
        return body

    return Page("requests/request.html", _page_data(request, view), as_json)


def _again(request: Request, request_id: int, refused: CatalogueError,
           values: Mapping[str, str]) -> Response:
    """The request's page again, the refusal next to the field it is about."""
    view = view_request(resources(request).catalogue, require_user(request), request_id)
    return render(request, "requests/request.html",
                  _page_data(request, view, errors=form_errors(request, refused),
                             values=values), status=refused.status)


async def take_action(request: Request) -> Response:
    catalogue = resources(request).catalogue
    user = require_user(request)
    request_id = _id(request)
    posted, _multi = await read_form(request)
    action = parse_action(posted.get("action", ""))
    try:
        transition(catalogue, user, request_id, action, posted.get("reason", ""),
                   origin=origin(request))
    except CatalogueError as refused:
        if refused.status in (401, 403, 404):
            raise
        return _again(request, request_id, refused, posted)
    return RedirectResponse(url_for(request, "access_request", id=request_id)
                            + f"?done={action.value}", status_code=303)


async def comment(request: Request) -> Response:
    catalogue = resources(request).catalogue
    user = require_user(request)
    request_id = _id(request)
    posted, _multi = await read_form(request)
    visibility = posted.get("visibility", VISIBLE_TO_APPLICANT)
    try:
        add_comment(catalogue, user, request_id, posted.get("text", ""), visibility)
    except CatalogueError as refused:
        if refused.status in (401, 403, 404):
            raise
        return _again(request, request_id, refused, posted)
    return RedirectResponse(url_for(request, "access_request", id=request_id)
                            + "?done=comment#comments", status_code=303)


# -- downloads --------------------------------------------------------------------------------

async def download_pdf(request: Request) -> Response:
    catalogue = resources(request).catalogue
    user = require_user(request)
    request_id = _id(request)
    lang = str(request.path_params["lang"])
    if lang not in LANGUAGES:
        raise BadRequest(f"lang must be one of {', '.join(LANGUAGES)}")
    pdf = await run_in_threadpool(request_pdf, catalogue, user, request_id, lang=lang)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition":
            f'attachment; filename="access-request-{request_id}-{lang}.pdf"'})


async def download_ddi(request: Request) -> Response:
    res = resources(request)
    user = require_user(request)
    request_id = _id(request)
    export = await run_in_threadpool(data_requested_fragment_instance, res.catalogue, user,
                                     request_id, res.settings.ddi_schemas)
    return Response(export.xml, media_type="application/xml", headers={
        "Content-Disposition":
            f'attachment; filename="access-request-{request_id}-data-requested.xml"'})


# -- the reviewers' list ----------------------------------------------------------------------

class ReviewItemJSON(TypedDict):
    id: int
    title: str
    applicant: str
    state: str
    submitted_at: str | None
    decided_at: str | None
    variables: int
    url: str


class ReviewCohortJSON(TypedDict):
    slug: str
    label: Texts
    requests: list[ReviewItemJSON]


class ReviewsJSON(TypedDict):
    cohorts: list[ReviewCohortJSON]


def reviews(request: Request) -> Page | Response:
    if (redirect := sign_in_to_see(request)) is not None:
        return redirect
    catalogue = resources(request).catalogue
    user = require_user(request)
    wanted = request.query_params.get("state", "")
    try:
        states = [RequestState(wanted)] if wanted else None
    except ValueError:
        raise BadRequest(f"state must be one of {', '.join(s.value for s in RequestState)}"
                         ) from None
    if states == [RequestState.DRAFT]:
        raise BadRequest("drafts are their applicants' own: reviewers see submitted requests")
    cohorts = sorted(user.reviewer_of)
    if not cohorts:
        raise Forbidden("Only a cohort's reviewers see its requests.")
    found = {slug: visible_requests(catalogue, user, cohort=slug, states=states)
             for slug in cohorts}
    names = user_names(catalogue.store, [r.applicant_id for rs in found.values() for r in rs])
    state = catalogue.state

    def label(slug: str) -> LangText:
        cohort = state.cohort(slug)
        return ((cohort.study.title or cohort.study.label) if cohort is not None
                else LangText((("", slug),)))

    def item(r: AccessRequest) -> ReviewItemJSON:
        return {"id": r.id, "title": r.project.title, "applicant": names[r.applicant_id],
                "state": r.state.value, "submitted_at": r.submitted_at,
                "decided_at": r.decided_at, "variables": len(r.section.variables),
                "url": url_for(request, "access_request", id=r.id)}

    def as_json() -> Mapping[str, object]:
        body: ReviewsJSON = {"cohorts": [{"slug": slug, "label": texts(label(slug)),
                                          "requests": [item(r) for r in found[slug]]}
                                         for slug in cohorts]}
        return body

    _ = gettext_for(request)
    return Page("requests/reviews.html", {
        "cohorts": cohorts, "found": found, "label": label, "names": names, "wanted": wanted,
        "states": [s for s in RequestState if s is not RequestState.DRAFT],
        "crumbs": [*crumbs_home(request), Crumb(_("Reviews"))], **labels(request)}, as_json)


def routes() -> list[BaseRoute]:
    return [
        Route("/requests/{id}/transition", take_action, methods=["POST"],
              name="request_transition"),
        Route("/requests/{id}/comments", comment, methods=["POST"], name="request_comments"),
        Route("/requests/{id}/pdf/{lang}", download_pdf, methods=["GET"], name="request_pdf"),
        Route("/requests/{id}/data-requested.xml", download_ddi, methods=["GET"],
              name="request_ddi"),
    ]


RESOURCES = (
    Resource("/requests/{id}", "access_request", access_request,
             "One access request (to one cohort): state, data requested with version drift, "
             "CASD estimate, the application, history and the comments the reader may see",
             AccessRequestJSON, (LANG_PARAM,)),
    Resource("/reviews", "reviews", reviews,
             "The submitted access requests of the cohorts the signed-in reviewer reviews",
             ReviewsJSON, (QueryParam("state", "Keep the requests in this state"),
                           LANG_PARAM)),
)
