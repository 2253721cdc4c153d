"""What an access request is made of, as frozen dataclasses: the project (protocol, team,
funding, commitments), one section per cohort (data requested, charter, CASD inputs),
the states and actions of the review, and the limits every text field obeys.

It follows the Constances application: a protocol (scientific objectives, method,
expected results, the data requested and the justification of their use, any additional
data collection), the scientific team and the sources of funding (for the project and
for the cost of access, industrial funding or not), the PI's acceptance of the cohort's
charter, and the commitments that come with access (results made public, a destruction
report at the end).

Text is kept exactly as typed: nothing here interprets markup (escaping is the job of
whatever renders it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from catalogue.casd import CasdInputs
from catalogue.errors import BadRequest, CatalogueError, PayloadTooLarge
from catalogue.model import Identity
from catalogue.store.requests import ProjectRow, RequestRow, RequestVariableRow


class RequestState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"


class Action(StrEnum):
    SUBMIT = "submit"
    START_REVIEW = "start_review"
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    RESUBMIT = "resubmit"


APPLICANT = "applicant"
REVIEWER = "reviewer"


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    sources: frozenset[RequestState]
    target: RequestState
    #: who may take it: the applicant (owner of the request) or a reviewer of its cohort
    by: str
    #: a reason must be given (shown to the applicant)
    reason_required: bool = False


S = RequestState
#: The review workflow. Any (action, state) pair not listed is refused.
TRANSITIONS: Mapping[Action, Transition] = {t.action: t for t in (
    Transition(Action.SUBMIT, frozenset({S.DRAFT}), S.SUBMITTED, APPLICANT),
    Transition(Action.START_REVIEW, frozenset({S.SUBMITTED}), S.UNDER_REVIEW, REVIEWER),
    Transition(Action.APPROVE, frozenset({S.UNDER_REVIEW}), S.APPROVED, REVIEWER),
    Transition(Action.APPROVE_WITH_CONDITIONS, frozenset({S.UNDER_REVIEW}),
               S.APPROVED_WITH_CONDITIONS, REVIEWER, reason_required=True),
    Transition(Action.REQUEST_CHANGES, frozenset({S.UNDER_REVIEW}), S.CHANGES_REQUESTED,
               REVIEWER, reason_required=True),
    Transition(Action.REJECT, frozenset({S.UNDER_REVIEW}), S.REJECTED, REVIEWER,
               reason_required=True),
    Transition(Action.RESUBMIT, frozenset({S.CHANGES_REQUESTED}), S.SUBMITTED, APPLICANT),
)}
#: States in which the applicant may edit the request (draft, or amending).
EDITABLE_STATES = frozenset({S.DRAFT, S.CHANGES_REQUESTED})
DECIDED_STATES = frozenset({S.APPROVED, S.APPROVED_WITH_CONDITIONS, S.REJECTED})

#: Who sees a comment: the applicant and the team, or the cohort's team only.
VISIBLE_TO_APPLICANT = "applicant"
INTERNAL = "internal"
VISIBILITIES = (VISIBLE_TO_APPLICANT, INTERNAL)


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes every saved field obeys (in characters), declared once."""

    short_text: int = 300        # title, names, roles, affiliations, e-mails
    long_text: int = 20_000      # protocol sections, funding, justifications, reasons
    comment: int = 10_000
    team_members: int = 100
    variables_per_request: int = 5_000
    basket_variables: int = 5_000
    casd_options: int = 20


LIMITS = Limits()


class OversizedFields(PayloadTooLarge):
    """Fields longer than :data:`LIMITS` allow; nothing was saved."""


class IncompleteApplication(CatalogueError):
    """Submission refused: ``errors`` lists each missing or wrong field, by path."""

    status = 422
    exit_code = 1


