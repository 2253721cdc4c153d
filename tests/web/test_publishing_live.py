"""Publishing against a real server (``catalogue serve --workers 2``):

- in headless Chromium (Debian's package, driven by Playwright), a publisher uploads an
  invalid file, reads the report (and downloads it as JSON), fixes the file, publishes it,
  sees the diff against the previous version, and finds the change in search at once; a
  publisher of another cohort is refused;
- a publication uploaded and then withdrawn while 20 clients search and open what they
  find: no request fails, no result points to a missing item.

Without a browser the browser test is skipped, unless ``CATALOGUE_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest
from test_browser import browser as browser  # noqa: F401 - the shared Chromium fixture
from test_publishing import NEW_LABEL, gazel_v2

from catalogue.accounts import create_user
from catalogue.accounts_model import AuditFilter, Origin, Role
from catalogue.accounts_roles import grant, register_bundled
from catalogue.publishing import publish_paths
from catalogue.settings import Settings
from catalogue.store import Store
from cohorts import COHORTS, TOPICS_XML
from search.indexing import index_publications

pytestmark = pytest.mark.slow

CATALOGUE = str(Path(sys.executable).with_name("catalogue"))
#: axe-core, as installed by the web tests (tests/web/test_browser.py); checked when there
AXE = Path(__file__).resolve().parents[2] / ".cache" / "axe" / "node_modules" / "axe-core" / (
    "axe.min.js")
PASSWORD = "correct horse battery"
GAZEL = next(c for c in COHORTS if c.slug == "gazel")
ELFE = next(c for c in COHORTS if c.slug == "elfe")
LABEL = "Partnership status"
CHANGED_URN = "urn:ddi:fr.gazel:var-Q1989-VIE_COUPLE_89"
CLIENTS = 20
WORDS = ("tabac", "smoking", "alcohol", "sommeil", "travail", "santé", "couple", "status",
         "weight", "pension", "diabetes", "education", "partnership", "cohabiting")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, schema_dir: Path) -> Path:
    """Topics, GAZEL and Elfe published and indexed; a publisher of each cohort."""
    data = tmp_path_factory.mktemp("publishing-live") / "data"
    settings = Settings(data_dir=data, ddi_schemas=schema_dir)
    store = Store(settings.store_url)
    results = publish_paths([TOPICS_XML, GAZEL.xml, ELFE.xml], store, schema_dir)
    index_publications(settings, store, [r.publication.id for r in results])
    register_bundled(store, origin=Origin.cli())
    for address, cohort in (("pub@example.org", "gazel"), ("elfe@example.org", "elfe")):
        create_user(store, settings, email=address, name=address.split("@")[0],
                    affiliation="Inserm", password=PASSWORD, actor=None, origin=Origin.cli())
        grant(store, actor=None, email=address, role=Role("publisher", cohort),
              origin=Origin.cli())
    store.close()
    return data


@dataclass
class Server:
    base: str
    data: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(published: Path, tmp_path: Path, schema_dir: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    shutil.copytree(published, data)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
    env.update(CATALOGUE_DATA_DIR=str(data), CATALOGUE_DDI_SCHEMAS=str(schema_dir),
               CATALOGUE_BASE_URL=base, CATALOGUE_LOG_LEVEL="WARNING")
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([CATALOGUE, "serve", "--port", str(port), "--workers", "2"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        pids: set[int] = set()
        while len(pids) < 2:  # both workers up
            try:
                pids.add(httpx.get(f"{base}/healthz", timeout=5).json()["pid"])
            except httpx.HTTPError:
                time.sleep(0.3)
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("catalogue serve did not start: "
                                     + (tmp_path / "serve.log").read_text(errors="replace"))
        yield Server(base, data)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
        log.close()


def audit(data: Path, action: str) -> list[Any]:
    store = Store(Settings(data_dir=data).store_url)
    try:
        return list(store.audit_entries(AuditFilter(action=action)))
    finally:
        store.close()


# -- in the browser -------------------------------------------------------------------------------


def _sign_in(browser: Any, base: str, address: str, lang: str = "en") -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    page.goto(f"{base}/sign-in?lang={lang}")
    form = page.locator("main form")
    form.locator("input[name=email]").fill(address)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/account"))
    return page


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("CATALOGUE_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


def _accessible(page: Any) -> None:
    """No serious or critical axe-core violation on the page (when axe-core is there)."""
    if not AXE.exists():
        return
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes:
        ['violations']})).violations.map(v => ({id: v.id, impact: v.impact,
        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, f"{page.url}: {serious}"


@pytest.mark.browser
def test_publisher_fixes_publishes_and_finds_the_change(browser: Any, server: Server,
                                                        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    invalid = tmp_path / "gazel.xml"
    invalid.write_bytes(gazel_v2(invalid=True))
    fixed = tmp_path / "fixed" / "gazel.xml"
    fixed.parent.mkdir()
    fixed.write_bytes(gazel_v2())
    page = _sign_in(browser, server.base, "pub@example.org")

    # from the header to the upload form
    page.locator("nav.publishing-nav").get_by_role("link", name="Publish").click()
    expect(page.locator("h1")).to_have_text("Publications")
    page.get_by_role("link", name="Upload a DDI-L file or a data dictionary").click()
    _accessible(page)
    page.get_by_label("Cohort").select_option("gazel")
    page.get_by_label("File", exact=False).first.set_input_files(str(invalid))
    page.get_by_role("button", name="Upload and check").click()

    # the report: grouped by rule, each finding with line, element path and message
    expect(page.locator("h1")).to_contain_text("Check before publishing")
    rule = page.locator("section.rule-error")
    expect(rule.locator("code.rule-id")).to_have_text("XSD")
    cells = rule.locator("table.findings tbody tr").first.locator("td")
    expect(cells.nth(0)).to_have_text(re.compile(r"^\d+:\d+$"))
    expect(cells.nth(1)).to_have_text("/DDIInstance/Oops")
    expect(cells.nth(2)).to_contain_text("r:Oops")
    _shot(page, "publishing-report")
    _accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (JSON)").click()
    report = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert report["valid"] is False and report["rules"][0]["rule"] == "XSD"
    assert report["rules"][0]["findings"][0]["path"] == "/DDIInstance/Oops"

    # fixed and uploaded again: valid, with the preview of what would change
    page.get_by_role("button", name="Discard this upload").click()
    expect(page.locator("div.notice")).to_contain_text("discarded")
    page.get_by_label("Cohort").select_option("gazel")
    page.get_by_label("File", exact=False).first.set_input_files(str(fixed))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("p.report-verdict .badge")).to_have_text("valid")
    expect(page.locator("section.preview")).to_contain_text(NEW_LABEL)
    page.get_by_role("button", name="Publish", exact=True).click()

    # the diff against the previous version
    expect(page.locator("h1")).to_contain_text("Publication no. 4")
    expect(page.locator("div.notice[role=status]")).to_contain_text("Published")
    changes = page.locator("section[aria-labelledby=changes-title]")
    expect(changes.locator("h2")).to_have_text("What changed since no. 2")
    row = changes.locator("table.fields tr", has=page.locator("code", has_text="label[en]"))
    expect(row.locator("td.before")).to_have_text(LABEL)
    expect(row.locator("td.after")).to_have_text(NEW_LABEL)
    _shot(page, "publishing-diff")
    _accessible(page)
    page.goto(f"{server.base}/publications/cohorts/gazel")
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    _accessible(page)

    # searchable at once, in the page a researcher uses
    page.goto(f"{server.base}/search?q=cohabiting")
    page.get_by_role("link", name=re.compile(re.escape(NEW_LABEL))).first.click()
    expect(page.locator("h1")).to_contain_text(NEW_LABEL)
    assert page.url.endswith(f"{CHANGED_URN}:2") or CHANGED_URN in page.url
    assert not page.js_errors
    page.context.close()


@pytest.mark.browser
def test_a_publisher_of_another_cohort_is_refused(browser: Any, server: Server,
                                                  tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "gazel.xml"
    path.write_bytes(gazel_v2())
    page = _sign_in(browser, server.base, "elfe@example.org", lang="fr")
    page.goto(f"{server.base}/publications/upload")
    options = page.locator("select#cohort option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "elfe"
    page.get_by_label("Fichier", exact=False).first.set_input_files(str(path))
    with page.expect_response(re.compile(r"/publications/upload$")) as answer:
        page.get_by_role("button", name="Déposer et vérifier").click()
    assert answer.value.status == 403
    summary = page.locator("div.error-summary")
    expect(summary).to_contain_text("Vous ne pouvez pas publier ce fichier")
    [entry] = audit(server.data, "publication.refused")
    assert entry.actor_email == "elfe@example.org"
    # and GAZEL's publication offers them no way to withdraw it
    page.goto(f"{server.base}/publications/2")
    expect(page.locator("section.withdraw")).to_have_count(0)
    page.context.close()


# -- publishing while 20 clients search -------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    seen_new: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


def _searcher(base: str, stop: threading.Event, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    pages = {"variable": "variables", "question": "questions"}
    with httpx.Client(base_url=base, timeout=120) as client:
        while not stop.is_set():
            word = rng.choice(WORDS)
            try:
                found = client.get("/search.json", params={"q": word})
                count = 1
                if found.status_code != 200:
                    tally.fail(f"search {word}: {found.status_code}")
                    continue
                hits = [h for h in found.json()["hits"] if h["kind"] in pages]
                for hit in rng.sample(hits, min(3, len(hits))):
                    item = client.get(f"/{pages[hit['kind']]}/{hit['urn']}.json")
                    count += 1
                    if item.status_code != 200:
                        tally.fail(f"{hit['urn']} (found by {word!r}): {item.status_code}")
                    elif hit["urn"] == f"{CHANGED_URN}:2":
                        tally.seen_new = True
            except httpx.HTTPError as error:
                tally.fail(f"{word}: {type(error).__name__} {error}")
                continue
            with tally.lock:
                tally.requests += count


def _token(client: httpx.Client, path: str) -> str:
    page = lxml.html.fromstring(client.get(path).text)
    return str(page.xpath("//main//form[@method='post']//input[@name='csrf_token']/@value")[0])


def test_publishing_and_withdrawing_while_20_clients_search(server: Server) -> None:
    tally = Tally()
    stop = threading.Event()
    clients = [threading.Thread(target=_searcher, args=(server.base, stop, tally, n),
                                daemon=True) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(3)
        with httpx.Client(base_url=server.base, timeout=300) as publisher:
            signed = publisher.post("/sign-in", data={
                "csrf_token": _token(publisher, "/sign-in"), "email": "pub@example.org",
                "password": PASSWORD})
            assert signed.status_code == 303
            token = _token(publisher, "/publications/upload")
            staged = publisher.post("/publications/upload", data={
                "csrf_token": token, "cohort": "gazel"},
                files={"file": ("gazel.xml", gazel_v2(), "application/xml")})
            assert staged.status_code == 303, staged.text[:500]
            published = publisher.post(staged.headers["location"] + "/publish",
                                       data={"csrf_token": token})
            assert published.status_code == 303, published.text[:500]
            assert published.headers["location"].endswith("/publications/4?done=published")
            # the change is searchable as soon as publishing has answered
            found = publisher.get("/search.json", params={"q": '"cohabiting included"'})
            assert [h["urn"] for h in found.json()["hits"]] == [f"{CHANGED_URN}:2"]
            time.sleep(3)
            withdrawn = publisher.post("/publications/4/withdraw", data={
                "csrf_token": token, "reason": "testing under load"})
            assert withdrawn.status_code == 303, withdrawn.text[:500]
            found = publisher.get("/search.json", params={"q": '"cohabiting included"'})
            assert found.json()["hits"] == []
        time.sleep(3)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=180)
    assert not tally.failures, tally.failures[:20]
    assert tally.requests > 10 * CLIENTS, tally.requests
    assert len(audit(server.data, "publication.published")) == 1
    assert len(audit(server.data, "publication.withdrawn")) == 1
