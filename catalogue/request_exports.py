"""An access request exported: as JSON (a stable shape), as PDF
(:func:`catalogue.request_exports_pdf.request_pdf`) and its data-requested section as a
DDI-L 3.3 FragmentInstance.

The FragmentInstance holds each selected variable exactly as its cohort published it
(the bytes kept by the store), one per ``ddi:Fragment`` with a ``TopLevelReference``,
plus what makes it self-contained: the questions, code lists, categories, concepts and
universes the variables reference (and the code lists and concepts of those questions).
Items published in DDI-L 3.2 are carried over by moving their namespaces from ``3_2`` to
``3_3`` (3.3 reads 3.2 content unchanged for these items); given the official schema,
each such fragment is validated on its own and left out, with the reason, if 3.3 refuses
it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from catalogue.accounts_model import User, iso, utc_now
from catalogue.browse import Catalogue
from catalogue.errors import CatalogueError
from catalogue.model import CodeList, Identity, LangText, Question, Reference
from catalogue.request_exports_pdf import request_pdf, view_pdf
from catalogue.requests import RequestView, view_request
from catalogue.requests_selection import SelectedVariable
from catalogue.store.records import StoredItem
from ddi_schemas.registry import CompiledSchema, load_schema

__all__ = ["FragmentExport", "data_requested_fragment_instance", "request_json", "request_pdf",
           "view_json", "view_pdf"]

JSON_SCHEMA = "cohort-catalogue/access-request/1"
INSTANCE = "ddi:instance:3_3"
REUSABLE = "ddi:reusable:3_3"
#: Versionable elements a Fragment may carry that the export includes.
_FRAGMENT_ELEMENTS = frozenset({"Variable", "QuestionItem", "QuestionGrid", "CodeList",
                                "Category", "Concept", "Universe"})
#: References followed to make the fragments self-contained, by kind of item.
_FOLLOWED = {"Variable": ("question", "code_list", "concept", "universe"),
             "Question": ("code_list", "grid_code_list", "concept"),
             "CodeList": ("category",)}
_DDI_32_NAMESPACE = re.compile(rb'(xmlns(?::[A-Za-z_][\w.-]*)?="ddi:[a-z_]+:)3_2"')
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>\s*")


class ExportFailed(CatalogueError):
    """The export could not be made valid (a bug to report, not a user error)."""


# -- JSON ------------------------------------------------------------------------------------

def _lang(text: LangText) -> dict[str, str]:
    out: dict[str, str] = {}
    for lang, value in text.values:
        out.setdefault(lang, value)
    return out


def _person(catalogue: Catalogue, user_id: int, *, email: bool) -> dict[str, Any]:
    user = catalogue.store.user_by_id(user_id)
    found: dict[str, Any] = {"id": user_id, "name": user.name if user else ""}
    if email:
        found["email"] = user.email if user else ""
        found["affiliation"] = user.affiliation if user else ""
    return found


def _variable_json(line: SelectedVariable) -> dict[str, Any]:
    drift = line.drift
    return {
        "urn": line.urn, "agency": line.agency, "id": line.id, "version": line.version,
        "name": line.name, "label": _lang(line.label), "access": line.access,
        "question": line.question_urn or None, "justification": line.justification,
        "in_catalogue": line.found, "withdrawn": line.withdrawn,
        "newer_version": None if drift is None else {
            "version": drift.latest_version, "urn": drift.latest_urn,
            "selected_withdrawn": drift.selected_withdrawn,
            "changes": [{"field": c.field, "before": c.before, "after": c.after}
                        for c in drift.changes]},
    }


def view_json(catalogue: Catalogue, view: RequestView) -> dict[str, Any]:
    """The JSON of a request view (see :func:`request_json`)."""
    request = view.request
    return {
        "schema": JSON_SCHEMA,
        "id": request.id, "project_id": request.project_id, "cohort": request.cohort,
        "cohort_label": _lang(view.data.label), "state": request.state.value,
        "revision": request.revision, "created_at": request.created_at,
        "updated_at": request.updated_at, "submitted_at": request.submitted_at,
        "decided_at": request.decided_at,
        "applicant": _person(catalogue, request.applicant_id, email=True),
        "project": request.project.to_json(),
        "data_requested": {
            "variables": view.data.count, "casd_only_variables": view.data.casd_count,
            "waves": [{"urn": wave.urn or None, "label": _lang(wave.label),
                       "justification": request.section.group_justification(wave.urn),
                       "variables": [_variable_json(v) for v in wave.variables]}
                      for wave in view.data.waves]},
        "charter_accepted": request.section.charter_accepted,
        "casd": None if not view.casd_required else {
            "secure_workspace_required": True,
            "inputs": request.section.casd.to_json() if request.section.casd else None,
            "estimate": view.casd_estimate.to_json() if view.casd_estimate else None},
        "history": [{"at": e.at, "by": _person(catalogue, e.actor_id, email=False),
                     "action": e.action.value, "from": e.from_state.value,
                     "to": e.to_state.value, "reason": e.reason} for e in view.events],
        "comments": [{"at": c.at, "by": _person(catalogue, c.author_id, email=False),
                      "visibility": c.visibility, "text": c.text} for c in view.comments],
        "missing": [e.to_json() for e in view.problems],
    }


def request_json(catalogue: Catalogue, actor: User | None, request_id: int,
                 today: date | None = None) -> dict[str, Any]:
    """The request as JSON, for its applicant or its cohort's reviewers. The keys are
    stable (``schema`` names the shape); labels are ``{language: text}``; amounts are
    strings of euros with cents; internal comments only for the cohort's team."""
    return view_json(catalogue, view_request(catalogue, actor, request_id, today))


