"""Checks on access-request content, reported field by field.

Two kinds: :func:`check_sizes` runs on every save (drafts included) and refuses text
longer than :data:`~catalogue.requests_model.LIMITS` or holding control characters;
:func:`project_errors` and :func:`section_errors` run on submission and list every
required field left empty or wrong. Each problem is a
:class:`~catalogue.requests_model.FieldError` whose path is the form field's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from catalogue.casd import CasdInputError, estimate
from catalogue.errors import BadRequest
from catalogue.requests_model import (
    LIMITS,
    CohortSection,
    FieldError,
    OversizedFields,
    ProjectFields,
)
from catalogue.requests_selection import CohortSelection

# Tab, line feed and carriage return are text; the other C0 controls and DEL are not (and
# NUL cannot be stored by PostgreSQL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def section_path(cohort: str, *parts: str) -> tuple[str, ...]:
    return ("requests", cohort, *parts)


def _project_texts(fields: ProjectFields) -> Iterator[tuple[tuple[str, ...], str, int]]:
    short, long = LIMITS.short_text, LIMITS.long_text
    yield ("title",), fields.title, short
    protocol = fields.protocol
    for name in ("objectives", "method", "expected_results", "additional_data_collection"):
        yield ("protocol", name), getattr(protocol, name), long
    for index, member in enumerate(fields.team):
        for name in ("name", "role", "affiliation", "email"):
            yield ("team", str(index), name), getattr(member, name), short
    yield ("funding", "project"), fields.funding.project, long
    yield ("funding", "access_costs"), fields.funding.access_costs, long
    yield ("funding", "industrial_details"), fields.funding.industrial_details, long


def _section_texts(cohort: str, section: CohortSection
                   ) -> Iterator[tuple[tuple[str, ...], str, int]]:
    for variable in section.variables:
        yield (section_path(cohort, "variables", variable.urn, "justification"),
               variable.justification, LIMITS.long_text)
        yield section_path(cohort, "variables", variable.urn), variable.urn, LIMITS.short_text
    for wave_urn, text in section.group_justifications:
        yield section_path(cohort, "groups", wave_urn), text, LIMITS.long_text
        yield section_path(cohort, "groups"), wave_urn, LIMITS.short_text
    if section.casd is not None:
        casd = section.casd
        yield section_path(cohort, "casd", "offer"), casd.offer, LIMITS.short_text
        yield (section_path(cohort, "casd", "configuration"), casd.configuration,
               LIMITS.short_text)
        for option in casd.options:
            yield section_path(cohort, "casd", "options"), option, LIMITS.short_text


def check_sizes(project: ProjectFields | None = None,
                sections: dict[str, CohortSection] | None = None) -> None:
    """Refuse (and so save nothing) when any field is too long or a list too long
    (:class:`OversizedFields`), or when text holds control characters (BadRequest)."""
    texts: list[tuple[tuple[str, ...], str, int]] = []
    too_many: list[FieldError] = []
    if project is not None:
        texts.extend(_project_texts(project))
        if len(project.team) > LIMITS.team_members:
            too_many.append(FieldError(("team",), f"at most {LIMITS.team_members} members"))
    for cohort, section in (sections or {}).items():
        texts.extend(_section_texts(cohort, section))
        if len(section.variables) > LIMITS.variables_per_request:
            too_many.append(FieldError(section_path(cohort, "variables"),
                                       f"at most {LIMITS.variables_per_request} variables "
                                       "per request"))
        if len(section.group_justifications) > LIMITS.variables_per_request:
            too_many.append(FieldError(section_path(cohort, "groups"),
                                       f"at most {LIMITS.variables_per_request} groups"))
        if section.casd is not None and len(section.casd.options) > LIMITS.casd_options:
            too_many.append(FieldError(section_path(cohort, "casd", "options"),
                                       f"at most {LIMITS.casd_options} options"))
    oversized = too_many + [
        FieldError(path, f"at most {limit} characters (got {len(text)})")
        for path, text, limit in texts if len(text) > limit]
    if oversized:
        raise OversizedFields("nothing saved: " + "; ".join(
            f"{e.field}: {e.message}" for e in oversized[:5]), [e.to_json() for e in oversized])
    controls = [FieldError(path, "remove the control characters from this text")
                for path, text, _ in texts if _CONTROL.search(text)]
    if controls:
        raise BadRequest("nothing saved: " + "; ".join(e.field for e in controls[:5])
                         + ": remove the control characters", [e.to_json() for e in controls])


def project_errors(fields: ProjectFields) -> list[FieldError]:
    """Every required project field that is missing or wrong."""
    errors: list[FieldError] = []

    def required(path: tuple[str, ...], value: str, message: str) -> None:
        if not value.strip():
            errors.append(FieldError(path, message))

    required(("title",), fields.title, "give the project a title")
    required(("protocol", "objectives"), fields.protocol.objectives,
             "state the scientific objectives")
    required(("protocol", "method"), fields.protocol.method, "describe the method")
    required(("protocol", "expected_results"), fields.protocol.expected_results,
             "state the expected results")
    if not fields.team:
        errors.append(FieldError(("team",), "name the scientific team, its PI first"))
    for index, member in enumerate(fields.team):
        at = ("team", str(index))
        required((*at, "name"), member.name, "give this member's name")
        required((*at, "role"), member.role, "give this member's role in the project")
        required((*at, "affiliation"), member.affiliation, "give this member's affiliation")
        if member.email.strip() and not _EMAIL.match(member.email.strip()):
            errors.append(FieldError((*at, "email"), "this is not an e-mail address"))
        if member.principal_investigator and not member.email.strip():
            errors.append(FieldError((*at, "email"), "give the PI's e-mail address"))
    if fields.team and sum(m.principal_investigator for m in fields.team) != 1:
        errors.append(FieldError(("team",), "mark exactly one member as the principal "
                                            "investigator (PI)"))
    required(("funding", "project"), fields.funding.project,
             "name the sources of funding of the project")
    required(("funding", "access_costs"), fields.funding.access_costs,
             "say who pays the costs of access to the data")
    if fields.funding.industrial is None:
        errors.append(FieldError(("funding", "industrial"),
                                 "say whether the project has industrial funding"))
    elif fields.funding.industrial:
        required(("funding", "industrial_details"), fields.funding.industrial_details,
                 "name the companies funding the project and what they fund")
    if not fields.commitments.publish_results:
        errors.append(FieldError(("commitments", "publish_results"),
                                 "commit to making the results public"))
    if not fields.commitments.destruction_report:
        errors.append(FieldError(("commitments", "destruction_report"),
                                 "commit to sending a destruction report at the end"))
    return errors


def section_errors(cohort: str, section: CohortSection, selection: CohortSelection | None,
                   today: date) -> list[FieldError]:
    """Every problem of one cohort's section: no variable, variables gone from the
    catalogue or of another cohort, a group of variables left unjustified, the charter
    not accepted, CASD inputs missing or unusable when CASD-only variables are asked."""
    errors: list[FieldError] = []
    if not section.variables or selection is None:
        return [FieldError(section_path(cohort, "variables"),
                           "select at least one variable of this cohort")]
    for wave in selection.waves:
        group_text = section.group_justification(wave.urn)
        missing = []
        for variable in wave.variables:
            path = section_path(cohort, "variables", variable.urn)
            if not variable.found:
                errors.append(FieldError(path, "this version is no longer in the catalogue: "
                                               "remove it or select the variable again"))
            elif variable.cohort != cohort:
                errors.append(FieldError(path, f"this variable belongs to {variable.cohort}, "
                                               f"not to {cohort}"))
            if not variable.justification.strip():
                missing.append(variable)
        if group_text.strip() or not missing:
            continue
        if len(missing) == wave.count:
            errors.append(FieldError(section_path(cohort, "groups", wave.urn),
                                     f"justify the use of these {wave.count} variables, "
                                     "as a group or one by one"))
        else:
            errors.extend(FieldError(section_path(cohort, "variables", v.urn, "justification"),
                                     "justify the use of this variable (or of its group)")
                          for v in missing)
    if not section.charter_accepted:
        errors.append(FieldError(section_path(cohort, "charter_accepted"),
                                 "the PI must accept the cohort's charter"))
    if selection.casd_required:
        if section.casd is None:
            errors.append(FieldError(section_path(cohort, "casd"),
                                     "CASD-only variables need a CASD secure workspace: give "
                                     "the users, duration, configuration and SD-Boxes"))
        else:
            try:
                estimate(section.casd, today=today)
            except CasdInputError as refused:
                errors.extend(FieldError(section_path(cohort, "casd", e["field"]), e["message"])
                              for e in refused.errors)
    return errors
