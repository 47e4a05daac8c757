"""A Kubernetes minor outside AKS support gets no fixes (cloud-provider bugs included) and blocks support cases.

AKS supports three GA minors for about a year each; N-3 keeps platform support only; the Premium tier's LTS
adds a year. The release calendar is data (knowledge/aks_versions.yaml); "now" is the snapshot's capture time,
so a snapshot gives the same answer whenever it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from aksdoctor.checks._version import (
    cluster_version,
    get_upgrades_command,
    show_support_plan_command,
    upgrade_command,
    version_evidence,
)
from aksdoctor.checks.base import CheckContext, check
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.versions import SupportStatus, support_status

DOCS = ("https://learn.microsoft.com/azure/aks/supported-kubernetes-versions",)
END_OF_LIFE_NOTICE = timedelta(days=60)  # a supported minor this close to its end of life gets an info finding
SEVERITIES = {
    "end-of-life": Severity.ERROR,
    "platform-support": Severity.WARNING,
    "lts-only": Severity.WARNING,
    "preview/unknown": Severity.INFO,
}


@check(
    id="version.unsupported",
    title="Kubernetes version outside AKS support",
    severity="error",
    scope="cluster",
    needs=("version", "now"),
    optional=("cluster", "nodes"),
    docs=DOCS,
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    text, version = cluster_version(ctx)
    now = ctx.now
    status = support_status(version, now)
    today = now.date()
    evidence = [version_evidence(ctx, text), *_calendar_evidence(status)]
    commands = [get_upgrades_command(ctx), upgrade_command(ctx, status.upgrade_to)]
    target = f"Kubernetes {status.upgrade_to}" if status.upgrade_to else "a supported version"
    summary = f"Upgrade to {target} (see the versions your cluster can upgrade to first)."

    if status.state == "supported":
        if status.end_of_life is None or status.end_of_life - today > END_OF_LIFE_NOTICE:
            return
        days = (status.end_of_life - today).days
        cause = (
            f"AKS support for Kubernetes {status.minor} ends on {status.end_of_life} ({days} days after "
            f"{today.isoformat()}); after that it gets platform support only, then none. Plan the upgrade now."
        )
        yield ctx.finding(cause, evidence, fix=Fix(summary, tuple(commands)), severity=Severity.INFO)
        return
    cause = f"As of {today.isoformat()}: {status.message}"
    if status.state == "lts-only":
        cause += (
            " Kubernetes objects do not show the cluster's tier: it is supported only with the Premium tier's LTS "
            "(support plan AKSLongTermSupport); otherwise it is out of support."
        )
        commands.insert(0, show_support_plan_command(ctx))
        summary = f"Check the cluster is on the Premium tier with LTS, or upgrade to {target}."
    elif status.state == "preview/unknown":
        commands = commands[:1]
        summary = "Check the version against the versions AKS offers (aksdoctor's calendar may be outdated)."
    yield ctx.finding(cause, evidence, fix=Fix(summary, tuple(commands)), severity=SEVERITIES[status.state])


def _calendar_evidence(status: SupportStatus) -> list[Evidence]:
    if status.ga is None or status.end_of_life is None:
        return []
    detail = f"GA {status.ga}, end of life {status.end_of_life}"
    if status.lts_end:
        detail += f", LTS end {status.lts_end}"
    return [Evidence("Version", f"AKS release calendar {status.minor}", detail)]
