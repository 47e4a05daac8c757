"""fix exclude-virtual-nodes through the CLI and the real client against KubeFake: the exact writes, the dry run,
idempotency, verification, a snapshot, a partial failure and the audit record."""

from builders import node, write_snapshot
from fixkit import SSR, cluster_writes, fix, run_cli, writes
from kubefake import KubeFake

LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
N0 = "aks-nodepool1-12345678-vmss000000"
VK1, VK2 = "virtual-node-aci-linux", "virtual-node-aci-linux-2"
PATCH = "application/merge-patch+json"


def virtual_node(name=VK1, **labels):
    """As the AKS virtual node add-on registers it: in no node pool, not an Azure VM."""
    made = node(
        name,
        provider_id=None,
        labels={"type": "virtual-kubelet", "kubernetes.io/role": "agent", **labels},
        taints=[{"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}],
    )
    for key in ("kubernetes.azure.com/agentpool", "kubernetes.azure.com/cluster"):
        if key not in labels:
            del made["metadata"]["labels"][key]
    return made


def objects():
    return [node(N0), virtual_node(VK1), virtual_node(VK2), virtual_node("vk-done", **{LABEL: "true"})]


def label_body():
    return {"metadata": {"labels": {LABEL: "true"}}}


def test_dry_run_shows_exact_requests_and_writes_nothing(tmp_path):
    with KubeFake(objects()) as fake:
        result = fix(fake, tmp_path, "exclude-virtual-nodes")
        assert {r.method for r in fake.requests} == {"GET"}
    assert result.code == 0, result.stderr
    doc = result.doc
    assert (doc["mode"], doc["outcome"], doc["result"]) == ("plan", "planned", None)
    assert doc["addresses"] == ["node.virtual-not-excluded"]
    first, second = doc["plan"]["steps"]
    assert first["target"] == f"Node {VK1}"
    assert first["request"] == {
        "api": "kubernetes",
        "method": "PATCH",
        "path": f"/api/v1/nodes/{VK1}",
        "contentType": PATCH,
        "body": label_body(),
    }
    assert first["command"] == f"kubectl label node {VK1} {LABEL}=true"
    assert first["rollback"] == f"kubectl label node {VK1} {LABEL}-"
    assert second["target"] == f"Node {VK2}"
    assert "never in a backend pool" in doc["plan"]["blastRadius"]
    [note] = doc["plan"]["notes"]  # AKS (the other node says so), and no virtual node is in a pool
    assert "virtual node add-on's node belongs to no node pool" in note
    audit = doc["audit"]
    assert audit["mode"] == "plan" and audit["outcome"] == "planned"
    assert audit["identity"] == [{"api": "kubernetes", "user": "fake", "via": "kubeconfig user entry"}]
    assert [c["status"] for c in audit["changes"]] == ["planned", "planned"]


def test_apply_labels_exactly_the_bare_virtual_nodes_then_verifies(tmp_path):
    with KubeFake(objects()) as fake:
        result = fix(fake, tmp_path, "exclude-virtual-nodes", "--yes")
        assert writes(fake) == [
            ("POST", SSR, "application/json", {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
            ("PATCH", f"/api/v1/nodes/{VK1}", PATCH, label_body()),
            ("PATCH", f"/api/v1/nodes/{VK2}", PATCH, label_body()),
        ]
        for name in (VK1, VK2):
            assert fake.stored("Node", name)["metadata"]["labels"][LABEL] == "true"
        assert LABEL not in fake.stored("Node", N0)["metadata"]["labels"]
    assert result.code == 0, result.stdout
    doc = result.doc
    assert doc["outcome"] == "verified"
    assert doc["result"]["status"] == "applied"
    assert [s["status"] for s in doc["result"]["steps"]] == ["done", "done"]
    assert doc["verification"]["passed"] is True
    assert doc["verification"]["checks"] == [{"id": "node.virtual-not-excluded", "status": "passed"}]
    audit = doc["audit"]
    assert audit["identity"] == [
        {"api": "kubernetes", "user": "fake-user", "via": "SelfSubjectReview", "groups": ["system:authenticated"]}
    ]
    assert audit["outcome"] == "verified"
    assert [(c["request"], c["status"]) for c in audit["changes"]] == [
        (f"PATCH /api/v1/nodes/{VK1}", "done"),
        (f"PATCH /api/v1/nodes/{VK2}", "done"),
    ]
    assert audit["startedAt"] <= audit["finishedAt"]


def test_second_run_finds_nothing_to_do_and_writes_nothing(tmp_path):
    with KubeFake(objects()) as fake:
        assert fix(fake, tmp_path, "exclude-virtual-nodes", "--yes").code == 0
        again = fix(fake, tmp_path, "exclude-virtual-nodes", "--yes")
        assert writes(fake) == []
    assert again.code == 0
    doc = again.doc
    assert doc["outcome"] == "nothing-to-do"
    assert doc["plan"]["steps"] == []
    assert doc["verification"]["checks"] == [{"id": "node.virtual-not-excluded", "status": "passed"}]


def test_forbidden_patch_on_one_node_is_a_reported_partial_failure(tmp_path):
    with KubeFake(objects()) as fake:
        fake.forbid("nodes", verb="patch", name=VK2)
        result = fix(fake, tmp_path, "exclude-virtual-nodes", "--yes")
        assert [w[1] for w in cluster_writes(fake)] == [f"/api/v1/nodes/{VK1}", f"/api/v1/nodes/{VK2}"]
        assert LABEL in fake.stored("Node", VK1)["metadata"]["labels"]
        assert LABEL not in fake.stored("Node", VK2)["metadata"]["labels"]
    assert result.code == 1
    doc = result.doc
    assert doc["outcome"] == "partial"
    done, failed = doc["result"]["steps"]
    assert (done["target"], done["status"]) == (f"Node {VK1}", "done")
    assert (failed["target"], failed["status"]) == (f"Node {VK2}", "failed")
    assert failed["detail"] == (
        f'HTTP 403: nodes "{VK2}" is forbidden: User "fake-user" cannot patch resource "nodes" in API group "" '
        "at the cluster scope"
    )
    assert (doc["result"]["done"], doc["result"]["failed"]) == (1, 1)
    verification = doc["verification"]
    assert verification["passed"] is False
    [finding] = verification["findings"]
    assert f"({VK2})" in finding["cause"]


def test_table_output_reports_what_was_and_was_not_done(tmp_path):
    with KubeFake(objects()) as fake:
        fake.forbid("nodes", verb="patch", name=VK2)
        path = fake.write_kubeconfig(tmp_path / "kc")
        result = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "--yes", "--kubeconfig", path)
    assert result.code == 1
    out = result.stdout
    assert "partly applied" in out
    assert f"1. done          Node {VK1}" in out
    assert f"2. failed        Node {VK2}: HTTP 403" in out
    assert "node.virtual-not-excluded: failed" in out
    assert '"outcome":"partial"' in out  # the audit record


def test_snapshot_plans_but_never_applies(tmp_path):
    snap = write_snapshot(tmp_path / "snap", objects())
    planned = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "--snapshot", str(snap), "-o", "json")
    assert planned.code == 0
    assert planned.doc["audit"]["source"] == "snapshot"
    assert [s["target"] for s in planned.doc["plan"]["steps"]] == [f"Node {VK1}", f"Node {VK2}"]
    refused = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "--snapshot", str(snap), "--yes")
    assert refused.code == 2
    assert refused.stdout == ""
    assert "--yes cannot be used with --snapshot" in refused.stderr


def test_pool_nodes_get_the_node_pool_alternative(tmp_path):
    pooled = virtual_node("aks-virtual-12345678-vmss000000", **{"kubernetes.azure.com/agentpool": "virtual"})
    snap = write_snapshot(tmp_path / "snap", [node(N0), pooled])
    doc = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "--snapshot", str(snap), "-o", "json").doc
    assert doc["plan"]["notes"][1] == (
        "Node(s) aks-virtual-12345678-vmss000000 belong to AKS node pool virtual: run: az aks nodepool update "
        f"-g prod-rg --cluster-name prod-aks -n virtual --labels {LABEL}=true (--labels sets the pool's whole label "
        "list: include the labels it already has)."
    )


def test_identity_falls_back_to_the_kubeconfig_user_when_the_review_is_not_served(tmp_path):
    with KubeFake(objects()) as fake:
        fake.fail(SSR, 404)
        result = fix(fake, tmp_path, "exclude-virtual-nodes", "--yes")
    assert result.code == 0
    assert result.doc["audit"]["identity"] == [{"api": "kubernetes", "user": "fake", "via": "kubeconfig user entry"}]


def test_unknown_action_is_a_usage_error(tmp_path):
    result = run_cli(tmp_path, "fix", "reboot-everything")
    assert result.code == 2
    assert "unknown fix action 'reboot-everything'" in result.stderr
    assert "exclude-virtual-nodes" in result.stderr