# -- DDI-L 3.3 FragmentInstance ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FragmentExport:
    xml: bytes
    #: the selected variables, each with a TopLevelReference
    variables: tuple[str, ...]
    #: every item carried, variables first
    fragments: tuple[str, ...]
    #: items published in DDI-L 3.2, carried with their namespaces moved to 3.3
    converted: tuple[str, ...] = ()
    #: (URN, why) of what could not be carried
    omitted: tuple[tuple[str, str], ...] = ()


def as_ddi_33(xml: bytes) -> bytes:
    """A DDI-L 3.2 element in the 3.3 namespaces (only the declarations change)."""
    return _DDI_32_NAMESPACE.sub(rb'\g<1>3_3"', xml)


def fragment_problem(schema: CompiledSchema, xml: bytes) -> str | None:
    """Why the official 3.3 XSD refuses ``xml`` as a Fragment (None when it accepts it)."""
    document = (f'<ddi:FragmentInstance xmlns:ddi="{INSTANCE}"><ddi:Fragment>'.encode()
                + xml + b"</ddi:Fragment></ddi:FragmentInstance>")
    try:
        tree = etree.fromstring(document, etree.XMLParser(resolve_entities=False,
                                                          no_network=True))
    except etree.XMLSyntaxError as error:
        return f"not well-formed: {error}"
    with schema.lock:
        if schema.xsd.validate(tree):
            return None
        last = schema.xsd.error_log.last_error
    return f"{last.message}" if last is not None else "refused by the DDI-L 3.3 XSD"


def _reference_xml(identity: Identity, element: str) -> str:
    return ("<ddi:TopLevelReference>"
            f"<r:Agency>{escape(identity.agency)}</r:Agency><r:ID>{escape(identity.id)}</r:ID>"
            f"<r:Version>{escape(identity.version)}</r:Version>"
            f"<r:TypeOfObject>{escape(element)}</r:TypeOfObject></ddi:TopLevelReference>")


def _followed(item: Any) -> Iterable[Reference]:
    roles = _FOLLOWED.get(item.kind, ())
    yield from (r for r in item.references if r.role in roles)
    if isinstance(item, Question):
        yield from (rep.code_list for rep in item.responses if rep.code_list is not None)
    if isinstance(item, CodeList):
        yield from (r for code in item.codes for r in code.refs("category"))
    representation = getattr(item, "representation", None)
    if representation is not None and representation.code_list is not None:
        yield representation.code_list


