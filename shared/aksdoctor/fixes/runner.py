"""Plan, apply, verify, audit: the one way a fix action runs, whichever front-end asked for it.

Without `apply` the run only reads (and the audit names the kubeconfig identity without asking the server).
With it: who we are (one cheap request), each step's outcome, then the checks the action addresses re-run on
fresh facts, polled until they pass or the timeout ends when the action's effect takes time (pods restarting).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aksdoctor import __version__, engine, kube
from aksdoctor.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREACHABLE,
    BadInputError,
    FactUnavailable,
    UnreachableError,
)
from aksdoctor.fixes.base import Action, ApplyResult, FactsFactory, Identity, Plan, Writer
from aksdoctor.model import SCHEMA_VERSION, CheckOutcome, Finding, Severity, Status

PLAN, APPLY = "plan", "apply"
NOTHING_TO_DO = "nothing-to-do"
PLANNED = "planned"
VERIFIED = "verified"
NOT_VERIFIED = "not-verified"
PARTIAL = "partial"
FAILED = "failed"
UNREACHABLE = "unreachable"
_EXIT = {
    NOTHING_TO_DO: EXIT_OK,
    PLANNED: EXIT_OK,
    VERIFIED: EXIT_OK,
    NOT_VERIFIED: EXIT_FINDINGS,
    PARTIAL: EXIT_FINDINGS,
    FAILED: EXIT_FINDINGS,
    UNREACHABLE: EXIT_UNREACHABLE,
}
_PASSING = (Status.PASSED, Status.NOT_APPLICABLE)


@dataclass
class Verification:
    """The addressed checks after the change: passed only when every one passes (or no longer applies)."""

    passed: bool
    checks: list[CheckOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    waited: float = 0.0
    reason: str = ""  # why it could not re-check
    unreachable: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings],
            "waitedSeconds": round(self.waited, 1),
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class FixRun:
    """Everything one `fix` invocation did; `to_dict` is the document `-o json|yaml` prints."""

    action: str
    addresses: tuple[str, ...]
    mode: str  # PLAN or APPLY
    source: str  # "live" or "snapshot"
    cluster: str
    plan: Plan
    identities: list[Identity]
    started_at: datetime
    finished_at: datetime
    result: ApplyResult | None = None
    verification: Verification | None = None

    @property
    def outcome(self) -> str:
        if self.plan.nothing_to_do:
            return NOTHING_TO_DO
        if self.mode == PLAN or self.result is None:
            return PLANNED
        if self.result.unreachable or (self.verification and self.verification.unreachable):
            return UNREACHABLE
        if not self.result.complete:
            return PARTIAL if self.result.status == "partial" else FAILED
        return VERIFIED if self.verification and self.verification.passed else NOT_VERIFIED

    @property
    def exit_code(self) -> int:
        return _EXIT[self.outcome]

    def audit(self) -> dict[str, Any]:
        """What was done, when, by whom, with what result: the record kept for every run."""
        if self.result is not None:
            changes = [o.to_dict() for o in self.result.outcomes]
        else:
            changes = [
                {"step": i + 1, "target": s.target, "request": s.request.line, "status": "planned"}
                for i, s in enumerate(self.plan.steps)
            ]
        return {
            "action": self.action,
            "mode": self.mode,
            "source": self.source,
            "cluster": self.cluster,
            "startedAt": kube.format_time(self.started_at),
            "finishedAt": kube.format_time(self.finished_at),
            "identity": [i.to_dict() for i in self.identities],
            "outcome": self.outcome,
            "changes": changes,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "tool": {"name": "aksdoctor", "version": __version__},
            "action": self.action,
            "addresses": list(self.addresses),
            "mode": self.mode,
            "outcome": self.outcome,
            "plan": self.plan.to_dict(),
            "result": self.result.to_dict() if self.result else None,
            "verification": self.verification.to_dict() if self.verification else None,
            "audit": self.audit(),
        }


def run_fix(
    action: Action,
    facts_factory: FactsFactory,
    *,
    writer: Writer | None,
    apply: bool = False,
    source: str = "live",
    cluster: str = "",
    timeout: float = 120.0,
    interval: float = 2.0,
    on_wait: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FixRun:
    """Plan `action`; with `apply`, send the plan through `writer` and verify. UnreachableError before any write
    ends the run (exit 3); after writes started it is reported in the run instead, with what was done."""
    started = _utcnow()
    facts = facts_factory()
    facts.prefetch(action.needs)
    try:
        plan = action.plan(facts)
    except FactUnavailable as exc:  # what the plan must read is forbidden or not in the snapshot
        raise _cannot_plan(action, exc) from None
    identities = writer.identities(probe=False) if writer else []  # no request: a plan only reads
    run = FixRun(
        action.name, action.addresses, APPLY if apply else PLAN, source, cluster, plan, identities, started, started
    )
    if plan.nothing_to_do:
        run.verification = _check(action, facts, plan, None)
    elif apply:
        if writer is None:
            raise ValueError("applying a plan needs a writer")
        run.identities = writer.identities(probe=True)
        run.result = action.apply(plan, writer)
        if run.result.unreachable:
            run.verification = Verification(False, reason="not re-checked: " + run.result.unreachable)
        else:
            run.verification = _verify(
                action, plan, run.result, facts_factory, timeout, interval, on_wait, clock, sleep
            )
    run.finished_at = _utcnow()
    return run


def _cannot_plan(action: Action, exc: FactUnavailable) -> Exception:
    """Azure out of reach ends the run like an unreachable cluster (exit 3); anything else unreadable is bad input."""
    from aksdoctor.sources.arm_pipeline import Unreachable

    message = f"cannot plan {action.name}: {exc.reason}"
    return UnreachableError(message) if isinstance(exc, Unreachable) else BadInputError(message)


def _check(action: Action, facts: Any, plan: Plan, result: ApplyResult | None) -> Verification:
    report = engine.run(facts, include=action.addresses)
    settled = result is None or action.settled(facts, plan, result)
    # Info findings are history (an error resolved since) or left alone on purpose (shared-group IP candidates).
    serious = {f.id for f in report.findings if f.severity > Severity.INFO}
    passed = settled and all(
        o.status in _PASSING or (o.status is Status.FAILED and o.id not in serious) for o in report.checks
    )
    reason = "" if settled else "the cluster has not caught up with the change yet"
    return Verification(passed, report.checks, report.findings, reason=reason)


def _verify(
    action: Action,
    plan: Plan,
    result: ApplyResult,
    facts_factory: FactsFactory,
    timeout: float,
    interval: float,
    on_wait: Callable[[str], None] | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Verification:
    start = clock()
    deadline = start + (timeout if action.waits else 0.0)
    while True:
        try:
            verification = _check(action, facts_factory(), plan, result)
        except UnreachableError as exc:
            return Verification(False, reason=f"not re-checked: {exc}", waited=clock() - start, unreachable=True)
        verification.waited = clock() - start
        if verification.passed or clock() >= deadline:
            if not verification.passed and action.waits and not verification.reason:
                verification.reason = f"still failing after {timeout:g} s"
            return verification
        if on_wait:
            on_wait(f"waiting for {', '.join(action.addresses)} to pass ({verification.waited:.0f}/{timeout:g} s)")
        sleep(min(interval, max(deadline - clock(), 0.0)))


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
