"""The live Azure source against a loopback HTTPS fake of ARM and Graph, through the real azure-mgmt clients.

Asserts the exact requests an `lb` and a `cluster` run send on a realistic cluster (three node pools, 30 nodes,
10 Services), that they do not grow with nodes and Services (the call budget), what comes back (REST shape),
and each fault: paging, 403, 404, 429 with Retry-After (honoured, bounded), malformed JSON, no credentials,
unreachable ARM, Graph 200/403, managed-cluster discovery by node resource group, sovereign clouds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence

import pytest
from armfake import DAC_FAILURE, ArmFake, FailingCredential, Reply, StaticToken, arm_error
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from azure_builders import (
    graph_application,
    load_balancer,
    managed_cluster,
    managed_public_ip,
    management_lock,
    network_interface,
    nsg,
    role_assignment,
    route_table,
    security_rule,
    subnet_id,
    virtual_machine,
    virtual_network,
    vmss,
    vmss_ip_configuration_id,
    vmss_vm,
)
from builders import NODE_RG, SUB, node, provider_id_vmss, service, write_snapshot

from aksdoctor.errors import FactUnavailable, UsageError
from aksdoctor.facts import Facts
from aksdoctor.model import Target
from aksdoctor.sources.arm_clouds import cloud_named, resolve_cloud
from aksdoctor.sources.arm_pipeline import NO_CREDENTIALS
from aksdoctor.sources.azure_live import AzureLiveSource
from aksdoctor.sources.base import AZURE_KINDS, AzureScope
from aksdoctor.sources.snapshot import SnapshotSource

NET_RG = "prod-network-rg"  # bring-your-own VNet: its group is found from the scale sets' subnet ids
POOLS = ("aks-system-12345678-vmss", "aks-user-12345678-vmss", "aks-batch-12345678-vmss")
SP_APP_ID = "0b0c1f7e-8f0e-4c2a-9d55-1e2f3a4b5c6d"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
SUBNET = subnet_id("prod-vnet", "aks-nodes", NET_RG)
SCOPE = AzureScope(SUB, NODE_RG, (NODE_RG,), "prod-aks", "prod-rg", "vmss")
# What `lb` reads: Service -> frontend -> rule -> probe -> pool -> NSG -> node VM.
LB_KINDS = (
    "load_balancers",
    "public_ips",
    "network_security_groups",
    "network_interfaces",
    "virtual_networks",
    "vm_scale_sets",
    "vmss_vms",
    "virtual_machines",
)


def group(rg: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}"


def listing(rg: str, rtype: str) -> str:
    return f"{group(rg)}/providers/{rtype}"


def instances(pool: str) -> str:
    return f"{listing(NODE_RG, 'Microsoft.Compute/virtualMachineScaleSets')}/{pool}/virtualMachines"


def application_query(app_id: str) -> str:
    select = "id,appId,displayName,passwordCredentials,keyCredentials"
    return f"/v1.0/applications?$filter=appId eq '{app_id}'&$select={select}"


@pytest.fixture
def arm():
    with ArmFake() as fake:
        yield fake


def live(fake: ArmFake, credential: object = None, **kwargs: object) -> AzureLiveSource:
    kwargs.setdefault("max_wait", 1.0)
    return AzureLiveSource(
        credential or StaticToken(),
        base_url=fake.url,
        graph_url=fake.url,
        connection_verify=fake.ca_file,
        **kwargs,
    )


def reason(source: AzureLiveSource, kind: str, scope: AzureScope = SCOPE) -> str:
    with pytest.raises(FactUnavailable) as caught:
        source.resources(kind, scope)
    return caught.value.reason


# ---- a realistic cluster --------------------------------------------------------------------------------------


def realistic_cluster(fake: ArmFake, *, nodes_per_pool: int, services: int) -> tuple[list[dict], list[dict]]:
    """Three VMSS node pools, `services` public LoadBalancer Services, a BYO VNet in another group; serves the
    Azure side on the fake and returns the Kubernetes side (nodes, Services)."""
    svcs = [service(f"web-{i}", "shop", ingress_ip=f"20.50.10.{i + 1}") for i in range(services)]
    nodes = [
        node(f"{pool[:-4]}vmss{i:06d}", provider_id=provider_id_vmss(pool, i))
        for pool in POOLS
        for i in range(nodes_per_pool)
    ]
    pips = [managed_public_ip(s, f"20.50.10.{i + 1}", cluster="kubernetes") for i, s in enumerate(svcs)]
    members = [vmss_ip_configuration_id(pool, i) for pool in POOLS for i in range(nodes_per_pool)]
    lb = load_balancer(
        services=[(s, {"public_ip_id": p["id"]}) for s, p in zip(svcs, pips, strict=True)], pool_members=members
    )
    rules = [security_rule(f"k8s-azure-lb_allow_IPv4_{i}", 500 + i, ports="80") for i in range(services)]
    node_nsg = nsg(rules=rules)
    table = route_table()
    fake.list(listing(NODE_RG, "Microsoft.Network/loadBalancers"), [lb])
    fake.list(listing(NODE_RG, "Microsoft.Network/publicIPAddresses"), pips)
    fake.list(listing(NODE_RG, "Microsoft.Network/networkSecurityGroups"), [node_nsg])
    fake.list(listing(NET_RG, "Microsoft.Network/networkSecurityGroups"), [])
    fake.list(listing(NODE_RG, "Microsoft.Network/networkInterfaces"), [])
    fake.list(
        listing(NET_RG, "Microsoft.Network/virtualNetworks"),
        [virtual_network("prod-vnet", {"aks-nodes": "10.224.0.0/16"}, rg=NET_RG, route_table_id=table["id"])],
    )
    fake.list(listing(NODE_RG, "Microsoft.Network/routeTables"), [table])
    fake.list(listing(NET_RG, "Microsoft.Network/routeTables"), [])
    fake.list(
        listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"),
        [vmss(pool, capacity=nodes_per_pool, subnet=SUBNET, nsg_id=node_nsg["id"]) for pool in POOLS],
    )
    for pool in POOLS:
        fake.list(instances(pool), [vmss_vm(pool, i) for i in range(nodes_per_pool)])
    fake.list(listing(NODE_RG, "Microsoft.Compute/virtualMachines"), [])
    fake.get(
        f"{group('prod-rg')}/providers/Microsoft.ContainerService/managedClusters/prod-aks",
        managed_cluster(client_id=SP_APP_ID),
    )
    fake.list(listing(NODE_RG, "Microsoft.Authorization/locks"), [])
    fake.list(listing(NET_RG, "Microsoft.Authorization/locks"), [management_lock("no-delete", rg=NET_RG)])
    fake.list(listing(NODE_RG, "Microsoft.Authorization/roleAssignments"), [])
    fake.list(
        listing(NET_RG, "Microsoft.Authorization/roleAssignments"),
        [role_assignment("6c1b8f0e-0000-4000-8000-000000000001", NETWORK_CONTRIBUTOR, scope=group(NET_RG))],
    )
    fake.graph_applications([graph_application(SP_APP_ID, ["2027-01-31T00:00:00Z"])])
    return nodes, svcs


LB_REQUESTS = sorted(
    [
        f"GET {listing(NODE_RG, 'Microsoft.Network/loadBalancers')}",
        f"GET {listing(NODE_RG, 'Microsoft.Network/publicIPAddresses')}",
        f"GET {listing(NODE_RG, 'Microsoft.Network/networkSecurityGroups')}",
        f"GET {listing(NET_RG, 'Microsoft.Network/networkSecurityGroups')}",
        f"GET {listing(NODE_RG, 'Microsoft.Network/networkInterfaces')}",
        f"GET {listing(NET_RG, 'Microsoft.Network/virtualNetworks')}",
        f"GET {listing(NODE_RG, 'Microsoft.Compute/virtualMachineScaleSets')}",
        *(f"GET {instances(pool)}?$expand=instanceView" for pool in POOLS),
        f"GET {listing(NODE_RG, 'Microsoft.Compute/virtualMachines')}",
    ]
)
CLUSTER_REQUESTS = sorted(
    [
        *LB_REQUESTS,
        f"GET {listing(NODE_RG, 'Microsoft.Network/routeTables')}",
        f"GET {listing(NET_RG, 'Microsoft.Network/routeTables')}",
        f"GET {group('prod-rg')}/providers/Microsoft.ContainerService/managedClusters/prod-aks",
        f"GET {listing(NODE_RG, 'Microsoft.Authorization/locks')}",
        f"GET {listing(NET_RG, 'Microsoft.Authorization/locks')}",
        f"GET {listing(NODE_RG, 'Microsoft.Authorization/roleAssignments')}?$filter=atScope()",
        f"GET {listing(NET_RG, 'Microsoft.Authorization/roleAssignments')}?$filter=atScope()",
        f"GET {application_query(SP_APP_ID)}",
    ]
)


def read_through_facts(tmp_path, fake: ArmFake, nodes, svcs, kinds: Sequence[str]) -> tuple[Facts, AzureLiveSource]:
    """As a run reads: scope discovered from the cluster, the Azure facts prefetched in parallel."""
    snapshot = write_snapshot(tmp_path / "snap", [*nodes, *svcs])
    source = live(fake)
    facts = Facts(target=Target("cluster", "prod-aks"), kube=SnapshotSource(snapshot), azure=source)
    facts.prefetch([f"azure_{k}" for k in kinds])
    return facts, source


@pytest.mark.parametrize(("nodes_per_pool", "services"), [(10, 10), (20, 20)])
def test_lb_run_requests_do_not_grow_with_nodes_or_services(arm, tmp_path, nodes_per_pool, services):
    nodes, svcs = realistic_cluster(arm, nodes_per_pool=nodes_per_pool, services=services)
    facts, _ = read_through_facts(tmp_path, arm, nodes, svcs, LB_KINDS)
    assert sorted(arm.lines) == LB_REQUESTS
    assert len(facts.get("azure_vmss_vms")) == 3 * nodes_per_pool
    [lb] = facts.get("azure_load_balancers")
    assert len(lb["properties"]["frontendIPConfigurations"]) == services


@pytest.mark.parametrize(("nodes_per_pool", "services"), [(10, 10), (20, 20)])
def test_cluster_run_requests_do_not_grow_with_nodes_or_services(arm, tmp_path, nodes_per_pool, services):
    nodes, svcs = realistic_cluster(arm, nodes_per_pool=nodes_per_pool, services=services)
    facts, source = read_through_facts(tmp_path, arm, nodes, svcs, AZURE_KINDS)
    [cluster] = facts.get("azure_managed_clusters")
    app_id = cluster["properties"]["servicePrincipalProfile"]["clientId"]
    [app] = source.graph_objects([app_id])
    assert sorted(arm.lines) == CLUSTER_REQUESTS
    assert app["passwordCredentials"][0]["endDateTime"] == "2027-01-31T00:00:00Z"
    assert all(r.header("Authorization") == "Bearer test-token" for r in arm.requests)
    assert source.notes == [] and source.unreachable is None


def test_results_are_rest_shape_with_type(arm):
    realistic_cluster(arm, nodes_per_pool=2, services=1)
    source = live(arm)
    [vm0, _vm1] = [v for v in source.resources("vmss_vms", SCOPE) if POOLS[0] in v["id"]]
    assert vm0["type"] == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
    assert vm0["properties"]["instanceView"]["statuses"][1]["code"] == "PowerState/running"
    [lb] = source.resources("load_balancers", SCOPE)
    frontend = lb["properties"]["frontendIPConfigurations"][0]
    assert frontend["properties"]["publicIPAddress"]["id"].endswith("/kubernetes-" + frontend["name"])
    [lock] = source.resources("locks", SCOPE)
    assert (lock["type"], lock["properties"]["level"]) == ("Microsoft.Authorization/locks", "CanNotDelete")


def test_type_is_filled_when_arm_leaves_it_out(arm):
    lock = management_lock("keep")
    del lock["type"]
    arm.list(listing(NODE_RG, "Microsoft.Authorization/locks"), [lock])
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"), [])
    [found] = live(arm).resources("locks", AzureScope(SUB, NODE_RG, (NODE_RG,), vm_set_type="vmss"))
    assert found["type"] == "microsoft.authorization/locks"


def test_lists_are_memoised_across_kinds(arm):
    """The scale-set list feeds vm_scale_sets, vmss_vms and the VNet's group: read once."""
    realistic_cluster(arm, nodes_per_pool=1, services=1)
    source = live(arm)
    for kind in ("vm_scale_sets", "vmss_vms", "virtual_networks", "vm_scale_sets"):
        source.resources(kind, SCOPE)
    vmss_lists = [line for line in arm.lines if line.endswith("/virtualMachineScaleSets")]
    assert len(vmss_lists) == 1


