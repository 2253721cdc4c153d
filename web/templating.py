"""The Jinja2 environment: autoescaping, the i18n extension, and the helpers templates use.

Templates get plain dataclasses from :mod:`catalogue.browse` and the views. Every link is
built with ``url_for`` (path parameters are percent-encoded, so a URN holding odd
characters still makes a working link); DDI texts are shown with ``text()`` (page
language first, else another language marked with ``lang``); numbers with ``number``.

These helpers read the request and the page language from the render under way (a
context variable :meth:`CatalogueTemplates.TemplateResponse` sets), not from the Jinja2
context. Jinja2 gives a function marked ``pass_context`` a fresh derived context on each
call made inside a loop or a block (20 a variable page, a fifth of its rendering time),
and a module imported ``with context`` is executed again on every render: with these
helpers, templates import their macros without context, and Jinja2 keeps them compiled
once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus
from weakref import WeakKeyDictionary

from babel.numbers import format_decimal
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.bccache import Bucket
from markupsafe import Markup
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.templating import Jinja2Templates, _TemplateResponse

from catalogue.model import LangText
from web.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    Translator,
    lang_text,
    text_lang,
)

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
#: Characters left as they are in a path parameter (URNs keep their colons readable).
_PATH_SAFE = ":@!$'()*+,;=-._~"

ContextProcessor = Callable[[Request], dict[str, Any]]


_ALREADY_SAFE = re.compile(r"[A-Za-z0-9:@!$'()*+,;=\-._~]*")


def path_param(value: object) -> str:
    text = str(value)
    if _ALREADY_SAFE.fullmatch(text):  # most URNs: nothing to encode
        return text
    return quote(text, safe=_PATH_SAFE)


def url_for(request: Request, name: str, /, **params: Any) -> str:
    """The URL of route ``name``; path parameters percent-encoded.

    Starlette's ``url_for`` tries every route in turn, which a results page with hundreds
    of links pays dearly for: routes named once, with simple path parameters, are built
    from their path format instead (same result), anything else goes to Starlette. A
    page calls this a hundred times or more, so the usual case (one parameter) is kept
    short.
    """
    scope = request.scope
    known = scope.get("catalogue.url_formats")
    if known is None:
        app = scope["app"]
        formats = _FORMATS.get(app)
        if formats is None:
            formats = _FORMATS[app] = _url_formats(app.routes)
        known = scope["catalogue.url_formats"] = (
            str(request.base_url).rstrip("/"), formats)
    base, formats = known
    found = formats.get(name)
    if found is not None and found.single is not None:
        if len(params) == 1 and found.single in params:
            return base + found.prefix + path_param(params[found.single]) + found.suffix
    elif found is not None and found.names == params.keys():
        path = found.path
        for key, value in params.items():
            path = path.replace("{" + key + "}", path_param(value))
        return base + path
    return str(request.url_for(name, **{k: path_param(v) for k, v in params.items()}))


@dataclass(frozen=True, slots=True)
class _PathFormat:
    path: str
    names: frozenset[str]
    #: For a path with one parameter: its name, and the text before and after it.
    single: str | None = None
    prefix: str = ""
    suffix: str = ""

    @staticmethod
    def of(path: str, names: frozenset[str]) -> _PathFormat:
        if len(names) == 1:
            (single,) = names
            prefix, marker, suffix = path.partition("{" + single + "}")
            if marker and "{" not in prefix + suffix:
                return _PathFormat(path, names, single, prefix, suffix)
        return _PathFormat(path, names)


#: Each app's path formats by route name (built on first use).
_FORMATS: WeakKeyDictionary[Any, dict[str, _PathFormat]] = WeakKeyDictionary()


def _url_formats(routes: Iterable[Any]) -> dict[str, _PathFormat]:
    """The path format of each of the app's top-level routes whose name is not used
    twice."""
    seen: dict[str, int] = {}
    formats: dict[str, _PathFormat] = {}
    for route in routes:
        name = getattr(route, "name", None)
        if not name:
            continue
        seen[name] = seen.get(name, 0) + 1
        if isinstance(route, Route):
            formats[name] = _PathFormat.of(route.path_format,
                                           frozenset(route.param_convertors))
        elif isinstance(route, Mount) and not route.routes:  # e.g. StaticFiles
            formats[name] = _PathFormat.of(route.path_format, frozenset({"path"}))
    return {name: found for name, found in formats.items() if seen[name] == 1}


def with_query(url: str, pairs: Iterable[tuple[str, object]]) -> str:
    """``url`` with a query string made of ``pairs`` (repeated keys kept), as
    ``urlencode`` writes it.

    A search page links every facet value with the whole search in its query string:
    the same few keys and values quoted again and again (a tenth of the page's time
    with ``urlencode``), hence quoting through a cache."""
    query = "&".join(f"{_quoted(k)}={_quoted(str(v))}" for k, v in pairs)
    return f"{url}?{query}" if query else url


_quoted = lru_cache(maxsize=4096)(quote_plus)


@dataclass(slots=True)
class Rendering:
    """The render under way: the request and the page language."""

    request: Request
    lang: str
    #: ``lang_url`` by language (the header asks for each twice).
    lang_urls: dict[str, str] = field(default_factory=dict)


_RENDERING: ContextVar[Rendering] = ContextVar("catalogue_rendering")


def rendering() -> Rendering:
    """The render under way; templates render through
    :meth:`CatalogueTemplates.TemplateResponse`, which says which one."""
    try:
        return _RENDERING.get()
    except LookupError:
        raise RuntimeError("a template helper was called outside "
                           "CatalogueTemplates.TemplateResponse") from None


class CatalogueTemplates(Jinja2Templates):
    """Starlette's templates, rendering with the request and page language known to
    the helpers (see the module docstring)."""

    def TemplateResponse(  # noqa: N802 - Starlette's name
            self, request: Request, name: str, context: dict[str, Any] | None = None,
            status_code: int = 200, headers: Mapping[str, str] | None = None,
            media_type: str | None = None, background: BackgroundTask | None = None,
    ) -> _TemplateResponse:
        context = context if context is not None else {}
        lang = str(context.get("lang") or getattr(request.state, "lang", DEFAULT_LANGUAGE))
        token = _RENDERING.set(Rendering(request, lang))
        try:
            return super().TemplateResponse(request, name, context, status_code, headers,
                                            media_type, background)
        finally:
            _RENDERING.reset(token)


class _OptionalBytecodeCache(FileSystemBytecodeCache):
    """A cache that cannot be written (disk full, directory removed) is no reason to
    fail a page: the template is compiled and served all the same."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.warning("compiled template %s not cached: %s", bucket.key, exc)


