"""What the basket, access-request and review pages share: whose basket this is (the
account's, or an anonymous one named by a cookie), the translated labels of request states
and actions, refusals turned into messages next to their fields, amounts in euros.

The basket cookie holds the random token of an anonymous basket (the store keeps only its
SHA-256); it is HttpOnly, SameSite=Lax, persistent (it survives browser restarts for
``anonymous_session_max_age``), and is never trusted for anything but naming a basket: a
missing, malformed or unknown token is a new, empty basket.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from starlette.requests import Request
from starlette.responses import Response

from catalogue.basket import BasketKey, ensure_anonymous_basket, is_basket_token
from catalogue.errors import CatalogueError
from catalogue.requests_model import Action, IncompleteApplication, OversizedFields, RequestState
from catalogue.store import Store
from web.auth import auth, current_user
from web.i18n import gettext_for
from web.resources import resources
from web.routing import wants_json
from web.views.accounts import sign_in_first

BASKET_COOKIE = "catalogue_basket"


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


# -- the visitor's basket -------------------------------------------------------------------

def basket_token(request: Request) -> str | None:
    """The anonymous basket token of the cookie, when it is well formed."""
    value = request.cookies.get(BASKET_COOKIE)
    return value if value and is_basket_token(value) else None


def current_basket(request: Request) -> BasketKey | None:
    """The visitor's basket, creating nothing: the account's when someone is signed in,
    else the cookie's (None without a usable cookie)."""
    user = current_user(request)
    if user is not None:
        return BasketKey.of_user(user.id)
    token = basket_token(request)
    return BasketKey.anonymous(token) if token else None


def basket_to_change(request: Request) -> tuple[BasketKey, str | None]:
    """The basket to change, and the token to put in the cookie (None when signed in)."""
    user = current_user(request)
    if user is not None:
        return BasketKey.of_user(user.id), None
    token = ensure_anonymous_basket(resources(request).catalogue, basket_token(request))
    return BasketKey.anonymous(token), token


def set_basket_cookie(request: Request, response: Response, token: str | None) -> None:
    """(Re)set the persistent basket cookie; each change keeps the basket for another
    ``anonymous_session_max_age`` seconds."""
    if token is None:
        return
    settings = resources(request).settings
    response.set_cookie(BASKET_COOKIE, token, max_age=settings.anonymous_session_max_age,
                        path="/", httponly=True, samesite="lax",
                        secure=settings.base_url.startswith("https://"))


def can_post_forms(request: Request) -> bool:
    """True when the visitor has a session, so a form can carry a CSRF token without
    starting one (pages that only browse never start a session)."""
    return auth(request).session is not None


def sign_in_to_see(request: Request) -> Response | None:
    """A browser asking for a page that needs someone signed in goes to the sign-in page
    (and comes back); JSON (``.json`` or ``Accept``) gets the 401 instead."""
    return None if wants_json(request) else sign_in_first(request)


