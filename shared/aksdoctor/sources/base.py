"""What the engine needs from wherever facts come from: a live cluster, live Azure, or a snapshot.

Each method is one list-shaped read. Implementations raise `FactUnavailable` for a read that cannot be made
(forbidden, not captured) and `UnreachableError` when the whole endpoint is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class LogText:
    """A log (tail) of one container or node journal; `ref` is how evidence names it."""

    ref: str
    text: str
    namespace: str = ""
    pod: str = ""
    container: str = ""


@dataclass(frozen=True)
class ClusterMeta:
    """Who the cluster is, as far as the source knows (snapshot.yaml, kubeconfig, ARM)."""

    name: str = ""
    resource_group: str = ""
    subscription_id: str = ""
    node_resource_group: str = ""
    location: str = ""
    kubernetes_version: str = ""
    captured_at: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def identified(self) -> bool:
        """Name and resource group are known: enough for `az aks` commands."""
        return bool(self.name and self.resource_group)


class KubeSource(Protocol):
    def server_version(self) -> str | None: ...

    def get_service(self, namespace: str, name: str) -> dict | None: ...

    def namespace_exists(self, namespace: str) -> bool | None: ...

    def list_services(self) -> list[dict]: ...

    def list_pods(self, namespace: str | None = None, selector: Mapping[str, str] | None = None) -> list[dict]: ...

    def list_endpoint_slices(self, namespace: str | None = None, service: str | None = None) -> list[dict]: ...

    def list_endpoints(self, namespace: str | None = None, name: str | None = None) -> list[dict]: ...

    def list_nodes(self) -> list[dict]: ...

    def list_events(
        self, namespace: str | None = None, involved_kind: str | None = None, involved_name: str | None = None
    ) -> list[dict]: ...

    def list_daemonsets(self) -> list[dict]: ...

    def list_deployments(self, namespace: str | None = None) -> list[dict]: ...

    def controller_logs(self) -> list[LogText]: ...

    def cluster_meta(self) -> ClusterMeta: ...

    def cloud_config(self) -> tuple[str, str]:
        """The Azure cloud provider's config as (where it was found, its YAML or JSON text): azure.json or the
        kube-system/azure-cloud-provider secret's `cloud-config`. It holds secrets: never log or print the text."""
        ...


# ---- Azure -----------------------------------------------------------------------------------------------

# Fact kind -> ARM resource type (lower case). One fact, and one list call per resource group, per kind.
AZURE_KINDS: dict[str, str] = {
    "load_balancers": "microsoft.network/loadbalancers",
    "public_ips": "microsoft.network/publicipaddresses",
    "network_security_groups": "microsoft.network/networksecuritygroups",
    "network_interfaces": "microsoft.network/networkinterfaces",
    "virtual_networks": "microsoft.network/virtualnetworks",
    "route_tables": "microsoft.network/routetables",
    "vm_scale_sets": "microsoft.compute/virtualmachinescalesets",
    "vmss_vms": "microsoft.compute/virtualmachinescalesets/virtualmachines",
    "virtual_machines": "microsoft.compute/virtualmachines",
    "managed_clusters": "microsoft.containerservice/managedclusters",
    "locks": "microsoft.authorization/locks",
    "role_assignments": "microsoft.authorization/roleassignments",
}


@dataclass(frozen=True)
class AzureScope:
    """Where the cluster's Azure resources live, discovered from node providerIDs, labels and Service annotations.

    `resource_groups` are the groups to list in: the node resource group first, then groups that Services name
    (`azure-load-balancer-resource-group`) and the VNet's group. All names as found (ARM is case-insensitive).
    """

    subscription_id: str = ""
    node_resource_group: str = ""
    resource_groups: tuple[str, ...] = ()
    cluster_name: str = ""
    cluster_resource_group: str = ""
    vm_set_type: str = ""  # "vmss", "vmas" or "" (unknown / mixed)
    evidence: tuple[str, ...] = ()  # how each part was found, for notes and findings


class AzureSource(Protocol):
    def resources(self, kind: str, scope: AzureScope) -> list[dict]:
        """ARM resources of one kind (a key of AZURE_KINDS) in the scope, in REST shape (see azure/resources.py)."""
        ...

    def graph_objects(self, app_ids: Sequence[str]) -> list[dict]:
        """Microsoft Graph application / servicePrincipal objects for these app (client) ids."""
        ...
