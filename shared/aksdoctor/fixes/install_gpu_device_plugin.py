"""install-gpu-device-plugin: give GPU nodes that advertise no `nvidia.com/gpu` a device plugin that can run there.

No plugin anywhere: create NVIDIA's DaemonSet (pinned image, knowledge/fixes.yaml) in kube-system, tolerating the
GPU nodes' taints (sku=gpu, spot) and kept off non-GPU nodes by node affinity. A plugin that exists but cannot
schedule on them only because of taints: add the missing tolerations to it rather than run a second plugin
beside it. Nodes of AKS-managed GPU pools are AKS's to fix: explained, never touched. Plugins excluded by their
own nodeSelector or affinity, and plugins that run but find no GPU, are left as they are (the check says why).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from aksdoctor import gpu, knowledge, kube, shell
from aksdoctor.azure.discovery import CLUSTER_LABEL
from aksdoctor.facts import Facts
from aksdoctor.fixes.base import Action, Plan, Step, register
from aksdoctor.sources import kube_writer
from aksdoctor.text import names_text


@register
class InstallGpuDevicePlugin(Action):
    name = "install-gpu-device-plugin"
    title = "Install (or let schedule) the NVIDIA device plugin on GPU nodes"
    addresses = ("gpu.device-plugin-missing",)
    needs = ("nodes", "daemonsets")
    waits = True  # the plugin pods must start and register the GPUs with kubelet

    def plan(self, facts: Facts) -> Plan:
        kn = knowledge.load("nodes")
        gk = kn["gpu"]
        fk = knowledge.load("fixes")["gpu_device_plugin"]
        nodes = facts.get("nodes")
        without = [n for n in nodes if gpu.gpu_marker(n, gk) and (gpu.capacity(n, gk) or "0") == "0"]
        plugins = [ds for ds in facts.get("daemonsets") if gpu.is_device_plugin(ds, gk["device_plugin"])]
        defaults = kn["daemonset_default_tolerations"]
        diagnoses = {kube.name(n): gpu.diagnose(n, plugins, {}, defaults, gk)[0] for n in without}
        kinds = {name: d.kind for name, d in diagnoses.items()}
        managed = [n for n in without if kinds[kube.name(n)] == gpu.MANAGED]
        notes = [_managed_note(managed, gk, fk)] if managed else []
        if not plugins:
            pending = [n for n in without if kinds[kube.name(n)] != gpu.MANAGED]
            steps = (_create_step(pending, gk, fk, defaults),) if pending else ()
            if steps and any(CLUSTER_LABEL in kube.labels(n) for n in nodes):
                notes.append(
                    f"AKS alternative: AKS-managed GPU node pools (preview, az aks nodepool add ... "
                    f"{fk['managed_gpu_flag']}) install and run the device plugin themselves; see "
                    f"{fk['managed_gpu_doc']}."
                )
            return _plan(self, steps, notes, pending, "create")
        blocked = [n for n in without if kinds[kube.name(n)] == gpu.BLOCKED]
        elsewhere = [n for n in without if kinds[kube.name(n)] not in (gpu.MANAGED, gpu.BLOCKED)]
        if elsewhere:
            notes.append(
                f"On {names_text([kube.name(n) for n in elsewhere])} a device plugin can already run: the GPUs are "
                "missing for another reason (plugin pod not ready, driver), which gpu.device-plugin-missing explains."
            )
        ds, fixed, unfixable = _taint_only_target(blocked, plugins, diagnoses)
        for node in unfixable:
            reasons = "; ".join(why.text(f"DaemonSet {key}") for key, why in diagnoses[kube.name(node)].blockers)
            notes.append(f"Not changed for node {kube.name(node)}: {reasons}. Selectors and affinity are left to you.")
        step = _toleration_step(ds, fixed, defaults, fk) if ds is not None else None
        return _plan(self, (step,) if step else (), notes, fixed, "patch")


def _plan(
    action: Action, steps: tuple[Step, ...], notes: list[str], nodes: Sequence[Mapping[str, Any]], how: str
) -> Plan:
    if not steps:
        return action.no_change("No GPU node lacks a device plugin that this action can provide.", notes)
    names = names_text([kube.name(n) for n in nodes])
    if how == "create":
        summary = f"Create the NVIDIA device plugin DaemonSet for {len(nodes)} GPU node(s) ({names})."
        blast = (
            f"One new DaemonSet in kube-system: one device plugin pod on each GPU node (node affinity keeps it off "
            f"other nodes), {len(nodes)} today. It only advertises GPUs to kubelet; running workloads are not touched."
        )
        rollback = "Delete the DaemonSet (the step's rollback command); GPU pods already scheduled keep running."
    else:
        summary = f"Add tolerations to the existing device plugin so it can run on {len(nodes)} GPU node(s) ({names})."
        blast = (
            "The DaemonSet's pod template changes, so it rolls its pods out again (one node at a time); it then adds "
            f"a pod on the {len(nodes)} GPU node(s) it could not reach. Running workloads are not touched."
        )
        rollback = "Patch the old tolerations back (the step's rollback command)."
    return Plan(action.name, summary, steps, blast, rollback, tuple(notes), action.addresses)


def _managed_note(managed: Sequence[Mapping[str, Any]], gk: Mapping[str, Any], fk: Mapping[str, Any]) -> str:
    return (
        f"{names_text([kube.name(n) for n in managed])} are in AKS-managed GPU node pools (label "
        f"{gk['managed']['label']}): AKS runs their driver and device plugin, so nothing is installed for them. Check "
        f"the node conditions ({', '.join(gk['managed']['conditions'])}) and the pool's gpuProfile; see "
        f"{fk['managed_gpu_doc']}."
    )


# ---- create ----------------------------------------------------------------------------------------------


def _create_step(
    nodes: Sequence[Mapping[str, Any]],
    gk: Mapping[str, Any],
    fk: Mapping[str, Any],
    defaults: Sequence[Mapping[str, Any]],
) -> Step:
    manifest = copy.deepcopy(fk["manifest"])
    base = list(fk["base_tolerations"])
    extra = _extra_tolerations(nodes, [*base, *defaults], fk)
    pod_spec = manifest["spec"]["template"]["spec"]
    pod_spec["tolerations"] = [gpu.toleration(t) for t in [*base, *extra]]
    pod_spec["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": _gpu_node_selector(nodes, gk)}
    }
    ns, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    taints = ", ".join(kube.taint_text(t) for t in extra)
    return Step(
        description=f"create DaemonSet {ns}/{name} (image {pod_spec['containers'][0]['image']}"
        + (f"; tolerates {taints})" if taints else ")"),
        target=f"DaemonSet {ns}/{name}",
        request=kube_writer.create_daemonset(manifest),
        command=shell.command("printf", "%s\\n", shell.json_text(manifest))
        + " | "
        + shell.command("kubectl", "create", "-f", "-"),
        rollback=shell.command("kubectl", "-n", ns, "delete", "daemonset", name),
    )


def _extra_tolerations(
    nodes: Sequence[Mapping[str, Any]], have: Sequence[Mapping[str, Any]], fk: Mapping[str, Any]
) -> list[dict]:
    """The blocking taints of these nodes not yet tolerated, minus taints that come and go on any node."""
    transient = set(fk["transient_taints"])
    return [t for t in gpu.missing_tolerations(nodes, have) if t["key"] not in transient]


def _gpu_node_selector(nodes: Sequence[Mapping[str, Any]], gk: Mapping[str, Any]) -> dict[str, Any]:
    """GPU nodes only: any accelerator label, or one of the GPU VM sizes seen (terms are ORed)."""
    terms = [
        {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}
        for key, value in gk["accelerator_labels"].items()
    ]
    sizes: dict[str, set[str]] = {}
    for node in nodes:
        found = gpu.instance_type(node, gk)
        if found and gpu.gpu_marker(node, gk) == found[0]:
            sizes.setdefault(found[0], set()).add(found[1])
    terms += [
        {"matchExpressions": [{"key": key, "operator": "In", "values": sorted(values)}]}
        for key, values in sorted(sizes.items())
    ]
    return {"nodeSelectorTerms": terms}


# ---- patch tolerations -----------------------------------------------------------------------------------


def _taint_only_target(
    blocked: Sequence[Mapping[str, Any]], plugins: Sequence[Mapping[str, Any]], diagnoses: Mapping[str, Any]
) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """One plugin to patch (the one kept out of the most nodes by taints alone), the nodes it then reaches, and the
    nodes no toleration can open up. Patching several plugins could run two on one node."""
    by_key = {kube.key(ds): ds for ds in plugins}
    candidates: Counter[str] = Counter()
    for node in blocked:
        for key, why in diagnoses[kube.name(node)].blockers:
            if why.taints and not why.selector and not why.affinity:
                candidates[key] += 1
    if not candidates:
        return None, [], list(blocked)
    chosen = min(candidates, key=lambda k: (-candidates[k], k))
    fixed, unfixable = [], []
    for node in blocked:
        why = dict(diagnoses[kube.name(node)].blockers).get(chosen)
        (fixed if why and not why.selector and not why.affinity else unfixable).append(node)
    return by_key[chosen], fixed, unfixable


def _toleration_step(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    defaults: Sequence[Mapping[str, Any]],
    fk: Mapping[str, Any],
) -> Step | None:
    """Test the tolerations read (when there are any), then set the full list: a concurrent edit is not lost.
    None when only transient taints keep the plugin out (they go away by themselves)."""
    old = gpu.pod_spec(ds).get("tolerations")
    extra = _extra_tolerations(nodes, [*(old or ()), *defaults], fk)
    if not extra:
        return None
    new = [*(old or ()), *(gpu.toleration(t) for t in extra)]
    path = "/spec/template/spec/tolerations"
    ops: list[dict[str, Any]] = (
        [{"op": "test", "path": path, "value": old}, {"op": "replace", "path": path, "value": new}]
        if old is not None
        else [{"op": "add", "path": path, "value": new}]
    )
    undo = [{"op": "replace", "path": path, "value": old}] if old is not None else [{"op": "remove", "path": path}]
    return kube_writer.patch_daemonset_step(
        ds,
        ops,
        f"add tolerations {', '.join(kube.taint_text(t) for t in extra)} to the device plugin",
        kube_writer.patch_daemonset_command(kube.namespace(ds), kube.name(ds), undo),
    )
