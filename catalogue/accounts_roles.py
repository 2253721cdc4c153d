"""Roles and what they allow, checked in plain functions that views and the CLI call.

- **administrator** (global): manages people, roles, the cohort registry; reads the audit
  trail; may publish for any agency (including shared ones, like the topics agency
  ``fr.cohortes``, that belong to no cohort).
- **publisher of a cohort**: publishes and withdraws items whose DDI agency belongs to
  that cohort.
- **reviewer of a cohort**: sees and decides that cohort's submitted access requests.
- **researcher**: everyone signed in; sees their own access requests.

``can_*`` functions answer yes or no; ``require_*`` functions raise Unauthorized (nobody
signed in) or Forbidden, with a message saying what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from catalogue.accounts import email_key
from catalogue.accounts_audit import record, record_publication_refused
from catalogue.accounts_model import (
    ADMINISTRATOR,
    COHORT_ROLES,
    ROLES,
    Origin,
    RegisteredCohort,
    Role,
    User,
    iso,
    utc_now,
)
from catalogue.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

if TYPE_CHECKING:
    from catalogue.store import Store

SIGN_IN_NEEDED = "Sign in to continue."
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_AGENCY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)+$")


class AccessRequestLike(Protocol):
    """What the permission functions need to know of an access request (issue 7's model
    satisfies it): who applied, for which cohort, in which state."""

    @property
    def applicant_id(self) -> int: ...

    @property
    def cohort(self) -> str: ...

    @property
    def status(self) -> str: ...


# -- who is there ---------------------------------------------------------------------------


def require_user(user: User | None) -> User:
    """The signed-in researcher; Unauthorized when nobody is signed in."""
    if user is None:
        raise Unauthorized(SIGN_IN_NEEDED)
    if user.disabled:
        raise Forbidden("This account is disabled.")
    return user


def is_administrator(user: User | None) -> bool:
    return user is not None and not user.disabled and user.is_administrator


def require_administrator(user: User | None) -> User:
    user = require_user(user)
    if not user.is_administrator:
        raise Forbidden("Only administrators may do this.")
    return user


# -- publishing -----------------------------------------------------------------------------


def can_publish(user: User | None, cohort_slug: str) -> bool:
    return is_administrator(user) or (
        user is not None and not user.disabled and cohort_slug in user.publisher_of)


def require_publisher(user: User | None, cohort_slug: str) -> User:
    user = require_user(user)
    if not can_publish(user, cohort_slug):
        raise Forbidden(f"Only publishers of {cohort_slug} may do this.")
    return user


def cohorts_of_agencies(store: Store, agencies: Iterable[str]) -> dict[str, str | None]:
    """Each agency and the registered cohort it belongs to (None: no cohort)."""
    wanted = sorted(set(agencies))
    owners = store.agency_owners(wanted)
    return {agency: owners.get(agency) for agency in wanted}


def require_publisher_of_agencies(store: Store, user: User | None, agencies: Iterable[str], *,
                                  origin: Origin) -> set[str]:
    """The cohorts of these agencies, when ``user`` may publish for every one of them;
    Forbidden otherwise (audited as ``publication.refused``), naming what is missing."""
    user = require_user(user)
    owners = cohorts_of_agencies(store, agencies)
    cohorts = {slug for slug in owners.values() if slug is not None}
    if user.is_administrator:
        return cohorts
    orphans = sorted(a for a, slug in owners.items() if slug is None)
    refused = sorted(f"{a} ({slug})" for a, slug in owners.items()
                     if slug is not None and slug not in user.publisher_of)
    reason = ""
    if orphans:
        reason = (f"agency {', '.join(orphans)} belongs to no registered cohort; an "
                  "administrator publishes it or adds it to a cohort")
    elif refused:
        reason = f"{user.email} is not a publisher of the cohort of {', '.join(refused)}"
    elif not owners and not user.publisher_of:
        reason = f"{user.email} is not a publisher of any cohort"
    if reason:
        record_publication_refused(store, actor=user, agencies=owners, reason=reason,
                                   origin=origin)
        raise Forbidden(f"Not allowed to publish: {reason}.")
    return cohorts


def agencies_in_files(paths: Sequence[Path], schema_dir: Path | None) -> set[str]:
    """The agencies of every item the DDI-L files define (a streaming read, no model
    built). Unusable files add nothing: publishing refuses them anyway."""
    from catalogue.validation import open_file, read_file  # noqa: PLC0415 - lxml, schemas
    from ddi_schemas.profile import LazyPath, ProfileChecker  # noqa: PLC0415

    class AgencyCollector(ProfileChecker):
        """A profile checker that also keeps the agencies of the items it is told of."""

        def __init__(self) -> None:
            super().__init__()
            self.item_agencies: set[str] = set()

        def identity(self, agency: str, id_: str, version: str, content: int | None, *,
                     versionable: bool, line: int | None, path: LazyPath) -> None:
            self.item_agencies.add(agency)
            super().identity(agency, id_, version, content, versionable=versionable,
                             line=line, path=path)

    agencies: set[str] = set()
    for file in paths:
        check = open_file(file, schema_dir)
        if check.unusable is not None:
            continue
        collector = AgencyCollector()
        check.checker = collector
        read_file(check, mode="facts")
        agencies |= collector.item_agencies
    return agencies


def require_publisher_of_files(store: Store, user: User | None, paths: Sequence[Path],
                               schema_dir: Path | None, *, origin: Origin) -> set[str]:
    """:func:`require_publisher_of_agencies` for the agencies the files define (call it
    before :func:`catalogue.publishing.publish_paths`, from the CLI or a web upload)."""
    require_user(user)
    return require_publisher_of_agencies(store, user, agencies_in_files(paths, schema_dir),
                                         origin=origin)


# -- access requests ------------------------------------------------------------------------


def can_review(user: User | None, cohort_slug: str) -> bool:
    """Reviewers of a cohort see and decide its requests (administrators do not: the
    cohort's committee decides)."""
    return user is not None and not user.disabled and cohort_slug in user.reviewer_of


def require_reviewer(user: User | None, cohort_slug: str) -> User:
    user = require_user(user)
    if not can_review(user, cohort_slug):
        raise Forbidden(f"Only reviewers of {cohort_slug} may do this.")
    return user


def can_read_request(user: User | None, request: AccessRequestLike) -> bool:
    """The applicant reads their own request in every state; the cohort's reviewers read
    it once it has been submitted (a draft is the applicant's alone)."""
    if user is None or user.disabled:
        return False
    if request.applicant_id == user.id:
        return True
    return request.status != "draft" and can_review(user, request.cohort)


def require_read_request(user: User | None, request: AccessRequestLike) -> User:
    """Forbidden for anyone but the applicant and (after submission) the cohort's
    reviewers. Views may prefer answering NotFound so as not to reveal that an id
    exists; this says Forbidden and leaves that choice to them."""
    user = require_user(user)
    if not can_read_request(user, request):
        raise Forbidden("This access request is not yours to read.")
    return user


def can_edit_request(user: User | None, request: AccessRequestLike) -> bool:
    """Only the applicant edits, and only while it is a draft or changes are requested."""
    return (user is not None and not user.disabled and request.applicant_id == user.id
            and request.status in ("draft", "changes_requested"))


def reviewable_cohorts(user: User | None) -> frozenset[str]:
    if user is None or user.disabled:
        return frozenset()
    return user.reviewer_of


# -- granting roles -------------------------------------------------------------------------


def parse_role(name: str, cohort: str | None) -> Role:
    name = name.strip().lower()
    if name not in ROLES:
        raise BadRequest(f"unknown role {name!r}: use one of {', '.join(ROLES)}")
    if name in COHORT_ROLES and not cohort:
        raise BadRequest(f"the {name} role is held for a cohort: name the cohort's slug")
    if name == ADMINISTRATOR and cohort:
        raise BadRequest("the administrator role is global: name no cohort")
    return Role(name, cohort or None)


def _target_user(store: Store, email: str) -> User:
    user = store.user_by_email(email_key(email))
    if user is None:
        raise NotFound(f"no account for {email}")
    return user


def grant(store: Store, *, actor: User | None, email: str, role: Role,
          origin: Origin) -> bool:
    """Give ``role`` to the account of ``email``; False when already held. ``actor`` None
    means the command line (trusted: it holds the data directory); otherwise it must be
    an administrator."""
    if actor is not None:
        require_administrator(actor)
    target = _target_user(store, email)
    if role.cohort is not None and store.registered_cohort(role.cohort) is None:
        raise NotFound(f"no registered cohort {role.cohort!r}: register it first")
    added = store.add_role(target.id, role, at=iso(utc_now()),
                           by=actor.email if actor else "command line")
    if added:
        record(store, "role.granted", actor=actor, target=f"user:{target.email}", origin=origin,
               details={"role": role.name, "cohort": role.cohort})
    return added


def revoke(store: Store, *, actor: User | None, email: str, role: Role,
           origin: Origin) -> bool:
    """Take ``role`` away; False when it was not held. The last administrator stays."""
    if actor is not None:
        require_administrator(actor)
    target = _target_user(store, email)
    if role.name == ADMINISTRATOR and role in target.roles and store.count_role(role) <= 1:
        raise Conflict("this is the last administrator: grant the role to someone else first")
    removed = store.remove_role(target.id, role)
    if removed:
        record(store, "role.revoked", actor=actor, target=f"user:{target.email}", origin=origin,
               details={"role": role.name, "cohort": role.cohort})
    return removed


# -- the cohort registry --------------------------------------------------------------------


def check_cohort(slug: str, name: str, agencies: Iterable[str]) -> tuple[str, str, list[str]]:
    slug, name = slug.strip().lower(), " ".join(name.split())
    cleaned = list(dict.fromkeys(a.strip() for a in agencies if a.strip()))
    errors = []
    if not _SLUG.match(slug):
        errors.append({"field": "slug", "message": "Use lower-case letters, digits and "
                       "hyphens (such as epipage2)."})
    if not name or len(name) > 200:
        errors.append({"field": "name", "message": "Enter the cohort's name (200 characters "
                       "at most)."})
    bad = [a for a in cleaned if not _AGENCY.match(a) or len(a) > 255]
    if bad:
        errors.append({"field": "agencies", "message": "Agency ids are reverse domain names "
                       "such as fr.constances."})
    if errors:
        raise BadRequest("Some fields need attention.", errors)
    return slug, name, cleaned


def register_cohort(store: Store, *, actor: User | None, slug: str, name: str,
                    agencies: Iterable[str], origin: Origin) -> RegisteredCohort:
    """Add a cohort to the registry, or change its name and agencies."""
    if actor is not None:
        require_administrator(actor)
    slug, name, cleaned = check_cohort(slug, name, agencies)
    before = store.registered_cohort(slug)
    store.save_cohort(slug, name, cleaned, at=iso(utc_now()))
    after = store.registered_cohort(slug)
    assert after is not None
    if before != after:
        record(store, "cohort.registered" if before is None else "cohort.updated", actor=actor,
               target=f"cohort:{slug}", origin=origin,
               details={"name": name, "agencies": cleaned})
    return after


#: The bundled cohorts' display names (slugs and agencies come from ``cohorts``).
BUNDLED_NAMES = {"constances": "Constances", "gazel": "GAZEL", "elfe": "Elfe",
                 "epipage2": "Epipage 2"}


def register_bundled(store: Store, *, origin: Origin) -> list[RegisteredCohort]:
    """Register the four bundled cohorts with their agencies (idempotent)."""
    from cohorts import COHORTS  # noqa: PLC0415 - data package, needed only here

    out = []
    for cohort in COHORTS:
        known = store.registered_cohort(cohort.slug)
        agencies = list(known.agencies) if known else []
        if cohort.agency not in agencies:
            agencies.append(cohort.agency)
        name = known.name if known else BUNDLED_NAMES.get(cohort.slug, cohort.slug)
        out.append(register_cohort(store, actor=None, slug=cohort.slug, name=name,
                                   agencies=agencies, origin=origin))
    return out

