"""`-o sarif`: SARIF 2.1.0, for code-scanning dashboards and CI annotations.

One run; one rule per check that ran or produced a finding; one result per finding, located logically at the
Kubernetes or Azure resource (there is no source file). Evidence and fix travel in the result's property bag;
skipped checks become tool notifications, since a skip is not a pass.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from aksdoctor.model import Finding, Report, Severity, Status

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.CRITICAL: "error", Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2) + "\n"


def document(report: Report) -> dict[str, Any]:
    rules = _rules(report)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    driver: dict[str, Any] = {"name": "aksdoctor", "version": report.tool_version}
    uri = _information_uri()
    if uri:
        driver["informationUri"] = uri
    driver["rules"] = rules
    notifications = [
        {
            "level": "note",
            "message": {"text": f"skipped: {c.reason}" if c.reason else "skipped"},
            "descriptor": {"id": c.id},
        }
        for c in report.checks
        if c.status is Status.SKIPPED
    ]
    run = {
        "tool": {"driver": driver},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": [_result(f, index[f.id]) for f in report.findings],
        "properties": {"target": report.target.to_dict(), "capturedAt": report.captured_at},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _rules(report: Report) -> list[dict[str, Any]]:
    """Checks in report order, then any finding id the checks do not list; described by their first finding."""
    first: dict[str, Finding] = {}
    for finding in report.findings:
        first.setdefault(finding.id, finding)
    ids = dict.fromkeys([*(c.id for c in report.checks), *first])
    rules = []
    for rule_id in ids:
        rule: dict[str, Any] = {"id": rule_id}
        finding = first.get(rule_id)
        if finding:
            rule["shortDescription"] = {"text": finding.title}
            if finding.docs:
                rule["helpUri"] = finding.docs[0]
        rules.append(rule)
    return rules


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "severity": finding.severity.label,
        "title": finding.title,
        "evidence": [e.to_dict() for e in finding.evidence],
    }
    if finding.fix:
        properties["fix"] = finding.fix.to_dict()
    return {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.cause},
        "locations": [{"logicalLocations": [{"name": finding.resource, "kind": "resource"}]}],
        "properties": properties,
    }


def _information_uri() -> str:
    """The project's home page from the installed package's metadata, when it declares one."""
    try:
        meta = metadata.metadata("aksdoctor")
    except metadata.PackageNotFoundError:
        return ""
    return meta.get("Home-page") or ""
