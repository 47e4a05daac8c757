"""lb.ilb-subnet, Azure side: the internal Service's subnet must exist in the cluster's VNet, have free addresses and
hold the requested private IP. The event side (SubnetIsFull, "failed to get subnet") is in test_check_provider_errors.
"""

from __future__ import annotations

import json
from typing import Any

from azure_builders import res_id, subnet_id, virtual_network, vmss
from builders import NODE_RG, SYNC_FAILED, azcore_error, event, findings, outcome, run_snapshot, service, write_snapshot

ID = "lb.ilb-subnet"
P = "service.beta.kubernetes.io/"
VNET = "aks-vnet-31415926"
SUBNETS = {"aks-subnet": "10.224.0.0/16", "snet-ilb": "10.240.0.0/29", "snet-big": "10.241.0.0/24"}


def internal(subnet: str | None = "snet-ilb", ingress_ip: str | None = None, **annotations: str) -> dict:
    ann = {P + "azure-load-balancer-internal": "true", **{P + k: v for k, v in annotations.items()}}
    if subnet is not None:
        ann[P + "azure-load-balancer-internal-subnet"] = subnet
    return service("web", annotations=ann, ingress_ip=ingress_ip)


def vnet(used: dict[str, int] | None = None, name: str = VNET, rg: str = NODE_RG, subnets=None) -> dict[str, Any]:
    """The cluster VNet; `used` gives subnets a number of IP configurations (NICs, frontends) using them."""
    made = virtual_network(name, subnets or SUBNETS, rg=rg)
    for sub in made["properties"]["subnets"]:
        count = (used or {}).get(sub["name"], 0)
        sub["properties"]["ipConfigurations"] = [
            {"id": f"{sub['id']}-nic{i}/ipConfigurations/ipconfig1"} for i in range(count)
        ]
    return made


def run(tmp_path, svc, *vnets, objects=(), files=None, **azure):
    docs = {"virtualNetworks.json": list(vnets), "virtualMachineScaleSets.json": [vmss("aks-nodepool1-12345678-vmss")]}
    snap = write_snapshot(tmp_path, [svc, *objects], azure={**docs, **azure}, files=files)
    return run_snapshot(snap, service="default/web", include=[ID])


def test_full_subnet_keeps_a_new_service_without_ip(tmp_path):
    report = run(tmp_path, internal(), vnet({"snet-ilb": 3, "snet-big": 10}))
    [finding] = findings(report, ID)
    assert finding.severity.label == "error"
    assert "Subnet snet-ilb has no free address left" in finding.cause
    assert "stays without an IP (SubnetIsFull)" in finding.cause
    numbers = finding.evidence[-1]
    assert numbers.ref == subnet_id(VNET, "snet-ilb")
    assert numbers.detail == (
        "addressPrefix(es)=10.240.0.0/29 ipConfigurations=3 free=0 (prefix size - 5 reserved - ipConfigurations)"
    )
    # the annotation and where the VNet came from (the scale set's NIC configuration) are evidence too
    assert finding.evidence[0].detail == "snet-ilb"
    assert finding.evidence[1].ref == subnet_id(VNET, "aks-subnet")
    # the other subnet with the most free addresses
    assert finding.fix.commands == (
        f"kubectl -n default annotate service web {P}azure-load-balancer-internal-subnet=aks-subnet --overwrite",
    )


def test_full_subnet_is_a_warning_when_the_service_has_its_ip(tmp_path):
    report = run(tmp_path, internal(ingress_ip="10.240.0.4"), vnet({"snet-ilb": 3}))
    [finding] = findings(report, ID)
    assert finding.severity.label == "warning"
    assert "keeps the IP it has" in finding.cause


def test_missing_subnet_names_the_vnet_and_where_it_exists(tmp_path):
    other = vnet(name="hub-vnet", rg="net-rg", subnets={"snet-x": "10.9.0.0/24"})
    other["properties"]["subnets"][0]["name"] = "SNET-MISSING"
    report = run(tmp_path, internal("snet-missing"), vnet(), other)
    [finding] = findings(report, ID)
    assert finding.severity.label == "error"
    assert f"Subnet 'snet-missing' does not exist in the cluster's VNet {VNET}" in finding.cause
    assert "A subnet of that name exists in VNet hub-vnet" in finding.cause
    assert finding.evidence[-1].detail == "subnets: aks-subnet, snet-ilb, snet-big"
    assert finding.fix.commands[0].startswith(
        f"az network vnet subnet list --resource-group {NODE_RG} --vnet-name {VNET}"
    )


def test_vnet_from_the_cloud_config(tmp_path):
    config = {"vnetName": "hub", "vnetResourceGroup": "net-rg", "subnetName": "nodes", "aadClientSecret": "s3cr3t"}
    hub = vnet({"ilb": 3}, name="hub", rg="net-rg", subnets={"nodes": "10.1.0.0/24", "ilb": "10.1.1.0/29"})
    # the scale set's subnet (aks-vnet) loses against the cloud config, which is what the provider reads
    report = run(tmp_path, internal("ilb"), hub, vnet(), files={"azure.json": json.dumps(config)})
    [finding] = findings(report, ID)
    assert "Subnet ilb has no free address left" in finding.cause
    config_evidence = [(e.source, e.detail) for e in finding.evidence if e.source == "Config"]
    assert config_evidence == [
        ("Config", 'vnetName: "hub"'),
        ("Config", 'vnetResourceGroup: "net-rg"'),
        ("Config", 'subnetName: "nodes"'),
    ]
    assert "s3cr3t" not in json.dumps([e.to_dict() for e in finding.evidence])
    assert finding.fix.commands[0].endswith("azure-load-balancer-internal-subnet=nodes --overwrite")


