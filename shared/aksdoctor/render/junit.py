"""`-o junit`: JUnit XML, so CI (Jenkins, GitLab, Azure Pipelines) shows each check as a test case.

Failed checks carry their findings as the failure text; skipped and not-applicable checks are skipped test
cases with the reason, so they are neither passes nor failures.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aksdoctor.model import Finding, Report, Status
from aksdoctor.render import evidence


def render(report: Report) -> str:
    by_check: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_check.setdefault(finding.id, []).append(finding)
    checks = report.checks
    counts = {
        "tests": len(checks),
        "failures": sum(1 for c in checks if c.status is Status.FAILED),
        "errors": 0,
        "skipped": sum(1 for c in checks if c.status in (Status.SKIPPED, Status.NOT_APPLICABLE)),
    }
    attrs = {k: str(v) for k, v in counts.items()}
    root = ET.Element("testsuites", {"name": "aksdoctor", **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": "aksdoctor", **attrs})
    properties = ET.SubElement(suite, "properties")
    for name, value in (*report.target.to_dict().items(), ("capturedAt", report.captured_at)):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    classname = f"aksdoctor.{report.target.scope}"
    for outcome in checks:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": outcome.id})
        if outcome.status is Status.FAILED:
            findings = by_check.get(outcome.id, [])
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": findings[0].title if findings else outcome.reason or "failed",
                    "type": findings[0].severity.label if findings else "failed",
                },
            )
            failure.text = "\n\n".join(_finding_text(f) for f in findings) or outcome.reason
        elif outcome.status is not Status.PASSED:
            label = "skipped" if outcome.status is Status.SKIPPED else "not applicable"
            ET.SubElement(case, "skipped", {"message": f"{label}: {outcome.reason}" if outcome.reason else label})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _finding_text(finding: Finding) -> str:
    lines = [f"[{finding.severity.label}] {finding.resource}: {finding.cause}"]
    lines += [f"evidence: {evidence.heading(e)}: {e.detail}" for e in finding.evidence]
    if finding.fix:
        lines.append(f"fix: {finding.fix.summary}")
        lines += [f"$ {command}" for command in finding.fix.commands]
    lines += [f"docs: {url}" for url in finding.docs]
    return "\n".join(lines)
