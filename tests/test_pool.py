"""Backend pool eligibility: which nodes cloud-provider-azure leaves out of load balancer pools, and why."""

from __future__ import annotations

from builders import node

from aksdoctor.azure import pool

N = "aks-nodepool1-12345678-vmss000000"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def codes(made, **kw):
    return [e.code for e in pool.pool_exclusions(made, **kw)]


def test_eligible_node():
    assert pool.pool_exclusion(node(N)) is None


def test_exclusion_label_any_value_excludes():
    labelled = pool.pool_exclusion(node(N, labels={EXCLUDE: "true"}))
    assert (labelled.code, labelled.text) == (pool.LABELLED, "excluded by label")
    assert labelled.evidence.ref == f"Node {N} metadata.labels[{EXCLUDE}]"
    assert labelled.evidence.detail == "true"
    assert pool.pool_exclusion(node(N, labels={EXCLUDE: "false"})).code == pool.LABELLED_FALSE
    assert pool.pool_exclusion(node(N, labels={EXCLUDE: ""})).code == pool.LABELLED


def test_unmanaged_is_case_insensitive():
    assert codes(node(N, labels={"kubernetes.azure.com/managed": "False"})) == [pool.UNMANAGED]


def test_control_plane_labels():
    assert codes(node(N, labels={"node-role.kubernetes.io/control-plane": ""})) == [pool.CONTROL_PLANE]
    assert codes(node(N, labels={"node-role.kubernetes.io/master": ""})) == [pool.CONTROL_PLANE]
    assert codes(node(N, labels={"kubernetes.io/role": "master"})) == [pool.CONTROL_PLANE]
    assert codes(node(N, labels={"kubernetes.io/role": "agent"})) == []
    cp = node(N, labels={"node-role.kubernetes.io/control-plane": ""})
    assert codes(cp, exclude_control_plane=False) == []


def test_autoscaler_taint_and_deletion():
    tainted = node(N, taints=[{"key": "ToBeDeletedByClusterAutoscaler", "value": "1732700000", "effect": "NoSchedule"}])
    [exclusion] = pool.pool_exclusions(tainted)
    assert exclusion.code == pool.AUTOSCALER
    assert exclusion.evidence.detail == "ToBeDeletedByClusterAutoscaler=1732700000:NoSchedule"
    deleting = node(N)
    deleting["metadata"]["deletionTimestamp"] = "2026-11-27T09:00:00Z"
    assert codes(deleting) == [pool.DELETING]


def test_provider_id_not_azure():
    [exclusion] = pool.pool_exclusions(node("edge-1", provider_id="k3s://edge-1"))
    assert (exclusion.code, exclusion.evidence.detail) == (pool.NOT_AZURE, "k3s://edge-1")
    assert pool.pool_exclusion(node("new-1", provider_id=None)).evidence.detail == "<absent>"


def test_node_in_another_resource_group():
    other = node(N, labels={"kubernetes.azure.com/resource-group": "other-rg"})
    assert codes(other) == []
    assert codes(other, resource_group="MC_prod-rg_prod-aks_westeurope") == [pool.OTHER_RESOURCE_GROUP]
    assert codes(other, resource_group="OTHER-RG") == []


def test_several_reasons_in_order_and_index():
    both = node(N, labels={EXCLUDE: "true", "kubernetes.azure.com/managed": "false"}, provider_id=None)
    assert codes(both) == [pool.LABELLED, pool.UNMANAGED, pool.NOT_AZURE]
    index = pool.exclusion_index([both, node("aks-nodepool1-12345678-vmss000001")])
    assert index[N].code == pool.LABELLED
    assert index["aks-nodepool1-12345678-vmss000001"] is None
