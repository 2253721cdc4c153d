"""What validation reports: located findings from the XSD and from the profile rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

#: The rule id of findings that come from the official XSD.
XSD_RULE = "XSD"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, located: ``line``/``column`` are 1-based (None when unknown), ``path``
    an element path with local names and 1-based positions (``/DDIInstance/Variable[3]``).
    ``expected`` lists the element names the XSD would have accepted, when it says so."""

    severity: Severity
    rule: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""
    expected: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "severity": self.severity,
            "rule": self.rule,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }
        if self.expected:
            data["expected"] = list(self.expected)
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Finding:
        return Finding(
            severity=data["severity"],
            rule=data["rule"],
            message=data["message"],
            line=data.get("line"),
            column=data.get("column"),
            path=data.get("path", ""),
            expected=tuple(data.get("expected", ())),
        )

    def sort_key(self) -> tuple[int, int, str]:
        return (self.line or 0, self.column or 0, self.rule)


@dataclass(frozen=True, slots=True)
class FileReport:
    """Everything validation says about one file."""

    file: str
    ddi_version: str | None
    findings: tuple[Finding, ...] = ()
    #: the XSD verdict alone (profile rules aside)
    xsd_valid: bool = True
    #: set when the file could not be read at all (exit 2)
    unusable: str | None = None
    root: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def valid(self) -> bool:
        """Readable, XSD-valid and free of error-level profile findings."""
        return self.unusable is None and not self.errors

    def to_json(self) -> dict[str, Any]:
        findings = list(self.findings)
        if self.unusable is not None and not findings:
            findings = [Finding("error", "INPUT", self.unusable)]
        return {
            "file": self.file,
            "ddi_version": self.ddi_version,
            "valid": self.valid,
            "errors": [f.to_json() for f in findings],
        }


def sorted_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=Finding.sort_key))


def report_text(report: FileReport) -> str:
    """A report for people: a verdict line, then one line per finding, by position."""
    if report.unusable is not None:
        return f"{report.file}: unusable: {report.unusable}"
    verdict = "valid" if report.valid else "invalid"
    if report.valid and not report.xsd_valid:  # pragma: no cover - valid implies xsd_valid
        verdict = "invalid"
    errors, warnings = len(report.errors), len(report.warnings)
    lines = [f"{report.file}: {verdict} (DDI-L {report.ddi_version}, <{report.root}>): "
             f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"]
    for finding in report.findings:
        where = []
        if finding.line:
            where.append(f"line {finding.line}")
            if finding.column:
                where.append(f"column {finding.column}")
        position = ", ".join(where) or "-"
        lines.append(f"  {position}: {finding.severity} [{finding.rule}] {finding.message}")
        if finding.path:
            lines.append(f"      at {finding.path}")
    return "\n".join(lines)
