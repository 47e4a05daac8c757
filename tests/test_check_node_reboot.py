"""node.reboot-pending: a kured lock that blocks reboots, and nodes that need one with nothing to reboot them."""

import json

from builders import daemonset, findings, node, outcome, run_snapshot, write_snapshot

CHECK = "node.reboot-pending"
LOCK = "weave.works/kured-node-lock"
N0, N1 = "aks-nodepool1-12345678-vmss000000", "aks-nodepool1-12345678-vmss000001"
GONE = "aks-nodepool1-12345678-vmss000007"
HOUR_NS = 3600 * 10**9


def kured(lock=None, *, desired=2, ready=2):
    annotations = {LOCK: lock if isinstance(lock, str) else json.dumps(lock)} if lock is not None else {}
    return daemonset(
        "kured", image="ghcr.io/kubereboot/kured:1.23.0", annotations=annotations, desired=desired, ready=ready
    )


def lock(holder, created="2026-11-19T06:12:44Z", ttl=0):
    return {"nodeID": holder, "metadata": {"unschedulable": False}, "created": created, "TTL": ttl}


def deadlocked(name):
    made = node(name)
    made["status"]["conditions"].append(
        {"type": "KernelDeadlock", "status": "True", "reason": "DockerHung", "message": "task docker:1234 blocked"}
    )
    return made


def run(tmp_path, objects, captured=("DaemonSet",)):
    return run_snapshot(write_snapshot(tmp_path, objects, captured_kinds=captured), include=[CHECK])


def test_lock_held_by_deleted_node_blocks_forever(tmp_path):
    ds = kured(lock(GONE))
    [finding] = findings(run(tmp_path, [node(N0), node(N1), ds]), CHECK)
    assert finding.severity.label == "error"
    assert finding.resource == "DaemonSet kube-system/kured"
    assert f"held by node '{GONE}', which no longer exists" in finding.cause
    assert f'"Lock already held: {GONE}"' in finding.cause
    assert "forever: the lock has no TTL" in finding.cause
    assert finding.evidence[0].ref == f"DaemonSet kube-system/kured metadata.annotations[{LOCK}]"
    assert finding.evidence[0].detail == ds["metadata"]["annotations"][LOCK]
    assert (finding.evidence[1].ref, finding.evidence[1].detail) == (f"Node {GONE}", "not in the cluster's node list")
    assert finding.fix.action == "release-kured-lock"
    assert finding.fix.commands == (f"kubectl -n kube-system annotate daemonset kured {LOCK}-",)


def test_lock_with_ttl_not_yet_expired_is_a_warning(tmp_path):
    ds = kured(lock(GONE, created="2026-11-27T09:30:00Z", ttl=1 * HOUR_NS))
    [finding] = findings(run(tmp_path, [node(N0), ds]), CHECK)
    assert finding.severity.label == "warning"
    assert "until the lock expires at 2026-11-27T10:30:00Z" in finding.cause


def test_expired_lock_is_harmless(tmp_path):
    ds = kured(lock(GONE, created="2026-11-27T07:00:00Z", ttl=1 * HOUR_NS))
    report = run(tmp_path, [node(N0), ds])
    assert findings(report, CHECK) == []
    assert outcome(report, CHECK) == ("passed", "")


def test_multi_lock_format(tmp_path):
    ds = kured({"maxOwners": 2, "locks": [lock(N0, created="2026-11-27T09:50:00Z"), lock(GONE)]})
    [finding] = findings(run(tmp_path, [node(N0), ds]), CHECK)
    assert f"held by node '{GONE}'" in finding.cause


def test_unreadable_lock(tmp_path):
    [finding] = findings(run(tmp_path, [node(N0), kured("{not json")]), CHECK)
    assert finding.severity.label == "error"
    assert "is not valid JSON" in finding.cause
    assert finding.evidence[0].detail == "{not json"


def test_lock_held_for_hours_by_existing_node(tmp_path):
    ds = kured(lock(N1, created="2026-11-27T01:00:00.123456789Z"))
    [finding] = findings(run(tmp_path, [node(N0), node(N1), ds]), CHECK)
    assert finding.severity.label == "warning"
    assert f"held by node {N1} since 2026-11-27T01:00:00Z (9 h)" in finding.cause
    assert "PodDisruptionBudget" in finding.cause
    assert finding.fix.commands[0] == "kubectl get pdb -A"


def test_nodes_needing_reboot_without_kured(tmp_path):
    [finding] = findings(run(tmp_path, [deadlocked(N0), node(N1)]), CHECK)
    assert finding.severity.label == "warning"
    assert finding.resource == f"Node {N0}"
    assert f"1 node(s) ({N0}) report that they need a reboot, and no kured DaemonSet runs" in finding.cause
    assert "needs Azure data" in finding.cause
    assert finding.evidence[0].ref == f"Node {N0} status.conditions[KernelDeadlock]"
    assert finding.evidence[0].detail == "True (DockerHung: task docker:1234 blocked)"
    assert finding.fix.commands == (
        "az aks show -g prod-rg -n prod-aks --query autoUpgradeProfile.nodeOsUpgradeChannel",
        "az aks update -g prod-rg -n prod-aks --node-os-upgrade-channel NodeImage",
    )


def test_kured_reboot_annotation_with_kured_not_ready(tmp_path):
    rebooting = node(N0, annotations={"weave.works/kured-reboot-in-progress": "2026-11-27T09:00:00Z"})
    [finding] = findings(run(tmp_path, [rebooting, node(N1), kured(desired=2, ready=1)]), CHECK)
    assert "kured (DaemonSet kube-system/kured) is not ready on every node" in finding.cause
    assert finding.evidence[0].detail == "2026-11-27T09:00:00Z"
    assert finding.evidence[1].detail == "desiredNumberScheduled=2 numberReady=1"


def test_quiet_when_kured_runs_and_lock_is_free(tmp_path):
    report = run(tmp_path, [deadlocked(N0), node(N1), kured()])
    assert findings(report, CHECK) == []
    assert outcome(report, CHECK) == ("passed", "")


def test_skipped_without_any_signal(tmp_path):
    report = run(tmp_path, [node(N0), daemonset("kube-proxy")])
    status, reason = outcome(report, CHECK)
    assert status == "skipped"
    assert reason.startswith("no reboot-required signal visible from the Kubernetes API")


def test_skipped_without_daemonsets(tmp_path):
    assert outcome(run(tmp_path, [node(N0)], captured=()), CHECK) == ("skipped", "not in snapshot: daemonsets")
