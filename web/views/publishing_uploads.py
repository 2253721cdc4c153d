"""Uploading, for a cohort's publishers: the form, the staged upload (its validation report
and the preview of what publishing it would change), then publishing or discarding it.

- ``GET|POST /publications/upload``: the form; a POST stages the file and goes to it;
- ``/publications/uploads/{token}``: the staged upload (its owner only);
- ``/publications/uploads/{token}/report``: its report by rule (download it as JSON);
- ``GET /publications/uploads/{token}/ddi.xml``: the DDI-L a dictionary became;
- ``POST /publications/uploads/{token}/publish`` (``lenient=yes`` to publish an XSD-invalid
  but readable file) and ``.../discard``.

The work (copying, validating, diffing, publishing, indexing) runs in worker threads;
the search index is up to date when the publication's page is shown. The body of an
upload is counted as it arrives: past the limit, reading stops with a 413.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive

from catalogue.accounts_model import RegisteredCohort, User
from catalogue.accounts_roles import can_publish
from catalogue.diffs import DiffJSON
from catalogue.errors import CatalogueError, NotFound, PayloadTooLarge
from catalogue.publishing import PublishRefused
from catalogue.uploads import (
    NOT_PUBLISHER,
    TOO_LARGE,
    StagedUpload,
    discard_upload,
    load_upload,
    publish_upload,
    stage_upload,
    staged_uploads,
)
from catalogue.validation_report import ReportJSON, all_findings, group_by_rule, report_json
from search.indexing import index_publications
from web.auth import FORM_LIMIT, mark_audited, origin, require_user
from web.i18n import gettext_for
from web.resources import resources
from web.responses import JSONResponse
from web.routing import Page, Resource, prefers_json, wants_json
from web.templating import url_for
from web.views.accounts import form_values, render, sign_in_first
from web.views.common import LANG_PARAM, Crumb
from web.views.publishing_common import (
    kind_title,
    publication_json,
    publishing_crumbs,
    shown_groups,
    shown_kinds,
    update_index,
)

TOKEN_PARAM = {"token": "The staged upload's token, as in the address its upload led to"}


def _publishable_cohorts(request: Request, user: User) -> list[RegisteredCohort]:
    return [c for c in resources(request).store.list_registered_cohorts()
            if can_publish(user, c.slug)]


def _message(request: Request, error: CatalogueError) -> str:
    _ = gettext_for(request)
    if isinstance(error, PayloadTooLarge):
        limit = resources(request).settings.max_upload_mb
        return _("The file is larger than %(limit)s MB: split it, or ask an administrator to "
                 "raise the limit.", limit=limit)
    if error.status == 403 and error.message != NOT_PUBLISHER:  # names agencies: say it plainly
        return _("You may not publish this file: it holds items of a cohort you are not a "
                 "publisher of.")
    return _(error.message)


# -- the form -------------------------------------------------------------------------------------


def _form(request: Request, user: User, *, errors: Mapping[str, str] | None = None,
          cohort: str = "", status: int = 200) -> Response:
    _ = gettext_for(request)
    settings = resources(request).settings
    cohorts = _publishable_cohorts(request, user)
    return render(request, "publishing/upload.html", {
        "cohorts": cohorts, "cohort": cohort or request.query_params.get("cohort", ""),
        "errors": errors or {}, "limit_mb": settings.max_upload_mb,
        "staged": staged_uploads(settings, user),
        "done": request.query_params.get("done", ""),
        "crumbs": publishing_crumbs(request, Crumb(_("Upload")))}, status=status)


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive``, refusing (413) a body longer than ``limit`` as soon as it is."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(TOO_LARGE)
        return message

    return limited


async def upload_form(request: Request) -> Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    user = require_user(request)
    _ = gettext_for(request)
    if not _publishable_cohorts(request, user):
        title = _("Upload")
        return render(request, "accounts/message.html", {  # 403: audited as access.denied
            "title": title, "error": True, "crumbs": publishing_crumbs(request, Crumb(title)),
            "message": _("Only a cohort's publishers may upload its metadata; ask an "
                         "administrator for the publisher role.")}, status=403)
    if request.method == "GET":
        return _form(request, user)
    res = resources(request)
    limit = res.settings.max_upload_mb * 1024 * 1024
    total = 2 * limit + FORM_LIMIT  # the table, its study facts and the fields
    cohort = ""
    try:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > total:
            raise PayloadTooLarge(TOO_LARGE)
        limited = Request(request.scope, _limited(request.receive, total))
        async with limited.form(max_files=2, max_fields=20) as form:
            cohort = str(form.get("cohort") or "")
            upload, study = form.get("file"), form.get("study")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return _refused(request, user, cohort, {"file": _("Choose a file to upload.")},
                                400)
            staged = await run_in_threadpool(
                stage_upload, res.settings, res.store, user=user, cohort=cohort,
                file_name=upload.filename, source=upload.file,
                study=study.file if isinstance(study, UploadFile) and study.filename else None,
                origin=origin(request))
    except CatalogueError as refused:
        if refused.status == 403:
            mark_audited(request)  # publication.refused is in the trail already
        if refused.status in (401, 404) or wants_json(request):
            raise
        field = next((str(e["field"]) for e in refused.errors if "field" in e), "file")
        return _refused(request, user, cohort, {field: _message(request, refused)},
                        refused.status)
    if prefers_json(request.headers.get("accept", "")):
        return JSONResponse(upload_json(request, staged), status_code=201,
                            headers={"Location": url_for(request, "upload", token=staged.token)})
    return RedirectResponse(url_for(request, "upload", token=staged.token), status_code=303)


def _refused(request: Request, user: User, cohort: str, errors: dict[str, str],
             status: int) -> Response:
    _ = gettext_for(request)
    errors = {"": _("The file was not accepted."), **errors}
    return _form(request, user, errors=errors, cohort=cohort, status=status)


# -- a staged upload ----------------------------------------------------------------------------


class UploadJSON(TypedDict):
    token: str
    cohort: str
    file: str
    type: str
    size: int
    sha256: str
    uploaded_at: str
    publishable: bool
    needs_lenient: bool
    refused: bool
    report: ReportJSON
    diff: DiffJSON | None
    url: str
    report_url: str
    publish: str
    discard: str
    ddi: str | None


def upload_json(request: Request, staged: StagedUpload) -> UploadJSON:
    token = staged.token
    return {
        "token": token, "cohort": staged.cohort, "file": staged.file_name,
        "type": staged.source_type, "size": staged.size, "sha256": staged.sha256,
        "uploaded_at": staged.uploaded_at, "publishable": staged.publishable,
        "needs_lenient": staged.needs_lenient, "refused": staged.refused,
        "report": report_json(staged.report),
        "diff": staged.diff.to_json() if staged.diff else None,
        "url": url_for(request, "upload", token=token),
        "report_url": url_for(request, "upload_report_json", token=token),
        "publish": url_for(request, "upload_publish", token=token),
        "discard": url_for(request, "upload_discard", token=token),
        "ddi": url_for(request, "upload_ddi", token=token)
        if staged.source_type != "ddi" and staged.ddi_name else None,
    }


def _staged(request: Request) -> StagedUpload | Response:
    if (redirect := sign_in_first(request)) is not None:
        return redirect
    return load_upload(resources(request).settings, str(request.path_params["token"]),
                       require_user(request))


def _cohort_name(request: Request, slug: str) -> str:
    registered = resources(request).store.registered_cohort(slug)
    return registered.name if registered else slug


def _upload_page(request: Request, staged: StagedUpload, *,
                 errors: Mapping[str, str] | None = None, status: int = 200) -> Page:
    _ = gettext_for(request)
    groups = group_by_rule(all_findings(staged.report))
    diff = staged.diff
    data: dict[str, Any] = {
        "staged": staged, "groups": shown_groups(groups), "cohort_name":
        _cohort_name(request, staged.cohort), "diff": diff,
        "kinds": shown_kinds(diff) if diff else [], "errors": errors or {},
        "kind_title": lambda k: kind_title(request, k),
        "errors_count": sum(g.errors for g in groups),
        "warnings_count": sum(g.warnings for g in groups),
        "crumbs": publishing_crumbs(request, Crumb(_("Upload"), url_for(request, "upload_form")),
                                    Crumb(staged.file_name))}
    return Page("publishing/staged.html", data, lambda: upload_json(request, staged),
                status=status)


def upload(request: Request) -> Page | Response:
    staged = _staged(request)
    if isinstance(staged, Response):
        return staged
    return _upload_page(request, staged)


def upload_report(request: Request) -> Page | Response:
    staged = _staged(request)
    if isinstance(staged, Response):
        return staged
    _ = gettext_for(request)
    page = url_for(request, "upload", token=staged.token)
    return Page("publishing/report.html", {
        "report": staged.report,
        "groups": shown_groups(group_by_rule(all_findings(staged.report))),
        "subject": None, "json_download": url_for(request, "upload_report_json",
                                                  token=staged.token),
        "back": page, "crumbs": publishing_crumbs(request, Crumb(staged.file_name, page),
                                                  Crumb(_("Validation report")))},
        lambda: report_json(staged.report))


async def upload_ddi(request: Request) -> Response:
    staged = _staged(request)
    if isinstance(staged, Response):
        return staged
    if staged.ddi_path is None:
        raise NotFound("this upload has no DDI-L to download: its dictionary has problems")
    name = staged.publish_name.replace('"', "")
    return FileResponse(staged.ddi_path, media_type="application/xml",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def upload_publish(request: Request) -> Response:
    user = require_user(request)
    res = resources(request)
    token = str(request.path_params["token"])
    values = await form_values(request, "lenient")
    _ = gettext_for(request)
    try:
        results = await run_in_threadpool(
            publish_upload, res.settings, res.store, token, user=user,
            lenient=values["lenient"] == "yes", origin=origin(request))
    except PublishRefused:
        if wants_json(request):
            raise
        return RedirectResponse(url_for(request, "upload", token=token), status_code=303)
    except CatalogueError as refused:
        if refused.status == 403:
            mark_audited(request)
        if refused.status in (401, 404) or wants_json(request):
            raise
        staged = load_upload(res.settings, token, user)
        page = _upload_page(request, staged, errors={"": _message(request, refused)},
                            status=refused.status)
        return render(request, page.template, page.data, status=page.status)
    ids = [r.publication.id for r in results]
    await update_index(request, index_publications, ids)
    if prefers_json(request.headers.get("accept", "")):
        return JSONResponse({"publications": [publication_json(
            request, r.publication, show_publisher=True) for r in results]}, status_code=201)
    return RedirectResponse(url_for(request, "publication", id=ids[0]) + "?done=published",
                            status_code=303)


async def upload_discard(request: Request) -> Response:
    user = require_user(request)
    await run_in_threadpool(discard_upload, resources(request).settings,
                            str(request.path_params["token"]), user)
    return RedirectResponse(url_for(request, "upload_form") + "?done=discarded", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/publications/upload", upload_form, methods=["GET", "POST"], name="upload_form"),
        Route("/publications/uploads/{token}/ddi.xml", upload_ddi, name="upload_ddi"),
        Route("/publications/uploads/{token}/publish", upload_publish, methods=["POST"],
              name="upload_publish"),
        Route("/publications/uploads/{token}/discard", upload_discard, methods=["POST"],
              name="upload_discard"),
    ]


RESOURCES = (
    Resource("/publications/uploads/{token}/report", "upload_report", upload_report,
             "A staged upload's validation report, findings grouped by rule (its owner only)",
             ReportJSON, (LANG_PARAM,), TOKEN_PARAM),
    Resource("/publications/uploads/{token}", "upload", upload,
             "A staged upload: its report and what publishing it would change (its owner "
             "only)", UploadJSON, (LANG_PARAM,), TOKEN_PARAM),
)
