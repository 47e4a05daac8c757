"""Select checks, prefetch the facts they need, run each one isolated, and assemble the report.

A crash inside one check becomes a visible `skipped: internal error` outcome, never the end of the run.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import __version__, kube
from aksdoctor.checks import all_checks
from aksdoctor.checks.base import Check, CheckContext, NotApplicable, ServiceContext, Skipped
from aksdoctor.errors import BadInputError, FactUnavailable, UsageError
from aksdoctor.facts import Facts, Progress
from aksdoctor.model import CheckOutcome, Finding, Report, Severity, Status

log = logging.getLogger(__name__)


def select_checks(scope: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Check]:
    """Checks for a scope, narrowed by `--check` / `--skip` (ids or glob patterns such as `lb.*`)."""
    catalog = all_checks()
    for pattern in [*include, *exclude]:
        if not any(fnmatch.fnmatchcase(cid, pattern) for cid in catalog):
            raise UsageError(f"unknown check id {pattern!r} (see: checks)")
    chosen = [c for c in catalog.values() if c.applies_to(scope)]
    if include:
        chosen = [c for c in chosen if any(fnmatch.fnmatchcase(c.id, p) for p in include)]
    if exclude:
        chosen = [c for c in chosen if not any(fnmatch.fnmatchcase(c.id, p) for p in exclude)]
    return sorted(chosen, key=lambda c: c.id)


@dataclass
class _Tally:
    """Per-check outcomes across Services (cluster scope runs service checks once per Service)."""

    failed: int = 0
    passed: int = 0
    skipped: list[str] | None = None
    not_applicable: list[str] | None = None

    def add(self, status: Status, reason: str = "") -> None:
        if status is Status.FAILED:
            self.failed += 1
        elif status is Status.PASSED:
            self.passed += 1
        elif status is Status.SKIPPED:
            self.skipped = [*(self.skipped or []), reason]
        else:
            self.not_applicable = [*(self.not_applicable or []), reason]

    def outcome(self, check_id: str, subjects: int) -> CheckOutcome:
        if self.failed:
            reason = f"{self.failed} of {subjects} Services" if subjects > 1 else ""
            return CheckOutcome(check_id, Status.FAILED, reason)
        if self.skipped and not self.passed:
            return CheckOutcome(check_id, Status.SKIPPED, _common_reason(self.skipped))
        if self.passed:
            reason = f"skipped for {len(self.skipped)}: {_common_reason(self.skipped)}" if self.skipped else ""
            return CheckOutcome(check_id, Status.PASSED, reason)
        return CheckOutcome(check_id, Status.NOT_APPLICABLE, _common_reason(self.not_applicable or []))


def _common_reason(reasons: list[str]) -> str:
    unique = list(dict.fromkeys(r for r in reasons if r))
    if not unique:
        return ""
    return unique[0] if len(unique) == 1 else f"{unique[0]} (and {len(unique) - 1} other reasons)"


def run(
    facts: Facts,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
    notes: Iterable[str] = (),
) -> Report:
    target = facts.target
    checks = select_checks(target.scope, include, exclude)
    needs = {"services"} | {n for c in checks for n in (*c.needs, *c.optional)}
    facts.prefetch(needs, progress=progress)

    services = _services_under_diagnosis(facts)
    findings: list[Finding] = []
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    # Checks that yield to others ("no more specific cause") run last, so they can see what the others found.
    for chk in sorted(checks, key=lambda c: bool(c.yields_to)):
        if chk.scope == "service":
            for svc in services:
                _run_one(chk, ServiceContext(chk, facts, svc), findings, tallies[chk.id])
            if not services:
                tallies[chk.id].add(Status.NOT_APPLICABLE, "no LoadBalancer Services")
        else:
            _run_one(chk, CheckContext(chk, facts), findings, tallies[chk.id])

    outcomes = [tallies[c.id].outcome(c.id, len(services) if c.scope == "service" else 1) for c in checks]
    findings.sort(key=lambda f: (-f.severity, f.id, f.resource))
    return Report(
        target=target,
        captured_at=_captured_at(facts),
        findings=findings,
        checks=outcomes,
        notes=list(notes),
        tool_version=__version__,
    )


def _services_under_diagnosis(facts: Facts) -> list[dict[str, Any]]:
    target = facts.target
    try:
        services = facts.get("services")
    except FactUnavailable as exc:
        if target.scope == "service":
            raise BadInputError(f"cannot read Service {target.service_key}: {exc.reason}") from None
        return []
    if target.scope == "service":
        if not services:
            raise BadInputError(_service_not_found(facts))
        svc = services[0]
        if not kube.is_load_balancer(svc):
            svc_type = kube.spec(svc).get("type") or "ClusterIP"
            raise BadInputError(
                f"Service {target.service_key} is of type {svc_type}, not LoadBalancer; "
                "aksdoctor lb diagnoses LoadBalancer Services"
            )
    return services


def _service_not_found(facts: Facts) -> str:
    target = facts.target
    exists = facts.kube.namespace_exists(target.namespace) if facts.kube else None
    if exists is False:
        return f"namespace {target.namespace!r} not found"
    return f"Service {target.service_key} not found"


def _run_one(chk: Check, ctx: CheckContext, findings: list[Finding], tally: _Tally) -> None:
    for name in chk.needs:
        reason = ctx.facts.reason(name)
        if reason:
            tally.add(Status.SKIPPED, reason)
            return
    try:
        produced = list(chk.run(ctx) or ())
    except NotApplicable as exc:
        tally.add(Status.NOT_APPLICABLE, exc.reason)
        return
    except Skipped as exc:
        tally.add(Status.SKIPPED, exc.reason)
        return
    except FactUnavailable as exc:
        tally.add(Status.SKIPPED, exc.reason)
        return
    except Exception as exc:  # a bug in one check must not end the run
        log.debug("check %s crashed", chk.id, exc_info=True)
        tally.add(Status.SKIPPED, f"internal error: {type(exc).__name__}: {exc}")
        return
    explained_by = _more_specific(chk, produced, findings)
    if explained_by:
        tally.add(Status.NOT_APPLICABLE, f"explained by {explained_by}")
        return
    findings.extend(produced)
    tally.add(Status.FAILED if produced else Status.PASSED)


def _more_specific(chk: Check, produced: list[Finding], earlier: list[Finding]) -> str | None:
    """The id of an error-level finding, on the same resource, that makes this check's findings redundant."""
    if not (chk.yields_to and produced):
        return None
    resources = {f.resource for f in produced}
    for finding in earlier:
        if (
            finding.resource in resources
            and finding.severity >= Severity.ERROR
            and any(fnmatch.fnmatchcase(finding.id, p) for p in chk.yields_to)
        ):
            return finding.id
    return None


def _captured_at(facts: Facts) -> str:
    try:
        return kube.format_time(facts.now())
    except FactUnavailable:
        return ""
