"""node.not-cloud-initialized: nodes cloud-provider-azure will never treat as Azure VMs, one finding per problem."""

from builders import findings, node, outcome, pod, provider_id_vmss, run_snapshot, service, system_pod, write_snapshot

CHECK = "node.not-cloud-initialized"
UNINIT = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}
HEALTHY = "aks-nodepool1-12345678-vmss000000"


def run(tmp_path, objects, **kw):
    return run_snapshot(write_snapshot(tmp_path, objects, **kw), include=[CHECK])


def test_empty_provider_id_and_taint_without_cloud_node_manager(tmp_path):
    broken = node("aks-nodepool1-12345678-vmss000001", provider_id=None, taints=[UNINIT])
    coredns = system_pod("coredns-7d4b9c7c6-abcde", owner=("ReplicaSet", "coredns-7d4b9c7c6"))
    report = run(tmp_path, [node(HEALTHY), broken, coredns])
    [finding] = findings(report, CHECK)
    assert finding.severity.label == "error"
    assert finding.resource == "Node aks-nodepool1-12345678-vmss000001"
    assert "1 node(s) (aks-nodepool1-12345678-vmss000001) have an empty spec.providerID" in finding.cause
    assert "never join a load balancer backend pool" in finding.cause
    assert "cloud-provider-azure#1155" in finding.cause
    assert "1 of them still carry the taint node.cloudprovider.kubernetes.io/uninitialized" in finding.cause
    assert "No cloud-node-manager pod runs in kube-system" in finding.cause
    details = {(e.ref, e.detail) for e in finding.evidence}
    assert ("Node aks-nodepool1-12345678-vmss000001 spec.providerID", "<absent>") in details
    assert (
        "Node aks-nodepool1-12345678-vmss000001 spec.taints",
        "node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule",
    ) in details
    assert finding.fix.commands == (
        "kubectl -n kube-system get pods -l k8s-app=cloud-node-manager -o wide",
        "kubectl -n kube-system logs -l k8s-app=cloud-node-manager --tail=100",
        "kubectl get node aks-nodepool1-12345678-vmss000001 -o 'jsonpath={.spec.providerID}'",
    )


def test_cloud_node_manager_pod_not_ready_is_cited(tmp_path):
    broken = node("aks-nodepool1-12345678-vmss000001", provider_id=None)
    broken["spec"]["providerID"] = ""
    cnm = system_pod(
        "cloud-node-manager-x7k2p",
        owner=("DaemonSet", "cloud-node-manager"),
        labels={"k8s-app": "cloud-node-manager"},
        node="aks-nodepool1-12345678-vmss000001",
        ready=False,
        waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
    )
    [finding] = findings(run(tmp_path, [broken, cnm]), CHECK)
    assert ("Node aks-nodepool1-12345678-vmss000001 spec.providerID", '""') in {
        (e.ref, e.detail) for e in finding.evidence
    }
    assert "1 cloud-node-manager pod(s) on these nodes are not ready" in finding.cause
    assert any(e.ref == "Pod kube-system/cloud-node-manager-x7k2p" for e in finding.evidence)
    assert "kubectl -n kube-system logs cloud-node-manager-x7k2p" in finding.fix.commands


def test_malformed_four_slashes(tmp_path):
    bad_id = provider_id_vmss().replace("azure:///", "azure:////")
    [finding] = findings(run(tmp_path, [node(HEALTHY, provider_id=bad_id)]), CHECK)
    assert "cluster-api-provider-azure#1292" in finding.cause
    assert finding.evidence[0].detail == bad_id


def test_hostname_provider_id(tmp_path):
    [finding] = findings(run(tmp_path, [node(HEALTHY, provider_id=HEALTHY)]), CHECK)
    assert "have their host name as spec.providerID" in finding.cause
    assert "cannot change once set" in finding.cause


def test_foreign_provider_id_and_declared_unmanaged(tmp_path):
    k3s = node("edge-1", provider_id="k3s://edge-1")
    onprem = node("onprem-1", provider_id="k3s://onprem-1", labels={"kubernetes.azure.com/managed": "false"})
    [finding] = findings(run(tmp_path, [node(HEALTHY), k3s, onprem]), CHECK)
    assert "1 node(s) (edge-1) carry another cloud provider's spec.providerID" in finding.cause
    assert "kubectl label node edge-1 kubernetes.azure.com/managed=false" in finding.fix.commands


def test_taint_left_on_initialised_node(tmp_path):
    [finding] = findings(run(tmp_path, [node(HEALTHY, taints=[UNINIT])]), CHECK)
    assert "have an Azure providerID but still carry the taint" in finding.cause


def test_one_finding_per_class_with_capped_lists(tmp_path):
    broken = [node(f"aks-nodepool1-12345678-vmss{i:06d}", provider_id=None) for i in range(30)]
    [finding] = findings(run(tmp_path, broken), CHECK)
    assert finding.cause.startswith("30 node(s) (")
    assert "and 20 more)" in finding.cause
    assert len(finding.evidence) == 5
    assert finding.resource == "Cluster prod-aks"


def test_quiet_on_healthy_and_virtual_nodes(tmp_path):
    virtual = node("virtual-node-aci-linux", provider_id=None, labels={"type": "virtual-kubelet"})
    report = run(tmp_path, [node(HEALTHY), virtual])
    assert findings(report, CHECK) == []
    assert outcome(report, CHECK) == ("passed", "")


def test_runs_under_lb_scope(tmp_path):
    svc = service("web")
    snap = write_snapshot(tmp_path, [svc, pod("web-1"), node(HEALTHY, provider_id=None)])
    report = run_snapshot(snap, service="default/web", include=[CHECK])
    assert len(findings(report, CHECK)) == 1


def test_skipped_without_nodes(tmp_path):
    assert outcome(run(tmp_path / "a", [service("web")]), CHECK) == ("skipped", "not in snapshot: nodes")
    empty = run(tmp_path / "b", [service("web")], captured_kinds=["Node"])
    assert outcome(empty, CHECK) == ("skipped", "the node list is empty")
