"""Whole pages kept for visitors without a session: served again as they were, never to a
visitor with a session or a basket, per language and format, and dropped the moment a
publication or a withdrawal changes the catalogue."""

from __future__ import annotations

import gzip
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Client, Published, publish, running, withdraw
from support import Sample

import web.resources as resources_module
from catalogue.settings import Settings
from web.page_cache import KeptResponse, PageCache, SharedPages
from web.resources import REFRESH_INTERVAL, forget_shared_pages, shared_pages_dir

SMOKE = "/variables/urn:ddi:fr.sample:var-W1-SMOKE"


def _hits(client: Client) -> int:
    return int(client.app.state.resources.page_cache.hits)


def test_an_anonymous_page_is_rendered_once_then_served_as_it_was(site: Client) -> None:
    first = site.get("/cohorts/gazel")
    hits = _hits(site)
    second = site.get("/cohorts/gazel")
    assert second.status_code == 200
    assert _hits(site) == hits + 1
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["content-length"] == first.headers["content-length"]
    assert second.headers["vary"] == first.headers["vary"]
    # the security headers are added around the cache, on every answer
    assert "content-security-policy" in second.headers


def test_language_and_format_are_kept_apart(site: Client) -> None:
    french = site.html("/cohorts/gazel", headers={"Accept-Language": "fr"})
    english = site.html("/cohorts/gazel", headers={"Accept-Language": "en"})
    again = site.html("/cohorts/gazel", headers={"Accept-Language": "fr"})
    assert (french.get("lang"), english.get("lang"), again.get("lang")) == ("fr", "en", "fr")
    as_json = site.json("/cohorts/gazel", headers={"Accept": "application/json"})
    assert as_json["slug"] == "gazel"
    assert site.html("/cohorts/gazel?lang=en").get("lang") == "en"


def test_a_visitor_with_a_session_or_a_basket_is_never_served_from_it(site: Client) -> None:
    site.get("/cohorts/gazel")
    for cookies in ("catalogue_session=anything", "catalogue_basket=anything",
                    "lang=en; other=1"):
        hits = _hits(site)
        response = site.get("/cohorts/gazel", headers={"Cookie": cookies})
        assert response.status_code == 200
        assert _hits(site) == hits, cookies
    hits = _hits(site)
    site.get("/cohorts/gazel", headers={"Cookie": "lang=fr"})  # the language one is public
    assert _hits(site) == hits + 1


def test_error_pages_are_not_kept(site: Client) -> None:
    for _ in range(2):
        hits = _hits(site)
        assert site.get("/variables/urn:ddi:fr.sample:nothing-here").status_code == 404
        assert _hits(site) == hits


def test_a_publication_and_a_withdrawal_are_seen_at_once(
        fresh_site: Callable[[], Client], tmp_path: Path) -> None:
    client = fresh_site()
    before = client.json(SMOKE + ".json")
    assert client.json(SMOKE + ".json") == before  # now kept
    label = {"fr": "Statut tabagique (v3)", "en": "Smoking status (v3)"}
    (v3,) = publish(client.settings, [Sample(version="3", smoke_label=label).write(
        tmp_path / "sample-v3.xml")])
    time.sleep(REFRESH_INTERVAL + 0.05)
    after = client.json(SMOKE + ".json")
    assert after["version"]["version"] == "3" != before["version"]["version"]
    withdraw(client.settings, v3)
    time.sleep(REFRESH_INTERVAL + 0.05)
    assert client.json(SMOKE + ".json")["version"]["version"] == before["version"]["version"]


def test_the_cache_holds_at_most_its_size_least_recently_used_first() -> None:
    cache = PageCache(limit=8 * 1300)
    page = KeptResponse(200, b"x" * 1000, ((b"content-type", b"text/html"),))
    for n in range(10):
        cache.put(("g",), (str(n),), page)
    assert cache.size <= 8 * 1300
    assert cache.get(("g",), ("0",)) is None  # the oldest went first
    assert cache.get(("g",), ("9",)) is not None
    cache.put(("g",), ("huge",), KeptResponse(200, b"x" * 5000, ()))  # > 1/8 of the cache
    assert cache.get(("g",), ("huge",)) is None
    assert cache.get(("g2",), ("9",)) is None  # another generation: emptied
    assert len(cache) == 0 and cache.size == 0


