"""On AKS the API server reaches kubelets through a tunnel; without it `kubectl logs/exec` and webhooks time out.

konnectivity-agent (before it aks-link, and tunnelfront before that) dials out from the nodes to the control plane.
With no ready agent every API-server-to-kubelet call ends in "dial tcp <node-ip>:10250: i/o timeout". Clusters
with API Server VNet Integration have no tunnel: the API server reaches the nodes directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aksdoctor import kube, shell, tunnel
from aksdoctor.checks._nodes import EVIDENCE_CAP, pod_state
from aksdoctor.checks.base import CheckContext, NotApplicable, Skipped, check, label_evidence
from aksdoctor.model import Evidence, Finding, Fix, Severity

DOCS = (
    "https://learn.microsoft.com/en-us/troubleshoot/azure/azure-kubernetes/connectivity/tunnel-connectivity-issues",
    "https://learn.microsoft.com/en-us/azure/aks/api-server-vnet-integration",
)
ACTION = "restart-tunnel"
SYMPTOM = "Error from server: error dialing backend: dial tcp <node-ip>:10250: i/o timeout"


@check(
    id="tunnel.unhealthy",
    title="AKS tunnel (konnectivity-agent) not healthy",
    severity="error",
    scope="cluster",
    needs=("system_pods",),
    optional=("system_deployments", "nodes", "cluster"),
    docs=DOCS,
    fix_action=ACTION,
)
def run(ctx: CheckContext) -> list[Finding]:
    tk = tunnel.settings()
    pods = ctx.fact("system_pods")
    if not pods:
        raise Skipped("no kube-system pods in the data")
    components = tunnel.components(pods, ctx.fact_or("system_deployments", []))
    if not components:
        node = _aks_node(ctx, tk)
        if node is not None:
            return [_none_found(ctx, node, tk)]
        raise NotApplicable("no tunnel component found: API Server VNet Integration or not AKS")
    return [f for c in components if (f := _assess(ctx, c, tk))]


def _assess(ctx: CheckContext, comp: tunnel.Component, tk: Mapping[str, Any]) -> Finding | None:
    live = comp.live
    ready = [p for p in live if kube.pod_is_ready(p)]
    troubled = tunnel.troubled(live)
    if ready and not troubled:
        return None
    evidence = [Evidence("Pod", kube.ref("Pod", p), pod_state(p)) for p in troubled[:EVIDENCE_CAP]]
    if comp.deployment is not None:
        evidence.insert(0, _deployment_evidence(comp.deployment))
    observed = _observed(troubled)
    likely = (
        f"Likely causes: egress {comp.spec['egress']} blocked (firewall, NSG or route table), an NSG blocking port "
        "10250 inside the VNet, or the agent starved or OOM-killed on an overloaded node."
    )
    if not ready:
        state = "has no pod" if not live else f"has no ready pod ({len(live)} not ready)"
        cause = (
            f"{comp.name} {state} in kube-system, so the API server cannot reach the kubelets: kubectl logs, exec, "
            f'attach, port-forward, metrics and admission webhooks fail with "{SYMPTOM}". {observed}{likely}'
        )
        severity = Severity.ERROR
    else:
        cause = (
            f"{len(troubled)} of {len(live)} {comp.name} pod(s) are unhealthy ({len(ready)} ready): the tunnel "
            f"still works through the ready ones with less capacity, and the same cause may take them down too. "
            f"{observed}{likely}"
        )
        severity = Severity.WARNING
    if comp.name != tk["components"][0]["name"]:
        cause += f" {comp.name} is a legacy tunnel: current AKS versions use {tk['components'][0]['name']}."
    return ctx.finding(cause, evidence, fix=_fix(comp, troubled), resource=_resource(comp), severity=severity)


def _observed(pods: Sequence[Mapping[str, Any]]) -> str:
    """What the pods' states already say, as one sentence each."""
    reasons = {
        (c.get("state") or {}).get("waiting", {}).get("reason")
        for p in pods
        for c in kube.status(p).get("containerStatuses") or ()
    }
    last = {
        ((c.get("lastState") or {}).get("terminated") or {}).get("reason")
        for p in pods
        for c in kube.status(p).get("containerStatuses") or ()
    }
    parts = []
    if "OOMKilled" in last:
        parts.append("Its containers were OOM-killed.")
    if "CrashLoopBackOff" in reasons:
        parts.append("Pods are crash-looping: their log tells whether they reach the control plane.")
    if any(kube.status(p).get("phase") == "Pending" for p in pods):
        parts.append("Pods are Pending (not scheduled or not started).")
    return " ".join(parts) + (" " if parts else "")


