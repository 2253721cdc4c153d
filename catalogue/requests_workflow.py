"""The review of access requests: who may do what, submission, transitions, comments.

States and actions are declared in :data:`catalogue.requests_model.TRANSITIONS`:

    draft --submit--> submitted --start_review--> under_review
    under_review --approve / approve_with_conditions / request_changes / reject--> ...
    changes_requested --(the applicant amends) resubmit--> submitted

The applicant owns drafts and amendments; reviewers of the request's cohort move
submitted requests (never their own). Every transition is checked, written with its
event (who, when, why) in one transaction, then handed to the audit trail. A refused
action raises (Unauthorized, Forbidden, TransitionRefused, IncompleteApplication...)
and changes nothing.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection

from catalogue.accounts_model import Origin, User, iso, utc_now
from catalogue.browse import Catalogue
from catalogue.casd import CasdEstimate, CasdInputError, estimate
from catalogue.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from catalogue.model import LangText, parse_urn
from catalogue.requests_model import (
    APPLICANT,
    DECIDED_STATES,
    EDITABLE_STATES,
    INTERNAL,
    LIMITS,
    TRANSITIONS,
    VISIBILITIES,
    VISIBLE_TO_APPLICANT,
    AccessRequest,
    Action,
    FieldError,
    IncompleteApplication,
    OversizedFields,
    Project,
    ProjectFields,
    RequestComment,
    RequestEvent,
    RequestState,
    TransitionRefused,
    parse_action,
    request_from_rows,
)
from catalogue.requests_selection import CohortSelection, Selected, describe_selection
from catalogue.requests_validation import (
    has_control_characters,
    project_errors,
    section_errors,
)

log = logging.getLogger(__name__)
SIGN_IN_NEEDED = "Sign in to continue."


def now() -> str:
    return iso(utc_now())


# -- who may do what -----------------------------------------------------------------------

def require_signed_in(actor: User | None) -> User:
    if actor is None:
        raise Unauthorized(SIGN_IN_NEEDED)
    if actor.disabled:
        raise Forbidden("This account is disabled.")
    return actor


def _active(actor: User | None) -> bool:
    return actor is not None and not actor.disabled


def is_reviewer(actor: User | None, cohort: str) -> bool:
    return actor is not None and not actor.disabled and cohort in actor.reviewer_of


def can_read(actor: User | None, request: AccessRequest) -> bool:
    """The applicant, always; the cohort's reviewers once it has been submitted."""
    if actor is None or actor.disabled:
        return False
    if request.applicant_id == actor.id:
        return True
    return request.state is not RequestState.DRAFT and is_reviewer(actor, request.cohort)


def can_edit(actor: User | None, request: AccessRequest) -> bool:
    """The applicant, while it is a draft or changes are requested."""
    return (_active(actor) and actor is not None and request.applicant_id == actor.id
            and request.state in EDITABLE_STATES)


def can_decide(actor: User | None, request: AccessRequest) -> bool:
    """Reviewers of the request's cohort, except on their own request."""
    return (actor is not None and is_reviewer(actor, request.cohort)
            and request.applicant_id != actor.id)


def sees_internal_comments(actor: User | None, request: AccessRequest) -> bool:
    return can_decide(actor, request)


def allowed_actions(actor: User | None, request: AccessRequest) -> tuple[Action, ...]:
    """The actions ``actor`` may take on ``request`` now (what buttons to show)."""
    out = []
    for action, spec in TRANSITIONS.items():
        if request.state not in spec.sources:
            continue
        if spec.by == APPLICANT:
            if can_edit(actor, request):
                out.append(action)
        elif can_decide(actor, request):
            out.append(action)
    return tuple(out)


def require_read(actor: User | None, request: AccessRequest) -> User:
    user = require_signed_in(actor)
    if not can_read(user, request):
        raise Forbidden("This access request is not yours to read.")
    return user


def require_edit(actor: User | None, request: AccessRequest) -> User:
    user = require_read(actor, request)
    if request.applicant_id != user.id:
        raise Forbidden("Only the applicant may change this access request.")
    if request.state not in EDITABLE_STATES:
        raise TransitionRefused(f"This access request is {_said(request.state)}: it can be "
                                "changed only as a draft or when changes are requested.")
    return user


def _said(state: RequestState) -> str:
    return state.value.replace("_", " ")


# -- loading ---------------------------------------------------------------------------------

