"""Nodes waiting for a reboot with nothing to reboot them, and a kured lock that blocks every reboot.

On the `Unmanaged` node OS channel AKS installs security updates but never reboots for them: kured does. kured
takes turns through a lock annotation on its own DaemonSet; a lock left by a node that no longer exists blocks all
reboots until it expires (`--lock-ttl`) or someone removes it (kured#137, #173, #847). `/var/run/reboot-required`
lives on the node, so only signals that reach the API count here (node conditions, kured's node annotations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aksdoctor import knowledge, kube, kured, shell
from aksdoctor.checks._nodes import EVIDENCE_CAP, daemonset_status_evidence, nodes_resource, require_nodes
from aksdoctor.checks.base import CheckContext, Skipped, check, field_evidence
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.text import names_text

DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/node-updates-kured",
    "https://learn.microsoft.com/en-us/azure/aks/auto-upgrade-node-os-image",
    "https://kured.dev/docs/",
)
ACTION = "release-kured-lock"


@check(
    id="node.reboot-pending",
    title="Node reboots pending or blocked",
    severity="warning",
    scope="cluster",
    needs=("nodes", "daemonsets"),
    optional=("now", "cluster"),
    docs=DOCS,
    fix_action=ACTION,
)
def run(ctx: CheckContext) -> list[Finding]:
    nodes = require_nodes(ctx)
    names = {kube.name(n) for n in nodes}
    daemons = [ds for ds in ctx.fact("daemonsets") if kured.is_kured(ds)]
    now = ctx.fact_or("now")
    findings = [f for ds in daemons for f in _lock_findings(ctx, ds, names, now)]
    waiting = _reboot_signals(nodes, knowledge.load("nodes")["reboot_signals"])
    if waiting:
        finding = _unhandled(ctx, waiting, daemons)
        if finding:
            findings.append(finding)
    if not findings and not daemons:
        raise Skipped(
            "no reboot-required signal visible from the Kubernetes API and no kured: /var/run/reboot-required is "
            "on the node, and whether AKS reboots nodes (node OS upgrade channel) needs Azure data"
        )
    return findings


# ---- the kured lock ---------------------------------------------------------------------------------------


def _lock_findings(ctx: CheckContext, ds: Mapping[str, Any], names: set[str], now: datetime | None) -> list[Finding]:
    kk = kured.settings()
    annotation = kk["lock_annotation"]
    raw = kube.annotations(ds).get(annotation)
    if raw is None:
        return []
    lock_evidence = field_evidence("DaemonSet", ds, f"metadata.annotations[{annotation}]", raw)
    fix = _release_fix(ds)
    locks = kured.parse_locks(raw)
    if locks is None:
        return [
            ctx.finding(
                f"kured's lock annotation {annotation} on DaemonSet {kube.key(ds)} is not valid JSON: every kured "
                "pod fails to read it, so no node is rebooted.",
                [lock_evidence],
                fix=fix,
                resource=kube.ref("DaemonSet", ds),
                severity=Severity.ERROR,
            )
        ]
    findings = []
    for lock in locks:
        holder = kured.holder(lock)
        created = kube.parse_time(lock.get("created"))
        if kured.expired(lock, now):
            continue
        if holder not in names:
            findings.append(_gone_holder(ctx, ds, holder, kured.expires(lock), lock_evidence, fix))
            continue
        held = now - created if now and created else None
        if held is not None and held > timedelta(hours=kk["stuck_lock_hours"]):
            findings.append(_stuck_holder(ctx, ds, holder, created, held, lock_evidence, fix))
    return findings


def _gone_holder(
    ctx: CheckContext,
    ds: Mapping[str, Any],
    holder: str,
    expires: datetime | None,
    lock_evidence: Evidence,
    fix: Fix,
) -> Finding:
    until = (
        f"until the lock expires at {kube.format_time(expires)}"
        if expires
        else "forever: the lock has no TTL (kured runs without --lock-ttl), so only removing it helps"
    )
    cause = (
        f"kured's reboot lock on DaemonSet {kube.key(ds)} is held by node {holder!r}, which no longer exists. Every "
        f'other kured pod logs "Lock already held: {holder}" and reboots nothing, {until}.'
    )
    evidence = [lock_evidence, Evidence("Node", f"Node {holder}", "not in the cluster's node list")]
    severity = Severity.WARNING if expires else Severity.ERROR
    return ctx.finding(cause, evidence, fix=fix, resource=kube.ref("DaemonSet", ds), severity=severity)


def _stuck_holder(
    ctx: CheckContext,
    ds: Mapping[str, Any],
    holder: str,
    created: datetime,
    held: timedelta,
    lock_evidence: Evidence,
    fix: Fix,
) -> Finding:
    hours = held.total_seconds() / 3600
    cause = (
        f"kured's reboot lock on DaemonSet {kube.key(ds)} has been held by node {holder} since "
        f"{kube.format_time(created)} ({hours:.0f} h): its drain or reboot appears stuck (a PodDisruptionBudget "
        "that never allows the eviction is the usual cause), and no other node reboots meanwhile."
    )
    return ctx.finding(
        cause,
        [lock_evidence],
        fix=Fix(
            f"Find what blocks node {holder} (kured's log on it, PodDisruptionBudgets); release the lock once it "
            "is understood.",
            (
                shell.command("kubectl", "get", "pdb", "-A"),
                shell.command("kubectl", "-n", kube.namespace(ds), "logs", f"daemonset/{kube.name(ds)}", "--tail=100"),
                *fix.commands,
            ),
            ACTION,
        ),
        resource=kube.ref("DaemonSet", ds),
    )


def _release_fix(ds: Mapping[str, Any]) -> Fix:
    return Fix(
        "Remove the lock annotation (kured takes it again when a node needs a reboot; with several holders this "
        "releases all of them), and run kured with --lock-ttl (e.g. 30m) so a lock left by a lost node expires.",
        (kured.release_command(ds),),
        ACTION,
    )


# ---- nodes that need a reboot -----------------------------------------------------------------------------


def _reboot_signals(nodes: Sequence[Mapping[str, Any]], signals: Mapping[str, Any]) -> list[tuple[dict, Evidence]]:
    """Nodes with a reboot-required condition (status True) or kured's reboot annotation, with the evidence."""
    found = []
    for node in nodes:
        evidence = None
        for cond_type in signals["conditions"]:
            cond = kube.node_condition(node, cond_type)
            if cond and cond.get("status") == "True":
                detail = f"True ({cond.get('reason') or ''}: {cond.get('message') or ''})"
                evidence = field_evidence("Node", node, f"status.conditions[{cond_type}]", detail)
                break
        if evidence is None:
            for key in signals["annotations"]:
                if key in kube.annotations(node):
                    evidence = field_evidence("Node", node, f"metadata.annotations[{key}]", kube.annotations(node)[key])
                    break
        if evidence is not None:
            found.append((node, evidence))
    return found


