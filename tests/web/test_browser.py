"""The catalogue in headless Chromium (Debian's package, driven by Playwright): the
researcher's walk in both languages, keyboard use, axe-core's accessibility rules, and
script injections that must not run. Screenshots go to docs/screenshots/ (or
``CATALOGUE_SCREENSHOTS_DIR``), where the README shows them.

Without a browser these tests are skipped, unless ``CATALOGUE_REQUIRE_BROWSER=1`` (CI),
which turns a missing browser into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import Published, publish

from catalogue.settings import Settings
from cohorts import bundled_files
from web.app import create_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_DIR = ROOT / ".cache" / "axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("CATALOGUE_SCREENSHOTS_DIR", ROOT / "docs" / "screenshots"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CATALOGUE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required (CATALOGUE_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is needed once to install axe-core into .cache/axe")
        done = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund",
                               "--prefix", str(AXE_DIR), "axe-core@4"], capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0 or not AXE.exists():
            _unavailable(f"could not install axe-core: {done.stderr[-500:]}")
    return AXE.read_text(encoding="utf-8")


@contextmanager
def serving(data: Path, schema_dir: Path) -> Iterator[str]:
    """uvicorn in a thread over ``data``; yields the base URL."""
    import uvicorn

    app = create_app(Settings(data_dir=data, ddi_schemas=schema_dir))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                   log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uvicorn_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole sample, injections included."""
    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(published.data_dir, data)
    with serving(data, published.schema_dir) as url:
        yield url


@pytest.fixture(scope="module")
def cohorts_server(schema_dir: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[str]:
    """The four bundled cohorts alone: what the journey walks and the screenshots show."""
    data = tmp_path_factory.mktemp("browser-cohorts") / "data"
    publish(Settings(data_dir=data, ddi_schemas=schema_dir), bundled_files())
    with serving(data, schema_dir) as url:
        yield url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  reduced_motion="reduce")
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    new_page.errors = errors
    try:
        yield new_page
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def check_accessibility(page: Any, axe_source: str) -> None:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)  # through the DevTools protocol: the page's CSP stays on
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, f"{page.url}: {serious}"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_researcher_journey(page: Any, cohorts_server: str, axe_source: str,
                            lang: str) -> None:
    server = cohorts_server
    words = {"en": {"search": "Search", "variables": "Variables"},
             "fr": {"search": "Rechercher", "variables": "Variables"}}[lang]
    page.goto(f"{server}/?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    check_accessibility(page, axe_source)
    shot(page, f"home-{lang}")

    # home -> search
    page.fill("#home-q", "tabac")
    page.press("#home-q", "Enter")
    page.wait_for_url("**/search?q=tabac*")
    assert page.locator("h1").inner_text() == words["search"]
    assert page.locator("mark").count() > 0, "highlighted snippets"

    # facet filter: GAZEL (a link; the script swaps the results in place)
    gazel = page.locator("#facet-cohort + ul a", has_text="GAZEL")
    gazel.click()
    page.wait_for_url("**cohort=gazel*")
    page.wait_for_selector("a[data-facet].selected")
    assert page.locator(".active-filters li").count() == 1
    metas = page.locator(".result-meta").all_inner_texts()
    assert metas and all("GAZEL" in m for m in metas)
    check_accessibility(page, axe_source)
    shot(page, f"search-{lang}")

    # -> a variable of the first result's group
    page.locator(".members a").first.click()
    page.wait_for_url("**/variables/**")
    assert page.locator("h1 code").inner_text().startswith("TABAC_")
    check_accessibility(page, axe_source)
    shot(page, f"variable-{lang}")

    # -> the same variable in another wave
    first_variable = page.url
    page.locator("table.by-wave tbody a[href*='/variables/']").nth(1).click()
    page.wait_for_url("**/variables/**")
    assert page.url != first_variable

    # -> its cohort (breadcrumbs), then a questionnaire
    page.locator("nav.breadcrumbs a", has_text="GAZEL").click()
    page.wait_for_url("**/cohorts/gazel*")
    check_accessibility(page, axe_source)
    page.locator("ol.timeline a[href*='/instruments/']").first.click()
    page.wait_for_url("**/instruments/**")
    assert page.locator("ol.flow li").count() > 10
    check_accessibility(page, axe_source)
    shot(page, f"questionnaire-{lang}")


def test_keyboard_navigation(page: Any, server: str) -> None:
    page.goto(f"{server}/search?q=tabac&lang=en")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.className")
    assert "skip-link" in focused
    assert page.evaluate("() => getComputedStyle(document.activeElement).top") != "-48px"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # Tab on to the first facet link and follow it with the keyboard alone.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.hasAttribute('data-facet')"):
            break
    else:
        pytest.fail("no facet link reachable with Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focus is visible"
    page.keyboard.press("Enter")
    page.wait_for_url("**cohort=*")
    assert page.evaluate("() => document.activeElement.id") == "results-title"


def test_works_without_javascript(browser: Any, server: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        nojs = context.new_page()
        nojs.goto(f"{server}/search?q=tabac&lang=en")
        nojs.locator(".pagination a", has_text="2").first.click()
        nojs.wait_for_url("**page=2*")
        nojs.locator("#facet-cohort + ul a", has_text="GAZEL").click()
        nojs.wait_for_url("**cohort=gazel*")
        assert "page=" not in nojs.url, "a new filter starts again from page 1"
        assert nojs.locator(".active-filters li").count() == 1
    finally:
        context.close()


def test_narrow_screen(browser: Any, server: str, axe_source: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        mobile = context.new_page()
        mobile.goto(f"{server}/search?q=tabac&lang=fr")
        width = mobile.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, "no horizontal scrolling on a phone"
        check_accessibility(mobile, axe_source)
    finally:
        context.close()


XSS_PAGES = ["/?lang=en", "/cohorts/xss", "/waves/urn:ddi:fr.xss:su-W1",
             "/instruments/urn:ddi:fr.xss:inst-W1", "/questions/urn:ddi:fr.xss:q-SMOKE",
             "/variables/urn:ddi:fr.xss:var-W1-SMOKE",
             "/variables/" + quote('urn:ddi:fr.xss:x"><img src=x onerror=window.__pwned=1>',
                                   safe=":"),
             "/search?q=" + quote("<script>window.__pwned=1</script>") + "&group=0",
             "/search?cohort=xss&group=0", "/variables/" + quote(
                 "urn:ddi:x:<img src=x onerror=window.__pwned=1>", safe=":")]


def test_injected_scripts_do_not_run(browser: Any, server: str) -> None:
    context = browser.new_context()
    dialogs: list[str] = []
    try:
        xss = context.new_page()
        xss.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for path in XSS_PAGES:
            xss.goto(server + path)
            xss.wait_for_load_state("load")
            assert xss.evaluate("() => typeof window.__pwned") == "undefined", path
            assert xss.locator("body").inner_text()
        xss.goto(server + "/variables/urn:ddi:fr.xss:var-W1-SMOKE?lang=en")
        assert "<script>window.__pwned=1</script>" in xss.locator("h1").inner_text()
    finally:
        context.close()
    assert not dialogs
