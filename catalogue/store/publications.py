"""Writing a publication and reading publications back.

A publication's rows are committed batch by batch, the publication row marked incomplete:
every query leaves incomplete publications out, so none of it is seen until
:meth:`RowWriter.finish` marks it complete in the last transaction. One long transaction
held SQLite's write lock from the first row to the commit (80 s for 100,000 variables),
and every other write (a visitor's session, a review) waited for it or failed. A
publication that fails has its rows removed (:meth:`PublicationQueries.discard_incomplete`),
and so has one whose process died, by the next publication (see
:meth:`catalogue.store.Store.publishing`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Table, and_, delete, func, select, update

from catalogue.codec import content_hash, encode_item
from catalogue.errors import NotFound
from catalogue.model import Identity, ItemCounts, LangText
from catalogue.reader import ReadItem
from catalogue.store.items import agencies_elsewhere, plain_agencies
from catalogue.store.records import Publication, title_from_json, title_json, version_key
from catalogue.store.tables import edges, index_state, items, publication_sources, publications
from ddi_schemas.findings import Finding

if TYPE_CHECKING:
    from sqlalchemy import Engine

_BATCH = 2000
#: Rows of an incomplete publication removed per transaction.
_DISCARD_CHUNK = 5000
_ITEM_COLUMNS = ("publication_id", "agency", "item_id", "version", "version_key", "kind",
                 "element", "versionable", "name", "parent_agency", "parent_id",
                 "parent_version", "line", "content_hash", "data", "xml")
_EDGE_COLUMNS = ("from_pk", "publication_id", "position", "role", "to_agency", "to_id",
                 "to_version", "type_of_object")
_INSERTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[int] | None]] = {}


def _bulk_insert(conn: Connection, table: Table, columns: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples in ``columns`` order with one DBAPI executemany.

    SQLAlchemy's executemany builds every row's parameters through the compiler (about a
    third of the time of publishing); the statement is compiled once per dialect here, and
    rows go to the driver as they are, positional or named as the driver wants them."""
    key = (conn.dialect.name, table.name, columns)
    cached = _INSERTS.get(key)
    if cached is None:
        compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
        order = ([columns.index(name) for name in compiled.positiontup or ()]
                 if compiled.positional else None)
        cached = _INSERTS[key] = (str(compiled), order)
    sql, order = cached
    params: list[Any]
    if order is None:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    elif order == list(range(len(columns))):
        params = list(rows)
    else:
        params = [tuple(row[i] for i in order) for row in rows]
    conn.exec_driver_sql(sql, params)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Conflict:
    """An identity published in this publication with content other than elsewhere."""

    urn: str
    element: str
    line: int | None
    other_publication: int

    @property
    def path(self) -> str:
        return f"//{self.element}[@ID='{self.urn.split(':')[3]}']"


#: One item as the writer queues it: its row (``_ITEM_COLUMNS`` without the content hash,
#: and the XML fragment not yet compressed) and its references (``_EDGE_COLUMNS`` without
#: the key of the row holding them). Hashing and compressing are left to :class:`RowWriter`,
#: which may run in the writer process (:mod:`catalogue.store.writer_process`).
QueuedItem = tuple[tuple[Any, ...], list[tuple[Any, ...]]]


class Rows(Protocol):
    """Where a :class:`PublicationWriter` sends its rows: a :class:`RowWriter` here, or
    one in the writer process."""

    def start(self, values: dict[str, Any]) -> int: ...

    def add(self, queued: list[QueuedItem]) -> None: ...

    def conflicts(self, publication_id: int, agencies: Sequence[str] | None = None,
                  siblings: Sequence[int] = ()) -> list[Conflict]: ...

    def finish(self, publication_id: int, values: dict[str, Any], source: bytes) -> None: ...