def _deployment_evidence(dep: Mapping[str, Any]) -> Evidence:
    st = kube.status(dep)
    detail = (
        f"replicas={st.get('replicas', 0)} readyReplicas={st.get('readyReplicas', 0)} "
        f"availableReplicas={st.get('availableReplicas', 0)}"
    )
    failing = [c.get("message") for c in st.get("conditions") or () if c.get("status") == "False" and c.get("message")]
    if failing:
        detail += "; " + "; ".join(failing)
    return Evidence("Deployment", f"{kube.ref('Deployment', dep)} status", detail)


def _fix(comp: tunnel.Component, troubled: Sequence[Mapping[str, Any]]) -> Fix:
    ns = kube.namespace(comp.deployment) if comp.deployment is not None else "kube-system"
    name = kube.name(comp.deployment) if comp.deployment is not None else comp.name
    selector = comp.spec["pod_labels"][0] if comp.spec["pod_labels"] else None
    logs = (
        shell.command("kubectl", "-n", ns, "logs", "-l", kube.label_selector_text(selector), "--tail=100")
        if selector
        else shell.command("kubectl", "-n", ns, "logs", f"deployment/{name}", "--tail=100")
    )
    commands = [logs]
    if troubled:
        commands.append(shell.command("kubectl", "-n", ns, "describe", "pod", kube.name(troubled[0])))
    elif comp.deployment is not None:
        commands.append(shell.command("kubectl", "-n", ns, "describe", "deployment", name))
    commands.append(shell.command("kubectl", "-n", ns, "rollout", "restart", "deployment", name))
    return Fix(
        "Read the agent's log and pod events for the cause (blocked egress, OOM, scheduling), fix it, then restart "
        "the agents.",
        tuple(commands),
        ACTION,
    )


def _resource(comp: tunnel.Component) -> str:
    if comp.deployment is not None:
        return kube.ref("Deployment", comp.deployment)
    return f"Deployment kube-system/{comp.name}"


def _aks_node(ctx: CheckContext, tk: Mapping[str, Any]) -> dict | None:
    """A node carrying the AKS cluster label, if the nodes were read."""
    return next((n for n in ctx.fact_or("nodes", ()) if tk["aks_cluster_label"] in kube.labels(n)), None)


def _none_found(ctx: CheckContext, node: Mapping[str, Any], tk: Mapping[str, Any]) -> Finding:
    names = ", ".join(c["name"] for c in tk["components"])
    commands: tuple[str, ...] = ()
    meta = ctx.cluster_meta()
    if meta.identified:
        commands = (
            shell.command(
                "az", "aks", "show", "-g", meta.resource_group, "-n", meta.name,
                "--query", "apiServerAccessProfile.enableVnetIntegration",
            ),
        )  # fmt: skip
    return ctx.finding(
        f"The nodes are AKS nodes (label {tk['aks_cluster_label']}) but kube-system has no tunnel component "
        f"({names}). That is expected with API Server VNet Integration (the API server reaches the nodes "
        f'directly); otherwise kubectl logs and exec will time out ("{SYMPTOM}").',
        [label_evidence(node, tk["aks_cluster_label"])],
        fix=Fix("Check whether API Server VNet Integration is enabled.", commands),
        severity=Severity.INFO,
    )
