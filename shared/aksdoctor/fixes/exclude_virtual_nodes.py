"""exclude-virtual-nodes: label the virtual-kubelet nodes `node.virtual-not-excluded` finds, so the Azure provider
stops trying to resolve them as VMs. On AKS a node pool's nodes get labels through the pool (the supported way,
which survives node re-creation); the virtual node add-on's node is in no pool and is labelled directly.
"""

from __future__ import annotations

from collections import defaultdict

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import providerid as pid
from aksdoctor.azure.discovery import CLUSTER_LABEL
from aksdoctor.facts import Facts
from aksdoctor.fixes.base import Action, Plan, Step, register
from aksdoctor.sources import kube_writer
from aksdoctor.sources.base import ClusterMeta


@register
class ExcludeVirtualNodes(Action):
    name = "exclude-virtual-nodes"
    title = "Exclude virtual-kubelet nodes from load balancers"
    addresses = ("node.virtual-not-excluded",)
    needs = ("nodes", "cluster")

    def plan(self, facts: Facts) -> Plan:
        kn = knowledge.load("nodes")
        label = kn["lb_exclusion"]["label"]
        nodes = facts.get("nodes")
        bare = [n for n in nodes if pid.is_virtual_node(n) and label not in kube.labels(n)]
        steps = tuple(
            Step(
                description=f"add the label {label}=true",
                target=kube.ref("Node", node),
                request=kube_writer.label_node(kube.name(node), {label: "true"}),
                command=shell.command("kubectl", "label", "node", kube.name(node), f"{label}=true"),
                rollback=shell.command("kubectl", "label", "node", kube.name(node), f"{label}-"),
            )
            for node in bare
        )
        if not steps:
            return self.no_change("Every virtual-kubelet node already carries the exclusion label.")
        return Plan(
            self.name,
            f"Label {len(steps)} virtual-kubelet node(s) {label}=true.",
            steps,
            blast_radius=(
                f"{len(steps)} Node object(s) get one label, nothing else changes. Virtual nodes are not VMs and were "
                "never in a backend pool, so no load balancer traffic moves; the provider stops trying to map them "
                "to VMs."
            ),
            rollback="Remove the label again (each step's rollback command).",
            notes=tuple(_aks_notes(facts, nodes, bare)),
            addresses=self.addresses,
        )


def _aks_notes(facts: Facts, nodes: list[dict], bare: list[dict]) -> list[str]:
    """On AKS: how to put the label on the node pool for those virtual nodes that belong to one."""
    if not any(CLUSTER_LABEL in kube.labels(n) for n in nodes):
        return []
    label = knowledge.load("nodes")["lb_exclusion"]["label"]
    pool_label = knowledge.load("nodes")["gpu"]["pool_label"]
    pools: dict[str, list[str]] = defaultdict(list)
    for node in bare:
        pool = kube.labels(node).get(pool_label)
        if pool:
            pools[pool].append(kube.name(node))
    notes = [
        "AKS: the virtual node add-on's node belongs to no node pool, so it is labelled directly (this plan). "
        "Nodes of a node pool should get the label through the pool instead: labels set with kubectl are lost "
        "when AKS re-creates the node."
    ]
    meta = facts.get_or("cluster", ClusterMeta())
    for pool, names in sorted(pools.items()):
        if meta.identified:
            command = shell.command(
                "az", "aks", "nodepool", "update", "-g", meta.resource_group, "--cluster-name", meta.name,
                "-n", pool, "--labels", f"{label}=true",
            )  # fmt: skip
            how = f"run: {command} (--labels sets the pool's whole label list: include the labels it already has)"
        else:
            how = f"set {label}=true in the labels of node pool {pool} (az aks nodepool update --labels)"
        notes.append(f"Node(s) {', '.join(names)} belong to AKS node pool {pool}: {how}.")
    return notes
