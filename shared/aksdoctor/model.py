"""The report model: what a run produces, independent of how it is rendered; to_dict() is the JSON report contract."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Severity(enum.IntEnum):
    """Ordered so that `--fail-on` is a simple comparison."""

    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


class Status(str, enum.Enum):
    FAILED = "failed"
    PASSED = "passed"
    SKIPPED = "skipped"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Evidence:
    """One observed fact: where it came from (source kind), which object (ref), and the exact text or field."""

    source: str
    ref: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "ref": self.ref, "detail": self.detail}


@dataclass(frozen=True)
class Fix:
    summary: str
    commands: tuple[str, ...] = ()
    action: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"summary": self.summary, "commands": list(self.commands)}
        if self.action:
            out["action"] = self.action
        return out


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    title: str
    resource: str
    cause: str
    evidence: tuple[Evidence, ...] = ()
    fix: Fix | None = None
    docs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity.label,
            "title": self.title,
            "resource": self.resource,
            "cause": self.cause,
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.fix:
            out["fix"] = self.fix.to_dict()
        out["docs"] = list(self.docs)
        return out


@dataclass(frozen=True)
class CheckOutcome:
    id: str
    status: Status
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"id": self.id, "status": self.status.value}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Target:
    """What a run looks at: one Service (`scope="service"`) or the whole cluster."""

    scope: str
    cluster: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_dict(self) -> dict[str, str]:
        out = {"scope": self.scope, "cluster": self.cluster}
        if self.scope == "service":
            out["namespace"] = self.namespace
            out["name"] = self.name
        return out


@dataclass
class Report:
    target: Target
    captured_at: str
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tool_version: str = ""

    def summary(self) -> dict[str, int]:
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for finding in self.findings:
            counts[finding.severity.label] += 1
        return counts

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "tool": {"name": "aksdoctor", "version": self.tool_version},
            "target": self.target.to_dict(),
            "capturedAt": self.captured_at,
            "summary": self.summary(),
            "findings": [f.to_dict() for f in self.findings],
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out