def bytecode_cache() -> BytecodeCache | None:
    """Where Jinja2 keeps compiled templates: in a directory of its own under the
    system's temporary one, private to the user, keyed by template and checked against
    its source. Compiling every template takes about a second, which each worker did at
    each start; none when no safe directory can be had."""
    try:
        return _OptionalBytecodeCache()
    except (OSError, RuntimeError) as exc:
        log.warning("templates compiled without a cache: %s", exc)
        return None


def build_templates(translator: Translator, *, directories: Iterable[Path] = (),
                    context_processors: Iterable[ContextProcessor] = (),
                    header_items: Iterable[str] = ()) -> CatalogueTemplates:
    """The app's templates; ``directories`` lets other packages add theirs (searched first)."""
    env = Environment(
        loader=FileSystemLoader([*map(str, directories), str(TEMPLATES_DIR)]),
        autoescape=select_autoescape(("html", "xml"), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        bytecode_cache=bytecode_cache(),
    )
    env.policies["ext.i18n.trimmed"] = True
    translator.install(env, lambda: rendering().lang)
    env.globals.update(
        url_for=_url_for,
        lang_url=_lang_url,
        text=_text,
        text_lang=_text_lang,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        header_items=tuple(header_items),
    )
    env.filters["number"] = _number
    env.filters["with_query"] = lambda url, pairs: with_query(url, pairs)
    return CatalogueTemplates(env=env, context_processors=list(context_processors))


def load_all(templates: CatalogueTemplates) -> int:
    """Load every template now (a worker does it as it starts, not on its first
    requests): about 35 ms with their compiled form cached, a second without."""
    env = templates.env
    names = env.list_templates()
    for name in names:
        env.get_template(name)
    return len(names)


def _url_for(name: str, /, **params: Any) -> str:
    return url_for(rendering().request, name, **params)


def _lang_url(code: str) -> str:
    """The current page in language ``code``."""
    current = rendering()
    found = current.lang_urls.get(code)
    if found is None:
        found = current.lang_urls[code] = str(
            current.request.url.include_query_params(lang=code))
    return found


def _text(value: LangText | None) -> Markup:
    return lang_text(value, rendering().lang)


def _text_lang(value: LangText | None) -> str | None:
    return text_lang(value, rendering().lang)


#: Digit group separators (CLDR's, for whole numbers): babel's general formatter costs
#: half a millisecond a call, a lot for a page of counts.
_GROUP_SEPARATORS = {"en": ",", "fr": "\u202f"}


def _number(value: int | float | None) -> str:
    if value is None:
        return ""
    lang = rendering().lang
    separator = _GROUP_SEPARATORS.get(lang)
    if separator is not None and isinstance(value, int):
        return f"{value:,}".replace(",", separator)
    return str(format_decimal(value, locale=lang))


def base_context(request: Request, extra: Mapping[str, Any]) -> dict[str, Any]:
    """What every page template receives besides its own data."""
    lang = getattr(request.state, "lang", "en")
    return {"lang": lang, **extra}
