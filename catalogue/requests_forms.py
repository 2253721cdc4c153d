"""Access requests as flat forms: field names to values, and back.

The names are those of :func:`~catalogue.requests_model.field_name`, the same paths the
checks use in their errors, so a view can put each error next to its input. A view
renders ``*_to_form(...)`` into its inputs and turns what is posted into dataclasses
with ``*_from_form(...)``; booleans are checkboxes (present and not ``""``/``"off"``/
``"false"``/``"0"``: true) except ``funding.industrial`` (``"yes"``/``"no"``/``""``).

Project:
    ``title``; ``protocol.objectives|method|expected_results|additional_data_collection``;
    ``team.N.name|role|affiliation|email|principal_investigator`` (N from 0);
    ``funding.project|access_costs|industrial|industrial_details``;
    ``commitments.publish_results|destruction_report``.
One cohort's section (prefix ``requests.<cohort>.``):
    ``variables.<URN>`` (kept when present) and ``variables.<URN>.justification``;
    ``groups.<wave URN>``; ``charter_accepted``; ``casd.offer|users|months|configuration|
    sd_boxes|student_last_user|renewal|start`` and ``casd.options.<code>`` (checkboxes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from catalogue.casd import DEFAULT_OFFER, CasdInputs
from catalogue.errors import BadRequest
from catalogue.requests_model import (
    LIMITS,
    CohortSection,
    Commitments,
    FieldError,
    Funding,
    ProjectFields,
    Protocol,
    RequestedVariable,
    TeamMember,
    field_name,
)

_TEAM = re.compile(r"^team\.(\d{1,4})\.(name|role|affiliation|email|principal_investigator)$")
_FALSE = ("", "off", "false", "0", "no")
_PROTOCOL = ("objectives", "method", "expected_results", "additional_data_collection")


def _checked(form: Mapping[str, str], name: str) -> bool:
    value = form.get(name)
    return value is not None and value.strip().lower() not in _FALSE


def _box(value: bool) -> str:
    return "on" if value else ""


def project_fields_from_form(form: Mapping[str, str]) -> ProjectFields:
    members: dict[int, dict[str, str]] = {}
    for name, value in form.items():
        match = _TEAM.match(name)
        if match is not None:
            members.setdefault(int(match.group(1)), {})[match.group(2)] = value
    # one member more than allowed is kept, so that the size check says "too many"
    team = tuple(TeamMember(
        name=m.get("name", ""), role=m.get("role", ""), affiliation=m.get("affiliation", ""),
        email=m.get("email", ""),
        principal_investigator=m.get("principal_investigator", "").strip().lower()
        not in _FALSE)
        for _, m in sorted(members.items())[:LIMITS.team_members + 1]
        if any(v.strip() for k, v in m.items() if k != "principal_investigator"))
    industrial = form.get("funding.industrial", "").strip().lower()
    return ProjectFields(
        title=form.get("title", ""),
        protocol=Protocol(**{k: form.get(f"protocol.{k}", "") for k in _PROTOCOL}),
        team=team,
        funding=Funding(project=form.get("funding.project", ""),
                        access_costs=form.get("funding.access_costs", ""),
                        industrial={"yes": True, "no": False}.get(industrial),
                        industrial_details=form.get("funding.industrial_details", "")),
        commitments=Commitments(
            publish_results=_checked(form, "commitments.publish_results"),
            destruction_report=_checked(form, "commitments.destruction_report")))


def project_fields_to_form(fields: ProjectFields) -> dict[str, str]:
    form = {"title": fields.title}
    form.update({f"protocol.{k}": getattr(fields.protocol, k) for k in _PROTOCOL})
    for index, member in enumerate(fields.team):
        form.update({field_name("team", index, "name"): member.name,
                     field_name("team", index, "role"): member.role,
                     field_name("team", index, "affiliation"): member.affiliation,
                     field_name("team", index, "email"): member.email,
                     field_name("team", index, "principal_investigator"):
                         _box(member.principal_investigator)})
    industrial = fields.funding.industrial
    form.update({"funding.project": fields.funding.project,
                 "funding.access_costs": fields.funding.access_costs,
                 "funding.industrial": "" if industrial is None else
                 ("yes" if industrial else "no"),
                 "funding.industrial_details": fields.funding.industrial_details,
                 "commitments.publish_results": _box(fields.commitments.publish_results),
                 "commitments.destruction_report": _box(fields.commitments.destruction_report)})
    return form


def section_from_form(cohort: str, form: Mapping[str, str]) -> CohortSection:
    """One cohort's section from a form; BadRequest (per field) for numbers and dates
    that are not."""
    prefix = field_name("requests", cohort) + "."
    variables: dict[str, str] = {}
    justifications: dict[str, str] = {}
    groups: list[tuple[str, str]] = []
    options: list[str] = []
    for name, value in form.items():
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        if rest.startswith("variables."):
            urn = rest[len("variables."):]
            if urn.endswith(".justification"):
                justifications[urn[:-len(".justification")]] = value
            else:
                variables[urn] = value
        elif rest.startswith("groups."):
            groups.append((rest[len("groups."):], value))
        elif rest.startswith("casd.options.") and value.strip().lower() not in _FALSE:
            options.append(rest[len("casd.options."):])
    kept = [urn for urn, value in variables.items() if value.strip().lower() not in _FALSE]
    casd = None
    if _checked(form, prefix + "casd") or any(n.startswith(prefix + "casd.") for n in form):
        casd = _casd_from_form(prefix + "casd.", form, tuple(options))
    return CohortSection(
        variables=tuple(RequestedVariable(urn, justifications.get(urn, "")) for urn in kept),
        group_justifications=tuple(groups),
        charter_accepted=_checked(form, prefix + "charter_accepted"), casd=casd)


def _casd_from_form(prefix: str, form: Mapping[str, str], options: tuple[str, ...]
                    ) -> CasdInputs:
    errors: list[FieldError] = []
    defaults = CasdInputs()

    def number(name: str, default: int) -> int:
        raw = form.get(prefix + name, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or len(raw) > 6:
            errors.append(FieldError(tuple((prefix + name).split(".", 2)),
                                     "give a whole number"))
            return default
        return int(raw)

    start_text = form.get(prefix + "start", "").strip()
    start = None
    if start_text:
        try:
            start = date.fromisoformat(start_text)
        except ValueError:
            errors.append(FieldError(tuple((prefix + "start").split(".", 2)),
                                     "give a date as YYYY-MM-DD"))
    inputs = CasdInputs(
        offer=form.get(prefix + "offer", "").strip() or DEFAULT_OFFER,
        users=number("users", defaults.users), months=number("months", defaults.months),
        configuration=form.get(prefix + "configuration", "").strip() or defaults.configuration,
        sd_boxes=number("sd_boxes", defaults.sd_boxes), options=options,
        student_last_user=_checked(form, prefix + "student_last_user"),
        new_project=not _checked(form, prefix + "renewal"),
        start=start)
    if errors:
        raise BadRequest("nothing saved: " + "; ".join(f"{e.field}: {e.message}"
                                                       for e in errors),
                         [e.to_json() for e in errors])
    return inputs


def section_to_form(cohort: str, section: CohortSection) -> dict[str, str]:
    def name(*parts: str) -> str:
        return field_name("requests", cohort, *parts)

    form: dict[str, str] = {}
    for variable in section.variables:
        form[name("variables", variable.urn)] = "on"
        form[name("variables", variable.urn, "justification")] = variable.justification
    for wave_urn, text in section.group_justifications:
        form[name("groups", wave_urn)] = text
    form[name("charter_accepted")] = _box(section.charter_accepted)
    casd = section.casd
    if casd is not None:
        form.update({name("casd", "offer"): casd.offer, name("casd", "users"): str(casd.users),
                     name("casd", "months"): str(casd.months),
                     name("casd", "configuration"): casd.configuration,
                     name("casd", "sd_boxes"): str(casd.sd_boxes),
                     name("casd", "student_last_user"): _box(casd.student_last_user),
                     name("casd", "renewal"): _box(not casd.new_project),
                     name("casd", "start"): casd.start.isoformat() if casd.start else ""})
        for option in casd.options:
            form[name("casd", "options", option)] = "on"
    return form
