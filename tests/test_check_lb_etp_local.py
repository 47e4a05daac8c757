"""lb.etp-local: Local policy probes only pass where a ready endpoint runs; nodePort-less Services need support."""

from builders import endpoint_slice, findings, node, outcome, pod, run_snapshot, service, write_snapshot

CHECK = "lb.etp-local"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
NO_FLOATING_IP = "service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip"
N0, N1, N2 = (f"aks-nodepool1-12345678-vmss00000{i}" for i in range(3))
SYSTEM = "aks-system-12345678-vmss000000"


def _local(**spec):
    spec.setdefault("healthCheckNodePort", 32101)
    return service("web", external_traffic_policy="Local", **spec)


def _run(tmp_path, *objects, **kwargs):
    snap = write_snapshot(tmp_path, objects, **kwargs)
    report = run_snapshot(snap, service="default/web", include=[CHECK])
    return report, findings(report, CHECK)


def test_info_when_some_nodes_have_no_local_endpoint(tmp_path):
    svc = _local()
    slice_ = endpoint_slice(svc, [("10.244.0.10", True, N0), ("10.244.0.11", True, N0), ("10.244.1.5", False, N1)])
    _, [finding] = _run(tmp_path, svc, slice_, node(N0), node(N1), node(N2), node(SYSTEM, labels={EXCLUDE: "true"}))
    assert finding.severity.label == "info"
    assert "1 of 3 backend-pool node(s) run a ready endpoint" in finding.cause
    assert "HTTP /healthz on healthCheckNodePort 32101" in finding.cause
    assert "the other 2 fail it by design" in finding.cause
    slices = next(e for e in finding.evidence if e.source == "EndpointSlice")
    assert slices.ref == "EndpointSlice default/web-abcde endpoints[ready].nodeName"
    assert slices.detail == f"{N0} (2)"


def test_error_when_ready_endpoints_run_only_outside_the_pool(tmp_path):
    svc = _local()
    slice_ = endpoint_slice(svc, [("10.244.9.10", True, SYSTEM)])
    _, [finding] = _run(tmp_path, svc, slice_, node(N0), node(SYSTEM, labels={EXCLUDE: "true"}))
    assert finding.severity.label == "error"
    assert f"{SYSTEM}: excluded by label" in finding.cause
    assert "the probe fails on every node" in finding.cause
    label = next(e for e in finding.evidence if e.source == "Node")
    assert (label.ref, label.detail) == (f"Node {SYSTEM} metadata.labels[{EXCLUDE}]", "true")
    assert finding.fix.commands == (
        "kubectl -n default get pods -l app=web -o wide",
        """kubectl -n default patch service web -p '{"spec": {"externalTrafficPolicy": "Cluster"}}'""",
    )


def test_endpoint_on_unknown_node_is_outside_the_pool(tmp_path):
    svc = _local()
    slice_ = endpoint_slice(svc, [("10.244.0.10", True, "gone-node")])
    _, [finding] = _run(tmp_path, svc, slice_, node(N0))
    assert finding.severity.label == "error"
    assert "gone-node: not a known node" in finding.cause


def test_quiet_when_every_pool_node_has_an_endpoint(tmp_path):
    svc = _local()
    slice_ = endpoint_slice(svc, [("10.244.0.10", True, N0), ("10.244.1.10", True, N1)])
    report, found = _run(tmp_path, svc, slice_, node(N0), node(N1))
    assert found == []
    assert outcome(report, CHECK) == ("passed", "")


def test_falls_back_to_pods_without_endpoint_slices(tmp_path):
    svc = _local()
    pods = [pod("web-1", node=N0), pod("web-2", node=N1, ready=False)]
    _, [finding] = _run(tmp_path, svc, *pods, node(N0), node(N1))
    assert "1 of 2 backend-pool node(s)" in finding.cause
    assert any(e.source == "Pod" and e.detail == f"{N0} (1)" for e in finding.evidence)


