"""GPU nodes that advertise no `nvidia.com/gpu` cannot run GPU pods ("Insufficient nvidia.com/gpu").

Kubelet learns about GPUs only from the NVIDIA device plugin: a DaemonSet (static manifest, Helm chart, GPU
Operator) or, on AKS-managed GPU pools, a service on the node. For every GPU node (N-series VM size or accelerator
label) without the capacity this says why, from Kubernetes data alone: no plugin anywhere, a plugin that cannot
schedule there (taints, nodeSelector, node affinity), a plugin pod that is missing or not ready, or a ready plugin
that finds no GPU (driver). Nodes with the same diagnosis share one finding.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.checks._nodes import (
    EVIDENCE_CAP,
    cluster_meta,
    daemonset_status_evidence,
    label_evidence,
    names_text,
    node_knowledge,
    nodes_resource,
    pod_state,
    require_nodes,
    taint_text,
)
from aksdoctor.checks.base import CheckContext, NotApplicable, check, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import SYSTEM_NAMESPACE
from aksdoctor.model import Evidence, Finding, Fix

DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/use-nvidia-gpu",
    "https://learn.microsoft.com/en-us/azure/aks/aks-managed-gpu-nodes",
    "https://github.com/NVIDIA/k8s-device-plugin",
)
ACTION = "install-gpu-device-plugin"
_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")

# diagnosis kinds
MANAGED = "managed"
NO_PLUGIN = "no-plugin"
BLOCKED = "blocked"
POD_NOT_READY = "pod-not-ready"
NO_POD = "no-pod"
PODS_NOT_VISIBLE = "pods-not-visible"
READY_NO_GPU = "ready-no-gpu"


@dataclass(frozen=True)
class _Blockers:
    """Why one DaemonSet cannot place a pod on one node."""

    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect) not tolerated
    selector: tuple[tuple[str, str], ...] = ()  # nodeSelector pairs the node lacks
    affinity: bool = False  # required node affinity excludes the node

    def __bool__(self) -> bool:
        return bool(self.taints or self.selector or self.affinity)

    def text(self, ds_ref: str) -> str:
        parts = []
        if self.taints:
            taints = ", ".join(taint_text({"key": k, "value": v, "effect": e}) for k, v, e in self.taints)
            parts.append(f"does not tolerate {taints}")
        if self.selector:
            parts.append(f"has nodeSelector {', '.join(f'{k}={v}' for k, v in self.selector)} the node lacks")
        if self.affinity:
            parts.append("has a required node affinity the node does not satisfy")
        return f"{ds_ref} {' and '.join(parts)}"


@dataclass(frozen=True)
class _Diagnosis:
    kind: str
    ds: str = ""  # `namespace/name` of the plugin DaemonSet concerned
    blockers: tuple[tuple[str, _Blockers], ...] = ()  # BLOCKED: per plugin DaemonSet


@dataclass
class _Group:
    """Nodes sharing one diagnosis, and what explaining it needs."""

    ctx: CheckContext
    diagnosis: _Diagnosis
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
    kn = node_knowledge()
    gk = kn["gpu"]
    gpu_nodes = [n for n in require_nodes(ctx) if _gpu_marker(n, gk)]
    if not gpu_nodes:
        raise NotApplicable("no GPU nodes (no NVIDIA N-series VM size, no accelerator=nvidia label)")
    without = [n for n in gpu_nodes if (_capacity(n, gk) or "0") == "0"]
    if not without:
        return
    plugins = [ds for ds in ctx.fact("daemonsets") if _is_device_plugin(ds, gk["device_plugin"])]
    pods = _plugin_pods(ctx)
    defaults = kn["daemonset_default_tolerations"]
    groups: dict[_Diagnosis, list[dict]] = defaultdict(list)
    pod_of: dict[str, dict] = {}
    for node in without:
        diagnosis, pod = _diagnose(node, plugins, pods, defaults, gk)
        groups[diagnosis].append(node)
        if pod:
            pod_of[kube.name(node)] = pod
    by_key = {kube.key(ds): ds for ds in plugins}
    for diagnosis, nodes in groups.items():
        yield _finding(ctx, diagnosis, nodes, by_key, pod_of, gk)


# ---- what a GPU node is, and what a device plugin is ---------------------------------------------------------


def _instance_type(node: Mapping[str, Any], gk: Mapping[str, Any]) -> tuple[str, str] | None:
    labels = kube.labels(node)
    for key in gk["instance_type_labels"]:
        if labels.get(key):
            return key, labels[key]
    return None


def _gpu_marker(node: Mapping[str, Any], gk: Mapping[str, Any]) -> str | None:
    """The label that makes this a GPU node (accelerator label first, then an NVIDIA VM size)."""
    labels = kube.labels(node)
    for key, value in gk["accelerator_labels"].items():
        if labels.get(key) == value:
            return key
    found = _instance_type(node, gk)
    if found and _is_nvidia_size(found[1], gk):
        return found[0]
    return None


def _is_nvidia_size(size: str, gk: Mapping[str, Any]) -> bool:
    if any(re.search(p, size, re.IGNORECASE) for p in gk["vm_size_exclude_patterns"]):
        return False
    return any(re.search(p, size, re.IGNORECASE) for p in gk["vm_size_patterns"])


def _capacity(node: Mapping[str, Any], gk: Mapping[str, Any]) -> str | None:
    value = (kube.status(node).get("capacity") or {}).get(gk["resource"])
    return None if value is None else str(value)


def _is_device_plugin(ds: Mapping[str, Any], dp: Mapping[str, Any]) -> bool:
    name = kube.name(ds)
    if any(m in name for m in dp["exclude_name_markers"]):
        return False
    if any(m in name for m in dp["name_markers"]):
        return True
    template = kube.spec(ds).get("template") or {}
    images = [c.get("image") or "" for c in kube.containers(template)]
    if any(m in image for image in images for m in dp["image_markers"]):
        return True
    labels = {**kube.labels(ds), **kube.labels(template)}
    return any(all(labels.get(k) == v for k, v in sel.items()) for sel in dp["labels"])


def _pod_spec(ds: Mapping[str, Any]) -> Mapping[str, Any]:
    return kube.spec(kube.spec(ds).get("template") or {})


def _plugin_pods(ctx: CheckContext) -> dict[tuple[str, str, str], dict] | None:
    """kube-system pods owned by a DaemonSet, by (namespace, DaemonSet, node); None when pods were not read."""
    try:
        pods = ctx.fact("system_pods")
    except FactUnavailable:
        return None
    index: dict[tuple[str, str, str], dict] = {}
    for pod in pods:
        for owner in kube.meta(pod).get("ownerReferences") or ():
            if owner.get("kind") == "DaemonSet":
                index[(kube.namespace(pod), owner.get("name") or "", kube.spec(pod).get("nodeName") or "")] = pod
    return index


# ---- scheduling: can this DaemonSet put a pod on this node? ------------------------------------------------


def _blockers(ds: Mapping[str, Any], node: Mapping[str, Any], defaults: Sequence[Mapping[str, Any]]) -> _Blockers:
    spec = _pod_spec(ds)
    tolerations = [*(spec.get("tolerations") or ()), *defaults]
    taints = tuple(
        (t.get("key") or "", t.get("value") or "", t.get("effect") or "")
        for t in kube.spec(node).get("taints") or ()
        if t.get("effect") in _BLOCKING_EFFECTS and not kube.tolerates(tolerations, t)
    )
    labels = kube.labels(node)
    selector = tuple((k, v) for k, v in (spec.get("nodeSelector") or {}).items() if labels.get(k) != v)
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    affinity = required is not None and not _node_selector_matches(required, node)
    return _Blockers(taints, selector, affinity)


def _node_selector_matches(selector: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A required NodeSelector: terms are ORed, a term's expressions and fields ANDed; an empty term matches none."""
    labels = kube.labels(node)
    fields = {"metadata.name": kube.name(node)}
    for term in selector.get("nodeSelectorTerms") or ():
        exprs = [(e, labels) for e in term.get("matchExpressions") or ()]
        exprs += [(e, fields) for e in term.get("matchFields") or ()]
        if exprs and all(_requirement_matches(e, values) for e, values in exprs):
            return True
    return False


