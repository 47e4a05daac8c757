"""Node providerIDs as cloud-provider-azure reads them, and which nodes it treats as Azure VMs at all.

A node whose providerID does not match `azure:///subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/…`
is "unmanaged" to the provider: never in a backend pool, no routes. Subscription and resource group may be
lower-cased (IMDS lower-cases both), so comparisons are case-insensitive; segment names are matched the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aksdoctor import knowledge, kube

SCHEME = "azure://"
_ARM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/"
    r"(?:virtualMachineScaleSets/(?P<vmss>[^/]+)/virtualMachines/(?P<instance>\d+)"
    r"|virtualMachines/(?P<vm>[^/]+))$",
    re.IGNORECASE,
)
# VMSS Flex VM names: `<scale set>_<8 hex>` (e.g. flexprofile-mp-0_df53ee36).
_FLEX_VM_NAME = re.compile(r"^(?P<vmss>.+)_[0-9a-f]{8}$", re.IGNORECASE)
# AKS VMSS node names: computer-name prefix ending in `vmss` + 6-character base-36 instance id.
_VMSS_NODE_NAME = re.compile(r"^(?P<prefix>.+vmss)(?P<id>[0-9a-z]{6})$", re.IGNORECASE)

# classify_provider_id statuses
OK = "ok"
EMPTY = "empty"
MALFORMED = "malformed"  # azure scheme but not a Compute resource id (e.g. `azure:////…`, CAPZ #1292)
FOREIGN = "foreign"  # another provider's scheme (k3s://, aws:///, kind://…)
HOSTNAME = "hostname"  # kubelet registered without a cloud provider: providerID is the hostname
VIRTUAL = "virtual"  # virtual-kubelet node: not a VM, by design


@dataclass(frozen=True)
class ProviderId:
    """A parsed Azure providerID. `kind` is "vmss" (uniform scale set instance) or "vm".

    "vm" is an availability-set or standalone VM, or a VMSS Flex instance: the id alone cannot tell them apart
    (the VM's `virtualMachineScaleSet` property can); `flex_scale_set` is the scale set a Flex-shaped name suggests.
    """

    raw: str
    subscription: str
    resource_group: str
    kind: str
    scale_set: str  # vmss only
    instance_id: str  # vmss only
    vm_name: str  # vm only
    resource_id: str  # the ARM id, as written

    @property
    def normalized_id(self) -> str:
        """Lower-cased ARM id, for comparing with ids from ARM (casing differs between IMDS and ARM)."""
        return self.resource_id.lower()

    @property
    def flex_scale_set(self) -> str | None:
        if self.kind != "vm":
            return None
        match = _FLEX_VM_NAME.match(self.vm_name)
        return match.group("vmss") if match else None


def parse_provider_id(text: str | None) -> ProviderId | None:
    """Parse `azure:///subscriptions/…`; None for anything the provider would not treat as an Azure VM."""
    if not text or not text.startswith(SCHEME):
        return None
    resource_id = text[len(SCHEME) :]
    match = _ARM_ID.match(resource_id)
    if not match:
        return None
    vmss = match.group("vmss")
    return ProviderId(
        raw=text,
        subscription=match.group("sub"),
        resource_group=match.group("rg"),
        kind="vmss" if vmss else "vm",
        scale_set=vmss or "",
        instance_id=match.group("instance") or "",
        vm_name=match.group("vm") or "",
        resource_id=resource_id,
    )


def vmss_instance_from_node_name(name: str) -> int | None:
    """The VMSS instance id an AKS node name encodes (`…-vmss00000a` → 10); None for other names."""
    match = _VMSS_NODE_NAME.match(name)
    return int(match.group("id"), 36) if match else None


def is_virtual_node(node: Mapping[str, Any]) -> bool:
    """virtual-kubelet nodes (ACI virtual node and others): by label, taint, or agent role plus a VK-like name."""
    vk = knowledge.load("nodes")["virtual_kubelet"]
    labels = kube.labels(node)
    if any(labels.get(k) == v for k, v in vk["labels"].items()):
        return True
    if any(kube.has_taint(node, key) for key in vk["taint_keys"]):
        return True
    has_role = all(labels.get(k) == v for k, v in vk["role_label"].items())
    name = kube.name(node).lower()
    return has_role and any(m in name for m in vk["name_markers"]) and parse_provider_id(provider_id(node)) is None


def provider_id(node: Mapping[str, Any]) -> str:
    return kube.spec(node).get("providerID") or ""


def classify_provider_id(node: Mapping[str, Any]) -> tuple[str, str]:
    """(status, reason): whether cloud-provider-azure will treat this node as an Azure VM, and why not."""
    if is_virtual_node(node):
        return VIRTUAL, "virtual-kubelet node (not an Azure VM)"
    value = provider_id(node)
    if not value:
        return EMPTY, "spec.providerID is empty: the node is not initialized yet"
    if parse_provider_id(value):
        return OK, ""
    if value in _host_names(node):
        return HOSTNAME, f"spec.providerID is the node's hostname {value!r}, not an Azure resource id"
    if value.lower().startswith("azure:"):
        return MALFORMED, f"spec.providerID {value!r} is not `azure:///subscriptions/…/Microsoft.Compute/…`"
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme:
        return FOREIGN, f"spec.providerID {value!r} belongs to another provider ({scheme}://)"
    return MALFORMED, f"spec.providerID {value!r} has no scheme: not an Azure resource id"


def _host_names(node: Mapping[str, Any]) -> set[str]:
    names = {kube.name(node), kube.labels(node).get("kubernetes.io/hostname", "")}
    names.update(a.get("address", "") for a in kube.status(node).get("addresses") or () if a.get("type") == "Hostname")
    return {n for n in names if n}
