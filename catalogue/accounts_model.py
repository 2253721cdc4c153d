"""What accounts are made of: people, their roles, the cohort registry, sessions and the
audit trail, as plain frozen dataclasses (the store hands these out, never rows)."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ADMINISTRATOR = "administrator"
PUBLISHER = "publisher"
REVIEWER = "reviewer"
#: Roles held in the store; "researcher" is everyone signed in and is never stored.
ROLES = (ADMINISTRATOR, PUBLISHER, REVIEWER)
#: Roles that are held for one cohort (the administrator role is global).
COHORT_ROLES = (PUBLISHER, REVIEWER)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, to the second: sorts as text, the same on every database."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True, order=True)
class Role:
    """A stored role: ``cohort`` is a cohort slug for publishers and reviewers, None for
    administrators."""

    name: str
    cohort: str | None = None

    def label(self) -> str:
        return self.name if self.cohort is None else f"{self.name} of {self.cohort}"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    affiliation: str
    created_at: str
    confirmed_at: str | None
    disabled: bool
    lang: str
    roles: frozenset[Role] = frozenset()

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def is_administrator(self) -> bool:
        return Role(ADMINISTRATOR) in self.roles

    @property
    def publisher_of(self) -> frozenset[str]:
        return frozenset(r.cohort for r in self.roles if r.name == PUBLISHER and r.cohort)

    @property
    def reviewer_of(self) -> frozenset[str]:
        return frozenset(r.cohort for r in self.roles if r.name == REVIEWER and r.cohort)

    def sorted_roles(self) -> list[Role]:
        return sorted(self.roles, key=lambda r: (ROLES.index(r.name), r.cohort or ""))


@dataclass(frozen=True, slots=True)
class RegisteredCohort:
    """A cohort known to the accounts: publishers and reviewers are granted per cohort,
    and its DDI agency ids say which published items belong to it."""

    slug: str
    name: str
    agencies: tuple[str, ...]
    created_at: str


@dataclass(frozen=True, slots=True)
class Session:
    """A server-side session; anonymous when ``user_id`` is None (it then only carries
    the CSRF secret of anonymous forms and whatever other modules key on its id)."""

    id: int
    user_id: int | None
    created_at: str
    expires_at: str
    last_seen_at: str
    csrf_secret: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an action comes from, for the audit trail: a client address and a user
    agent (web), or the command line."""

    client: str = ""
    user_agent: str = ""

    @classmethod
    def cli(cls) -> Origin:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (containers)
            who = "unknown"
        return cls(client="cli", user_agent=f"catalogue command line (system user {who})")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: str
    actor_id: int | None
    actor_email: str | None
    action: str
    target: str
    client: str
    user_agent: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit entries to show or export; empty fields match everything. ``since`` and
    ``until`` are ISO dates or timestamps (``until`` a date includes that whole day)."""

    action: str = ""
    actor: str = ""
    target: str = ""
    since: str = ""
    until: str = ""