def _requirement_matches(expr: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    op = expr.get("operator")
    key = expr.get("key") or ""
    wanted = list(expr.get("values") or ())
    present = key in values
    value = values.get(key, "")
    if op == "In":
        return present and value in wanted
    if op == "NotIn":
        return not present or value not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and wanted:
        try:
            have, limit = int(value), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


# ---- diagnosis -------------------------------------------------------------------------------------------


def _diagnose(
    node: Mapping[str, Any],
    plugins: Sequence[Mapping[str, Any]],
    pods: Mapping[tuple[str, str, str], dict] | None,
    defaults: Sequence[Mapping[str, Any]],
    gk: Mapping[str, Any],
) -> tuple[_Diagnosis, dict | None]:
    if gk["managed"]["label"] in kube.labels(node):
        return _Diagnosis(MANAGED), None
    if not plugins:
        return _Diagnosis(NO_PLUGIN), None
    blocked = []
    for ds in plugins:
        why = _blockers(ds, node, defaults)
        if why:
            blocked.append((kube.key(ds), why))
            continue
        ns, name = kube.namespace(ds), kube.name(ds)
        if pods is None or ns != SYSTEM_NAMESPACE:
            return _Diagnosis(PODS_NOT_VISIBLE, kube.key(ds)), None
        pod = pods.get((ns, name, kube.name(node)))
        if pod is None:
            return _Diagnosis(NO_POD, kube.key(ds)), None
        kind = READY_NO_GPU if kube.pod_is_ready(pod) else POD_NOT_READY
        return _Diagnosis(kind, kube.key(ds)), pod
    return _Diagnosis(BLOCKED, blockers=tuple(blocked)), None


def _finding(
    ctx: CheckContext,
    diagnosis: _Diagnosis,
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
        evidence.append(label_evidence(node, _gpu_marker(node, gk) or ""))
        evidence.append(field_evidence("Node", node, f"status.capacity[{gk['resource']}]", _capacity(node, gk)))
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
    meta = cluster_meta(g.ctx)
    if pool and meta:
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
    extra = _missing_tolerations(g.nodes, dp["manifest_tolerations"])
    if extra:
        taints = ", ".join(taint_text(t) for t in extra)
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
    spec = _pod_spec(ds)
    g.evidence.append(field_evidence("DaemonSet", ds, "spec.template.spec.tolerations", _json(spec.get("tolerations"))))
    commands = []
    if why.taints:
        extra = [{"key": k, "value": v, "effect": e} for k, v, e in why.taints]
        tolerations = [*(spec.get("tolerations") or ()), *extra]
        commands.append(_toleration_patch(kube.namespace(ds), kube.name(ds), tolerations))
    if why.selector:
        selector = _json(spec.get("nodeSelector"))
        g.evidence.append(field_evidence("DaemonSet", ds, "spec.template.spec.nodeSelector", selector))
        pairs = [f"{k}={v}" for k, v in why.selector]
        commands.append(shell.command("kubectl", "label", "node", kube.name(g.nodes[0]), *pairs))
    if why.affinity:
        affinity = (spec.get("affinity") or {}).get("nodeAffinity")
        g.evidence.append(field_evidence("DaemonSet", ds, "spec.template.spec.affinity.nodeAffinity", _json(affinity)))
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
    if g.diagnosis.kind == POD_NOT_READY:
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
    MANAGED: _explain_managed,
    NO_PLUGIN: _explain_no_plugin,
    BLOCKED: _explain_blocked,
    POD_NOT_READY: _explain_pod,
    READY_NO_GPU: _explain_pod,
    NO_POD: _explain_no_pod,
    PODS_NOT_VISIBLE: _explain_not_visible,
}


# ---- small helpers ----------------------------------------------------------------------------------------


def _missing_tolerations(nodes: Iterable[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Blocking taints on these nodes that the given tolerations do not cover (deduplicated)."""
    seen: dict[tuple[str, str, str], dict] = {}
    for node in nodes:
        for t in kube.spec(node).get("taints") or ():
            if t.get("effect") in _BLOCKING_EFFECTS and not kube.tolerates(tolerations, t):
                key = (t.get("key") or "", t.get("value") or "", t.get("effect") or "")
                seen.setdefault(key, {"key": key[0], "value": key[1], "effect": key[2]})
    return list(seen.values())


def _toleration_patch(namespace: str, name: str, tolerations: Sequence[Mapping[str, Any]]) -> str:
    """A strategic-merge patch that sets the full toleration list (lists without merge keys are replaced)."""
    full = [_toleration(t) for t in tolerations]
    patch = {"spec": {"template": {"spec": {"tolerations": full}}}}
    return shell.command("kubectl", "-n", namespace, "patch", "daemonset", name, "-p", _json(patch))


def _toleration(t: Mapping[str, Any]) -> dict[str, str]:
    if "operator" in t:
        return dict(t)
    out = {"key": t["key"], "operator": "Equal" if t.get("value") else "Exists"}
    if t.get("value"):
        out["value"] = t["value"]
    out["effect"] = t["effect"]
    return out


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)
