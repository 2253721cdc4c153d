"""The interface in French and English: gettext catalogs, the page language, DDI texts.

Messages are written in English in templates (``{% trans %}``, ``_()``) and Python
(:func:`gettext_for`); ``web/translations/<lang>/LC_MESSAGES/messages.po`` holds the
translations. The ``.po`` files are compiled in memory when the app starts (no ``.mo``
file to build or commit). ``python -m web.i18n`` extracts the messages again and updates
the catalogs (new messages get an empty translation, which a test refuses for French).

The page language comes from ``?lang=`` (then remembered in a cookie), else that cookie,
else the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalogue.model import LangText, primary_language

LANGUAGES: tuple[str, ...] = ("en", "fr")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "fr": "Français"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"


def load_translations(directory: Path = TRANSLATIONS_DIR
                      ) -> dict[str, gettext_module.NullTranslations]:
    """One translations object per language, compiled in memory from the ``.po`` files."""
    loaded: dict[str, gettext_module.NullTranslations] = {}
    for lang in LANGUAGES:
        po = directory / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po.exists():
            loaded[lang] = gettext_module.NullTranslations()
            continue
        with po.open("rb") as stream:
            catalog = read_po(stream, locale=lang, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded[lang] = gettext_module.GNUTranslations(buffer)
    return loaded


@dataclass(frozen=True, slots=True)
class Negotiated:
    lang: str
    #: True when ``?lang=`` chose it: the response sets the cookie.
    remember: bool


def negotiate(query_lang: str | None, cookie_lang: str | None,
              accept_language: str | None) -> Negotiated:
    if query_lang is not None and query_lang in LANGUAGES:
        return Negotiated(query_lang, remember=True)
    if cookie_lang in LANGUAGES:
        return Negotiated(str(cookie_lang), remember=False)
    return Negotiated(_from_accept_language(accept_language or ""), remember=False)


def _from_accept_language(header: str) -> str:
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        lang = primary_language(tag)
        if lang not in LANGUAGES:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        q -= position * 1e-6  # earlier wins a tie
        if q > best_q:
            best, best_q = lang, q
    return best


class LanguageMiddleware:
    """Puts the page language in ``request.state.lang``; remembers ``?lang=`` in a cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k in (b"cookie", b"accept-language")}
        negotiated = negotiate(_query_lang(scope.get("query_string", b"")),
                               _cookie_lang(headers.get("cookie", "")),
                               headers.get("accept-language"))
        scope.setdefault("state", {})["lang"] = negotiated.lang
        if not negotiated.remember:
            await self.app(scope, receive, send)
            return
        cookie = (f"{COOKIE}={negotiated.lang}; Path=/; Max-Age={COOKIE_MAX_AGE}; "
                  f"SameSite=Lax").encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _query_lang(query_string: bytes) -> str | None:
    for pair in query_string.decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == "lang":
            return value.strip().lower()
    return None


def _cookie_lang(header: str) -> str | None:
    if COOKIE not in header:
        return None
    try:
        cookie = SimpleCookie(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is ignored
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None


# -- in templates -----------------------------------------------------------------------

class Translator:
    """``gettext``/``ngettext`` for templates (by the context's ``lang``) and for Python."""

    def __init__(self, translations: Mapping[str, gettext_module.NullTranslations]) -> None:
        self.translations = dict(translations)

    def get(self, lang: str) -> gettext_module.NullTranslations:
        return self.translations.get(lang) or self.translations[DEFAULT_LANGUAGE]

    def gettext(self, lang: str, message: str, **variables: Any) -> str:
        text = self.get(lang).gettext(message)
        return text % variables if variables else text

    def ngettext(self, lang: str, singular: str, plural: str, n: int,
                 **variables: Any) -> str:
        text = self.get(lang).ngettext(singular, plural, n)
        return text % {"num": n, **variables}

    def install(self, env: Any, current_lang: Callable[[], str]) -> None:
        """Give a Jinja2 environment (with the i18n extension) these callables, which
        translate into ``current_lang()``, the language of the render under way."""
        translator = self

        @pass_eval_context
        def _gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
            text = translator.get(current_lang()).gettext(message)
            if eval_ctx.autoescape:
                text = Markup(text)
            return text % {k: escape(v) if eval_ctx.autoescape else v
                           for k, v in variables.items()} if variables else text

        @pass_eval_context
        def _ngettext(eval_ctx: EvalContext, singular: str, plural: str, n: int, /,
                      **variables: Any) -> str:
            text = translator.get(current_lang()).ngettext(singular, plural, n)
            if eval_ctx.autoescape:
                text = Markup(text)
                variables = {k: escape(v) for k, v in variables.items()}
            return text % {"num": n, **variables}

        env.globals.update(gettext=_gettext, ngettext=_ngettext, _=_gettext)
        env.newstyle_gettext = True


def gettext_for(request: Request) -> Callable[..., str]:
    """``_`` for Python code: messages in the request's language."""
    translator: Translator = request.app.state.translator
    lang: str = getattr(request.state, "lang", DEFAULT_LANGUAGE)

    def _(message: str, **variables: Any) -> str:
        return translator.gettext(lang, message, **variables)

    return _


def lang_text(text: LangText | None, lang: str) -> Markup:
    """A DDI text in the page language, else in another one marked with ``lang``.

    The text is escaped; paragraphs stay apart (the stylesheet keeps line breaks).
    """
    if text is None or not text:
        return Markup("")
    found = text.get(lang)
    if found:
        return escape(found)
    for tag, value in text.values:
        if value:
            if not tag:
                return escape(value)
            return Markup('<span lang="{}">{}</span>').format(tag, value)
    return Markup("")


def text_lang(text: LangText | None, lang: str) -> str | None:
    """The language tag to put on an element holding :func:`lang_text`, when it differs."""
    if text is None or not text or text.get(lang):
        return None
    return next((tag for tag, value in text.values if value and tag), None)


def main() -> None:  # pragma: no cover - a maintainer's tool
    """Extract messages from the templates and Python files; update every catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import write_po

    root = Path(__file__).resolve().parent
    catalog = Catalog(project="cohort-catalogue", domain=DOMAIN)
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                        "trimmed": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map=options):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    with (TRANSLATIONS_DIR / f"{DOMAIN}.pot").open("wb") as stream:
        write_po(stream, catalog, omit_header=False, sort_output=True)
    for lang in LANGUAGES:
        po = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.exists():
            with po.open("rb") as stream:
                existing = read_po(stream, locale=lang, domain=DOMAIN)
            existing.update(catalog)
        else:
            existing = Catalog(locale=lang, domain=DOMAIN, project="cohort-catalogue")
            existing.update(catalog)
        with po.open("wb") as stream:
            write_po(stream, existing, sort_output=True, ignore_obsolete=True,
                     include_previous=False)
    print(f"{len(catalog)} messages extracted into {TRANSLATIONS_DIR}")


if __name__ == "__main__":  # pragma: no cover
    main()
