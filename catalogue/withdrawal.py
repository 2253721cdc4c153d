"""Withdrawing a publication: it leaves browsing and search, but stays resolvable by URN
(pages say it was withdrawn) and access requests that selected its variables still
describe them.

Only publishers of every cohort whose agencies the publication holds (or administrators)
may withdraw it; a refusal is audited, as is every withdrawal. Nothing is deleted: the
publication is marked withdrawn with who, when and why. The search index is then brought
up to date by :func:`after_withdrawal`; should the process die first, the publications
concerned are marked as not indexed, so the next start (or ``catalogue publish``) catches
up.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from catalogue.accounts_audit import record, record_withdrawal
from catalogue.accounts_model import Origin, User
from catalogue.accounts_roles import cohorts_of_agencies
from catalogue.errors import BadRequest, Conflict, Forbidden
from catalogue.publishing import now_iso
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.store.records import Publication

#: Longest reason accepted, in characters.
MAX_REASON = 2000
REASON_NEEDED = "Say why the publication is withdrawn."
REASON_TOO_LONG = "Shorten the reason to 2,000 characters."
ALREADY_WITHDRAWN = "This publication is already withdrawn."
NOT_YOURS = "Only publishers of the cohort that published it may withdraw it."


@dataclass(frozen=True, slots=True)
class Withdrawn:
    publication: Publication
    #: other publications holding versions of its items: what of them is current changes
    affected: tuple[int, ...]


def may_withdraw(store: Store, user: User | None, publication: Publication) -> bool:
    """Administrators, and publishers of every cohort owning the publication's agencies
    (a publication of agencies that belong to no cohort is the administrators')."""
    if user is None or user.disabled:
        return False
    if user.is_administrator:
        return True
    owners = cohorts_of_agencies(store, publication.agencies)
    return bool(owners) and all(slug is not None and slug in user.publisher_of
                                for slug in owners.values())


def withdraw_publication(store: Store, publication_id: int, *, actor: User | None,
                         reason: str, origin: Origin) -> Withdrawn:
    """Withdraw a publication. ``actor`` None means the command line (trusted: it holds
    the data directory); otherwise :func:`may_withdraw` must allow it."""
    publication = store.get_publication(publication_id)
    if actor is not None and not may_withdraw(store, actor, publication):
        record(store, "publication.withdrawal_refused", actor=actor,
               target=f"publication:{publication_id}", origin=origin,
               details={"agencies": list(publication.agencies)})
        raise Forbidden(NOT_YOURS)
    if publication.withdrawn:
        raise Conflict(ALREADY_WITHDRAWN)
    reason = " ".join(reason.split())
    if not reason:
        raise BadRequest(REASON_NEEDED, [{"field": "reason", "message": REASON_NEEDED}])
    if len(reason) > MAX_REASON:
        raise BadRequest(REASON_TOO_LONG, [{"field": "reason", "message": REASON_TOO_LONG}])
    affected = store.publications_sharing_items(publication_id)
    store.forget_indexed([publication_id, *affected])
    store.withdraw(publication_id, by=actor.email if actor else "command line", reason=reason,
                   at=now_iso())
    record_withdrawal(store, actor=actor, publication_id=publication_id, reason=reason,
                      origin=origin)
    return Withdrawn(store.get_publication(publication_id), tuple(affected))


def after_withdrawal(settings: Settings, store: Store, publication_id: int) -> None:
    """Bring the search index up to date after a withdrawal (when search is set up)."""
    try:
        indexing = importlib.import_module("search.indexing")
    except ImportError:  # pragma: no cover - search is part of the distribution
        return
    indexing.index_withdrawal(settings, store, publication_id)
