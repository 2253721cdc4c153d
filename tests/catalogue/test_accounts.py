"""People and sign-in, through the functions the web views and the CLI call: sign up,
confirmation through the outbox, sign in (wrong password, unknown address, rate limits),
password reset, sessions and CSRF tokens."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from pathlib import Path

import pytest

from catalogue import accounts
from catalogue.accounts import (
    LINK_INVALID,
    NOT_CONFIRMED,
    WRONG_CREDENTIALS,
    SignInThrottled,
    authenticate,
    confirm_email,
    create_user,
    request_password_reset,
    reset_password,
    sign_up,
    token_digest,
)
from catalogue.accounts_mail import outbox_messages
from catalogue.accounts_model import AuditFilter, Origin, iso, utc_now
from catalogue.accounts_sessions import csrf_token, csrf_valid, find_session, start_session
from catalogue.errors import BadRequest, Forbidden, Unauthorized
from catalogue.settings import Settings
from catalogue.store import Store
from tests.outbox import outbox_link

HERE = Origin("192.0.2.10", "pytest")
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", sign_in_failures_per_account=3,
                    sign_in_failures_per_address=5, sign_in_window=600)


@pytest.fixture
def store(settings: Settings) -> Store:
    opened = Store(settings.store_url)
    yield opened  # type: ignore[misc]
    opened.close()


def signed_up(store: Store, settings: Settings, address: str = "ada@example.org") -> str:
    sign_up(store, settings, email=address, name="Ada Lovelace", affiliation="Inserm",
            password=PASSWORD, lang="en", origin=HERE)
    token = outbox_link(settings, address).rsplit("/", 1)[1]
    confirm_email(store, token, HERE)
    return address


def audit_actions(store: Store, **where: str) -> list[str]:
    return [e.action for e in store.audit_entries(AuditFilter(**where))]


def test_sign_up_then_confirm_through_the_outbox(store: Store, settings: Settings) -> None:
    user = sign_up(store, settings, email="  Ada@Example.org ", name=" Ada  Lovelace ",
                   affiliation="Inserm", password=PASSWORD, lang="fr", origin=HERE)
    assert user is not None and not user.confirmed
    assert (user.email, user.name, user.lang) == ("Ada@Example.org", "Ada Lovelace", "fr")
    [mail] = outbox_messages(settings)
    message = email.message_from_bytes(mail.read_bytes())
    assert message["Subject"].startswith("Confirmez")  # in the language chosen
    link = outbox_link(settings, "Ada@Example.org")
    assert link.startswith(settings.base_url + "/account/confirm/")
    with pytest.raises(Forbidden, match=re.escape(NOT_CONFIRMED)):
        authenticate(store, settings, email="ada@example.org", password=PASSWORD, origin=HERE)
    assert len(outbox_messages(settings)) == 2  # a fresh link was sent
    token = outbox_link(settings, "Ada@Example.org").rsplit("/", 1)[1]
    confirmed = confirm_email(store, token, HERE)
    assert confirmed.confirmed
    with pytest.raises(BadRequest, match=re.escape(LINK_INVALID)):
        confirm_email(store, token, HERE)  # single use
    signed_in = authenticate(store, settings, email="ADA@example.org", password=PASSWORD,
                             origin=HERE)
    assert signed_in.id == user.id
    assert audit_actions(store) == ["sign_in", "account.confirmed", "sign_in.failed",
                                    "account.created"]


def test_sign_up_twice_creates_nothing_and_tells_the_owner(store: Store,
                                                           settings: Settings) -> None:
    signed_up(store, settings)
    before = store.list_users()
    again = sign_up(store, settings, email="ADA@example.ORG", name="Mallory", affiliation="",
                    password="another password", lang="en", origin=HERE)
    assert again is None
    assert store.list_users() == before
    assert outbox_link(settings, "ada@example.org").endswith("/sign-in")


def test_sign_up_reports_each_bad_field(store: Store, settings: Settings) -> None:
    with pytest.raises(BadRequest) as refused:
        sign_up(store, settings, email="not-an-address", name="", affiliation="x" * 301,
                password="short", lang="en", origin=HERE)
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {"email", "name", "affiliation", "password"}
    assert store.list_users() == []


def test_wrong_password_is_refused_and_audited(store: Store, settings: Settings) -> None:
    address = signed_up(store, settings)
    with pytest.raises(Unauthorized) as refused:
        authenticate(store, settings, email=address, password="wrong password!",
                     origin=HERE)
    assert refused.value.status == 401 and refused.value.message == WRONG_CREDENTIALS
    [entry] = store.audit_entries(AuditFilter(action="sign_in.failed"))
    assert (entry.target, entry.client, entry.user_agent) == (f"user:{address}", HERE.client,
                                                              "pytest")
    assert entry.details == {"reason": "wrong password"}
    assert store.user_sessions(store.user_by_email(address).id, at=iso(utc_now())) == []  # type: ignore[union-attr]


def test_unknown_address_gets_the_same_answer_for_the_same_work(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    address = signed_up(store, settings)
    verified: list[bool] = []
    real = accounts._hasher()

    class CountingHasher:
        def verify(self, stored: str, password: str) -> bool:
            verified.append(True)
            return real.verify(stored, password)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(accounts, "_hasher", lambda: CountingHasher())
    messages = []
    for tried in (address, "nobody@example.org"):
        with pytest.raises(Unauthorized) as refused:
            authenticate(store, settings, email=tried, password="wrong password!",
                         origin=HERE)
        messages.append((refused.value.status, refused.value.message))
    assert messages[0] == messages[1]
    assert len(verified) == 2  # one argon2 verification in both cases
    [unknown, _wrong] = store.audit_entries(AuditFilter(action="sign_in.failed"))
    assert unknown.target == "user:nobody@example.org"
    assert unknown.details == {"reason": "unknown e-mail"}


def test_rate_limit_per_account(store: Store, settings: Settings) -> None:
    address = signed_up(store, settings)
    for _ in range(settings.sign_in_failures_per_account):
        with pytest.raises(Unauthorized):
            authenticate(store, settings, email=address, password="wrong password!",
                         origin=HERE)
    now = utc_now()
    with pytest.raises(SignInThrottled) as throttled:
        authenticate(store, settings, email=address, password=PASSWORD, origin=HERE, now=now)
    assert throttled.value.status == 429
    assert 0 < throttled.value.retry_after <= settings.sign_in_window + 1
    assert "Try again after" in throttled.value.message
    assert iso(throttled.value.retry_at) in throttled.value.message
    assert audit_actions(store, action="sign_in.throttled") == ["sign_in.throttled"]
    # once the counted failures have left the window, the right password works again
    later = now + timedelta(seconds=settings.sign_in_window + 1)
    user = authenticate(store, settings, email=address, password=PASSWORD, origin=HERE,
                        now=later)
    assert user.email == address


def test_rate_limit_per_address(store: Store, settings: Settings) -> None:
    address = signed_up(store, settings)
    for i in range(settings.sign_in_failures_per_address):
        with pytest.raises(Unauthorized):
            authenticate(store, settings, email=f"guess{i}@example.org",
                         password="wrong password!", origin=HERE)
    with pytest.raises(SignInThrottled):
        authenticate(store, settings, email=address, password=PASSWORD, origin=HERE)
    # from elsewhere, the account is not affected
    user = authenticate(store, settings, email=address, password=PASSWORD,
                        origin=Origin("198.51.100.7", "pytest"))
    assert user.email == address


def test_password_reset_is_single_use_and_ends_sessions(store: Store,
                                                        settings: Settings) -> None:
    address = signed_up(store, settings)
    user = authenticate(store, settings, email=address, password=PASSWORD, origin=HERE)
    token, _session = start_session(store, settings, user, HERE)
    sent = len(outbox_messages(settings))
    request_password_reset(store, settings, email="nobody@example.org", origin=HERE)
    assert len(outbox_messages(settings)) == sent  # silent for unknown addresses
    request_password_reset(store, settings, email=address.upper(), origin=HERE)
    reset_token = outbox_link(settings, address).rsplit("/", 1)[1]
    with pytest.raises(BadRequest):
        reset_password(store, token=reset_token, password="short", origin=HERE)
    reset_password(store, token=reset_token, password="a brand new password", origin=HERE)
    assert find_session(store, token) is None
    with pytest.raises(BadRequest, match=re.escape(LINK_INVALID)):
        reset_password(store, token=reset_token, password="yet another password",
                       origin=HERE)
    with pytest.raises(Unauthorized):
        authenticate(store, settings, email=address, password=PASSWORD, origin=HERE)
    authenticate(store, settings, email=address, password="a brand new password",
                 origin=HERE)


def test_expired_links_are_refused(store: Store, settings: Settings) -> None:
    sign_up(store, settings, email="late@example.org", name="Late", affiliation="",
            password=PASSWORD, lang="en", origin=HERE)
    user = store.user_by_email("late@example.org")
    assert user is not None
    past = utc_now() - timedelta(days=3)
    store.add_token(user.id, "confirm", token_digest("expired-token"), at=iso(past),
                    expires_at=iso(past + timedelta(hours=48)))
    with pytest.raises(BadRequest, match=re.escape(LINK_INVALID)):
        confirm_email(store, "expired-token", HERE)
    assert not store.user_by_email("late@example.org").confirmed  # type: ignore[union-attr]


def test_created_users_choose_their_password_by_mail(store: Store, settings: Settings) -> None:
    user = create_user(store, settings, email="curator@example.org", name="Curator",
                       affiliation="", password=None, actor=None, origin=Origin.cli())
    assert user.confirmed
    with pytest.raises(Unauthorized):  # no password yet: nothing matches
        authenticate(store, settings, email="curator@example.org", password="", origin=HERE)
    token = outbox_link(settings, "curator@example.org").rsplit("/", 1)[1]
    reset_password(store, token=token, password="my own password", origin=HERE)
    authenticate(store, settings, email="curator@example.org", password="my own password",
                 origin=HERE)


def test_sessions_expire_and_csrf_tokens_belong_to_their_session(
        store: Store, settings: Settings) -> None:
    token, session = start_session(store, settings, None, HERE)
    assert session.user_id is None
    assert find_session(store, token) == session
    later = utc_now() + timedelta(seconds=settings.anonymous_session_max_age + 1)
    assert find_session(store, token, now=later) is None
    other_token, other = start_session(store, settings, None, HERE)
    form_token = csrf_token(session)
    assert form_token != csrf_token(session)  # masked afresh each time
    assert csrf_valid(session, form_token)
    assert not csrf_valid(other, form_token)
    assert not csrf_valid(session, None)
    assert not csrf_valid(session, "")
    assert not csrf_valid(session, form_token[:-2] + "AA")
    assert not csrf_valid(None, form_token)
    assert other_token != token
