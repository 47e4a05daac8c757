"""lb.nsg-blocks-traffic: client traffic and the Azure probe through the subnet and NIC NSGs of each node pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from azure_builders import (
    network_interface,
    nsg,
    nsg_id,
    provider_allow_rule,
    provider_deny_all_rule,
    security_rule,
    subnet_id,
    virtual_network,
    vm_id,
    vmss,
)
from builders import NODE_RG, findings, node, outcome, run_snapshot, service, write_snapshot

ID = "lb.nsg-blocks-traffic"
VMSS = "aks-nodepool1-12345678-vmss"
NODE = f"{VMSS}000000"
FRONTEND = "20.50.10.4"
NIC_NSG = "aks-agentpool-31415926-nsg"
HTTPS = ({"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},)
PREFIX = "service.beta.kubernetes.io/"


def web(**kw: Any) -> dict[str, Any]:
    return service("web", ports=HTTPS, **kw)


def node_port(svc: Mapping[str, Any]) -> int:
    return svc["spec"]["ports"][0]["nodePort"]


def run(
    tmp_path,
    svc: Mapping[str, Any],
    nic_rules: Sequence[Mapping[str, Any]] | None = (),
    subnet_rules: Sequence[Mapping[str, Any]] | None = None,
    *,
    objects: Sequence[Mapping[str, Any]] = (),
    azure: Mapping[str, Any] | None = None,
):
    """One scale set; `nic_rules` None: no NIC NSG; `subnet_rules` None: no subnet NSG."""
    groups = []
    if nic_rules is not None:
        groups.append(nsg(NIC_NSG, nic_rules))
    if subnet_rules is not None:
        groups.append(nsg("subnet-nsg", subnet_rules))
    files = {
        "networkSecurityGroups.json": groups,
        "virtualMachineScaleSets.json": [vmss(VMSS, nsg_id=nsg_id(NIC_NSG) if nic_rules is not None else None)],
        "virtualNetworks.json": [
            virtual_network(nsg_id=nsg_id("subnet-nsg") if subnet_rules is not None else None),
        ],
        **(azure or {}),
    }
    root = write_snapshot(tmp_path, [svc, node(NODE), *objects], azure=files)
    return run_snapshot(root, service="default/web", include=[ID])


def allow_internet(svc: Mapping[str, Any], priority: int = 500) -> dict[str, Any]:
    return provider_allow_rule([FRONTEND], [443], priority=priority)


def test_user_deny_ranked_before_the_provider_allow_blocks_https_from_internet(tmp_path):
    svc = web()
    deny = security_rule("deny-https-all", 400, access="Deny", ports="443")
    report = run(tmp_path, svc, [allow_internet(svc), deny])
    [finding] = findings(report, ID)
    assert finding.severity.label == "error"
    assert finding.resource == "Service default/web"
    assert (
        f"TCP 443 from Internet to {FRONTEND} is denied by rule deny-https-all (priority 400) of the NIC NSG "
        f"{NIC_NSG}, for scale set {VMSS}" in finding.cause
    )
    assert finding.cause.endswith(f"Evaluated on one representative node per node pool: {NODE} for scale set {VMSS}.")
    assert "VirtualNetwork was taken" not in finding.cause
    rule_ev = finding.evidence[0]
    assert rule_ev.ref == nsg_id(NIC_NSG) + "/securityRules/deny-https-all"
    assert rule_ev.detail == (
        f"NIC NSG {NIC_NSG}: priority=400 access=Deny direction=Inbound protocol=Tcp source=* destination=* "
        f"ports=443; denies TCP 443 from Internet to {FRONTEND}"
    )
    assert finding.evidence[1].detail == FRONTEND  # status.loadBalancer.ingress[].ip
    assert finding.fix.commands == (
        f"az network nsg rule create --resource-group {NODE_RG} --nsg-name {NIC_NSG} --name allow-client-tcp-443 "
        "--priority 399 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes Internet "
        f"--source-port-ranges '*' --destination-address-prefixes {FRONTEND} --destination-port-ranges 443",
    )


def test_quiet_when_the_provider_rule_allows_the_traffic(tmp_path):
    svc = web()
    report = run(tmp_path, svc, [allow_internet(svc)])
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_subnet_nsg_denying_azure_load_balancer_blocks_the_probe(tmp_path):
    svc = web()
    subnet = [
        security_rule("allow-web", 200, source="Internet", ports="443"),
        security_rule("deny-azure-lb", 300, access="Deny", protocol="*", source="AzureLoadBalancer"),
        security_rule("deny-vnet", 310, access="Deny", protocol="*", source="VirtualNetwork"),
    ]
    report = run(tmp_path, svc, [allow_internet(svc)], subnet)
    [finding] = findings(report, ID)
    port = node_port(svc)
    assert finding.severity.label == "error"
    assert finding.cause.startswith(
        "Azure's health probe (source AzureLoadBalancer, 168.63.129.16) is denied by a network security group: "
        f"TCP {port} from AzureLoadBalancer to 10.224.0.4 is denied by rule deny-azure-lb (priority 300) of the "
        f"subnet NSG subnet-nsg, for scale set {VMSS}."
    )
    assert "The load balancer then marks these nodes down" in finding.cause
    node_ev = next(e for e in finding.evidence if e.source == "Node")
    assert node_ev.ref == f"Node {NODE}"
    assert node_ev.detail == f"InternalIP 10.224.0.4: representative of scale set {VMSS} (1 node(s))"
    assert finding.fix.commands == (
        f"az network nsg rule create --resource-group {NODE_RG} --nsg-name subnet-nsg --name allow-probe-tcp-{port} "
        "--priority 299 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes "
        "AzureLoadBalancer --source-port-ranges '*' --destination-address-prefixes 10.224.0.0/16 "
        f"--destination-port-ranges {port}",
    )
    assert "AzureLoadBalancer service tag" in finding.fix.summary


def test_subnet_nsg_without_the_provider_rule_blocks_clients_and_says_where_the_rule_is(tmp_path):
    svc = web()
    report = run(tmp_path, svc, [allow_internet(svc)], [])
    [finding] = findings(report, ID)
    assert "is denied by rule DenyAllInBound (priority 65500) of the subnet NSG subnet-nsg" in finding.cause
    assert f"cloud-provider-azure keeps its allow rule in NSG {NIC_NSG} only" in finding.cause
    assert "--nsg-name subnet-nsg --name allow-client-tcp-443 --priority 4096" in finding.fix.commands[0]


def test_source_ranges_restricting_properly_is_quiet(tmp_path):
    svc = web(loadBalancerSourceRanges=["203.0.113.0/24"])
    rule = provider_allow_rule([FRONTEND], [443], sources=["203.0.113.0/24"])
    report = run(tmp_path, svc, [rule])
    assert findings(report, ID) == []
    assert outcome(report, ID)[0] == "passed"


def test_allowed_ip_range_the_nsg_does_not_admit_fires(tmp_path):
    svc = web(annotations={PREFIX + "azure-allowed-ip-ranges": "198.51.100.0/24"})
    stale = provider_allow_rule([FRONTEND], [443], sources=["203.0.113.0/24"])
    report = run(tmp_path, svc, [stale])
    [finding] = findings(report, ID)
    assert finding.severity.label == "error"
    assert (
        f"TCP 443 from 198.51.100.0/24 to {FRONTEND} is denied by rule DenyAllInBound (priority 65500)" in finding.cause
    )
    assert "cloud-provider-azure's allow rule for these sources (k8s-azure-lb_allow_IPv4_" in finding.cause
    assert "is in none of the nodes' NSGs: its last sync of the Service failed" in finding.cause
    annotation = next(e for e in finding.evidence if "azure-allowed-ip-ranges" in e.ref)
    assert annotation.detail == "198.51.100.0/24"
    assert "--source-address-prefixes 198.51.100.0/24" in finding.fix.commands[0]
    assert finding.evidence[0].ref.endswith("/defaultSecurityRules/DenyAllInBound")


def test_managed_deny_all_is_explained_not_edited(tmp_path):
    annotations = {PREFIX + "azure-deny-all-except-load-balancer-source-ranges": "true"}
    svc = web(annotations=annotations, loadBalancerSourceRanges=["203.0.113.0/24"])
    report = run(tmp_path, svc, [provider_deny_all_rule([FRONTEND])])
    [finding] = findings(report, ID)
    assert "denied by rule k8s-azure-lb_deny-all_IPv4 (priority 4095)" in finding.cause
    assert "k8s-azure-lb_deny-all_IPv4 is cloud-provider-azure's own rule" in finding.fix.summary
    assert finding.fix.commands == ("kubectl -n default describe service web",)


def test_internal_lb_admits_virtual_network_by_default(tmp_path):
    svc = web(annotations={PREFIX + "azure-load-balancer-internal": "true"}, ingress_ip="10.224.0.100")
    report = run(tmp_path, svc, [])
    assert findings(report, ID) == []
    assert outcome(report, ID)[0] == "passed"


def test_internal_lb_denied_from_virtual_network(tmp_path):
    svc = web(annotations={PREFIX + "azure-load-balancer-internal": "true"}, ingress_ip="10.224.0.100")
    deny = security_rule("deny-vnet-https", 1000, access="Deny", source="VirtualNetwork", ports="443")
    [finding] = findings(run(tmp_path, svc, [deny]), ID)
    assert "TCP 443 from VirtualNetwork to 10.224.0.100 is denied by rule deny-vnet-https" in finding.cause


def test_floating_ip_disabled_targets_node_ip_and_node_port(tmp_path):
    svc = web(annotations={PREFIX + "azure-disable-load-balancer-floating-ip": "true"})
    port = node_port(svc)
    report = run(tmp_path, svc, [allow_internet(svc)])  # a rule for the frontend IP does not admit node traffic
    [finding] = findings(report, ID)
    assert f"TCP {port} from Internet to 10.224.0.4 is denied by rule DenyAllInBound" in finding.cause
    assert any(e.source == "Node" and e.detail.startswith("InternalIP 10.224.0.4") for e in finding.evidence)
    assert f"--destination-address-prefixes 10.224.0.0/16 --destination-port-ranges {port}" in finding.fix.commands[0]


def test_floating_ip_disabled_quiet_when_node_port_is_open(tmp_path):
    svc = web(annotations={PREFIX + "azure-disable-load-balancer-floating-ip": "true"})
    rule = provider_allow_rule(["10.224.0.4"], [node_port(svc)])
    report = run(tmp_path, svc, [rule])
    assert findings(report, ID) == []


def test_no_nsg_at_any_level_is_quiet(tmp_path):
    report = run(tmp_path, web(), None, None)
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_disable_nsg_rule_annotation_is_named(tmp_path):
    svc = web(annotations={PREFIX + "azure-disable-load-balancer-nsg-rule": "true"})
    [finding] = findings(run(tmp_path, svc, []), ID)
    assert "azure-disable-load-balancer-nsg-rule: cloud-provider-azure manages no NSG rule for it" in finding.cause
    assert any(
        e.ref.endswith("[service.beta.kubernetes.io/azure-disable-load-balancer-nsg-rule]") for e in finding.evidence
    )


def test_block_list_on_internet_is_a_warning(tmp_path):
    svc = web()
    deny = security_rule("deny-abusers", 400, access="Deny", source="198.51.100.0/24", ports="443")
    [finding] = findings(run(tmp_path, svc, [deny, allow_internet(svc)]), ID)
    assert finding.severity.label == "warning"
    assert "is denied (for 198.51.100.0/24; the rest is allowed) by rule deny-abusers" in finding.cause


def test_service_tag_deny_before_the_allow_cannot_be_told(tmp_path):
    svc = web()
    deny = security_rule("deny-frontdoor", 400, access="Deny", source="AzureFrontDoor.Backend", ports="443")
    [finding] = findings(run(tmp_path, svc, [deny, allow_internet(svc)]), ID)
    assert finding.severity.label == "warning"
    assert finding.cause.startswith("Cannot tell whether the Service traffic passes the NSGs")
    assert "source service tag AzureFrontDoor.Backend cannot be expanded offline" in finding.cause


def test_az_flattened_nsg(tmp_path):
    svc = web()
    rid = nsg_id(NIC_NSG)
    flattened = {
        "name": NIC_NSG,
        "id": rid,
        "type": "Microsoft.Network/networkSecurityGroups",
        "resourceGroup": NODE_RG,
        "location": "westeurope",
        "provisioningState": "Succeeded",
        "securityRules": [
            {
                "name": "block-web",
                "id": f"{rid}/securityRules/block-web",
                "resourceGroup": NODE_RG,
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "access": "Deny",
                "direction": "Inbound",
                "priority": 120,
                "protocol": "*",
                "sourceAddressPrefix": "*",
                "sourceAddressPrefixes": [],
                "sourcePortRange": "*",
                "sourcePortRanges": [],
                "destinationAddressPrefix": "",
                "destinationAddressPrefixes": [FRONTEND],
                "destinationPortRange": "",
                "destinationPortRanges": ["80", "443"],
            }
        ],
    }
    flat_vmss = {
        "name": VMSS,
        "id": vmss(VMSS)["id"],
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "virtualMachineProfile": {
            "networkProfile": {
                "networkInterfaceConfigurations": [
                    {
                        "name": VMSS,
                        "primary": True,
                        "networkSecurityGroup": {"id": rid, "resourceGroup": NODE_RG},
                        "ipConfigurations": [{"name": "ipconfig1", "subnet": {"id": subnet_id()}}],
                    }
                ]
            }
        },
    }
    azure = {"networkSecurityGroups.json": [flattened], "virtualMachineScaleSets.json": [flat_vmss]}
    [finding] = findings(run(tmp_path, svc, None, azure=azure), ID)
    assert "denied by rule block-web (priority 120) of the NIC NSG" in finding.cause
    assert next(e for e in finding.evidence if e.source == "Azure").ref == f"{rid}/securityRules/block-web"


def test_one_finding_per_flow_kind_across_pools(tmp_path):
    svc = web()
    other = "aks-userpool-87654321-vmss"
    azure = {
        "networkSecurityGroups.json": [
            nsg(NIC_NSG, [allow_internet(svc)]),
            nsg("user-nsg", [security_rule("deny-all-in", 100, access="Deny", protocol="*")]),
        ],
        "virtualMachineScaleSets.json": [vmss(VMSS, nsg_id=nsg_id(NIC_NSG)), vmss(other, nsg_id=nsg_id("user-nsg"))],
    }
    report = run(tmp_path, svc, None, objects=[node(f"{other}000000")], azure=azure)
    client, probe = findings(report, ID)
    assert f"for scale set {other}" in client.cause and f"scale set {VMSS}," not in client.cause
    assert "AzureLoadBalancer" in probe.cause
    assert f"node pool: {NODE} for scale set {VMSS}; {other}000000 for scale set {other}." in probe.cause
    assert f"cloud-provider-azure keeps its allow rule in NSG {NIC_NSG} only; it never edits user-nsg." in client.cause


def test_vnet_not_read_assumes_private_ranges_and_skips_the_unknown_subnet_level(tmp_path):
    svc = web()
    deny = security_rule("deny-https-all", 400, access="Deny", ports="443")
    root = write_snapshot(
        tmp_path,
        [svc, node(NODE)],
        azure={
            "networkSecurityGroups.json": [nsg(NIC_NSG, [deny])],
            "virtualMachineScaleSets.json": [vmss(VMSS, nsg_id=nsg_id(NIC_NSG))],
        },
    )
    [finding] = findings(run_snapshot(root, service="default/web", include=[ID]), ID)
    assert "VirtualNetwork was taken as the assumed private ranges" in finding.cause
    assert any(e.detail.startswith("not evaluated: subnet NSG of scale set") for e in finding.evidence)


def test_skipped_when_a_level_cannot_be_read_and_nothing_else_fires(tmp_path):
    root = write_snapshot(
        tmp_path,
        [web(), node(NODE)],
        azure={"networkSecurityGroups.json": [nsg(NIC_NSG)], "virtualNetworks.json": [virtual_network()]},
    )
    status, reason = outcome(run_snapshot(root, service="default/web", include=[ID]), ID)
    assert status == "skipped"
    assert reason.startswith("could not evaluate every NSG: subnet NSG of scale set")
    assert "not in snapshot: Azure vm scale sets" in reason


def test_skipped_without_nsgs(tmp_path):
    root = write_snapshot(tmp_path, [web(), node(NODE)], azure={"virtualNetworks.json": [virtual_network()]})
    status, reason = outcome(run_snapshot(root, service="default/web", include=[ID]), ID)
    assert (status, reason) == ("skipped", "not in snapshot: Azure network security groups")


def test_not_applicable_without_an_ip_or_for_another_load_balancer_class(tmp_path):
    report = run(tmp_path / "a", web(ingress_ip=None), [])
    assert outcome(report, ID) == ("not-applicable", "the Service has no load balancer IP yet (see lb.pending)")
    report = run(tmp_path / "b", web(loadBalancerClass="example.com/lb"), [])
    assert outcome(report, ID)[0] == "not-applicable"


def test_availability_set_nodes_use_their_nic_nsg(tmp_path):
    svc = web()
    vm = "aks-agentpool-27053986-0"
    nic = network_interface(f"{vm}-nic", vm_id=vm_id(vm))
    nic["properties"]["networkSecurityGroup"] = {"id": nsg_id("vm-nsg")}
    deny = security_rule("deny-https", 300, access="Deny", ports="443")
    azure = {
        "networkSecurityGroups.json": [nsg("vm-nsg", [deny, allow_internet(svc)])],
        "virtualMachineScaleSets.json": [],
        "networkInterfaces.json": [nic],
    }
    vmas = node(vm, provider_id=f"azure://{vm_id(vm)}")
    root = write_snapshot(tmp_path, [svc, vmas], azure={**azure, "virtualNetworks.json": [virtual_network()]})
    [finding] = findings(run_snapshot(root, service="default/web", include=[ID]), ID)
    assert (
        "denied by rule deny-https (priority 300) of the NIC NSG vm-nsg, for VMs with standalone NICs in subnet "
        in (finding.cause)
    )
    assert f"{vm} for VMs with standalone NICs in subnet aks-subnet." in finding.cause


def test_local_traffic_policy_probe_uses_the_health_check_node_port(tmp_path):
    svc = web(external_traffic_policy="Local", healthCheckNodePort=32100)
    subnet = [
        security_rule("deny-probe-port", 300, access="Deny", source="AzureLoadBalancer", ports="32100"),
        security_rule("allow-web", 310, source="Internet", ports="443"),
    ]
    [finding] = findings(run(tmp_path, svc, [allow_internet(svc)], subnet), ID)
    assert "TCP 32100 from AzureLoadBalancer to 10.224.0.4 is denied by rule deny-probe-port" in finding.cause
