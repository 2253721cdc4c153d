"""In a real browser (headless Chromium), against ``catalogue serve`` with two worker
processes: sign up, confirm through the outbox, sign in, sign out, in English and in
French. Two workers: the session made by one is honoured by the other."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from test_browser import browser as browser  # noqa: F401 - the shared Chromium fixture

from catalogue.settings import Settings
from catalogue.store import Store
from tests.outbox import outbox_link

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CATALOGUE = str(Path(sys.executable).with_name("catalogue"))
PASSWORD = "correct horse battery"
LABELS = {
    "en": {"email": "E-mail address", "name": "Full name", "affiliation": "Affiliation",
           "password": "Password", "sign_up": "Sign up", "inbox": "Check your inbox",
           "confirmed": "Your address is confirmed", "sign_in": "Sign in",
           "sign_out": "Sign out", "account": "Your account"},
    "fr": {"email": "Adresse e-mail", "name": "Nom complet", "affiliation": "Affiliation",
           "password": "Mot de passe", "sign_up": "Créer un compte",
           "inbox": "Vérifiez votre boîte de réception",
           "confirmed": "Votre adresse est confirmée", "sign_in": "Se connecter",
           "sign_out": "Se déconnecter", "account": "Votre compte"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(port: int, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes] | None:
    """``catalogue serve`` on ``port``, once it answers; None when it could not listen
    there (another program took the port between the choice and the bind)."""
    process = subprocess.Popen([CATALOGUE, "serve", "--port", str(port), "--workers", "2"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            # the answer must come from this server (an empty catalogue), not a neighbour's
            if answer.status_code == 200 and answer.json()["publications"] == 0:
                time.sleep(0.5)
                if process.poll() is None:
                    return process
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    _stop(process)
    raise AssertionError("catalogue serve did not start within 90 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        process.kill()
        process.wait()


@pytest.fixture
def server(tmp_path: Path, schema_dir: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    # Create the store first: workers opening a missing SQLite store at the same moment
    # race to create its tables (the second one fails to start).
    Store(Settings(data_dir=data).store_url).close()
    with (tmp_path / "serve.log").open("wb") as log:
        for _attempt in range(3):
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
            env.update(CATALOGUE_DATA_DIR=str(data), CATALOGUE_DDI_SCHEMAS=str(schema_dir),
                       CATALOGUE_BASE_URL=base, CATALOGUE_LOG_LEVEL="WARNING")
            process = _start(port, env, log)
            if process is not None:
                break
        else:
            raise AssertionError("catalogue serve could not listen on a free port")
        try:
            yield base, data
        finally:
            _stop(process)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_sign_up_confirm_sign_in_sign_out(server: tuple[str, Path], browser: Any,
                                          lang: str) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415

    base, data = server
    words = LABELS[lang]
    address = f"researcher-{lang}@example.org"
    name = "Marie Curie" if lang == "fr" else "Rosalind Franklin"
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []  # failed loads (but the favicon, which the site has none of)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if (
        r.status >= 400 and not r.url.endswith("/favicon.ico")) else None)

    page.goto(f"{base}/?lang={lang}")
    page.locator("nav.account-nav").get_by_role("link", name=words["sign_up"]).click()
    expect(page.locator("h1")).to_have_text(words["sign_up"])
    form = page.locator("main form.account-form")
    form.get_by_label(words["email"]).fill(address)
    form.get_by_label(words["name"]).fill(name)
    form.get_by_label(words["affiliation"]).fill("Institut Pasteur")
    form.get_by_label(words["password"]).fill(PASSWORD)
    form.get_by_role("button", name=words["sign_up"]).click()
    expect(page.get_by_role("status")).to_contain_text(words["inbox"])

    link = outbox_link(Settings(data_dir=data), address)
    assert link.startswith(base + "/account/confirm/")
    page.goto(link)
    expect(page.locator("h1")).to_have_text(words["confirmed"])

    page.locator("main").get_by_role("link", name=words["sign_in"]).click()
    form = page.locator("main form.account-form")
    form.get_by_label(words["email"]).fill(address.upper())
    form.get_by_label(words["password"]).fill(PASSWORD)
    form.get_by_role("button", name=words["sign_in"]).click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("h1")).to_have_text(words["account"])
    header = page.locator("nav.account-nav")
    expect(header).to_contain_text(name)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["catalogue_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"

    for _ in range(4):  # two workers: every one of them knows the session
        page.reload()
        expect(page.locator("nav.account-nav")).to_contain_text(name)

    header.get_by_role("button", name=words["sign_out"]).click()
    expect(page.locator("nav.account-nav")).to_contain_text(words["sign_in"])
    expect(page.locator("nav.account-nav")).not_to_contain_text(name)
    page.goto(f"{base}/account")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
    assert page.locator("html").get_attribute("lang") == lang
    assert problems == []
    context.close()