# ---- paging -----------------------------------------------------------------------------------------------------


def test_next_links_are_followed(arm):
    svcs = [service(f"s{i}") for i in range(5)]
    pips = [managed_public_ip(s, f"20.0.0.{i}") for i, s in enumerate(svcs)]
    arm.list(listing(NODE_RG, "Microsoft.Network/publicIPAddresses"), pips, page_size=2)
    locks = [management_lock(f"lock-{i}") for i in range(3)]
    arm.list(listing(NODE_RG, "Microsoft.Authorization/locks"), locks, page_size=2)
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"), [])
    source = live(arm)
    assert [p["name"] for p in source.resources("public_ips", SCOPE)] == [p["name"] for p in pips]
    assert [lk["name"] for lk in source.resources("locks", SCOPE)] == ["lock-0", "lock-1", "lock-2"]
    pages = [(r.path.rsplit("/", 1)[-1], r.query.get("$skiptoken")) for r in arm.requests]
    assert pages == [
        ("publicIPAddresses", None),
        ("publicIPAddresses", "2"),
        ("publicIPAddresses", "4"),
        ("virtualMachineScaleSets", None),  # the VNet's group, for locks there too
        ("locks", None),
        ("locks", "2"),
    ]


# ---- 403, 404 ---------------------------------------------------------------------------------------------------

