"""lb.backend-pool-empty: pool members mapped back to nodes (VMSS instances, NICs, node IPs) against eligible nodes."""

from __future__ import annotations

from azure_builders import (
    load_balancer,
    managed_public_ip,
    network_interface,
    nic_ip_configuration_id,
    res_id,
    set_pool_addresses,
    vm_id,
    vmss,
    vmss_ip_configuration_id,
    vmss_vm,
)
from builders import NODE_RG, SUB, findings, node, outcome, run_snapshot, service, write_snapshot

ID = "lb.backend-pool-empty"
VMSS = "aks-nodepool1-12345678-vmss"
NODES = [f"{VMSS}00000{i}" for i in range(3)]
HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 31080}
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
POOL_ID = res_id("Microsoft.Network/loadBalancers", "kubernetes/backendAddressPools/kubernetes")


def run(tmp_path, nodes, members, *, azure=None, address_ips=None):
    svc = service("web", ports=[HTTP])
    pip = managed_public_ip(svc, "20.50.10.4")
    lb = load_balancer(services=[(svc, {"public_ip_id": pip["id"]})], pool_members=members)
    if address_ips is not None:
        set_pool_addresses(lb, address_ips)
    files = {"loadBalancers.json": [lb], "publicIPAddresses.json": [pip], **(azure or {})}
    snap = write_snapshot(tmp_path, [svc, *nodes], azure=files)
    return run_snapshot(snap, service="default/web", include=[ID])


def vmss_members(*instances):
    return [vmss_ip_configuration_id(VMSS, i) for i in instances]


def test_vmss_pool_with_every_node_is_quiet(tmp_path):
    report = run(tmp_path, [node(n) for n in NODES], vmss_members(0, 1, 2))
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_vmss_instance_missing_from_pool(tmp_path):
    instances = [vmss_vm(VMSS, i) for i in range(3)]
    instances[2]["properties"]["latestModelApplied"] = False
    azure = {"virtualMachineScaleSetVMs.json": instances, "vmss.json": [vmss(VMSS, pools=[POOL_ID])]}
    report = run(tmp_path, [node(n) for n in NODES], vmss_members(0, 1, 7), azure=azure)
    [finding] = findings(report, ID)
    assert f"1 member(s) are no node of the cluster: {VMSS}/7." in finding.cause
    assert finding.severity.label == "error"
    assert f"1 of 3 eligible node(s) are not in backend pool kubernetes of LB kubernetes: {NODES[2]}" in finding.cause
    assert f"1 instance(s) of {VMSS} are not on the scale set's latest model" in finding.cause
    assert any(e.detail == "latestModelApplied = False" for e in finding.evidence)
    assert any(e.ref == f"Node {NODES[2]} spec.providerID" for e in finding.evidence)
    assert finding.evidence[0].detail == "3 member(s): 2 node(s) of the cluster"
    assert finding.fix.commands[0] == f"az vmss update-instances -g {NODE_RG.lower()} -n {VMSS} --instance-ids 2"


def test_scale_set_model_without_the_pool(tmp_path):
    azure = {"vmss.json": [vmss(VMSS, pools=[])]}
    report = run(tmp_path, [node(n) for n in NODES], vmss_members(0), azure=azure)
    [finding] = findings(report, ID)
    assert f"scale set {VMSS}'s model does not reference the pool" in finding.cause


def test_empty_pool_because_every_node_is_excluded(tmp_path):
    nodes = [node(n, labels={EXCLUDE: "true"}) for n in NODES[:2]]
    nodes.append(node(NODES[2], labels={"kubernetes.azure.com/managed": "false"}))
    report = run(tmp_path, nodes, [])
    [finding] = findings(report, ID)
    assert "has no members: the Service's IP forwards to no node at all" in finding.cause
    assert "No node is eligible: 2 excluded by label; 1 unmanaged node." in finding.cause
    assert any(e.ref == f"Node {NODES[0]} metadata.labels[{EXCLUDE}]" for e in finding.evidence)
    assert finding.evidence[0].detail == "0 member(s): 0 node(s) of the cluster"