class TransitionRefused(CatalogueError):
    """The action is not possible from the request's current state; nothing changed."""

    status = 409


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field: ``path`` names it (see :func:`field_name`)."""

    path: tuple[str, ...]
    message: str

    @property
    def field(self) -> str:
        return field_name(*self.path)

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def field_name(*parts: str | int) -> str:
    """The name of a field, e.g. ``field_name("team", 0, "role")`` -> ``team.0.role``.
    The web names its form inputs with this function, so that errors returned by the
    checks land next to the right input. Parts may hold dots (URNs do): compare whole
    names, never split them."""
    return ".".join(str(p) for p in parts)


# -- the project -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TeamMember:
    name: str = ""
    role: str = ""
    affiliation: str = ""
    email: str = ""
    principal_investigator: bool = False


@dataclass(frozen=True, slots=True)
class Protocol:
    objectives: str = ""
    method: str = ""
    expected_results: str = ""
    #: any additional data collection planned (empty: none)
    additional_data_collection: str = ""


@dataclass(frozen=True, slots=True)
class Funding:
    project: str = ""
    access_costs: str = ""
    #: None until the applicant answers
    industrial: bool | None = None
    industrial_details: str = ""


@dataclass(frozen=True, slots=True)
class Commitments:
    publish_results: bool = False
    destruction_report: bool = False


@dataclass(frozen=True, slots=True)
class ProjectFields:
    title: str = ""
    protocol: Protocol = Protocol()
    team: tuple[TeamMember, ...] = ()
    funding: Funding = Funding()
    commitments: Commitments = Commitments()

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "protocol": {"objectives": self.protocol.objectives,
                         "method": self.protocol.method,
                         "expected_results": self.protocol.expected_results,
                         "additional_data_collection":
                             self.protocol.additional_data_collection},
            "team": [{"name": m.name, "role": m.role, "affiliation": m.affiliation,
                      "email": m.email, "principal_investigator": m.principal_investigator}
                     for m in self.team],
            "funding": {"project": self.funding.project,
                        "access_costs": self.funding.access_costs,
                        "industrial": self.funding.industrial,
                        "industrial_details": self.funding.industrial_details},
            "commitments": {"publish_results": self.commitments.publish_results,
                            "destruction_report": self.commitments.destruction_report},
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ProjectFields:
        protocol = data.get("protocol") or {}
        funding = data.get("funding") or {}
        commitments = data.get("commitments") or {}
        industrial = funding.get("industrial")
        return ProjectFields(
            title=str(data.get("title", "")),
            protocol=Protocol(**{k: str(protocol.get(k, "")) for k in (
                "objectives", "method", "expected_results", "additional_data_collection")}),
            team=tuple(TeamMember(
                name=str(m.get("name", "")), role=str(m.get("role", "")),
                affiliation=str(m.get("affiliation", "")), email=str(m.get("email", "")),
                principal_investigator=bool(m.get("principal_investigator", False)))
                for m in data.get("team") or ()),
            funding=Funding(project=str(funding.get("project", "")),
                            access_costs=str(funding.get("access_costs", "")),
                            industrial=None if industrial is None else bool(industrial),
                            industrial_details=str(funding.get("industrial_details", ""))),
            commitments=Commitments(
                publish_results=bool(commitments.get("publish_results", False)),
                destruction_report=bool(commitments.get("destruction_report", False))))


# -- one cohort's section ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RequestedVariable:
    """A variable asked for, by versioned URN, with its own justification (optional when
    its group, the wave, has one)."""

    urn: str
    justification: str = ""


@dataclass(frozen=True, slots=True)
class CohortSection:
    """What the request to one cohort adds to the project: the data requested (variables
    grouped by wave, each group or variable justified), the acceptance of the cohort's
    charter, and the CASD estimate inputs when CASD-only variables are asked for."""

    variables: tuple[RequestedVariable, ...] = ()
    #: (wave URN, justification) pairs; "" stands for variables outside any wave
    group_justifications: tuple[tuple[str, str], ...] = ()
    charter_accepted: bool = False
    casd: CasdInputs | None = None

    def group_justification(self, wave_urn: str) -> str:
        return next((text for urn, text in self.group_justifications if urn == wave_urn), "")

    def justification_of(self, urn: str) -> str:
        return next((v.justification for v in self.variables if v.urn == urn), "")

    def content_json(self) -> dict[str, Any]:
        """What is stored with the request row (the variables have rows of their own)."""
        return {"group_justifications": [list(pair) for pair in self.group_justifications],
                "charter_accepted": self.charter_accepted,
                "casd": self.casd.to_json() if self.casd else None}

    def to_json(self) -> dict[str, Any]:
        return {"variables": [{"urn": v.urn, "justification": v.justification}
                              for v in self.variables], **self.content_json()}


def section_from_content(content: Mapping[str, Any],
                         variables: tuple[RequestedVariable, ...]) -> CohortSection:
    casd = content.get("casd")
    return CohortSection(
        variables=variables,
        group_justifications=tuple((str(u), str(t))
                                   for u, t in content.get("group_justifications") or ()),
        charter_accepted=bool(content.get("charter_accepted", False)),
        casd=CasdInputs.from_json(casd) if casd else None)


# -- what the web gets -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One cohort's request. ``project`` is the project's draft while the request is a
    draft, and the request's own copy once submitted (amended with the request)."""

    id: int
    project_id: int
    cohort: str
    applicant_id: int
    state: RequestState
    revision: int
    project: ProjectFields
    section: CohortSection
    created_at: str
    updated_at: str
    submitted_at: str | None
    decided_at: str | None

    @property
    def status(self) -> str:
        """The state as text (what ``catalogue.accounts_roles`` permission checks read)."""
        return self.state.value

    @property
    def editable(self) -> bool:
        return self.state in EDITABLE_STATES


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    owner_id: int
    fields: ProjectFields
    created_at: str
    updated_at: str
    submitted_at: str | None
    requests: tuple[AccessRequest, ...]

    @property
    def is_draft(self) -> bool:
        return self.submitted_at is None

    @property
    def cohorts(self) -> tuple[str, ...]:
        return tuple(r.cohort for r in self.requests)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """A transition: who, when, what, why."""

    at: str
    actor_id: int
    action: Action
    from_state: RequestState
    to_state: RequestState
    reason: str


@dataclass(frozen=True, slots=True)
class RequestComment:
    id: int
    at: str
    author_id: int
    visibility: str
    text: str

    @property
    def internal(self) -> bool:
        return self.visibility == INTERNAL


def parse_action(value: str) -> Action:
    try:
        return Action(value)
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise BadRequest(f"unknown action {value!r}: use one of {known}") from None


def requested_variables(rows: Sequence[RequestVariableRow]) -> tuple[RequestedVariable, ...]:
    return tuple(RequestedVariable(Identity(r.agency, r.item_id, r.version).urn,
                                   r.justification) for r in rows)


def request_from_rows(row: RequestRow, variables: Sequence[RequestVariableRow],
                      project: ProjectRow) -> AccessRequest:
    """An access request from its stored rows: the project's draft while a draft, the
    request's own copy of the project once submitted."""
    state = RequestState(row.state)
    copy = row.content.get("project")
    fields = ProjectFields.from_json(copy if copy is not None else project.content)
    return AccessRequest(
        id=row.id, project_id=row.project_id, cohort=row.cohort, applicant_id=row.owner_id,
        state=state, revision=row.revision, project=fields,
        section=section_from_content(row.content, requested_variables(variables)),
        created_at=row.created_at, updated_at=row.updated_at, submitted_at=row.submitted_at,
        decided_at=row.decided_at)
