"""Reading items back: by URN (a version, or the latest), by reference, by publication,
and following references backwards.

"Current" means: the highest version of an Agency+ID among publications not withdrawn
(the latest publication wins a tie). A withdrawn version stays resolvable by its URN.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
)

from catalogue.codec import decode_item, decode_name_and_label
from catalogue.model import Identity, Reference, parse_urn
from catalogue.store.records import ItemVersion, ListedItem, StoredItem
from catalogue.store.tables import edges, items, publications
from ddi_schemas.profile import RefTarget

if TYPE_CHECKING:
    from sqlalchemy import Engine

_ITEM_COLUMNS = (
    items.c.pk, items.c.publication_id, items.c.agency, items.c.item_id, items.c.version,
    items.c.kind, items.c.element, items.c.versionable, items.c.parent_agency, items.c.parent_id,
    items.c.parent_version, items.c.data, publications.c.published_at,
    publications.c.withdrawn_at,
)
_JOINED = items.join(publications, publications.c.id == items.c.publication_id)
_CHUNK = 500


def _parent(agency: str | None, id_: str, version: str) -> Identity | None:
    """The identity of the item a row's item was published in, when it has one (the
    three parent columns are set together)."""
    return Identity(agency, id_, version) if agency else None


def _stored(row: Any) -> StoredItem:
    """The item of a row of :func:`_base` (its columns are :data:`_ITEM_COLUMNS`, in that
    order). Unpacked by position: reading 14 columns by name took a fifth of the time of
    decoding an item, which indexing does for every variable, question and code list."""
    (pk, publication_id, agency, item_id, version, kind, element, versionable,
     parent_agency, parent_id, parent_version, data, published_at, withdrawn_at) = row
    item = decode_item(kind, Identity(agency, item_id, version), element, data,
                       _parent(parent_agency, parent_id, parent_version))
    return StoredItem(pk=pk, publication_id=publication_id, item=item,
                      published_at=published_at, withdrawn=withdrawn_at is not None,
                      versionable=versionable)


def _listed(row: Any) -> ListedItem:
    name, label = decode_name_and_label(row.data)
    return ListedItem(row.pk, row.publication_id, Identity(row.agency, row.item_id, row.version),
                      row.kind, name, label,
                      _parent(row.parent_agency, row.parent_id, row.parent_version))


def _version(row: Any) -> ItemVersion:
    return ItemVersion(row.version, row.publication_id, row.published_at,
                       row.withdrawn_at is not None, row.pk)


def _base() -> Select[Any]:
    return select(*_ITEM_COLUMNS).select_from(_JOINED).where(
        publications.c.complete.is_(True))


_STATEMENTS: dict[Hashable, Select[Any]] = {}


def _prepared(key: Hashable, build: Callable[..., Select[Any]], *args: Any) -> Select[Any]:
    """The statement of one shape, built once, its values given at execution as bound
    parameters: building a statement costs SQLAlchemy about a millisecond, more than
    SQLite takes to run an indexed query, and the web pages run several per request."""
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build(*args)
    return statement


def _identities_param(keys: Iterable[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
    """The bound parameters of :func:`_identity_in_params` for ``keys``: how many agencies,
    and for the n-th, its name (``agency_n``) and its IDs (``ids_n``)."""
    by_agency: dict[str, list[str]] = {}
    for agency, item_id in keys:
        by_agency.setdefault(agency, []).append(item_id)
    params: dict[str, Any] = {}
    for n, (agency, ids) in enumerate(sorted(by_agency.items())):
        params[f"agency_{n}"], params[f"ids_{n}"] = agency, ids
    return len(by_agency), params


def _identity_in_params(agencies: int) -> ColumnElement[bool]:
    """SQL condition: (agency, item_id) is one of the keys given as the parameters of
    :func:`_identities_param`, for ``agencies`` agencies.

    Written as ``agency = ? AND item_id IN (...)`` per agency, OR-ed: SQLite does not use
    ``ix_items_identity`` for a row-value ``(agency, item_id) IN (VALUES ...)`` and scanned
    the whole items table instead (0.6 s per call with 200,000 variables, against 20 ms).
    """
    return or_(*(and_(items.c.agency == bindparam(f"agency_{n}"),
                      items.c.item_id.in_(bindparam(f"ids_{n}", expanding=True)))
                 for n in range(agencies)))


def _resolve_many_query(agencies: int) -> Select[Any]:
    return _newest_first(_base().where(_identity_in_params(agencies)))


def _held_contents_query(agencies: int) -> Select[Any]:
    return (select(items.c.agency, items.c.item_id, items.c.version, items.c.content_hash,
                   items.c.publication_id)
            .select_from(_JOINED)
            .where(_identity_in_params(agencies), publications.c.complete.is_(True))
            .order_by(items.c.publication_id))


def _versions_held_query(agencies: int) -> Select[Any]:
    return select(items.c.agency, items.c.item_id, items.c.version,
                  items.c.versionable).where(_identity_in_params(agencies))


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(
        publications.c.withdrawn_at.is_not(None),  # live versions before withdrawn ones
        items.c.version_key.desc(), items.c.publication_id.desc())


def _superseded_condition() -> Any:
    """SQL condition: a newer live version of the same Agency+ID exists. Built once
    (:data:`_SUPERSEDED`): making its aliases cost 3 ms a query."""
    newer, newer_pub = items.alias("newer"), publications.alias("newer_pub")
    return exists(
        select(newer.c.pk).select_from(newer.join(
            newer_pub, newer_pub.c.id == newer.c.publication_id)).where(
            newer.c.agency == items.c.agency, newer.c.item_id == items.c.item_id,
            newer_pub.c.withdrawn_at.is_(None), newer_pub.c.complete.is_(True),
            or_(newer.c.version_key > items.c.version_key,
                and_(newer.c.version_key == items.c.version_key,
                     newer.c.publication_id > items.c.publication_id))))


_SUPERSEDED = _superseded_condition()


def agencies_elsewhere(conn: Connection, publication_id: int) -> tuple[set[str], list[int]]:
    """The agencies of the items of every complete publication but ``publication_id``
    (withdrawn ones included), and the ids of the incomplete ones, whose agencies are
    recorded only when they complete."""
    agencies: set[str] = set()
    incomplete: list[int] = []
    query = select(publications.c.id, publications.c.agencies, publications.c.complete).where(
        publications.c.id != publication_id)
    for other, listed, complete in conn.execute(query):
        if complete:
            agencies.update(listed.split())
        else:
            incomplete.append(other)
    return agencies, incomplete


def plain_agencies(agencies: Iterable[str]) -> set[str] | None:
    """``agencies`` as a set when each is one word, as the space-separated ``agencies``
    column keeps them; else None: such a set cannot be compared with the column's."""
    found = set(agencies)
    return found if all(a and a.split() == [a] for a in found) else None


