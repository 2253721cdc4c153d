"""Publishing over HTTP: uploading (report grouped by rule, JSON download, preview of what
would change, lenient as an explicit choice), publishing (searchable at once, diff against
the previous version), histories and comparisons as pages and JSON, withdrawal; and every
refusal: signed out, researcher, publisher of another cohort, no CSRF token, too large, a
file of the wrong type. Forms are labelled, carry their CSRF token first, and read in both
languages."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest
from starlette.applications import Starlette

from catalogue.accounts import create_user
from catalogue.accounts_model import AuditFilter, Origin, Role
from catalogue.accounts_roles import grant, register_bundled
from catalogue.publishing import publish_paths
from catalogue.settings import Settings
from catalogue.store import Store
from cohorts import COHORTS, TOPICS_XML
from search.indexing import index_publications
from web.app import create_app
from web.i18n import load_translations
from web.views.publishing_common import every_rule_text

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery"
GAZEL = next(c for c in COHORTS if c.slug == "gazel")
GAZEL_ID = 2  # publication numbers in the published data: topics 1, GAZEL 2
LABEL = "Partnership status"
NEW_LABEL = "Partnership status (cohabiting included)"
CHANGED_URN = "urn:ddi:fr.gazel:var-Q1989-VIE_COUPLE_89"

Client = httpx.AsyncClient
NewClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, schema_dir: Path) -> Path:
    data = tmp_path_factory.mktemp("web-publishing") / "data"
    settings = Settings(data_dir=data, ddi_schemas=schema_dir)
    store = Store(settings.store_url)
    results = publish_paths([TOPICS_XML, GAZEL.xml], store, schema_dir)
    index_publications(settings, store, [r.publication.id for r in results])
    assert [r.publication.id for r in results] == [1, GAZEL_ID]
    register_bundled(store, origin=Origin.cli())
    for address, role in (("pub@example.org", Role("publisher", "gazel")),
                          ("elfe@example.org", Role("publisher", "elfe")),
                          ("ada@example.org", None)):
        create_user(store, settings, email=address, name=address.split("@")[0],
                    affiliation="Inserm", password=PASSWORD, actor=None, origin=Origin.cli())
        if role is not None:
            grant(store, actor=None, email=address, role=role, origin=Origin.cli())
    store.close()
    return data


@pytest.fixture
def settings(published: Path, tmp_path: Path, schema_dir: Path) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(published, data)
    return Settings(data_dir=data, ddi_schemas=schema_dir, max_upload_mb=2)


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(settings.store_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def new_client(app: Starlette) -> AsyncIterator[NewClient]:
    opened: list[Client] = []

    async def make(address: str | None = None) -> Client:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(
            "192.0.2.20", 5000)), base_url="http://testserver")
        opened.append(client)
        if address is not None:
            token = await form_token(client, "/sign-in")
            signed = await client.post("/sign-in", data={"csrf_token": token, "email": address,
                                                         "password": PASSWORD})
            assert signed.status_code == 303, signed.text[:300]
        return client

    yield make
    for client in opened:
        await client.aclose()


def page(response: httpx.Response) -> Any:
    return lxml.html.fromstring(response.text)


def text_of(response: httpx.Response, xpath: str = "//main") -> str:
    return " ".join(" ".join(page(response).xpath(f"{xpath}//text()")).split())


async def form_token(client: Client, path: str) -> str:
    response = await client.get(path)
    tokens = page(response).xpath("//main//form[@method='post']//input[@name='csrf_token']"
                                  "/@value")
    assert tokens, (path, response.status_code)
    return str(tokens[0])


async def upload(client: Client, content: bytes, name: str = "gazel.xml",
                 cohort: str = "gazel", **extra: Any) -> httpx.Response:
    token = await form_token(client, "/publications/upload")
    return await client.post("/publications/upload", data={"csrf_token": token,
                                                           "cohort": cohort},
                             files={"file": (name, content, "application/octet-stream")},
                             **extra)


def gazel_v2(*, invalid: bool = False) -> bytes:
    """GAZEL with one variable relabelled (a new version of it and of its scheme) and,
    when ``invalid``, an element the XSD refuses."""
    xml = GAZEL.xml.read_bytes().decode("utf-8")
    start = xml.index("<r:ID>var-Q1989-VIE_COUPLE_89</r:ID>")
    version = xml.index("<r:Version>1</r:Version>", start)
    xml = (xml[:version] + "<r:Version>2</r:Version>"
           + xml[version + len("<r:Version>1</r:Version>"):])
    label = xml.index(f">{LABEL}<", start)
    xml = xml[:label + 1] + NEW_LABEL + xml[label + 1 + len(LABEL):]
    if invalid:
        xml = xml.replace("<r:Version>1</r:Version>", "<r:Version>1</r:Version><r:Oops/>", 1)
    return xml.encode("utf-8")


def audit(store: Store, action: str) -> list[Any]:
    return list(store.audit_entries(AuditFilter(action=action)))


# -- the journey ----------------------------------------------------------------------------------


async def test_upload_report_fix_publish_diff_search(new_client: NewClient,
                                                     store: Store) -> None:
    client = await new_client("pub@example.org")
    form = await client.get("/publications/upload")
    assert form.status_code == 200
    assert page(form).xpath("//select[@id='cohort']/option/@value") == ["gazel"]

    # an invalid file: the report, grouped by rule, with line, element path and message
    staged = await upload(client, gazel_v2(invalid=True))
    assert staged.status_code == 303
    staged_url = staged.headers["location"]
    shown = await client.get(staged_url)
    assert shown.status_code == 200
    [rule] = page(shown).xpath("//section[contains(@class,'rule-error')]")
    assert rule.xpath(".//code[@class='rule-id']/text()") == ["XSD"]
    [row] = rule.xpath(".//table[@class='findings']/tbody/tr")
    line, path, message = (" ".join(td.text_content().split()) for td in row.xpath("td"))
    assert re.fullmatch(r"\d+:\d+", line) and path == "/DDIInstance/Oops"
    assert "r:Oops" in message
    assert page(shown).xpath("//input[@name='lenient']")  # an explicit choice to make
    report = await client.get(staged_url + "/report.json")
    assert report.status_code == 200 and report.json()["rules"][0]["rule"] == "XSD"
    assert report.json()["rules"][0]["findings"][0]["path"] == "/DDIInstance/Oops"
    download = page(shown).xpath("//a[@download][contains(@href,'report.json')]/@href")
    assert download == [staged_url + "/report.json"]
    preview = text_of(shown, "//section[@class='preview']")
    assert "no. 2" in preview and "Changed: 1," in preview and NEW_LABEL in preview

    # publishing it without the lenient choice is refused: nothing is published
    token = page(shown).xpath("//form[contains(@action,'/publish')]//input[@name='csrf_token']"
                              "/@value")[0]
    refused = await client.post(staged_url + "/publish", data={"csrf_token": token})
    assert refused.status_code == 303 and refused.headers["location"] == staged_url
    assert "refused" in text_of(await client.get(staged_url), "//section[@class='report']")
    assert len(store.list_publications()) == 2
    discard = await client.post(staged_url + "/discard", data={"csrf_token": token})
    assert discard.status_code == 303

    # fixed: valid, published, searchable at once, the diff against the previous version
    staged = await upload(client, gazel_v2())
    fixed = await client.get(staged.headers["location"])
    assert "valid" in text_of(fixed, "//p[@class='report-verdict']")
    assert not page(fixed).xpath("//input[@name='lenient']")
    token = page(fixed).xpath("//form[contains(@action,'/publish')]//input"
                              "[@name='csrf_token']/@value")[0]
    done = await client.post(staged.headers["location"] + "/publish",
                             data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"].endswith("/publications/3?done=published")
    publication = await client.get(done.headers["location"])
    assert publication.status_code == 200
    changes = text_of(publication, "//section[@aria-labelledby='changes-title']")
    assert "What changed since no. 2" in changes and "changed: 1, added: 0, removed: 0" in changes
    [row] = page(publication).xpath("//table[@class='fields']//tr[th/code='label[en]']")
    assert [" ".join(td.text_content().split()) for td in row.xpath("td")] == [LABEL,
                                                                               NEW_LABEL]
    found = (await client.get("/search.json", params={"q": '"cohabiting included"'})).json()
    assert [hit["urn"] for hit in found["hits"]] == [f"{CHANGED_URN}:2"]
    [entry] = audit(store, "publication.published")
    assert entry.actor_email == "pub@example.org" and entry.target == "publication:3"
    assert entry.details["lenient"] is False and entry.client == "192.0.2.20"


async def test_lenient_publishing_is_recorded(new_client: NewClient, store: Store) -> None:
    client = await new_client("pub@example.org")
    staged = await upload(client, gazel_v2(invalid=True))
    token = await form_token(client, staged.headers["location"])
    done = await client.post(staged.headers["location"] + "/publish",
                             data={"csrf_token": token, "lenient": "yes"})
    assert done.status_code == 303
    publication = store.get_publication(3)
    assert publication.lenient and not publication.valid
    assert audit(store, "publication.published")[0].details["lenient"] is True
    shown = await client.get("/publications/3")
    assert "published leniently" in text_of(shown, "//dl")
    report = await client.get("/publications/3/report.json")
    assert report.json()["xsd_valid"] is False and report.json()["errors"] == 1


async def test_json_clients_upload_and_publish(new_client: NewClient) -> None:
    client = await new_client("pub@example.org")
    token = await form_token(client, "/publications/upload")
    staged = await client.post("/publications/upload", headers={
        "accept": "application/json", "x-csrf-token": token}, data={"cohort": "gazel"},
        files={"file": ("gazel.xml", gazel_v2(), "application/xml")})
    assert staged.status_code == 201
    body = staged.json()
    assert body["publishable"] and not body["needs_lenient"] and body["report"]["valid"]
    assert body["diff"]["summary"] == {"added": 0, "removed": 0, "changed": 1,
                                       "unchanged": 729}
    assert body["diff"]["from"]["publication"] == GAZEL_ID
    published = await client.post(body["publish"], headers={
        "accept": "application/json", "x-csrf-token": token})
    assert published.status_code == 201
    [publication] = published.json()["publications"]
    assert publication["id"] == 3 and publication["published_by"] == "pub@example.org"


# -- histories, publications and comparisons --------------------------------------------------


async def test_history_compare_and_publication_pages(new_client: NewClient,
                                                     settings: Settings) -> None:
    publisher = await new_client("pub@example.org")
    staged = await upload(publisher, gazel_v2())
    token = await form_token(publisher, staged.headers["location"])
    await publisher.post(staged.headers["location"] + "/publish", data={"csrf_token": token})
    visitor = await new_client()

    hub = (await visitor.get("/publications.json")).json()
    gazel = next(c for c in hub["cohorts"] if c["slug"] == "gazel")
    assert gazel["publications"] == 2 and gazel["current"]["id"] == 3
    assert gazel["current"]["published_by"] is None  # not for visitors
    assert hub["upload"] is None

    history = await visitor.get("/publications/cohorts/gazel")
    rows = page(history).xpath("//table[@class='history']/tbody/tr")
    assert [" ".join(r.xpath("th//text()")[0].split()) for r in rows] == ["No. 3", "No. 2"]
    [compare] = page(history).xpath("//a[starts-with(text(),'Compare with no. 2')]/@href")
    assert compare.endswith("/publications/compare?from=2&to=3")
    as_json = (await visitor.get("/publications/cohorts/gazel.json")).json()
    assert [(e["publication"]["id"], e["current"], e["follows"]) for e in
            as_json["publications"]] == [(3, True, 2), (2, False, None)]

    diff = (await visitor.get("/publications/compare.json?from=2&to=3")).json()
    assert set(diff) == {"from", "to", "summary", "kinds"}
    [variables] = [k for k in diff["kinds"] if k["kind"] == "variables"]
    [changed] = variables["changed"]
    assert changed["urn"] == f"{CHANGED_URN}:2" and changed["fields"] == [
        {"field": "version", "before": "1", "after": "2"},
        {"field": "label[en]", "before": LABEL, "after": NEW_LABEL}]
    compared = await visitor.get("/publications/compare?from=2&to=3")
    assert compared.status_code == 200
    [link] = page(compared).xpath("//li[contains(@class,'change-changed')]//a/@href")
    assert link.endswith(f"/variables/{CHANGED_URN}:2")
    reverse = (await visitor.get("/publications/compare.json?from=3&to=2")).json()
    assert reverse["kinds"][0]["changed"][0]["fields"][1]["after"] == LABEL

    shown = (await visitor.get("/publications/3.json")).json()
    assert shown["follows"]["id"] == 2 and shown["diff"]["summary"]["changed"] == 1
    assert shown["may_withdraw"] is False and shown["cohorts"] == ["gazel"]
    first = (await visitor.get("/publications/2.json")).json()
    assert first["follows"] is None and first["diff"]["summary"]["added"] == 730


@pytest.mark.parametrize(("url", "status"), [
    ("/publications/99", 404), ("/publications/x", 404), ("/publications/99.json", 404),
    ("/publications/cohorts/nope", 404), ("/publications/compare?from=2", 400),
    ("/publications/compare?from=a&to=2", 400), ("/publications/compare.json?from=2&to=99", 404),
    ("/publications/uploads/not-a-token", 303), ("/publications/99/report", 404),
])
async def test_helpful_errors(new_client: NewClient, url: str, status: int) -> None:
    response = await (await new_client()).get(url)
    assert response.status_code == status
    if url.endswith(".json") or ".json?" in url:
        assert set(response.json()) == {"ok", "error", "errors", "status"}


# -- refusals -------------------------------------------------------------------------------------


async def test_signed_out_visitors_are_sent_to_sign_in(new_client: NewClient) -> None:
    visitor = await new_client()
    response = await visitor.get("/publications/upload")
    assert response.status_code == 303 and "/sign-in?next=" in response.headers["location"]
    assert (await visitor.get("/publications/upload",
                              headers={"accept": "application/json"})).status_code == 401
    token = await form_token(visitor, "/sign-in")
    posted = await visitor.post("/publications/upload", data={"csrf_token": token,
                                                              "cohort": "gazel"},
                                files={"file": ("gazel.xml", b"<x/>", "application/xml")})
    assert posted.status_code == 401


async def test_a_researcher_is_refused_and_audited(new_client: NewClient, store: Store) -> None:
    researcher = await new_client("ada@example.org")
    response = await researcher.get("/publications/upload")
    assert response.status_code == 403
    assert "publisher role" in text_of(response)
    [entry] = audit(store, "access.denied")
    assert entry.actor_email == "ada@example.org"


async def test_a_publisher_of_another_cohort_is_refused(new_client: NewClient,
                                                        store: Store) -> None:
    elfe = await new_client("elfe@example.org")
    refused = await upload(elfe, gazel_v2(), cohort="elfe")
    assert refused.status_code == 403
    assert "There is a problem" in text_of(refused, "//div[@class='error-summary']")
    forged = await upload(elfe, gazel_v2(), cohort="gazel")  # not in their list, forged
    assert forged.status_code == 403
    entries = audit(store, "publication.refused")
    assert [e.actor_email for e in entries] == ["elfe@example.org"] * 2
    assert audit(store, "access.denied") == []  # one entry per refusal
    assert len(store.list_publications()) == 2
    assert not any((Path(store.url.removeprefix("sqlite:///")).parent / "uploads").glob("*/*"))
    withdraw = await elfe.post(f"/publications/{GAZEL_ID}/withdraw", data={
        "csrf_token": await form_token(elfe, "/publications/upload"), "reason": "not mine"})
    assert withdraw.status_code == 403
    assert not store.get_publication(GAZEL_ID).withdrawn
    assert [e.actor_email for e in audit(store, "publication.withdrawal_refused")] == [
        "elfe@example.org"]


async def test_no_csrf_token_no_upload(new_client: NewClient, store: Store) -> None:
    client = await new_client("pub@example.org")
    response = await client.post("/publications/upload", data={"cohort": "gazel"},
                                 files={"file": ("gazel.xml", gazel_v2(), "application/xml")})
    assert response.status_code == 403
    assert len(audit(store, "csrf.refused")) == 1


async def test_too_large_and_wrong_types(new_client: NewClient, settings: Settings) -> None:
    client = await new_client("pub@example.org")
    large = await upload(client, b"<x>" + b" " * (2 * 1024 * 1024 + 10) + b"</x>")
    assert large.status_code == 413
    assert "larger than 2 MB" in text_of(large, "//div[@class='error-summary']")
    pdf = await upload(client, b"%PDF-1.7\n...", name="gazel.xml")
    assert pdf.status_code == 400
    assert "neither DDI-L XML nor a data dictionary" in text_of(pdf, "//main//form")
    french = await upload(client, b"%PDF-1.7\n...", name="gazel.xml",
                          params={"lang": "fr"})
    assert "ni du XML DDI-L ni un dictionnaire" in text_of(french, "//main//form")
    assert not any((settings.data_dir / "uploads").glob("*/*"))


# -- withdrawal -----------------------------------------------------------------------------------


async def test_withdrawal_from_the_web(new_client: NewClient, store: Store) -> None:
    publisher = await new_client("pub@example.org")
    staged = await upload(publisher, gazel_v2())
    token = await form_token(publisher, staged.headers["location"])
    await publisher.post(staged.headers["location"] + "/publish", data={"csrf_token": token})

    shown = await publisher.get("/publications/3")
    [form] = page(shown).xpath("//section[@class='withdraw']//form")
    assert form.xpath(".//input")[0].get("name") == "csrf_token"
    assert form.xpath(".//label[@for='reason']") and form.xpath(".//textarea[@id='reason']")
    empty = await publisher.post("/publications/3/withdraw", data={"csrf_token": token,
                                                                   "reason": " "})
    assert empty.status_code == 400
    assert "Say why" in text_of(empty, "//section[@class='withdraw']")
    done = await publisher.post("/publications/3/withdraw", data={
        "csrf_token": token, "reason": "Labels not checked yet"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=withdrawn")

    shown = await publisher.get("/publications/3")
    assert "Labels not checked yet" in text_of(shown, "//div[@role='status']")
    assert not page(shown).xpath("//section[@class='withdraw']")
    # gone from search; the version it replaced is back
    hits = (await publisher.get("/search.json", params={"q": '"Partnership status"'})).json()
    assert f"{CHANGED_URN}:2" not in [h["urn"] for h in hits["hits"]]
    assert f"{CHANGED_URN}:1" in [h["urn"] for h in hits["hits"]]
    # still resolvable by URN, with a notice
    item = await publisher.get(f"/variables/{CHANGED_URN}:2")
    assert item.status_code == 200 and "withdrawn" in text_of(item, "//div[@role='status']")
    latest = (await publisher.get(f"/variables/{CHANGED_URN}.json")).json()
    assert latest["version"]["urn"] == f"{CHANGED_URN}:1"
    history = await publisher.get("/publications/cohorts/gazel")
    assert "withdrawn" in text_of(history, "//table[@class='history']/tbody/tr[1]")
    [entry] = audit(store, "publication.withdrawn")
    assert entry.actor_email == "pub@example.org" and entry.details["reason"] == (
        "Labels not checked yet")
    again = await publisher.post("/publications/3/withdraw", data={"csrf_token": token,
                                                                   "reason": "twice"})
    assert again.status_code in (403, 409)
    # the cohort is still browsed from its first publication; withdrawn too, it is not
    assert (await publisher.get("/cohorts/gazel")).status_code == 200
    await publisher.post(f"/publications/{GAZEL_ID}/withdraw",
                         data={"csrf_token": token, "reason": "all of it"})
    assert (await publisher.get("/cohorts/gazel")).status_code == 404
    home = (await publisher.get("/index.json")).json()
    assert "gazel" not in json.dumps(home)
    assert (await publisher.get(f"/variables/{CHANGED_URN}:1")).status_code == 200


# -- forms and languages --------------------------------------------------------------------------


async def test_forms_are_labelled_and_protected(new_client: NewClient) -> None:
    client = await new_client("pub@example.org")
    form_page = await client.get("/publications/upload")
    staged = await upload(client, gazel_v2(invalid=True))
    staged_page = await client.get(staged.headers["location"])
    for response in (form_page, staged_page):
        forms = page(response).xpath("//main//form[@method='post']")
        assert forms
        for form in forms:
            first = form.xpath(".//input")[0]
            assert first.get("name") == "csrf_token" and first.get("type") == "hidden"
            for control in form.xpath(".//input[@type!='hidden'] | .//select | .//textarea"):
                assert form.xpath(f".//label[@for='{control.get('id')}']"), control.get("name")
    [upload_form] = page(form_page).xpath("//main//form[@method='post']")
    assert upload_form.get("enctype") == "multipart/form-data"


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_pages_in_both_languages(new_client: NewClient, lang: str) -> None:
    client = await new_client("pub@example.org")
    words = {"en": ("Publications", "Upload a DDI-L file or a data dictionary",
                    "Publications of GAZEL", "Validation report"),
             "fr": ("Publications", "Déposer un fichier DDI-L ou un dictionnaire de données",
                    "Publications de GAZEL", "Rapport de validation")}[lang]
    for url, heading in (("/publications", words[0]), ("/publications/upload", words[1]),
                         ("/publications/cohorts/gazel", words[2])):
        response = await client.get(url, params={"lang": lang})
        assert page(response).get("lang") == lang
        assert text_of(response, "//h1") == heading
    staged = await upload(client, gazel_v2(invalid=True), params={"lang": lang})
    shown = await client.get(staged.headers["location"])
    assert text_of(shown, "//h2[@id='report-title']") == words[3]
    rule = text_of(shown, "//section[contains(@class,'rule')]//h3")
    assert rule.startswith({"en": "error Valid against", "fr": "erreur Valide selon"}[lang])


def test_no_text_outside_the_catalogs_in_publishing_templates() -> None:
    templates = Path(__file__).resolve().parents[2] / "web" / "templates" / "publishing"
    jinja = re.compile(r"{#.*?#}|{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}|{{.*?}}|{%.*?%}",
                       re.DOTALL)
    for template in sorted(templates.glob("*.html")):
        stripped = jinja.sub(" ", template.read_text(encoding="utf-8"))
        fragment = lxml.html.fragment_fromstring(stripped, create_parent="div")
        words = [t for t in fragment.itertext() if re.search(r"[A-Za-zÀ-ÿ]{2,}", t)]
        assert not words, f"{template.name}: {words}"


def test_every_rule_is_translated() -> None:
    french = load_translations()["fr"]
    assert [t for t in every_rule_text() if french.gettext(t) == t] == []


async def test_an_index_failure_does_not_undo_the_publication(
        new_client: NewClient, store: Store, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("web.views.publishing_uploads.index_publications", broken)
    client = await new_client("pub@example.org")
    staged = await upload(client, gazel_v2())
    token = await form_token(client, staged.headers["location"])
    done = await client.post(staged.headers["location"] + "/publish",
                             data={"csrf_token": token})
    assert done.status_code == 303  # published: the index catches up when a worker starts
    assert store.get_publication(3).published_by == "pub@example.org"
    assert 3 in store.unindexed_publications(settings.search_engine)


async def test_a_dictionary_with_its_study_facts(new_client: NewClient) -> None:
    client = await new_client("pub@example.org")
    table = GAZEL.dictionary.read_bytes().replace(LABEL.encode(), NEW_LABEL.encode(), 1)
    token = await form_token(client, "/publications/upload")
    staged = await client.post("/publications/upload", data={"csrf_token": token,
                                                             "cohort": "gazel"}, files={
        "file": ("gazel-dictionary.csv", table, "text/csv"),
        "study": ("gazel-dictionary.study.csv", GAZEL.study.read_bytes(), "text/csv")})
    assert staged.status_code == 303
    shown = await client.get(staged.headers["location"])
    assert "data dictionary (csv)" in text_of(shown, "//dl")
    assert "Changed: 1," in text_of(shown, "//section[@class='preview']")
    [ddi] = page(shown).xpath("//a[contains(@href,'/ddi.xml')]/@href")
    xml = await client.get(ddi)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert NEW_LABEL.encode() in xml.content
    assert 'filename="gazel-dictionary.xml"' in xml.headers["content-disposition"]
    other = await new_client("elfe@example.org")
    assert (await other.get(ddi)).status_code == 404  # someone else's upload


async def test_access_requests_keep_a_withdrawn_version(new_client: NewClient,
                                                        store: Store) -> None:
    from catalogue.browse import Catalogue
    from catalogue.requests import start_application

    publisher = await new_client("pub@example.org")
    staged = await upload(publisher, gazel_v2())
    token = await form_token(publisher, staged.headers["location"])
    await publisher.post(staged.headers["location"] + "/publish", data={"csrf_token": token})
    researcher = store.user_by_email("ada@example.org")
    project = start_application(Catalogue(store), researcher, urns=[f"{CHANGED_URN}:2"],
                                title="Couples")
    [request] = project.requests
    done = await publisher.post("/publications/3/withdraw", data={
        "csrf_token": token, "reason": "labels not checked"})
    assert done.status_code == 303
    applicant = await new_client("ada@example.org")
    shown = await applicant.get(f"/requests/{request.id}.json")
    assert shown.status_code == 200
    assert f"{CHANGED_URN}:2" in json.dumps(shown.json()["data_requested"])
    assert (await applicant.get(f"/requests/{request.id}")).status_code == 200
