"""What the basket and access-request tests over HTTP share: a fresh app on a copy of the
published sample with the bundled cohorts registered and four accounts (two researchers,
a reviewer of GAZEL, a reviewer of Elfe), and a client that keeps its cookies like a
browser and reads the CSRF token from the page it posts from."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import lxml.html
import pytest
from conftest import Published
from starlette.applications import Starlette

from catalogue.accounts import create_user
from catalogue.accounts_model import Origin, Role
from catalogue.accounts_roles import grant, register_bundled
from catalogue.settings import Settings
from catalogue.store import Store
from web.app import create_app

PASSWORD = "correct horse battery"
ANA, BOB = "ana@example.org", "bob@example.org"
GAZEL_REVIEWER, ELFE_REVIEWER = "rev-gazel@example.org", "rev-elfe@example.org"
#: CASD-only (SNDS-linked), GAZEL
KINE = "urn:ddi:fr.gazel:var-SNDS-SNDS_KINE_A2010:1"
#: open, Elfe
WEIGHT = "urn:ddi:fr.elfe:var-M2-CR_POIDS_M2:1"
#: the sample cohort published in two versions: version 2 relabels it
SMOKE_V1 = "urn:ddi:fr.sample:var-W1-SMOKE:1"
SMOKE_V2 = "urn:ddi:fr.sample:var-W1-SMOKE:2"
CLIENT = ("192.0.2.20", 40000)
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


@dataclass
class Site:
    app: Starlette
    settings: Settings
    store: Store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def accounts_site(published: Published, tmp_path: Path) -> AsyncIterator[Site]:
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
    settings = Settings(data_dir=data, ddi_schemas=published.schema_dir)
    store = Store(settings.store_url)
    register_bundled(store, origin=Origin.cli())
    for address, role in ((ANA, None), (BOB, None), (GAZEL_REVIEWER, Role("reviewer", "gazel")),
                          (ELFE_REVIEWER, Role("reviewer", "elfe"))):
        create_user(store, settings, email=address, name=address.split("@")[0].title(),
                    affiliation="Inserm", password=PASSWORD, actor=None, origin=Origin.cli())
        if role is not None:
            grant(store, actor=None, email=address, role=role, origin=Origin.cli())
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield Site(app, settings, store)
    store.close()


def page(response: httpx.Response) -> Any:
    return lxml.html.fromstring(response.text)


def text_of(element: Any) -> str:
    return " ".join(element.text_content().split())


def main_text(response: httpx.Response) -> str:
    return text_of(page(response).get_element_by_id("main"))


class Visitor:
    """One browser: its cookies, and forms read from the pages it was shown."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app, client=CLIENT),
                                      base_url="http://testserver")

    async def close(self) -> None:
        await self.http.aclose()

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(url, **kwargs)

    async def token(self, url: str = "/sign-in") -> str:
        response = await self.get(url)
        found = page(response).xpath("//input[@name='csrf_token']/@value")
        assert found, (url, response.status_code)
        return str(found[0])

    async def post(self, url: str, data: Mapping[str, Any] | list[tuple[str, str]], *,
                   token_from: str = "/sign-in", **kwargs: Any) -> httpx.Response:
        """Post a form with a CSRF token read from ``token_from`` (the session's)."""
        token = await self.token(token_from)
        pairs = list(data.items()) if isinstance(data, Mapping) else list(data)
        return await self.send(url, [("csrf_token", token), *pairs], **kwargs)

    async def send(self, url: str, pairs: list[tuple[str, str]], **kwargs: Any
                   ) -> httpx.Response:
        """Post exactly these fields (repeated names kept, in order)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   **kwargs.pop("headers", {})}
        return await self.http.post(url, content=urlencode(pairs), headers=headers, **kwargs)

    async def sign_in(self, address: str) -> None:
        response = await self.post("/sign-in", {"email": address, "password": PASSWORD})
        assert response.status_code == 303, response.text[:300]

    async def add(self, *urns: str) -> httpx.Response:
        response = await self.post("/basket/add", [("urn", u) for u in urns] + [
            ("next", "/basket")])
        assert response.status_code == 303, response.text[:500]
        return response


@pytest.fixture
async def visitors(accounts_site: Site) -> AsyncIterator[Any]:
    """``visitors()`` opens a new browser on the site."""
    opened: list[Visitor] = []

    def open_one() -> Visitor:
        visitor = Visitor(accounts_site)
        opened.append(visitor)
        return visitor

    yield open_one
    for visitor in opened:
        await visitor.close()


def form_fields(html: str, form_id: str = "application") -> dict[str, str]:
    """What a browser would send for a form as shown (submit buttons aside)."""
    doc = lxml.html.fromstring(html)
    form = doc.get_element_by_id(form_id)
    data: dict[str, str] = {}
    for element in form.xpath(".//input|.//textarea|.//select"):
        name = element.get("name")
        if not name or element.get("form"):
            continue
        kind = element.get("type")
        if kind in ("checkbox", "radio"):
            if element.get("checked") is not None:
                data[name] = element.get("value") or "on"
        elif element.tag == "textarea":
            data[name] = element.text or ""
        elif element.tag == "select":
            chosen = element.xpath("./option[@selected]") or element.xpath("./option")
            data[name] = chosen[0].get("value")
        elif kind != "submit":
            data[name] = element.get("value") or ""
    data.pop("csrf_token", None)
    return data


def complete(fields: dict[str, str], html: str, **overrides: str) -> dict[str, str]:
    """Every required field of the application form filled (group justifications,
    charters included); ``overrides`` by field name (``__`` for dots)."""
    filled = dict(fields)
    filled.update({
        "title": "Care use and self-rated health", "protocol.objectives": "Relate care use.",
        "protocol.method": "Mixed models.", "protocol.expected_results": "Effect sizes.",
        "team.0.name": "Ana Martin", "team.0.role": "principal investigator",
        "team.0.affiliation": "Inserm U1018", "team.0.email": "ana@example.org",
        "team.0.principal_investigator": "on", "funding.project": "ANR grant",
        "funding.access_costs": "Laboratory budget", "funding.industrial": "no",
        "commitments.publish_results": "on", "commitments.destruction_report": "on"})
    for name in re.findall(r'name="(requests\.[^"]+\.charter_accepted)"', html):
        filled[name] = "on"
    for name in re.findall(r'name="(requests\.[^".]+\.groups\.[^"]+)"', html):
        filled[name] = "These variables measure the exposure."
    filled.update({k.replace("__", "."): v for k, v in overrides.items()})
    return filled


async def start_application(visitor: Visitor, *urns: str) -> int:
    """The visitor (signed in) puts ``urns`` in the basket and starts an application."""
    await visitor.add(*urns)
    response = await visitor.post("/applications", {}, token_from="/basket")
    assert response.status_code == 303, response.text[:500]
    found = re.search(r"/applications/(\d+)$", response.headers["location"])
    assert found
    return int(found.group(1))


async def submitted_requests(visitor: Visitor, *urns: str) -> dict[str, int]:
    """A complete application of ``urns`` submitted; request ids by cohort."""
    project = await start_application(visitor, *urns)
    form = await visitor.get(f"/applications/{project}")
    data = complete(form_fields(form.text), form.text)
    data["action"] = "submit"
    sent = await visitor.post(f"/applications/{project}", data, token_from="/basket")
    assert sent.status_code == 303, main_text(sent)[:1500]
    listing = await visitor.get("/requests.json")
    found = next(p for p in listing.json()["projects"] if p["id"] == project)
    return {r["cohort"]: r["id"] for r in found["requests"]}
