"""The web app on a published sample: the four bundled cohorts (published once per
session), a small cohort with routing in two versions, a cohort full of script
injections (published leniently) and a withdrawn one.

``site`` is one app over a session copy, for tests that only read; ``fresh_site()`` builds
a fresh app on a copy in ``tmp_path``, for tests that publish or withdraw. Both are driven
in-process through httpx's ASGI transport, lifespan included.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import lxml.html
import pytest

from catalogue.publishing import publish_paths
from catalogue.settings import Settings
from catalogue.store import Store
from cohorts import bundled_files
from search.indexing import index_publications
from web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import Sample  # noqa: E402 - the test folder is not a package

PAYLOAD = ('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
           '<svg onload="window.__pwned=1">')
XSS = Sample(
    agency="fr.xss", slug="xss", title={"fr": "XSS " + PAYLOAD, "en": "XSS " + PAYLOAD},
    abstract={"en": "Abstract " + PAYLOAD}, smoke_text={"en": "Smoke? " + PAYLOAD},
    smoke_label={"en": "Label " + PAYLOAD}, yes_label={"en": "Yes " + PAYLOAD},
    statement={"en": PAYLOAD}, smoke_name='S"><svg onload=window.__pwned=1>',
    odd_id='x"><img src=x onerror=window.__pwned=1>', condition="a < b && " + PAYLOAD,
    age_label={"en": "Age " + PAYLOAD})
SAMPLE_V2 = Sample(version="2", smoke_label={"fr": "Statut tabagique (v2)",
                                             "en": "Smoking status (v2)"})
GONE = Sample(agency="fr.gone", slug="gone", title={"fr": "Cohorte retirée",
                                                    "en": "Withdrawn cohort"})


@dataclass
class Published:
    data_dir: Path
    schema_dir: Path
    withdrawn_publication: int


def publish(settings: Settings, paths: list[Path], *, lenient: bool = False) -> list[int]:
    """Publish and index, as ``catalogue publish`` does."""
    store = Store(settings.store_url)
    try:
        results = publish_paths(paths, store, settings.ddi_schemas, lenient=lenient)
        ids = [r.publication.id for r in results]
        index_publications(settings, store, ids)
        return ids
    finally:
        store.close()


def withdraw(settings: Settings, publication_id: int) -> None:
    store = Store(settings.store_url)
    try:
        store.withdraw(publication_id, by=None, reason="test", at="2026-01-01T00:00:00Z")
        index_publications(settings, store, [publication_id])
    finally:
        store.close()


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, schema_dir: Path) -> Published:
    root = tmp_path_factory.mktemp("web-published")
    settings = Settings(data_dir=root / "data", ddi_schemas=schema_dir)
    files = root / "files"
    files.mkdir()
    publish(settings, bundled_files())
    publish(settings, [Sample().write(files / "sample.xml")])
    publish(settings, [SAMPLE_V2.write(files / "sample-v2.xml")])
    publish(settings, [XSS.write(files / "xss.xml")], lenient=True)
    (gone,) = publish(settings, [GONE.write(files / "gone.xml")])
    withdraw(settings, gone)
    return Published(settings.data_dir, schema_dir, gone)


class Client:
    """A synchronous client over the app's ASGI interface (lifespan run once)."""

    def __init__(self, portal: Any, client: httpx.AsyncClient, settings: Settings,
                 app: Any = None) -> None:
        self._portal = portal
        self._client = client
        self.settings = settings
        self.app = app

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """One GET; cookies are only those given (nothing is kept between requests)."""
        self._client.cookies.clear()
        response: httpx.Response = self._portal.call(partial(self._client.get, url, **kwargs))
        return response

    def raw(self, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """One GET, and its body as sent (not decompressed)."""
        async def fetch() -> tuple[httpx.Response, bytes]:
            request = self._client.build_request("GET", url, **kwargs)
            response = await self._client.send(request, stream=True)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
            return response, body

        self._client.cookies.clear()
        result: tuple[httpx.Response, bytes] = self._portal.call(fetch)
        return result

    def html(self, url: str, status: int = 200, **kwargs: Any) -> lxml.html.HtmlElement:
        response = self.get(url, **kwargs)
        assert response.status_code == status, (url, response.status_code, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")
        return lxml.html.fromstring(response.text)

    def json(self, url: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.get(url, **kwargs)
        assert response.status_code == status, (url, response.status_code, response.text[:500])
        assert response.headers["content-type"].startswith("application/json")
        return response.json()


@contextmanager
def running(data_dir: Path, schema_dir: Path) -> Iterator[Client]:
    settings = Settings(data_dir=data_dir, ddi_schemas=schema_dir)
    app = create_app(settings)
    with anyio.from_thread.start_blocking_portal() as portal:
        lifespan = app.router.lifespan_context(app)
        portal.call(lifespan.__aenter__)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://testserver", follow_redirects=False)
        try:
            yield Client(portal, client, settings, app)
        finally:
            portal.call(client.aclose)
            portal.call(lifespan.__aexit__, None, None, None)


@pytest.fixture(scope="session")
def site(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    copy = tmp_path_factory.mktemp("web-site") / "data"
    shutil.copytree(published.data_dir, copy)
    with running(copy, published.schema_dir) as client:
        yield client


@pytest.fixture
def fresh_site(published: Published, tmp_path: Path
               ) -> Iterator[Callable[[], Client]]:
    """``fresh_site()`` starts an app on a fresh copy of the published sample."""
    stack: list[Any] = []
    copy = tmp_path / "data"
    shutil.copytree(published.data_dir, copy)

    def start() -> Client:
        manager = running(copy, published.schema_dir)
        client = manager.__enter__()
        stack.append(manager)
        return client

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)