def test_requested_ip_outside_the_subnet_points_at_the_subnet_holding_it(tmp_path):
    svc = internal(**{"azure-load-balancer-ipv4": "10.241.0.10"})
    [finding] = findings(run(tmp_path, svc, vnet()), ID)
    assert "asks for private IP 10.241.0.10, which is outside subnet snet-ilb (10.240.0.0/29)" in finding.cause
    assert "lies in subnet snet-big" in finding.cause
    assert finding.evidence[0].ref == f"Service default/web metadata.annotations[{P}azure-load-balancer-ipv4]"
    assert finding.fix.commands == (
        f"kubectl -n default annotate service web {P}azure-load-balancer-internal-subnet=snet-big --overwrite",
    )


def test_requested_ip_reserved_by_azure(tmp_path):
    svc = service("web", annotations={P + "azure-load-balancer-internal": "true"}, ingress_ip=None)
    svc["spec"]["loadBalancerIP"] = "10.224.0.3"
    [finding] = findings(run(tmp_path, svc, vnet()), ID)
    assert "one of the 5 addresses Azure reserves in 10.224.0.0/16" in finding.cause
    assert finding.evidence[0].ref == "Service default/web spec.loadBalancerIP"


def test_quiet_when_the_subnet_has_room_and_holds_the_ip(tmp_path):
    svc = internal(**{"azure-load-balancer-ipv4": "10.240.0.5"})
    report = run(tmp_path, svc, vnet({"snet-ilb": 2}))
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_az_flattened_vnet(tmp_path):
    vnet_id = res_id("Microsoft.Network/virtualNetworks", VNET)
    flattened = {
        "name": VNET,
        "id": vnet_id,
        "type": "Microsoft.Network/virtualNetworks",
        "resourceGroup": NODE_RG,
        "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
        "subnets": [
            {
                "name": "aks-subnet",
                "id": f"{vnet_id}/subnets/aks-subnet",
                "addressPrefix": "10.224.0.0/16",
                "resourceGroup": NODE_RG,
            },
            {
                "name": "snet-ilb",
                "id": f"{vnet_id}/subnets/snet-ilb",
                "addressPrefix": "10.240.0.0/29",
                "ipConfigurations": [{"id": f"{vnet_id}/nic{i}", "resourceGroup": NODE_RG} for i in range(3)],
                "resourceGroup": NODE_RG,
            },
        ],
    }
    [finding] = findings(run(tmp_path, internal(), flattened), ID)
    assert "free=0" in finding.evidence[-1].detail


def test_azure_and_events_both_report(tmp_path):
    svc = internal()
    text = SYNC_FAILED + azcore_error(
        400,
        "Bad Request",
        "SubnetIsFull",
        f"Subnet snet-ilb with address prefix 10.240.0.0/29 does not have enough capacity for 1 IP addresses. "
        f"{subnet_id(VNET, 'snet-ilb')}",
        method="PUT",
    )
    report = run(tmp_path, svc, vnet({"snet-ilb": 3}), objects=[event(svc, "SyncLoadBalancerFailed", text)])
    causes = [f.cause for f in findings(report, ID)]
    assert len(causes) == 2
    assert any("SubnetIsFull (HTTP 400)" in c for c in causes)  # from the event
    assert any("has no free address left" in c for c in causes)  # from the VNet


def test_not_internal(tmp_path):
    report = run(tmp_path, service("web"), vnet())
    assert outcome(report, ID) == ("skipped", "not in snapshot: events")


def test_skipped_when_neither_side_can_look(tmp_path):
    snap = write_snapshot(tmp_path, [internal()])
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == ("skipped", "not in snapshot: events; not in snapshot: Azure virtual networks")


def test_vnet_from_availability_set_nics(tmp_path):
    from azure_builders import network_interface

    nic = network_interface("aks-nodepool1-nic-0", subnet=subnet_id(VNET, "aks-subnet"))
    azure = {"virtualNetworks.json": [vnet({"snet-ilb": 3})], "networkInterfaces.json": [nic]}
    snap = write_snapshot(tmp_path, [internal()], azure=azure)
    [finding] = findings(run_snapshot(snap, service="default/web", include=[ID]), ID)
    assert "Subnet snet-ilb has no free address left" in finding.cause
    assert finding.evidence[1].detail == "subnet of 1 node NIC configuration(s): the cluster's default subnet"


def test_skipped_when_the_cluster_vnet_is_unknown_or_not_listed(tmp_path):
    snap = write_snapshot(tmp_path / "unknown", [internal()], azure={"virtualNetworks.json": [vnet()]})
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == (
        "skipped",
        "not in snapshot: events; cannot tell the cluster's VNet: no cloud config and no scale set or NIC subnet",
    )
    report = run(tmp_path / "unlisted", internal(), vnet(name="other-vnet"))
    assert outcome(report, ID) == (
        "skipped",
        f"not in snapshot: events; the cluster's VNet {VNET} ({NODE_RG}) was not listed",
    )