def load_request(catalogue: Catalogue, request_id: int, conn: Connection | None = None
                 ) -> AccessRequest:
    """The request, whoever asks (callers check permissions); NotFound when none."""
    store = catalogue.store
    row = store.request_row(request_id, conn)
    if row is None:
        raise NotFound(f"no access request {request_id}")
    project = store.project_row(row.project_id, conn)
    assert project is not None
    return request_from_rows(row, store.request_variable_rows(request_id, conn), project)


def load_project(catalogue: Catalogue, project_id: int, conn: Connection | None = None
                 ) -> Project:
    store = catalogue.store
    row = store.project_row(project_id, conn)
    if row is None:
        raise NotFound(f"no project {project_id}")
    requests = tuple(request_from_rows(r, store.request_variable_rows(r.id, conn), row)
                     for r in store.request_rows(project_id=project_id, conn=conn))
    return Project(row.id, row.owner_id, ProjectFields.from_json(row.content), row.created_at,
                   row.updated_at, row.submitted_at, requests)


def selected_of(request: AccessRequest) -> list[Selected]:
    out = []
    for variable in request.section.variables:
        parts = parse_urn(variable.urn)
        if parts is not None and parts.version is not None:
            out.append(Selected(parts.agency, parts.id, parts.version, variable.justification))
    return out


def data_requested(catalogue: Catalogue, request: AccessRequest) -> CohortSelection:
    """The request's variables, resolved at the versions selected, grouped by wave."""
    groups = describe_selection(catalogue, selected_of(request))
    cohort = catalogue.state.cohort(request.cohort)
    label = next((g.label for g in groups if g.slug == request.cohort), None) or (
        (cohort.study.title or cohort.study.label) if cohort is not None
        else LangText((("", request.cohort),)))
    return CohortSelection(request.cohort, label, tuple(w for g in groups for w in g.waves))


def casd_estimate(request: AccessRequest, today: date | None = None) -> CasdEstimate | None:
    """The estimate of the request's CASD inputs (None without inputs, or when the
    inputs cannot be priced: :func:`submission_problems` says why)."""
    if request.section.casd is None:
        return None
    try:
        return estimate(request.section.casd, today=today)
    except CasdInputError:
        return None


def submission_problems(catalogue: Catalogue, request: AccessRequest,
                        today: date | None = None) -> list[FieldError]:
    """What stops this request from being submitted: its project and its section."""
    return [*project_errors(request.project),
            *section_errors(request.cohort, request.section, data_requested(catalogue, request),
                            today or date.today())]


def _snapshot(request: AccessRequest, fields: ProjectFields, today: date) -> dict[str, Any]:
    """The request as submitted, kept as a revision."""
    found = casd_estimate(request, today)
    return {"cohort": request.cohort, "project": fields.to_json(),
            "section": request.section.to_json(),
            "casd_estimate": found.to_json() if found else None}


# -- submitting ------------------------------------------------------------------------------

def submission_errors(catalogue: Catalogue, actor: User | None, project_id: int,
                      today: date | None = None) -> tuple[FieldError, ...]:
    """Every field to fill before the project can be submitted (empty when ready)."""
    user = require_signed_in(actor)
    project = load_project(catalogue, project_id)
    if project.owner_id != user.id:
        raise Forbidden("This project is not yours.")
    return tuple(_project_problems(catalogue, project, today or date.today()))


def _project_problems(catalogue: Catalogue, project: Project, today: date) -> list[FieldError]:
    errors = project_errors(project.fields)
    if not project.requests:
        errors.append(FieldError(("requests",), "select variables of at least one cohort"))
    for request in project.requests:
        errors.extend(section_errors(request.cohort, request.section,
                                     data_requested(catalogue, request), today))
    return errors


