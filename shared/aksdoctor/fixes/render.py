"""A fix run as text: the plan (every request and the command to do it by hand), what was done, whether the checks
pass now, and the audit record. json and yaml print FixRun.to_dict(); table and markdown are for people."""

from __future__ import annotations

import json
from typing import Any

from aksdoctor.errors import UsageError
from aksdoctor.fixes.runner import APPLY, NOTHING_TO_DO, FixRun

FORMATS = ("table", "json", "yaml", "markdown")
_HEADLINE = {
    "nothing-to-do": "nothing to do",
    "planned": "dry run: nothing was changed; add --yes to apply",
    "verified": "applied and verified",
    "not-verified": "applied, but the re-check still fails",
    "partial": "partly applied",
    "failed": "not applied: every step failed",
    "unreachable": "stopped: the API became unreachable",
}


def render_fix(run: FixRun, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(run.to_dict(), indent=2) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(run.to_dict(), sort_keys=False, allow_unicode=True)
    if fmt == "table":
        return _text(run, markdown=False)
    if fmt == "markdown":
        return _text(run, markdown=True)
    raise UsageError(f"unknown output format {fmt!r} for fix (expected one of: {', '.join(FORMATS)})")


def _text(run: FixRun, *, markdown: bool) -> str:
    out: list[str] = []
    plan = run.plan

    def heading(text: str) -> None:
        out.append(f"\n### {text}\n" if markdown else f"\n{text}:")

    def code(text: str, indent: str = "     ") -> None:
        out.append(f"```\n{text}\n```" if markdown else f"{indent}{text}")

    title = f"aksdoctor fix {run.action} ({run.source}{', ' + run.cluster if run.cluster else ''})"
    out.append(f"## {title}\n" if markdown else title)
    out.append(f"**{_HEADLINE[run.outcome]}**" if markdown else _HEADLINE[run.outcome])
    out.append(f"Addresses: {', '.join(run.addresses)}")
    out.append(plan.summary)
    if plan.steps:
        heading("Steps")
        for i, step in enumerate(plan.steps, start=1):
            out.append(
                f"{i}. {step.target}: {step.description}" if markdown else f"  {i}. {step.target}: {step.description}"
            )
            request = step.request
            body = f" {json.dumps(request.body, separators=(',', ':'))}" if request.body is not None else ""
            kind = f" ({request.content_type})" if request.body is not None else ""
            code(f"{request.line}{kind}{body}")
            code(f"$ {step.command}")
            if step.rollback:
                code(f"rollback: $ {step.rollback}")
        heading("Blast radius")
        out.append(plan.blast_radius if markdown else f"  {plan.blast_radius}")
        heading("Rollback")
        out.append(plan.rollback if markdown else f"  {plan.rollback}")
    if plan.notes:
        heading("Notes")
        out.extend(f"- {n}" if markdown else f"  - {n}" for n in plan.notes)
    if run.result is not None:
        heading("Result")
        for o in run.result.outcomes:
            detail = f": {o.detail}" if o.detail else ""
            out.append(f"{'- ' if markdown else '  '}{o.index + 1}. {o.status.value:<13} {o.target}{detail}")
    if run.verification is not None and (run.mode == APPLY or run.outcome == NOTHING_TO_DO):
        heading("Re-check" if run.result is not None else "Checks")
        out.extend(_verification(run.verification.to_dict(), markdown))
    heading("Audit")
    code(json.dumps(run.audit(), separators=(",", ":")), indent="  ")
    return "\n".join(out).lstrip("\n") + "\n"


def _verification(doc: dict[str, Any], markdown: bool) -> list[str]:
    bullet = "- " if markdown else "  "
    lines = [
        f"{bullet}{c['id']}: {c['status']}" + (f" ({c['reason']})" if c.get("reason") else "") for c in doc["checks"]
    ]
    lines += [f"{bullet}  still: {f['resource']}: {f['cause']}" for f in doc["findings"]]
    if doc.get("reason"):
        lines.append(f"{bullet}{doc['reason']}")
    return lines