class RowWriter:
    """The SQL of adding publications, on ``conn``. The publication row and each batch of
    rows are committed as they are written (the publication incomplete, so unseen); the
    caller commits :meth:`finish`, or removes what was written (see the module
    docstring)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: The highest item key already matched to its row (None: not read yet)
        self._last_pk: int | None = None
        #: The publications this writer started.
        self.started: list[int] = []

    def start(self, values: dict[str, Any]) -> int:
        result = self.conn.execute(publications.insert().values(
            urn="", title="[]", valid=False, lenient=False, report="[]", complete=False,
            sha256="", **values))
        key = result.inserted_primary_key
        assert key is not None
        publication_id = int(key[0])
        self.started.append(publication_id)
        self.conn.commit()
        return publication_id

    def add(self, queued: list[QueuedItem]) -> None:
        if not queued:
            return
        # One executemany, then one query for the keys the rows got: INSERT ... RETURNING
        # with a guaranteed order runs one statement per row on SQLite. The keys are read
        # as a range of the primary key (the rows this writer inserted since the last
        # call): filtering on the publication instead scans all its earlier rows, which
        # made a 100,000-variable publication quadratic.
        if self._last_pk is None:
            self._last_pk = self.conn.execute(select(func.max(items.c.pk))).scalar() or 0
        _bulk_insert(self.conn, items, _ITEM_COLUMNS, [
            (*row[:-2], content_hash(row[-2]), row[-2],
             zlib.compress(row[-1], 1) if row[-1] is not None else None)
            for row, _ in queued])
        keys: dict[tuple[int, str, str, str], int] = {}
        query = select(items.c.pk, items.c.publication_id, items.c.agency, items.c.item_id,
                       items.c.version).where(items.c.pk > self._last_pk)
        for found in self.conn.execute(query):
            keys[(found.publication_id, found.agency, found.item_id, found.version)] = found.pk
            self._last_pk = max(self._last_pk, found.pk)
        edge_rows: list[tuple[Any, ...]] = []
        for row, refs in queued:
            pk = keys[(row[0], row[1], row[2], row[3])]
            edge_rows.extend((pk, *ref) for ref in refs)
        if edge_rows:
            _bulk_insert(self.conn, edges, _EDGE_COLUMNS, edge_rows)
        self.conn.commit()

    def conflicts(self, publication_id: int, agencies: Sequence[str] | None = None,
                  siblings: Sequence[int] = ()) -> list[Conflict]:
        """Identities of this publication held by another one with other content. With
        ``agencies`` (those of its items), none when no other publication has an item of
        one of them; ``siblings`` are the incomplete publications of the batch, already
        found to share none (their agencies are not recorded yet)."""
        if agencies is not None:
            elsewhere, incomplete = agencies_elsewhere(self.conn, publication_id)
            if not set(agencies) & elsewhere and set(incomplete) <= set(siblings):
                return []
        new, old = items.alias("new"), items.alias("old")
        query = (
            select(new.c.agency, new.c.item_id, new.c.version, new.c.element, new.c.line,
                   func.min(old.c.publication_id).label("other"))
            .select_from(new.join(old, and_(
                old.c.agency == new.c.agency, old.c.item_id == new.c.item_id,
                old.c.version_key == new.c.version_key, old.c.version == new.c.version,
                old.c.publication_id != new.c.publication_id,
                old.c.content_hash != new.c.content_hash)))
            .where(new.c.publication_id == publication_id)
            .group_by(new.c.agency, new.c.item_id, new.c.version, new.c.element, new.c.line)
        )
        return [Conflict(Identity(r.agency, r.item_id, r.version).urn, r.element, r.line,
                         r.other) for r in self.conn.execute(query)]

    def finish(self, publication_id: int, values: dict[str, Any], source: bytes) -> None:
        """Keep the file as published and mark the publication complete, in a transaction
        the caller commits (after every publication of the batch is finished)."""
        self.conn.execute(publication_sources.insert().values(
            publication_id=publication_id, source=source))
        self.conn.execute(update(publications).where(publications.c.id == publication_id)
                          .values(complete=True, **values))


class PublicationWriter:
    """Adds new publications, item by item, through :class:`Rows` whose transaction is
    open (see :meth:`catalogue.store.Store.publishing`)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self._pending: list[QueuedItem] = []
        self._seen: dict[int, set[tuple[str, str, str]]] = {}
        self._counts: dict[int, dict[str, set[tuple[str, str, str]]]] = {}
        self._agencies: dict[int, set[str]] = {}

    def start(self, *, file_name: str, ddi_version: str, root: str, published_at: str,
              published_by: str | None, source_size: int) -> int:
        """A new publication, its file and that file's SHA-256 given to :meth:`finish`."""
        publication_id = self.rows.start(
            {"file_name": file_name, "ddi_version": ddi_version, "root": root,
             "published_at": published_at, "published_by": published_by,
             "source_size": source_size})
        self._seen[publication_id] = set()
        self._counts[publication_id] = {}
        self._agencies[publication_id] = set()
        return publication_id

    def add(self, publication_id: int, read: ReadItem) -> bool:
        """Queue an item; False (and nothing stored) when this publication already has
        that identity: the first copy in a file is the one kept."""
        item = read.item
        ident = item.identity
        key = (ident.agency, ident.id, ident.version)
        seen = self._seen[publication_id]
        if key in seen:
            return False
        seen.add(key)
        self._counts[publication_id].setdefault(item.kind, set()).add(key)
        self._agencies[publication_id].add(ident.agency)
        data = read.data if read.data is not None else encode_item(item)
        parent = item.parent
        location = item.location
        row = (
            publication_id, ident.agency, ident.id, ident.version,
            version_key(ident.version), item.kind, item.element, read.versionable,
            item.name[:512], parent.agency if parent else None, parent.id if parent else None,
            parent.version if parent else None, location.line if location else None,
            data, read.xml,
        )
        refs = [(publication_id, position, ref.role, ref.agency, ref.id, ref.version,
                 ref.type_of_object) for position, ref in enumerate(item.references)]
        self._pending.append((row, refs))
        if len(self._pending) >= _BATCH:
            self.flush()
        return True

    def flush(self) -> None:
        if self._pending:
            self.rows.add(self._pending)
            self._pending = []

    @property
    def publication_ids(self) -> list[int]:
        """The publications started by this writer."""
        return list(self._seen)

    def counts(self, publication_id: int) -> ItemCounts:
        by_kind = self._counts[publication_id]
        return ItemCounts(
            variables=len(by_kind.get("Variable", ())),
            questions=len(by_kind.get("Question", ())),
            code_lists=len(by_kind.get("CodeList", ())),
            categories=len(by_kind.get("Category", ())),
            concepts=len(by_kind.get("Concept", ())),
        )

    def conflicts(self, publication_id: int) -> list[Conflict]:
        """Identities this publication shares with another one, content differing."""
        self.flush()
        mine = plain_agencies(self._agencies[publication_id])
        siblings = [other for other in self._agencies if other != publication_id]
        if mine is None or any(mine & self._agencies[other] for other in siblings):
            return self.rows.conflicts(publication_id)
        return self.rows.conflicts(publication_id, sorted(mine), siblings)

    def finish(self, publication_id: int, *, urn: str, title: LangText,
               report: Sequence[Finding], valid: bool, lenient: bool, source: bytes,
               sha256: str) -> None:
        """Complete a publication: ``source`` is its file gzip-compressed, ``sha256`` the
        digest of the file itself."""
        self.flush()
        counts = self.counts(publication_id)
        self.rows.finish(publication_id, {
            "sha256": sha256,
            "urn": urn or f"urn:catalogue:publication:{publication_id}",
            "title": title_json(title),
            "report": json.dumps([f.to_json() for f in report], ensure_ascii=False),
            "valid": valid, "lenient": lenient,
            "agencies": " ".join(sorted(self._agencies[publication_id])),
            "n_variables": counts.variables, "n_questions": counts.questions,
            "n_code_lists": counts.code_lists, "n_categories": counts.categories,
            "n_concepts": counts.concepts, "n_items": len(self._seen[publication_id]),
        }, source)


