"""Sessions and CSRF for the web app: one middleware, and the helpers views call.

The session cookie holds a random token signed with the secret key (itsdangerous); the
session itself is a row in the store (:mod:`catalogue.accounts_sessions`). The cookie is
HttpOnly, SameSite=Lax, Secure when the site is served over https, and expires with the
session. A visitor who is not signed in gets an anonymous session the first time a page
needs a CSRF token (a form) or another module needs a session (the basket).

Every POST, PUT, PATCH and DELETE must carry the session's CSRF token, in the
``X-CSRF-Token`` header (JSON and scripts) or the ``csrf_token`` form field (put it first
in the form: for a multipart upload the middleware reads only up to it). The check is
here, before any view runs; a refusal is a 403 and an audit entry. Any other 403 the app
answers is audited too (``access.denied``), whichever view raised it, unless the code that
refused wrote an audit entry of its own during the request.

Views: :func:`current_user` (None when nobody is signed in), :func:`require_user`
(Unauthorized otherwise), :func:`origin` (for the audit trail), :func:`sign_in`,
:func:`sign_out`, :func:`ensure_session`; templates: ``csrf_input()`` and ``current_user``
(given by :mod:`web.views.accounts`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import IO
from urllib.parse import parse_qs

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalogue.accounts_audit import audit_scope, record
from catalogue.accounts_model import Origin, Session, User
from catalogue.accounts_roles import require_user as _require_user
from catalogue.accounts_sessions import csrf_token as _csrf_token
from catalogue.accounts_sessions import csrf_valid, end_session, find_session, start_session
from catalogue.errors import CatalogueError, Forbidden, PayloadTooLarge
from catalogue.settings import Settings
from catalogue.store import Store

SESSION_COOKIE = "catalogue_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Largest url-encoded form accepted (the access request's long texts fit easily).
FORM_LIMIT = 2 * 1024 * 1024
CSRF_REFUSED = ("This form has expired or was not sent from this site: reload the page and "
                "try again.")

#: Called when someone signs in, with the visitor's previous session (None when there was
#: none), the new one and the request (whose cookies name an anonymous basket), before the
#: previous session is deleted (e.g. to move a basket).
SignInHook = Callable[[Store, Session | None, Session, User, Request], None]


def add_sign_in_hook(app: Starlette, hook: SignInHook) -> None:
    """Register ``hook`` (call it from a view module's ``lifespan``)."""
    hooks: list[SignInHook] = getattr(app.state, "sign_in_hooks", None) or []
    hooks.append(hook)
    app.state.sign_in_hooks = hooks


@dataclass
class Auth:
    """The request's session and account, looked up on first use (``request.state.auth``)."""

    store: Store | None
    settings: Settings
    serializer: URLSafeTimedSerializer
    origin: Origin
    cookie_value: str | None
    #: a cookie to set on the response (new session) or to clear (signed out, invalid)
    set_token: str | None = None
    clear_cookie: bool = False
    #: True once a refusal of this request is in the audit trail
    audited: bool = False
    _resolved: bool = False
    _session: Session | None = None
    _user: User | None = None

    def _resolve(self) -> None:
        if self._resolved:
            return
        self._resolved = True
        if not self.cookie_value or self.store is None:
            return
        max_age = max(self.settings.session_max_age, self.settings.anonymous_session_max_age)
        try:
            token = str(self.serializer.loads(self.cookie_value, max_age=max_age))
        except SignatureExpired:
            self.clear_cookie = True
            return
        except BadSignature:
            self.clear_cookie = True
            record(self.store, "session.invalid_cookie", actor=None, origin=self.origin,
                   details={"cookie": self.cookie_value[:80]})
            return
        session = find_session(self.store, token)
        if session is None:  # signed out, expired, or the store was reset
            self.clear_cookie = True
            return
        user = self.store.user_by_id(session.user_id) if session.user_id is not None else None
        if session.user_id is not None and (user is None or user.disabled):
            self.store.delete_session(session.id)
            self.clear_cookie = True
            return
        self._session, self._user = session, user

    @property
    def session(self) -> Session | None:
        self._resolve()
        return self._session

    @property
    def user(self) -> User | None:
        self._resolve()
        return self._user

    @property
    def personal(self) -> bool:
        """True once this request has a session (found or started) or changes its cookie:
        its answer is then this visitor's own."""
        return self._session is not None or self.set_token is not None or self.clear_cookie

    def start(self, user: User | None) -> Session:
        if self.store is None:
            raise Forbidden("sessions are not available")
        token, session = start_session(self.store, self.settings, user, self.origin)
        self._resolved, self._session, self._user = True, session, user
        self.set_token, self.clear_cookie = token, False
        return session

    def cookie_header(self) -> str | None:
        secure = "; Secure" if self.settings.base_url.startswith("https://") else ""
        if self.set_token is not None:
            lifetime = (self.settings.session_max_age if self._user is not None
                        else self.settings.anonymous_session_max_age)
            value = self.serializer.dumps(self.set_token)
            return (f"{SESSION_COOKIE}={value}; Path=/; Max-Age={lifetime}; HttpOnly; "
                    f"SameSite=Lax{secure}")
        if self.clear_cookie:
            return (f"{SESSION_COOKIE}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 "
                    f"GMT; HttpOnly; SameSite=Lax{secure}")
        return None


# -- what views and templates call ----------------------------------------------------------


def auth(request: Request) -> Auth:
    found: Auth = request.state.auth
    return found


def current_user(request: Request) -> User | None:
    """The signed-in account, or None."""
    state = getattr(request.state, "auth", None)
    return state.user if state is not None else None


def require_user(request: Request) -> User:
    """The signed-in account; Unauthorized (401) when nobody is signed in."""
    return _require_user(current_user(request))


def origin(request: Request) -> Origin:
    """Where the request comes from, for the audit trail."""
    return auth(request).origin


def ensure_session(request: Request) -> Session:
    """The request's session, an anonymous one started when there is none."""
    state = auth(request)
    return state.session or state.start(None)


def csrf_token(request: Request) -> str:
    """A CSRF token for a form or a script of this page (starts a session if needed)."""
    return _csrf_token(ensure_session(request))


def csrf_input(request: Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(request))


def sign_in(request: Request, user: User) -> None:
    """Start a new session for ``user`` (never reuse the visitor's: no fixation); the
    sign-in hooks run, then the visitor's previous session is deleted."""
    state = auth(request)
    previous = state.session
    session = state.start(user)
    assert state.store is not None
    hooks: list[SignInHook] = getattr(request.app.state, "sign_in_hooks", None) or []
    for hook in hooks:
        hook(state.store, previous, session, user, request)
    if previous is not None:
        state.store.delete_session(previous.id)


def sign_out(request: Request) -> None:
    state = auth(request)
    if state.session is not None and state.store is not None:
        end_session(state.store, state.session, state.user, state.origin)
    state._session, state._user, state.set_token = None, None, None
    state.clear_cookie = True


def mark_audited(request: Request) -> None:
    """Say that this request's refusal is already in the audit trail (no second entry)."""
    auth(request).audited = True


# -- the middleware -------------------------------------------------------------------------


class AuthMiddleware:
    """Puts :class:`Auth` in ``request.state.auth``, refuses unsafe requests without a
    valid CSRF token, sets or clears the session cookie, and audits 403 answers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._serializer: URLSafeTimedSerializer | None = None

    def serializer(self) -> URLSafeTimedSerializer:
        if self._serializer is None:  # not at import: the key may be created in data_dir
            self._serializer = URLSafeTimedSerializer(self.settings.resolved_secret_key(),
                                                      salt="catalogue.session")
        return self._serializer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        resources = getattr(request.app.state, "resources", None)
        client = request.client.host if request.client else ""
        state = Auth(store=getattr(resources, "store", None), settings=self.settings,
                     serializer=self.serializer(),
                     origin=Origin(client, request.headers.get("user-agent", "")[:300]),
                     cookie_value=_cookie(request.headers.get("cookie", "")))
        scope.setdefault("state", {})["auth"] = state
        written: list[int] = []  # audit entries of this request

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookie = state.cookie_header()
                if cookie:
                    headers.append("set-cookie", cookie)
                if state._session is not None and "cache-control" not in headers:
                    headers["cache-control"] = "private, no-cache"
                if (message["status"] == 403 and not state.audited and not written
                        and state.store is not None):
                    record(state.store, "access.denied", actor=state._user,
                           target=f"{request.method} {request.url.path}", origin=state.origin)
            await send(message)

        replay: Receive = receive
        try:
            with audit_scope(written):
                if request.method in UNSAFE_METHODS:
                    try:
                        token, replay = await _submitted_token(request, receive, self.settings)
                    except CatalogueError as exc:
                        await _refuse(request, exc.status, exc.message, send_with_cookie)
                        return
                    if not csrf_valid(state.session, token):
                        if state.store is not None:
                            record(state.store, "csrf.refused", actor=state.user,
                                   target=f"{request.method} {request.url.path}",
                                   origin=state.origin,
                                   details={"token": "missing" if not token else "wrong",
                                            "session": state.session is not None})
                        await _refuse(request, 403, CSRF_REFUSED, send_with_cookie)
                        return
                await self.app(scope, replay, send_with_cookie)
        finally:
            if isinstance(replay, _Replay):
                replay.close()


async def _refuse(request: Request, status: int, message: str, send: Send) -> None:
    from web.errors import render_error  # noqa: PLC0415 - errors imports routing, not us

    response = render_error(request, status, message)
    await response(request.scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _cookie(header: str) -> str | None:
    if SESSION_COOKIE not in header:
        return None
    try:
        morsel = SimpleCookie(header).get(SESSION_COOKIE)
    except Exception:  # noqa: BLE001 - a malformed cookie header is no session
        return None
    return morsel.value if morsel is not None and morsel.value else None


# -- finding the CSRF token of an unsafe request --------------------------------------------


async def _submitted_token(request: Request, receive: Receive,
                           settings: Settings) -> tuple[str | None, Receive]:
    """The token sent with the request, and a ``receive`` that replays what was read."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header, receive
    mime, params = parse_options_header(request.headers.get("content-type", ""))
    if mime == b"application/x-www-form-urlencoded":
        body, ended = await _read_until(receive, FORM_LIMIT, None)
        values = parse_qs(body.read().decode("latin-1"), max_num_fields=10_000)
        body.seek(0)
        found = values.get(CSRF_FIELD)
        return (found[0] if found else None), _Replay(body, ended, receive)
    if mime == b"multipart/form-data" and params.get(b"boundary"):
        finder = _MultipartToken(params[b"boundary"])
        limit = settings.max_upload_mb * 1024 * 1024 + FORM_LIMIT
        body, ended = await _read_until(receive, limit, finder)
        return finder.token, _Replay(body, ended, receive)
    return None, receive


async def _read_until(receive: Receive, limit: int,
                      finder: _MultipartToken | None) -> tuple[IO[bytes], bool]:
    """Buffer the body (to a temporary file past 1 MB) until it ends or ``finder`` has
    seen the token; True when the whole body was read."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            spool.close()
            raise PayloadTooLarge(f"the request is larger than {limit // (1024 * 1024)} MB")
        spool.write(chunk)
        more = message.get("more_body", False)
        if finder is not None:
            finder.feed(chunk)
            if finder.done:
                break
    spool.seek(0)
    return spool, not more


class _Replay:
    """A ``receive`` giving back the buffered body, then the rest of the original one."""

    def __init__(self, body: IO[bytes], ended: bool, receive: Receive) -> None:
        self.body, self.ended, self.receive = body, ended, receive
        self.replayed = False

    async def __call__(self) -> Message:
        if not self.replayed:
            chunk = self.body.read(256 * 1024)
            if chunk:
                return {"type": "http.request", "body": chunk, "more_body": True}
            self.replayed = True
            self.close()
            if self.ended:
                return {"type": "http.request", "body": b"", "more_body": False}
        # the rest of the body, or (once it has all been read) the disconnect, when it comes
        return await self.receive()


    def close(self) -> None:
        self.body.close()


class _MultipartToken:
    """Parses a multipart body just far enough to read the ``csrf_token`` field."""

    def __init__(self, boundary: bytes) -> None:
        self.token: str | None = None
        self.done = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._is_token = False
        self._value = bytearray()
        self._parser = MultipartParser(boundary, {
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        })

    def feed(self, chunk: bytes) -> None:
        if self.done or not chunk:
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            self.done = True

    def _header_end(self) -> None:
        if bytes(self._header_field).lower() == b"content-disposition":
            _, params = parse_options_header(bytes(self._header_value))
            self._is_token = params.get(b"name") == CSRF_FIELD.encode()
            self._value.clear()
        self._header_field.clear()
        self._header_value.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_token:
            self._value.extend(data[start:end])
            if len(self._value) > 512:
                self._is_token = False

    def _part_end(self) -> None:
        if self._is_token:
            self.token = self._value.decode("latin-1")
            self.done = True
        self._is_token = False

    def _end(self) -> None:
        self.done = True
