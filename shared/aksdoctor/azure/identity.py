"""Who the Azure cloud provider signs in as: the AKS managed cluster's `servicePrincipalProfile.clientId` and the
cloud config's `aadClientId` and managed-identity settings.

A service principal has secrets that expire; a managed identity (clientId "msi") and a workload identity
(federated token) have none. Both the `graph_objects` fact and the identity checks ask the same question, so the
answer is computed here from a fact reader (`Facts.get` or a check's `ctx.fact`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor.azure.cloud_config import CloudConfig, rules
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence
from aksdoctor.sources.base import AzureScope

Reader = Callable[[str], Any]


@dataclass(frozen=True)
class ServicePrincipal:
    app_id: str
    evidence: tuple[Evidence, ...]  # the fields that name it (managed cluster, cloud config)


def placeholder() -> str:
    return rules()["managed_identity_placeholder"]


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == placeholder()


def managed_cluster_for(clusters: Sequence[Mapping[str, Any]], scope: AzureScope) -> Mapping[str, Any] | None:
    """This cluster's managed cluster among those listed: by name and resource group, else by node resource group,
    else the only one listed."""
    name, rg = scope.cluster_name.lower(), scope.cluster_resource_group.lower()
    node_rg = scope.node_resource_group.lower()
    for mc in clusters:
        if name and str(mc.get("name", "")).lower() == name and rg in ("", resource_group_of(mc.get("id", "")).lower()):
            return mc
    for mc in clusters:
        if node_rg and str(prop(mc, "nodeResourceGroup") or "").lower() == node_rg:
            return mc
    return clusters[0] if len(clusters) == 1 else None


def cluster_client_id(mc: Mapping[str, Any]) -> str:
    return str((prop(mc, "servicePrincipalProfile") or {}).get("clientId") or "")


def client_id_evidence(mc: Mapping[str, Any]) -> Evidence:
    return Evidence(
        "Azure", f"managedClusters/{mc.get('name', '')} servicePrincipalProfile.clientId", cluster_client_id(mc)
    )


def uses_managed_identity(cfg: CloudConfig) -> bool:
    return cfg.flag("useManagedIdentityExtension")


def uses_workload_identity(cfg: CloudConfig) -> bool:
    return cfg.flag("useFederatedWorkloadIdentityExtension")


def config_app_id(cfg: CloudConfig) -> str:
    """The service principal the config signs in with; "" for a managed or workload identity, or none at all."""
    app_id = cfg.text("aadClientId")
    if not app_id or is_placeholder(app_id) or uses_managed_identity(cfg) or uses_workload_identity(cfg):
        return ""
    return app_id


def managed_cluster(read: Reader) -> Mapping[str, Any] | None:
    """The managed cluster (None on a self-managed cluster); raises FactUnavailable when it cannot be listed."""
    return managed_cluster_for(read("azure_managed_clusters"), read("azure_scope"))


def service_principals(read: Reader) -> list[ServicePrincipal]:
    """The service principals the cluster signs in with ([] for managed identity).

    Raises FactUnavailable when neither the managed cluster nor the cloud config could be read: then nobody can
    tell a managed-identity cluster from one whose secret is about to expire.
    """
    found: dict[str, ServicePrincipal] = {}

    def add(app_id: str, evidence: Evidence) -> None:
        seen = found.get(app_id.lower())
        found[app_id.lower()] = (
            ServicePrincipal(seen.app_id, (*seen.evidence, evidence)) if seen else ServicePrincipal(app_id, (evidence,))
        )

    reasons: list[str] = []
    known = False
    try:
        mc = managed_cluster(read)
    except FactUnavailable as exc:
        reasons.append(f"managed cluster: {exc.reason}")
    else:
        if mc is None:
            reasons.append("no managed cluster of this cluster among those listed")
        else:
            known = True
            client_id = cluster_client_id(mc)
            if client_id and not is_placeholder(client_id):
                add(client_id, client_id_evidence(mc))
    try:
        cfg: CloudConfig = read("cloud_config")
    except FactUnavailable as exc:
        reasons.append(f"cloud config: {exc.reason}")
    else:
        if cfg.problem:
            reasons.append(f"cloud config: {cfg.source} cannot be parsed")
        else:
            known = True
            app_id = config_app_id(cfg)
            if app_id:
                add(app_id, Evidence("Config", cfg.source, cfg.describe("aadClientId")))
    if not known:
        raise FactUnavailable("cannot tell whether the cluster uses a service principal (" + "; ".join(reasons) + ")")
    return list(found.values())