def submit_project(catalogue: Catalogue, actor: User | None, project_id: int, *,
                   origin: Origin | None = None, today: date | None = None) -> Project:
    """Check every required field; then submit one request per cohort, all at once, each
    with its own copy of the project. Raises IncompleteApplication listing every field
    to fill (and submits nothing)."""
    user = require_signed_in(actor)
    today = today or date.today()
    store = catalogue.store
    at = now()
    with store.transaction() as conn:
        project = load_project(catalogue, project_id, conn)
        if project.owner_id != user.id:
            raise Forbidden("This project is not yours.")
        if not project.is_draft:
            raise TransitionRefused("This project has been submitted already.")
        errors = _project_problems(catalogue, project, today)
        if errors:
            raise IncompleteApplication(
                f"The application is incomplete: {len(errors)} field(s) to complete.",
                [e.to_json() for e in errors])
        for request in project.requests:
            content = {**request.section.content_json(), "project": project.fields.to_json()}
            written = store.update_request_content(conn, request.id, content=content, at=at,
                                                   states=[RequestState.DRAFT.value])
            moved = written and store.set_request_state(
                conn, request.id, from_state=RequestState.DRAFT.value,
                to_state=RequestState.SUBMITTED.value, at=at, submitted=True)
            if not moved:
                raise Conflict("The application changed while being submitted: try again.")
            store.insert_event(conn, request_id=request.id, at=at, actor_id=user.id,
                               action=Action.SUBMIT.value, from_state=RequestState.DRAFT.value,
                               to_state=RequestState.SUBMITTED.value, reason="")
            store.insert_revision(conn, request_id=request.id, number=1, at=at,
                                  content=_snapshot(request, project.fields, today))
        if not store.mark_project_submitted(conn, project_id, at):
            raise Conflict("The application changed while being submitted: try again.")
    for request in project.requests:
        send_to_audit_trail(catalogue, user, request, Action.SUBMIT, RequestState.DRAFT,
                            RequestState.SUBMITTED, "", origin)
    return load_project(catalogue, project_id)


# -- moving a request ------------------------------------------------------------------------

def transition(catalogue: Catalogue, actor: User | None, request_id: int,
               action: Action | str, reason: str = "", *, origin: Origin | None = None,
               today: date | None = None) -> AccessRequest:
    """Take one action on one request. ``reason`` is why (required to approve with
    conditions, request changes or reject; the applicant sees it)."""
    action = action if isinstance(action, Action) else parse_action(action)
    user = require_signed_in(actor)
    if action is Action.SUBMIT:
        request = load_request(catalogue, request_id)
        require_edit(user, request)
        submit_project(catalogue, user, request.project_id, origin=origin, today=today)
        return load_request(catalogue, request_id)
    spec = TRANSITIONS[action]
    _check_text("reason", reason, LIMITS.long_text)
    store = catalogue.store
    at = now()
    with store.transaction() as conn:
        request = load_request(catalogue, request_id, conn)
        require_read(user, request)
        if spec.by == APPLICANT and request.applicant_id != user.id:
            raise Forbidden(f"Only the applicant may {_verb(action)} this request.")
        if spec.by != APPLICANT and not can_decide(user, request):
            raise Forbidden(f"Only reviewers of {request.cohort} may {_verb(action)} this "
                            "request (never their own).")
        if request.state not in spec.sources:
            raise TransitionRefused(
                f"Cannot {_verb(action)} this request: it is {_said(request.state)}; that is "
                f"possible only when it is {' or '.join(sorted(_said(s) for s in spec.sources))}.")
        if spec.reason_required and not reason.strip():
            raise BadRequest(f"Say why ({_verb(action)}).",
                             [FieldError(("reason",), "say why: the applicant will read "
                                                      "it").to_json()])
        if action is Action.RESUBMIT:
            errors = submission_problems(catalogue, request, today)
            if errors:
                raise IncompleteApplication(
                    f"The amended request is incomplete: {len(errors)} field(s) to complete.",
                    [e.to_json() for e in errors])
        moved = store.set_request_state(
            conn, request_id, from_state=request.state.value, to_state=spec.target.value,
            at=at, submitted=spec.target is RequestState.SUBMITTED,
            decided=spec.target in DECIDED_STATES)
        if not moved:
            raise Conflict("This request changed meanwhile: reload it and try again.")
        store.insert_event(conn, request_id=request_id, at=at, actor_id=user.id,
                           action=action.value, from_state=request.state.value,
                           to_state=spec.target.value, reason=reason)
        if action is Action.RESUBMIT:
            store.insert_revision(conn, request_id=request_id, number=request.revision + 1,
                                  at=at, content=_snapshot(request, request.project,
                                                           today or date.today()))
    send_to_audit_trail(catalogue, user, request, action, request.state, spec.target, reason,
                        origin)
    return load_request(catalogue, request_id)


def _verb(action: Action) -> str:
    return action.value.replace("_", " ")


