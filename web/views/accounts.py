"""Sign up, e-mail confirmation, sign in and out, password reset, one's account page.

Thin views: each parses the form, calls one function of :mod:`catalogue.accounts` (in a
worker thread when it hashes a password: argon2 takes tens of milliseconds) and renders.
Field errors come back next to their fields; messages are translated with the English
sentence as message id (the catalogue's ones are listed in :data:`CATALOGUE_MESSAGES` so
that the extractor keeps them in the catalogs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalogue import accounts
from catalogue.accounts_model import User, parse_iso
from catalogue.errors import BadRequest, CatalogueError
from web.auth import (
    csrf_input,
    csrf_token,
    current_user,
    origin,
    require_user,
    sign_in,
    sign_out,
)
from web.i18n import gettext_for
from web.resources import resources
from web.routing import prefers_json
from web.templating import url_for, with_query
from web.views.common import Crumb, crumbs_home

HEADER_ITEMS = ("accounts/_header.html",)


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


#: Messages of :mod:`catalogue.accounts` and :mod:`catalogue.accounts_roles` that reach
#: visitors, listed so that ``python -m web.i18n`` keeps them in the catalogs.
CATALOGUE_MESSAGES = (
    N_("Wrong e-mail address or password."),
    N_("Confirm your e-mail address first: we have sent you a new link."),
    N_("This account is disabled; write to the catalogue's administrators."),
    N_("This link is invalid, already used or expired; ask for a new one."),
    N_("The current password is wrong."),
    N_("Some fields need attention."),
    N_("Enter your e-mail address."),
    N_("Enter an e-mail address such as name@example.org."),
    N_("Choose a password of at least 10 characters."),
    N_("Choose a password of at most 1024 characters."),
    N_("Enter your name."),
    N_("Shorten your name to 200 characters."),
    N_("Shorten the affiliation to 300 characters."),
    N_("Sign in to continue."),
    N_("This account is disabled."),
    N_("Only administrators may do this."),
    N_("Use lower-case letters, digits and hyphens (such as epipage2)."),
    N_("Enter the cohort's name (200 characters at most)."),
    N_("Agency ids are reverse domain names such as fr.constances."),
    N_("This form has expired or was not sent from this site: reload the page and try "
       "again."),
)


# -- rendering ------------------------------------------------------------------------------


def render(request: Request, template: str, data: Mapping[str, Any], *, status: int = 200,
           headers: Mapping[str, str] | None = None) -> Response:
    context = {"lang": request.state.lang, "json_url": None, "crumbs": [], **data}
    response: Response = request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status, headers=dict(headers or {}))
    return response


def field_errors(request: Request, error: CatalogueError) -> dict[str, str]:
    """``{field: translated message}`` of a refusal; the general message under ``""``."""
    _ = gettext_for(request)
    found = {str(e["field"]): _(str(e["message"])) for e in error.errors if "field" in e}
    found[""] = _(error.message)
    return found


def crumbs(request: Request, label: str) -> list[Crumb]:
    return [*crumbs_home(request), Crumb(label)]


def safe_next(request: Request, value: str | None) -> str:
    """A local path to go to after signing in; anything else goes to the account page."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return url_for(request, "account")


async def form_values(request: Request, *names: str) -> dict[str, str]:
    async with request.form() as form:  # closes any uploaded file at once
        return {name: str(value) if isinstance(value := form.get(name), str) else ""
                for name in names}


# -- sign in and out ------------------------------------------------------------------------