AUTHORIZATION_FAILED = (
    "The client 'dev@contoso.com' with object id '2f1d0c5e-0000-4000-8000-000000000001' does not have "
    "authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was "
    "recently granted, please refresh your credentials."
)


def test_forbidden_group_names_the_missing_action(arm):
    action = "Microsoft.Network/loadBalancers/read"
    arm.list(listing(NODE_RG, "Microsoft.Network/publicIPAddresses"), [])
    arm.route(
        listing(NODE_RG, "Microsoft.Network/loadBalancers"),
        lambda _req: arm_error(
            403, "AuthorizationFailed", AUTHORIZATION_FAILED.format(action=action, scope=group(NODE_RG))
        ),
    )
    source = live(arm)
    assert reason(source, "load_balancers") == f"forbidden: {action} on {group(NODE_RG)}"
    assert source.resources("public_ips", SCOPE) == []  # other kinds still read
    assert len(arm.requests) == 2  # a 403 is not retried


def test_forbidden_on_one_group_makes_the_whole_kind_unavailable(arm):
    """A partial list would read as "resource missing": the kind is unavailable instead."""
    action = "Microsoft.Network/publicIPAddresses/read"
    arm.list(listing(NODE_RG, "Microsoft.Network/publicIPAddresses"), [])
    arm.route(
        listing("shared-ips", "Microsoft.Network/publicIPAddresses"),
        lambda _req: arm_error(
            403, "AuthorizationFailed", AUTHORIZATION_FAILED.format(action=action, scope=group("shared-ips"))
        ),
    )
    scope = AzureScope(SUB, NODE_RG, (NODE_RG, "shared-ips"))
    assert reason(live(arm), "public_ips", scope) == f"forbidden: {action} on {group('shared-ips')}"


