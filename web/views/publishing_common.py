"""What the publishing pages share: their JSON shapes, the report and diff as templates
show them, rendering, and the catalogue's messages (listed so that the extractor keeps
them in the catalogs; they are translated where they are shown)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from catalogue.accounts_model import User
from catalogue.diffs import Diff, KindDiff
from catalogue.store.records import Publication
from catalogue.validation_report import OTHER_RULES, RuleGroup
from ddi_schemas.profile import RULES
from web.i18n import gettext_for
from web.resources import resources
from web.responses import JSONResponse
from web.routing import VARY, Page, wants_json
from web.templating import url_for
from web.views.accounts import N_
from web.views.common import Crumb, Texts, crumbs_home, texts

log = logging.getLogger(__name__)

#: Findings shown per rule, and changes per list, on a page (the JSON has them all).
SHOWN_FINDINGS = 200
SHOWN_CHANGES = 300

#: Messages of catalogue.uploads, catalogue.withdrawal and catalogue.history that reach
#: people, and the rules' titles and rationales.
CATALOGUE_MESSAGES = (
    N_("The file is larger than the upload limit."),
    N_("Choose a file to upload."),
    N_("This file is neither DDI-L XML nor a data dictionary (.csv or .xlsx with a header "
       "row naming wave, variable, label_fr, label_en and response_type)."),
    N_("This ZIP archive is not an Excel workbook (.xlsx)."),
    N_("This workbook declares XML entities or expands too much; save it again."),
    N_("Only publishers of this cohort may publish its metadata."),
    N_("This file holds another cohort's items: choose that cohort."),
    N_("There is nothing to publish: fix the problems in the report first."),
    N_("This upload is already being published."),
    N_("There is no such upload: it was published, discarded or has expired."),
    N_("This cohort has no DDI agency: an administrator adds one first."),
    N_("Say why the publication is withdrawn."),
    N_("Shorten the reason to 2,000 characters."),
    N_("This publication is already withdrawn."),
    N_("Only publishers of the cohort that published it may withdraw it."),
    N_("There is no registered cohort at this address."),
)
RULE_MESSAGES = (
    N_("Valid against the official DDI-L schema"),
    N_("Files must follow the official DDI-L XML Schema of their version. A file that "
       "breaks it but can still be read may be published leniently: an explicit choice, "
       "recorded with the publication."),
    N_("The data dictionary is complete and consistent"),
    N_("Every row and cell must be usable to write DDI-L: nothing is converted until the "
       "table is fixed."),
    N_("The file can be read"),
    N_("A file that is not DDI-L XML (or not well-formed, or declares entities) cannot be "
       "read at all."),
    N_("A published version never changes"),
    N_("Agency+ID+Version names one immutable version: publishing other content under an "
       "identity the catalogue (or an earlier file of the batch) already holds would change "
       "what every reference to it means."),
    N_("Identities are unique within a file"),
    N_("Real exports repeat items, sometimes with different content under one identity; "
       "the catalogue keeps the first copy and reports the others."),
    N_("Every versionable item is identified"),
    N_("The catalogue stores, links and cites items by Agency+ID+Version (or URN); an "
       "unidentified item is skipped."),
    N_("URN agrees with Agency/ID/Version"),
    N_("When both are given and disagree, the item's identity is undecidable."),
    N_("References resolve"),
    N_("A reference to nothing known (in the file, the batch or the catalogue) cannot be "
       "followed; common in partial exports, so reported, not refused."),
    N_("Variables have a name"),
    N_("Researchers find and cite variables by name."),
    N_("Variables have a label"),
    N_("A variable without a label cannot be understood from search results."),
    N_("Access levels are open or casd"),
    N_("catalogue:access says whether a variable is open or only reachable in a CASD "
       "secure workspace; a value the catalogue does not know is read as casd, never as "
       "open, so that sensitive data cannot look open by a typo."),
    N_("Language tags are valid BCP 47"),
    N_("Language-aware search and display rely on recognisable xml:lang values."),
    N_("Dates are XML Schema dates"),
    N_("Wave timelines and version dates must be comparable."),
    N_("Agencies are DDI agency identifiers"),
    N_("URNs are only globally unique under a registered reverse-domain agency id."),
)


def every_rule_text() -> list[str]:
    """The titles and rationales of every rule (a test checks each is translated)."""
    found = [text for rule in RULES.values() for text in (rule.title, rule.rationale)]
    return found + [text for pair in OTHER_RULES.values() for text in pair]


# -- JSON shapes ----------------------------------------------------------------------------


class CountsJSON(TypedDict):
    variables: int
    questions: int
    code_lists: int
    categories: int
    concepts: int


class PublicationSummaryJSON(TypedDict):
    id: int
    urn: str
    file: str
    title: Texts
    ddi_version: str
    valid: bool
    lenient: bool
    published_at: str
    #: only for those who may publish for the cohort (null otherwise)
    published_by: str | None
    withdrawn: bool
    withdrawn_at: str | None
    withdrawal_reason: str | None
    counts: CountsJSON
    url: str
    json: str


def publication_json(request: Request, publication: Publication, *,
                     show_publisher: bool = False) -> PublicationSummaryJSON:
    counts = publication.counts
    return {
        "id": publication.id, "urn": publication.urn, "file": publication.file_name,
        "title": texts(publication.title), "ddi_version": publication.ddi_version,
        "valid": publication.valid, "lenient": publication.lenient,
        "published_at": publication.published_at,
        "published_by": publication.published_by if show_publisher else None,
        "withdrawn": publication.withdrawn, "withdrawn_at": publication.withdrawn_at,
        "withdrawal_reason": publication.withdrawal_reason,
        "counts": {"variables": counts.variables, "questions": counts.questions,
                   "code_lists": counts.code_lists, "categories": counts.categories,
                   "concepts": counts.concepts},
        "url": url_for(request, "publication", id=publication.id),
        "json": url_for(request, "publication_json", id=publication.id),
    }


def may_see_publishers(user: User | None, cohort_slugs: set[str] | frozenset[str]) -> bool:
    """Who published what is shown to administrators and the cohort's publishers."""
    if user is None or user.disabled:
        return False
    return user.is_administrator or bool(user.publisher_of & cohort_slugs)


