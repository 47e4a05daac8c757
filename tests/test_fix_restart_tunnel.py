"""fix restart-tunnel against KubeFake: only unhealthy, controller-owned agents are deleted (uid-guarded), the
re-check waits for the replacements, and a deleted pod still terminating is not taken for a healthy one."""

import itertools

from builders import deployment, node, system_pod
from fixkit import cluster_writes, fix, kubeconfig
from kubefake import KubeFake

from aksdoctor.facts import Facts
from aksdoctor.fixes import get_action
from aksdoctor.fixes.runner import run_fix
from aksdoctor.model import Target
from aksdoctor.sources.kube_live import KubeLiveSource
from aksdoctor.sources.kube_writer import KubeWriter

AGENT = {"app": "konnectivity-agent", "component": "tunnel"}
RS = "konnectivity-agent-6f8c9d7b5"
CRASH = ("CrashLoopBackOff", "back-off 5m0s restarting failed container=konnectivity-agent")
PODS = "/api/v1/namespaces/kube-system/pods/"
_names = (f"new{i:02d}" for i in itertools.count())


def agent(suffix, *, owned=True, **kw):
    return system_pod(f"{RS}-{suffix}", owner=("ReplicaSet", RS) if owned else None, labels=AGENT, **kw)


def crashing(suffix, **kw):
    return agent(suffix, ready=False, waiting=CRASH, restarts=40, last_terminated="Error", **kw)


def objects(*pods):
    return [node(), deployment("konnectivity-agent", labels=AGENT, replicas=2, ready=0), *pods]


def replica_set(*, healthy=True):
    """Plays the ReplicaSet controller: every deleted agent comes back as a new pod (ready or still crashing)."""

    def react(fake, request, deleted):
        fake.add(agent(next(_names)) if healthy else crashing(next(_names)))

    return react


def uid(pod):
    return pod["metadata"]["uid"]


def delete_body(pod):
    return {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid(pod)}}


def test_dry_run_targets_only_unhealthy_owned_pods(tmp_path):
    bad1, bad2, good = crashing("a1"), crashing("a2"), agent("ok")
    orphan = crashing("orphan", owned=False)
    with KubeFake(objects(bad1, bad2, good, orphan)) as fake:
        result = fix(fake, tmp_path, "restart-tunnel")
        assert {r.method for r in fake.requests} == {"GET"}
    assert result.code == 0
    plan = result.doc["plan"]
    assert [(s["target"], s["request"]["method"], s["request"]["body"]) for s in plan["steps"]] == [
        (f"Pod kube-system/{RS}-a1", "DELETE", delete_body(bad1)),
        (f"Pod kube-system/{RS}-a2", "DELETE", delete_body(bad2)),
    ]
    assert plan["steps"][0]["command"] == f"kubectl -n kube-system delete pod {RS}-a1"
    assert plan["steps"][0]["description"] == f"delete the pod (not ready); ReplicaSet {RS} recreates it"
    assert "rollback" not in plan["steps"][0]
    assert plan["notes"] == [
        f"Pod kube-system/{RS}-orphan is not deleted: no controller owns it, nothing would recreate it."
    ]
    assert "1 healthy tunnel pod(s) are left running" in plan["blastRadius"]


def test_apply_deletes_then_waits_for_the_replacements(tmp_path):
    bad1, bad2 = crashing("a1"), crashing("a2")
    with KubeFake(objects(bad1, bad2)) as fake:
        fake.on("DELETE", PODS, replica_set())
        result = fix(fake, tmp_path, "restart-tunnel", "--yes", "--timeout", "10")
        assert cluster_writes(fake) == [
            ("DELETE", f"{PODS}{RS}-a1", "application/json", delete_body(bad1)),
            ("DELETE", f"{PODS}{RS}-a2", "application/json", delete_body(bad2)),
        ]
    assert result.code == 0, result.stdout
    doc = result.doc
    assert doc["outcome"] == "verified"
    assert doc["verification"]["checks"] == [{"id": "tunnel.unhealthy", "status": "passed"}]
    assert doc["verification"]["findings"] == []


