"""Publications: each cohort's history, one publication (what it changed since the one
it follows, its validation report, withdrawing it), and any two compared.

- ``/publications``: the registered cohorts and their publications; the way to upload;
- ``/publications/cohorts/{slug}``: a cohort's history, newest first, withdrawn included;
- ``/publications/compare?from=ID&to=ID``: two publications compared, item by item;
- ``/publications/{id}``: one publication and its diff against the one it follows;
- ``/publications/{id}/report``: its validation report, grouped by rule;
- ``POST /publications/{id}/withdraw``: withdraw it (its cohort's publishers).

Every page answers JSON too. Diffs are computed in a worker thread (see
:class:`~web.views.publishing_common.Deferred`) and remembered for the catalogue's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalogue.accounts_model import User
from catalogue.accounts_roles import can_publish, cohorts_of_agencies
from catalogue.diffs import Diff, DiffJSON, compare_publications
from catalogue.errors import BadRequest, CatalogueError, NotFound
from catalogue.history import CohortHistory, all_histories, cohort_history, predecessor
from catalogue.store.records import Publication
from catalogue.validation_report import ReportJSON, all_findings, group_by_rule, report_json
from catalogue.withdrawal import may_withdraw, withdraw_publication
from ddi_schemas.findings import FileReport
from search.indexing import index_withdrawal
from web.auth import current_user, mark_audited, origin, require_user
from web.i18n import gettext_for
from web.resources import resources
from web.routing import Page, QueryParam, Resource
from web.templating import url_for
from web.views.accounts import form_values
from web.views.common import LANG_PARAM, Crumb
from web.views.publishing_common import (
    Deferred,
    PublicationSummaryJSON,
    kind_title,
    may_see_publishers,
    publication_json,
    publishing_crumbs,
    shown_groups,
    shown_kinds,
    update_index,
)

HEADER_ITEMS = ("publishing/_header.html",)
ID_PARAM = {"id": "A publication's number, as listed in a cohort's history"}


def publication_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"there is no publication {raw!r}: publications are numbered 1, 2, ...")
    return int(raw)


def _cohorts_of(request: Request, publication: Publication) -> set[str]:
    store = resources(request).store
    return {slug for slug in cohorts_of_agencies(store, publication.agencies).values() if slug}


# -- the hub and the histories -------------------------------------------------------------------


class CohortPublicationsJSON(TypedDict):
    slug: str
    name: str
    agencies: list[str]
    publications: int
    withdrawn: int
    current: PublicationSummaryJSON | None
    url: str
    json: str
    may_publish: bool


class PublicationsJSON(TypedDict):
    cohorts: list[CohortPublicationsJSON]
    upload: str | None


def _cohort_json(request: Request, history: CohortHistory, user: User | None
                 ) -> CohortPublicationsJSON:
    show = may_see_publishers(user, {history.slug})
    current = history.current
    return {"slug": history.slug, "name": history.name, "agencies": list(history.agencies),
            "publications": len(history.publications),
            "withdrawn": len(history.publications) - len(history.live),
            "current": publication_json(request, current, show_publisher=show) if current
            else None,
            "url": url_for(request, "publication_history", slug=history.slug),
            "json": url_for(request, "publication_history_json", slug=history.slug),
            "may_publish": can_publish(user, history.slug)}


def publications(request: Request) -> Page:
    user = current_user(request)
    histories = all_histories(resources(request).store)
    publishable = [h for h in histories if can_publish(user, h.slug)]
    _ = gettext_for(request)
    upload = url_for(request, "upload_form") if publishable else None
    return Page("publishing/publications.html", {
        "histories": histories, "publishable": publishable, "upload_url": upload,
        "crumbs": publishing_crumbs(request)[:-1] + [Crumb(_("Publications"))]},
        lambda: {"cohorts": [_cohort_json(request, h, user) for h in histories],
                 "upload": upload})


@dataclass(frozen=True, slots=True)
class HistoryRow:
    publication: Publication
    current: bool
    follows: Publication | None
    compare: str | None


class HistoryEntryJSON(TypedDict):
    publication: PublicationSummaryJSON
    current: bool
    follows: int | None
    compare: str | None


class HistoryJSON(TypedDict):
    slug: str
    name: str
    agencies: list[str]
    publications: list[HistoryEntryJSON]
    may_publish: bool


def history(request: Request) -> Page:
    store = resources(request).store
    user = current_user(request)
    found = cohort_history(store, str(request.path_params["slug"]))
    listed = store.list_publications()
    current = found.current
    rows = []
    for publication in found.publications:
        before = predecessor(store, publication, listed)
        compare = (url_for(request, "publication_compare") + f"?from={before.id}"
                   f"&to={publication.id}") if before else None
        rows.append(HistoryRow(publication, current is not None and publication.id == current.id,
                               before, compare))
    show = may_see_publishers(user, {found.slug})
    may = can_publish(user, found.slug)
    data = {"history": found, "rows": rows, "show_publisher": show, "may_publish": may,
            "crumbs": publishing_crumbs(request, Crumb(found.name))}

    def as_json() -> HistoryJSON:
        return {"slug": found.slug, "name": found.name, "agencies": list(found.agencies),
                "may_publish": may, "publications": [
                    {"publication": publication_json(request, r.publication,
                                                     show_publisher=show),
                     "current": r.current, "follows": r.follows.id if r.follows else None,
                     "compare": r.compare} for r in rows]}

    return Page("publishing/history.html", data, as_json)


# -- comparing ------------------------------------------------------------------------------


#: Diffs of publications holding more items than this (together) are not kept in the
#: page cache: they weigh too much to keep, and are rarely looked at twice.
CACHED_DIFF_ITEMS = 50_000


def _diff(request: Request, before: int | None, after: int) -> Diff:
    res = resources(request)
    sides = [p for p in (before, after) if p is not None]
    items = sum(res.store.get_publication(p).item_count for p in sides)
    if items > CACHED_DIFF_ITEMS:
        return compare_publications(res.store, before, after)
    return res.catalogue.cached(("publication-diff", str(before), str(after)),
                                lambda: compare_publications(res.store, before, after))


def _number(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw.isdigit() or len(raw) > 12:
        raise BadRequest(f"{name} must be a publication number, such as {name}=3")
    return int(raw)


def compare(request: Request) -> Response:
    before, after = _number(request, "from"), _number(request, "to")
    store = resources(request).store
    old, new = store.get_publication(before), store.get_publication(after)  # 404s first

    def build() -> Page:
        diff = _diff(request, before, after)
        _ = gettext_for(request)
        return Page("publishing/compare.html", {
            "diff": diff, "kinds": shown_kinds(diff), "old": old, "new": new,
            "kind_title": lambda k: kind_title(request, k),
            "crumbs": publishing_crumbs(request, Crumb(_("Compare")))},
            diff.to_json)

    return Deferred(request, "publication_compare", build)


# -- one publication ------------------------------------------------------------------------


class PublicationJSON(TypedDict):
    publication: PublicationSummaryJSON
    cohorts: list[str]
    follows: PublicationSummaryJSON | None
    diff: DiffJSON
    report: str
    may_withdraw: bool


def _publication_page(request: Request, publication: Publication, *, status: int = 200,
                      errors: dict[str, str] | None = None, reason: str = "") -> Response:
    store = resources(request).store
    user = current_user(request)
    cohorts = _cohorts_of(request, publication)
    show = may_see_publishers(user, cohorts)
    before = predecessor(store, publication)
    withdrawable = may_withdraw(store, user, publication) and not publication.withdrawn
    done = request.query_params.get("done", "")

    def build() -> Page:
        diff = _diff(request, before.id if before else None, publication.id)
        return Page("publishing/publication.html", {
            "publication": publication, "cohorts": _cohort_names(request, cohorts),
            "follows": before,
            "diff": diff, "kinds": shown_kinds(diff), "show_publisher": show,
            "may_withdraw": withdrawable, "errors": errors or {}, "reason": reason,
            "done": done, "kind_title": lambda k: kind_title(request, k),
            "crumbs": publishing_crumbs(request, *_cohort_crumb(request, cohorts),
                                        Crumb(publication.file_name))},
            lambda: _publication_json(request, publication, before, diff, show, cohorts,
                                      withdrawable), status=status)

    return Deferred(request, "publication", build)


def _publication_json(request: Request, publication: Publication, before: Publication | None,
                      diff: Diff, show: bool, cohorts: set[str], withdrawable: bool
                      ) -> PublicationJSON:
    return {"publication": publication_json(request, publication, show_publisher=show),
            "cohorts": sorted(cohorts),
            "follows": publication_json(request, before, show_publisher=show) if before
            else None,
            "diff": diff.to_json(),
            "report": url_for(request, "publication_report_json", id=publication.id),
            "may_withdraw": withdrawable}


def _cohort_names(request: Request, cohorts: set[str]) -> list[tuple[str, str]]:
    """(slug, name) of each cohort, by slug."""
    names = {c.slug: c.name for c in resources(request).store.list_registered_cohorts()}
    return [(slug, names.get(slug, slug)) for slug in sorted(cohorts)]


def _cohort_crumb(request: Request, cohorts: set[str]) -> list[Crumb]:
    if len(cohorts) != 1:
        return []
    [(slug, name)] = _cohort_names(request, cohorts)
    return [Crumb(name, url_for(request, "publication_history", slug=slug))]


def publication(request: Request) -> Response:
    return _publication_page(request, resources(request).store.get_publication(
        publication_id(request)))


def publication_report(request: Request) -> Page:
    publication = resources(request).store.get_publication(publication_id(request))
    report = FileReport(file=publication.file_name, ddi_version=publication.ddi_version,
                        findings=publication.report, xsd_valid=not publication.lenient,
                        root=publication.root)
    groups = group_by_rule(all_findings(report))
    _ = gettext_for(request)
    return Page("publishing/report.html", {
        "report": report, "groups": shown_groups(groups), "subject": publication,
        "json_download": url_for(request, "publication_report_json", id=publication.id),
        "back": url_for(request, "publication", id=publication.id),
        "crumbs": publishing_crumbs(request, Crumb(
            publication.file_name, url_for(request, "publication", id=publication.id)),
            Crumb(_("Validation report")))},
        lambda: report_json(report))


# -- withdrawing ----------------------------------------------------------------------------


async def withdraw(request: Request) -> Response:
    res = resources(request)
    pid = publication_id(request)
    user = require_user(request)
    values = await form_values(request, "reason")
    _ = gettext_for(request)
    try:
        await run_in_threadpool(withdraw_publication, res.store, pid, actor=user,
                                reason=values["reason"], origin=origin(request))
    except CatalogueError as refused:
        if refused.status == 403:
            mark_audited(request)  # publication.withdrawal_refused is in the trail
        if refused.status in (401, 404):
            raise
        errors = {str(e["field"]): _(str(e["message"])) for e in refused.errors
                  if "field" in e}
        errors[""] = _(refused.message)
        return _publication_page(request, res.store.get_publication(pid),
                                 status=refused.status, errors=errors,
                                 reason=values["reason"])
    await update_index(request, index_withdrawal, pid)
    return RedirectResponse(url_for(request, "publication", id=pid) + "?done=withdrawn",
                            status_code=303)


def routes() -> list[BaseRoute]:
    return [Route("/publications/{id:int}/withdraw", withdraw, methods=["POST"],
                  name="publication_withdraw")]


_COMPARE_QUERY = (QueryParam("from", "The earlier publication's number",
                             {"type": "integer", "minimum": 1}),
                  QueryParam("to", "The later publication's number",
                             {"type": "integer", "minimum": 1}), LANG_PARAM)

RESOURCES = (
    Resource("/publications", "publications", publications,
             "Registered cohorts with their publications, and the way to upload",
             PublicationsJSON, (LANG_PARAM,)),
    Resource("/publications/compare", "publication_compare", compare,
             "Two publications compared: variables, questions, code lists and categories "
             "added, removed or changed, field by field", DiffJSON, _COMPARE_QUERY),
    Resource("/publications/cohorts/{slug}", "publication_history", history,
             "A cohort's publications, newest first, withdrawn ones included", HistoryJSON,
             (LANG_PARAM,), {"slug": "The cohort's short name, as in the registry"}),
    Resource("/publications/{id}/report", "publication_report", publication_report,
             "A publication's validation report, findings grouped by rule", ReportJSON,
             (LANG_PARAM,), ID_PARAM),
    Resource("/publications/{id}", "publication", publication,
             "A publication, what it changed since the one it follows, and its status",
             PublicationJSON, (LANG_PARAM,), ID_PARAM),
)

