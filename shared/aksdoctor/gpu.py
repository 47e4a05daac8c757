"""GPU nodes and the NVIDIA device plugin, from Kubernetes data alone: which nodes are GPU nodes, which DaemonSets
are device plugins, and whether a plugin can put a pod on a node (taints, nodeSelector, required node affinity).

The check gpu.device-plugin-missing explains what it finds; the fix install-gpu-device-plugin acts on the same
diagnosis. Label names, VM size patterns and plugin markers come from the `gpu` section of knowledge/nodes.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import kube
from aksdoctor.facts import SYSTEM_NAMESPACE

BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")

# diagnosis kinds
MANAGED = "managed"
NO_PLUGIN = "no-plugin"
BLOCKED = "blocked"
POD_NOT_READY = "pod-not-ready"
NO_POD = "no-pod"
PODS_NOT_VISIBLE = "pods-not-visible"
READY_NO_GPU = "ready-no-gpu"


@dataclass(frozen=True)
class Blockers:
    """Why one DaemonSet cannot place a pod on one node."""

    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect) not tolerated
    selector: tuple[tuple[str, str], ...] = ()  # nodeSelector pairs the node lacks
    affinity: bool = False  # required node affinity excludes the node

    def __bool__(self) -> bool:
        return bool(self.taints or self.selector or self.affinity)

    def text(self, ds_ref: str) -> str:
        parts = []
        if self.taints:
            taints = ", ".join(kube.taint_text({"key": k, "value": v, "effect": e}) for k, v, e in self.taints)
            parts.append(f"does not tolerate {taints}")
        if self.selector:
            parts.append(f"has nodeSelector {', '.join(f'{k}={v}' for k, v in self.selector)} the node lacks")
        if self.affinity:
            parts.append("has a required node affinity the node does not satisfy")
        return f"{ds_ref} {' and '.join(parts)}"


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    ds: str = ""  # `namespace/name` of the plugin DaemonSet concerned
    blockers: tuple[tuple[str, Blockers], ...] = ()  # BLOCKED: per plugin DaemonSet


# ---- what a GPU node is, and what a device plugin is ---------------------------------------------------------


def instance_type(node: Mapping[str, Any], gk: Mapping[str, Any]) -> tuple[str, str] | None:
    labels = kube.labels(node)
    for key in gk["instance_type_labels"]:
        if labels.get(key):
            return key, labels[key]
    return None


def gpu_marker(node: Mapping[str, Any], gk: Mapping[str, Any]) -> str | None:
    """The label that makes this a GPU node (accelerator label first, then an NVIDIA VM size)."""
    labels = kube.labels(node)
    for key, value in gk["accelerator_labels"].items():
        if labels.get(key) == value:
            return key
    found = instance_type(node, gk)
    if found and _is_nvidia_size(found[1], gk):
        return found[0]
    return None


def _is_nvidia_size(size: str, gk: Mapping[str, Any]) -> bool:
    if any(re.search(p, size, re.IGNORECASE) for p in gk["vm_size_exclude_patterns"]):
        return False
    return any(re.search(p, size, re.IGNORECASE) for p in gk["vm_size_patterns"])


def capacity(node: Mapping[str, Any], gk: Mapping[str, Any]) -> str | None:
    value = (kube.status(node).get("capacity") or {}).get(gk["resource"])
    return None if value is None else str(value)


def is_device_plugin(ds: Mapping[str, Any], dp: Mapping[str, Any]) -> bool:
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


def pod_spec(ds: Mapping[str, Any]) -> Mapping[str, Any]:
    return kube.spec(kube.spec(ds).get("template") or {})


# ---- scheduling: can this DaemonSet put a pod on this node? ------------------------------------------------


def blockers(ds: Mapping[str, Any], node: Mapping[str, Any], defaults: Sequence[Mapping[str, Any]]) -> Blockers:
    spec = pod_spec(ds)
    tolerations = [*(spec.get("tolerations") or ()), *defaults]
    taints = tuple(_taint_key(t) for t in _untolerated(node, tolerations))
    labels = kube.labels(node)
    selector = tuple((k, v) for k, v in (spec.get("nodeSelector") or {}).items() if labels.get(k) != v)
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    affinity = required is not None and not _node_selector_matches(required, node)
    return Blockers(taints, selector, affinity)


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


def diagnose(
    node: Mapping[str, Any],
    plugins: Sequence[Mapping[str, Any]],
    pods: Mapping[tuple[str, str, str], dict] | None,
    defaults: Sequence[Mapping[str, Any]],
    gk: Mapping[str, Any],
) -> tuple[Diagnosis, dict | None]:
    if gk["managed"]["label"] in kube.labels(node):
        return Diagnosis(MANAGED), None
    if not plugins:
        return Diagnosis(NO_PLUGIN), None
    blocked = []
    for ds in plugins:
        why = blockers(ds, node, defaults)
        if why:
            blocked.append((kube.key(ds), why))
            continue
        ns, name = kube.namespace(ds), kube.name(ds)
        if pods is None or ns != SYSTEM_NAMESPACE:
            return Diagnosis(PODS_NOT_VISIBLE, kube.key(ds)), None
        pod = pods.get((ns, name, kube.name(node)))
        if pod is None:
            return Diagnosis(NO_POD, kube.key(ds)), None
        kind = READY_NO_GPU if kube.pod_is_ready(pod) else POD_NOT_READY
        return Diagnosis(kind, kube.key(ds)), pod
    return Diagnosis(BLOCKED, blockers=tuple(blocked)), None


# ---- tolerations -----------------------------------------------------------------------------------------


def missing_tolerations(nodes: Iterable[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Blocking taints on these nodes that the given tolerations do not cover (deduplicated)."""
    seen: dict[tuple[str, str, str], dict] = {}
    for node in nodes:
        for t in _untolerated(node, tolerations):
            key = _taint_key(t)
            seen.setdefault(key, {"key": key[0], "value": key[1], "effect": key[2]})
    return list(seen.values())


def _untolerated(node: Mapping[str, Any], tolerations: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The node's NoSchedule / NoExecute taints the tolerations do not cover."""
    return [
        t
        for t in kube.spec(node).get("taints") or ()
        if t.get("effect") in BLOCKING_EFFECTS and not kube.tolerates(tolerations, t)
    ]


def _taint_key(taint: Mapping[str, Any]) -> tuple[str, str, str]:
    return taint.get("key") or "", taint.get("value") or "", taint.get("effect") or ""


def toleration(t: Mapping[str, Any]) -> dict[str, str]:
    if "operator" in t:
        return dict(t)
    out = {"key": t["key"], "operator": "Equal" if t.get("value") else "Exists"}
    if t.get("value"):
        out["value"] = t["value"]
    out["effect"] = t["effect"]
    return out
