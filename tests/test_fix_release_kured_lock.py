"""fix release-kured-lock against KubeFake: the lock goes only when its holder is gone, and only if it still holds
the value read (JSON patch `test`); live holders, expired and unreadable locks are left alone."""

import json

from builders import daemonset, node
from fixkit import cluster_writes, fix, kubeconfig
from kubefake import KubeFake

from aksdoctor.facts import Facts
from aksdoctor.fixes import get_action
from aksdoctor.model import Target
from aksdoctor.sources.kube_live import KubeLiveSource
from aksdoctor.sources.kube_writer import KubeWriter

LOCK = "weave.works/kured-node-lock"
POINTER = "/metadata/annotations/weave.works~1kured-node-lock"
N0, N1 = "aks-nodepool1-12345678-vmss000000", "aks-nodepool1-12345678-vmss000001"
GONE = "aks-nodepool1-12345678-vmss000007"
KURED = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured"
JSON_PATCH = "application/json-patch+json"


def lock(holder, created="2026-11-19T06:12:44Z", ttl=0):
    return {"nodeID": holder, "metadata": {"unschedulable": False}, "created": created, "TTL": ttl}


def kured(annotation):
    value = annotation if isinstance(annotation, str) else json.dumps(annotation)
    return daemonset("kured", image="ghcr.io/kubereboot/kured:1.23.0", annotations={LOCK: value}, desired=2, ready=2)


def annotations(fake):
    return fake.stored("DaemonSet", "kured", "kube-system")["metadata"].get("annotations") or {}


def test_dry_run_shows_the_guarded_patch(tmp_path):
    ds = kured(lock(GONE))
    raw = ds["metadata"]["annotations"][LOCK]
    with KubeFake([node(N0), node(N1), ds]) as fake:
        result = fix(fake, tmp_path, "release-kured-lock")
        assert {r.method for r in fake.requests} == {"GET"}
    assert result.code == 0
    plan = result.doc["plan"]
    assert plan["summary"] == f"Release the kured lock held by {GONE} (no longer in the cluster)."
    [step] = plan["steps"]
    ops = [{"op": "test", "path": POINTER, "value": raw}, {"op": "remove", "path": POINTER}]
    assert step["request"] == {
        "api": "kubernetes",
        "method": "PATCH",
        "path": KURED,
        "contentType": JSON_PATCH,
        "body": ops,
    }
    assert step["command"] == (
        f"kubectl -n kube-system patch daemonset kured --type=json -p '{json.dumps(ops, separators=(',', ':'))}'"
    )
    assert step["rollback"] == f"kubectl -n kube-system annotate --overwrite daemonset kured '{LOCK}={raw}'"
    assert "one node at a time" in plan["blastRadius"]


def test_apply_removes_the_lock_and_the_check_passes(tmp_path):
    ds = kured(lock(GONE))
    raw = ds["metadata"]["annotations"][LOCK]
    with KubeFake([node(N0), node(N1), ds]) as fake:
        result = fix(fake, tmp_path, "release-kured-lock", "--yes")
        assert cluster_writes(fake) == [
            (
                "PATCH",
                KURED,
                JSON_PATCH,
                [{"op": "test", "path": POINTER, "value": raw}, {"op": "remove", "path": POINTER}],
            )
        ]
        assert LOCK not in annotations(fake)
        again = fix(fake, tmp_path, "release-kured-lock", "--yes")
        assert fake.writes == []
    assert result.code == 0, result.stdout
    assert result.doc["outcome"] == "verified"
    assert result.doc["verification"]["checks"] == [{"id": "node.reboot-pending", "status": "passed"}]
    assert (again.code, again.doc["outcome"]) == (0, "nothing-to-do")


def test_a_lock_taken_meanwhile_is_not_removed(tmp_path):
    """Between plan and apply a live node took the lock: the `test` op fails (422) and the new lock stays."""
    with KubeFake([node(N0), node(N1), kured(lock(GONE))]) as fake:
        source = KubeLiveSource.from_kubeconfig(config_file=kubeconfig(fake, tmp_path))
        action = get_action("release-kured-lock")
        plan = action.plan(Facts(target=Target("cluster", "fake"), kube=source))
        taken = kured(lock(N1, created="2026-11-27T09:59:00Z"))
        fake.add(taken)
        result = action.apply(plan, KubeWriter(source.api_client))
        assert annotations(fake)[LOCK] == taken["metadata"]["annotations"][LOCK]
    [outcome] = result.outcomes
    assert outcome.status.value == "failed"
    assert outcome.detail == (
        "HTTP 422: the server rejected our request due to an error in our request: "
        f"testing value {POINTER} failed: test failed"
    )


def test_multi_lock_keeps_the_live_holders_entry(tmp_path):
    doc = {"maxOwners": 2, "locks": [lock(GONE), lock(N1, created="2026-11-27T09:30:00Z")]}
    with KubeFake([node(N0), node(N1), kured(doc)]) as fake:
        result = fix(fake, tmp_path, "release-kured-lock", "--yes")
        kept = json.loads(annotations(fake)[LOCK])
    [step] = result.doc["plan"]["steps"]
    assert [op["op"] for op in step["request"]["body"]] == ["test", "replace"]
    assert kept == {"maxOwners": 2, "locks": [lock(N1, created="2026-11-27T09:30:00Z")]}


def test_locks_left_alone(tmp_path):
    cases = {
        "live holder": kured(lock(N1, created="2026-11-27T09:30:00Z")),
        "expired": kured(lock(GONE, created="2020-01-01T00:00:00Z", ttl=3600 * 10**9)),
        "unreadable": kured("{not json"),
    }
    for name, ds in cases.items():
        with KubeFake([node(N0), node(N1), ds]) as fake:
            result = fix(fake, tmp_path, "release-kured-lock", "--yes")
            assert fake.writes == [], name
            assert annotations(fake)[LOCK] == ds["metadata"]["annotations"][LOCK], name
        assert (result.code, result.doc["outcome"]) == (0, "nothing-to-do"), name
    [note] = result.doc["plan"]["notes"]
    assert note.startswith("The lock on DaemonSet kube-system/kured is not valid JSON")
    assert note.endswith(f"kubectl -n kube-system annotate daemonset kured {LOCK}-")
