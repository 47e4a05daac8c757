"""`-o table` for each mode: the findings (worst first, the order of the report), a fix's steps, or what collect
wrote. One transformer serves them all (az allows one per command), chosen by the result's shape."""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any


def doctor_table(result: dict[str, Any]) -> list[OrderedDict]:
    if "plan" in result and "action" in result:
        return fix_table(result)
    if "objects" in result and "path" in result:
        return collect_table(result)
    return report_table(result)


def fix_table(run: dict[str, Any]) -> list[OrderedDict]:
    """One row per step of the plan: its verb, target and the command to do it by hand, and after --yes what
    happened to it. Nothing to do is one row saying why."""
    plan = run.get("plan") or {}
    statuses = {s.get("step"): s.get("status", "") for s in ((run.get("result") or {}).get("steps") or ())}
    rows = []
    for number, step in enumerate(plan.get("steps") or (), start=1):
        row = OrderedDict(
            [
                ("Step", number),
                ("Verb", (step.get("request") or {}).get("method", "")),
                ("Target", step.get("target", "")),
                ("Command", step.get("command", "")),
            ]
        )
        row["Status"] = statuses.get(number, "planned" if run.get("mode") == "plan" else "not-attempted")
        rows.append(row)
    if rows:
        return rows
    nothing = [("Step", "-"), ("Verb", "-"), ("Target", "-"), ("Command", plan.get("summary", ""))]
    return [OrderedDict([*nothing, ("Status", run.get("outcome", ""))])]


def collect_table(result: dict[str, Any]) -> list[OrderedDict]:
    return [
        OrderedDict(
            [
                ("Path", result.get("path", "")),
                ("Objects", sum((result.get("objects") or {}).values())),
                ("Azure", sum((result.get("azure") or {}).values())),
                ("Logs", result.get("logs", 0)),
                ("Redacted", result.get("redacted", 0)),
                ("Anonymized", result.get("anonymized", False)),
            ]
        )
    ]


def report_table(result: dict[str, Any]) -> list[OrderedDict]:
    """Rows of severity, check id, resource and title; a clean run says so in one row instead of printing nothing."""
    rows = [
        OrderedDict(
            [
                ("Severity", finding.get("severity", "")),
                ("Check", finding.get("id", "")),
                ("Resource", finding.get("resource", "")),
                ("Title", finding.get("title", "")),
            ]
        )
        for finding in result.get("findings") or ()
    ]
    if rows:
        return rows
    statuses = Counter(c.get("status") for c in result.get("checks") or ())
    counts = ", ".join(f"{statuses[s]} {s}" for s in ("passed", "skipped", "not-applicable") if statuses[s])
    cluster = (result.get("target") or {}).get("cluster", "")
    return [
        OrderedDict(
            [
                ("Severity", "-"),
                ("Check", "-"),
                ("Resource", f"cluster {cluster}" if cluster else "-"),
                ("Title", f"no problems found ({counts or 'no checks ran'})"),
            ]
        )
    ]