def test_missing_resource_group_is_empty_with_a_note(arm):
    pip = public_ip_in(NODE_RG)
    arm.list(listing(NODE_RG, "Microsoft.Network/publicIPAddresses"), [pip])
    arm.route(
        listing("gone-rg", "Microsoft.Network/publicIPAddresses"),
        lambda _req: arm_error(404, "ResourceGroupNotFound", "Resource group 'gone-rg' could not be found."),
    )
    source = live(arm)
    found = source.resources("public_ips", AzureScope(SUB, NODE_RG, (NODE_RG, "gone-rg")))
    assert [p["name"] for p in found] == [pip["name"]]
    assert source.notes == [
        "list public ips in resource group gone-rg: Resource group 'gone-rg' could not be found. "
        "(ResourceGroupNotFound): read as empty"
    ]


def test_other_not_found_is_a_reason(arm):
    arm.route(
        listing(NODE_RG, "Microsoft.Network/loadBalancers"),
        lambda _req: arm_error(404, "SubscriptionNotFound", f"The subscription '{SUB}' could not be found."),
    )
    assert reason(live(arm), "load_balancers") == (
        f"list load balancers in resource group {NODE_RG}: The subscription '{SUB}' could not be found. "
        "(SubscriptionNotFound)"
    )


def public_ip_in(rg: str) -> dict:
    return managed_public_ip(service("web"), "20.0.0.1", rg=rg)


