"""Nodes the Azure cloud provider never initialised are invisible to it: never in a backend pool, no routes.

cloud-node-manager (or the cloud-controller-manager's node controller) sets `spec.providerID` to the VM's resource
id and removes the `uninitialized` taint. An empty, foreign, malformed or hostname providerID means that never
happened, or kubelet registered the node without `--cloud-provider=external`. virtual-kubelet nodes are not VMs
and are left to `node.virtual-not-excluded`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import providerid as pid
from aksdoctor.checks._nodes import EVIDENCE_CAP, nodes_resource, pod_state, require_nodes
from aksdoctor.checks.base import CheckContext, check, field_evidence, taint_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix
from aksdoctor.text import names_text

DOCS = (
    "https://kubernetes.io/docs/tasks/administer-cluster/running-cloud-controller/",
    "https://cloud-provider-azure.sigs.k8s.io/install/azure-ccm/",
)
TAINTED = "tainted"  # providerID fine, uninitialized taint still there
_UNMANAGED_EFFECT = (
    "cloud-provider-azure treats such nodes as unmanaged: they never join a load balancer backend pool "
    "and get no routes."
)
_CAUSES = {
    pid.EMPTY: (
        "have an empty spec.providerID: the cloud provider has not initialised them "
        '("providerID is empty, the node is not initialized yet"). ' + _UNMANAGED_EFFECT + " Usual causes: "
        "cloud-node-manager is not running on them or cannot reach IMDS/ARM, or kubelet was not started with "
        "--cloud-provider=external. cloud-node-manager releases before the 2022 fix also registered an empty "
        "providerID when IMDS failed (cloud-provider-azure#1155)."
    ),
    pid.HOSTNAME: (
        "have their host name as spec.providerID: kubelet registered them without a cloud provider "
        "(or with a hand-set --provider-id). " + _UNMANAGED_EFFECT + " spec.providerID cannot change once set."
    ),
    pid.MALFORMED: (
        "have a spec.providerID that is not an Azure Compute resource id (`azure:///subscriptions/…`); an extra "
        "slash (`azure:////…`) is a known Cluster API Provider Azure bug (cluster-api-provider-azure#1292). "
        + _UNMANAGED_EFFECT
    ),
    pid.FOREIGN: (
        "carry another cloud provider's spec.providerID. " + _UNMANAGED_EFFECT + " If they are not Azure VMs, "
        "label them kubernetes.azure.com/managed=false so the provider skips them by design."
    ),
    TAINTED: (
        "have an Azure providerID but still carry the taint {taint}: the cloud node controller "
        "(cloud-node-manager, or the cloud-controller-manager's node controller) has not finished initialising "
        "them, and pods without a matching toleration cannot schedule there."
    ),
}
_ORDER = (pid.EMPTY, pid.HOSTNAME, pid.MALFORMED, pid.FOREIGN, TAINTED)


@check(
    id="node.not-cloud-initialized",
    title="Node not initialised by the Azure cloud provider",
    severity="error",
    scope="cluster",
    needs=("nodes",),
    optional=("system_pods",),
    docs=DOCS,
    also_in_lb=True,
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    kn = knowledge.load("nodes")
    taint_key = kn["taints"]["uninitialized"]
    excl = kn["lb_exclusion"]
    groups: dict[str, list[dict]] = defaultdict(list)
    for node in require_nodes(ctx):
        status, _ = pid.classify_provider_id(node)
        if status == pid.VIRTUAL:
            continue
        if status == pid.FOREIGN and kube.labels(node).get(excl["unmanaged_label"]) == excl["unmanaged_value"]:
            continue  # declared unmanaged on purpose: node.excluded-from-lb reports it
        if status == pid.OK:
            if kube.has_taint(node, taint_key):
                groups[TAINTED].append(node)
            continue
        groups[status].append(node)
    if not groups:
        return
    cnm_pods = _cloud_node_manager_pods(ctx, kn["cloud_node_manager"]["pod_labels"])
    for status in _ORDER:
        if groups.get(status):
            yield _finding(ctx, status, groups[status], cnm_pods, kn)


def _finding(
    ctx: CheckContext,
    status: str,
    nodes: Sequence[Mapping[str, Any]],
    cnm_pods: dict[str, list[dict]] | None,
    kn: Mapping[str, Any],
) -> Finding:
    taint_key = kn["taints"]["uninitialized"]
    names = [kube.name(n) for n in nodes]
    cause = f"{len(nodes)} node(s) ({names_text(names)}) " + _CAUSES[status].format(taint=taint_key)
    evidence: list[Evidence] = []
    for node in nodes[:EVIDENCE_CAP]:
        value = kube.spec(node).get("providerID")
        evidence.append(field_evidence("Node", node, "spec.providerID", '""' if value == "" else value))
        taint = kube.has_taint(node, taint_key)
        if taint:
            evidence.append(taint_evidence(node, taint))
    tainted = sum(1 for n in nodes if kube.has_taint(n, taint_key))
    if status != TAINTED and tainted:
        cause += f" {tainted} of them still carry the taint {taint_key}."
    cnm_sentence, cnm_evidence = (
        _cnm_state(nodes, cnm_pods) if status in (pid.EMPTY, TAINTED) and cnm_pods is not None else ("", [])
    )
    return ctx.finding(
        cause + cnm_sentence,
        [*evidence, *cnm_evidence],
        fix=_fix(status, nodes[0], cnm_pods, kn),
        resource=nodes_resource(ctx, nodes),
    )


def _cloud_node_manager_pods(ctx: CheckContext, selector: Mapping[str, str]) -> dict[str, list[dict]] | None:
    """cloud-node-manager pods by node name; None when kube-system pods were not read."""
    try:
        pods = ctx.fact("system_pods")
    except FactUnavailable:
        return None
    by_node: dict[str, list[dict]] = defaultdict(list)
    for pod in pods:
        if kube.selector_matches(selector, kube.labels(pod)):
            by_node[kube.spec(pod).get("nodeName") or ""].append(pod)
    return by_node


def _cnm_state(nodes: Sequence[Mapping[str, Any]], cnm_pods: dict[str, list[dict]]) -> tuple[str, list[Evidence]]:
    """What the cloud-node-manager pods say about these nodes."""
    if not cnm_pods:
        return (
            " No cloud-node-manager pod runs in kube-system: unless the cloud-controller-manager runs its node "
            "controller, nothing sets providerID.",
            [],
        )
    missing = [kube.name(n) for n in nodes if not cnm_pods.get(kube.name(n))]
    unready = [p for n in nodes for p in cnm_pods.get(kube.name(n), ()) if not kube.pod_is_ready(p)]
    parts = []
    if missing:
        parts.append(f" No cloud-node-manager pod runs on {names_text(missing)}.")
    if unready:
        parts.append(f" {len(unready)} cloud-node-manager pod(s) on these nodes are not ready.")
    evidence = [Evidence("Pod", kube.ref("Pod", p), pod_state(p)) for p in unready[:EVIDENCE_CAP]]
    return "".join(parts), evidence


def _fix(status: str, first: Mapping[str, Any], cnm_pods: dict[str, list[dict]] | None, kn: Mapping[str, Any]) -> Fix:
    name = kube.name(first)
    show_id = shell.command("kubectl", "get", "node", name, "-o", "jsonpath={.spec.providerID}")
    if status in (pid.EMPTY, TAINTED):
        cnm = kn["cloud_node_manager"]
        ns, selector = cnm["namespace"], kube.label_selector_text(cnm["pod_labels"])
        pods = (cnm_pods or {}).get(name)
        logs = (
            shell.command("kubectl", "-n", kube.namespace(pods[0]), "logs", kube.name(pods[0]))
            if pods
            else shell.command("kubectl", "-n", ns, "logs", "-l", selector, "--tail=100")
        )
        return Fix(
            "Get cloud-node-manager running on these nodes (kubelet must run with --cloud-provider=external); "
            "it sets spec.providerID from IMDS and the cloud node controller then removes the taint.",
            (shell.command("kubectl", "-n", ns, "get", "pods", "-l", selector, "-o", "wide"), logs, show_id),
        )
    if status == pid.FOREIGN:
        excl = kn["lb_exclusion"]
        unmanaged = f"{excl['unmanaged_label']}={excl['unmanaged_value']}"
        return Fix(
            "If these nodes are not Azure VMs, declare them unmanaged; if they are, re-register them with "
            "kubelet --cloud-provider=external (providerID cannot change once set: delete the Node, restart kubelet).",
            (show_id, shell.command("kubectl", "label", "node", name, unmanaged)),
        )
    return Fix(
        "Fix the kubelet flags (--cloud-provider=external, no hand-written --provider-id), then re-register the "
        "node: providerID cannot change once set, so drain it, delete the Node object and restart kubelet.",
        (show_id,),
    )
