"""Live Azure source: Resource Manager through the azure-mgmt SDKs, Microsoft Graph through azure-core.

Call budget (issue 3): every read is a list, in one resource group or once per subscription, never a GET per VM,
NIC or Service, so the number of requests depends on the fact kinds and resource groups, not on nodes or Services:
- network kinds, scale sets, VMs, locks, role assignments: one list per resource group (groups in parallel);
- VMSS VMs: one list per uniform scale set with `$expand=instanceView` (power and provisioning state): bounded by
  the number of node pools, not of nodes. Flexible scale sets have no VMSS-VM API; their VMs are plain VMs;
- VMs: one list per group, and their power state from ONE subscription-wide `statusOnly=true` list, read only when
  the groups hold VMs at all. A group list cannot carry instanceView (ARM allows `$expand=instanceView` on it only
  with a scale-set `$filter`), and a GET per VM is what the budget forbids;
- the VNet, subnet-level NSGs, route tables, locks and role assignments may live in another group (bring-your-own
  VNet): that group comes from the subnet ids of the scale sets (VMSS clusters) or NICs (availability sets),
  lists that are read anyway and memoised (so these kinds are unavailable when those lists are);
- managed cluster: one GET by name and group when known (else, or when it does not own these nodes, one
  subscription list matched on `nodeResourceGroup`): that is how `kubectl aksdoctor` finds the AKS cluster
  with no flags;
- Graph: one `applications?$filter=appId eq '...'` per app id (a cluster has one or two).
Every list is memoised per (subscription, kind, group), so kinds that share a list read it once.

Faults become reasons (`skipped: <reason>` on the checks that need the fact); see arm_pipeline.translate. A 403 on
any group makes the whole kind unavailable (a partial list would read as "resource missing"). A group that does
not exist (404 ResourceGroupNotFound) is an empty list plus a note: its resources are absent, which checks report
as evidence. An unreachable endpoint also sets `unreachable`, so the front-end exits 3 after printing the report.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import AzureError, DeserializationError

from aksdoctor.azure.discovery import unique_ci
from aksdoctor.azure.resources import normalize, prop, resource_group_of
from aksdoctor.errors import FactUnavailable
from aksdoctor.sources.arm_clouds import Cloud, cloud_named
from aksdoctor.sources.arm_pipeline import (
    ARM,
    GRAPH,
    BudgetedRetryPolicy,
    CachedCredential,
    NoCredentials,
    NotFound,
    Unreachable,
    WaitBudget,
    get_pages,
    make_transport,
    translate,
)
from aksdoctor.sources.base import AZURE_KINDS, AzureScope

log = logging.getLogger(__name__)

LOCKS_API_VERSION = "2020-05-01"
ROLE_ASSIGNMENTS_API_VERSION = "2022-04-01"
GRAPH_SELECT = "id,appId,displayName,passwordCredentials,keyCredentials"
DEFAULT_MAX_WAIT = 30.0  # seconds the whole run may wait on Retry-After / backoff
NETWORK_LISTS = {  # kind -> NetworkManagementClient operation group with list(resource_group_name)
    "load_balancers": "load_balancers",
    "public_ips": "public_ip_addresses",
    "network_security_groups": "network_security_groups",
    "network_interfaces": "network_interfaces",
    "virtual_networks": "virtual_networks",
    "route_tables": "route_tables",
}
COMPUTE_LISTS = {"vm_scale_sets": "virtual_machine_scale_sets", "virtual_machines": "virtual_machines"}
RAW_LISTS = {  # kind -> (provider path under a resource group, api-version, extra query)
    "locks": ("Microsoft.Authorization/locks", LOCKS_API_VERSION, {}),
    # atScope(): assignments at the group and above it (subscription, management groups), i.e. what applies there.
    "role_assignments": (
        "Microsoft.Authorization/roleAssignments",
        ROLE_ASSIGNMENTS_API_VERSION,
        {"$filter": "atScope()"},
    ),
}
ALSO_IN_VNET_GROUP = frozenset({"network_security_groups", "route_tables", "locks", "role_assignments"})
MISSING_GROUP = "resourcegroupnotfound"
VANISHED = frozenset({"resourcenotfound", "notfound", "parentresourcenotfound"})
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class AzureLiveSource:
    """`AzureSource` over live ARM and Graph. Cheap to construct: SDKs, credential and tokens come on first use.

    `credential`: any azure-core TokenCredential; None builds DefaultAzureCredential (no browser prompt) for the
    cloud. `subscription_id` wins over the scope's. `base_url`, `graph_url` and `connection_verify` point the
    clients elsewhere (tests: a loopback HTTPS fake). `max_wait` bounds the total time spent waiting to retry.
    """

    def __init__(
        self,
        credential: Any = None,
        subscription_id: str | None = None,
        *,
        cloud: Cloud | None = None,
        base_url: str | None = None,
        graph_url: str | None = None,
        connection_verify: bool | str | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        workers: int = 4,
    ):
        self.cloud = cloud or cloud_named("AzureCloud")
        self.subscription_id = subscription_id
        self.arm_url = (base_url or self.cloud.arm).rstrip("/")
        self.graph_url = (graph_url or self.cloud.graph).rstrip("/")
        self.credential = CachedCredential(
            lambda: credential if credential is not None else _default_credential(self.cloud)
        )
        self.connection_verify = connection_verify
        self.workers = workers
        self.notes: list[str] = []  # for the report: groups not found, power states unknown, ...
        self.unreachable: str | None = None  # set when ARM or Graph could not be reached
        self._budget = WaitBudget(max_wait)
        self._transport: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._memo: dict[tuple[str, ...], Any] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    # ---- AzureSource ---------------------------------------------------------------------------------------

    def resources(self, kind: str, scope: AzureScope) -> list[dict]:
        if kind not in AZURE_KINDS:
            raise KeyError(f"unknown Azure kind {kind!r}")
        sub = self.subscription_id or scope.subscription_id
        if kind == "vmss_vms":
            found = self._vmss_vms(sub, scope)
        elif kind == "virtual_machines":
            found = self._virtual_machines(sub, scope)
        elif kind == "managed_clusters":
            found = self._managed_clusters(sub, scope)
        else:
            found = self._in_groups(sub, kind, self._groups(sub, kind, scope))
        return [_finish(r, kind) for r in found]

    def graph_objects(self, app_ids: Sequence[str]) -> list[dict]:
        """Applications by app id. Only GUIDs are sent (an MSI cluster's "msi" is not an app id); the id is also
        quoted the OData way, so nothing in it can change the filter."""
        wanted = [i for i in dict.fromkeys(str(a).strip().lower() for a in app_ids) if _GUID.fullmatch(i)]
        return [
            app for app_id in wanted for app in self._once(("graph", app_id), lambda a=app_id: self._application(a))
        ]

    # ---- kinds -----------------------------------------------------------------------------------------------

    def _application(self, app_id: str) -> list[dict]:
        params = {"$filter": f"appId eq {_odata_string(app_id)}", "$select": GRAPH_SELECT}
        url = f"{self.graph_url}/v1.0/applications"
        return self._call(
            f"read application {app_id}",
            lambda: get_pages(self._graph().send_request, url, params, "@odata.nextLink"),
            service=GRAPH,
            endpoint=self.graph_url,
        )

    def _groups(self, sub: str, kind: str, scope: AzureScope) -> list[str]:
        base = _base_groups(scope)
        if kind == "virtual_networks":
            return self._vnet_groups(sub, scope) or base
        if kind in ALSO_IN_VNET_GROUP:
            return unique_ci([*base, *self._vnet_groups(sub, scope)])
        return base

    def _vnet_groups(self, sub: str, scope: AzureScope) -> list[str]:
        """Groups of the VNets the nodes' subnets belong to, from lists the run reads anyway."""
        base = _base_groups(scope)
        kinds = [
            k for k, skip in (("vm_scale_sets", "vmas"), ("network_interfaces", "vmss")) if scope.vm_set_type != skip
        ]
        groups = [resource_group_of(s) for k in kinds for r in self._in_groups(sub, k, base) for s in _subnet_ids(r)]
        return unique_ci(groups)

    def _in_groups(self, sub: str, kind: str, groups: Sequence[str]) -> list[dict]:
        lists = self._each(lambda g: self._group_list(sub, kind, g), unique_ci(groups))
        return [r for found in lists for r in found]

    def _group_list(self, sub: str, kind: str, group: str) -> list[dict]:
        """One list call (all its pages) of a kind in one group. Memoised."""
        fetch: Callable[[], Iterable[Any]]
        if kind in RAW_LISTS:
            path, api_version, extra = RAW_LISTS[kind]
            send = self._client("network", sub).send_request  # its ARMPipelineClient: same auth, retry, transport
            url = f"{self.arm_url}{_group_path(sub, group)}/providers/{path}"
            fetch = partial(get_pages, send, url, {"api-version": api_version, **extra}, "nextLink")
        else:
            family, operations = ("network", NETWORK_LISTS) if kind in NETWORK_LISTS else ("compute", COMPUTE_LISTS)
            fetch = partial(getattr(self._client(family, sub), operations[kind]).list, group)
        return self._listed(
            (sub, kind, group.lower()), f"list {kind.replace('_', ' ')} in resource group {group}", fetch
        )

    def _vmss_vms(self, sub: str, scope: AzureScope) -> list[dict]:
        """One list per uniform scale set, with instance view: as many calls as node pools, not nodes."""
        sets = [
            s
            for s in self._in_groups(sub, "vm_scale_sets", _base_groups(scope))
            if str(prop(s, "orchestrationMode") or "Uniform").lower() != "flexible"
        ]
        compute = self._client("compute", sub) if sets else None

        def one(vmss: dict) -> list[dict]:
            group, name = resource_group_of(vmss["id"]), vmss["name"]
            return self._listed(
                (sub, "vmss_vms", vmss["id"].lower()),
                f"list instances of scale set {name} in resource group {group}",
                lambda: compute.virtual_machine_scale_set_vms.list(group, name, expand="instanceView"),
                gone=VANISHED,
            )

        return [vm for found in self._each(one, sets) for vm in found]

    def _virtual_machines(self, sub: str, scope: AzureScope) -> list[dict]:
        vms = self._in_groups(sub, "virtual_machines", _base_groups(scope))
        if not vms:
            return []
        try:
            states = self._power_states(sub)
        except (NoCredentials, Unreachable):
            raise
        except FactUnavailable as exc:
            self._note(f"VM power states unknown: {exc.reason}")
            states = {}
        out = []
        for vm in vms:
            view = states.get(str(vm.get("id", "")).lower())
            out.append({**vm, "properties": {**(vm.get("properties") or {}), "instanceView": view}} if view else vm)
        return out

    def _power_states(self, sub: str) -> dict[str, Any]:
        compute = self._client("compute", sub)

        def fetch() -> dict[str, Any]:
            return {
                str(vm.id).lower(): _rest(vm.instance_view)
                for vm in compute.virtual_machines.list_all(status_only="true")
                if vm.instance_view is not None
            }

        return self._once(
            (sub, "vm-power-states"), lambda: self._call(f"list VM power states in subscription {sub}", fetch)
        )

    def _managed_clusters(self, sub: str, scope: AzureScope) -> list[dict]:
        """The AKS cluster owning these nodes: by name when known and it owns them, else by its node group."""
        node_rg = scope.node_resource_group.lower()
        name, group = scope.cluster_name, scope.cluster_resource_group
        clusters = self._client("containerservice", sub).managed_clusters
        named = None
        if name and group:
            try:
                named = self._once(
                    (sub, "managed_cluster", group.lower(), name.lower()),
                    lambda: self._call(
                        f"get managed cluster {name} in resource group {group}",
                        lambda: _rest(clusters.get(group, name)),
                    ),
                )
            except NotFound as exc:
                self._note(f"{exc.reason}; looking for the cluster by its node resource group")
            if named is not None and (not node_rg or _node_group(named) == node_rg):
                return [named]
        try:
            listed = self._listed(
                (sub, "managed_clusters", ""), f"list managed clusters in subscription {sub}", clusters.list
            )
        except (NoCredentials, Unreachable):
            raise
        except FactUnavailable as exc:
            if named is not None:
                return [named]
            raise FactUnavailable(f"{exc.reason}; name the cluster with --cluster NAME -g RESOURCE_GROUP") from None
        if node_rg:
            matched = [c for c in listed if _node_group(c) == node_rg]
        else:
            matched = [c for c in listed if name and str(c.get("name", "")).lower() == name.lower()]
        if named is not None and not matched:
            self._note(
                f"managed cluster {name} has node resource group {prop(named, 'nodeResourceGroup')}, "
                f"but the nodes are in {scope.node_resource_group}"
            )
            return [named]
        return matched

    # ---- plumbing ---------------------------------------------------------------------------------------------

    def _listed(
        self, key: tuple[str, ...], what: str, fetch: Callable[[], Iterable[Any]], gone: frozenset[str] = frozenset()
    ) -> list[dict]:
        """A memoised list read. A missing group (or, with `gone`, a parent deleted meanwhile) is an empty list."""

        def read() -> list[dict]:
            try:
                return self._call(what, lambda: [_rest(item) for item in fetch()])
            except NotFound as exc:
                if exc.code.lower() != MISSING_GROUP and exc.code.lower() not in gone:
                    raise
                self._note(f"{exc.reason}: read as empty")
                return []

        return self._once(key, read)

    def _call(self, what: str, fn: Callable[[], Any], *, service: str = ARM, endpoint: str = "") -> Any:
        try:
            return fn()
        except (AzureError, DeserializationError) as exc:
            log.debug("%s failed", what, exc_info=True)
            reason = translate(exc, what, service=service, endpoint=endpoint or self.arm_url)
        if isinstance(reason, Unreachable):
            with self._guard:
                self.unreachable = self.unreachable or reason.reason
        raise reason

    def _once(self, key: tuple[str, ...], fn: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks[key]
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = fn()
                except FactUnavailable as exc:
                    self._memo[key] = exc
            value = self._memo[key]
        if isinstance(value, FactUnavailable):
            raise value
        return value

    def _each(self, fn: Callable[[Any], list[dict]], items: Sequence[Any]) -> list[list[dict]]:
        """`fn` over items on a small pool, results in order; the first failure (in order) is raised."""
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            futures = [pool.submit(fn, i) for i in items]
            return [f.result() for f in futures]

    def _note(self, text: str) -> None:
        with self._guard:
            if text not in self.notes:
                self.notes.append(text)

    def _client(self, family: str, sub: str) -> Any:
        with self._guard:
            if self._transport is None:
                self._transport = make_transport(self.connection_verify)
            key = (family, sub)
            if key not in self._clients:
                self._clients[key] = _client_class(family)(
                    self.credential,
                    sub,
                    base_url=self.arm_url,
                    credential_scopes=[self.cloud.arm_scope],
                    retry_policy=BudgetedRetryPolicy(self._budget),
                    transport=self._transport,
                )
            return self._clients[key]

    def _graph(self) -> Any:
        with self._guard:
            if ("graph", "") not in self._clients:
                if self._transport is None:
                    self._transport = make_transport(self.connection_verify)
                from azure.core import PipelineClient
                from azure.core.pipeline import policies

                self._clients[("graph", "")] = PipelineClient(
                    self.graph_url,
                    policies=[
                        policies.RequestIdPolicy(),
                        policies.UserAgentPolicy("aksdoctor"),
                        policies.ContentDecodePolicy(),
                        BudgetedRetryPolicy(self._budget),
                        policies.BearerTokenCredentialPolicy(self.credential, self.cloud.graph_scope),
                        policies.HttpLoggingPolicy(),
                    ],
                    transport=self._transport,
                )
            return self._clients[("graph", "")]


def _client_class(family: str) -> Any:
    """The SDK client, imported on first use (each costs 0.4-0.8 s to import)."""
    if family == "network":
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient
    if family == "compute":
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient

    return ContainerServiceClient


def _default_credential(cloud: Cloud) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True, authority=cloud.authority)


def _rest(item: Any) -> Any:
    """An SDK model in the REST shape (camelCase, `properties`), read-only fields kept; raw dicts as they are.

    Current (TypeSpec) models are mappings over the wire JSON (`as_dict`, unknown fields kept); older msrest
    models rebuild it (`serialize(keep_readonly=True)`)."""
    if hasattr(item, "as_dict"):
        return item.as_dict()
    return item.serialize(keep_readonly=True) if hasattr(item, "serialize") else item


def _finish(resource: dict, kind: str) -> dict:
    out = normalize(resource)
    if not out.get("type"):
        out["type"] = AZURE_KINDS[kind]
    return out


def _base_groups(scope: AzureScope) -> list[str]:
    return list(scope.resource_groups) or [scope.node_resource_group]


def _group_path(sub: str, group: str) -> str:
    return f"/subscriptions/{quote(sub, safe='')}/resourceGroups/{quote(group, safe='')}"


def _odata_string(value: str) -> str:
    """An OData string literal: single quotes, doubled inside."""
    return "'" + value.replace("'", "''") + "'"


def _node_group(cluster: dict) -> str:
    return str(prop(cluster, "nodeResourceGroup") or "").lower()


def _subnet_ids(value: Any) -> Iterable[str]:
    """Every `subnet: {id: ...}` reference inside a resource (NIC ipConfigurations, VMSS network profiles)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.lower() == "subnet" and isinstance(inner, dict) and isinstance(inner.get("id"), str):
                yield inner["id"]
            else:
                yield from _subnet_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _subnet_ids(inner)