# -- what templates get ---------------------------------------------------------------------


def shown_groups(groups: list[RuleGroup]) -> list[dict[str, Any]]:
    """Rule groups for a page: at most :data:`SHOWN_FINDINGS` findings each."""
    return [{"group": g, "findings": g.findings[:SHOWN_FINDINGS],
             "hidden": max(0, len(g.findings) - SHOWN_FINDINGS)} for g in groups]


def shown_kinds(diff: Diff) -> list[dict[str, Any]]:
    """Each kind of a diff for a page: at most :data:`SHOWN_CHANGES` entries per list."""
    out = []
    for kind in diff.kinds:
        out.append({"kind": kind, "lists": [
            (name, getattr(kind, name)[:SHOWN_CHANGES],
             max(0, len(getattr(kind, name)) - SHOWN_CHANGES))
            for name in ("changed", "added", "removed")]})
    return out


def kind_title(request: Request, kind: KindDiff) -> str:
    _ = gettext_for(request)
    return {"variables": _("Variables"), "questions": _("Questions"),
            "code_lists": _("Code lists"), "categories": _("Categories")}[kind.section]


def publishing_crumbs(request: Request, *more: Crumb) -> list[Crumb]:
    _ = gettext_for(request)
    return [*crumbs_home(request), Crumb(_("Publications"), url_for(request, "publications")),
            *more]


# -- rendering ------------------------------------------------------------------------------


def render_page(request: Request, name: str, page: Page) -> Response:
    """A resource's page as its endpoint renders it: HTML, or JSON when asked for."""
    if wants_json(request):
        return JSONResponse(dict(page.json()), status_code=page.status, headers={"Vary": VARY})
    params = {k: v for k, v in request.path_params.items()}
    json_url = url_for(request, name + "_json", **params)
    if request.url.query:
        json_url += "?" + request.url.query
    context = {"lang": request.state.lang, "json_url": json_url, **page.data}
    response: Response = request.app.state.templates.TemplateResponse(
        request, page.template, context, status_code=page.status, headers={"Vary": VARY})
    return response


class Deferred(Response):
    """A page whose data takes a while to compute (a diff of a large publication): the
    view returns this at once and the data is built in a worker thread, so that the
    worker's event loop keeps answering other requests meanwhile. Errors raised while
    building are answered as any view's (the response has not started yet)."""

    def __init__(self, request: Request, name: str, build: Callable[[], Page]) -> None:
        super().__init__()
        self.request, self.name, self.build = request, name, build

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = await run_in_threadpool(self.build)
        await render_page(self.request, self.name, page)(scope, receive, send)


def page_data(request: Request, data: Mapping[str, Any]) -> dict[str, Any]:
    """Template data every publishing page has."""
    return {"crumbs": publishing_crumbs(request), **data}


async def update_index(request: Request, index: Callable[..., object], *args: Any) -> None:
    """Run ``index(settings, store, *args)`` in a worker thread after a commit, then
    refresh this worker's catalogue. A failure is logged, not shown: what was committed
    stands (the store is the source of truth) and the index catches up with the store
    when a worker starts."""
    res = resources(request)
    try:
        await run_in_threadpool(index, res.settings, res.store, *args)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("the search index is behind the store until a worker starts again")
    res.catalogue_.refresh()
