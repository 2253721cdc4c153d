"""Administrators' pages: people and their roles, the cohort registry, the audit trail
(filterable, exported as CSV). Every view checks :func:`require_administrator` first;
the functions it calls check again (the CLI calls them too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from catalogue import accounts
from catalogue.accounts_audit import audit_csv
from catalogue.accounts_model import ROLES, AuditFilter, User
from catalogue.accounts_roles import (
    grant,
    parse_role,
    register_cohort,
    require_administrator,
    revoke,
)
from catalogue.errors import CatalogueError, NotFound
from web.auth import current_user, origin
from web.i18n import gettext_for
from web.resources import resources
from web.templating import url_for, with_query
from web.views.accounts import field_errors, form_values, render, sign_in_first
from web.views.common import Crumb, crumbs_home

PEOPLE_PAGE = 50
AUDIT_PAGE = 100


def _admin(request: Request) -> User:
    return require_administrator(current_user(request))


def _admin_crumbs(request: Request, *more: Crumb) -> list[Crumb]:
    _ = gettext_for(request)
    return [*crumbs_home(request), Crumb(_("Administration"), url_for(request, "admin_people")),
            *more]


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


# -- people ---------------------------------------------------------------------------------


def _people_page(request: Request, *, errors: Mapping[str, str] | None = None,
                 values: Mapping[str, str] | None = None, status: int = 200) -> Response:
    _ = gettext_for(request)
    store = resources(request).store
    query = {k: request.query_params.get(k, "") for k in ("q", "role", "cohort")}
    page = _page_number(request)
    cohorts = store.list_registered_cohorts()
    people = store.list_users(text=query["q"], role=query["role"], cohort=query["cohort"],
                              limit=PEOPLE_PAGE + 1, offset=(page - 1) * PEOPLE_PAGE)
    base = url_for(request, "admin_people")
    pairs = [(k, v) for k, v in query.items() if v]
    return render(request, "accounts/admin_people.html", {
        "people": people[:PEOPLE_PAGE], "query": query, "roles": ROLES,
        "cohorts": cohorts, "cohort_names": {c.slug: c.name for c in cohorts}, "page": page,
        "previous_url": with_query(base, [*pairs, ("page", page - 1)]) if page > 1 else None,
        "next_url": (with_query(base, [*pairs, ("page", page + 1)])
                     if len(people) > PEOPLE_PAGE else None),
        "errors": errors or {}, "values": values or {},
        "crumbs": _admin_crumbs(request, Crumb(_("People")))}, status=status)


async def admin_people(request: Request) -> Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    admin = _admin(request)
    if request.method == "GET":
        return _people_page(request)
    values = await form_values(request, "email", "name", "affiliation")
    res = resources(request)
    try:
        user = accounts.create_user(res.store, res.settings, email=values["email"],
                                    name=values["name"], affiliation=values["affiliation"],
                                    password=None, lang=request.state.lang, actor=admin,
                                    origin=origin(request))
    except CatalogueError as refused:
        errors = field_errors(request, refused)
        if refused.status == 409:
            errors["email"] = errors[""]
        return _people_page(request, errors=errors, values=values, status=refused.status)
    return RedirectResponse(url_for(request, "admin_person", user_id=user.id) + "?done=created",
                            status_code=303)


def _person_page(request: Request, person: User, *, error: str = "",
                 status: int = 200) -> Response:
    _ = gettext_for(request)
    store = resources(request).store
    cohorts = store.list_registered_cohorts()
    return render(request, "accounts/admin_person.html", {
        "person": person, "roles": ROLES, "cohorts": cohorts,
        "cohort_names": {c.slug: c.name for c in cohorts},
        "is_self": person.id == getattr(current_user(request), "id", None),
        "error": error, "done": request.query_params.get("done", ""),
        "entries": store.audit_entries(AuditFilter(target=f"user:{person.email.lower()}"),
                                       limit=20),
        "crumbs": _admin_crumbs(request, Crumb(_("People"), url_for(request, "admin_people")),
                                Crumb(person.email))}, status=status)


def _person(request: Request) -> User:
    raw = str(request.path_params["user_id"])
    person = resources(request).store.user_by_id(int(raw)) if raw.isdigit() else None
    if person is None:
        raise NotFound("there is no such account: go back to the list of people")
    return person


async def admin_person(request: Request) -> Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    _admin(request)
    return _person_page(request, _person(request))


async def admin_person_roles(request: Request) -> Response:
    admin = _admin(request)
    person = _person(request)
    values = await form_values(request, "action", "role", "cohort")
    store = resources(request).store
    try:
        role = parse_role(values["role"], values["cohort"] or None)
        change = grant if values["action"] == "grant" else revoke
        change(store, actor=admin, email=person.email, role=role, origin=origin(request))
    except CatalogueError as refused:
        return _person_page(request, person, error=gettext_for(request)(refused.message),
                            status=refused.status)
    done = "granted" if values["action"] == "grant" else "revoked"
    return RedirectResponse(url_for(request, "admin_person", user_id=person.id) + f"?done={done}",
                            status_code=303)


async def admin_person_state(request: Request) -> Response:
    admin = _admin(request)
    person = _person(request)
    values = await form_values(request, "disabled")
    disabled = values["disabled"] == "1"
    if person.id == admin.id and disabled:
        _ = gettext_for(request)
        return _person_page(request, person, status=409,
                            error=_("You cannot disable your own account."))
    accounts.set_disabled(resources(request).store, person, disabled, actor=admin,
                          origin=origin(request))
    done = "disabled" if disabled else "enabled"
    return RedirectResponse(url_for(request, "admin_person", user_id=person.id) + f"?done={done}",
                            status_code=303)


# -- cohorts --------------------------------------------------------------------------------


def _cohorts_page(request: Request, *, errors: Mapping[str, str] | None = None,
                  values: Mapping[str, str] | None = None, status: int = 200) -> Response:
    _ = gettext_for(request)
    store = resources(request).store
    return render(request, "accounts/admin_cohorts.html", {
        "cohorts": store.list_registered_cohorts(), "errors": errors or {},
        "values": values or {}, "done": request.query_params.get("done", ""),
        "crumbs": _admin_crumbs(request, Crumb(_("Cohorts")))}, status=status)


async def admin_cohorts(request: Request) -> Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    admin = _admin(request)
    if request.method == "GET":
        return _cohorts_page(request)
    values = await form_values(request, "slug", "name", "agencies")
    try:
        register_cohort(resources(request).store, actor=admin, slug=values["slug"],
                        name=values["name"], agencies=values["agencies"].replace(",", " ").split(),
                        origin=origin(request))
    except CatalogueError as refused:
        errors = field_errors(request, refused)
        if refused.status == 409:
            errors["agencies"] = errors[""]
        return _cohorts_page(request, errors=errors, values=values, status=refused.status)
    return RedirectResponse(url_for(request, "admin_cohorts") + "?done=saved", status_code=303)


# -- the audit trail ----------------------------------------------------------------------------


def _audit_filter(request: Request) -> AuditFilter:
    params = request.query_params
    return AuditFilter(**{name: params.get(name, "").strip()[:320]
                          for name in ("action", "actor", "target", "since", "until")})


async def admin_audit(request: Request) -> Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    _admin(request)
    _ = gettext_for(request)
    store = resources(request).store
    where = _audit_filter(request)
    page = _page_number(request)
    entries = store.audit_entries(where, limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE)
    total = store.count_audit(where)
    pairs: list[tuple[str, Any]] = [(k, v) for k, v in vars_of(where).items() if v]
    base = url_for(request, "admin_audit")
    return render(request, "accounts/admin_audit.html", {
        "entries": entries, "where": vars_of(where), "total": total, "page": page,
        "previous_url": with_query(base, [*pairs, ("page", page - 1)]) if page > 1 else None,
        "next_url": (with_query(base, [*pairs, ("page", page + 1)])
                     if page * AUDIT_PAGE < total else None),
        "csv_url": with_query(url_for(request, "admin_audit_csv"), pairs),
        "crumbs": _admin_crumbs(request, Crumb(_("Audit trail")))})


def vars_of(where: AuditFilter) -> dict[str, str]:
    return {"action": where.action, "actor": where.actor, "target": where.target,
            "since": where.since, "until": where.until}


async def admin_audit_csv(request: Request) -> Response:
    _admin(request)
    store = resources(request).store
    chunks = audit_csv(store, _audit_filter(request))
    return StreamingResponse(iter(chunks), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="audit.csv"'})


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/people", admin_people, methods=["GET", "POST"], name="admin_people"),
        Route("/admin/people/{user_id}", admin_person, name="admin_person"),
        Route("/admin/people/{user_id}/roles", admin_person_roles, methods=["POST"],
              name="admin_person_roles"),
        Route("/admin/people/{user_id}/state", admin_person_state, methods=["POST"],
              name="admin_person_state"),
        Route("/admin/cohorts", admin_cohorts, methods=["GET", "POST"], name="admin_cohorts"),
        Route("/admin/audit", admin_audit, name="admin_audit"),
        Route("/admin/audit.csv", admin_audit_csv, name="admin_audit_csv"),
    ]
