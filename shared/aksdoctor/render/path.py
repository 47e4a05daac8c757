"""The `lb` result as the path a packet takes, with a verdict at each hop, so the broken hop is seen at a glance.

Each hop is judged from the outcomes of the checks that look at it (HOPS). A failure anywhere on a hop wins;
then a check that could not run (the hop is unknown, not healthy); then a pass; checks that do not apply or
were not run leave the hop unjudged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aksdoctor.model import CheckOutcome, Report, Status

HOPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Service",
        (
            "lb.pending",
            "lb.auth-failed",
            "lb.permission-denied",
            "lb.quota-exceeded",
            "lb.throttled",
            "lb.annotation-invalid",
            "lb.basic-sku",
        ),
    ),
    ("Frontend", ("lb.public-ip-config", "lb.frontend-drift", "lb.ilb-subnet")),
    ("Rule", ("lb.frontend-drift",)),
    ("Probe", ("lb.probe-mismatch", "lb.etp-local")),
    ("Backend pool", ("lb.backend-pool-empty", "node.excluded-from-lb", "node.virtual-not-excluded")),
    ("NSG", ("lb.nsg-blocks-traffic",)),
    ("Node", ("node.not-cloud-initialized", "node.vm-missing", "node.vm-unhealthy")),
    ("Pod", ("lb.no-endpoints", "lb.target-port-mismatch", "lb.no-readiness-probe")),
)


class Verdict(enum.Enum):
    """The glyph shown for a hop."""

    FAILED = "✗"
    PASSED = "✓"
    UNKNOWN = "?"
    UNJUDGED = "–"


@dataclass(frozen=True)
class Hop:
    name: str
    verdict: Verdict
    detail: str


def hops(report: Report) -> list[Hop]:
    """The verdict and a one-line reason for every hop, in packet order."""
    outcomes = {c.id: c for c in report.checks}
    titles: dict[str, str] = {}
    for finding in report.findings:  # findings come worst first: keep the first title per check
        titles.setdefault(finding.id, finding.title)
    return [_judge(name, [outcomes[i] for i in ids if i in outcomes], titles) for name, ids in HOPS]


def _judge(name: str, outcomes: list[CheckOutcome], titles: dict[str, str]) -> Hop:
    by_status: dict[Status, list[CheckOutcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    failed = by_status.get(Status.FAILED, [])
    skipped = by_status.get(Status.SKIPPED, [])
    passed = by_status.get(Status.PASSED, [])
    not_applicable = by_status.get(Status.NOT_APPLICABLE, [])
    if failed:
        first = failed[0]
        return Hop(name, Verdict.FAILED, f"{titles.get(first.id, 'failed')} ({first.id}){_more(failed)}")
    if skipped:
        first = skipped[0]
        return Hop(name, Verdict.UNKNOWN, f"{first.id} skipped: {first.reason or 'no data'}{_more(skipped)}")
    if passed:
        return Hop(name, Verdict.PASSED, f"{len(passed)} check{'s' if len(passed) > 1 else ''} passed")
    if not_applicable:
        first = not_applicable[0]
        return Hop(name, Verdict.UNJUDGED, f"not applicable: {first.reason or first.id}{_more(not_applicable)}")
    return Hop(name, Verdict.UNJUDGED, "not checked")


def _more(outcomes: list[CheckOutcome]) -> str:
    return f" (+{len(outcomes) - 1} more)" if len(outcomes) > 1 else ""
