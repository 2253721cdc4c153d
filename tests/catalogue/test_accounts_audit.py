"""The audit trail: append-only, filterable, exported as CSV that spreadsheets read safely;
and the outbox."""

from __future__ import annotations

import csv
import email
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from catalogue.accounts_audit import (
    CSV_COLUMNS,
    audit_csv,
    record,
    record_request_transition,
    record_withdrawal,
)
from catalogue.accounts_mail import compose, outbox_messages, send
from catalogue.accounts_model import AuditFilter, Origin
from catalogue.settings import Settings
from catalogue.store import Store

HERE = Origin("192.0.2.10", "Mozilla/5.0 (pytest)")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(f"sqlite:///{tmp_path / 'catalogue.sqlite'}")
    yield opened  # type: ignore[misc]
    opened.close()


def test_the_trail_is_append_only(store: Store) -> None:
    record(store, "sign_in.failed", actor=None, target="user:x@example.org", origin=HERE)
    for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    [entry] = store.audit_entries()
    assert entry.action == "sign_in.failed"


def test_filters(store: Store) -> None:
    record(store, "sign_in", actor="ada@example.org", target="user:ada@example.org",
           origin=HERE)
    record_request_transition(store, actor="rev@example.org", request_id=12, cohort="elfe",
                              from_state="under_review", to_state="changes_requested",
                              origin=HERE, comment="Justify the SNDS variables")
    record_withdrawal(store, actor="pub@example.org", publication_id=3, reason="typo",
                      origin=HERE)
    assert store.count_audit() == 3
    [transition] = store.audit_entries(AuditFilter(action="request"))
    assert transition.target == "request:12"
    assert transition.details == {"cohort": "elfe", "from": "under_review",
                                  "to": "changes_requested",
                                  "comment": "Justify the SNDS variables"}
    assert [e.action for e in store.audit_entries(AuditFilter(actor="PUB@"))] == [
        "publication.withdrawn"]
    assert store.count_audit(AuditFilter(target="user:ada")) == 1
    assert store.count_audit(AuditFilter(action="sign")) == 0  # whole dotted parts only
    assert store.count_audit(AuditFilter(since="2000-01-01", until="2000-12-31")) == 0
    assert store.count_audit(AuditFilter(since="2000-01-01")) == 3
    assert store.count_audit(AuditFilter(actor="%")) == 0  # LIKE wildcards are literal
    assert [e.id for e in store.audit_entries(limit=2)] == [3, 2]  # newest first


def test_csv_export_reads_back_and_defuses_formulas(store: Store) -> None:
    record(store, "sign_in.failed", actor="=HYPERLINK(\"http://evil\")", target="user:x",
           origin=Origin("192.0.2.10", "+cmd|' /C calc'!A0"), details={"reason": "x"})
    for i in range(1200):  # more than one chunk
        record(store, "sign_in", actor=f"p{i}@example.org", origin=HERE)
    exported = "".join(audit_csv(store))
    rows = list(csv.reader(io.StringIO(exported)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 1201
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["actor_email"] == "'=HYPERLINK(\"http://evil\")"
    assert first["user_agent"].startswith("'+")
    assert json.loads(first["details"]) == {"reason": "x"}
    assert rows[-1][3] == "p1199@example.org"  # oldest first


def test_outbox_holds_readable_messages(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    path = send(settings, compose("reset", "fr", to="ada@example.org", name="Ada",
                                  link="http://127.0.0.1:8000/password/reset/abc", hours=1))
    assert path is not None and outbox_messages(settings) == [path]
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "ada@example.org"
    assert message["From"] == settings.mail_from
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "http://127.0.0.1:8000/password/reset/abc" in body.decode("utf-8")
    assert "Bonjour Ada" in body.decode("utf-8")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
