"""The catalogue's profile rules: what it checks on top of the official XSD.

Each rule has an id, a severity and a one-line rationale. Findings are warnings, because
real, XSD-valid exports often have dangling references or missing labels, except where
the catalogue cannot work with the content (one identity with two contents, an item it
cannot identify). The reader feeds a :class:`ProfileChecker` with facts as it streams
through a file; :meth:`ProfileChecker.finish` resolves references (inside the file, then
through an optional resolver for other files and already-published items).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from catalogue.model import ACCESS_VALUES
from ddi_schemas.findings import Finding, Severity
from ddi_schemas.xsdtypes import is_agency_id, is_language_tag, is_xsd_date


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    title: str
    rationale: str


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("identity-conflict", "error", "A published version never changes",
         "Agency+ID+Version names one immutable version: publishing other content under an "
         "identity the catalogue (or an earlier file of the batch) already holds would change "
         "what every reference to it means."),
    Rule("identity-repeated", "warning", "Identities are unique within a file",
         "Real exports repeat items, sometimes with different content under one identity; "
         "the catalogue keeps the first copy and reports the others."),
    Rule("identity-missing", "warning", "Every versionable item is identified",
         "The catalogue stores, links and cites items by Agency+ID+Version (or URN); an "
         "unidentified item is skipped."),
    Rule("urn-mismatch", "error", "URN agrees with Agency/ID/Version",
         "When both are given and disagree, the item's identity is undecidable."),
    Rule("reference-dangling", "warning", "References resolve",
         "A reference to nothing known (in the file, the batch or the catalogue) cannot be "
         "followed; common in partial exports, so reported, not refused."),
    Rule("variable-name", "warning", "Variables have a name",
         "Researchers find and cite variables by name."),
    Rule("variable-label", "warning", "Variables have a label",
         "A variable without a label cannot be understood from search results."),
    Rule("access-value", "warning", "Access levels are open or casd",
         "catalogue:access says whether a variable is open or only reachable in a CASD "
         "secure workspace; a value the catalogue does not know is read as casd, never as "
         "open, so that sensitive data cannot look open by a typo."),
    Rule("language-tag", "warning", "Language tags are valid BCP 47",
         "Language-aware search and display rely on recognisable xml:lang values."),
    Rule("date-format", "warning", "Dates are XML Schema dates",
         "Wave timelines and version dates must be comparable."),
    Rule("agency-id", "warning", "Agencies are DDI agency identifiers",
         "URNs are only globally unique under a registered reverse-domain agency id."),
)}


def _finding(rule_id: str, message: str, line: int | None, path: str) -> Finding:
    rule = RULES[rule_id]
    return Finding(rule.severity, rule.id, message, line=line, path=path)


class RefTarget(NamedTuple):
    """Agency, ID and (None for late-bound references) Version of a reference target."""

    agency: str
    id: str
    version: str | None


#: Given references not found in a file, the subset that exists elsewhere (other files of
#: the same batch, published items).
Resolver = Callable[[list[RefTarget]], set[RefTarget]]


#: Element paths are only worked out when a finding needs one.
LazyPath = Callable[[], str]


#: First version seen of an Agency+ID: (version, content, line, versionable). Kept as a
#: plain tuple: a file may hold millions of identities.
_First = tuple[str, int | None, int | None, bool]


@dataclass(slots=True)
class _Dangling:
    first_line: int | None
    first_path: str
    type_of_object: str | None
    count: int


class ProfileChecker:
    """Collects the facts of one file and turns them into profile findings."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._items: dict[tuple[str, str], _First] = {}
        self._more_versions: dict[tuple[str, str], dict[str, tuple[int | None, int | None]]] = {}
        self._forward: dict[RefTarget, _Dangling] = {}
        self._languages: dict[str, int] = {}
        self._dates: dict[str, int] = {}
        self._agencies: dict[str, int] = {}
        self._repeated: dict[tuple[str, str, str], int] = {}
        #: set when an identity repeats but contents were not given: read the file again
        #: with contents to tell identical copies from conflicting ones
        self.needs_content_check = False

    # -- facts ---------------------------------------------------------------------------

    def identity(self, agency: str, id_: str, version: str, content: int | None, *,
                 versionable: bool, line: int | None, path: LazyPath) -> None:
        """An identified item; ``content`` fingerprints what it says (None when the caller
        did not read it, in which case repeats are only flagged for a closer look)."""
        key = (agency, id_)
        first = self._items.get(key)
        if first is None:
            self._items[key] = (version, content, line, versionable)
            if agency not in self._agencies:
                self.agency(agency, line, path)
            return
        if first[0] == version:
            seen_content, seen_line = first[1], first[2]
        else:
            more = self._more_versions.setdefault(key, {})
            seen = more.get(version)
            if seen is None:
                more[version] = (content, line)
                if versionable and not first[3]:
                    self._items[key] = (first[0], first[1], first[2], True)
                return
            seen_content, seen_line = seen
        urn = f"urn:ddi:{agency}:{id_}:{version}"
        if seen_content is None or content is None:
            self.needs_content_check = True
            return
        if seen_content != content:
            self.findings.append(_finding(
                "identity-repeated",
                f"{urn} is defined again with different content (first at line {seen_line}); "
                "the catalogue keeps the first: give this one a new version or a new ID",
                line, path()))
        else:
            triple = (agency, id_, version)
            count = self._repeated.get(triple, 0)
            self._repeated[triple] = count + 1
            if count == 0:
                self.findings.append(_finding(
                    "identity-repeated",
                    f"{urn} is repeated with the same content (first at line {seen_line})",
                    line, path()))

    def missing_identity(self, element: str, line: int | None, path: LazyPath) -> None:
        self.findings.append(_finding(
            "identity-missing",
            f"<{element}> has no Agency/ID/Version or URN; the catalogue cannot store it",
            line, path()))

    def urn_mismatch(self, urn: str, agency: str, id_: str, version: str, line: int | None,
                     path: LazyPath) -> None:
        self.findings.append(_finding(
            "urn-mismatch",
            f"URN {urn} disagrees with Agency {agency!r}, ID {id_!r}, Version {version!r}",
            line, path()))

    def reference(self, target: RefTarget, type_of_object: str | None, line: int | None,
                  path: LazyPath) -> None:
        """A reference seen in the file; resolved now if its target was already seen."""
        if self._resolves_locally(target):
            return
        pending = self._forward.get(target)
        if pending is None:
            self._forward[target] = _Dangling(line, path(), type_of_object, 1)
        else:
            pending.count += 1

    def variable(self, name: str, has_label: bool, urn: str, line: int | None,
                 path: LazyPath, access: str | None = None) -> None:
        """A variable's name, label and ``catalogue:access`` value (None: not given)."""
        if access and access.strip() and access.strip().lower() not in ACCESS_VALUES:
            self.findings.append(_finding(
                "access-value", f"variable {name or urn} has catalogue:access {access!r}: "
                f"expected {' or '.join(sorted(set(ACCESS_VALUES.values())))}; read as casd",
                line, path()))
        if not name.strip():
            self.findings.append(_finding("variable-name", f"variable {urn} has no name",
                                          line, path()))
        if not has_label:
            self.findings.append(_finding(
                "variable-label", f"variable {name or urn} has no label", line, path()))

    def language(self, tag: str, line: int | None, path: LazyPath) -> None:
        if not tag:  # no xml:lang at all, or xml:lang="" (language unknown): both legal
            return
        count = self._languages.get(tag)
        self._languages[tag] = (count or 0) + 1
        if count is None and not is_language_tag(tag):
            self.findings.append(_finding(
                "language-tag",
                f"xml:lang={tag!r} is not a valid BCP 47 language tag (for example fr, "
                "fr-FR, en-GB)", line, path()))

    def date(self, value: str, what: str, line: int | None, path: LazyPath) -> None:
        count = self._dates.get(value)
        self._dates[value] = (count or 0) + 1
        if count is None and not is_xsd_date(value):
            self.findings.append(_finding(
                "date-format",
                f"{what} {value!r} is not an XML Schema date (expected 2011-04-28, "
                "2011-04-28T10:00:00+01:00, 2011-04 or 2011)", line, path()))

    def agency(self, agency: str, line: int | None, path: LazyPath) -> None:
        count = self._agencies.get(agency)
        self._agencies[agency] = (count or 0) + 1
        if count is None and not is_agency_id(agency):
            self.findings.append(_finding(
                "agency-id",
                f"agency {agency!r} is not a DDI agency identifier (a registered reverse "
                "domain name such as fr.insee or uk.closer)", line, path()))

    # -- results -------------------------------------------------------------------------

    def known(self, targets: Iterable[RefTarget]) -> set[RefTarget]:
        """The targets this file defines (used to resolve other files of a batch)."""
        return {t for t in targets if self._resolves_locally(t)}

    def conflict(self, urn: str, where: str, line: int | None, path: str) -> None:
        """The identity is already held, with other content, by ``where``."""
        self.findings.append(_finding(
            "identity-conflict",
            f"{urn} is already published with different content ({where}); a published "
            "version never changes: give this one a new version", line, path))

    def finish(self, resolver: Resolver | None = None) -> list[Finding]:
        unresolved = [t for t in self._forward if not self._resolves_locally(t)]
        elsewhere = resolver(unresolved) if resolver and unresolved else set()
        for target in unresolved:
            if target in elsewhere:
                continue
            info = self._forward[target]
            self.findings.append(_finding("reference-dangling", self._dangling_message(
                target, info), info.first_line, info.first_path))
        self._forward.clear()
        return sorted(self.findings, key=Finding.sort_key)

    def _resolves_locally(self, target: RefTarget) -> bool:
        first = self._items.get((target[0], target[1]))
        if first is None:
            return False
        version = target[2]
        # Identifiable (not versionable) children are often referenced with the version
        # of their parent: resolve them by Agency+ID.
        if version is None or version == first[0] or not first[3]:
            return True
        return version in self._more_versions.get((target[0], target[1]), ())

    def _versions_of(self, agency: str, id_: str) -> list[str]:
        first = self._items.get((agency, id_))
        if first is None:
            return []
        return [first[0], *self._more_versions.get((agency, id_), ())]

    def _dangling_message(self, target: RefTarget, info: _Dangling) -> str:
        what = info.type_of_object or "item"
        urn = f"urn:ddi:{target.agency}:{target.id}" + (
            f":{target.version}" if target.version else "")
        times = f" ({info.count} references)" if info.count > 1 else ""
        versions = self._versions_of(target.agency, target.id)
        if versions:
            return (f"reference to {what} {urn} does not resolve: this file has versions "
                    f"{', '.join(sorted(set(versions)))} only{times}")
        return (f"reference to {what} {urn} does not resolve in this file, the files "
                f"published with it or the catalogue{times}")

    def versionable_identities(self) -> list[tuple[str, str, str]]:
        """(agency, ID, version) of every versionable item seen."""
        found = []
        for (agency, id_), (version, _content, _line, versionable) in self._items.items():
            if versionable:
                found.append((agency, id_, version))
                found.extend((agency, id_, v)
                             for v in self._more_versions.get((agency, id_), ()))
        return found

    @property
    def identity_count(self) -> int:
        return len(self._items) + sum(len(v) for v in self._more_versions.values())
