"""Accounts in the store: people, roles, the cohort registry, one-time tokens, sessions,
sign-in failures (for rate limiting across worker processes) and the append-only audit
trail. SQLAlchemy Core only; timestamps are ISO 8601 UTC text like the other tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from catalogue.accounts_model import (
    AuditEntry,
    AuditFilter,
    RegisteredCohort,
    Role,
    Session,
    User,
)
from catalogue.errors import Conflict, NotFound
from catalogue.store.tables import metadata

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),  # lower-cased email
    Column("name", String(200), nullable=False),
    Column("affiliation", String(300), nullable=False, default=""),
    Column("password_hash", String(255)),  # argon2; None until a password is set
    Column("lang", String(8), nullable=False, default="en"),
    Column("created_at", String(32), nullable=False),
    Column("confirmed_at", String(32)),
    Column("disabled", Boolean, nullable=False, default=False),
)

user_roles = Table(
    "user_roles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("cohort", String(64), nullable=False, default=""),  # "" for global roles
    Column("granted_at", String(32), nullable=False),
    Column("granted_by", String(320)),
    UniqueConstraint("user_id", "role", "cohort", name="uq_user_role"),
)
Index("ix_user_roles_cohort", user_roles.c.role, user_roles.c.cohort)

registered_cohorts = Table(
    "registered_cohorts", metadata,
    Column("slug", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
)

cohort_agencies = Table(
    "cohort_agencies", metadata,
    Column("agency", String(255), primary_key=True),  # an agency belongs to one cohort
    Column("cohort", String(64), ForeignKey("registered_cohorts.slug", ondelete="CASCADE"),
           nullable=False),
)

account_tokens = Table(
    "account_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("used_at", String(32)),
)

account_sessions = Table(
    "account_sessions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("last_seen_at", String(32), nullable=False),
    Column("csrf_secret", String(64), nullable=False),
    Column("client", String(64), nullable=False, default=""),
    Column("user_agent", String(300), nullable=False, default=""),
)
Index("ix_account_sessions_user", account_sessions.c.user_id)
Index("ix_account_sessions_expires", account_sessions.c.expires_at)

sign_in_failures = Table(
    "sign_in_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False),  # "account:<email key>" or "address:<ip>"
    Column("at", String(32), nullable=False),
)
Index("ix_sign_in_failures_key_at", sign_in_failures.c.key, sign_in_failures.c.at)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("actor_id", Integer),  # no foreign key: entries outlive what they mention
    Column("actor_email", String(320)),
    Column("action", String(64), nullable=False),
    Column("target", String(512), nullable=False, default=""),
    Column("client", String(64), nullable=False, default=""),
    Column("user_agent", String(300), nullable=False, default=""),
    Column("details", Text, nullable=False, default="{}"),
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_action", audit_log.c.action)

# Append-only, enforced by the database too (the store offers no update or delete; these
# catch anything else writing to the file). PostgreSQL would use REVOKE UPDATE, DELETE.
for _verb in ("UPDATE", "DELETE"):
    event.listen(audit_log, "after_create", DDL(  # type: ignore[no-untyped-call]
        f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{_verb.lower()} BEFORE {_verb} ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END").execute_if(
        dialect="sqlite"))


def _user(row: Any, roles: Iterable[Role]) -> User:
    return User(id=row.id, email=row.email, name=row.name, affiliation=row.affiliation,
                created_at=row.created_at, confirmed_at=row.confirmed_at,
                disabled=bool(row.disabled), lang=row.lang, roles=frozenset(roles))


def _session(row: Any) -> Session:
    return Session(id=row.id, user_id=row.user_id, created_at=row.created_at,
                   expires_at=row.expires_at, last_seen_at=row.last_seen_at,
                   csrf_secret=row.csrf_secret)


def _audit(row: Any) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor_id=row.actor_id, actor_email=row.actor_email,
                      action=row.action, target=row.target, client=row.client,
                      user_agent=row.user_agent, details=json.loads(row.details or "{}"))


_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _audit_conditions(where: AuditFilter | None) -> list[Any]:
    if where is None:
        return []
    conditions: list[Any] = []
    if where.action:
        conditions.append(or_(audit_log.c.action == where.action,
                              audit_log.c.action.like(where.action + ".%")))
    if where.actor:
        conditions.append(func.lower(audit_log.c.actor_email).like(_like(where.actor),
                                                                   escape="\\"))
    if where.target:
        conditions.append(func.lower(audit_log.c.target).like(_like(where.target), escape="\\"))
    if where.since:
        conditions.append(audit_log.c.at >= where.since)
    if where.until:
        # a bare date includes that whole day
        bound = where.until + "T23:59:59Z" if len(where.until) == 10 else where.until
        conditions.append(audit_log.c.at <= bound)
    return conditions


class AccountQueries:
    engine: Engine

    # -- people -------------------------------------------------------------------------

    def _roles_of(self, conn: Connection, user_ids: Sequence[int]) -> dict[int, list[Role]]:
        out: dict[int, list[Role]] = {uid: [] for uid in user_ids}
        if not user_ids:
            return out
        rows = conn.execute(select(user_roles.c.user_id, user_roles.c.role, user_roles.c.cohort)
                            .where(user_roles.c.user_id.in_(list(user_ids))))
        for row in rows:
            out[row.user_id].append(Role(row.role, row.cohort or None))
        return out

    def _one_user(self, conn: Connection, condition: Any) -> User | None:
        row = conn.execute(select(*_USER_COLUMNS).where(condition)).first()
        if row is None:
            return None
        return _user(row, self._roles_of(conn, [row.id])[row.id])

    def add_user(self, *, email: str, email_key: str, name: str, affiliation: str,
                 password_hash: str | None, lang: str, created_at: str,
                 confirmed_at: str | None) -> User:
        """Conflict when the e-mail address (case-insensitively) already has an account."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(users.insert().values(
                    email=email, email_key=email_key, name=name, affiliation=affiliation,
                    password_hash=password_hash, lang=lang, created_at=created_at,
                    confirmed_at=confirmed_at, disabled=False))
                key = result.inserted_primary_key
                assert key is not None
                user = self._one_user(conn, users.c.id == int(key[0]))
        except IntegrityError:
            raise Conflict(f"{email} already has an account") from None
        assert user is not None
        return user

    def user_by_id(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            return self._one_user(conn, users.c.id == user_id)

    def user_by_email(self, email_key: str) -> User | None:
        with self.engine.connect() as conn:
            return self._one_user(conn, users.c.email_key == email_key)

    def password_hash(self, user_id: int) -> str | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(users.c.password_hash).where(
                users.c.id == user_id)).scalar_one_or_none()
        return str(value) if value is not None else None

    def list_users(self, *, text: str = "", role: str = "", cohort: str = "",
                   limit: int | None = None, offset: int = 0) -> list[User]:
        """People, by e-mail; ``text`` matches e-mail, name or affiliation; ``role`` and
        ``cohort`` keep those holding that role (for that cohort)."""
        query = select(*_USER_COLUMNS).order_by(users.c.email_key)
        if text:
            pattern = _like(text)
            query = query.where(or_(users.c.email_key.like(pattern, escape="\\"),
                                    func.lower(users.c.name).like(pattern, escape="\\"),
                                    func.lower(users.c.affiliation).like(pattern, escape="\\")))
        if role or cohort:
            held = select(user_roles.c.user_id)
            if role:
                held = held.where(user_roles.c.role == role)
            if cohort:
                held = held.where(user_roles.c.cohort == cohort)
            query = query.where(users.c.id.in_(held))
        if limit is not None:
            query = query.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
            roles = self._roles_of(conn, [r.id for r in rows])
        return [_user(row, roles[row.id]) for row in rows]

    def update_user(self, user_id: int, **values: Any) -> None:
        """Change stored fields of a user (name, affiliation, lang, password_hash,
        confirmed_at, disabled)."""
        allowed = {"name", "affiliation", "lang", "password_hash", "confirmed_at", "disabled"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        with self.engine.begin() as conn:
            result = conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if result.rowcount == 0:
            raise NotFound(f"no user {user_id}")

    # -- roles --------------------------------------------------------------------------

    def add_role(self, user_id: int, role: Role, *, at: str, by: str | None) -> bool:
        """False when the user already holds the role."""
        try:
            with self.engine.begin() as conn:
                conn.execute(user_roles.insert().values(
                    user_id=user_id, role=role.name, cohort=role.cohort or "", granted_at=at,
                    granted_by=by))
        except IntegrityError:
            return False
        return True

    def remove_role(self, user_id: int, role: Role) -> bool:
        """False when the user did not hold the role."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(user_roles).where(
                user_roles.c.user_id == user_id, user_roles.c.role == role.name,
                user_roles.c.cohort == (role.cohort or "")))
        return bool(result.rowcount)

    def count_role(self, role: Role) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(user_roles).where(
                user_roles.c.role == role.name,
                user_roles.c.cohort == (role.cohort or ""))).scalar_one())

    # -- the cohort registry --------------------------------------------------------------

    def save_cohort(self, slug: str, name: str, agencies: Sequence[str], *, at: str) -> bool:
        """Add or update a cohort and set its agencies; True when it is new. Conflict when
        an agency already belongs to another cohort."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(registered_cohorts.c.slug).where(
                registered_cohorts.c.slug == slug)).first() is not None
            taken = conn.execute(select(cohort_agencies.c.agency, cohort_agencies.c.cohort).where(
                cohort_agencies.c.agency.in_(list(agencies)),
                cohort_agencies.c.cohort != slug)).first()
            if taken is not None:
                raise Conflict(f"agency {taken.agency} already belongs to cohort {taken.cohort}")
            if exists:
                conn.execute(update(registered_cohorts).where(
                    registered_cohorts.c.slug == slug).values(name=name))
                conn.execute(delete(cohort_agencies).where(cohort_agencies.c.cohort == slug))
            else:
                conn.execute(registered_cohorts.insert().values(slug=slug, name=name,
                                                                created_at=at))
            if agencies:
                conn.execute(cohort_agencies.insert(),
                             [{"agency": a, "cohort": slug} for a in dict.fromkeys(agencies)])
        return not exists

    def list_registered_cohorts(self) -> list[RegisteredCohort]:
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(registered_cohorts).order_by(
                registered_cohorts.c.slug)))
            agencies: dict[str, list[str]] = {row.slug: [] for row in rows}
            for agency in conn.execute(select(cohort_agencies).order_by(cohort_agencies.c.agency)):
                agencies.setdefault(agency.cohort, []).append(agency.agency)
        return [RegisteredCohort(row.slug, row.name, tuple(agencies[row.slug]), row.created_at)
                for row in rows]

    def registered_cohort(self, slug: str) -> RegisteredCohort | None:
        for cohort in self.list_registered_cohorts():
            if cohort.slug == slug:
                return cohort
        return None

    def agency_owners(self, agencies: Iterable[str]) -> dict[str, str]:
        """Agency -> cohort slug, for the agencies that belong to a registered cohort."""
        wanted = sorted(set(agencies))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(cohort_agencies).where(
                cohort_agencies.c.agency.in_(wanted)))
            return {row.agency: row.cohort for row in rows}

    # -- one-time tokens (e-mail confirmation, password reset) --------------------------

    def add_token(self, user_id: int, purpose: str, token_hash: str, *, at: str,
                  expires_at: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(account_tokens.insert().values(
                user_id=user_id, purpose=purpose, token_hash=token_hash, created_at=at,
                expires_at=expires_at))

    def use_token(self, purpose: str, token_hash: str, *, at: str) -> int | None:
        """The user of a live token, which is used up; None when the token is unknown,
        used or expired. Atomic: of two concurrent uses, one wins."""
        condition = and_(account_tokens.c.purpose == purpose,
                         account_tokens.c.token_hash == token_hash,
                         account_tokens.c.used_at.is_(None), account_tokens.c.expires_at > at)
        with self.engine.begin() as conn:
            user_id = conn.execute(select(account_tokens.c.user_id).where(
                condition)).scalar_one_or_none()
            if user_id is None:
                return None
            result = conn.execute(update(account_tokens).where(condition).values(used_at=at))
            if result.rowcount != 1:
                return None
            # the other live tokens of this purpose are spent too (only the last sent works)
            conn.execute(update(account_tokens).where(
                account_tokens.c.user_id == user_id, account_tokens.c.purpose == purpose,
                account_tokens.c.used_at.is_(None)).values(used_at=at))
        return int(user_id)

    def token_is_live(self, purpose: str, token_hash: str, *, at: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(account_tokens.c.id).where(
                account_tokens.c.purpose == purpose, account_tokens.c.token_hash == token_hash,
                account_tokens.c.used_at.is_(None),
                account_tokens.c.expires_at > at)).first() is not None

    # -- sessions -----------------------------------------------------------------------

    def add_session(self, *, token_hash: str, user_id: int | None, at: str, expires_at: str,
                    csrf_secret: str, client: str, user_agent: str) -> Session:
        with self.engine.begin() as conn:
            # expired sessions go when new ones come, so the table stays small
            conn.execute(delete(account_sessions).where(account_sessions.c.expires_at <= at))
            result = conn.execute(account_sessions.insert().values(
                token_hash=token_hash, user_id=user_id, created_at=at, expires_at=expires_at,
                last_seen_at=at, csrf_secret=csrf_secret, client=client[:64],
                user_agent=user_agent[:300]))
            key = result.inserted_primary_key
            assert key is not None
            row = conn.execute(select(account_sessions).where(
                account_sessions.c.id == int(key[0]))).one()
        return _session(row)

    def live_session(self, token_hash: str, *, at: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(account_sessions).where(
                account_sessions.c.token_hash == token_hash,
                account_sessions.c.expires_at > at)).first()
        return _session(row) if row is not None else None

    def touch_session(self, session_id: int, *, at: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(account_sessions).where(
                account_sessions.c.id == session_id).values(last_seen_at=at))

    def delete_session(self, session_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(account_sessions).where(account_sessions.c.id == session_id))

    def delete_user_sessions(self, user_id: int, *, keep: int | None = None) -> int:
        condition = account_sessions.c.user_id == user_id
        if keep is not None:
            condition = and_(condition, account_sessions.c.id != keep)
        with self.engine.begin() as conn:
            return int(conn.execute(delete(account_sessions).where(condition)).rowcount)

    def user_sessions(self, user_id: int, *, at: str) -> list[Session]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(account_sessions).where(
                account_sessions.c.user_id == user_id, account_sessions.c.expires_at > at)
                .order_by(account_sessions.c.created_at))
            return [_session(row) for row in rows]

    # -- sign-in failures ---------------------------------------------------------------

    def add_sign_in_failure(self, keys: Sequence[str], *, at: str, forget_before: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sign_in_failures).where(sign_in_failures.c.at < forget_before))
            conn.execute(sign_in_failures.insert(), [{"key": k, "at": at} for k in keys])

    def recent_sign_in_failures(self, key: str, *, since: str) -> list[str]:
        """When each failure for ``key`` since ``since`` happened, oldest first."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(sign_in_failures.c.at).where(
                sign_in_failures.c.key == key, sign_in_failures.c.at >= since)
                .order_by(sign_in_failures.c.at)).scalars())

    def clear_sign_in_failures(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sign_in_failures).where(sign_in_failures.c.key == key))

    # -- the audit trail ----------------------------------------------------------------

    def add_audit(self, *, at: str, actor_id: int | None, actor_email: str | None, action: str,
                  target: str, client: str, user_agent: str, details: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(audit_log.insert().values(
                at=at, actor_id=actor_id, actor_email=actor_email, action=action,
                target=target[:512], client=client[:64], user_agent=user_agent[:300],
                details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def audit_entries(self, where: AuditFilter | None = None, *, limit: int | None = None,
                      offset: int = 0) -> list[AuditEntry]:
        """Newest first."""
        query = select(audit_log).where(*_audit_conditions(where)).order_by(
            audit_log.c.id.desc())
        if limit is not None:
            query = query.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_audit(row) for row in conn.execute(query)]

    def count_audit(self, where: AuditFilter | None = None) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log).where(
                *_audit_conditions(where))).scalar_one())

    def iter_audit(self, where: AuditFilter | None = None, *,
                   chunk: int = 1000) -> Iterator[AuditEntry]:
        """Oldest first, in bounded memory (for CSV exports)."""
        last = 0
        conditions = _audit_conditions(where)
        while True:
            with self.engine.connect() as conn:
                rows = list(conn.execute(select(audit_log).where(
                    audit_log.c.id > last, *conditions).order_by(audit_log.c.id).limit(chunk)))
            if not rows:
                return
            for row in rows:
                yield _audit(row)
            last = rows[-1].id
