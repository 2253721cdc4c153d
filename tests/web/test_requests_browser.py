"""The access request in a real browser (headless Chromium): a researcher, JavaScript off
(every step is a link or a form), searches, puts variables of two cohorts in the basket
(one CASD-only), signs up (confirming through the outbox), fills the request, saves,
comes back, submits; a reviewer of GAZEL signs in and requests changes; the researcher
amends and resubmits; the reviewer approves; both requests' PDFs are downloaded and read.
axe-core checks the pages on the way.

Skipped without Chromium or Playwright, unless ``CATALOGUE_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pypdfium2
import pytest
from conftest import publish
from test_browser import axe_source as axe_source  # noqa: F401 - fixture
from test_browser import browser as browser  # noqa: F401 - the shared Chromium fixture
from test_browser import check_accessibility, serving

from catalogue.accounts import create_user
from catalogue.accounts_model import Origin, Role
from catalogue.accounts_roles import grant, register_bundled
from catalogue.settings import Settings
from catalogue.store import Store
from cohorts import bundled_files
from tests.outbox import outbox_link

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery"
RESEARCHER = "marie@example.org"
REVIEWER = "reviewer@example.org"


@pytest.fixture(scope="module")
def journey_server(schema_dir: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[str, Settings]]:
    """The four bundled cohorts, registered, with a reviewer of GAZEL."""
    data = tmp_path_factory.mktemp("requests-browser") / "data"
    settings = Settings(data_dir=data, ddi_schemas=schema_dir)
    publish(settings, bundled_files())
    store = Store(settings.store_url)
    register_bundled(store, origin=Origin.cli())
    create_user(store, settings, email=REVIEWER, name="Paul Reviewer", affiliation="Inserm",
                password=PASSWORD, actor=None, origin=Origin.cli())
    grant(store, actor=None, email=REVIEWER, role=Role("reviewer", "gazel"),
          origin=Origin.cli())
    store.close()
    with serving(data, schema_dir) as url:
        yield url, settings


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    # 422 is the answer to a submission with fields to complete, which the test makes
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if (
        r.status >= 400 and r.status != 422 and not r.url.endswith("/favicon.ico")) else None)
    return problems


def _field(page: Any, name: str) -> Any:
    return page.locator(f'[name="{name}"]')


def _pdf_pages(page: Any, link_name: str) -> int:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    content = Path(info.value.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    document = pypdfium2.PdfDocument(content)
    try:
        text = "".join(document[i].get_textpage().get_text_range()
                       for i in range(len(document)))
        assert "Physiotherapy after preterm birth" in text
        return len(document)
    finally:
        document.close()


def _axe(browser: Any, page: Any, axe_source: str, query: str = "") -> None:
    """axe-core on the page the researcher sees, in a twin browser with JavaScript (axe
    needs it) and the same cookies."""
    twin = browser.new_context(storage_state=page.context.storage_state(),
                               viewport={"width": 1280, "height": 900})
    try:
        shown = twin.new_page()
        shown.goto(page.url.split("#")[0] + query)
        check_accessibility(shown, axe_source)
    finally:
        twin.close()


def test_from_search_to_approved_request(browser: Any,  # noqa: F811 - the fixture
                                         journey_server: tuple[str, Settings],
                                         axe_source: str) -> None:  # noqa: F811
    from playwright.sync_api import expect  # noqa: PLC0415

    base, settings = journey_server
    researcher = browser.new_context(viewport={"width": 1280, "height": 900},
                                     accept_downloads=True, java_script_enabled=False)
    page = researcher.new_page()
    page.set_default_timeout(30_000)
    problems = _watch(page)

    # search, and put a CASD-only variable of GAZEL in the basket (no session yet: the
    # button leads to a page holding the form)
    page.goto(f"{base}/search?q=kine&lang=en")
    page.get_by_role("link", name="Add to the basket SNDS_KINE_A2010").click()
    expect(page.locator("h1")).to_have_text("Add to the basket")
    page.locator("main").get_by_role("button", name="Add to the basket").click()
    expect(page).to_have_url(re.compile(r"/search\?q=kine"))
    expect(page.locator("li.result", has_text="SNDS_KINE_A2010")).to_contain_text(
        "In your basket")
    # and an open variable of Elfe, in one click now
    page.goto(f"{base}/search?q=CR_POIDS_M2")
    page.get_by_role("button", name="Add to the basket CR_POIDS_M2").click()
    expect(page.locator("a.basket-link")).to_have_text("Basket (2)")
    page.locator("a.basket-link").click()
    expect(page.locator("main")).to_contain_text("A CASD secure workspace is required.")
    expect(page.locator("section.basket-cohort h2")).to_have_count(2)
    _axe(browser, page, axe_source)

    # sign up, confirm through the outbox, sign in: the basket follows
    page.locator("nav.account-nav").get_by_role("link", name="Sign up").click()
    form = page.locator("main form.account-form")
    form.get_by_label("E-mail address").fill(RESEARCHER)
    form.get_by_label("Full name").fill("Marie Martin")
    form.get_by_label("Affiliation").fill("Inserm U1018")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status")).to_contain_text("Check your inbox")
    page.goto(base + urlsplit(outbox_link(settings, RESEARCHER)).path)
    expect(page.locator("h1")).to_have_text("Your address is confirmed")
    page.locator("main").get_by_role("link", name="Sign in").click()
    form = page.locator("main form.account-form")
    form.get_by_label("E-mail address").fill(RESEARCHER)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.locator("a.basket-link")).to_have_text("Basket (2)")
    page.locator("a.basket-link").click()
    page.get_by_role("button", name="Start an access request with these variables").click()
    expect(page.locator("h1")).to_have_text("Untitled project")

    # submitting it empty says, next to each field, what it needs
    expect(page.locator("fieldset.cohort > legend")).to_have_text(
        [re.compile("^Elfe"), re.compile("^GAZEL")])
    page.get_by_role("button", name="Submit the application").click()
    expect(page.locator(".error-summary")).to_contain_text("describe the method")
    expect(_field(page, "protocol.method")).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[id="protocol.method-error"]')).to_have_text(
        "Error: describe the method")
    _axe(browser, page, axe_source, "?check=1")

    # fill the request, section by section, and save
    _field(page, "title").fill("Physiotherapy after preterm birth")
    _field(page, "protocol.objectives").fill("Relate early weight to later care use.")
    _field(page, "protocol.method").fill("Linked longitudinal analysis.")
    _field(page, "protocol.expected_results").fill("Effect sizes with their uncertainty.")
    for name, value in (("name", "Marie Martin"), ("role", "principal investigator"),
                        ("affiliation", "Inserm U1018"), ("email", RESEARCHER)):
        _field(page, f"team.0.{name}").fill(value)
    _field(page, "team.0.principal_investigator").check()
    page.locator("#section-project").get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("status")).to_contain_text("Your draft is saved.")
    _field(page, "funding.project").fill("ANR grant")
    _field(page, "funding.access_costs").fill("Laboratory budget")
    page.locator('[id="funding.industrial-no"]').check()
    groups = page.locator('textarea[name*=".groups."]')
    for index in range(groups.count()):
        groups.nth(index).fill("Needed to measure the exposure and the outcome.")
    for box in page.locator('input[name$=".charter_accepted"]').all():
        box.check()
    _field(page, "commitments.publish_results").check()
    _field(page, "commitments.destruction_report").check()
    _field(page, "requests.gazel.casd.users").fill("2")
    page.locator("#section-casd").get_by_role("button", name="Save the draft").click()
    expect(page.locator("table.estimate .estimate-total")).to_have_text("€3,720.00")
    _axe(browser, page, axe_source)

    # come back later, and submit
    page.goto(f"{base}/")
    page.locator("nav.basket-nav").get_by_role("link", name="Your requests").click()
    page.get_by_role("link", name="Physiotherapy after preterm birth").click()
    expect(_field(page, "protocol.method")).to_have_value("Linked longitudinal analysis.")
    page.get_by_role("button", name="Submit the application").click()
    expect(page.get_by_role("status")).to_contain_text("Your application is submitted")
    expect(page.locator("main tbody span.state")).to_have_text(["Submitted", "Submitted"])

    # a reviewer of GAZEL asks for changes
    reviews = browser.new_context(viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    desk = reviews.new_page()
    desk.set_default_timeout(30_000)
    problems += _watch(desk)
    desk.goto(f"{base}/sign-in")
    form = desk.locator("main form.account-form")
    form.get_by_label("E-mail address").fill(REVIEWER)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    desk.locator("nav.basket-nav").get_by_role("link", name="Reviews").click()
    expect(desk.locator("main tbody tr")).to_have_count(1)
    check_accessibility(desk, axe_source)
    desk.locator("main tbody a").click()
    desk.get_by_role("button", name="Start the review").click()
    check_accessibility(desk, axe_source)
    desk.get_by_label("Reason").fill("Justify the SNDS variable on its own.")
    desk.get_by_role("button", name="Request changes").click()
    expect(desk.locator("p.request-state")).to_have_text("State: Changes requested")

    # the researcher amends and resubmits
    page.reload()
    page.get_by_role("link", name="Amend").click()
    justification = page.locator('textarea[name$=".justification"]')
    expect(justification).to_have_count(1)
    justification.fill("Reimbursed physiotherapy sessions are the outcome.")
    page.get_by_role("button", name="Save and resubmit").click()
    expect(page.get_by_role("status")).to_contain_text("resubmitted")
    expect(page.locator("ol.timeline")).to_contain_text("Justify the SNDS variable on its own.")
    _axe(browser, page, axe_source)

    # the reviewer approves
    desk.reload()
    desk.get_by_role("button", name="Start the review").click()
    desk.get_by_role("button", name="Approve", exact=True).click()
    expect(desk.locator("p.request-state")).to_have_text("State: Approved")
    assert _pdf_pages(desk, "PDF in French") >= 1

    # both requests' PDFs
    page.goto(f"{base}/requests")
    for number in range(2):
        page.locator("main tbody tr").nth(number).get_by_role("link").first.click()
        assert _pdf_pages(page, "PDF in English") >= 1
        page.go_back()
    assert problems == []
    researcher.close()
    reviews.close()