def test_health_says_how_the_cache_fares(site: Client) -> None:
    site.get("/cohorts/elfe")
    site.get("/cohorts/elfe")
    cache = site.json("/healthz")["page_cache"]
    assert cache["hits"] >= 1 and cache["misses"] >= 1
    assert 0 < cache["bytes"] <= cache["limit"] == site.settings.page_cache_mb * 1024 * 1024


def test_pages_are_kept_compressed_and_served_as_each_client_accepts(site: Client) -> None:
    plain = site.get("/cohorts/constances", headers={"Accept-Encoding": "identity"})
    hits = _hits(site)
    again_plain = site.get("/cohorts/constances", headers={"Accept-Encoding": "identity"})
    gzipped = site.get("/cohorts/constances", headers={"Accept-Encoding": "gzip"})
    assert _hits(site) == hits + 2
    assert "content-encoding" not in again_plain.headers
    assert again_plain.content == plain.content
    assert gzipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in gzipped.headers["vary"]
    assert gzipped.content == plain.content  # httpx decodes it
    assert int(gzipped.headers["content-length"]) < len(plain.content) // 2
    cache = site.app.state.resources.page_cache
    kept = [v for k, v in cache._entries.items() if "/cohorts/constances" in k]
    assert kept and all(v.gzipped for v in kept)
    assert min(len(v.body) for v in kept) < len(plain.content) // 2


