"""The basket: the variables a researcher picks while browsing, on the way to an access
request.

A basket belongs to a signed-in account (:meth:`BasketKey.of_user`) or to an anonymous
visitor identified by a random token that the web keeps in a cookie
(:meth:`BasketKey.anonymous`; the store keeps only its SHA-256). On sign-in,
:func:`attach_basket` merges the anonymous basket into the account's.

Entries are Agency + ID + Version: a variable added by a URN without version gets the
current one, and keeps that version until the researcher adds it again. What a basket
shows (names, labels, cohorts, waves, access levels, newer versions) is read from the
catalogue by :func:`basket_contents`.

Every change is one transaction: either all the variables named are added (removed) or,
when one of them cannot be, none is and the error lists each culprit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from catalogue.accounts_model import iso, utc_now
from catalogue.browse import Catalogue
from catalogue.errors import BadRequest, NotFound
from catalogue.model import Concept, Identity, Question, Study, Variable, parse_urn
from catalogue.requests_model import LIMITS
from catalogue.requests_selection import (
    CohortSelection,
    Selected,
    SelectedVariable,
    describe_selection,
)
from catalogue.store.records import StoredItem
from catalogue.store.requests import BasketEntry

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class BasketKey:
    """Whose basket: exactly one of an anonymous token and an account id."""

    token: str | None = None
    user_id: int | None = None

    def __post_init__(self) -> None:
        if (self.token is None) == (self.user_id is None):
            raise ValueError("a basket key has exactly one of token and user_id")

    @staticmethod
    def anonymous(token: str) -> BasketKey:
        if not is_basket_token(token):
            raise BadRequest("the basket token is malformed: start a new basket")
        return BasketKey(token=token)

    @staticmethod
    def of_user(user_id: int) -> BasketKey:
        return BasketKey(user_id=user_id)


@dataclass(frozen=True, slots=True)
class BasketChange:
    """What an add or remove did, by versioned URN."""

    added: tuple[str, ...] = ()
    #: already there at another version, now at the version given
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Basket:
    cohorts: tuple[CohortSelection, ...]

    @property
    def variables(self) -> tuple[SelectedVariable, ...]:
        return tuple(v for c in self.cohorts for v in c.variables)

    @property
    def count(self) -> int:
        return sum(c.count for c in self.cohorts)

    @property
    def casd_count(self) -> int:
        return sum(c.casd_count for c in self.cohorts)

    @property
    def casd_required(self) -> bool:
        return self.casd_count > 0

    @property
    def drifted(self) -> tuple[SelectedVariable, ...]:
        return tuple(v for c in self.cohorts for v in c.drifted)


@dataclass(frozen=True, slots=True)
class Attached:
    moved: int
    #: entries left out because the merged basket would exceed the limit
    dropped: int = 0


def new_basket_token() -> str:
    return secrets.token_urlsafe(32)


def is_basket_token(value: str) -> bool:
    return bool(_TOKEN.match(value))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def ensure_anonymous_basket(catalogue: Catalogue, token: str | None) -> str:
    """The token of an existing anonymous basket: ``token`` when it names one, else a
    new basket's (a missing, malformed or unknown cookie starts afresh; a token chosen
    by someone else is never adopted). The web sets the cookie when it changed."""
    store = catalogue.store
    if token is not None and is_basket_token(token):
        if store.basket_id(token_hash=_hash(token)) is not None:
            return token
    fresh = new_basket_token()
    with store.transaction() as conn:
        store.create_basket(conn, at=iso(utc_now()), token_hash=_hash(fresh))
    return fresh


def _basket_id(catalogue: Catalogue, key: BasketKey, conn: Connection | None = None,
               *, create: bool = False) -> int | None:
    store = catalogue.store
    if key.token is not None:
        found = store.basket_id(token_hash=_hash(key.token), conn=conn)
        if found is None and create:
            raise NotFound("no basket for this token: start a new basket")
        return found
    assert key.user_id is not None
    found = store.basket_id(user_id=key.user_id, conn=conn)
    if found is None and create:
        assert conn is not None
        found = store.create_basket(conn, at=iso(utc_now()), user_id=key.user_id)
    return found


# -- adding and removing -------------------------------------------------------------------

def add_variables(catalogue: Catalogue, key: BasketKey, urns: Sequence[str]) -> BasketChange:
    """Add variables by URN (with a version: that version; without: the current one)."""
    return _put(catalogue, key, _resolve_variables(catalogue, urns))


def add_question(catalogue: Catalogue, key: BasketKey, question_urn: str) -> BasketChange:
    """Add every current variable measuring a question, across all waves."""
    return _put(catalogue, key, variables_of_question(catalogue, question_urn))


def add_topic(catalogue: Catalogue, key: BasketKey, wave_urn: str,
              topic_urn: str) -> BasketChange:
    """Add every variable of one wave about a topic (a concept)."""
    return _put(catalogue, key, variables_of_topic(catalogue, wave_urn, topic_urn))


def remove_variables(catalogue: Catalogue, key: BasketKey, urns: Sequence[str]
                     ) -> BasketChange:
    """Remove variables by URN; the version does not matter (a basket holds one)."""
    keys = []
    for urn in urns:
        parts = parse_urn(urn)
        if parts is None:
            raise BadRequest(f"{urn!r} is not a DDI URN", [{"field": urn,
                                                           "message": "not a DDI URN"}])
        keys.append((parts.agency, parts.id))
    return _remove(catalogue, key, keys)


def remove_question(catalogue: Catalogue, key: BasketKey, question_urn: str) -> BasketChange:
    found = variables_of_question(catalogue, question_urn)
    return _remove(catalogue, key, [(s.item.identity.agency, s.item.identity.id) for s in found])


def remove_topic(catalogue: Catalogue, key: BasketKey, wave_urn: str,
                 topic_urn: str) -> BasketChange:
    found = variables_of_topic(catalogue, wave_urn, topic_urn)
    return _remove(catalogue, key, [(s.item.identity.agency, s.item.identity.id) for s in found])


def clear_basket(catalogue: Catalogue, key: BasketKey) -> int:
    store = catalogue.store
    with store.transaction() as conn:
        basket_id = _basket_id(catalogue, key, conn)
        if basket_id is None:
            return 0
        entries = store.basket_entries(basket_id, conn)
        return store.delete_basket_entries(conn, basket_id,
                                           [(e.agency, e.item_id) for e in entries])


def _put(catalogue: Catalogue, key: BasketKey, found: Sequence[StoredItem]) -> BasketChange:
    store = catalogue.store
    at = iso(utc_now())
    added: list[str] = []
    replaced: list[str] = []
    unchanged: list[str] = []
    with store.transaction() as conn:
        basket_id = _basket_id(catalogue, key, conn, create=True)
        assert basket_id is not None
        held = {(e.agency, e.item_id): e.version for e in store.basket_entries(basket_id, conn)}
        entries: list[BasketEntry] = []
        for stored in found:
            identity = stored.item.identity
            before = held.get((identity.agency, identity.id))
            if before == identity.version:
                unchanged.append(identity.urn)
                continue
            (added if before is None else replaced).append(identity.urn)
            held[(identity.agency, identity.id)] = identity.version
            entries.append(BasketEntry(identity.agency, identity.id, identity.version, at))
        if len(held) > LIMITS.basket_variables:
            raise BadRequest(f"a basket holds at most {LIMITS.basket_variables} variables; "
                             "send a request for these first or remove some")
        store.put_basket_entries(conn, basket_id, entries, at)
    return BasketChange(added=tuple(added), replaced=tuple(replaced),
                        unchanged=tuple(unchanged))


def _remove(catalogue: Catalogue, key: BasketKey, keys: Iterable[tuple[str, str]]
            ) -> BasketChange:
    store = catalogue.store
    with store.transaction() as conn:
        basket_id = _basket_id(catalogue, key, conn)
        if basket_id is None:
            return BasketChange()
        held = {(e.agency, e.item_id): e.version for e in store.basket_entries(basket_id, conn)}
        gone = [k for k in dict.fromkeys(keys) if k in held]
        store.delete_basket_entries(conn, basket_id, gone)
    return BasketChange(removed=tuple(Identity(a, i, held[(a, i)]).urn for a, i in gone))


# -- what to add ---------------------------------------------------------------------------

def _resolve_variables(catalogue: Catalogue, urns: Sequence[str]) -> list[StoredItem]:
    if len(urns) > LIMITS.basket_variables:
        raise BadRequest(f"add at most {LIMITS.basket_variables} variables at once")
    found: list[StoredItem] = []
    errors: list[dict[str, str]] = []
    for urn in urns:
        parts = parse_urn(urn)
        stored = catalogue.store.get_item(urn) if parts is not None else None
        if parts is None:
            errors.append({"field": urn, "message": "not a DDI URN"})
        elif stored is None:
            errors.append({"field": urn, "message": "not in the catalogue"})
        elif not isinstance(stored.item, Variable):
            errors.append({"field": urn, "message": f"a {stored.item.element}, not a variable"})
        else:
            found.append(stored)
    if errors:
        raise BadRequest("nothing added: " + "; ".join(f"{e['field']}: {e['message']}"
                                                      for e in errors[:5]), errors)
    return found


def _one(catalogue: Catalogue, urn: str, kind: type, what: str) -> StoredItem:
    stored = catalogue.store.get_item(urn) if parse_urn(urn) is not None else None
    if stored is None or not isinstance(stored.item, kind):
        raise NotFound(f"{urn} is not a {what} of the catalogue")
    return stored


def variables_of_question(catalogue: Catalogue, question_urn: str) -> list[StoredItem]:
    """The current variables measuring a question (any of its versions), in every wave."""
    question = _one(catalogue, question_urn, Question, "question")
    identity = question.item.identity
    store = catalogue.store
    seen: dict[Identity, StoredItem] = {}
    for version in store.versions(identity.agency, identity.id):
        target = Identity(identity.agency, identity.id, version.version)
        for stored in store.referrers(target, roles=("question",), kinds=("Variable",)):
            seen.setdefault(stored.item.identity, stored)
    if not seen:
        raise NotFound(f"no variable of the catalogue measures {question_urn}")
    return list(seen.values())


def variables_of_topic(catalogue: Catalogue, wave_urn: str, topic_urn: str
                       ) -> list[StoredItem]:
    """The variables of one wave (a StudyUnit) whose concepts include a topic."""
    wave = _one(catalogue, wave_urn, Study, "wave")
    topic = _one(catalogue, topic_urn, Concept, "topic")
    if wave.item.kind != "StudyUnit":
        raise NotFound(f"{wave_urn} is a cohort, not a wave: name one of its waves")
    wave_key, topic_key = wave.item.identity.key, topic.item.identity.key
    structure = catalogue.structures.get(wave.publication_id)
    variables = list(catalogue.store.items_of_publication(wave.publication_id, ("Variable",)))
    found = [stored for stored, context in zip(
        variables, structure.variable_contexts(variables), strict=True)
        if context.wave is not None and context.wave.study.identity.key == wave_key
        and any(c.identity.key == topic_key for c in context.concepts)]
    if not found:
        raise NotFound(f"no variable of {wave_urn} is about {topic_urn}")
    return found


# -- reading -------------------------------------------------------------------------------

def basket_entries(catalogue: Catalogue, key: BasketKey) -> tuple[Selected, ...]:
    """The basket's variables as Agency + ID + Version, oldest first."""
    basket_id = _basket_id(catalogue, key)
    if basket_id is None:
        return ()
    return tuple(Selected(e.agency, e.item_id, e.version)
                 for e in catalogue.store.basket_entries(basket_id))


