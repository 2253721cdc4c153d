"""Pieces every view shares: breadcrumbs, links to items, and the JSON forms of the
catalogue's common values (texts in several languages, references, versions, waves).

JSON shapes are TypedDicts: mypy checks the views against them and the OpenAPI
description is generated from them (:mod:`web.openapi`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalogue.browse import Located, VariableInWave, item_fragment
from catalogue.model import AnyItem, DateRange, Item, LangText, Study
from catalogue.store.records import ListedItem
from catalogue.structure import Cohort, Ref, Wave
from web.i18n import gettext_for, lang_text
from web.resources import resources
from web.routing import PAGE_OF_KIND, QueryParam
from web.templating import url_for

URN_PARAM = {"urn": "A DDI URN: urn:ddi:AGENCY:ID for the current version, or "
                     "urn:ddi:AGENCY:ID:VERSION for that version"}
LANG_PARAM = QueryParam("lang", "Language of the page (remembered in a cookie): fr or en",
                        {"type": "string", "enum": ["fr", "en"]})

#: ``{"fr": "...", "en": "..."}``; the key is the ``xml:lang`` as published ("" if none).
Texts = dict[str, str]


@dataclass(frozen=True, slots=True)
class Crumb:
    """One step of the breadcrumbs: a translated word or a DDI text, and a link."""

    label: str | LangText
    url: str | None = None

    @property
    def is_text(self) -> bool:
        return isinstance(self.label, LangText)


@dataclass(frozen=True, slots=True)
class WaveRow:
    """A row of the table of a question's variables by wave, ready to show: links built
    and texts in the page language. A variable's page lists the other 19 waves of a
    20-wave cohort; built in the template, each row took four helper calls (a Jinja2
    context call each), a third of the page's rendering."""

    wave_url: str | None
    wave_title: Markup
    url: str
    name: str
    label: Markup


def wave_rows(request: Request, found: Iterable[VariableInWave]) -> list[WaveRow]:
    lang: str = request.state.lang
    waves: dict[int, tuple[str, Markup]] = {}  # many rows, few waves
    rows = []
    for each in found:
        wave_url, wave_title = None, Markup("")
        if each.wave is not None:
            known = waves.get(id(each.wave))
            if known is None:
                study = each.wave.study
                known = waves[id(each.wave)] = (
                    url_for(request, "wave", urn=study.urn),
                    lang_text(study.title or study.label, lang))
            wave_url, wave_title = known
        variable = each.variable
        rows.append(WaveRow(wave_url, wave_title, url_for(request, "variable", urn=variable.urn),
                            variable.name or variable.identity.id,
                            lang_text(variable.label, lang)))
    return rows


def crumbs_home(request: Request) -> list[Crumb]:
    _ = gettext_for(request)
    return [Crumb(_("Home"), url_for(request, "home"))]


def cohort_crumbs(request: Request, cohort: Cohort | None) -> list[Crumb]:
    crumbs = crumbs_home(request)
    if cohort is not None:
        crumbs.append(Crumb(title_of(cohort.study), url_for(request, "cohort", slug=cohort.slug)))
    return crumbs


def wave_crumbs(request: Request, cohort: Cohort | None, wave: Wave | None) -> list[Crumb]:
    crumbs = cohort_crumbs(request, cohort)
    if wave is not None:
        crumbs.append(Crumb(title_of(wave.study), url_for(request, "wave", urn=wave.study.urn)))
    return crumbs


def title_of(item: Item | ListedItem) -> LangText:
    """What to call an item: its title (studies), label, name or ID."""
    if isinstance(item, Study) and item.title:
        return item.title
    if item.label:
        return item.label
    return LangText((("", item.name or item.identity.id),))


def item_url(request: Request, item: Item | Ref | ListedItem) -> str | None:
    """The page of an item, when its kind has one."""
    page = PAGE_OF_KIND.get(item.kind)
    return url_for(request, page, urn=item.urn) if page else None


# -- JSON -----------------------------------------------------------------------------------

def texts(value: LangText | None) -> Texts:
    out: Texts = {}
    for lang, text in (value.values if value else ()):
        out.setdefault(lang, text)
    return out


class RefJSON(TypedDict):
    urn: str
    kind: str
    name: str
    label: Texts
    url: str | None
    json: str | None


def ref_json(request: Request, item: AnyItem | Ref | ListedItem) -> RefJSON:
    url = item_url(request, item)
    page = PAGE_OF_KIND.get(item.kind)
    label = item.label if isinstance(item, Ref) else title_of(item)
    return {"urn": item.urn, "kind": item.kind, "name": item.name, "label": texts(label),
            "url": url, "json": url_for(request, page + "_json", urn=item.urn) if page else None}


class VersionJSON(TypedDict):
    urn: str
    version: str
    published_at: str
    withdrawn: bool
    current: bool


class LocatedJSON(TypedDict):
    urn: str
    version: str
    publication: int
    published_at: str
    withdrawn: bool
    current: bool
    current_urn: str | None
    versions: list[VersionJSON]


def located_json(located: Located) -> LocatedJSON:
    return {"urn": located.urn, "version": located.version,
            "publication": located.publication_id, "published_at": located.published_at,
            "withdrawn": located.withdrawn, "current": located.is_current,
            "current_urn": located.current_urn,
            "versions": [{"urn": v.urn, "version": v.version, "published_at": v.published_at,
                          "withdrawn": v.withdrawn, "current": v.current}
                         for v in located.versions]}


class DatesJSON(TypedDict):
    start: str | None
    end: str | None


def dates_json(dates: DateRange) -> DatesJSON:
    return {"start": dates.start, "end": dates.end}


class WaveJSON(TypedDict):
    urn: str
    title: Texts
    url: str
    json: str
    dates: DatesJSON
    years: list[int]
    modes: list[Texts]
    instruments: list[RefJSON]


def wave_json(request: Request, wave: Wave) -> WaveJSON:
    return {"urn": wave.study.urn, "title": texts(title_of(wave.study)),
            "url": url_for(request, "wave", urn=wave.study.urn),
            "json": url_for(request, "wave_json", urn=wave.study.urn),
            "dates": dates_json(wave.dates), "years": list(wave.years),
            "modes": [texts(m) for m in wave.modes],
            "instruments": [ref_json(request, i) for i in wave.instruments]}


class CohortRefJSON(TypedDict):
    slug: str
    urn: str
    title: Texts
    url: str


def cohort_ref_json(request: Request, cohort: Cohort) -> CohortRefJSON:
    return {"slug": cohort.slug, "urn": cohort.study.urn,
            "title": texts(title_of(cohort.study)),
            "url": url_for(request, "cohort", slug=cohort.slug)}


def xml_route(path: str, name: str, kinds: tuple[str, ...]) -> Route:
    """``path`` (ending in ``{urn:path}.xml``) serves an item's DDI-L XML as published."""

    async def download(request: Request) -> Response:
        fragment = item_fragment(resources(request).catalogue, request.path_params["urn"],
                                 kinds)
        return Response(fragment.xml, media_type="application/xml", headers={
            "Content-Disposition": f'attachment; filename="{fragment.file_name}"'})

    return Route(path, download, methods=["GET", "HEAD"], name=name)