def _sign_in_form(request: Request, *, email: str = "", errors: Mapping[str, str] | None = None,
                  status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    _ = gettext_for(request)
    return render(request, "accounts/sign_in.html", {
        "email": email, "errors": errors or {}, "next": request.query_params.get("next", ""),
        "crumbs": crumbs(request, _("Sign in"))}, status=status, headers=headers)


async def sign_in_page(request: Request) -> Response:
    if request.method == "GET":
        return _sign_in_form(request)
    values = await form_values(request, "email", "password", "next")
    res = resources(request)
    _ = gettext_for(request)
    try:
        user = await run_in_threadpool(
            accounts.authenticate, res.store, res.settings, email=values["email"],
            password=values["password"], origin=origin(request))
    except accounts.SignInThrottled as throttled:
        minutes = (throttled.retry_after + 59) // 60
        message = _("Too many failed sign-ins. Try again after %(time)s UTC (in %(minutes)s "
                    "min).", time=throttled.retry_at.strftime("%H:%M"), minutes=minutes)
        return _sign_in_form(request, email=values["email"], errors={"": message},
                             status=429, headers={"Retry-After": str(throttled.retry_after)})
    except CatalogueError as refused:
        return _sign_in_form(request, email=values["email"],
                             errors=field_errors(request, refused), status=refused.status)
    sign_in(request, user)
    return RedirectResponse(safe_next(request, values["next"]), status_code=303)


async def sign_out_action(request: Request) -> Response:
    sign_out(request)
    return RedirectResponse(url_for(request, "home"), status_code=303)


# -- sign up and confirm --------------------------------------------------------------------


async def sign_up_page(request: Request) -> Response:
    _ = gettext_for(request)
    data: dict[str, Any] = {"values": {}, "errors": {}, "sent_to": None,
                            "crumbs": crumbs(request, _("Sign up"))}
    if request.method == "GET":
        return render(request, "accounts/sign_up.html", data)
    values = await form_values(request, "email", "name", "affiliation", "password")
    res = resources(request)
    try:
        await run_in_threadpool(
            accounts.sign_up, res.store, res.settings, email=values["email"],
            name=values["name"], affiliation=values["affiliation"],
            password=values["password"], lang=request.state.lang, origin=origin(request))
    except BadRequest as refused:
        values.pop("password")
        return render(request, "accounts/sign_up.html",
                      {**data, "values": values, "errors": field_errors(request, refused)},
                      status=400)
    return render(request, "accounts/sign_up.html", {**data, "sent_to": values["email"].strip()})


async def confirm_email(request: Request) -> Response:
    res = resources(request)
    _ = gettext_for(request)
    try:
        user = accounts.confirm_email(res.store, request.path_params["token"], origin(request))
    except BadRequest as refused:
        return render(request, "accounts/message.html", {
            "title": _("Confirm your e-mail address"), "message": _(refused.message),
            "error": True, "crumbs": crumbs(request, _("Confirm your e-mail address"))},
            status=400)
    return render(request, "accounts/message.html", {
        "title": _("Your address is confirmed"),
        "message": _("Thank you, %(name)s: you can now sign in.", name=user.name),
        "error": False, "sign_in": True,
        "crumbs": crumbs(request, _("Confirm your e-mail address"))})


# -- passwords ------------------------------------------------------------------------------


async def password_forgot(request: Request) -> Response:
    _ = gettext_for(request)
    data: dict[str, Any] = {"email": "", "errors": {}, "sent": False,
                            "crumbs": crumbs(request, _("Forgot your password?"))}
    if request.method == "GET":
        return render(request, "accounts/password_forgot.html", data)
    values = await form_values(request, "email")
    res = resources(request)
    try:
        await run_in_threadpool(accounts.request_password_reset, res.store, res.settings,
                                email=values["email"], origin=origin(request))
    except BadRequest as refused:
        return render(request, "accounts/password_forgot.html", {
            **data, "email": values["email"], "errors": field_errors(request, refused)},
            status=400)
    return render(request, "accounts/password_forgot.html", {**data, "sent": True})


async def password_reset(request: Request) -> Response:
    _ = gettext_for(request)
    token = request.path_params["token"]
    res = resources(request)
    data: dict[str, Any] = {"token": token, "errors": {}, "done": False,
                            "crumbs": crumbs(request, _("Choose a new password"))}
    if not accounts.reset_link_is_live(res.store, token):
        return render(request, "accounts/message.html", {
            **data, "title": _("Choose a new password"), "error": True,
            "message": _(accounts.LINK_INVALID), "forgot": True}, status=400)
    if request.method == "GET":
        return render(request, "accounts/password_reset.html", data)
    values = await form_values(request, "password")
    try:
        await run_in_threadpool(accounts.reset_password, res.store, token=token,
                                password=values["password"], origin=origin(request))
    except BadRequest as refused:
        return render(request, "accounts/password_reset.html",
                      {**data, "errors": field_errors(request, refused)}, status=400)
    return render(request, "accounts/message.html", {
        **data, "title": _("Your password is changed"), "error": False, "sign_in": True,
        "message": _("Sign in with your new password.")})


# -- one's account --------------------------------------------------------------------------


def _account_page(request: Request, user: User, *, profile_errors: Mapping[str, str] | None = None,
                  password_errors: Mapping[str, str] | None = None, done: str = "",
                  status: int = 200, values: Mapping[str, str] | None = None) -> Response:
    _ = gettext_for(request)
    registered = {c.slug: c.name for c in resources(request).store.list_registered_cohorts()}
    return render(request, "accounts/account.html", {
        "user": user, "values": values or {"name": user.name, "affiliation": user.affiliation,
                                           "lang": user.lang},
        "profile_errors": profile_errors or {}, "password_errors": password_errors or {},
        "done": done or request.query_params.get("done", ""), "cohort_names": registered,
        "crumbs": crumbs(request, _("Your account"))}, status=status)


def sign_in_first(request: Request) -> Response | None:
    """For a page that needs someone signed in: a redirect to the sign-in page (which
    comes back here) for a browser; None when someone is signed in. Scripts and JSON
    clients get the 401 of :func:`web.auth.require_user` instead."""
    if current_user(request) is not None or request.method != "GET" or prefers_json(
            request.headers.get("accept", "")):
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(with_query(url_for(request, "sign_in"), [("next", target)]),
                            status_code=303)


async def account_page(request: Request) -> Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    user = require_user(request)
    if request.method == "GET":
        return _account_page(request, user)
    values = await form_values(request, "name", "affiliation", "lang")
    try:
        accounts.update_profile(resources(request).store, user, name=values["name"],
                                affiliation=values["affiliation"], lang=values["lang"],
                                origin=origin(request))
    except BadRequest as refused:
        return _account_page(request, user, profile_errors=field_errors(request, refused),
                             values=values, status=400)
    return RedirectResponse(url_for(request, "account") + "?done=profile", status_code=303)


async def account_password(request: Request) -> Response:
    user = require_user(request)
    values = await form_values(request, "current_password", "new_password")
    state = request.state.auth
    try:
        await run_in_threadpool(
            accounts.change_password, resources(request).store, user,
            current=values["current_password"], new=values["new_password"],
            origin=origin(request), keep_session=state.session.id if state.session else None)
    except BadRequest as refused:
        return _account_page(request, user, password_errors=field_errors(request, refused),
                             status=400)
    return RedirectResponse(url_for(request, "account") + "?done=password", status_code=303)


def context(request: Request) -> dict[str, Any]:
    """For every template: who is signed in, and CSRF tokens for forms and scripts
    (``csrf_input()`` first in every form that posts; ``csrf_token()`` for the header)."""
    return {"current_user": current_user(request),
            "csrf_input": lambda: csrf_input(request),
            "csrf_token": lambda: csrf_token(request),
            "format_time": format_time}


def format_time(value: str | None) -> str:
    """An ISO timestamp of the store as ``2024-05-02 14:03 UTC``."""
    if not value:
        return ""
    return parse_iso(value).strftime("%Y-%m-%d %H:%M UTC")


def routes() -> list[BaseRoute]:
    return [
        Route("/sign-in", sign_in_page, methods=["GET", "POST"], name="sign_in"),
        Route("/sign-out", sign_out_action, methods=["POST"], name="sign_out"),
        Route("/sign-up", sign_up_page, methods=["GET", "POST"], name="sign_up"),
        Route("/account/confirm/{token}", confirm_email, name="confirm_email"),
        Route("/password/forgot", password_forgot, methods=["GET", "POST"],
              name="password_forgot"),
        Route("/password/reset/{token}", password_reset, methods=["GET", "POST"],
              name="password_reset"),
        Route("/account", account_page, methods=["GET", "POST"], name="account"),
        Route("/account/password", account_password, methods=["POST"],
              name="account_password"),
    ]
