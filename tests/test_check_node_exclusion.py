"""node.excluded-from-lb and node.virtual-not-excluded: who the provider leaves out of backend pools, and why."""

from builders import event, findings, node, outcome, run_snapshot, service, write_snapshot

EXCLUDED = "node.excluded-from-lb"
VIRTUAL = "node.virtual-not-excluded"
LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
LEGACY = "alpha.service-controller.kubernetes.io/exclude-balancer"
N0, N1, N2 = (f"aks-nodepool1-12345678-vmss00000{i}" for i in range(3))
CCM_LOG = (
    "E1127 09:58:01.123456       1 azure_vmss.go:1234] EnsureHostInPool(default/web): backendPoolID(...) - "
    'failed to ensure host in pool: "instance not found" node=virtual-node-aci-linux\n'
)


def run(tmp_path, objects, checks=(EXCLUDED,), **kw):
    return run_snapshot(write_snapshot(tmp_path, objects, **kw), include=list(checks))


def virtual_node(**labels):
    return node(
        "virtual-node-aci-linux",
        provider_id=None,
        labels={"type": "virtual-kubelet", "kubernetes.io/role": "agent", **labels},
        taints=[{"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}],
    )


def test_label_excludes_one_node_as_info(tmp_path):
    report = run(tmp_path, [node(N0), node(N1, labels={LABEL: "true"})])
    [finding] = findings(report, EXCLUDED)
    assert finding.severity.label == "info"
    assert finding.resource == f"Node {N1}"
    assert f"carry the label {LABEL}" in finding.cause
    assert finding.evidence[0].ref == f"Node {N1} metadata.labels[{LABEL}]"
    assert finding.evidence[0].detail == "true"
    assert finding.fix.commands == (f"kubectl label node {N1} {LABEL}-",)


def test_false_value_still_excluded_by_azure(tmp_path):
    [finding] = findings(run(tmp_path, [node(N0), node(N1, labels={LABEL: "false"})]), EXCLUDED)
    assert "generic service controller keeps them" in finding.cause
    assert "excludes every node that has the label, whatever its value" in finding.cause
    assert finding.evidence[0].detail == "false"


def test_unmanaged_control_plane_and_autoscaler(tmp_path):
    objects = [
        node(N0),
        node("onprem-1", labels={"kubernetes.azure.com/managed": "false"}),
        node("cp-1", labels={"node-role.kubernetes.io/control-plane": ""}),
        node("cp-2", labels={"kubernetes.io/role": "master"}),
        node(N2, taints=[{"key": "ToBeDeletedByClusterAutoscaler", "value": "1732700000", "effect": "NoSchedule"}]),
    ]
    by_cause = {f.cause.split(" ", 3)[2]: f for f in findings(run(tmp_path, objects), EXCLUDED)}
    assert set(by_cause) == {"(onprem-1)", "(cp-1,", f"({N2})"}
    cp = by_cause["(cp-1,"]
    assert "2 node(s) (cp-1, cp-2) are control-plane nodes" in cp.cause
    assert "cloud-provider-azure#5849" in cp.cause
    assert {e.detail for e in cp.evidence} == {"", "master"}
    assert "ToBeDeletedByClusterAutoscaler=1732700000:NoSchedule" in by_cause[f"({N2})"].evidence[0].detail
    assert all(f.severity.label == "info" for f in by_cause.values())


def test_legacy_label_no_longer_excludes(tmp_path):
    [finding] = findings(run(tmp_path, [node(N0, labels={LEGACY: "true"})]), EXCLUDED)
    assert "ignored since Kubernetes 1.19: it no longer excludes them" in finding.cause
    assert finding.severity.label == "info"
    assert finding.fix.commands == (f"kubectl label node {N0} {LABEL}=true", f"kubectl label node {N0} {LEGACY}-")


def test_all_nodes_excluded_is_a_warning(tmp_path):
    [finding] = findings(run(tmp_path, [node(N0, labels={LABEL: "true"}), node(N1, labels={LABEL: ""})]), EXCLUDED)
    assert finding.severity.label == "warning"
    assert "No node is left for load balancer backend pools" in finding.cause


def test_explains_no_available_nodes_event(tmp_path):
    svc = service("web", ingress_ip=None)
    ev = event(svc, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
    objects = [svc, ev, node(N0, labels={LABEL: "true"}), node(N1)]
    [finding] = findings(run(tmp_path, objects), EXCLUDED)
    assert finding.severity.label == "warning"
    assert 'This explains the "UnAvailableLoadBalancer" events' in finding.cause
    assert any(e.detail == "There are no available nodes for LoadBalancer" for e in finding.evidence)


def test_excluded_quiet_on_plain_nodes(tmp_path):
    report = run(tmp_path, [node(N0), node(N1), virtual_node(**{LABEL: "true"})])
    assert findings(report, EXCLUDED) == []
    assert outcome(report, EXCLUDED) == ("passed", "")


def test_virtual_node_without_label(tmp_path):
    report = run(
        tmp_path, [node(N0), virtual_node(**{LEGACY: "true"})], checks=[VIRTUAL],
        logs={"kube-system/cloud-controller-manager-5f7d8c9b4-abcde.log": CCM_LOG},
    )  # fmt: skip
    [finding] = findings(report, VIRTUAL)
    assert finding.severity.label == "error"
    assert finding.resource == "Node virtual-node-aci-linux"
    assert "lack the label node.kubernetes.io/exclude-from-external-load-balancers" in finding.cause
    assert f"carry only the legacy label {LEGACY}, which is ignored since Kubernetes 1.19" in finding.cause
    details = {(e.ref, e.detail) for e in finding.evidence}
    assert ("Node virtual-node-aci-linux metadata.labels[type]", "virtual-kubelet") in details
    assert (f"Node virtual-node-aci-linux metadata.labels[{LABEL}]", "<absent>") in details
    logs = [e for e in finding.evidence if e.source == "Log"]
    assert [e.ref for e in logs] == ["kube-system/cloud-controller-manager-5f7d8c9b4-abcde:1"]
    assert '"instance not found" node=virtual-node-aci-linux' in logs[0].detail
    assert finding.fix.action == "exclude-virtual-nodes"
    assert finding.fix.commands == (f"kubectl label node virtual-node-aci-linux {LABEL}=true",)
    assert "az aks nodepool update --labels" in finding.fix.summary


def test_virtual_quiet_when_labelled_and_not_applicable_without_virtual_nodes(tmp_path):
    labelled = run(tmp_path / "a", [node(N0), virtual_node(**{LABEL: "true"})], checks=[VIRTUAL])
    assert findings(labelled, VIRTUAL) == []
    assert outcome(labelled, VIRTUAL) == ("passed", "")
    plain = run(tmp_path / "b", [node(N0)], checks=[VIRTUAL])
    assert outcome(plain, VIRTUAL) == ("not-applicable", "no virtual-kubelet nodes")


def test_skipped_without_nodes(tmp_path):
    report = run(tmp_path, [service("web")], checks=[EXCLUDED, VIRTUAL])
    assert outcome(report, EXCLUDED) == ("skipped", "not in snapshot: nodes")
    assert outcome(report, VIRTUAL) == ("skipped", "not in snapshot: nodes")