def _alone(conn: Connection, publication_id: int) -> bool:
    """Whether no other complete publication has an item of an agency this one's items
    have: then none holds a version of an Agency+ID of this one, and the queries that
    join its items to other versions (a second for 100,000 variables) have nothing to
    find. The common case of a cohort's first publication."""
    listed = conn.execute(select(publications.c.agencies).where(
        publications.c.id == publication_id)).scalar()
    if not listed or " ".join(listed.split()) != listed:
        return False  # no items, or a column not written by this version: ask
    elsewhere, _incomplete = agencies_elsewhere(conn, publication_id)
    return not set(listed.split()) & elsewhere


class ItemQueries:
    engine: Engine

    def get_item(self, urn: str) -> StoredItem | None:
        """The item a URN names: that version, or the current one when the URN has no
        version. Withdrawn versions are returned (flagged) only when nothing live is."""
        parts = parse_urn(urn)
        if parts is None:
            return None
        return self.find(parts.agency, parts.id, parts.version)

    def find(self, agency: str, id_: str, version: str | None) -> StoredItem | None:
        def build() -> Select[Any]:
            query = _base().where(items.c.agency == bindparam("agency"),
                                  items.c.item_id == bindparam("item_id"))
            if version is not None:
                query = query.where(items.c.version == bindparam("version"))
            return _newest_first(query).limit(1)

        query = _prepared(("find", version is None), build)
        with self.engine.connect() as conn:
            row = conn.execute(query, {"agency": agency, "item_id": id_,
                                       "version": version}).first()
        return _stored(row) if row is not None else None

    def find_with_versions(self, agency: str, id_: str, version: str | None
                           ) -> tuple[StoredItem | None, list[ItemVersion]]:
        """:meth:`find` and :meth:`versions` in one round trip (an item page wants both)."""
        query = _prepared("find_with_versions", lambda: (
            _base().where(items.c.agency == bindparam("agency"),
                          items.c.item_id == bindparam("item_id"))
            .order_by(items.c.version_key.desc(), items.c.publication_id.desc())))
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"agency": agency, "item_id": id_}).all()
        listed = [_version(r) for r in rows]
        matching = [r for r in rows if version is None or r.version == version]
        # as find(): live versions before withdrawn ones, then newest first
        chosen = next((r for r in matching if r.withdrawn_at is None),
                      matching[0] if matching else None)
        return (_stored(chosen) if chosen is not None else None), listed

    def resolve(self, ref: Reference) -> StoredItem | None:
        """Follow a reference: the exact version when it exists, else (identifiable
        children are often referenced with their parent's version) the current one."""
        found = self.find(ref.agency, ref.id, ref.version)
        if found is None and ref.version is not None:
            latest = self.find(ref.agency, ref.id, None)
            if latest is not None and not latest.versionable:
                return latest
        return found

    def resolve_many(self, refs: Iterable[Reference]) -> dict[tuple[str, str, str | None],
                                                             StoredItem]:
        """Resolve several references at once (same rules as :meth:`resolve`)."""
        refs = list(refs)  # may be a generator: it is read twice below
        wanted = {(r.agency, r.id) for r in refs}
        by_key: dict[tuple[str, str], list[StoredItem]] = {}
        keys = sorted(wanted)
        with self.engine.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                agencies, params = _identities_param(keys[start:start + _CHUNK])
                query = _prepared(("resolve_many", agencies), _resolve_many_query, agencies)
                for row in conn.execute(query, params):
                    by_key.setdefault((row.agency, row.item_id), []).append(_stored(row))
        out: dict[tuple[str, str, str | None], StoredItem] = {}
        for ref in refs:
            candidates = by_key.get((ref.agency, ref.id))
            if not candidates:
                continue
            exact = next((c for c in candidates if c.item.identity.version == ref.version),
                         None)
            if exact is None and ref.version is not None and candidates[0].versionable:
                continue  # that version of a versionable is not published
            out[(ref.agency, ref.id, ref.version)] = exact or candidates[0]
        return out

    def versions(self, agency: str, id_: str) -> list[ItemVersion]:
        query = _prepared("versions", lambda: (
            select(items.c.version, items.c.publication_id, items.c.pk,
                   publications.c.published_at, publications.c.withdrawn_at)
            .select_from(_JOINED)
            .where(items.c.agency == bindparam("agency"), items.c.item_id == bindparam("item_id"),
                   publications.c.complete.is_(True))
            .order_by(items.c.version_key.desc(), items.c.publication_id.desc())))
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(query, {"agency": agency,
                                                               "item_id": id_})]

    def construct_links(self, publication_id: int
                        ) -> Iterator[tuple[str, str, str, str, str]]:
        """(agency, ID, version of the holder; agency, ID of the target) of every reference
        that makes up the questionnaires of a publication: the children, branches and
        questions of its control constructs and instruments."""
        query = (select(items.c.agency, items.c.item_id, items.c.version, edges.c.to_agency,
                        edges.c.to_id)
                 .select_from(items.join(edges, edges.c.from_pk == items.c.pk))
                 .where(items.c.publication_id == publication_id,
                        items.c.kind.in_(("ControlConstruct", "Instrument")),
                        edges.c.role.in_(("child", "then", "else", "question"))))
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield row.agency, row.item_id, row.version, row.to_agency, row.to_id

    def held_contents(self, keys: Sequence[tuple[str, str, str]]
                      ) -> dict[tuple[str, str, str], tuple[str, int]]:
        """For the (agency, ID, version) the catalogue already holds: the content hash and
        the first publication holding it (withdrawn ones included: a version never
        changes, even once withdrawn)."""
        wanted = set(keys)
        found: dict[tuple[str, str, str], tuple[str, int]] = {}
        pairs = sorted({(a, i) for a, i, _ in wanted})
        with self.engine.connect() as conn:
            for start in range(0, len(pairs), _CHUNK):
                agencies, params = _identities_param(pairs[start:start + _CHUNK])
                query = _prepared(("held_contents", agencies), _held_contents_query, agencies)
                for agency, item_id, version, digest, publication_id in conn.execute(
                        query, params):
                    key = (agency, item_id, version)
                    if key in wanted and key not in found:
                        found[key] = (digest, publication_id)
        return found

    def published_versions(self, agency: str) -> dict[str, int]:
        """The highest whole-number version (its first part) ever published for each ID of
        ``agency``, withdrawn publications included: versions a new one must not reuse."""
        query = select(items.c.item_id, items.c.version).where(items.c.agency == agency)
        highest: dict[str, int] = {}
        with self.engine.connect() as conn:
            for item_id, version in conn.execute(query):
                head = version.split(".", 1)[0]
                if head.isdigit():
                    number = int(head)
                    if number > highest.get(item_id, 0):
                        highest[item_id] = number
        return highest

    def is_current(self, stored: StoredItem) -> bool:
        query = select(_SUPERSEDED).select_from(items).where(items.c.pk == stored.pk)
        with self.engine.connect() as conn:
            return not stored.withdrawn and not conn.execute(query).scalar()

    def items_of_publication(self, publication_id: int,
                             kinds: Sequence[str] | None = None, *,
                             keys: tuple[int, int] | None = None) -> Iterator[StoredItem]:
        """The publication's items in key order; with ``keys``, only those whose key is
        in that inclusive range (see :meth:`item_keys`)."""
        query = _base().where(items.c.publication_id == publication_id)
        if kinds:
            query = query.where(items.c.kind.in_(kinds))
        if keys is not None:
            query = query.where(items.c.pk.between(*keys))
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(items.c.pk)):
                yield _stored(row)

    def item_keys(self, publication_id: int, kinds: Sequence[str]) -> list[int]:
        """The keys of the publication's items of these kinds, in order: a way to split
        them into ranges read apart."""
        query = (select(items.c.pk)
                 .where(items.c.publication_id == publication_id, items.c.kind.in_(kinds))
                 .order_by(items.c.pk))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def item_count(self, publication_id: int, kinds: Sequence[str]) -> int:
        """How many items of these kinds the publication holds (what :meth:`item_keys`
        would list, without listing them)."""
        query = (select(func.count()).select_from(items)
                 .where(items.c.publication_id == publication_id, items.c.kind.in_(kinds)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def current_items(self, kinds: Sequence[str]) -> Iterator[StoredItem]:
        """The current version of every item of these kinds, live publications only."""
        query = _base().where(items.c.kind.in_(kinds), publications.c.withdrawn_at.is_(None),
                              ~_SUPERSEDED)
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(items.c.pk)):
                yield _stored(row)

    def current_items_of_publication(self, publication_id: int) -> Iterator[StoredItem]:
        """The items of one publication that are current (none if it is withdrawn)."""
        query = _base().where(items.c.publication_id == publication_id,
                              publications.c.withdrawn_at.is_(None), ~_SUPERSEDED)
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(items.c.pk)):
                yield _stored(row)

    def all_items_current(self, publication_id: int) -> bool:
        """Whether every item of the publication is current: it is complete and live, and
        no other version supersedes any of its items (so for a new publication, as a
        rule). One row at most comes back: with 630,000 items, 1.3 s against 5.3 s for
        :meth:`current_urns_of_publication`, most of it making their URNs."""
        live = select(publications.c.id).where(publications.c.id == publication_id,
                                               publications.c.complete.is_(True),
                                               publications.c.withdrawn_at.is_(None))
        superseded = select(items.c.pk).where(items.c.publication_id == publication_id,
                                              _SUPERSEDED).limit(1)
        with self.engine.connect() as conn:
            return (conn.execute(live).first() is not None
                    and (_alone(conn, publication_id)
                         or conn.execute(superseded).first() is None))

    def current_urns_of_publication(self, publication_id: int) -> set[str]:
        """URNs of the publication's current items, without reading their content."""
        query = (select(items.c.agency, items.c.item_id, items.c.version)
                 .select_from(_JOINED)
                 .where(items.c.publication_id == publication_id,
                        publications.c.complete.is_(True),
                        publications.c.withdrawn_at.is_(None), ~_SUPERSEDED))
        with self.engine.connect() as conn:
            return {f"urn:ddi:{r.agency}:{r.item_id}:{r.version}" for r in conn.execute(query)}

    def publications_superseded_by(self, publication_id: int) -> list[int]:
        """Earlier publications holding items that this publication's items supersede."""
        old, old_pub = items.alias("old"), publications.alias("old_pub")
        query = (select(old.c.publication_id).distinct()
                 .select_from(items.join(old, and_(
                     old.c.agency == items.c.agency, old.c.item_id == items.c.item_id,
                     old.c.publication_id < items.c.publication_id,
                     old.c.version_key <= items.c.version_key)).join(
                     old_pub, old_pub.c.id == old.c.publication_id))
                 .where(items.c.publication_id == publication_id,
                        old_pub.c.complete.is_(True)))
        with self.engine.connect() as conn:
            if _alone(conn, publication_id):
                return []
            return sorted(conn.execute(query).scalars())

    def publications_sharing_items(self, publication_id: int) -> list[int]:
        """Other publications holding a version of an Agency+ID this one holds (whose
        items become current again, or stop being, when this one is withdrawn)."""
        other, other_pub = items.alias("other"), publications.alias("other_pub")
        query = (select(other.c.publication_id).distinct()
                 .select_from(items.join(other, and_(
                     other.c.agency == items.c.agency, other.c.item_id == items.c.item_id,
                     other.c.publication_id != items.c.publication_id)).join(
                     other_pub, other_pub.c.id == other.c.publication_id))
                 .where(items.c.publication_id == publication_id,
                        other_pub.c.complete.is_(True)))
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def superseded_by(self, publication_id: int) -> list[str]:
        """URNs of items in other publications that this publication's items supersede
        (same Agency+ID, same or lower version, older publication)."""
        old, old_pub = items.alias("old"), publications.alias("old_pub")
        query = (select(old.c.agency, old.c.item_id, old.c.version).distinct()
                 .select_from(items.join(old, and_(
                     old.c.agency == items.c.agency, old.c.item_id == items.c.item_id,
                     old.c.publication_id != items.c.publication_id,
                     old.c.version_key <= items.c.version_key)).join(
                     old_pub, old_pub.c.id == old.c.publication_id))
                 .where(items.c.publication_id == publication_id,
                        old_pub.c.id < publication_id, old_pub.c.complete.is_(True)))
        with self.engine.connect() as conn:
            if _alone(conn, publication_id):
                return []
            return [Identity(r.agency, r.item_id, r.version).urn for r in conn.execute(query)]

    def children(self, parent: Identity, kinds: Sequence[str] | None = None
                 ) -> list[StoredItem]:
        """Items published inline inside ``parent`` (its current copies)."""
        query = _base().where(items.c.parent_agency == parent.agency,
                              items.c.parent_id == parent.id,
                              items.c.parent_version == parent.version)
        if kinds:
            query = query.where(items.c.kind.in_(kinds))
        with self.engine.connect() as conn:
            rows = conn.execute(_newest_first(query)).all()
        seen: set[Identity] = set()
        out = []
        for row in rows:
            stored = _stored(row)
            if stored.item.identity not in seen:
                seen.add(stored.item.identity)
                out.append(stored)
        return sorted(out, key=lambda s: s.pk)

    def referrers(self, target: Identity, *, roles: Sequence[str] | None = None,
                  kinds: Sequence[str] | None = None, current_only: bool = True
                  ) -> list[StoredItem]:
        """Items whose references point at ``target`` (any version of its Agency+ID
        when the reference has no version, else that version)."""
        return [_stored(row) for row in self._referrer_rows(target, roles, kinds,
                                                             current_only)]

    def listed_referrers(self, target: Identity, *, roles: Sequence[str] | None = None,
                         kinds: Sequence[str] | None = None) -> list[ListedItem]:
        """The current items :meth:`referrers` gives, as a page lists them: identity,
        name, label and parent only, which is a fraction of the cost of decoding them
        (a question's page lists its variables of every wave)."""
        return [_listed(row) for row in self._referrer_rows(target, roles, kinds, True)]

    def _referrer_rows(self, target: Identity, roles: Sequence[str] | None,
                       kinds: Sequence[str] | None, current_only: bool) -> list[Any]:
        def build() -> Select[Any]:
            query = (_base().join(edges, edges.c.from_pk == items.c.pk)
                     .where(edges.c.to_agency == bindparam("agency"),
                            edges.c.to_id == bindparam("item_id"),
                            or_(edges.c.to_version.is_(None),
                                edges.c.to_version == bindparam("version"))))
            if roles:
                query = query.where(edges.c.role.in_(bindparam("roles", expanding=True)))
            if kinds:
                query = query.where(items.c.kind.in_(bindparam("kinds", expanding=True)))
            if current_only:
                query = query.where(publications.c.withdrawn_at.is_(None), ~_SUPERSEDED)
            return query.distinct().order_by(items.c.pk)

        query = _prepared(("referrers", bool(roles), bool(kinds), current_only), build)
        params: dict[str, Any] = {"agency": target.agency, "item_id": target.id,
                                  "version": target.version}
        if roles:
            params["roles"] = list(roles)
        if kinds:
            params["kinds"] = list(kinds)
        with self.engine.connect() as conn:
            return list(conn.execute(query, params).all())

    def existing_targets(self, targets: Sequence[RefTarget]) -> set[RefTarget]:
        """The reference targets the catalogue can resolve (withdrawn versions included:
        they stay resolvable by URN)."""
        found: set[RefTarget] = set()
        keys = sorted({(t.agency, t.id) for t in targets})
        versions: dict[tuple[str, str], set[str]] = {}
        identifiable_only: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                agencies, params = _identities_param(keys[start:start + _CHUNK])
                query = _prepared(("existing_targets", agencies), _versions_held_query,
                                  agencies)
                for row in conn.execute(query, params):
                    key = (row.agency, row.item_id)
                    versions.setdefault(key, set()).add(row.version)
                    if not row.versionable:
                        identifiable_only.add(key)
        for target in targets:
            key = (target.agency, target.id)
            known = versions.get(key)
            if known and (target.version is None or target.version in known
                          or key in identifiable_only):
                found.add(target)
        return found

    def item_xml(self, pk: int) -> bytes | None:
        with self.engine.connect() as conn:
            blob = conn.execute(select(items.c.xml).where(items.c.pk == pk)).scalar_one_or_none()
        return zlib.decompress(blob) if blob is not None else None

