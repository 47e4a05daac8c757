"""`-o markdown`: the report to paste into a support ticket or an issue.

Captured text (evidence, commands, names) goes in code spans or fenced blocks, so it survives rendering exactly;
prose is escaped only where Markdown would eat it (`<none>` would vanish as an HTML tag, `*` would emphasise).
"""

from __future__ import annotations

import re

from aksdoctor.model import Evidence, Finding, Report
from aksdoctor.render import evidence, path

_PROSE_SPECIALS = re.compile(r"[\\`*<\[\]]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BACKTICKS = re.compile(r"`+")


def render(report: Report) -> str:
    target = report.target
    if target.scope == "service":
        title, subject = f"Service {target.service_key}", f"Service {_code(target.service_key)}"
    else:
        title, subject = f"cluster {target.cluster}".rstrip(), "whole cluster"
    out = [f"# aksdoctor report: {_prose(title)}", ""]
    out += _table(
        ("Field", "Value"),
        [
            ("Target", subject),
            ("Cluster", _code(target.cluster) if target.cluster else ""),
            ("Captured at", report.captured_at),
            ("aksdoctor", report.tool_version),
        ],
    )
    counts = report.summary()
    out += ["", "## Summary", "", ", ".join(f"**{n}** {label}" for label, n in counts.items())]
    if target.scope == "service":
        out += ["", "## Packet path", ""]
        out += _table(
            ("Hop", "Verdict", "Detail"), [(h.name, h.verdict.value, _prose(h.detail)) for h in path.hops(report)]
        )
    if report.findings:
        out += ["", "## Findings"]
        for number, finding in enumerate(report.findings, 1):
            out += ["", *_finding(number, finding)]
    out += ["", "## Checks", ""]
    out += _table(
        ("Check", "Status", "Reason"), [(_code(c.id), c.status.value, _prose(c.reason)) for c in report.checks]
    )
    if report.notes:
        out += ["", "## Notes", "", *(f"- {_prose(note)}" for note in report.notes)]
    return "\n".join(out) + "\n"


def _finding(number: int, finding: Finding) -> list[str]:
    out = [
        f"### {number}. {finding.severity.label.upper()}: {_prose(finding.title)}",
        "",
        f"- **Check:** {_code(finding.id)}",
        f"- **Resource:** {_code(finding.resource)}",
        "",
        f"**Cause:** {_prose(finding.cause)}",
    ]
    if finding.evidence:
        out += ["", "**Evidence:**", ""]
        for item in finding.evidence:
            out += _evidence(item)
    if finding.fix:
        out += ["", f"**Fix:** {_prose(finding.fix.summary)}"]
        if finding.fix.commands:
            out += ["", *_fenced("\n".join(finding.fix.commands), "sh")]
        if finding.fix.action:
            out += ["", f"Fix action: {_code(finding.fix.action)}"]
    if finding.docs:
        out += ["", "**Docs:**", "", *(f"- <{url}>" for url in finding.docs)]
    return out


def _evidence(item: Evidence) -> list[str]:
    source, ref = evidence.label(item)
    lead = f"- {source} {_code(ref)}" if source else f"- {_code(ref)}"
    lines = item.detail.splitlines()
    if len(lines) <= 1:
        return [f"{lead}: {_code(item.detail)}" if item.detail.strip() else lead]
    return [f"{lead}:", *(f"  {line}".rstrip() for line in _fenced(item.detail))]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """A GFM table; cells are already Markdown, so only `|` and line breaks need care here."""

    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(" ".join(c.replace("|", "\\|").split("\n")) for c in cells) + " |"

    return [row(header), "|" + "---|" * len(header), *(row(r) for r in rows)]


def _prose(text: str) -> str:
    return _PROSE_SPECIALS.sub(lambda m: "\\" + m.group(0), text)


def _code(text: str) -> str:
    """A code span that holds `text` exactly, whatever backticks it contains (CommonMark rules)."""
    if not text:
        return ""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fenced(text: str, lang: str = "") -> list[str]:
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return [f"{fence}{lang}", *text.splitlines(), fence]


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0)