def test_empty_pool_with_eligible_nodes(tmp_path):
    nodes = [node(n) for n in NODES]
    nodes.append(node("cp-1", labels={"node-role.kubernetes.io/control-plane": ""}))
    [finding] = findings(run(tmp_path, nodes, []), ID)
    assert f"3 node(s) are eligible ({', '.join(NODES)}) but none was added" in finding.cause


def test_partial_pool_names_excluded_nodes_too(tmp_path):
    nodes = [node(n) for n in NODES]
    nodes.append(node("aks-spot-1", labels={EXCLUDE: "true"}))
    [finding] = findings(run(tmp_path, nodes, vmss_members(0)), ID)
    assert "2 of 3 eligible node(s)" in finding.cause
    assert "Left out by design: 1 excluded by label." in finding.cause


def vmas_node(i):
    name = f"aks-nodepool1-12345678-{i}"
    pid = f"azure:///subscriptions/{SUB}/resourceGroups/{NODE_RG}/providers/Microsoft.Compute/virtualMachines/{name}"
    return node(name, provider_id=pid)


def test_availability_set_nodes_through_their_nics(tmp_path):
    nodes = [vmas_node(i) for i in range(3)]
    nics = [
        network_interface(
            f"aks-nodepool1-12345678-nic-{i}", ip=f"10.224.0.{10 + i}", vm_id=vm_id(f"aks-nodepool1-12345678-{i}")
        )
        for i in range(3)
    ]
    members = [nic_ip_configuration_id(f"aks-nodepool1-12345678-nic-{i}") for i in range(3)]
    report = run(tmp_path, nodes, members, azure={"networkInterfaces.json": nics})
    assert findings(report, ID) == []
    report = run(tmp_path / "missing", nodes, members[:2], azure={"networkInterfaces.json": nics})
    [finding] = findings(report, ID)
    assert "1 of 3 eligible node(s)" in finding.cause and "aks-nodepool1-12345678-2" in finding.cause


def test_nic_members_without_nic_data_are_not_judged(tmp_path):
    nodes = [vmas_node(i) for i in range(3)]
    members = [nic_ip_configuration_id(f"aks-nodepool1-12345678-nic-{i}") for i in range(2)]
    assert findings(run(tmp_path, nodes, members), ID) == []


def with_ip(made, ip):
    made["status"]["addresses"] = [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": "x"}]
    return made


def test_ip_based_pool(tmp_path):
    nodes = [with_ip(node(n), f"10.224.0.{4 + i}") for i, n in enumerate(NODES)]
    report = run(tmp_path, nodes, [], address_ips=["10.224.0.4", "10.224.0.5", "10.224.0.6"])
    assert findings(report, ID) == []
    report = run(tmp_path / "partial", nodes, [], address_ips=["10.224.0.4", "10.224.0.9"])
    [finding] = findings(report, ID)
    assert f"2 of 3 eligible node(s) are not in backend pool kubernetes of LB kubernetes: {NODES[1]}, {NODES[2]}" in (
        finding.cause
    )
    assert finding.evidence[0].detail == "2 member(s): 1 node(s) of the cluster"
    assert "1 member(s) are no node of the cluster: 10.224.0.9." in finding.cause


def test_rule_sends_to_a_missing_pool(tmp_path):
    svc = service("web", ports=[HTTP])
    pip = managed_public_ip(svc, "20.50.10.4")
    lb = load_balancer(services=[(svc, {"public_ip_id": pip["id"]})])
    lb["properties"]["backendAddressPools"] = []
    snap = write_snapshot(
        tmp_path, [svc, node(NODES[0])], azure={"loadBalancers.json": [lb], "publicIPAddresses.json": [pip]}
    )
    [finding] = findings(run_snapshot(snap, service="default/web", include=[ID]), ID)
    assert "send to backend pool kubernetes, which does not exist on LB kubernetes" in finding.cause


def test_not_applicable_without_frontend(tmp_path):
    svc = service("web", ports=[HTTP])
    snap = write_snapshot(tmp_path, [svc, node(NODES[0])], azure={"loadBalancers.json": [load_balancer()]})
    status, _ = outcome(run_snapshot(snap, service="default/web", include=[ID]), ID)
    assert status == "not-applicable"


def test_skipped_without_azure_data(tmp_path):
    snap = write_snapshot(tmp_path, [service("web", ports=[HTTP]), node(NODES[0])])
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == ("skipped", "not in snapshot: Azure load balancers")
