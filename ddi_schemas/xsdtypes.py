"""XML Schema lexical checks the profile rules need: dates, language tags, agency ids."""

from __future__ import annotations

import calendar
import re
from functools import lru_cache

import langcodes

_TZ = r"(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?"
_YEAR = r"-?(?:[1-9]\d{4,}|\d{4})"
_DATE_TIME = re.compile(
    rf"^(?P<y>{_YEAR})-(?P<m>\d\d)-(?P<d>\d\d)"
    rf"T(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:\.\d+)?{_TZ}$"
)
_DATE = re.compile(rf"^(?P<y>{_YEAR})-(?P<m>\d\d)-(?P<d>\d\d){_TZ}$")
_YEAR_MONTH = re.compile(rf"^(?P<y>{_YEAR})-(?P<m>\d\d){_TZ}$")
_GYEAR = re.compile(rf"^(?P<y>{_YEAR}){_TZ}$")
_DURATION = re.compile(
    r"^-?P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$"
)


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_xsd_date(value: str) -> bool:
    """True for the lexical forms DDI's BaseDateType admits: dateTime, date, gYearMonth,
    gYear and duration (fractions of any length, optional time zone, calendar-checked)."""
    text = value.strip()
    if _DURATION.match(text):
        return True
    for pattern in (_DATE_TIME, _DATE, _YEAR_MONTH, _GYEAR):
        match = pattern.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        year = int(groups["y"])
        month = int(groups.get("m") or 1)
        day = int(groups.get("d") or 1)
        if year == 0 or not 1 <= month <= 12:
            return False
        days = _DAYS[month - 1] + (1 if month == 2 and calendar.isleap(year) else 0)
        if not 1 <= day <= days:
            return False
        if groups.get("h") is not None:
            hour, minute, second = int(groups["h"]), int(groups["mi"]), int(groups["s"])
            if hour == 24:  # 24:00:00 is the end of the day, nothing later
                return minute == 0 and second == 0
            return hour < 24 and minute < 60 and second < 60
        return True
    return False


@lru_cache(maxsize=512)
def is_language_tag(tag: str) -> bool:
    """A well-formed, valid BCP 47 tag (``fr``, ``fr-FR``, ``en-us``); ``fr_FR`` is not."""
    if not tag or "_" in tag or tag.strip() != tag:
        return False
    try:
        return bool(langcodes.tag_is_valid(tag))
    except (ValueError, LookupError):
        return False


_AGENCY_PART = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TOP_LEVEL = re.compile(r"^(?:[a-z]{2}|int)$")


def is_agency_id(agency: str) -> bool:
    """A DDI agency identifier as registered: a reverse domain name in lower case, whose
    top level is a two-letter country code or ``int`` (``fr.insee``, ``uk.closer``)."""
    parts = agency.split(".")
    return (
        len(parts) >= 2
        and len(agency) <= 253
        and bool(_TOP_LEVEL.match(parts[0]))
        and all(_AGENCY_PART.match(p) for p in parts)
    )
