"""`-o table`: one row per finding, worst first (the report lists them in that order)."""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any


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