def _check_text(field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise OversizedFields(f"{field}: at most {limit} characters (got {len(text)})",
                              [FieldError((field,), f"at most {limit} characters").to_json()])
    if has_control_characters(text):
        raise BadRequest(f"{field}: remove the control characters",
                         [FieldError((field,), "remove the control characters").to_json()])


def history(catalogue: Catalogue, actor: User | None, request_id: int
            ) -> tuple[RequestEvent, ...]:
    """Every transition of the request, oldest first (the applicant sees them too)."""
    request = load_request(catalogue, request_id)
    require_read(actor, request)
    return tuple(RequestEvent(e.at, e.actor_id, Action(e.action), RequestState(e.from_state),
                              RequestState(e.to_state), e.reason)
                 for e in catalogue.store.event_rows(request_id))


# -- comments --------------------------------------------------------------------------------

def add_comment(catalogue: Catalogue, actor: User | None, request_id: int, text: str,
                visibility: str = VISIBLE_TO_APPLICANT) -> RequestComment:
    """A comment on a submitted request: visible to the applicant, or internal to the
    cohort's team (reviewers only)."""
    user = require_signed_in(actor)
    if visibility not in VISIBILITIES:
        raise BadRequest(f"visibility must be one of {', '.join(VISIBILITIES)}")
    _check_text("text", text, LIMITS.comment)
    if not text.strip():
        raise BadRequest("Write something first.",
                         [FieldError(("text",), "write something first").to_json()])
    at = now()
    with catalogue.store.transaction() as conn:
        request = load_request(catalogue, request_id, conn)
        require_read(user, request)
        if request.state is RequestState.DRAFT:
            raise TransitionRefused("Comments start once the request is submitted.")
        if visibility == INTERNAL and not sees_internal_comments(user, request):
            raise Forbidden(f"Only reviewers of {request.cohort} write internal comments.")
        comment_id = catalogue.store.insert_comment(conn, request_id=request_id, at=at,
                                                    author_id=user.id, visibility=visibility,
                                                    text=text)
    return RequestComment(comment_id, at, user.id, visibility, text)


def comments(catalogue: Catalogue, actor: User | None, request_id: int
             ) -> tuple[RequestComment, ...]:
    """The comments ``actor`` may read: the applicant never sees internal ones."""
    request = load_request(catalogue, request_id)
    user = require_read(actor, request)
    internal = sees_internal_comments(user, request)
    return tuple(RequestComment(c.id, c.at, c.author_id, c.visibility, c.text)
                 for c in catalogue.store.comment_rows(request_id)
                 if internal or c.visibility == VISIBLE_TO_APPLICANT)


# -- the audit trail -------------------------------------------------------------------------

def send_to_audit_trail(catalogue: Catalogue, actor: User, request: AccessRequest,
                        action: Action, from_state: RequestState, to_state: RequestState,
                        reason: str, origin: Origin | None) -> None:
    """Hand one transition to the accounts' audit trail
    (``catalogue.accounts_audit.record_request_transition``), after the transition is
    committed. Without that module nothing is sent: the request's own events (who,
    when, why) are the record then."""
    try:
        audit = importlib.import_module("catalogue.accounts_audit")
    except ImportError:
        return
    record = getattr(audit, "record_request_transition", None)
    if record is None:
        return
    try:
        record(catalogue.store, actor=actor, request_id=request.id, cohort=request.cohort,
               from_state=from_state.value, to_state=to_state.value,
               origin=origin or Origin(), comment=reason, action=action.value,
               project=request.project_id)
    except Exception:  # the transition stands; a missing audit entry must be noticed
        log.exception("request %s: %s could not be written to the audit trail", request.id,
                      action.value)


def visible_requests(catalogue: Catalogue, actor: User | None, *,
                     cohort: str | None = None, states: Sequence[RequestState] | None = None
                     ) -> tuple[AccessRequest, ...]:
    """The actor's own requests, or (``cohort`` given) that cohort's submitted requests
    for one of its reviewers."""
    user = require_signed_in(actor)
    store = catalogue.store
    wanted = [s.value for s in states] if states else None
    if cohort is None:
        rows = store.request_rows(owner_id=user.id, states=wanted)
    else:
        if not is_reviewer(user, cohort):
            raise Forbidden(f"Only reviewers of {cohort} see its requests.")
        visible = [s.value for s in RequestState if s is not RequestState.DRAFT]
        rows = store.request_rows(cohorts=[cohort],
                                  states=[s for s in visible if wanted is None or s in wanted])
    out = []
    for row in rows:
        project = store.project_row(row.project_id)
        assert project is not None
        out.append(request_from_rows(row, store.request_variable_rows(row.id), project))
    return tuple(out)