# ---- 429: Retry-After honoured, total wait bounded ---------------------------------------------------------------

THROTTLED = "Number of read requests for subscription exceeded the limit of '12000' for time interval '01:00:00'."


def throttled(seconds: int) -> Reply:
    return arm_error(429, "SubscriptionRequestsThrottled", THROTTLED, {"Retry-After": str(seconds)})


def test_retry_after_is_honoured(arm):
    path = listing(NODE_RG, "Microsoft.Network/loadBalancers")
    arm.replies(path, throttled(1), Reply(200, {"value": [load_balancer()]}))
    start = time.monotonic()
    [lb] = live(arm, max_wait=5).resources("load_balancers", SCOPE)
    assert lb["name"] == "kubernetes"
    assert time.monotonic() - start >= 1.0
    assert len(arm.requests) == 2


def test_throttling_beyond_the_budget_gives_up_at_once(arm):
    arm.replies(listing(NODE_RG, "Microsoft.Network/loadBalancers"), throttled(30))
    start = time.monotonic()
    assert reason(live(arm, max_wait=1), "load_balancers") == (
        "throttled by ARM (429, retry after 30 s); try again later"
    )
    assert time.monotonic() - start < 1.0
    assert len(arm.requests) == 1


def test_throttling_wait_is_bounded_across_the_run(arm, tmp_path):
    """Two kinds throttled in parallel share one budget: 1.5 s allows one 1 s wait each, not two."""
    for rtype in ("Microsoft.Network/loadBalancers", "Microsoft.Network/publicIPAddresses"):
        arm.replies(listing(NODE_RG, rtype), throttled(1))
    snapshot = SnapshotSource(write_snapshot(tmp_path / "snap", [node()]))
    facts = Facts(target=Target("cluster", "prod-aks"), kube=snapshot, azure=live(arm, max_wait=1.5))
    start = time.monotonic()
    facts.prefetch(["azure_load_balancers", "azure_public_ips"])
    elapsed = time.monotonic() - start
    assert facts.reason("azure_load_balancers") == "throttled by ARM (429, retry after 1 s); try again later"
    assert facts.reason("azure_public_ips") == "throttled by ARM (429, retry after 1 s); try again later"
    assert 1.0 <= elapsed < 2.0
    assert len(arm.requests) == 4


# ---- malformed responses, unreachable ARM, no credentials ---------------------------------------------------------


def test_malformed_json_is_a_reason(arm):
    arm.route(listing(NODE_RG, "Microsoft.Network/loadBalancers"), lambda _req: Reply(200, '{"value": [{"name": '))
    arm.route(listing(NODE_RG, "Microsoft.Authorization/locks"), lambda _req: Reply(200, "[]"))
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"), [])
    source = live(arm)
    assert reason(source, "load_balancers").startswith(
        f"malformed response from Azure Resource Manager (list load balancers in resource group {NODE_RG}): "
    )
    assert reason(source, "locks").startswith(
        f"malformed response from Azure Resource Manager (list locks in resource group {NODE_RG}): "
    )


def test_unreachable_arm_is_a_reason_and_flagged():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"https://127.0.0.1:{sock.getsockname()[1]}"
    source = AzureLiveSource(StaticToken(), base_url=dead, max_wait=1)
    start = time.monotonic()
    text = reason(source, "load_balancers")
    assert text.startswith(f"cannot reach Azure Resource Manager at {dead}: ")
    assert source.unreachable == text
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize(
    "error",
    [
        ClientAuthenticationError(message=DAC_FAILURE),
        CredentialUnavailableError(message="EnvironmentCredential authentication unavailable."),
    ],
    ids=["DefaultAzureCredential", "unavailable"],
)
def test_no_credentials_makes_every_azure_fact_unavailable(arm, error):
    credential = FailingCredential(error)
    source = live(arm, credential)
    for kind in AZURE_KINDS:
        assert reason(source, kind) == NO_CREDENTIALS
    with pytest.raises(FactUnavailable, match=r"^no Azure credentials"):
        source.graph_objects([SP_APP_ID])
    assert arm.requests == []
    # The credential chain is walked once per token scope (ARM, Graph), not once per kind.
    assert credential.scopes == [("https://management.azure.com/.default",), ("https://graph.microsoft.com/.default",)]
    assert source.unreachable is None


