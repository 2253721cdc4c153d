"""Server-side sessions and their CSRF tokens, independent of the web framework.

A session is a row: the SHA-256 of a random token (the cookie carries the token, signed
by the web layer), the account (None for a visitor not signed in), when it was created,
when it expires and was last seen, and a CSRF secret. Signing in always starts a new
session (no fixation); signing out deletes the row.

CSRF tokens are the session's secret masked with a fresh random pad at each use (so a
compressed page never repeats the same bytes), checked in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from catalogue.accounts import token_digest
from catalogue.accounts_audit import record
from catalogue.accounts_model import Origin, Session, User, iso, parse_iso, utc_now
from catalogue.settings import Settings

if TYPE_CHECKING:
    from catalogue.store import Store

#: last_seen_at is written at most this often, so reading pages costs no write each time
TOUCH_EVERY = timedelta(minutes=1)
_SECRET_BYTES = 32


def start_session(store: Store, settings: Settings, user: User | None, origin: Origin,
                  *, now: datetime | None = None) -> tuple[str, Session]:
    """A new session and the token for its cookie. Signed-in sessions last
    ``session_max_age``, visitors' ``anonymous_session_max_age``."""
    now = now or utc_now()
    token = secrets.token_urlsafe(32)
    lifetime = settings.session_max_age if user else settings.anonymous_session_max_age
    session = store.add_session(
        token_hash=token_digest(token), user_id=user.id if user else None, at=iso(now),
        expires_at=iso(now + timedelta(seconds=lifetime)),
        csrf_secret=secrets.token_bytes(_SECRET_BYTES).hex(), client=origin.client,
        user_agent=origin.user_agent)
    return token, session


def find_session(store: Store, token: str, *, now: datetime | None = None) -> Session | None:
    """The live session of a cookie token (None when unknown, signed out or expired)."""
    now = now or utc_now()
    session = store.live_session(token_digest(token), at=iso(now))
    if session is not None and now - parse_iso(session.last_seen_at) >= TOUCH_EVERY:
        store.touch_session(session.id, at=iso(now))
    return session


def end_session(store: Store, session: Session, user: User | None, origin: Origin) -> None:
    store.delete_session(session.id)
    if user is not None:
        record(store, "sign_out", actor=user, target=f"user:{user.email}", origin=origin)


def csrf_token(session: Session) -> str:
    """A token for one form or page of this session (a new mask every call)."""
    secret = bytes.fromhex(session.csrf_secret)
    pad = secrets.token_bytes(len(secret))
    masked = bytes(a ^ b for a, b in zip(pad, secret, strict=True))
    return base64.urlsafe_b64encode(pad + masked).decode("ascii").rstrip("=")


def csrf_valid(session: Session | None, token: str | None) -> bool:
    if session is None or not token or len(token) > 200:
        return False
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return False
    secret = bytes.fromhex(session.csrf_secret)
    if len(raw) != 2 * len(secret):
        return False
    pad, masked = raw[:len(secret)], raw[len(secret):]
    unmasked = bytes(a ^ b for a, b in zip(pad, masked, strict=True))
    return hmac.compare_digest(unmasked, secret)
