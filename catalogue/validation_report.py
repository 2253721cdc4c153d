"""A validation report for people: findings grouped by rule, and the same as JSON.

Rules are the official XSD's (``XSD``), the catalogue's profile rules
(:data:`ddi_schemas.profile.RULES`), the data dictionary's checks (``dictionary``, for an
uploaded table that could not become DDI-L) and ``INPUT`` (a file that cannot be read at
all). Groups holding errors come first; each keeps its findings in file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from ddi_schemas.findings import XSD_RULE, FileReport, Finding
from ddi_schemas.profile import RULES

DICTIONARY_RULE = "dictionary"
INPUT_RULE = "INPUT"

#: Titles and rationales of the rules that are not profile rules.
OTHER_RULES: Mapping[str, tuple[str, str]] = {
    XSD_RULE: ("Valid against the official DDI-L schema",
               "Files must follow the official DDI-L XML Schema of their version. A file "
               "that breaks it but can still be read may be published leniently: an "
               "explicit choice, recorded with the publication."),
    DICTIONARY_RULE: ("The data dictionary is complete and consistent",
                      "Every row and cell must be usable to write DDI-L: nothing is "
                      "converted until the table is fixed."),
    INPUT_RULE: ("The file can be read",
                 "A file that is not DDI-L XML (or not well-formed, or declares entities) "
                 "cannot be read at all."),
}
_ORDER = [XSD_RULE, DICTIONARY_RULE, INPUT_RULE, *RULES]


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """The findings of one rule."""

    rule: str
    title: str
    rationale: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors

    @property
    def severity(self) -> str:
        return "error" if self.errors else "warning"


def rule_text(rule: str) -> tuple[str, str]:
    """A rule's title and rationale (English; the web translates them)."""
    if rule in RULES:
        return RULES[rule].title, RULES[rule].rationale
    return OTHER_RULES.get(rule, (rule, ""))


def all_findings(report: FileReport) -> tuple[Finding, ...]:
    """The report's findings, with the reason an unusable file could not be read."""
    if report.unusable is not None and not any(f.rule == INPUT_RULE for f in report.findings):
        return (*report.findings, Finding("error", INPUT_RULE, report.unusable))
    return report.findings


def group_by_rule(findings: Iterable[Finding]) -> list[RuleGroup]:
    """Groups with errors first, then in rule order; findings keep their order."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    groups = []
    for rule, found in by_rule.items():
        title, rationale = rule_text(rule)
        groups.append(RuleGroup(rule, title, rationale, tuple(found)))
    rank = {rule: index for index, rule in enumerate(_ORDER)}
    return sorted(groups, key=lambda g: (g.errors == 0, rank.get(g.rule, len(rank)), g.rule))


class FindingJSON(TypedDict, total=False):
    severity: str
    rule: str
    line: int | None
    column: int | None
    path: str
    message: str
    expected: list[str]


class RuleGroupJSON(TypedDict):
    rule: str
    title: str
    rationale: str
    severity: str
    errors: int
    warnings: int
    findings: list[FindingJSON]


class ReportJSON(TypedDict):
    file: str
    ddi_version: str | None
    valid: bool
    xsd_valid: bool
    unusable: str | None
    errors: int
    warnings: int
    rules: list[RuleGroupJSON]


def report_json(report: FileReport) -> ReportJSON:
    """The report grouped by rule, as the web serves it for download."""
    findings = all_findings(report)
    groups = group_by_rule(findings)
    return {
        "file": report.file, "ddi_version": report.ddi_version, "valid": report.valid,
        "xsd_valid": report.xsd_valid, "unusable": report.unusable,
        "errors": sum(g.errors for g in groups), "warnings": sum(g.warnings for g in groups),
        "rules": [{"rule": g.rule, "title": g.title, "rationale": g.rationale,
                   "severity": g.severity, "errors": g.errors, "warnings": g.warnings,
                   "findings": [_finding_json(f) for f in g.findings]} for g in groups],
    }


def _finding_json(finding: Finding) -> FindingJSON:
    data: Any = finding.to_json()
    found: FindingJSON = data
    return found


def report_to_record(report: FileReport) -> dict[str, Any]:
    """Everything in a report, to be kept on disk (:func:`report_from_record` reads it)."""
    return {"file": report.file, "ddi_version": report.ddi_version,
            "xsd_valid": report.xsd_valid, "unusable": report.unusable, "root": report.root,
            "findings": [f.to_json() for f in report.findings]}


def report_from_record(data: Mapping[str, Any]) -> FileReport:
    return FileReport(file=data["file"], ddi_version=data["ddi_version"],
                      findings=tuple(Finding.from_json(f) for f in data["findings"]),
                      xsd_valid=data["xsd_valid"], unusable=data["unusable"],
                      root=data.get("root", ""))
