"""Nodes the Azure provider never puts in a backend pool, and virtual nodes it keeps trying to resolve.

cloud-provider-azure skips a node that carries the exclusion label (any value: the generic service controller
only keeps labelled nodes whose value parses as false, the provider does not look at the value), is labelled
unmanaged, or is a control-plane node; the service controller also drops nodes the cluster autoscaler is deleting.
The legacy `alpha.service-controller.kubernetes.io/exclude-balancer` label is ignored since 1.19. virtual-kubelet
nodes are not VMs: without the exclusion label the provider still tries to map them to one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import pool
from aksdoctor.azure import providerid as pid
from aksdoctor.checks._nodes import EVIDENCE_CAP, nodes_resource, require_nodes
from aksdoctor.checks.base import (
    CheckContext,
    NotApplicable,
    check,
    event_evidence,
    field_evidence,
    label_evidence,
    log_evidence,
    taint_evidence,
)
from aksdoctor.facts import LogLine
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.text import NAME_CAP, names_text

LABEL_DOC = "https://kubernetes.io/docs/reference/labels-annotations-taints/#node-kubernetes-io-exclude-from-external-load-balancers"
AKS_LB_DOC = "https://learn.microsoft.com/en-us/azure/aks/configure-load-balancer-standard"
PROVIDER_LB_DOC = "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/"

LABELLED = pool.LABELLED
LABELLED_FALSE = pool.LABELLED_FALSE
UNMANAGED = pool.UNMANAGED
CONTROL_PLANE = pool.CONTROL_PLANE
AUTOSCALER = pool.AUTOSCALER
LEGACY = "legacy"
_ORDER = (LABELLED, LABELLED_FALSE, UNMANAGED, CONTROL_PLANE, AUTOSCALER, LEGACY)
_LOG_LINES_CAP = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@check(
    id="node.excluded-from-lb",
    title="Nodes excluded from load balancer backend pools",
    severity="info",
    scope="cluster",
    needs=("nodes",),
    optional=("events",),
    docs=(LABEL_DOC, PROVIDER_LB_DOC, AKS_LB_DOC),
    also_in_lb=True,
)
def run_excluded(ctx: CheckContext) -> Iterator[Finding]:
    kn = knowledge.load("nodes")
    excl = kn["lb_exclusion"]
    groups: dict[str, list[tuple[dict, Evidence]]] = defaultdict(list)
    eligible = 0
    for node in require_nodes(ctx):
        status, _ = pid.classify_provider_id(node)
        if status == pid.VIRTUAL:
            continue  # node.virtual-not-excluded
        reasons = _exclusion_reasons(node, excl)
        for reason, evidence in reasons:
            groups[reason].append((node, evidence))
        if status == pid.OK and not {r for r, _ in reasons} - {LEGACY}:
            eligible += 1
    if not groups:
        return
    excluded = {kube.name(n) for r, items in groups.items() if r != LEGACY for n, _ in items}
    escalation, escalation_evidence = _escalation(ctx, excl, eligible, len(excluded))
    for reason in _ORDER:
        items = groups.get(reason)
        if not items:
            continue
        nodes = [n for n, _ in items]
        cause, fix = _describe(reason, nodes, excl, kn)
        evidence = [e for _, e in items[:EVIDENCE_CAP]]
        severity = Severity.INFO
        if escalation and reason != LEGACY:
            cause += escalation
            evidence += escalation_evidence
            severity = Severity.WARNING
        yield ctx.finding(cause, evidence, fix=fix, resource=nodes_resource(ctx, nodes), severity=severity)


@check(
    id="node.virtual-not-excluded",
    title="Virtual node not excluded from load balancers",
    severity="error",
    scope="cluster",
    needs=("nodes",),
    optional=("provider_logs",),
    docs=(LABEL_DOC, "https://learn.microsoft.com/en-us/azure/aks/virtual-nodes", AKS_LB_DOC),
    fix_action="exclude-virtual-nodes",
    also_in_lb=True,
)
def run_virtual(ctx: CheckContext) -> Iterator[Finding]:
    kn = knowledge.load("nodes")
    excl = kn["lb_exclusion"]
    virtual = [n for n in require_nodes(ctx) if pid.is_virtual_node(n)]
    if not virtual:
        raise NotApplicable("no virtual-kubelet nodes")
    bare = [n for n in virtual if excl["label"] not in kube.labels(n)]
    if not bare:
        return
    names = [kube.name(n) for n in bare]
    evidence: list[Evidence] = []
    for node in bare[:EVIDENCE_CAP]:
        evidence.append(_virtual_marker(node, kn))
        evidence.append(label_evidence(node, excl["label"]))
        if excl["legacy_label"] in kube.labels(node):
            evidence.append(label_evidence(node, excl["legacy_label"]))
    lines = _provider_log_lines(ctx, names, kn["virtual_kubelet"]["provider_log_patterns"])
    evidence += [log_evidence(line) for line in lines]
    legacy = [n for n in bare if excl["legacy_label"] in kube.labels(n)]
    cause = (
        f"{len(bare)} virtual-kubelet node(s) ({names_text(names)}) lack the label {excl['label']}. They are not "
        "Azure VMs, yet the provider still tries to map them to one while reconciling backend pools: depending on "
        'its version this fails the Service\'s load balancer sync ("instance not found") or is logged and retried '
        'on every sync ("not a vmss instance").'
    )
    if legacy:
        cause += (
            f" {len(legacy)} of them carry only the legacy label {excl['legacy_label']}, which is ignored since "
            f"Kubernetes {excl['legacy_ignored_since']}."
        )
    if lines:
        cause += " The provider logs show it."
    commands = tuple(
        shell.command("kubectl", "label", "node", name, f"{excl['label']}=true") for name in names[:NAME_CAP]
    )
    fix = Fix(
        f"Label the virtual nodes {excl['label']}=true. On AKS, node-pool nodes get labels through the pool "
        f"(`az aks nodepool update --labels {excl['label']}=true`), the supported way that survives node "
        "re-creation; the virtual node add-on's node is not in a pool and is labelled directly.",
        commands,
        "exclude-virtual-nodes",
    )
    yield ctx.finding(cause, evidence, fix=fix, resource=nodes_resource(ctx, bare))


def _exclusion_reasons(node: Mapping[str, Any], excl: Mapping[str, Any]) -> list[tuple[str, Evidence]]:
    """The pool exclusions this check reports (azure.pool decides them), plus a legacy label that excludes nothing."""
    found = [(e.code, e.evidence) for e in pool.pool_exclusions(node) if e.code in _ORDER]
    labels = kube.labels(node)
    if excl["label"] not in labels and excl["legacy_label"] in labels:
        found.insert(0, (LEGACY, label_evidence(node, excl["legacy_label"])))
    return found


def _describe(
    reason: str, nodes: Sequence[Mapping[str, Any]], excl: Mapping[str, Any], kn: Mapping[str, Any]
) -> tuple[str, Fix | None]:
    names = [kube.name(n) for n in nodes]
    head = f"{len(nodes)} node(s) ({names_text(names)})"
    shown = names[:NAME_CAP]
    label = excl["label"]
    if reason == LABELLED:
        return (
            f"{head} carry the label {label}, so neither the service controller nor cloud-provider-azure puts them "
            "in any load balancer backend pool.",
            Fix(
                "Expected if these nodes should not serve LoadBalancer traffic; otherwise remove the label (on AKS, "
                "from the node pool's labels: `az aks nodepool update --labels ...`).",
                (shell.command("kubectl", "label", "node", *shown, f"{label}-"),),
            ),
        )
    if reason == LABELLED_FALSE:
        return (
            f"{head} carry the label {label} with a false value. The generic service controller keeps them, but "
            "cloud-provider-azure excludes every node that has the label, whatever its value: they are not in "
            "any backend pool.",
            Fix(
                "To include these nodes, remove the label; a false value does not do it.",
                (shell.command("kubectl", "label", "node", *shown, f"{label}-"),),
            ),
        )
    if reason == UNMANAGED:
        key = excl["unmanaged_label"]
        return (
            f"{head} are labelled {key}={excl['unmanaged_value']}: the provider treats them as unmanaged (not "
            "Azure VMs): no backend pool membership, no routes.",
            Fix(
                "Expected for on-premises or other-cloud nodes; if they are Azure VMs, remove the label.",
                (shell.command("kubectl", "label", "node", *shown, f"{key}-"),),
            ),
        )
    if reason == CONTROL_PLANE:
        role = ", ".join([*excl["control_plane_labels"], *(f"{k}={v}" for k, v in excl["control_plane_role"].items())])
        return (
            f"{head} are control-plane nodes: with a Standard load balancer and excludeMasterFromStandardLB "
            f"(default true) the provider keeps them out of backend pools. It treats any of {role} as "
            "control plane, although its docs name only the master label (cloud-provider-azure#5849).",
            Fix(
                "Expected. To include control-plane nodes set excludeMasterFromStandardLB=false in the cloud "
                f"config and remove {label} if kubeadm added it.",
            ),
        )
    if reason == AUTOSCALER:
        return (
            f"{head} carry the taint {kn['taints']['autoscaler_deleting']}: the cluster autoscaler is deleting "
            "them, so the service controller already dropped them from backend pools.",
            None,
        )
    return (
        f"{head} carry the legacy label {excl['legacy_label']}, ignored since Kubernetes "
        f"{excl['legacy_ignored_since']}: it no longer excludes them, they are in the backend pools.",
        Fix(
            f"If they should be excluded, use {label}=true instead; either way drop the legacy label.",
            (
                shell.command("kubectl", "label", "node", *shown, f"{label}=true"),
                shell.command("kubectl", "label", "node", *shown, f"{excl['legacy_label']}-"),
            ),
        ),
    )


def _escalation(ctx: CheckContext, excl: Mapping[str, Any], eligible: int, excluded: int) -> tuple[str, list[Evidence]]:
    """Why exclusion matters here: no node left for any pool, or "no available nodes" events."""
    events = _no_nodes_events(ctx, excl["no_nodes_event_reason"])
    evidence = [event_evidence(e) for e in events[:_LOG_LINES_CAP]]
    if excluded and not eligible:
        return (
            " No node is left for load balancer backend pools: every LoadBalancer Service gets an empty pool.",
            evidence,
        )
    if excluded and events:
        return (
            f' This explains the "{excl["no_nodes_event_reason"]}" events: the service controller found no node '
            "to put in the pool.",
            evidence,
        )
    return "", []


def _no_nodes_events(ctx: CheckContext, reason: str) -> list[dict]:
    found = [e for e in ctx.fact_or("events", ()) if e.get("reason") == reason]
    return sorted(found, key=lambda e: kube.event_time(e) or _EPOCH, reverse=True)


def _virtual_marker(node: Mapping[str, Any], kn: Mapping[str, Any]) -> Evidence:
    """The label or taint that marks the node as virtual-kubelet."""
    vk = kn["virtual_kubelet"]
    labels = kube.labels(node)
    for key, value in vk["labels"].items():
        if labels.get(key) == value:
            return label_evidence(node, key)
    for key in vk["taint_keys"]:
        taint = kube.has_taint(node, key)
        if taint:
            return taint_evidence(node, taint)
    return field_evidence("Node", node, "spec.providerID", pid.provider_id(node) or '""')


def _provider_log_lines(ctx: CheckContext, names: Sequence[str], patterns: Sequence[str]) -> list[LogLine]:
    """Provider log lines that name one of these nodes with an "instance not found"-style error."""
    logs = ctx.fact_or("provider_logs", ())
    lowered = [p.lower() for p in patterns]
    found: list[LogLine] = []
    for log in logs:
        for number, text in enumerate(log.text.splitlines(), start=1):
            low = text.lower()
            if any(p in low for p in lowered) and any(name in text for name in names):
                found.append(LogLine(log.ref, number, text))
                if len(found) >= _LOG_LINES_CAP:
                    return found
    return found
