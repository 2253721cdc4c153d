"""Links built by ``url_for``: the same as Starlette's, faster."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import Client
from jinja2 import DictLoader, Environment, FileSystemBytecodeCache, Template
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.routing import Mount, Route

from web.i18n import Translator, load_translations
from web.templating import (
    build_templates,
    bytecode_cache,
    load_all,
    path_param,
    rendering,
    url_for,
    with_query,
)


def _request(site: Client) -> Request:
    return Request({"type": "http", "app": site.app, "method": "GET", "path": "/",
                    "root_path": "", "scheme": "http", "server": ("testserver", 80),
                    "headers": [(b"host", b"testserver")], "query_string": b""})


def test_every_named_route_is_built_as_starlette_builds_it(site: Client) -> None:
    request = _request(site)
    checked = 0
    for route in site.app.routes:
        if not isinstance(route, Route | Mount) or not route.name:
            continue
        names = ["path"] if isinstance(route, Mount) else list(route.param_convertors)
        params = {name: "7" for name in names}
        assert url_for(request, route.name, **params) == str(
            request.url_for(route.name, **params)), route.name
        checked += 1
    assert checked > 40


def test_odd_characters_are_percent_encoded_and_urn_colons_kept(site: Client) -> None:
    request = _request(site)
    urn = 'urn:ddi:fr.x:a b/"<c>?#:1'
    built = url_for(request, "variable", urn=urn)
    assert built == "http://testserver/variables/urn:ddi:fr.x:a%20b%2F%22%3Cc%3E%3F%23:1"
    assert built == str(request.url_for("variable", urn=path_param(urn)))
    assert url_for(request, "request_pdf", id=3, lang="fr") == (
        "http://testserver/requests/3/pdf/fr")
    assert url_for(request, "static", path="catalogue.js") == (
        "http://testserver/static/catalogue.js")


@pytest.mark.parametrize("pairs", [
    [],
    [("q", "tabac")],
    [("q", "fumeur « actif » & ex-fumeur"), ("cohort", "gazel"), ("cohort", "elfe"),
     ("page", 3), ("group", "0")],
    [("wave", "urn:ddi:fr.x:su 1/2?#"), ("next", "/search?q=a+b&lang=fr"), ("n", 10.5)],
    [("é t", "~-_.*'()!"), ("empty", "")],
])
def test_query_strings_are_those_of_urlencode(pairs: list[tuple[str, object]]) -> None:
    for _ in range(2):  # the second time through the quoting cache
        built = with_query("/search", pairs)
        query = urlencode([(k, str(v)) for k, v in pairs])
        assert built == ("/search?" + query if query else "/search")


def test_pages_render_without_a_context_per_helper_call(
        fresh_site: Callable[[], Client], monkeypatch: pytest.MonkeyPatch) -> None:
    """Helpers read the render under way, not Jinja2's context: a helper taking the
    context would get a new one at each call in a loop (the other-waves table alone is
    80 calls), and the macros, imported with context, would run again on every page."""
    site = fresh_site()  # nothing rendered yet: every page below is rendered here
    derived: list[object] = []
    modules: list[str | None] = []
    original_derived = Context.derived
    original_module = Template.make_module

    def counting_derived(self: Context, locals: dict[str, Any] | None = None) -> Context:
        derived.append(self)
        return original_derived(self, locals)

    def counting_module(self: Template, *args: Any, **kwargs: Any) -> Any:
        modules.append(self.name)
        return original_module(self, *args, **kwargs)

    monkeypatch.setattr(Context, "derived", counting_derived)
    monkeypatch.setattr(Template, "make_module", counting_module)
    for lang in ("fr", "en"):
        page = site.html(f"/variables/urn:ddi:fr.gazel:var-Q1993-TABAC_STATUT_93?lang={lang}")
        rows = page.xpath('//table[@class="by-wave"]/tbody/tr')
        assert len(rows) >= 2  # the other-waves loop ran, calling helpers in a loop
        # the identity section and the response domain come from macros
        terms = [dt.text_content() for dt in page.xpath('//section[@class="identity"]//dt')]
        assert {"fr": "Publié le", "en": "Published"}[lang] in terms
        kind = page.xpath('//*[@id="representation-title"]/following-sibling::dl[1]/dd')[0]
        assert kind.text_content().startswith({"fr": "Codée", "en": "Coded"}[lang])
        site.html(f"/questions/urn:ddi:fr.gazel:q-TABAC_STATUT?lang={lang}")
    assert derived == []
    # four pages, each importing macros: made once, then kept by Jinja2
    assert modules.count("_macros.html") <= 1
    assert "basket/_buttons.html" in modules  # (imported with context: the count sees it)


def test_helpers_outside_a_render_say_so() -> None:
    with pytest.raises(RuntimeError, match="outside"):
        rendering()


def _cache_in(directory: Path, monkeypatch: pytest.MonkeyPatch) -> FileSystemBytecodeCache:
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    cache = bytecode_cache()
    assert isinstance(cache, FileSystemBytecodeCache)
    assert Path(cache.directory).parent == directory
    return cache


def test_compiled_templates_are_kept_for_the_next_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache_in(tmp_path, monkeypatch)
    sources = {"page.html": "{{ 6 * 7 }}"}
    assert Environment(loader=DictLoader(sources), bytecode_cache=cache).get_template(
        "page.html").render() == "42"
    assert len(list(Path(cache.directory).iterdir())) == 1
    sources["page.html"] = "{{ 6 * 8 }}"  # checked against the source
    assert Environment(loader=DictLoader(sources), bytecode_cache=cache).get_template(
        "page.html").render() == "48"


def test_a_cache_that_cannot_be_written_fails_no_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    cache = _cache_in(tmp_path, monkeypatch)
    shutil.rmtree(cache.directory)  # e.g. a cleaner emptied the temporary directory
    env = Environment(loader=DictLoader({"page.html": "{{ 6 * 7 }}"}), bytecode_cache=cache)
    assert env.get_template("page.html").render() == "42"
    assert "not cached" in caplog.text


def test_without_a_safe_cache_directory_templates_are_compiled_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_directory))
    templates = build_templates(Translator(load_translations()))
    assert templates.env.bytecode_cache is None
    assert load_all(templates) > 40
    assert list(tmp_path.iterdir()) == [not_a_directory]
