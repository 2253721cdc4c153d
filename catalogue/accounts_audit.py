"""The audit trail: one append-only record of security-relevant events.

Who (the signed-in account, or none), when, what (an action such as ``sign_in.failed``),
on what (a target: an e-mail, a cohort, a publication, a request), from where (client
address and user agent, or the command line) and details. Modules call :func:`record`
or one of the named helpers below; administrators read it on the web and export it as
CSV (web and ``catalogue admin audit``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from catalogue.accounts_model import AuditEntry, AuditFilter, Origin, User, iso, utc_now

if TYPE_CHECKING:
    from catalogue.store import Store

#: The actions written by the catalogue itself (others may add their own, dotted).
ACTIONS = (
    "account.created", "account.confirmed", "account.updated", "account.disabled",
    "account.enabled", "password.changed", "password.reset", "password.reset_requested",
    "sign_in", "sign_in.failed", "sign_in.throttled", "sign_out",
    "session.invalid_cookie", "csrf.refused", "access.denied",
    "role.granted", "role.revoked", "cohort.registered", "cohort.updated",
    "publication.published", "publication.refused", "publication.withdrawn",
    "publication.withdrawal_refused",
    "request.transition",
)

CSV_COLUMNS = ("id", "at", "actor_id", "actor_email", "action", "target", "client",
               "user_agent", "details")

Actor = User | str | None


#: The ids of the entries written in the current scope (a web request), when one is open.
_SCOPE: ContextVar[list[int] | None] = ContextVar("catalogue_audit_scope", default=None)


@contextmanager
def audit_scope(written: list[int] | None = None) -> Iterator[list[int]]:
    """Collect in ``written`` the ids of the entries written inside the block (and in
    threads it starts): the web layer writes its generic ``access.denied`` for a 403
    only when the code that refused wrote nothing more precise."""
    written = [] if written is None else written
    token = _SCOPE.set(written)
    try:
        yield written
    finally:
        _SCOPE.reset(token)


def record(store: Store, action: str, *, actor: Actor, target: str = "",
           origin: Origin | None = None, details: Mapping[str, Any] | None = None) -> int:
    """Append one entry and return its id. ``actor`` is the account acting, an e-mail
    when only that is known (a failed sign-in names the address tried in ``target``,
    not here), or None for the system and anonymous visitors."""
    origin = origin or Origin()
    actor_id = actor.id if isinstance(actor, User) else None
    actor_email = actor.email if isinstance(actor, User) else actor
    entry_id = store.add_audit(at=iso(utc_now()), actor_id=actor_id, actor_email=actor_email,
                               action=action, target=target, client=origin.client,
                               user_agent=origin.user_agent, details=dict(details or {}))
    written = _SCOPE.get()
    if written is not None:
        written.append(entry_id)
    return entry_id


def record_publication(store: Store, *, actor: Actor, publication_ids: Sequence[int],
                       origin: Origin, lenient: bool = False,
                       files: Sequence[str] = ()) -> None:
    """After a publication is committed (CLI or web upload): one entry per publication,
    naming its URN and agencies."""
    for pid in publication_ids:
        pub = store.get_publication(pid)
        record(store, "publication.published", actor=actor, target=f"publication:{pid}",
               origin=origin, details={"urn": pub.urn, "file": pub.file_name,
                                       "agencies": list(pub.agencies), "sha256": pub.sha256,
                                       "lenient": lenient or pub.lenient,
                                       **({"files": list(files)} if files else {})})


def record_publication_refused(store: Store, *, actor: Actor, agencies: Iterable[str],
                               reason: str, origin: Origin) -> None:
    """A publisher tried to publish what they may not (the permission refusal)."""
    record(store, "publication.refused", actor=actor, target="agencies:" + " ".join(
        sorted(agencies)), origin=origin, details={"reason": reason})


def record_withdrawal(store: Store, *, actor: Actor, publication_id: int, reason: str,
                      origin: Origin) -> None:
    record(store, "publication.withdrawn", actor=actor, target=f"publication:{publication_id}",
           origin=origin, details={"reason": reason})


def record_request_transition(store: Store, *, actor: Actor, request_id: int | str,
                              cohort: str, from_state: str, to_state: str, origin: Origin,
                              comment: str = "", **details: Any) -> None:
    """An access request moved (draft -> submitted -> under review -> ...); ``comment``
    is why, as given by the reviewer or applicant."""
    record(store, "request.transition", actor=actor, target=f"request:{request_id}",
           origin=origin, details={"cohort": cohort, "from": from_state, "to": to_state,
                                   "comment": comment, **details})


def entry_row(entry: AuditEntry) -> list[str]:
    return [str(entry.id), entry.at, "" if entry.actor_id is None else str(entry.actor_id),
            entry.actor_email or "", entry.action, entry.target, entry.client,
            entry.user_agent, json.dumps(dict(entry.details), ensure_ascii=False,
                                         sort_keys=True)]


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells that start with these as formulas; the trail holds text that
    # visitors typed (an e-mail tried at sign-in, a user agent).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv(store: Store, where: AuditFilter | None = None) -> Iterator[str]:
    """The matching entries as CSV text, oldest first, a chunk of lines at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in store.iter_audit(where or AuditFilter()):
        writer.writerow([_csv_safe(v) for v in entry_row(entry)])
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