def data_requested_fragment_instance(catalogue: Catalogue, actor: User | None,
                                     request_id: int, schema_dir: Path | None = None
                                     ) -> FragmentExport:
    """The request's selected variables (and what they reference) as a DDI-L 3.3
    FragmentInstance. With ``schema_dir`` (the official XSDs), fragments converted from
    3.2 are checked one by one and the whole document is validated before it is
    returned (ExportFailed if it is not valid)."""
    view = view_request(catalogue, actor, request_id)
    schema = load_schema("3.3", schema_dir) if schema_dir is not None else None
    store = catalogue.store
    versions: dict[int, str] = {}
    chosen: dict[Identity, StoredItem] = {}
    omitted: list[tuple[str, str]] = []
    variables: list[Identity] = []
    for line in view.data.variables:
        stored = store.find(line.agency, line.id, line.version)
        if stored is None:
            omitted.append((line.urn, "no longer in the catalogue"))
            continue
        chosen.setdefault(stored.item.identity, stored)
        variables.append(stored.item.identity)
    frontier = list(chosen.values())
    for _depth in range(3):  # variable -> question -> code list -> categories
        following: list[StoredItem] = []
        for stored in frontier:
            for ref in _followed(stored.item):
                target = store.resolve(ref)
                if target is not None and target.item.identity not in chosen:
                    chosen[target.item.identity] = target
                    following.append(target)
        frontier = following
    fragments: list[tuple[StoredItem, bytes]] = []
    converted: list[str] = []
    for identity, stored in chosen.items():
        if stored.item.element not in _FRAGMENT_ELEMENTS:
            continue
        xml = store.item_xml(stored.pk)
        if xml is None:
            omitted.append((identity.urn, "the published XML was not kept"))
            continue
        xml = _DECLARATION.sub(b"", xml).rstrip()
        publication = versions.get(stored.publication_id)
        if publication is None:
            publication = versions[stored.publication_id] = store.get_publication(
                stored.publication_id).ddi_version
        if publication == "3.2":
            xml = as_ddi_33(xml)
            problem = fragment_problem(schema, xml) if schema is not None else None
            if problem is not None:
                omitted.append((identity.urn, f"published in DDI-L 3.2; DDI-L 3.3 refuses "
                                              f"it: {problem}"))
                continue
            converted.append(identity.urn)
        fragments.append((stored, xml))
    carried = {stored.item.identity for stored, _ in fragments}
    top = [i for i in variables if i in carried]
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ddi:FragmentInstance xmlns:ddi="{INSTANCE}" xmlns:r="{REUSABLE}">\n'
            f"<!-- {_comment(view, len(top), converted, omitted)} -->\n")
    parts = [head.encode()]
    element_of = {stored.item.identity: stored.item.element for stored, _ in fragments}
    parts.extend((_reference_xml(i, element_of[i]) + "\n").encode() for i in top)
    for _stored, xml in fragments:
        parts.append(b"<ddi:Fragment>" + xml + b"</ddi:Fragment>\n")
    parts.append(b"</ddi:FragmentInstance>\n")
    document = b"".join(parts)
    if schema is not None:
        _validate(schema, document)
    return FragmentExport(document, tuple(i.urn for i in top),
                          tuple(stored.item.identity.urn for stored, _ in fragments),
                          tuple(converted), tuple(omitted))


def _comment(view: RequestView, count: int, converted: list[str],
             omitted: list[tuple[str, str]]) -> str:
    text = (f"Data requested in access request {view.request.id} to {view.request.cohort} "
            f"(revision {view.request.revision}): {count} variable(s), as published, with "
            f"the items they reference. Exported by cohort-catalogue on {iso(utc_now())}.")
    if converted:
        text += f" {len(converted)} item(s) published in DDI-L 3.2 were moved to 3.3."
    for urn, why in omitted:
        text += f" Left out: {urn} ({why})."
    return text.replace("--", "- -")  # "--" may not appear in an XML comment


def _validate(schema: CompiledSchema, document: bytes) -> None:
    tree = etree.fromstring(document, etree.XMLParser(resolve_entities=False,
                                                      no_network=True, huge_tree=True))
    with schema.lock:
        if schema.xsd.validate(tree):
            return
        errors = [f"line {e.line}: {e.message}" for e in schema.xsd.error_log][:5]
    raise ExportFailed("the FragmentInstance export is not valid DDI-L 3.3: "
                       + "; ".join(errors), [{"message": m} for m in errors])
