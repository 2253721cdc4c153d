"""Baskets and access requests in the store: their tables and the SQL that reads and
writes them. Rules (who may do what, which state follows which) live in
``catalogue.basket`` and ``catalogue.requests``; this module only stores rows.

Selected variables are kept as Agency + ID + Version, never as copies of their content:
names and labels are read from the catalogue, at the version selected.

User columns (``user_id``, ``owner_id``, ``actor_id``, ``author_id``) point at the
accounts' ``users`` table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    select,
    update,
)

from catalogue.store.tables import metadata

if TYPE_CHECKING:
    from sqlalchemy import Engine

baskets = Table(
    "baskets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the anonymous token kept in the browser's cookie (never the token)
    Column("token_hash", String(64), unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), unique=True),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

basket_items = Table(
    "basket_items", metadata,
    Column("basket_id", Integer, ForeignKey("baskets.id", ondelete="CASCADE"),
           primary_key=True),
    Column("agency", String(255), primary_key=True),
    Column("item_id", String(255), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("added_at", String(32), nullable=False),
)

projects = Table(
    "projects", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default="{}"),  # ProjectFields as JSON
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("submitted_at", String(32)),
)
Index("ix_projects_owner", projects.c.owner_id)

access_requests = Table(
    "access_requests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"),
           nullable=False),
    Column("cohort", String(128), nullable=False),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("state", String(32), nullable=False),
    Column("content", Text, nullable=False, default="{}"),  # the cohort's section as JSON
    Column("revision", Integer, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("submitted_at", String(32)),
    Column("decided_at", String(32)),
    UniqueConstraint("project_id", "cohort", name="uq_request_per_cohort"),
)
Index("ix_requests_owner", access_requests.c.owner_id)
Index("ix_requests_cohort_state", access_requests.c.cohort, access_requests.c.state)

request_variables = Table(
    "request_variables", metadata,
    Column("request_id", Integer, ForeignKey("access_requests.id", ondelete="CASCADE"),
           primary_key=True),
    Column("agency", String(255), primary_key=True),
    Column("item_id", String(255), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("justification", Text, nullable=False, default=""),
)
Index("ix_request_variables_item", request_variables.c.agency, request_variables.c.item_id)

request_events = Table(
    "request_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("access_requests.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_request_events_request", request_events.c.request_id)

request_comments = Table(
    "request_comments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("access_requests.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", String(32), nullable=False),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_request_comments_request", request_comments.c.request_id)

request_revisions = Table(
    "request_revisions", metadata,
    Column("request_id", Integer, ForeignKey("access_requests.id", ondelete="CASCADE"),
           primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("at", String(32), nullable=False),
    Column("content", Text, nullable=False),  # the request as submitted, as JSON
)


@dataclass(frozen=True, slots=True)
class BasketEntry:
    agency: str
    item_id: str
    version: str
    added_at: str


@dataclass(frozen=True, slots=True)
class ProjectRow:
    id: int
    owner_id: int
    title: str
    content: dict[str, Any]
    created_at: str
    updated_at: str
    submitted_at: str | None


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    project_id: int
    cohort: str
    owner_id: int
    state: str
    content: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str
    submitted_at: str | None
    decided_at: str | None


@dataclass(frozen=True, slots=True)
class RequestVariableRow:
    agency: str
    item_id: str
    version: str
    justification: str


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    request_id: int
    at: str
    actor_id: int
    action: str
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class CommentRow:
    id: int
    request_id: int
    at: str
    author_id: int
    visibility: str
    text: str


@dataclass(frozen=True, slots=True)
class RevisionRow:
    request_id: int
    number: int
    at: str
    content: dict[str, Any]


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _project(row: Any) -> ProjectRow:
    return ProjectRow(row.id, row.owner_id, row.title, json.loads(row.content), row.created_at,
                      row.updated_at, row.submitted_at)


def _request(row: Any) -> RequestRow:
    return RequestRow(row.id, row.project_id, row.cohort, row.owner_id, row.state,
                      json.loads(row.content), row.revision, row.created_at, row.updated_at,
                      row.submitted_at, row.decided_at)


class RequestQueries:
    """Rows of baskets, projects and access requests. Writers take the connection of
    the caller's transaction, so that one operation commits all its rows or none."""

    engine: Engine

    @contextmanager
    def _request_conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as own:
                yield own

    # -- baskets ---------------------------------------------------------------------------

    def basket_id(self, *, token_hash: str | None = None, user_id: int | None = None,
                  conn: Connection | None = None) -> int | None:
        if (token_hash is None) == (user_id is None):
            raise ValueError("give exactly one of token_hash and user_id")
        where = (baskets.c.token_hash == token_hash if token_hash is not None
                 else baskets.c.user_id == user_id)
        with self._request_conn(conn) as c:
            found = c.execute(select(baskets.c.id).where(where)).scalar_one_or_none()
        return int(found) if found is not None else None

    def create_basket(self, conn: Connection, *, at: str, token_hash: str | None = None,
                      user_id: int | None = None) -> int:
        result = conn.execute(baskets.insert().values(
            token_hash=token_hash, user_id=user_id, created_at=at, updated_at=at))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def basket_entries(self, basket_id: int, conn: Connection | None = None
                       ) -> list[BasketEntry]:
        query = (select(basket_items.c.agency, basket_items.c.item_id, basket_items.c.version,
                        basket_items.c.added_at)
                 .where(basket_items.c.basket_id == basket_id)
                 .order_by(basket_items.c.added_at, basket_items.c.agency,
                           basket_items.c.item_id))
        with self._request_conn(conn) as c:
            return [BasketEntry(r.agency, r.item_id, r.version, r.added_at)
                    for r in c.execute(query)]

    def put_basket_entries(self, conn: Connection, basket_id: int,
                           entries: Sequence[BasketEntry], at: str) -> None:
        """Add entries; an entry for an Agency+ID already there replaces it."""
        if not entries:
            return
        self.delete_basket_entries(conn, basket_id, [(e.agency, e.item_id) for e in entries])
        conn.execute(basket_items.insert(), [
            {"basket_id": basket_id, "agency": e.agency, "item_id": e.item_id,
             "version": e.version, "added_at": e.added_at} for e in entries])
        conn.execute(update(baskets).where(baskets.c.id == basket_id).values(updated_at=at))

    def delete_basket_entries(self, conn: Connection, basket_id: int,
                              keys: Iterable[tuple[str, str]]) -> int:
        removed = 0
        for agency, item_id in keys:
            result = conn.execute(delete(basket_items).where(
                basket_items.c.basket_id == basket_id, basket_items.c.agency == agency,
                basket_items.c.item_id == item_id))
            removed += result.rowcount
        return removed

    def delete_basket(self, conn: Connection, basket_id: int) -> None:
        conn.execute(delete(basket_items).where(basket_items.c.basket_id == basket_id))
        conn.execute(delete(baskets).where(baskets.c.id == basket_id))

    # -- projects --------------------------------------------------------------------------

    def insert_project(self, conn: Connection, *, owner_id: int, title: str,
                       content: dict[str, Any], at: str) -> int:
        result = conn.execute(projects.insert().values(
            owner_id=owner_id, title=title, content=_json(content), created_at=at,
            updated_at=at))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def update_project(self, conn: Connection, project_id: int, *, title: str,
                       content: dict[str, Any], at: str) -> bool:
        """False when the project is gone or already submitted."""
        result = conn.execute(update(projects).where(
            projects.c.id == project_id, projects.c.submitted_at.is_(None)).values(
            title=title, content=_json(content), updated_at=at))
        return bool(result.rowcount)

    def mark_project_submitted(self, conn: Connection, project_id: int, at: str) -> bool:
        result = conn.execute(update(projects).where(
            projects.c.id == project_id, projects.c.submitted_at.is_(None)).values(
            submitted_at=at, updated_at=at))
        return bool(result.rowcount)

    def project_row(self, project_id: int, conn: Connection | None = None) -> ProjectRow | None:
        with self._request_conn(conn) as c:
            row = c.execute(select(projects).where(projects.c.id == project_id)).first()
        return _project(row) if row is not None else None

    def projects_of_owner(self, owner_id: int) -> list[ProjectRow]:
        with self.engine.connect() as c:
            return [_project(r) for r in c.execute(select(projects).where(
                projects.c.owner_id == owner_id).order_by(projects.c.id.desc()))]

    def delete_project(self, conn: Connection, project_id: int) -> None:
        ids = list(conn.execute(select(access_requests.c.id).where(
            access_requests.c.project_id == project_id)).scalars())
        for request_id in ids:
            self.delete_request(conn, request_id)
        conn.execute(delete(projects).where(projects.c.id == project_id))

    # -- access requests -------------------------------------------------------------------

    def insert_request(self, conn: Connection, *, project_id: int, cohort: str, owner_id: int,
                       state: str, content: dict[str, Any], at: str) -> int:
        result = conn.execute(access_requests.insert().values(
            project_id=project_id, cohort=cohort, owner_id=owner_id, state=state,
            content=_json(content), revision=0, created_at=at, updated_at=at))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def update_request_content(self, conn: Connection, request_id: int, *,
                               content: dict[str, Any], at: str,
                               states: Sequence[str]) -> bool:
        """Write the content when the request is in one of ``states``; False otherwise."""
        result = conn.execute(update(access_requests).where(
            access_requests.c.id == request_id, access_requests.c.state.in_(states)).values(
            content=_json(content), updated_at=at))
        return bool(result.rowcount)

    def set_request_state(self, conn: Connection, request_id: int, *, from_state: str,
                          to_state: str, at: str, submitted: bool = False,
                          decided: bool = False) -> bool:
        """Move the request when it is still in ``from_state`` (False when it is not:
        someone else moved it meanwhile)."""
        values: dict[str, Any] = {"state": to_state, "updated_at": at}
        if submitted:
            values["submitted_at"] = at
            values["revision"] = access_requests.c.revision + 1
        if decided:
            values["decided_at"] = at
        result = conn.execute(update(access_requests).where(
            access_requests.c.id == request_id,
            access_requests.c.state == from_state).values(**values))
        return bool(result.rowcount)

    def request_row(self, request_id: int, conn: Connection | None = None) -> RequestRow | None:
        with self._request_conn(conn) as c:
            row = c.execute(select(access_requests).where(
                access_requests.c.id == request_id)).first()
        return _request(row) if row is not None else None

    def request_rows(self, *, project_id: int | None = None, owner_id: int | None = None,
                     cohorts: Sequence[str] | None = None, states: Sequence[str] | None = None,
                     conn: Connection | None = None) -> list[RequestRow]:
        query = select(access_requests)
        if project_id is not None:
            query = query.where(access_requests.c.project_id == project_id)
        if owner_id is not None:
            query = query.where(access_requests.c.owner_id == owner_id)
        if cohorts is not None:
            query = query.where(access_requests.c.cohort.in_(cohorts))
        if states is not None:
            query = query.where(access_requests.c.state.in_(states))
        with self._request_conn(conn) as c:
            return [_request(r) for r in c.execute(query.order_by(access_requests.c.id))]

    def delete_request(self, conn: Connection, request_id: int) -> None:
        for table in (request_variables, request_events, request_comments, request_revisions):
            conn.execute(delete(table).where(table.c.request_id == request_id))
        conn.execute(delete(access_requests).where(access_requests.c.id == request_id))

    def replace_request_variables(self, conn: Connection, request_id: int,
                                  rows: Sequence[RequestVariableRow]) -> None:
        conn.execute(delete(request_variables).where(
            request_variables.c.request_id == request_id))
        if rows:
            conn.execute(request_variables.insert(), [
                {"request_id": request_id, "agency": r.agency, "item_id": r.item_id,
                 "version": r.version, "position": position,
                 "justification": r.justification}
                for position, r in enumerate(rows)])

    def request_variable_rows(self, request_id: int, conn: Connection | None = None
                              ) -> list[RequestVariableRow]:
        query = (select(request_variables).where(request_variables.c.request_id == request_id)
                 .order_by(request_variables.c.position))
        with self._request_conn(conn) as c:
            return [RequestVariableRow(r.agency, r.item_id, r.version, r.justification)
                    for r in c.execute(query)]

    def requests_selecting(self, agency: str, item_id: str) -> list[tuple[int, str]]:
        """(request id, version selected) of every request selecting this Agency+ID."""
        query = select(request_variables.c.request_id, request_variables.c.version).where(
            and_(request_variables.c.agency == agency, request_variables.c.item_id == item_id))
        with self.engine.connect() as c:
            return [(r.request_id, r.version) for r in c.execute(query)]

    # -- history -----------------------------------------------------------------------------

    def insert_event(self, conn: Connection, *, request_id: int, at: str, actor_id: int,
                     action: str, from_state: str, to_state: str, reason: str) -> int:
        result = conn.execute(request_events.insert().values(
            request_id=request_id, at=at, actor_id=actor_id, action=action,
            from_state=from_state, to_state=to_state, reason=reason))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def event_rows(self, request_id: int, conn: Connection | None = None) -> list[EventRow]:
        query = (select(request_events).where(request_events.c.request_id == request_id)
                 .order_by(request_events.c.id))
        with self._request_conn(conn) as c:
            return [EventRow(r.id, r.request_id, r.at, r.actor_id, r.action, r.from_state,
                             r.to_state, r.reason) for r in c.execute(query)]

    def insert_comment(self, conn: Connection, *, request_id: int, at: str, author_id: int,
                       visibility: str, text: str) -> int:
        result = conn.execute(request_comments.insert().values(
            request_id=request_id, at=at, author_id=author_id, visibility=visibility,
            text=text))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def comment_rows(self, request_id: int, conn: Connection | None = None) -> list[CommentRow]:
        query = (select(request_comments).where(request_comments.c.request_id == request_id)
                 .order_by(request_comments.c.id))
        with self._request_conn(conn) as c:
            return [CommentRow(r.id, r.request_id, r.at, r.author_id, r.visibility, r.text)
                    for r in c.execute(query)]

    def insert_revision(self, conn: Connection, *, request_id: int, number: int, at: str,
                        content: dict[str, Any]) -> None:
        conn.execute(request_revisions.insert().values(
            request_id=request_id, number=number, at=at, content=_json(content)))

    def revision_rows(self, request_id: int) -> list[RevisionRow]:
        query = (select(request_revisions).where(request_revisions.c.request_id == request_id)
                 .order_by(request_revisions.c.number))
        with self.engine.connect() as c:
            return [RevisionRow(r.request_id, r.number, r.at, json.loads(r.content))
                    for r in c.execute(query)]