def here(request: Request) -> str:
    """The current page's path and query, to come back to after a form."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def local_path(value: str | None, default: str) -> str:
    """A local path to go back to; anything else (another site, odd schemes) is refused."""
    if (value and value.startswith("/") and not value.startswith("//") and "\\" not in value
            and len(value) <= 2000 and not any(ord(c) < 32 for c in value)):
        return value
    return default


async def read_form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The posted fields: the last value of each name, and every value of each name.
    Files are ignored (none of these forms takes one)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    async with request.form(max_fields=100_000) as form:
        for name, value in form.multi_items():
            if isinstance(value, str):
                single[name] = value
                multi.setdefault(name, []).append(value)
    return single, multi


def user_names(store: Store, ids: Iterable[int]) -> dict[int, str]:
    """Names to show for people (never their addresses)."""
    out: dict[int, str] = {}
    for user_id in set(ids):
        user = store.user_by_id(user_id)
        out[user_id] = user.name if user is not None else f"#{user_id}"
    return out


# -- labels -----------------------------------------------------------------------------------

STATE_LABELS: Mapping[RequestState, str] = {
    RequestState.DRAFT: N_("Draft"),
    RequestState.SUBMITTED: N_("Submitted"),
    RequestState.UNDER_REVIEW: N_("Under review"),
    RequestState.APPROVED: N_("Approved"),
    RequestState.APPROVED_WITH_CONDITIONS: N_("Approved with conditions"),
    RequestState.CHANGES_REQUESTED: N_("Changes requested"),
    RequestState.REJECTED: N_("Rejected"),
}
ACTION_LABELS: Mapping[Action, str] = {
    Action.SUBMIT: N_("Submit"),
    Action.START_REVIEW: N_("Start the review"),
    Action.APPROVE: N_("Approve"),
    Action.APPROVE_WITH_CONDITIONS: N_("Approve with conditions"),
    Action.REQUEST_CHANGES: N_("Request changes"),
    Action.REJECT: N_("Reject"),
    Action.RESUBMIT: N_("Resubmit"),
}


def labels(request: Request) -> dict[str, Callable[[Any], str]]:
    """``state_label`` and ``action_label`` for templates, in the page language."""
    _ = gettext_for(request)
    return {"state_label": lambda state: _(STATE_LABELS[RequestState(state)]),
            "action_label": lambda action: _(ACTION_LABELS[Action(action)])}


# -- messages of the catalogue, translated ----------------------------------------------------

#: Messages of :mod:`catalogue.requests_validation`, :mod:`catalogue.requests_workflow`,
#: :mod:`catalogue.requests_forms` and :mod:`catalogue.casd` that reach applicants as they
#: are, listed so that the extractor keeps them in the catalogs.
CATALOGUE_MESSAGES = (
    N_("give the project a title"), N_("state the scientific objectives"),
    N_("describe the method"), N_("state the expected results"),
    N_("name the scientific team, its PI first"), N_("give this member's name"),
    N_("give this member's role in the project"), N_("give this member's affiliation"),
    N_("this is not an e-mail address"), N_("give the PI's e-mail address"),
    N_("mark exactly one member as the principal investigator (PI)"),
    N_("name the sources of funding of the project"),
    N_("say who pays the costs of access to the data"),
    N_("say whether the project has industrial funding"),
    N_("name the companies funding the project and what they fund"),
    N_("commit to making the results public"),
    N_("commit to sending a destruction report at the end"),
    N_("select at least one variable of this cohort"),
    N_("select variables of at least one cohort"),
    N_("this version is no longer in the catalogue: remove it or select the variable again"),
    N_("justify the use of this variable (or of its group)"),
    N_("the PI must accept the cohort's charter"),
    N_("CASD-only variables need a CASD secure workspace: give the users, duration, "
       "configuration and SD-Boxes"),
    N_("remove the control characters from this text"), N_("remove the control characters"),
    N_("give a whole number"), N_("give a date as YYYY-MM-DD"),
    N_("say why: the applicant will read it"), N_("write something first"),
    N_("list each option once"), N_("not a variable of the catalogue"),
    N_("this variable is listed twice"), N_("give the variable's URN with its version"),
    N_("Sign in to continue."), N_("This account is disabled."),
    N_("This project is not yours."), N_("This access request is not yours to read."),
    N_("Only the applicant may change this access request."),
    N_("This project has been submitted already."),
    N_("This request changed meanwhile: reload it."),
    N_("This request changed meanwhile: reload it and try again."),
    N_("The application changed while being submitted: try again."),
    N_("Comments start once the request is submitted."),
    N_("Write something first."),
    N_("The basket is empty: pick the variables you need first."),
    N_("This project has been submitted: amend the request for which changes are "
       "requested instead."),
    N_("A new project is invoiced for at least %(minimum)s months (%(months)s asked)."),
)

#: Messages with figures or names in them: the English pattern, and its message id.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message) for pattern, message in (
        (r"^at most (?P<limit>\d+) characters \(got (?P<got>\d+)\)$",
         N_("at most %(limit)s characters (got %(got)s)")),
        (r"^at most (?P<limit>\d+) characters$", N_("at most %(limit)s characters")),
        (r"^at most (?P<limit>\d+) members$", N_("at most %(limit)s members")),
        (r"^at most (?P<limit>\d+) variables per request$",
         N_("at most %(limit)s variables per request")),
        (r"^justify the use of these 1 variables, as a group or one by one$",
         N_("justify the use of this variable, in its group or on its own")),
        (r"^justify the use of these (?P<count>\d+) variables, as a group or one by one$",
         N_("justify the use of these %(count)s variables, as a group or one by one")),
        (r"^this variable belongs to (?P<cohort>\S+), not to (?P<other>\S+)$",
         N_("this variable belongs to %(cohort)s, not to %(other)s")),
        (r"^a variable of (?P<cohort>\S+): add it to the request to (?P=cohort)$",
         N_("a variable of %(cohort)s: add it to the request to %(cohort)s")),
        (r"^give between 1 and (?P<max>\d+) users$", N_("give between 1 and %(max)s users")),
        (r"^give a duration between 1 and (?P<max>\d+) months$",
         N_("give a duration between 1 and %(max)s months")),
        (r"^give between 0 and (?P<max>\d+) SD-Boxes$",
         N_("give between 0 and %(max)s SD-Boxes")),
        (r"^A new project is invoiced for at least (?P<minimum>\d+) months "
         r"\((?P<months>\d+) asked\)\.$",
         "A new project is invoiced for at least %(minimum)s months (%(months)s asked)."),
        (r"^The student reduction applies to the last user access; here it is part of the "
         r"standard subscription, whose user share the price list does not state: ask "
         r"CASD\.$",
         N_("The student reduction applies to the last user access; here it is part of the "
            "standard subscription, whose user share the price list does not state: ask "
            "CASD.")),
        (r"^The price list (?P<id>\S+) states no student reduction\.$",
         N_("The price list %(id)s states no student reduction.")),
    ))


def translate(_: Callable[..., str], message: str) -> str:
    """A message of the catalogue in the page language: its own translation, a pattern's,
    or the English text when the catalogs have neither."""
    translated = _(message)
    if translated != message:
        return translated
    for pattern, message_id in _PATTERNS:
        match = pattern.match(message)
        if match is not None:
            return _(message_id, **match.groupdict())
    return message


def form_errors(request: Request, error: CatalogueError) -> dict[str, str]:
    """``{field: message}`` of a refusal, in the page language; under ``""`` what
    happened as a whole (nothing was saved, the application is incomplete...)."""
    _ = gettext_for(request)
    found: dict[str, str] = {}
    for item in error.errors:
        field, message = item.get("field"), item.get("message")
        if isinstance(field, str) and isinstance(message, str):
            found.setdefault(field, translate(_, message))
    if isinstance(error, IncompleteApplication):
        found[""] = _("Some fields are still to complete: each one says what it needs. "
                      "Your changes are saved.")
    elif isinstance(error, OversizedFields):
        found[""] = _("Nothing was saved: some fields are too long.")
    elif found and error.status == 400:
        found[""] = _("Nothing was saved: some fields need attention.")
    else:
        found[""] = translate(_, error.message)
    return found


def euros(amount: Decimal, lang: str) -> str:
    """An amount as people of the page language read it (4,740.00 EUR is 4 740,00 € in
    French)."""
    return str(format_currency(amount, "EUR", locale=lang))
