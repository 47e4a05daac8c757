"""GPU nodes that advertise no `nvidia.com/gpu` cannot run GPU pods ("Insufficient nvidia.com/gpu").

Kubelet learns about GPUs only from the NVIDIA device plugin: a DaemonSet (static manifest, Helm chart, GPU
Operator) or, on AKS-managed GPU pools, a service on the node. For every GPU node (N-series VM size or accelerator
label) without the capacity this says why, from Kubernetes data alone: no plugin anywhere, a plugin that cannot
schedule there (taints, nodeSelector, node affinity), a plugin pod that is missing or not ready, or a ready plugin
that finds no GPU (driver). Nodes with the same diagnosis share one finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import gpu, knowledge, kube, shell
from aksdoctor.checks._nodes import EVIDENCE_CAP, daemonset_status_evidence, nodes_resource, pod_state, require_nodes
from aksdoctor.checks.base import CheckContext, NotApplicable, check, field_evidence, label_evidence
from aksdoctor.facts import SYSTEM_NAMESPACE
from aksdoctor.model import Evidence, Finding, Fix
from aksdoctor.text import names_text

DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/use-nvidia-gpu",
    "https://learn.microsoft.com/en-us/azure/aks/aks-managed-gpu-nodes",
    "https://github.com/NVIDIA/k8s-device-plugin",
)
ACTION = "install-gpu-device-plugin"


@dataclass
class _Group:
    """Nodes sharing one diagnosis, and what explaining it needs."""

    ctx: CheckContext
    diagnosis: gpu.Diagnosis
    nodes: Sequence[Mapping[str, Any]]
    plugins: Mapping[str, Mapping[str, Any]]
    pod_of: Mapping[str, dict]
    gk: Mapping[str, Any]
    evidence: list[Evidence]


@check(
    id="gpu.device-plugin-missing",
    title="GPU node advertises no nvidia.com/gpu",
    severity="error",
    scope="cluster",
    needs=("nodes", "daemonsets"),
    optional=("system_pods", "cluster"),
    docs=DOCS,
    fix_action=ACTION,
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    kn = knowledge.load("nodes")
    gk = kn["gpu"]
    gpu_nodes = [n for n in require_nodes(ctx) if gpu.gpu_marker(n, gk)]
    if not gpu_nodes:
        raise NotApplicable("no GPU nodes (no NVIDIA N-series VM size, no accelerator=nvidia label)")
    without = [n for n in gpu_nodes if (gpu.capacity(n, gk) or "0") == "0"]
    if not without:
        return
    plugins = [ds for ds in ctx.fact("daemonsets") if gpu.is_device_plugin(ds, gk["device_plugin"])]
    pods = _plugin_pods(ctx)
    defaults = kn["daemonset_default_tolerations"]
    groups: dict[gpu.Diagnosis, list[dict]] = defaultdict(list)
    pod_of: dict[str, dict] = {}
    for node in without:
        diagnosis, pod = gpu.diagnose(node, plugins, pods, defaults, gk)
        groups[diagnosis].append(node)
        if pod:
            pod_of[kube.name(node)] = pod
    by_key = {kube.key(ds): ds for ds in plugins}
    for diagnosis, nodes in groups.items():
        yield _finding(ctx, diagnosis, nodes, by_key, pod_of, gk)


def _plugin_pods(ctx: CheckContext) -> dict[tuple[str, str, str], dict] | None:
    """kube-system pods owned by a DaemonSet, by (namespace, DaemonSet, node); None when pods were not read."""
    pods = ctx.fact_or("system_pods")
    if pods is None:
        return None
    index: dict[tuple[str, str, str], dict] = {}
    for pod in pods:
        for owner in kube.meta(pod).get("ownerReferences") or ():
            if owner.get("kind") == "DaemonSet":
                index[(kube.namespace(pod), owner.get("name") or "", kube.spec(pod).get("nodeName") or "")] = pod
    return index


# ---- findings --------------------------------------------------------------------------------------------


def _finding(
    ctx: CheckContext,
    diagnosis: gpu.Diagnosis,
    nodes: Sequence[Mapping[str, Any]],
    plugins: Mapping[str, Mapping[str, Any]],
    pod_of: Mapping[str, dict],
    gk: Mapping[str, Any],
) -> Finding:
    names = [kube.name(n) for n in nodes]
    head = (
        f"{len(nodes)} GPU node(s) ({names_text(names)}) advertise no {gk['resource']} "
        f'(status.capacity), so GPU pods cannot schedule there ("Insufficient {gk["resource"]}").'
    )
    evidence: list[Evidence] = []
    for node in nodes[:EVIDENCE_CAP]:
        evidence.append(label_evidence(node, gpu.gpu_marker(node, gk) or ""))
        evidence.append(field_evidence("Node", node, f"status.capacity[{gk['resource']}]", gpu.capacity(node, gk)))
    ds = plugins.get(diagnosis.ds)
    if ds is not None:
        evidence.append(daemonset_status_evidence(ds))
    cause, fix = _EXPLAIN[diagnosis.kind](_Group(ctx, diagnosis, nodes, plugins, pod_of, gk, evidence))
    return ctx.finding(f"{head} {cause}", evidence, fix=fix, resource=nodes_resource(ctx, nodes))


def _explain_managed(g: _Group) -> tuple[str, Fix]:
    label = g.gk["managed"]["label"]
    unhealthy: set[str] = set()
    for node in g.nodes:
        for cond_type in g.gk["managed"]["conditions"]:
            cond = kube.node_condition(node, cond_type)
            if cond and cond.get("status") == "True":
                unhealthy.add(kube.name(node))
                if len(unhealthy) <= EVIDENCE_CAP:
                    message = cond.get("message") or "True"
                    g.evidence.append(field_evidence("Node", node, f"status.conditions[{cond_type}]", message))
    cause = (
        f"They are in AKS-managed GPU node pools (label {label}): AKS runs the driver and the device plugin as "
        "services on the node, and the plugin has not registered any GPU."
    )
    if unhealthy:
        cause += f" Node Problem Detector reports the NVIDIA services unhealthy on {len(unhealthy)} of them."
    first = g.nodes[0]
    commands = [shell.command("kubectl", "describe", "node", kube.name(first))]
    pool = kube.labels(first).get(g.gk["pool_label"])
    meta = g.ctx.cluster_meta()
    if pool and meta.identified:
        commands.append(
            shell.command(
                "az", "aks", "nodepool", "show", "-g", meta.resource_group, "--cluster-name", meta.name,
                "-n", pool, "--query", "gpuProfile",
            )
        )  # fmt: skip
    return cause, Fix(
        "AKS owns these components: check the node's conditions and the pool's gpuProfile; reimage the node or "
        "open a support request if they stay unhealthy.",
        tuple(commands),
    )


def _explain_no_plugin(g: _Group) -> tuple[str, Fix]:
    dp = g.gk["device_plugin"]
    cause = (
        "No NVIDIA device plugin DaemonSet exists in any namespace (looked for the static manifest, Helm chart and "
        "GPU Operator names, images and labels). AKS installs the GPU driver on GPU pools but the device plugin is "
        "yours to deploy unless the pool is AKS-managed GPU."
    )
    commands = [shell.command("kubectl", "apply", "-f", dp["manifest_url"])]
    extra = gpu.missing_tolerations(g.nodes, dp["manifest_tolerations"])
    if extra:
        taints = ", ".join(kube.taint_text(t) for t in extra)
        cause += f" The GPU nodes are tainted ({taints}): the plugin must tolerate that."
        commands.append(
            _toleration_patch(dp["manifest_namespace"], dp["manifest_name"], [*dp["manifest_tolerations"], *extra])
        )
    return cause, Fix(
        "Deploy the NVIDIA device plugin with tolerations for the GPU nodes' taints (or use the NVIDIA GPU Operator).",
        tuple(commands),
        ACTION,
    )


def _explain_blocked(g: _Group) -> tuple[str, Fix]:
    reasons = "; ".join(why.text(f"DaemonSet {key}") for key, why in g.diagnosis.blockers)
    cause = f"The NVIDIA device plugin cannot run there: {reasons}."
    key, why = g.diagnosis.blockers[0]
    ds = g.plugins[key]
    spec = gpu.pod_spec(ds)
    g.evidence.append(
        field_evidence("DaemonSet", ds, "spec.template.spec.tolerations", shell.json_text(spec.get("tolerations")))
    )
    commands = []
    if why.taints:
        extra = [{"key": k, "value": v, "effect": e} for k, v, e in why.taints]
        tolerations = [*(spec.get("tolerations") or ()), *extra]
        commands.append(_toleration_patch(kube.namespace(ds), kube.name(ds), tolerations))
    if why.selector:
        selector = shell.json_text(spec.get("nodeSelector"))
        g.evidence.append(field_evidence("DaemonSet", ds, "spec.template.spec.nodeSelector", selector))
        pairs = [f"{k}={v}" for k, v in why.selector]
        commands.append(shell.command("kubectl", "label", "node", kube.name(g.nodes[0]), *pairs))
    if why.affinity:
        affinity = (spec.get("affinity") or {}).get("nodeAffinity")
        g.evidence.append(
            field_evidence("DaemonSet", ds, "spec.template.spec.affinity.nodeAffinity", shell.json_text(affinity))
        )
        commands.append(
            shell.command(
                "kubectl", "-n", kube.namespace(ds), "get", "daemonset", kube.name(ds),
                "-o", "jsonpath={.spec.template.spec.affinity}",
            )
        )  # fmt: skip
    return cause, Fix(
        "Let the device plugin DaemonSet schedule on the GPU nodes: add tolerations for their taints, and make its "
        "nodeSelector / node affinity match their labels (on AKS, set node labels on the node pool).",
        tuple(commands),
        ACTION,
    )


def _explain_pod(g: _Group) -> tuple[str, Fix]:
    pods = [g.pod_of[kube.name(n)] for n in g.nodes if kube.name(n) in g.pod_of]
    for pod in pods[:EVIDENCE_CAP]:
        g.evidence.append(Evidence("Pod", kube.ref("Pod", pod), pod_state(pod)))
    hints = ", ".join(f'"{h}"' for h in g.gk["device_plugin"]["log_hints"])
    if g.diagnosis.kind == gpu.POD_NOT_READY:
        cause = (
            f"The device plugin pod of DaemonSet {g.diagnosis.ds} on each of them is not ready, so it has not "
            f"registered the GPUs with kubelet. Its log usually names the cause ({hints})."
        )
        summary = "Find why the device plugin pod is not ready (driver, container toolkit, crash loop) and fix it."
    else:
        cause = (
            f"The device plugin pod of DaemonSet {g.diagnosis.ds} is ready on each of them yet advertises no GPU: the "
            "NVIDIA driver is missing (pool created with --gpu-driver none) or the container runtime is not set up "
            f"for NVIDIA; its log says which ({hints})."
        )
        summary = "Install the NVIDIA driver (or let AKS install it) and check the plugin's log."
    first = pods[0]
    ns = kube.namespace(first)
    return cause, Fix(
        summary,
        (
            shell.command("kubectl", "-n", ns, "logs", kube.name(first)),
            shell.command("kubectl", "-n", ns, "describe", "pod", kube.name(first)),
        ),
    )


def _explain_no_pod(g: _Group) -> tuple[str, Fix]:
    ds = g.plugins[g.diagnosis.ds]
    cause = (
        f"DaemonSet {g.diagnosis.ds} may run there (its tolerations and selectors allow it) but has no pod on them: "
        "its events say why pods were not created (admission, quota, a recent update in progress)."
    )
    return cause, Fix(
        "Look at the DaemonSet's events and rollout.",
        (shell.command("kubectl", "-n", kube.namespace(ds), "describe", "daemonset", kube.name(ds)),),
    )


def _explain_not_visible(g: _Group) -> tuple[str, Fix]:
    ds = g.plugins[g.diagnosis.ds]
    ns = kube.namespace(ds)
    where = f"in namespace {ns}, whose pods were not collected" if ns != SYSTEM_NAMESPACE else "but pods were not read"
    cause = (
        f"DaemonSet {g.diagnosis.ds} may run there (its tolerations and selectors allow it), {where}: the state of its "
        "pods on these nodes cannot be seen here."
    )
    return cause, Fix(
        "Check the device plugin pod on these nodes.",
        (
            shell.command(
                "kubectl", "-n", ns, "get", "pods", "-o", "wide",
                "--field-selector", f"spec.nodeName={kube.name(g.nodes[0])}",
            ),
        ),
    )  # fmt: skip


_EXPLAIN = {
    gpu.MANAGED: _explain_managed,
    gpu.NO_PLUGIN: _explain_no_plugin,
    gpu.BLOCKED: _explain_blocked,
    gpu.POD_NOT_READY: _explain_pod,
    gpu.READY_NO_GPU: _explain_pod,
    gpu.NO_POD: _explain_no_pod,
    gpu.PODS_NOT_VISIBLE: _explain_not_visible,
}


# ---- small helpers ----------------------------------------------------------------------------------------


def _toleration_patch(namespace: str, name: str, tolerations: Sequence[Mapping[str, Any]]) -> str:
    """A strategic-merge patch that sets the full toleration list (lists without merge keys are replaced)."""
    full = [gpu.toleration(t) for t in tolerations]
    patch = {"spec": {"template": {"spec": {"tolerations": full}}}}
    return shell.command("kubectl", "-n", namespace, "patch", "daemonset", name, "-p", shell.json_text(patch))