def _publication(row: Any, with_report: bool = False) -> Publication:
    report: tuple[Finding, ...] = ()
    if with_report:
        report = tuple(Finding.from_json(f) for f in json.loads(row.report or "[]"))
    return Publication(
        id=row.id, urn=row.urn, title=title_from_json(row.title), file_name=row.file_name,
        sha256=row.sha256, ddi_version=row.ddi_version, root=row.root, valid=row.valid,
        lenient=row.lenient, published_at=row.published_at, published_by=row.published_by,
        agencies=tuple(row.agencies.split()),
        counts=ItemCounts(row.n_variables, row.n_questions, row.n_code_lists,
                          row.n_categories, row.n_concepts),
        item_count=row.n_items, source_size=row.source_size, withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by, withdrawal_reason=row.withdrawal_reason, report=report,
    )


_LISTED = [c for c in publications.c if c.name not in ("source", "report")]


class PublicationQueries:
    engine: Engine

    def list_publications(self, *, include_withdrawn: bool = True) -> list[Publication]:
        query = select(*_LISTED).where(publications.c.complete.is_(True))
        if not include_withdrawn:
            query = query.where(publications.c.withdrawn_at.is_(None))
        with self.engine.connect() as conn:
            return [_publication(row) for row in conn.execute(query.order_by(publications.c.id))]

    def get_publication(self, publication_id: int) -> Publication:
        query = select(*_LISTED, publications.c.report).where(
            publications.c.id == publication_id, publications.c.complete.is_(True))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no publication {publication_id}")
        return _publication(row, with_report=True)

    def publication_source(self, publication_id: int) -> bytes:
        """The file exactly as published (gzip-compressed)."""
        with self.engine.connect() as conn:
            source = conn.execute(select(publication_sources.c.source).where(
                publication_sources.c.publication_id == publication_id)).scalar_one_or_none()
        if source is None:
            raise NotFound(f"no publication {publication_id}")
        return bytes(source)

    def publication_ids(self) -> Iterator[int]:
        with self.engine.connect() as conn:
            yield from conn.execute(select(publications.c.id).where(
                publications.c.complete.is_(True)).order_by(publications.c.id)).scalars()

    def mark_indexed(self, engine_name: str, publication_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(index_state).where(index_state.c.engine == engine_name,
                                                   index_state.c.publication_id == publication_id))
            conn.execute(index_state.insert().values(engine=engine_name,
                                                     publication_id=publication_id,
                                                     indexed_at=_now()))

    def reset_indexed(self, engine_name: str, publication_ids: Sequence[int]) -> None:
        """After a full rebuild: exactly these publications are indexed."""
        with self.engine.begin() as conn:
            conn.execute(delete(index_state).where(index_state.c.engine == engine_name))
            if publication_ids:
                conn.execute(index_state.insert(), [
                    {"engine": engine_name, "publication_id": pid, "indexed_at": _now()}
                    for pid in publication_ids])

    def forget_indexed(self, publication_ids: Sequence[int]) -> None:
        """These publications are to be indexed again, by every engine (a withdrawal
        changes what of them is current); :func:`search.indexing.catch_up` does it if
        the process doing it now dies first."""
        if publication_ids:
            with self.engine.begin() as conn:
                conn.execute(delete(index_state).where(
                    index_state.c.publication_id.in_(list(publication_ids))))

    def unindexed_publications(self, engine_name: str) -> list[int]:
        query = (select(publications.c.id)
                 .where(publications.c.complete.is_(True),
                        ~publications.c.id.in_(select(index_state.c.publication_id).where(
                            index_state.c.engine == engine_name)))
                 .order_by(publications.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def all_complete(self, publication_ids: Sequence[int]) -> bool:
        """Whether every one of these publications is complete (published)."""
        query = select(func.count()).select_from(publications).where(
            publications.c.id.in_(list(publication_ids)), publications.c.complete.is_(True))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() == len(set(publication_ids))

    def discard_incomplete(self, publication_ids: Sequence[int] | None = None) -> list[int]:
        """Remove the rows of publications never completed: those of ``publication_ids``
        (a publication that failed), or all (left by a publishing process that died: only
        while holding the publishing turn, see :meth:`catalogue.store.Store.publishing`).
        A complete publication is never touched. Removed a chunk per transaction, so
        other writers are not held up; returns the ids removed."""
        query = select(publications.c.id).where(publications.c.complete.is_(False))
        if publication_ids is not None:
            if not publication_ids:
                return []
            query = query.where(publications.c.id.in_(list(publication_ids)))
        with self.engine.connect() as conn:
            found = list(conn.execute(query).scalars())
            conn.rollback()
            for publication_id in found:
                keys = select(items.c.pk).where(
                    items.c.publication_id == publication_id).limit(_DISCARD_CHUNK)
                while chunk := list(conn.execute(keys).scalars()):
                    conn.execute(delete(edges).where(edges.c.from_pk.in_(chunk)))
                    conn.execute(delete(items).where(items.c.pk.in_(chunk)))
                    conn.commit()
                conn.execute(delete(edges).where(edges.c.publication_id == publication_id))
                for table in (publication_sources, index_state):
                    conn.execute(delete(table).where(table.c.publication_id == publication_id))
                conn.execute(delete(publications).where(
                    publications.c.id == publication_id, publications.c.complete.is_(False)))
                conn.commit()
        return found

    def withdraw(self, publication_id: int, *, by: str | None, reason: str, at: str) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(update(publications).where(
                publications.c.id == publication_id,
                publications.c.withdrawn_at.is_(None)).values(
                withdrawn_at=at, withdrawn_by=by, withdrawal_reason=reason))
            if result.rowcount == 0:
                raise NotFound(f"no publication {publication_id} to withdraw")
