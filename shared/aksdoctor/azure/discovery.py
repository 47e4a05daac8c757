"""Find where the cluster's Azure resources live without asking the user: node providerIDs name the subscription
and the node resource group; AKS labels and snapshot metadata fill gaps; Service annotations add the resource
groups of bring-your-own public IPs. So `kubectl aksdoctor lb web` needs no Azure flags in the common case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from aksdoctor import kube
from aksdoctor.azure.providerid import parse_provider_id, provider_id
from aksdoctor.sources.base import AzureScope, ClusterMeta

CLUSTER_LABEL = "kubernetes.azure.com/cluster"  # AKS: the node resource group's name
NODE_RG_LABEL = "kubernetes.azure.com/resource-group"  # a node whose VM lives in another group
RG_ANNOTATIONS = (
    "service.beta.kubernetes.io/azure-load-balancer-resource-group",
    "service.beta.kubernetes.io/azure-pls-resource-group",
)


def discover(
    nodes: Iterable[Mapping[str, Any]],
    services: Iterable[Mapping[str, Any]],
    meta: ClusterMeta,
    *,
    subscription: str | None = None,
    cluster_name: str | None = None,
    cluster_resource_group: str | None = None,
) -> AzureScope:
    """The Azure scope of a cluster; explicit arguments win over what the cluster says."""
    evidence: list[str] = []
    subs: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    kinds: set[str] = set()
    extra_groups: list[str] = []
    for node in nodes:
        parsed = parse_provider_id(provider_id(node))
        if parsed:
            subs[parsed.subscription.lower()] += 1
            groups[parsed.resource_group] += 1
            kinds.add(parsed.kind)
        label_rg = kube.labels(node).get(NODE_RG_LABEL)
        if label_rg:
            extra_groups.append(label_rg)

    sub = subscription or ""
    if sub:
        evidence.append(f"subscription {sub} from --subscription")
    elif subs:
        sub = subs.most_common(1)[0][0]
        evidence.append(f"subscription {sub} from {subs[sub]} node providerID(s)")
    elif meta.subscription_id:
        sub = meta.subscription_id
        evidence.append(f"subscription {sub} from snapshot metadata")

    node_rg = _node_resource_group(groups, nodes, meta, evidence)
    for svc in services:
        for key in RG_ANNOTATIONS:
            value = (kube.annotations(svc).get(key) or "").strip()
            if value:
                extra_groups.append(value)
    ordered = unique_ci([node_rg, *extra_groups])

    name = cluster_name or meta.name
    rg = cluster_resource_group or meta.resource_group
    if not (name and rg) and node_rg:
        parsed_name, parsed_rg = _parse_aks_node_group(node_rg)
        name, rg = name or parsed_name, rg or parsed_rg
        if parsed_name:
            evidence.append(f"cluster {parsed_name} in {parsed_rg} from the node resource group's name (MC_ pattern)")
    vm_set_type = {"vmss": "vmss", "vm": "vmas"}.get(next(iter(kinds)), "") if len(kinds) == 1 else ""
    return AzureScope(
        subscription_id=sub,
        node_resource_group=node_rg,
        resource_groups=tuple(ordered),
        cluster_name=name,
        cluster_resource_group=rg,
        vm_set_type=vm_set_type,
        evidence=tuple(evidence),
    )


def _node_resource_group(
    groups: Counter[str], nodes: Iterable[Mapping[str, Any]], meta: ClusterMeta, evidence: list[str]
) -> str:
    if meta.node_resource_group:
        evidence.append(f"node resource group {meta.node_resource_group} from snapshot metadata")
        return meta.node_resource_group
    labelled = Counter(kube.labels(n).get(CLUSTER_LABEL) for n in nodes if kube.labels(n).get(CLUSTER_LABEL))
    if labelled:
        # The label keeps ARM's casing; providerIDs from IMDS are lower-cased.
        rg = labelled.most_common(1)[0][0] or ""
        evidence.append(f"node resource group {rg} from the {CLUSTER_LABEL} node label")
        return rg
    if groups:
        rg = groups.most_common(1)[0][0]
        evidence.append(f"node resource group {rg} from {groups[rg]} node providerID(s)")
        return rg
    return ""


def _parse_aks_node_group(node_rg: str) -> tuple[str, str]:
    """`MC_<rg>_<cluster>_<region>` -> (cluster, rg) when unambiguous (names with `_` are not)."""
    parts = node_rg.split("_")
    if len(parts) == 4 and parts[0].upper() == "MC":
        return parts[2], parts[1]
    return "", ""


def unique_ci(names: Iterable[str]) -> list[str]:
    """The non-empty names in order, each once, compared case-insensitively (ARM names are)."""
    seen: set[str] = set()
    out = []
    for name in names:
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out
