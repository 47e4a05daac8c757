"""The managed cluster and its credentials from ARM, with failures turned into the az errors users know."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from azure.cli.core.azclierror import (
    AzureConnectionError,
    ForbiddenError,
    ResourceNotFoundError,
    UnauthorizedError,
    ValidationError,
)

from aksdoctor import shell
from aksdoctor.errors import UnreachableError
from aksdoctor.sources.base import ClusterMeta
from aksdoctor.sources.kube_live import KubeLiveSource
from azext_aksdoctor import _client_factory, _kubeconfig

USER_ROLE = "Azure Kubernetes Service Cluster User Role"
ADMIN_ROLE = "Azure Kubernetes Service Cluster Admin Role"
REQUEST_TIMEOUT = 10.0


class ManagedClusterKubeSource(KubeLiveSource):
    """The live Kubernetes source, knowing the cluster's identity from ARM (used to find its Azure resources)."""

    def __init__(self, api_client: Any, meta: ClusterMeta, *, default_namespace: str = "default"):
        super().__init__(
            api_client, default_namespace=default_namespace, cluster_name=meta.name, timeout=REQUEST_TIMEOUT
        )
        self.meta = meta

    def cluster_meta(self) -> ClusterMeta:
        return self.meta


@dataclass(frozen=True)
class LiveCluster:
    """A running managed cluster and a Kubernetes API client on its credentials (in memory)."""

    mc: Any
    resource_group: str
    meta: ClusterMeta
    api: Any  # kubernetes.client.ApiClient
    access: _kubeconfig.ClusterAccess

    def kube_source(self) -> ManagedClusterKubeSource:
        """A new source on the same client: sources cache what they read, and a re-check must not."""
        return ManagedClusterKubeSource(self.api, self.meta, default_namespace=self.access.namespace)

    def azure_overrides(self) -> dict[str, str]:
        """The cluster's identity from ARM, so Azure facts need no discovery from node providerIDs."""
        return {
            "subscription": self.meta.subscription_id,
            "cluster_name": self.mc.name,
            "cluster_resource_group": self.resource_group,
        }


@contextmanager
def live_cluster(
    cli_ctx, resource_group: str, name: str, *, admin: bool, progress: Callable[[str], None]
) -> Iterator[LiveCluster]:
    """ARM for the cluster and its credentials, then an API client on them. The Kubernetes API becoming unreachable
    inside the block ends in the az error that names this cluster's usual reasons (private, authorized IPs)."""
    progress(f"Reading managed cluster {name}")
    mc = get_managed_cluster(cli_ctx, resource_group, name)
    check_running(mc, resource_group)
    progress("Getting cluster credentials")
    access = _kubeconfig.parse_kubeconfig(get_kubeconfig(cli_ctx, resource_group, mc, admin=admin))
    # Entra ID clusters: a token for the AKS server application replaces the kubelogin exec plugin.
    token = _client_factory.aks_server_token(cli_ctx) if access.exec_plugin else ""
    meta = cluster_meta(mc, resource_group, _client_factory.subscription_id(cli_ctx))
    with _kubeconfig.api_client(access, bearer_token=token) as api:
        try:
            yield LiveCluster(mc, resource_group, meta, api, access)
        except UnreachableError as exc:
            raise unreachable_error(str(exc), mc, resource_group) from None


def get_managed_cluster(cli_ctx, resource_group: str, name: str) -> Any:
    from azure.core.exceptions import HttpResponseError

    try:
        return _client_factory.cf_managed_clusters(cli_ctx).get(resource_group, name)
    except HttpResponseError as exc:
        if exc.status_code == 404:
            raise ResourceNotFoundError(_arm_message(exc)) from None
        if exc.status_code == 403:
            raise ForbiddenError(
                _arm_message(exc),
                recommendation="Reading the cluster needs Microsoft.ContainerService/managedClusters/read "
                "(for example the Reader role) on it.",
            ) from None
        raise