def test_second_run_has_nothing_to_do(tmp_path):
    with KubeFake(objects(crashing("a1"))) as fake:
        fake.on("DELETE", PODS, replica_set())
        assert fix(fake, tmp_path, "restart-tunnel", "--yes").code == 0
        again = fix(fake, tmp_path, "restart-tunnel", "--yes")
        assert cluster_writes(fake) == [] and fake.writes == []
    assert again.doc["outcome"] == "nothing-to-do"
    assert again.doc["plan"]["summary"] == "No tunnel pod needs a restart."


def test_replacements_that_fail_too_are_reported_not_verified(tmp_path):
    with KubeFake(objects(crashing("a1"), crashing("a2"))) as fake:
        fake.on("DELETE", PODS, replica_set(healthy=False))
        result = fix(fake, tmp_path, "restart-tunnel", "--yes", "--timeout", "0")
    assert result.code == 1
    doc = result.doc
    assert doc["outcome"] == "not-verified"
    assert doc["result"]["status"] == "applied"
    [finding] = doc["verification"]["findings"]
    assert "konnectivity-agent has no ready pod (2 not ready)" in finding["cause"]


def test_a_deleted_pod_still_terminating_is_not_a_healthy_tunnel(tmp_path):
    """Graceful deletion: the old pod lingers (ready, with a deletionTimestamp); until it is gone the re-check
    must not pass, even though the tunnel check alone would."""
    bad = agent("old", restarts=40)  # ready but restarting: troubled

    def terminating(fake, request, deleted):
        deleted["metadata"]["deletionTimestamp"] = "2026-11-27T10:00:00Z"
        deleted["status"]["containerStatuses"][0]["restartCount"] = 0
        fake.add(deleted)

    with KubeFake(objects(bad)) as fake:
        fake.on("DELETE", PODS, terminating)
        result = fix(fake, tmp_path, "restart-tunnel", "--yes", "--timeout", "0")
    assert result.code == 1
    verification = result.doc["verification"]
    assert verification["checks"] == [{"id": "tunnel.unhealthy", "status": "passed"}]
    assert verification["passed"] is False
    assert verification["reason"] == "the cluster has not caught up with the change yet"


def test_uid_precondition_spares_a_pod_recreated_under_the_same_name(tmp_path):
    bad = crashing("a1")
    with KubeFake(objects(bad)) as fake:
        source = KubeLiveSource.from_kubeconfig(config_file=kubeconfig(fake, tmp_path))
        action = get_action("restart-tunnel")
        plan = action.plan(Facts(target=Target("cluster", "fake"), kube=source))
        namesake = crashing("a1")
        namesake["metadata"]["uid"] = "0b5c1d7e-0000-4000-8000-000000000001"
        fake.remove("Pod", f"{RS}-a1", "kube-system")
        fake.add(namesake)
        result = action.apply(plan, KubeWriter(source.api_client))
        assert fake.stored("Pod", f"{RS}-a1", "kube-system")["metadata"]["uid"] == namesake["metadata"]["uid"]
    [outcome] = result.outcomes
    assert outcome.status.value == "failed"
    assert outcome.detail == (
        f"HTTP 409: Precondition failed: UID in precondition: {uid(bad)}, UID in object meta: "
        f"{namesake['metadata']['uid']}"
    )


def test_pod_already_gone_counts_as_done(tmp_path):
    with KubeFake(objects(crashing("a1"))) as fake:
        source = KubeLiveSource.from_kubeconfig(config_file=kubeconfig(fake, tmp_path))
        facts = lambda: Facts(target=Target("cluster", "fake"), kube=KubeLiveSource(source.api_client))  # noqa: E731
        action = get_action("restart-tunnel")
        plan = action.plan(facts())
        fake.remove("Pod", f"{RS}-a1", "kube-system")
        result = action.apply(plan, KubeWriter(source.api_client))
        assert [(o.status.value, o.detail) for o in result.outcomes] == [("done", "already gone")]
        run = run_fix(action, facts, writer=KubeWriter(source.api_client), apply=True, timeout=0)
    assert run.outcome == "nothing-to-do"  # nothing left to delete: the Deployment has no pod at all
    assert run.plan.notes[0].startswith("konnectivity-agent has no pod: there is nothing to restart.")