def test_refused_sign_in_says_why(arm):
    aadsts = (
        "AzureCliCredential: AADSTS700082: The refresh token has expired due to inactivity. The token was issued on "
        "2026-01-02T10:00:00Z and was inactive for 90.00:00:00."
    )
    text = reason(live(arm, FailingCredential(ClientAuthenticationError(message=aadsts))), "load_balancers")
    assert text.startswith("Azure sign-in failed (AADSTS700082: The refresh token has expired due to inactivity.")
    assert text.endswith("; sign in again (az login)")


# ---- VMs, scale sets, VNet group ---------------------------------------------------------------------------------


def test_availability_set_vms_get_power_state_from_one_status_list(arm):
    vms = [virtual_machine(f"aks-agentpool-31415926-{i}") for i in range(2)]
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachines"), vms)
    arm.list(
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines",
        [
            virtual_machine("aks-agentpool-31415926-0", power_state="running"),
            virtual_machine("aks-agentpool-31415926-1", power_state="deallocated"),
            virtual_machine("unrelated", rg="other-rg", power_state="running"),
        ],
    )
    found = live(arm).resources("virtual_machines", AzureScope(SUB, NODE_RG, (NODE_RG,), vm_set_type="vmas"))
    states = {vm["name"]: vm["properties"]["instanceView"]["statuses"][0]["code"] for vm in found}
    assert states == {
        "aks-agentpool-31415926-0": "PowerState/running",
        "aks-agentpool-31415926-1": "PowerState/deallocated",
    }
    assert found[0]["properties"]["hardwareProfile"]["vmSize"] == "Standard_D4s_v5"
    assert arm.lines == [
        f"GET {listing(NODE_RG, 'Microsoft.Compute/virtualMachines')}",
        f"GET /subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines?statusOnly=true",
    ]


def test_vm_power_states_forbidden_keeps_the_vms(arm):
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachines"), [virtual_machine("vm-0")])
    action = "Microsoft.Compute/virtualMachines/read"
    arm.route(
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines",
        lambda _req: arm_error(
            403, "AuthorizationFailed", AUTHORIZATION_FAILED.format(action=action, scope=group("x"))
        ),
    )
    source = live(arm)
    [vm] = source.resources("virtual_machines", SCOPE)
    assert "instanceView" not in vm["properties"]
    assert source.notes == [f"VM power states unknown: forbidden: {action} on {group('x')}"]


def test_availability_set_vnet_group_comes_from_the_nics(arm):
    arm.list(listing(NODE_RG, "Microsoft.Network/networkInterfaces"), [network_interface("nic-0", subnet=SUBNET)])
    arm.list(listing(NET_RG, "Microsoft.Network/virtualNetworks"), [virtual_network("prod-vnet", rg=NET_RG)])
    [vnet] = live(arm).resources("virtual_networks", AzureScope(SUB, NODE_RG, (NODE_RG,), vm_set_type="vmas"))
    assert vnet["name"] == "prod-vnet"
    assert arm.lines == [
        f"GET {listing(NODE_RG, 'Microsoft.Network/networkInterfaces')}",
        f"GET {listing(NET_RG, 'Microsoft.Network/virtualNetworks')}",
    ]


def test_flexible_scale_sets_have_no_instance_list(arm):
    flex = vmss("aks-flex-12345678-vmss")
    flex["properties"]["orchestrationMode"] = "Flexible"
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"), [flex, vmss(POOLS[0])])
    arm.list(instances(POOLS[0]), [vmss_vm(POOLS[0], 0)])
    assert [v["name"] for v in live(arm).resources("vmss_vms", SCOPE)] == [f"{POOLS[0]}_0"]
    assert len(arm.requests) == 2


def test_scale_set_deleted_between_lists_is_empty(arm):
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"), [vmss(POOLS[0])])
    arm.route(instances(POOLS[0]), lambda _req: arm_error(404, "ResourceNotFound", "The Resource was not found."))
    source = live(arm)
    assert source.resources("vmss_vms", SCOPE) == []
    assert len(source.notes) == 1 and "(ResourceNotFound): read as empty" in source.notes[0]


# ---- managed cluster -------------------------------------------------------------------------------------------

CLUSTERS = f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters"


