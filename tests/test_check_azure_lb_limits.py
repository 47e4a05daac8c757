"""azure.lb-limits: load balancer counts against the SKU limits (warn at 80 %, error at 100 %), and rules per NIC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure_builders import NETWORK, load_balancer, res_id, vmss_ip_configuration_id
from builders import NODE_RG, findings, node, outcome, run_snapshot, service, write_snapshot

ID = "azure.lb-limits"
VMSS = "aks-nodepool1-12345678-vmss"


def padded(lb: dict[str, Any], collection: str, count: int, props: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fill an LB collection (frontendIPConfigurations, loadBalancingRules, probes) up to `count` items."""
    items = lb["properties"][collection]
    for i in range(len(items), count):
        name = f"x{i}"
        items.append({"name": name, "id": f"{lb['id']}/{collection}/{name}", "properties": dict(props or {})})
    return lb


def with_members(lb: dict[str, Any], count: int, vmss: str = VMSS) -> dict[str, Any]:
    pool = lb["properties"]["backendAddressPools"][0]
    pool["properties"]["backendIPConfigurations"] = [{"id": vmss_ip_configuration_id(vmss, i)} for i in range(count)]
    return lb


def run(tmp_path, *lbs: Mapping[str, Any], objects=(), **files: Any):
    azure = {"loadBalancers.json": list(lbs), **files}
    return run_snapshot(write_snapshot(tmp_path, [service("web"), *objects], azure=azure), include=[ID])


def test_frontends_at_80_percent_warn(tmp_path):
    lb = padded(load_balancer(), "frontendIPConfigurations", 480)
    report = run(tmp_path, lb)
    [finding] = findings(report, ID)
    assert finding.severity.label == "warning"
    assert finding.resource == "LoadBalancer kubernetes"
    assert "has 480 frontend IP configurations: 80 % of the Standard limit of 600" in finding.cause
    assert "LoadBalancerFrontendIPConfigurationCountLimitReached" in finding.cause
    assert finding.evidence[1].detail == "frontend IP configurations: 480 (limit 600)"
    assert finding.evidence[1].ref == lb["id"]
    assert finding.fix.commands == (
        f"az network lb frontend-ip list --resource-group {NODE_RG} --lb-name kubernetes --output table",
    )


def test_basic_rules_at_the_limit_are_an_error_and_name_the_provider_limit(tmp_path):
    lb = padded(load_balancer(sku="Basic"), "loadBalancingRules", 250)
    [finding] = findings(run(tmp_path, lb), ID)
    assert finding.severity.label == "error"
    assert "(Basic) has 250 rules (load-balancing + inbound NAT): 100 % of the Basic limit and " in finding.cause
    assert "MaximumLoadBalancerRuleCount of 250" in finding.cause
    assert finding.evidence[0].detail == "Basic"


def test_pool_near_its_limit(tmp_path):
    lb = with_members(load_balancer(), 850)
    [finding] = findings(run(tmp_path, lb), ID)
    assert finding.severity.label == "warning"
    assert "850 IP configurations in backend pool kubernetes: 85 % of the Standard limit of 1000" in finding.cause
    assert finding.evidence[1].ref == lb["id"] + "/backendAddressPools/kubernetes"
    assert "--name kubernetes --query" in finding.fix.commands[0]


def test_rules_per_nic_add_up_across_load_balancers(tmp_path):
    public = with_members(padded(load_balancer(), "loadBalancingRules", 150), 3)
    internal = with_members(padded(load_balancer("kubernetes-internal"), "loadBalancingRules", 100), 3)
    for lb in (public, internal):
        pool_id = lb["properties"]["backendAddressPools"][0]["id"]
        for rule in lb["properties"]["loadBalancingRules"]:
            rule["properties"]["backendAddressPool"] = {"id": pool_id}
    nodes = [node(f"{VMSS}00000{i}") for i in range(3)]
    [finding] = findings(run(tmp_path, public, internal, objects=nodes), ID)
    assert finding.severity.label == "warning"
    assert "3 NIC(s) carry at least 80 % of the 300 rules Azure allows per NIC" in finding.cause
    assert f"the NIC of node {VMSS}000002 carries 250: 83 %" in finding.cause
    assert finding.evidence[0].detail == "rules across load balancers: 250 (limit 300)"


def test_quiet_below_the_thresholds(tmp_path):
    svc = service("web")
    frontend = {"public_ip_id": res_id(f"{NETWORK}/publicIPAddresses", "ip")}
    lb = with_members(load_balancer(services=[(svc, frontend)]), 3)
    report = run(tmp_path, lb)
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_az_flattened_load_balancer(tmp_path):
    lb_id = res_id(f"{NETWORK}/loadBalancers", "kubernetes")
    members = [{"id": vmss_ip_configuration_id(VMSS, i), "resourceGroup": NODE_RG} for i in range(1000)]
    flattened = {
        "name": "kubernetes",
        "id": lb_id,
        "type": "Microsoft.Network/loadBalancers",
        "resourceGroup": NODE_RG,
        "sku": {"name": "Standard", "tier": "Regional"},
        "provisioningState": "Succeeded",
        "frontendIpConfigurations": [],
        "loadBalancingRules": [],
        "probes": [],
        "backendAddressPools": [
            {
                "name": "kubernetes",
                "id": f"{lb_id}/backendAddressPools/kubernetes",
                "resourceGroup": NODE_RG,
                "backendIpConfigurations": members,
                # recent API versions list NIC-based members here too: counted once
                "loadBalancerBackendAddresses": [
                    {"name": f"m{i}", "networkInterfaceIpConfiguration": {"id": m["id"]}} for i, m in enumerate(members)
                ],
            }
        ],
    }
    [finding] = findings(run(tmp_path, flattened), ID)
    assert finding.severity.label == "error"
    assert "1000 IP configurations in backend pool kubernetes: 100 %" in finding.cause


def test_other_resource_groups_and_gateway_sku_are_ignored(tmp_path):
    elsewhere = padded(load_balancer("shared", rg="shared-rg"), "frontendIPConfigurations", 600)
    gateway = padded(load_balancer("gw", sku="Gateway"), "frontendIPConfigurations", 600)
    report = run(tmp_path, elsewhere, gateway)
    assert outcome(report, ID) == ("passed", "")


def test_not_applicable_without_cluster_load_balancers(tmp_path):
    report = run(tmp_path)
    assert outcome(report, ID) == ("not-applicable", "no load balancer in the cluster's node resource group")


def test_skipped_without_azure_data(tmp_path):
    snap = write_snapshot(tmp_path, [service("web")])
    assert outcome(run_snapshot(snap, include=[ID]), ID) == ("skipped", "not in snapshot: Azure load balancers")