def test_missing_health_check_node_port(tmp_path):
    svc = _local(healthCheckNodePort=None)
    del svc["spec"]["healthCheckNodePort"]
    slice_ = endpoint_slice(svc, [("10.244.0.10", True, N0)])
    _, [finding] = _run(tmp_path, svc, slice_, node(N0))
    assert finding.severity.label == "warning"
    assert "no healthCheckNodePort" in finding.cause
    assert finding.evidence[1].ref == "Service default/web spec.healthCheckNodePort"
    assert finding.evidence[1].detail == "<absent>"


def test_not_applicable_without_ready_endpoints(tmp_path):
    svc = _local()
    report, found = _run(tmp_path, svc, endpoint_slice(svc, [("10.244.0.10", False, N0)]), node(N0))
    assert found == []
    assert outcome(report, CHECK)[0] == "not-applicable"


def test_skipped_without_nodes(tmp_path):
    svc = _local()
    report, found = _run(tmp_path, svc, endpoint_slice(svc))
    assert found == []
    assert outcome(report, CHECK) == ("skipped", "not in snapshot: nodes")


def test_cluster_policy_is_not_applicable(tmp_path):
    report, found = _run(tmp_path, service("web"), node(N0))
    assert found == []
    assert outcome(report, CHECK) == ("not-applicable", "externalTrafficPolicy is Cluster")


def _no_node_ports(svc):
    svc["spec"]["allocateLoadBalancerNodePorts"] = False
    for port in svc["spec"]["ports"]:
        port.pop("nodePort", None)
    return svc


def test_no_node_ports_with_cluster_policy(tmp_path):
    svc = _no_node_ports(service("web"))
    _, [finding] = _run(tmp_path, svc)
    assert finding.severity.label == "warning"
    assert "ports 80/TCP have none" in finding.cause and "shared probe mode" in finding.cause
    assert finding.evidence[0].detail == "false"
    assert finding.fix.commands == (
        """kubectl -n default patch service web -p '{"spec": {"allocateLoadBalancerNodePorts": true}}'""",
        "az aks show -g prod-rg -n prod-aks --query "
        "networkProfile.loadBalancerProfile.clusterServiceLoadBalancerHealthProbeMode",
    )


def test_no_node_ports_with_cluster_policy_udp_only_is_fine(tmp_path):
    svc = _no_node_ports(service("dns", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]))
    snap = write_snapshot(tmp_path, [svc])
    report = run_snapshot(snap, service="default/dns", include=[CHECK])
    assert outcome(report, CHECK)[0] == "not-applicable"


def test_no_node_ports_without_floating_ip(tmp_path):
    svc = _no_node_ports(_local())
    svc["metadata"]["annotations"][NO_FLOATING_IP] = "true"
    slice_ = endpoint_slice(svc, [("10.244.0.10", True, N0)])
    _, [finding] = _run(tmp_path, svc, slice_, node(N0))
    assert finding.severity.label == "warning"
    assert "floating IP is disabled" in finding.cause
    assert any(e.ref.endswith(f"[{NO_FLOATING_IP}]") for e in finding.evidence)


def test_no_node_ports_with_local_policy_and_floating_ip_is_supported(tmp_path):
    svc = _no_node_ports(_local())
    slice_ = endpoint_slice(svc, [("10.244.0.10", True, N0)])
    report, found = _run(tmp_path, svc, slice_, node(N0))
    assert found == []
    assert outcome(report, CHECK) == ("passed", "")


def test_cluster_scope_shares_the_node_index(tmp_path):
    nodes = [node(f"aks-nodepool1-12345678-vmss{i:06d}") for i in range(50)]
    objects = [*nodes]
    for i in range(20):
        svc = service(f"web{i}", external_traffic_policy="Local", healthCheckNodePort=32000 + i)
        objects += [svc, endpoint_slice(svc, [(f"10.244.{i}.10", True, kube_name(nodes[i]))])]
    report = run_snapshot(write_snapshot(tmp_path, objects), include=[CHECK])
    found = findings(report, CHECK)
    assert len(found) == 20
    assert all("1 of 50 backend-pool node(s)" in f.cause for f in found)


def kube_name(obj):
    return obj["metadata"]["name"]