def get_kubeconfig(cli_ctx, resource_group: str, mc: Any, *, admin: bool) -> bytes:
    """The cluster user (or admin) kubeconfig, as bytes: never written to a file."""
    from azure.core.exceptions import HttpResponseError

    if admin and mc.disable_local_accounts:
        raise ValidationError(
            f"cluster '{mc.name}' has local accounts disabled, so it has no admin credentials",
            recommendation="Run without --admin: your Entra ID identity is used instead.",
        )
    client = _client_factory.cf_managed_clusters(cli_ctx)
    operation = client.list_cluster_admin_credentials if admin else client.list_cluster_user_credentials
    try:
        result = operation(resource_group, mc.name)
    except HttpResponseError as exc:
        if exc.status_code == 403:
            role = ADMIN_ROLE if admin else USER_ROLE
            kind = "admin" if admin else "user"
            grant = shell.command(
                "az", "role", "assignment", "create", "--assignee", "<your user or app id>", "--role", role,
                "--scope", mc.id,
            )  # fmt: skip
            raise ForbiddenError(
                f"not allowed to list the cluster {kind} credentials of '{mc.name}' (needed to read its Kubernetes "
                f"API): {_arm_message(exc)}",
                recommendation=f"Ask for the '{role}' role on the cluster:\n  {grant}",
            ) from None
        raise
    kubeconfigs = result.kubeconfigs or ()
    if not kubeconfigs or not kubeconfigs[0].value:
        raise ValidationError(f"ARM returned no kubeconfig for cluster '{mc.name}'")
    return bytes(kubeconfigs[0].value)


def cluster_meta(mc: Any, resource_group: str, subscription_id: str) -> ClusterMeta:
    return ClusterMeta(
        name=mc.name,
        resource_group=resource_group,
        subscription_id=subscription_id,
        node_resource_group=mc.node_resource_group or "",
        location=mc.location or "",
        kubernetes_version=mc.current_kubernetes_version or mc.kubernetes_version or "",
    )


def check_running(mc: Any, resource_group: str) -> None:
    """A stopped cluster has no API server: say so instead of timing out."""
    if mc.power_state and (mc.power_state.code or "").lower() == "stopped":
        raise ValidationError(
            f"cluster '{mc.name}' is stopped, so its API server cannot be read",
            recommendation=f"Start it: {shell.command('az', 'aks', 'start', '-g', resource_group, '-n', mc.name)}",
        )


def unreachable_error(message: str, mc: Any, resource_group: str) -> Exception:
    """The Kubernetes API could not be reached or refused us: name the usual reasons for this cluster."""
    if "rejected the credentials" in message:  # the core's 401 message; the credentials came from ARM just now
        return UnauthorizedError(
            message,
            recommendation="For an Entra ID cluster, check that az is signed in to the cluster's tenant "
            "(az account show); after az aks rotate-certs, retry in a few minutes.",
        )
    access = mc.api_server_access_profile
    error = AzureConnectionError(message)
    if access and access.enable_private_cluster:
        invoke = shell.command(
            "az", "aks", "command", "invoke", "-g", resource_group, "-n", mc.name, "--command",
            "kubectl get services --all-namespaces",
        )  # fmt: skip
        error.set_recommendation(
            f"'{mc.name}' is a private cluster: its API server is reachable only from its virtual network (or "
            "peered networks). Run az aks doctor from a machine there, or run kubectl inside the cluster with:\n"
            f"  {invoke}"
        )
    elif access and access.authorized_ip_ranges:
        ranges = ", ".join(access.authorized_ip_ranges)
        error.set_recommendation(
            f"The API server accepts only these IP ranges: {ranges}. Check that this machine's address is one of them."
        )
    return error


def _arm_message(exc: Any) -> str:
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "message", None):
        return f"({error.code}) {error.message}" if getattr(error, "code", None) else error.message
    return str(getattr(exc, "message", None) or exc).splitlines()[0]
