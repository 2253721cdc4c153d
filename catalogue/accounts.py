"""People and sign-in: sign up, e-mail confirmation, sign in (rate-limited), password reset.

Passwords are hashed with argon2 (argon2-cffi's defaults). Confirmation and reset links
carry a random token of which only a SHA-256 is stored; each is single-use and expires.
Messages that reach visitors are fixed English sentences (the web layer translates them
by using them as gettext message ids); field errors are ``{"field", "message"}`` pairs.

A sign-in with an unknown address costs the same argon2 verification as a wrong
password and gets the same message, so neither the answer nor its timing tells whether
an account exists; sign-up and password reset answer the same way for known and
unknown addresses too (the mail says the rest).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from catalogue.accounts_audit import record
from catalogue.accounts_mail import compose, send
from catalogue.accounts_model import Origin, User, iso, parse_iso, utc_now
from catalogue.errors import BadRequest, Conflict, Forbidden, TooManyRequests, Unauthorized
from catalogue.settings import Settings

if TYPE_CHECKING:
    from catalogue.store import Store

WRONG_CREDENTIALS = "Wrong e-mail address or password."
NOT_CONFIRMED = ("Confirm your e-mail address first: we have sent you a new link.")
ACCOUNT_DISABLED = "This account is disabled; write to the catalogue's administrators."
LINK_INVALID = "This link is invalid, already used or expired; ask for a new one."
WRONG_CURRENT_PASSWORD = "The current password is wrong."

PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # argon2 hashes anything, but a megabyte password is an attack
CONFIRM_HOURS = 48
RESET_HOURS = 1
LANGS = ("en", "fr")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\".]+$")


class SignInThrottled(TooManyRequests):
    """Too many failed sign-ins for an account or from an address; ``retry_at`` says when
    the next attempt is allowed (and ``retry_after`` in how many seconds)."""

    def __init__(self, retry_at: datetime, now: datetime) -> None:
        self.retry_at = retry_at
        self.retry_after = max(1, int((retry_at - now).total_seconds()) + 1)
        minutes = (self.retry_after + 59) // 60
        super().__init__(f"Too many failed sign-ins. Try again after {iso(retry_at)} "
                         f"(in {minutes} minute{'s' if minutes > 1 else ''}).")


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the address is unknown, so that both cost the same."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


def email_key(email: str) -> str:
    """The form of an address that identifies an account: trimmed and lower-cased."""
    return email.strip().lower()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- checking what people type --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    email: str
    name: str
    affiliation: str
    lang: str


def _field_errors(**checks: str | None) -> list[dict[str, str]]:
    return [{"field": name, "message": message} for name, message in checks.items() if message]


def _email_problem(email: str) -> str | None:
    if not email:
        return "Enter your e-mail address."
    if len(email) > 254 or not _EMAIL.match(email):
        return "Enter an e-mail address such as name@example.org."
    return None


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return f"Choose a password of at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Choose a password of at most {PASSWORD_MAX} characters."
    return None


def check_profile(*, email: str, name: str, affiliation: str, lang: str = "en",
                  password: str | None = None) -> Profile:
    """The cleaned profile, or BadRequest listing the problem of each field."""
    email, name, affiliation = email.strip(), " ".join(name.split()), " ".join(
        affiliation.split())
    errors = _field_errors(
        email=_email_problem(email),
        name=("Enter your name." if not name else
              "Shorten your name to 200 characters." if len(name) > 200 else None),
        affiliation=("Shorten the affiliation to 300 characters." if len(affiliation) > 300
                     else None),
        password=password_problem(password) if password is not None else None,
    )
    if errors:
        raise BadRequest("Some fields need attention.", errors)
    return Profile(email, name, affiliation, lang if lang in LANGS else "en")


# -- links sent by mail ---------------------------------------------------------------------


def _new_token(store: Store, user: User, purpose: str, hours: int) -> str:
    token = secrets.token_urlsafe(32)
    now = utc_now()
    store.add_token(user.id, purpose, token_digest(token), at=iso(now),
                    expires_at=iso(now + timedelta(hours=hours)))
    return token


def link(settings: Settings, path: str) -> str:
    """An absolute link to ``path`` on the public site (for e-mails)."""
    return settings.base_url.rstrip("/") + "/" + path.lstrip("/")


def confirmation_path(token: str) -> str:
    return f"account/confirm/{token}"


def reset_path(token: str) -> str:
    return f"password/reset/{token}"


def send_confirmation(store: Store, settings: Settings, user: User) -> None:
    token = _new_token(store, user, "confirm", CONFIRM_HOURS)
    send(settings, compose("confirm", user.lang, to=user.email, name=user.name,
                           link=link(settings, confirmation_path(token)), hours=CONFIRM_HOURS))


# -- sign up and confirm --------------------------------------------------------------------


def sign_up(store: Store, settings: Settings, *, email: str, name: str, affiliation: str,
            password: str, lang: str, origin: Origin) -> User | None:
    """Create an unconfirmed account and mail a confirmation link. When the address
    already has an account, nothing is created (None) and its owner gets a mail saying
    so: the answer on the page is the same either way."""
    profile = check_profile(email=email, name=name, affiliation=affiliation, lang=lang,
                            password=password)
    try:
        user = store.add_user(email=profile.email, email_key=email_key(profile.email),
                              name=profile.name, affiliation=profile.affiliation,
                              password_hash=hash_password(password), lang=profile.lang,
                              created_at=iso(utc_now()), confirmed_at=None)
    except Conflict:
        existing = store.user_by_email(email_key(profile.email))
        if existing is not None:
            send(settings, compose("already", existing.lang, to=existing.email,
                                   name=existing.name, link=link(settings, "sign-in")))
        return None
    record(store, "account.created", actor=user, target=f"user:{user.email}", origin=origin,
           details={"via": "sign-up"})
    send_confirmation(store, settings, user)
    return user


def confirm_email(store: Store, token: str, origin: Origin) -> User:
    user_id = store.use_token("confirm", token_digest(token), at=iso(utc_now()))
    user = store.user_by_id(user_id) if user_id is not None else None
    if user is None:
        raise BadRequest(LINK_INVALID)
    if not user.confirmed:
        store.update_user(user.id, confirmed_at=iso(utc_now()))
        record(store, "account.confirmed", actor=user, target=f"user:{user.email}",
               origin=origin)
    confirmed = store.user_by_id(user.id)
    assert confirmed is not None
    return confirmed


def create_user(store: Store, settings: Settings, *, email: str, name: str, affiliation: str,
                password: str | None, lang: str = "en", actor: User | None,
                origin: Origin) -> User:
    """An account made by an administrator (or the command line): confirmed at once.
    Without a password, the person gets a link to choose one."""
    profile = check_profile(email=email, name=name, affiliation=affiliation, lang=lang,
                            password=password)
    now = iso(utc_now())
    user = store.add_user(email=profile.email, email_key=email_key(profile.email),
                          name=profile.name, affiliation=profile.affiliation,
                          password_hash=hash_password(password) if password else None,
                          lang=profile.lang, created_at=now, confirmed_at=now)
    record(store, "account.created", actor=actor, target=f"user:{user.email}", origin=origin,
           details={"via": "administrator" if actor else "command line"})
    if password is None:
        send_password_link(store, settings, user)
    return user


# -- sign in --------------------------------------------------------------------------------


def _failure_keys(key: str, client: str) -> list[str]:
    return [f"account:{key}"] + ([f"address:{client}"] if client else [])


def _check_rate(store: Store, settings: Settings, keys: list[str], now: datetime) -> None:
    since = now - timedelta(seconds=settings.sign_in_window)
    limits = {"account": settings.sign_in_failures_per_account,
              "address": settings.sign_in_failures_per_address}
    retry_at: datetime | None = None
    for key in keys:
        limit = limits[key.split(":", 1)[0]]
        failures = store.recent_sign_in_failures(key, since=iso(since))
        if len(failures) >= limit:
            # allowed again when enough of the counted failures have left the window
            frees = parse_iso(failures[len(failures) - limit]) + timedelta(
                seconds=settings.sign_in_window)
            retry_at = frees if retry_at is None else max(retry_at, frees)
    if retry_at is not None:
        raise SignInThrottled(retry_at, now)


def authenticate(store: Store, settings: Settings, *, email: str, password: str,
                 origin: Origin, now: datetime | None = None) -> User:
    """The account for these credentials. Unauthorized (wrong address or password, the
    same message and cost either way), SignInThrottled, or Forbidden (disabled; not yet
    confirmed, in which case a new confirmation link is sent). Every refusal is audited."""
    now = now or utc_now()
    key = email_key(email)[:320]
    keys = _failure_keys(key, origin.client)
    try:
        _check_rate(store, settings, keys, now)
    except SignInThrottled as throttled:
        record(store, "sign_in.throttled", actor=None, target=f"user:{key}", origin=origin,
               details={"retry_at": iso(throttled.retry_at)})
        raise
    user = store.user_by_email(key)
    stored_hash = store.password_hash(user.id) if user is not None else None
    matches = verify_password(stored_hash, password[:PASSWORD_MAX])  # argon2 work either way
    if user is None or not matches:
        store.add_sign_in_failure(keys, at=iso(now), forget_before=iso(
            now - timedelta(seconds=settings.sign_in_window)))
        record(store, "sign_in.failed", actor=None, target=f"user:{key}", origin=origin,
               details={"reason": "unknown e-mail" if user is None else "wrong password"})
        raise Unauthorized(WRONG_CREDENTIALS)
    if user.disabled:
        record(store, "sign_in.failed", actor=user, target=f"user:{key}", origin=origin,
               details={"reason": "disabled"})
        raise Forbidden(ACCOUNT_DISABLED)
    if not user.confirmed:
        record(store, "sign_in.failed", actor=user, target=f"user:{key}", origin=origin,
               details={"reason": "not confirmed"})
        send_confirmation(store, settings, user)
        raise Forbidden(NOT_CONFIRMED)
    store.clear_sign_in_failures(f"account:{key}")
    if stored_hash is not None and _hasher().check_needs_rehash(stored_hash):
        store.update_user(user.id, password_hash=hash_password(password))
    record(store, "sign_in", actor=user, target=f"user:{user.email}", origin=origin)
    return user


# -- passwords ------------------------------------------------------------------------------


def send_password_link(store: Store, settings: Settings, user: User) -> None:
    token = _new_token(store, user, "reset", RESET_HOURS)
    send(settings, compose("reset", user.lang, to=user.email, name=user.name,
                           link=link(settings, reset_path(token)), hours=RESET_HOURS))


def request_password_reset(store: Store, settings: Settings, *, email: str,
                           origin: Origin) -> None:
    """Mail a reset link when the address has an active account; silent otherwise."""
    problem = _email_problem(email.strip())
    if problem:
        raise BadRequest("Some fields need attention.", _field_errors(email=problem))
    user = store.user_by_email(email_key(email))
    record(store, "password.reset_requested", actor=None, target=f"user:{email_key(email)}",
           origin=origin, details={"known": user is not None})
    if user is not None and not user.disabled:
        send_password_link(store, settings, user)


def reset_link_is_live(store: Store, token: str) -> bool:
    return store.token_is_live("reset", token_digest(token), at=iso(utc_now()))


def reset_password(store: Store, *, token: str, password: str, origin: Origin) -> User:
    """Set a new password from a reset link; every session of the account ends. Opening
    the link also proves the address, so an unconfirmed account becomes confirmed."""
    problem = password_problem(password)
    if problem:
        raise BadRequest("Some fields need attention.", _field_errors(password=problem))
    user_id = store.use_token("reset", token_digest(token), at=iso(utc_now()))
    user = store.user_by_id(user_id) if user_id is not None else None
    if user is None:
        raise BadRequest(LINK_INVALID)
    values: dict[str, object] = {"password_hash": hash_password(password)}
    if not user.confirmed:
        values["confirmed_at"] = iso(utc_now())
    store.update_user(user.id, **values)
    store.delete_user_sessions(user.id)
    record(store, "password.reset", actor=user, target=f"user:{user.email}", origin=origin)
    updated = store.user_by_id(user.id)
    assert updated is not None
    return updated


def change_password(store: Store, user: User, *, current: str, new: str, origin: Origin,
                    keep_session: int | None = None) -> None:
    """Change one's own password; other sessions of the account end."""
    if not verify_password(store.password_hash(user.id), current[:PASSWORD_MAX]):
        record(store, "password.changed", actor=user, target=f"user:{user.email}",
               origin=origin, details={"refused": "wrong current password"})
        raise BadRequest("Some fields need attention.",
                         _field_errors(current_password=WRONG_CURRENT_PASSWORD))
    problem = password_problem(new)
    if problem:
        raise BadRequest("Some fields need attention.", _field_errors(new_password=problem))
    store.update_user(user.id, password_hash=hash_password(new))
    store.delete_user_sessions(user.id, keep=keep_session)
    record(store, "password.changed", actor=user, target=f"user:{user.email}", origin=origin)


def update_profile(store: Store, user: User, *, name: str, affiliation: str, lang: str,
                   origin: Origin) -> User:
    profile = check_profile(email=user.email, name=name, affiliation=affiliation, lang=lang)
    store.update_user(user.id, name=profile.name, affiliation=profile.affiliation,
                      lang=profile.lang)
    record(store, "account.updated", actor=user, target=f"user:{user.email}", origin=origin,
           details={"name": profile.name, "affiliation": profile.affiliation,
                    "lang": profile.lang})
    updated = store.user_by_id(user.id)
    assert updated is not None
    return updated


def set_disabled(store: Store, target: User, disabled: bool, *, actor: User | None,
                 origin: Origin) -> None:
    """Disable (every session ends) or enable an account; administrators only (the
    caller checks)."""
    store.update_user(target.id, disabled=disabled)
    if disabled:
        store.delete_user_sessions(target.id)
    record(store, "account.disabled" if disabled else "account.enabled", actor=actor,
           target=f"user:{target.email}", origin=origin)