def selected_keys(catalogue: Catalogue, key: BasketKey) -> frozenset[str]:
    """``agency:id`` of every variable in the basket (to mark search results)."""
    return frozenset(f"{s.agency}:{s.id}" for s in basket_entries(catalogue, key))


def basket_contents(catalogue: Catalogue, key: BasketKey) -> Basket:
    """The basket grouped by cohort and wave, with counts, access levels and drift."""
    return Basket(describe_selection(catalogue, basket_entries(catalogue, key)))


def attach_basket(catalogue: Catalogue, token: str, user_id: int) -> Attached:
    """On sign-in: move the anonymous basket's variables into the account's basket (for a
    variable in both, the version added last wins) and delete the anonymous basket."""
    if not is_basket_token(token):
        return Attached(0)
    store = catalogue.store
    with store.transaction() as conn:
        anonymous = store.basket_id(token_hash=_hash(token), conn=conn)
        if anonymous is None:
            return Attached(0)
        incoming = store.basket_entries(anonymous, conn)
        mine = _basket_id(catalogue, BasketKey.of_user(user_id), conn, create=True)
        assert mine is not None
        held = {(e.agency, e.item_id): e for e in store.basket_entries(mine, conn)}
        room = LIMITS.basket_variables - len(held)
        moving: list[BasketEntry] = []
        dropped = 0
        for entry in sorted(incoming, key=lambda e: e.added_at, reverse=True):
            current = held.get((entry.agency, entry.item_id))
            if current is not None:
                if entry.added_at >= current.added_at and entry.version != current.version:
                    moving.append(entry)
                continue
            if room <= 0:
                dropped += 1
                continue
            room -= 1
            moving.append(entry)
        store.put_basket_entries(conn, mine, moving, iso(utc_now()))
        store.delete_basket(conn, anonymous)
    return Attached(len(moving), dropped)
