"""Which nodes cloud-provider-azure puts in load balancer backend pools, and why it leaves the others out.

The generic service controller hands the provider every node that is not being deleted, carries no exclusion
label set to a true value, and is not tainted by the cluster autoscaler for deletion. The provider then drops
nodes that carry the exclusion label at all (whatever its value), are labelled unmanaged, are control-plane nodes
(Standard LB, excludeMasterFromStandardLB default true), live in another resource group, or whose providerID is
not an Azure VM. Label and taint names come from knowledge/nodes.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aksdoctor import knowledge, kube
from aksdoctor.azure import providerid
from aksdoctor.azure.discovery import NODE_RG_LABEL
from aksdoctor.checks.base import field_evidence, label_evidence, taint_evidence
from aksdoctor.model import Evidence

LABELLED = "labelled"  # exclusion label present (true or any non-false value)
LABELLED_FALSE = "labelled-false"  # exclusion label with a false value: the provider still excludes the node
UNMANAGED = "unmanaged"  # kubernetes.azure.com/managed=false
CONTROL_PLANE = "control-plane"
AUTOSCALER = "autoscaler"  # ToBeDeletedByClusterAutoscaler taint
DELETING = "deleting"  # metadata.deletionTimestamp set
OTHER_RESOURCE_GROUP = "other-resource-group"  # kubernetes.azure.com/resource-group names another group
NOT_AZURE = "not-azure"  # providerID is not an Azure VM id


@dataclass(frozen=True)
class Exclusion:
    """Why a node is not in any backend pool: a reason code (constants above), a short text, the field that says so."""

    code: str
    text: str
    evidence: Evidence


def control_plane_label(labels: Mapping[str, str]) -> str | None:
    """The label that makes the provider treat a node as control plane (isControlPlaneNode), if any."""
    excl = knowledge.load("nodes")["lb_exclusion"]
    for key in excl["control_plane_labels"]:
        if key in labels:
            return key
    for key, value in excl["control_plane_role"].items():
        if labels.get(key) == value:
            return key
    return None


def pool_exclusions(
    node: Mapping[str, Any], *, exclude_control_plane: bool = True, resource_group: str | None = None
) -> tuple[Exclusion, ...]:
    """Every reason that keeps the node out of the backend pools, most telling first; () when it is eligible.

    `exclude_control_plane`: Standard LB with excludeMasterFromStandardLB (the default). `resource_group`: the
    provider's resource group, when known, to recognise nodes labelled as living in another one.
    """
    data = knowledge.load("nodes")
    excl = data["lb_exclusion"]
    labels = kube.labels(node)
    out: list[Exclusion] = []
    if excl["label"] in labels:
        evidence = label_evidence(node, excl["label"])
        if str(labels[excl["label"]]) in excl["bool_false_values"]:
            out.append(Exclusion(LABELLED_FALSE, "excluded by label (a false value excludes too)", evidence))
        else:
            out.append(Exclusion(LABELLED, "excluded by label", evidence))
    if str(labels.get(excl["unmanaged_label"], "")).lower() == excl["unmanaged_value"]:
        out.append(Exclusion(UNMANAGED, "unmanaged node", label_evidence(node, excl["unmanaged_label"])))
    cp_label = control_plane_label(labels) if exclude_control_plane else None
    if cp_label:
        out.append(Exclusion(CONTROL_PLANE, "control-plane node", label_evidence(node, cp_label)))
    taint = kube.has_taint(node, data["taints"]["autoscaler_deleting"])
    if taint:
        out.append(Exclusion(AUTOSCALER, "being removed by the cluster autoscaler", taint_evidence(node, taint)))
    deleted = kube.meta(node).get("deletionTimestamp")
    if deleted:
        evidence = field_evidence("Node", node, "metadata.deletionTimestamp", deleted)
        out.append(Exclusion(DELETING, "being deleted", evidence))
    node_rg = labels.get(NODE_RG_LABEL)
    if resource_group and node_rg and node_rg.lower() != resource_group.lower():
        text = f"in resource group {node_rg}, not the provider's {resource_group}"
        out.append(Exclusion(OTHER_RESOURCE_GROUP, text, label_evidence(node, NODE_RG_LABEL)))
    value = providerid.provider_id(node)
    if providerid.parse_provider_id(value) is None:
        evidence = field_evidence("Node", node, "spec.providerID", value or None)
        out.append(Exclusion(NOT_AZURE, "not an Azure VM to the provider", evidence))
    return tuple(out)


def pool_exclusion(
    node: Mapping[str, Any], *, exclude_control_plane: bool = True, resource_group: str | None = None
) -> Exclusion | None:
    """The main reason the node is left out of the backend pools, or None when the provider puts it in."""
    found = pool_exclusions(node, exclude_control_plane=exclude_control_plane, resource_group=resource_group)
    return found[0] if found else None


def exclusion_index(
    nodes: Iterable[Mapping[str, Any]], *, resource_group: str | None = None
) -> dict[str, Exclusion | None]:
    """node name -> pool_exclusion, for every node."""
    return {kube.name(n): pool_exclusion(n, resource_group=resource_group) for n in nodes}


def cached_exclusion_index(
    facts: Any, nodes: Iterable[Mapping[str, Any]], *, resource_group: str | None = None
) -> dict[str, Exclusion | None]:
    """exclusion_index built once per run (through `facts.derived`) for all the checks and Services that ask."""
    key = f"azure.pool:exclusions:{(resource_group or '').lower()}"
    return facts.derived(key, lambda: exclusion_index(nodes, resource_group=resource_group))