def test_a_gzip_client_gets_the_cached_bytes_from_the_first_answer_on(site: Client) -> None:
    """On a miss, a gzip client gets the copy compressed for the cache (rather than the
    GZip middleware compressing the page a second time): byte for byte what hits get."""
    url = "/cohorts/epipage2"
    first, first_raw = site.raw(url, headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    assert int(first.headers["content-length"]) == len(first_raw)
    cache = site.app.state.resources.page_cache
    kept = [v for k, v in cache._entries.items() if url in k]
    assert [v.body for v in kept] == [first_raw]
    hits = _hits(site)
    second, second_raw = site.raw(url, headers={"Accept-Encoding": "gzip"})
    assert _hits(site) == hits + 1
    assert second_raw == first_raw
    assert second.headers["vary"] == first.headers["vary"]
    assert gzip.decompress(first_raw) == site.get(
        url, headers={"Accept-Encoding": "identity"}).content


def _cache(client: Client) -> PageCache:
    cache: PageCache = client.app.state.resources.page_cache
    return cache


def test_a_page_rendered_by_one_worker_is_served_by_the_others(
        fresh_site: Callable[[], Client], tmp_path: Path) -> None:
    one, other = fresh_site(), fresh_site()  # two workers over one data directory
    first = one.get("/cohorts/gazel")
    served = other.get("/cohorts/gazel")
    assert _cache(other).shared_hits == 1 and _cache(other).misses == 0
    assert served.content == first.content
    assert served.headers["content-type"] == first.headers["content-type"]
    assert other.json("/healthz")["page_cache"]["shared_hits"] == 1
    # a publication seen by both: neither serves the pages of before
    before = one.json(SMOKE + ".json")
    label = {"fr": "Statut tabagique (v3)", "en": "Smoking status (v3)"}
    publish(one.settings, [Sample(version="3", smoke_label=label).write(
        tmp_path / "sample-v3.xml")])
    time.sleep(REFRESH_INTERVAL + 0.05)
    assert other.json(SMOKE + ".json")["version"]["version"] == "3"
    assert before["version"]["version"] != "3"


def test_an_unreadable_shared_page_is_rendered_again(
        fresh_site: Callable[[], Client]) -> None:
    one, other = fresh_site(), fresh_site()
    expected = one.get("/cohorts/elfe").content
    (kept,) = [p for p in shared_pages_dir(one.settings).rglob("*") if p.is_file()]
    kept.write_bytes(b"\x00 not a page")
    response = other.get("/cohorts/elfe")
    assert response.status_code == 200 and response.content == expected
    assert _cache(other).shared_hits == 0 and _cache(other).misses == 1
    assert KeptResponse.from_bytes(kept.read_bytes()).status == 200  # written again


def test_shared_pages_keep_to_their_size_and_generation(tmp_path: Path) -> None:
    shared = SharedPages(tmp_path / "pages", limit=8 * 1100)
    page = KeptResponse(200, b"x" * 1000, ((b"content-type", b"text/html"),), gzipped=True)
    shared.put(("old",), ("a",), page)
    for n in range(20):
        shared.put(("new",), (str(n),), page)
    shared.prune(("new",))
    assert shared.get(("old",), ("a",)) is None
    assert shared.get(("new",), ("19",)) == page
    files = [p for p in (tmp_path / "pages").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 8 * 1100
    assert len(files) < 20


def test_a_shared_page_is_written_again_after_its_directory_went(tmp_path: Path) -> None:
    """Pruning or a restart may remove the directories a worker already made: the next
    page is written all the same, and one that cannot be is a miss, never an error."""
    shared = SharedPages(tmp_path / "pages", limit=1024 * 1024)
    page = KeptResponse(200, b"x" * 1000, ((b"content-type", b"text/html"),))
    shared.put(("g",), ("a",), page)
    shutil.rmtree(tmp_path / "pages")
    shared.put(("g",), ("a",), page)
    assert shared.get(("g",), ("a",)) == page
    assert not [p for p in (tmp_path / "pages").rglob("*.tmp")]
    shutil.rmtree(tmp_path / "pages")
    (tmp_path / "pages").write_text("a file where the directory was")  # nothing can be written
    shared.put(("g",), ("b",), page)
    assert shared.get(("g",), ("b",)) is None


def test_shared_pages_prune_themselves_as_they_are_written(tmp_path: Path) -> None:
    shared = SharedPages(tmp_path / "pages", limit=8 * 1100)
    page = KeptResponse(200, b"x" * 1000, ((b"content-type", b"text/html"),))
    shared.put(("old",), ("a",), page)
    for n in range(40):
        shared.put(("new",), (str(n),), page)

    def held() -> int:
        total = 0
        for path in (tmp_path / "pages").rglob("*"):
            try:
                if path.is_file():
                    total += path.stat().st_size
            except FileNotFoundError:  # removed by the pruning thread meanwhile
                pass
        return total

    # pruned every limit/8 bytes written: never more than that over the limit, once the
    # pruning thread is done
    bound = 8 * 1100 + 8 * 1100 // 8 + 1100
    deadline = time.monotonic() + 10
    while held() > bound and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held() <= bound < 40 * 1000
    assert shared.get(("old",), ("a",)) is None


def test_a_new_server_starts_without_the_pages_of_the_last(
        fresh_site: Callable[[], Client]) -> None:
    client = fresh_site()
    client.get("/cohorts/gazel")
    directory = shared_pages_dir(client.settings)
    assert any(p.is_file() for p in directory.rglob("*"))
    forget_shared_pages(client.settings)  # what `catalogue serve` does first
    assert not directory.exists()


def test_shared_pages_live_in_memory_when_the_system_has_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setattr(resources_module, "MEMORY_DIR", memory)
    one = Settings(data_dir=tmp_path / "one")
    two = Settings(data_dir=tmp_path / "two")
    assert shared_pages_dir(one).parent == memory
    assert shared_pages_dir(one) != shared_pages_dir(two)  # one directory per data directory
    # the same for every worker of a data directory, however they name it
    assert shared_pages_dir(Settings(data_dir=tmp_path / "one" / ".." / "one")) == (
        shared_pages_dir(one))
    chosen = tmp_path / "chosen"
    assert shared_pages_dir(one.with_(shared_page_cache_dir=chosen)) == chosen
    monkeypatch.setattr(resources_module, "MEMORY_DIR", tmp_path / "none")
    assert shared_pages_dir(one) == tmp_path / "one" / "page-cache"


def test_a_stopping_server_takes_its_shared_pages_with_it(
        published: Published, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(published.data_dir, data)
    with running(data, published.schema_dir) as client:
        client.get("/cohorts/gazel")
        directory = shared_pages_dir(client.settings)
        assert any(p.is_file() for p in directory.rglob("*"))
    assert not directory.exists()
