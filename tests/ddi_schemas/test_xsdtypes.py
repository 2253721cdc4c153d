"""The lexical checks behind the profile rules, against the XML Schema and BCP 47 specs."""

from __future__ import annotations

import pytest

from ddi_schemas.xsdtypes import is_agency_id, is_language_tag, is_xsd_date


@pytest.mark.parametrize("value", [
    "2010-04-13", "2018-01-25+01:00", "2018-01-25Z", "2015-05-06T18:19:44.9359397Z",
    "2022-10-23T13:09:56.838793", "2010-06-05T20:20:00", "2012-02-29", "1958-04", "1901",
    "2010-04-13T24:00:00", "-0044-03-15", "P1Y2M", "PT36H", "2018-01-25T10:00:00-14:00",
])
def test_xml_schema_dates_are_accepted(value: str) -> None:
    assert is_xsd_date(value)


@pytest.mark.parametrize("value", [
    "2010-02-29", "2010-13-01", "2010-04-31", "13/04/2010", "2010-4-13", "0000-01-01",
    "2010-04-13T24:00:01", "2010-04-13T10:60:00", "2018-01-25+15:00", "2010-04-13 10:00:00",
    "", "P", "PT", "April 2010",
])
def test_other_dates_are_not(value: str) -> None:
    assert not is_xsd_date(value)


@pytest.mark.parametrize("tag, valid", [
    ("fr", True), ("fr-FR", True), ("en-IE", True), ("en-us", True), ("de", True),
    ("sv", True), ("zh-Hant-TW", True), ("fr_FR", False), ("english", False), ("", False),
    ("en-", False), ("xx-YY-", False), (" fr", False),
])
def test_language_tags(tag: str, valid: bool) -> None:
    assert is_language_tag(tag) is valid


@pytest.mark.parametrize("agency, valid", [
    ("fr.insee", True), ("uk.closer", True), ("int.example", True), ("de.gesis", True),
    ("us.mpc", True), ("insee", False), ("FR.INSEE", False), ("fr..insee", False),
    ("fr.insee-", False), ("com.example", False),
])
def test_agency_ids(agency: str, valid: bool) -> None:
    assert is_agency_id(agency) is valid