def test_managed_cluster_found_by_node_resource_group(arm):
    """No name known: list the subscription's clusters, pick the one owning the node group (any case)."""
    arm.list(
        CLUSTERS,
        [
            managed_cluster("other", "other-rg", node_rg="MC_other-rg_other_westeurope"),
            managed_cluster("prod-aks", "prod-rg", node_rg=NODE_RG.lower()),
        ],
    )
    scope = AzureScope(SUB, NODE_RG, (NODE_RG,))
    [found] = live(arm).resources("managed_clusters", scope)
    assert found["name"] == "prod-aks"
    assert arm.lines == [f"GET {CLUSTERS}"]


def test_managed_cluster_by_name_falls_back_to_the_node_group(arm):
    """A kubeconfig cluster name that is not the AKS name: the GET misses, the list finds it."""
    arm.route(
        f"{group('prod-rg')}/providers/Microsoft.ContainerService/managedClusters/admin-ctx",
        lambda _req: arm_error(404, "ResourceNotFound", "The Resource 'admin-ctx' was not found."),
    )
    arm.list(CLUSTERS, [managed_cluster("prod-aks", "prod-rg")])
    source = live(arm)
    [found] = source.resources("managed_clusters", AzureScope(SUB, NODE_RG, (NODE_RG,), "admin-ctx", "prod-rg"))
    assert found["name"] == "prod-aks"
    assert len(arm.requests) == 2 and "looking for the cluster by its node resource group" in source.notes[0]


def test_managed_cluster_list_forbidden_suggests_flags(arm):
    action = "Microsoft.ContainerService/managedClusters/read"
    arm.route(
        CLUSTERS,
        lambda _req: arm_error(
            403, "AuthorizationFailed", AUTHORIZATION_FAILED.format(action=action, scope=f"/subscriptions/{SUB}")
        ),
    )
    assert reason(live(arm), "managed_clusters", AzureScope(SUB, NODE_RG, (NODE_RG,))) == (
        f"forbidden: {action} on /subscriptions/{SUB}; name the cluster with --cluster NAME -g RESOURCE_GROUP"
    )


# ---- Microsoft Graph -------------------------------------------------------------------------------------------


def test_graph_application_credentials(arm):
    arm.graph_applications([graph_application(SP_APP_ID, ["2026-12-01T00:00:00Z"])])
    credential = StaticToken()
    [app] = live(arm, credential).graph_objects([SP_APP_ID.upper(), "msi"])
    assert app["appId"] == SP_APP_ID
    assert app["passwordCredentials"][0]["endDateTime"] == "2026-12-01T00:00:00Z"
    assert arm.lines == [f"GET {application_query(SP_APP_ID)}"]  # "msi" is not an app id: never sent
    assert credential.scopes == [("https://graph.microsoft.com/.default",)]


def test_graph_forbidden_names_the_permission(arm):
    arm.route(
        "/v1.0/applications",
        lambda _req: arm_error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        ),
    )
    with pytest.raises(FactUnavailable) as caught:
        live(arm).graph_objects([SP_APP_ID])
    assert caught.value.reason == "Microsoft Graph: needs Application.Read.All (403 Authorization_RequestDenied)"


# ---- clouds ---------------------------------------------------------------------------------------------------


def test_sovereign_cloud_token_audience(arm):
    arm.list(listing(NODE_RG, "Microsoft.Network/loadBalancers"), [])
    credential = StaticToken()
    live(arm, credential, cloud=cloud_named("AzureUSGovernment")).resources("load_balancers", SCOPE)
    assert credential.scopes == [("https://management.core.usgovcloudapi.net/.default",)]


def test_cloud_choice(tmp_path):
    (tmp_path / ".azure").mkdir()
    (tmp_path / ".azure" / "config").write_text("[cloud]\nname = AzureChinaCloud\n")
    home = str(tmp_path)
    assert resolve_cloud(None, {}, home)[0].arm == "https://management.chinacloudapi.cn"
    assert resolve_cloud(None, {"AZURE_CLOUD": "AzureUSGovernment"}, home)[0].graph == "https://graph.microsoft.us"
    assert resolve_cloud("public", {"AZURE_CLOUD": "AzureUSGovernment"}, home)[0].name == "AzureCloud"
    assert resolve_cloud(None, {}, str(tmp_path / "nobody"))[0].name == "AzureCloud"
    with pytest.raises(UsageError, match=r"unknown Azure cloud 'AzureStack' \(from --cloud\)"):
        resolve_cloud("AzureStack")
