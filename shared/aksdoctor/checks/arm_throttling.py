"""Azure throttles per subscription and region: one noisy caller slows every controller of every cluster there.

The evidence is spread over events on any object (Services, Nodes, volumes, the autoscaler) and the controller
logs, so this check reads all of them. Only Warning events and log lines that contain a throttling literal go
to the classifier, which keeps it linear on 100,000 events. Counts are aggregated per code and operation group.
A GatewayError with HTTP 429 is a transient Network RP fault, not subscription throttling: reported apart.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure.discovery import CLUSTER_LABEL
from aksdoctor.azure.errors import AzureError, classify
from aksdoctor.checks.base import CheckContext, check, event_evidence, log_evidence
from aksdoctor.facts import LogLine
from aksdoctor.model import Evidence, Finding, Fix, Severity

GROUP_CAP = 5  # groups cited one by one in the evidence
LOG_CAP = 2  # log lines cited per group
DOCS = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling",
    "https://learn.microsoft.com/en-us/troubleshoot/azure/azure-kubernetes/429-too-many-requests-errors",
    "https://cloud-provider-azure.sigs.k8s.io/install/configs/",
)


@dataclass
class _Group:
    """Every sighting of one code (and operation group): how often, where, how recently."""

    error: AzureError
    times: int = 0
    events: int = 0
    objects: set[tuple[str, str, str]] = field(default_factory=set)
    newest: Mapping[str, Any] | None = None
    newest_at: datetime | None = None
    line_count: int = 0
    lines: list[LogLine] = field(default_factory=list)  # the newest few
    retry_after: float = 0.0

    def add_event(self, event: Mapping[str, Any], error: AzureError) -> None:
        self.times += int(event.get("count") or 1)
        self.events += 1
        inv = event.get("involvedObject") or {}
        self.objects.add((inv.get("kind") or "", inv.get("namespace") or "", inv.get("name") or ""))
        when = kube.event_time(event)
        if self.newest is None or (when and (self.newest_at is None or when > self.newest_at)):
            self.newest, self.newest_at = event, when
        self.retry_after = max(self.retry_after, error.retry_after or 0.0)

    def add_line(self, line: LogLine, error: AzureError) -> None:
        self.times += 1
        self.line_count += 1
        self.lines = [*self.lines, line][-LOG_CAP:]  # a log's newest lines are its last ones
        self.retry_after = max(self.retry_after, error.retry_after or 0.0)

    def describe(self) -> str:
        err = self.error
        status = f" (HTTP {err.http_status})" if err.http_status else ""
        extra = [f"operation group {err.operation_group}"] if err.operation_group else []
        extra += [f"limit {err.limit} requests"] if err.limit else []
        extra += [f"retry after up to {self.retry_after:g}s"] if self.retry_after else []
        where = [f"{self.events} event(s) on {len(self.objects)} object(s)"] if self.events else []
        where += [f"{self.line_count} controller log line(s)"] if self.line_count else []
        newest = f", newest {kube.format_time(self.newest_at)}" if self.newest_at else ""
        details = f" [{', '.join(extra)}]" if extra else ""
        return f"{err.code}{status}{details}: {self.times} time(s) in {' and '.join(where)}{newest}"

    def evidence(self) -> list[Evidence]:
        out = [event_evidence(self.newest)] if self.newest is not None else []
        return out + [log_evidence(line) for line in self.lines]


@functools.cache
def _hints() -> tuple[str, ...]:
    return tuple(knowledge.load("error_codes")["throttle_hints"])


def _throttling(text: str, seen: dict[str, list[AzureError]]) -> list[AzureError]:
    """Throttle and GatewayError causes in a text, after the cheap literal test; `seen` memoises repeated texts."""
    low = text.lower()
    if not any(h in low for h in _hints()):
        return []
    if text not in seen:
        seen[text] = [e for e in classify(text) if e.category == "throttle" or _is_gateway_429(e)]
    return seen[text]


def _is_gateway_429(err: AzureError) -> bool:
    return err.code == "GatewayError" and err.http_status == 429


@check(
    id="arm.throttling",
    title="Azure Resource Manager is throttling the cluster's calls",
    severity="warning",
    scope="cluster",
    needs=("events",),
    optional=("provider_logs", "nodes", "cluster"),
    docs=DOCS,
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    """Aggregate throttling from every Warning event and controller log line; advise by cluster type."""
    groups: dict[tuple[str, str], _Group] = {}
    seen: dict[str, list[AzureError]] = {}  # the same message repeats over many objects

    def group(err: AzureError) -> _Group:
        key = (err.code, (err.operation_group or "").lower())
        return groups.setdefault(key, _Group(err))

    for event in ctx.fact("events"):
        if event.get("type") == "Warning":
            for err in _throttling(event.get("message") or "", seen):
                group(err).add_event(event, err)
    for line in _log_lines(ctx):
        for err in _throttling(line.text, seen):
            group(err).add_line(line, err)
    throttled = sorted((g for g in groups.values() if not _is_gateway_429(g.error)), key=lambda g: -g.times)
    gateway = [g for g in groups.values() if _is_gateway_429(g.error)]
    if throttled:
        yield _throttled_finding(ctx, throttled)
    if gateway:
        yield _gateway_finding(ctx, gateway[0])


def _log_lines(ctx: CheckContext) -> Iterator[LogLine]:
    for log in ctx.fact_or("provider_logs", ()):
        for number, text in enumerate(log.text.splitlines(), start=1):
            yield LogLine(log.ref, number, text)


def _throttled_finding(ctx: CheckContext, groups: list[_Group]) -> Finding:
    top = groups[0].error
    cause = (
        f"Azure throttled calls made for this cluster: {'; '.join(g.describe() for g in groups)}. "
        f"{top.meaning[:1].upper()}{top.meaning[1:]}. Throttling is counted per subscription and region (and per "
        "caller), so every controller calling Azure there waits: new load balancers, node scaling and volume "
        "attachments slow down."
    )
    if any((g.error.operation_group or "").lower().startswith("highcost") for g in groups):
        cause += (
            " The HighCostGetVMScaleSet groups are Compute RP reads of VM scale sets, usually from the cluster "
            "autoscaler and the cloud provider listing scale set VMs."
        )
    evidence = [e for g in groups[:GROUP_CAP] for e in g.evidence()]
    return ctx.finding(cause, evidence, fix=_advice(ctx))


def _advice(ctx: CheckContext) -> Fix:
    """What to change depends on who runs the cloud provider: AKS (managed) or the cluster's owner."""
    aks = _is_aks(ctx)
    meta = ctx.cluster_meta()
    common = (
        "Find other tools polling Azure in this subscription (inventory, monitoring, CI scripts) and slow them "
        "down; spread very large fleets over several subscriptions."
    )
    managed = (
        "On AKS the cloud provider is managed: upgrade to a supported Kubernetes version (newer providers cache "
        "more and back off), and raise the cluster autoscaler's scan-interval."
    )
    self_managed = (
        "On a self-managed cluster set useInstanceMetadata: true and tune cloudProviderRateLimit, "
        "cloudProviderRateLimitQPS and cloudProviderRateLimitBucket (and their Write variants) in azure.json, "
        "raise the cluster autoscaler's --scan-interval, and upgrade cloud-provider-azure."
    )
    if aks is False:
        return Fix(f"{self_managed} {common}")
    commands: tuple[str, ...] = ()
    if aks and meta.identified:
        where = ("--resource-group", meta.resource_group, "--name", meta.name)
        commands = (
            shell.command("az", "aks", "get-upgrades", *where, "--output", "table"),
            shell.command("az", "aks", "update", *where, "--cluster-autoscaler-profile", "scan-interval=30s"),
        )
    summary = f"{managed} {common}" if aks else f"{managed} {self_managed} {common}"
    return Fix(summary, commands)


def _gateway_finding(ctx: CheckContext, group: _Group) -> Finding:
    cause = (
        f"Azure answered with GatewayError and HTTP 429: {group.describe()}. This is a transient Network RP "
        "gateway error, not subscription throttling; the provider retries it."
    )
    return ctx.finding(
        cause,
        group.evidence(),
        fix=Fix("Nothing to tune on the cluster; if it persists for hours, open an Azure support request."),
        severity=Severity.INFO,
        docs=("https://github.com/kubernetes-sigs/cloud-provider-azure/issues/792",),
    )


def _is_aks(ctx: CheckContext) -> bool | None:
    """True when nodes carry the AKS cluster label, None when the nodes could not be read."""
    nodes = ctx.fact_or("nodes")
    return any(CLUSTER_LABEL in kube.labels(n) for n in nodes) if nodes else None
