"""Access requests as flat forms: dataclasses -> form fields -> dataclasses, and the field
names shared with the checks' errors."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue.casd import CasdInputs
from catalogue.errors import BadRequest
from catalogue.requests_forms import (
    project_fields_from_form,
    project_fields_to_form,
    section_from_form,
    section_to_form,
)
from catalogue.requests_model import (
    CohortSection,
    Commitments,
    Funding,
    ProjectFields,
    Protocol,
    RequestedVariable,
    TeamMember,
)
from catalogue.requests_validation import project_errors

text = st.text(max_size=40)
word = st.text(st.characters(categories=("L", "N"), include_characters="-_"), min_size=1,
               max_size=12)
members = st.builds(TeamMember, name=word, role=text, affiliation=text, email=text,
                    principal_investigator=st.booleans())
projects = st.builds(
    ProjectFields, title=text,
    protocol=st.builds(Protocol, objectives=text, method=text, expected_results=text,
                       additional_data_collection=text),
    team=st.lists(members, max_size=4).map(tuple),
    funding=st.builds(Funding, project=text, access_costs=text,
                      industrial=st.sampled_from([None, True, False]),
                      industrial_details=text),
    commitments=st.builds(Commitments, publish_results=st.booleans(),
                          destruction_report=st.booleans()))
urns = st.from_regex(r"urn:ddi:fr\.[a-z]{2,8}:[a-z0-9-]{1,12}:[0-9]{1,3}", fullmatch=True)
casd_inputs = st.builds(
    CasdInputs, offer=word, users=st.integers(0, 999_999), months=st.integers(0, 999_999),
    configuration=word, sd_boxes=st.integers(0, 999_999),
    options=st.lists(word, unique=True, max_size=3).map(tuple),
    student_last_user=st.booleans(), new_project=st.booleans(),
    start=st.none() | st.dates(date(2000, 1, 1), date(2100, 1, 1)))
sections = st.builds(
    CohortSection,
    variables=st.lists(st.builds(RequestedVariable, urn=urns, justification=text),
                       unique_by=lambda v: v.urn, max_size=5).map(tuple),
    group_justifications=st.lists(st.tuples(urns, text), unique_by=lambda g: g[0],
                                  max_size=3).map(tuple),
    charter_accepted=st.booleans(), casd=st.none() | casd_inputs)


@given(projects)
def test_project_fields_survive_their_form(fields: ProjectFields) -> None:
    assert project_fields_from_form(project_fields_to_form(fields)) == fields


@given(sections)
def test_a_section_survives_its_form(section: CohortSection) -> None:
    form = section_to_form("constances", section)
    assert section_from_form("constances", form) == section
    # another cohort's fields are not this cohort's
    assert section_from_form("gazel", form) == CohortSection()


def test_blank_team_rows_are_dropped_and_unchecked_variables_removed() -> None:
    form = {"team.0.name": "Ana", "team.0.principal_investigator": "on",
            "team.1.name": " ", "team.1.role": "", "team.7.role": "statistician",
            "funding.industrial": "no"}
    fields = project_fields_from_form(form)
    assert [(m.name, m.role, m.principal_investigator) for m in fields.team] == [
        ("Ana", "", True), ("", "statistician", False)]
    assert fields.funding.industrial is False
    section = section_from_form("constances", {
        "requests.constances.variables.urn:ddi:fr.x:a:1": "on",
        "requests.constances.variables.urn:ddi:fr.x:a:1.justification": "why",
        "requests.constances.variables.urn:ddi:fr.x:b:1": "",
        "requests.constances.variables.urn:ddi:fr.x:b:1.justification": "dropped"})
    assert section.variables == (RequestedVariable("urn:ddi:fr.x:a:1", "why"),)


def test_errors_name_the_inputs_of_the_form() -> None:
    fields = ProjectFields(team=(TeamMember("Ana"),))
    names = set(project_fields_to_form(fields))
    # every error about a field that has an input names that input ("team" is the list)
    assert {e.field for e in project_errors(fields)} - {"team"} <= names


def test_numbers_and_dates_that_are_not_are_refused_by_field() -> None:
    with pytest.raises(BadRequest) as refused:
        section_from_form("constances", {"requests.constances.casd.users": "two",
                                         "requests.constances.casd.start": "01/08/2020"})
    assert {e["field"] for e in refused.value.errors} == {
        "requests.constances.casd.users", "requests.constances.casd.start"}
