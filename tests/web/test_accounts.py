"""Accounts over HTTP: sign up, confirm through the outbox, sign in and out; and every
refusal the accounts issue lists (wrong password, unknown address, rate limit, expired
session, tampered cookie, missing or wrong CSRF token, pages of others' roles), each with
its status, nothing changed, and its audit entry."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from catalogue.accounts import create_user
from catalogue.accounts_model import AuditFilter, Origin, Role
from catalogue.accounts_roles import grant, register_bundled, require_read_request
from catalogue.settings import Settings
from catalogue.store import Store
from tests.outbox import outbox_link
from web.app import create_app
from web.auth import SESSION_COOKIE, current_user

pytestmark = pytest.mark.anyio
CLIENT = ("192.0.2.10", 50000)
AGENT = "pytest-browser/1.0"
PASSWORD = "correct horse battery"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path, schema_dir: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", ddi_schemas=schema_dir,
                    sign_in_failures_per_account=3, sign_in_failures_per_address=20)


@pytest.fixture
def store(settings: Settings) -> Store:
    opened = Store(settings.store_url)
    register_bundled(opened, origin=Origin.cli())
    for address, roles in (("admin@example.org", [Role("administrator")]),
                           ("ada@example.org", []),
                           ("rev@example.org", [Role("reviewer", "elfe")])):
        create_user(opened, settings, email=address, name=address.split("@")[0],
                    affiliation="Inserm", password=PASSWORD, actor=None, origin=Origin.cli())
        for role in roles:
            grant(opened, actor=None, email=address, role=role, origin=Origin.cli())
    return opened


@pytest.fixture
def app(settings: Settings, store: Store) -> Starlette:
    return create_app(settings)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=CLIENT),
            base_url="http://testserver", headers={"user-agent": AGENT}) as http:
        yield http


def page(response: httpx.Response) -> Any:
    return lxml.html.fromstring(response.text)


def text_of(response: httpx.Response, xpath: str) -> str:
    return " ".join(" ".join(page(response).xpath(f"{xpath}//text()")).split())


async def form_token(client: httpx.AsyncClient, path: str = "/sign-in") -> str:
    response = await client.get(path)
    [token] = page(response).xpath("//main//form[@method='post']//input[@name='csrf_token']"
                                   "/@value")[:1]
    return str(token)


async def sign_in(client: httpx.AsyncClient, address: str,
                  password: str = PASSWORD) -> httpx.Response:
    token = await form_token(client)
    return await client.post("/sign-in", data={"csrf_token": token, "email": address,
                                               "password": password})


def audit(store: Store, action: str) -> list[Any]:
    return store.audit_entries(AuditFilter(action=action))


# -- the journey --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_sign_up_confirm_sign_in_sign_out(client: httpx.AsyncClient, settings: Settings,
                                                store: Store, lang: str) -> None:
    form = await client.get(f"/sign-up?lang={lang}")
    assert page(form).get("lang") == lang
    labels = page(form).xpath("//main//form//label/@for")
    assert labels == ["email", "name", "affiliation", "password"]
    token = page(form).xpath("//main//input[@name='csrf_token']/@value")[0]
    sent = await client.post("/sign-up", data={
        "csrf_token": token, "email": "new@example.org", "name": "Nouvelle Personne",
        "affiliation": "Ined", "password": PASSWORD})
    assert sent.status_code == 200
    assert ("Vérifiez" if lang == "fr" else "Check your inbox") in text_of(sent, "//main")
    link = outbox_link(settings, "new@example.org")
    confirmed = await client.get(link.replace(settings.base_url, ""))
    assert confirmed.status_code == 200
    signed_in = await sign_in(client, "NEW@example.org")
    assert signed_in.status_code == 303
    assert signed_in.headers["location"].endswith("/account")
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=28800" in cookie
    account = await client.get("/account")
    assert account.status_code == 200
    assert "Nouvelle Personne" in text_of(account, "//nav[@class='account-nav']")
    sign_out_token = page(account).xpath(
        "//nav[@class='account-nav']//form//input[@name='csrf_token']/@value")[0]
    out = await client.post("/sign-out", data={"csrf_token": sign_out_token})
    assert out.status_code == 303
    assert "Max-Age=0" in out.headers["set-cookie"]
    again = await client.get("/account", headers={"accept": "application/json"})
    assert again.status_code == 401
    assert [e.action for e in store.audit_entries(AuditFilter(target="new@example.org"))] == [
        "sign_out", "sign_in", "account.confirmed", "account.created"]


async def test_pages_needing_an_account_send_browsers_to_sign_in(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/account?x=1")
    assert response.status_code == 303
    assert response.headers["location"].endswith("/sign-in?next=%2Faccount%3Fx%3D1")
    token = await form_token(client, "/sign-in?next=/account")
    done = await client.post("/sign-in", data={"csrf_token": token, "email": "ada@example.org",
                                               "password": PASSWORD, "next": "//evil.example"})
    assert done.headers["location"] == "http://testserver/account"  # never off-site


# -- refusals -------------------------------------------------------------------------------------


async def test_wrong_password_and_unknown_address_get_the_same_answer(
        client: httpx.AsyncClient, store: Store) -> None:
    wrong = await sign_in(client, "ada@example.org", "not the password")
    unknown = await sign_in(client, "nobody@example.org", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert text_of(response, "//div[@class='error-summary']") == (
            "There is a problem Wrong e-mail address or password.")
        assert page(response).xpath("//input[@name='email']/@value")  # kept for a retry
    assert (await client.get("/account")).status_code == 303  # nobody signed in
    entries = audit(store, "sign_in.failed")
    assert [e.target for e in entries] == ["user:nobody@example.org", "user:ada@example.org"]
    assert all((e.client, e.user_agent) == (CLIENT[0], AGENT) for e in entries)
    assert audit(store, "access.denied") == []  # one entry per refusal, not two


async def test_rate_limit_reached(client: httpx.AsyncClient, store: Store,
                                  settings: Settings) -> None:
    for _ in range(settings.sign_in_failures_per_account):
        assert (await sign_in(client, "ada@example.org", "not the password")).status_code == 401
    throttled = await sign_in(client, "ada@example.org", PASSWORD)
    assert throttled.status_code == 429
    retry = int(throttled.headers["retry-after"])
    assert 0 < retry <= settings.sign_in_window + 1
    message = text_of(throttled, "//div[@class='error-summary']")
    assert re.search(r"Try again after \d\d:\d\d UTC \(in \d+ min\)", message), message
    assert (await client.get("/account")).status_code == 303  # still nobody signed in
    assert len(audit(store, "sign_in.throttled")) == 1
    french = await client.post("/sign-in?lang=fr", data={
        "csrf_token": await form_token(client), "email": "ada@example.org",
        "password": PASSWORD})
    assert "Réessayez" in text_of(french, "//div[@class='error-summary']")


async def test_expired_session(settings: Settings, store: Store) -> None:
    app = create_app(settings.with_(session_max_age=1))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=CLIENT),
            base_url="http://testserver") as client:
        assert (await sign_in(client, "ada@example.org")).status_code == 303
        token = await form_token(client, "/account")
        time.sleep(2.1)
        response = await client.get("/account", headers={"accept": "application/json"})
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error": "Sign in to continue.", "errors": [],
                                   "status": 401}
        changed = await client.post("/account", data={
            "csrf_token": token, "name": "Changed", "affiliation": "", "lang": "en"})
        assert changed.status_code == 403
    user = store.user_by_email("ada@example.org")
    assert user is not None and user.name == "ada"
    assert audit(store, "csrf.refused")[0].details == {"token": "wrong", "session": False}


async def test_tampered_cookie(client: httpx.AsyncClient, store: Store,
                               settings: Settings) -> None:
    assert (await sign_in(client, "ada@example.org")).status_code == 303
    token = await form_token(client, "/account")
    value = client.cookies[SESSION_COOKIE]
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    client.cookies.set(SESSION_COOKIE, tampered)
    response = await client.get("/account", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert "Max-Age=0" in response.headers["set-cookie"]
    from itsdangerous import URLSafeTimedSerializer  # noqa: PLC0415

    foreign = URLSafeTimedSerializer("another key", salt="catalogue.session").dumps("x" * 43)
    client.cookies.set(SESSION_COOKIE, foreign)
    changed = await client.post("/account", data={
        "csrf_token": token, "name": "Changed", "affiliation": "", "lang": "en"})
    assert changed.status_code == 403
    assert store.user_by_email("ada@example.org").name == "ada"  # type: ignore[union-attr]
    assert len(audit(store, "session.invalid_cookie")) == 2


async def test_csrf_token_missing_or_wrong(client: httpx.AsyncClient, store: Store,
                                           app: Starlette) -> None:
    assert (await sign_in(client, "ada@example.org")).status_code == 303
    fields = {"name": "Changed", "affiliation": "", "lang": "en"}
    missing = await client.post("/account", data=fields)
    assert missing.status_code == 403
    assert "reload the page" in text_of(missing, "//main")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=CLIENT),
                                 base_url="http://testserver") as other:
        foreign_token = await form_token(other)  # a valid token of another session
    wrong = await client.post("/account", data={**fields, "csrf_token": foreign_token})
    assert wrong.status_code == 403
    as_json = await client.post("/account", data=fields, headers={
        "x-csrf-token": "forged", "accept": "application/json"})
    assert as_json.status_code == 403 and as_json.json()["status"] == 403
    multipart = await client.post("/account", data=fields, files={"f": ("a.txt", b"x")})
    assert multipart.status_code == 403
    assert store.user_by_email("ada@example.org").name == "ada"  # type: ignore[union-attr]
    refusals = audit(store, "csrf.refused")
    assert [e.details["token"] for e in refusals] == ["missing", "wrong", "wrong", "missing"]
    assert all(e.actor_email == "ada@example.org" for e in refusals)
    assert audit(store, "access.denied") == []
    # the right token, in the form, the header, or first in a multipart body, is accepted
    token = await form_token(client, "/account")
    ok = await client.post("/account", data={**fields, "csrf_token": token})
    assert ok.status_code == 303
    header = await client.post("/account", data={**fields, "name": "By header"},
                               headers={"x-csrf-token": token})
    assert header.status_code == 303
    upload = await client.post("/account", data={"csrf_token": token, **fields,
                                                 "name": "By multipart"},
                               files={"f": ("a.txt", b"x" * 300_000)})
    assert upload.status_code == 303
    assert store.user_by_email("ada@example.org").name == "By multipart"  # type: ignore[union-attr]


async def test_administration_is_for_administrators(client: httpx.AsyncClient,
                                                    store: Store) -> None:
    await sign_in(client, "rev@example.org")
    for path in ("/admin/people", "/admin/audit", "/admin/audit.csv", "/admin/cohorts"):
        assert (await client.get(path)).status_code == 403, path
    token = await form_token(client, "/account")
    ada = store.user_by_email("ada@example.org")
    assert ada is not None
    grab = await client.post(f"/admin/people/{ada.id}/roles", data={
        "csrf_token": token, "action": "grant", "role": "administrator", "cohort": ""})
    assert grab.status_code == 403
    assert store.user_by_email("ada@example.org").roles == frozenset()  # type: ignore[union-attr]
    denied = audit(store, "access.denied")
    assert [e.target for e in denied][0] == f"POST /admin/people/{ada.id}/roles"
    assert {e.actor_email for e in denied} == {"rev@example.org"}


async def test_administrators_grant_roles_and_read_the_trail(client: httpx.AsyncClient,
                                                             store: Store) -> None:
    await sign_in(client, "admin@example.org")
    people = await client.get("/admin/people?role=reviewer")
    assert [a.text for a in page(people).xpath("//table[@class='people']//td/a")] == [
        "rev@example.org"]
    ada = store.user_by_email("ada@example.org")
    assert ada is not None
    person = await client.get(f"/admin/people/{ada.id}")
    token = page(person).xpath("//main//input[@name='csrf_token']/@value")[0]
    granted = await client.post(f"/admin/people/{ada.id}/roles", data={
        "csrf_token": token, "action": "grant", "role": "publisher", "cohort": "constances"})
    assert granted.status_code == 303
    assert Role("publisher", "constances") in store.user_by_email(  # type: ignore[union-attr]
        "ada@example.org").roles
    [entry] = audit(store, "role.granted")[:1]
    assert (entry.actor_email, entry.target, entry.client, entry.user_agent) == (
        "admin@example.org", "user:ada@example.org", CLIENT[0], AGENT)
    trail = await client.get("/admin/audit?action=role.granted&actor=admin")
    rows = page(trail).xpath("//table[@class='audit']/tbody/tr")
    assert len(rows) == 1 and "publisher" in text_of(trail, "//table[@class='audit']/tbody")
    exported = await client.get("/admin/audit.csv?action=role")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0].startswith("id,at,actor_id,actor_email,action")
    assert any("admin@example.org,role.granted" in line for line in lines[1:])
    bad = await client.post("/admin/cohorts", data={
        "csrf_token": token, "slug": "Bad Slug", "name": "", "agencies": "not an agency"})
    assert bad.status_code == 400
    invalid = page(bad).xpath("//input[@aria-invalid='true']/@id")
    assert invalid == ["slug", "name", "agencies"]
    for field in invalid:
        described = page(bad).xpath(f"//input[@id='{field}']/@aria-describedby")[0]
        assert f"{field}-error" in described.split()


async def test_a_refusal_audited_by_its_code_is_not_audited_twice(
        client: httpx.AsyncClient, store: Store, settings: Settings) -> None:
    from catalogue.accounts import sign_up  # noqa: PLC0415

    sign_up(store, settings, email="late@example.org", name="Late", affiliation="",
            password=PASSWORD, lang="en", origin=Origin.cli())
    refused = await sign_in(client, "late@example.org")  # not confirmed yet
    assert refused.status_code == 403
    assert "Confirm your e-mail address first" in text_of(refused, "//div[@class='error-summary']")
    assert [e.details["reason"] for e in audit(store, "sign_in.failed")] == ["not confirmed"]
    assert audit(store, "access.denied") == []


@dataclass(frozen=True)
class RequestStandIn:
    """What the permission functions read of an access request (the model of the access
    requests issue has these attributes; its pages were not written yet)."""

    applicant_id: int
    cohort: str
    status: str


async def test_others_requests_are_refused_and_audited(settings: Settings,
                                                       store: Store) -> None:
    """A view doing what the access request pages do: the permission function decides."""
    ada = store.user_by_email("ada@example.org")
    create_user(store, settings, email="other@example.org", name="other", affiliation="",
                password=PASSWORD, actor=None, origin=Origin.cli())
    assert ada is not None
    requests = {1: RequestStandIn(ada.id, "constances", "submitted")}

    async def view(request: Request) -> Response:
        found = requests[int(request.path_params["request_id"])]
        require_read_request(current_user(request), found)
        return PlainTextResponse("the request")

    app = create_app(settings)
    app.router.routes.insert(0, Route("/test-requests/{request_id}", view))
    async with app.router.lifespan_context(app):
        for address, status in (("rev@example.org", 403), ("other@example.org", 403),
                                ("ada@example.org", 200)):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=CLIENT),
                                         base_url="http://testserver") as http:
                await sign_in(http, address)
                response = await http.get("/test-requests/1")
                assert response.status_code == status, address
    denied = audit(store, "access.denied")
    assert [(e.actor_email, e.target) for e in denied] == [
        ("other@example.org", "GET /test-requests/1"), ("rev@example.org", "GET /test-requests/1")]