def _unhandled(
    ctx: CheckContext, waiting: Sequence[tuple[dict, Evidence]], daemons: Sequence[Mapping[str, Any]]
) -> Finding | None:
    nodes = [n for n, _ in waiting]
    head = f"{len(nodes)} node(s) ({names_text([kube.name(n) for n in nodes])}) report that they need a reboot"
    evidence = [e for _, e in waiting[:EVIDENCE_CAP]]
    if daemons:
        idle = [ds for ds in daemons if _not_ready_everywhere(ds)]
        if not idle:
            return None  # kured is running and will take them in turn
        ds = idle[0]
        evidence.append(daemonset_status_evidence(ds))
        return ctx.finding(
            f"{head}, and kured (DaemonSet {kube.key(ds)}) is not ready on every node, so some of them will not be "
            "rebooted.",
            evidence,
            fix=Fix(
                "Get kured running on every node.",
                (shell.command("kubectl", "-n", kube.namespace(ds), "describe", "daemonset", kube.name(ds)),),
            ),
            resource=nodes_resource(ctx, nodes),
        )
    commands = []
    meta = ctx.cluster_meta()
    if meta.identified:
        group = ("-g", meta.resource_group, "-n", meta.name)
        commands = [
            shell.command("az", "aks", "show", *group, "--query", "autoUpgradeProfile.nodeOsUpgradeChannel"),
            shell.command("az", "aks", "update", *group, "--node-os-upgrade-channel", "NodeImage"),
        ]
    return ctx.finding(
        f"{head}, and no kured DaemonSet runs to reboot them. Whether AKS replaces them depends on the node OS "
        "upgrade channel, which needs Azure data to read: NodeImage and SecurityPatch reimage nodes on AKS's "
        "schedule; Unmanaged and None leave reboots to you.",
        evidence,
        fix=Fix(
            "Use the NodeImage (or SecurityPatch) node OS upgrade channel, or install kured for the Unmanaged channel.",
            tuple(commands),
        ),
        resource=nodes_resource(ctx, nodes),
    )


def _not_ready_everywhere(ds: Mapping[str, Any]) -> bool:
    st = kube.status(ds)
    return (st.get("numberReady") or 0) < (st.get("desiredNumberScheduled") or 0)
