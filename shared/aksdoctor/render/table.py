"""`-o table`, the default: what a person at a terminal reads, worst finding first.

Evidence is shown as captured (wrapped, cut to a few lines); fix commands are never wrapped, so they can be
copied and pasted as printed; skipped checks are listed with their reasons, since a skip is not a pass.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from aksdoctor.model import Evidence, Finding, Report, Severity, Status
from aksdoctor.render import evidence, path

SEVERITY_COLORS = {Severity.CRITICAL: "1;31", Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}
VERDICT_COLORS = {
    path.Verdict.FAILED: "31",
    path.Verdict.PASSED: "32",
    path.Verdict.UNKNOWN: "33",
    path.Verdict.UNJUDGED: "2",
}
EVIDENCE_LINES = 3
INDENT = "    "
LABEL_WIDTH = 10
MIN_WIDTH = 60
WRAP = {"break_on_hyphens": False}
STATUS_ORDER = (Status.FAILED, Status.PASSED, Status.SKIPPED, Status.NOT_APPLICABLE)


def render(report: Report, *, color: bool = False, width: int = 100) -> str:
    return "\n".join(_Table(report, color, max(width, MIN_WIDTH)).lines()) + "\n"


class _Table:
    def __init__(self, report: Report, color: bool, width: int):
        self.report = report
        self.color = color
        self.width = width
        self.text_width = width - len(INDENT) - LABEL_WIDTH
        self.truncated = False

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def lines(self) -> list[str]:
        report = self.report
        out = _wrap(self.header(), self.width)
        if report.target.scope == "service":
            out += ["", *self.packet_path()]
        for severity in sorted(Severity, reverse=True):
            group = [f for f in report.findings if f.severity is severity]
            if group:
                out += ["", self.paint(f"{severity.label.upper()} ({len(group)})", SEVERITY_COLORS[severity])]
                for finding in group:
                    out += self.finding(finding)
        if self.truncated:
            out += ["", *_wrap("(… marks evidence cut short; -o json or -o yaml shows it in full)", self.width)]
        out += ["", *self.checks()]
        if report.notes:
            out += ["", "Notes"]
            for note in report.notes:
                out += textwrap.wrap(note, self.width, initial_indent="  - ", subsequent_indent="    ", **WRAP)
        out += ["", self.summary()]
        return out

    def header(self) -> str:
        target, report = self.report.target, self.report
        parts = ["aksdoctor"]
        if target.scope == "service":
            parts.append(f"Service {target.service_key}")
        if target.cluster or target.scope != "service":
            parts.append(f"cluster {target.cluster}".rstrip())
        if report.captured_at:
            parts.append(f"captured {report.captured_at}")
        return " · ".join(parts)

    def packet_path(self) -> list[str]:
        hops = path.hops(self.report)
        name_width = max(len(h.name) for h in hops)
        out = ["Packet path"]
        for hop in hops:
            glyph = self.paint(hop.verdict.value, VERDICT_COLORS[hop.verdict])
            detail = hop.detail
            room = self.width - name_width - 6
            if len(detail) > room:
                detail = _cut(detail, room)
            out.append(f"  {glyph} {hop.name:<{name_width}}  {detail}")
        return out

    def finding(self, finding: Finding) -> list[str]:
        heading = f"{finding.id}  {finding.title}"
        out = [
            "",
            *textwrap.wrap(
                heading, self.width, initial_indent="  ", subsequent_indent=" " * (len(finding.id) + 4), **WRAP
            ),
        ]
        out += self.field("resource", _wrap(finding.resource, self.text_width))
        out += self.field("cause", _wrap(finding.cause, self.text_width))
        shown: list[str] = []
        for item in finding.evidence:
            shown += self.evidence_lines(item)
        out += self.field("evidence", shown)
        if finding.fix:
            fix = _wrap(finding.fix.summary, self.text_width)
            fix += [f"$ {command}" for command in finding.fix.commands]
            out += self.field("fix", fix)
            if finding.fix.action:
                out += self.field("action", [finding.fix.action])
        out += self.field("docs", finding.docs)
        return out

    def evidence_lines(self, item: Evidence) -> list[str]:
        """`Source ref: detail`, wrapped, continuation lines indented, at most EVIDENCE_LINES lines."""
        text = f"{evidence.heading(item)}: {item.detail}" if item.detail else evidence.heading(item)
        lines: list[str] = []
        for raw in text.splitlines():
            first = "  " if lines else ""
            lines += textwrap.wrap(raw, self.text_width, initial_indent=first, subsequent_indent="  ", **WRAP)
        if len(lines) > EVIDENCE_LINES:
            self.truncated = True
            lines = [*lines[: EVIDENCE_LINES - 1], _cut(lines[EVIDENCE_LINES - 1], self.text_width)]
        return lines

    def field(self, label: str, lines: Iterable[str]) -> list[str]:
        out = []
        for i, line in enumerate(lines):
            gutter = label if i == 0 else ""
            out.append(f"{INDENT}{gutter:<{LABEL_WIDTH}}{line}".rstrip())
        return out

    def checks(self) -> list[str]:
        checks = self.report.checks
        counts = {status: sum(1 for c in checks if c.status is status) for status in STATUS_ORDER}
        tally = ", ".join(f"{n} {status.value}" for status, n in counts.items())
        out = textwrap.wrap(f"Checks  {len(checks)} run: {tally}", self.width, subsequent_indent=" " * 8, **WRAP)
        skipped = [c for c in checks if c.status is Status.SKIPPED]
        if skipped:
            id_width = max(len(c.id) for c in skipped)
            reason_width = self.width - len(INDENT) - id_width - 2
            out.append("  skipped:")
            for outcome in skipped:
                reason = _wrap(outcome.reason or "no reason given", reason_width)
                out.append(f"{INDENT}{outcome.id:<{id_width}}  {reason[0]}")
                out += [f"{INDENT}{'':<{id_width}}  {line}" for line in reason[1:]]
        return out

    def summary(self) -> str:
        counts = self.report.summary()
        if not any(counts.values()):
            return "Summary  no findings"
        parts = []
        for severity in sorted(Severity, reverse=True):
            n = counts[severity.label]
            text = f"{n} {severity.label}"
            parts.append(self.paint(text, SEVERITY_COLORS[severity]) if n else text)
        return "Summary  " + ", ".join(parts)


def _wrap(text: str, width: int) -> list[str]:
    """Wrap each line of `text` on spaces; over-long words (ids, URLs) are split rather than overflow."""
    out: list[str] = []
    for line in text.splitlines():
        out += textwrap.wrap(line, width, **WRAP) or [""]
    return out


def _cut(line: str, width: int) -> str:
    """`line` marked as cut short, within `width` columns."""
    return f"{line[: width - 2].rstrip()} …"
