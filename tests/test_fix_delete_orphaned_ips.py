"""fix delete-orphaned-ips against KubeFake and the loopback ARM fake: only IPs azure.orphaned-public-ip proves
orphaned go, each read again (with its locks and the Services its tag names) right before its DELETE; attached,
locked and shared-group candidates are left alone; 403 and 429 on the DELETE."""

import time
from unittest import mock

import pytest
from armfake import ArmFake, ClaimsToken, Reply, arm_error
from azure_builders import managed_public_ip, public_ip
from azurefixkit import OPERATOR_USER, arm_writes, fix, group, listing, printed, serve_cluster
from builders import NODE_RG, node, service, write_snapshot
from fixkit import run_cli
from kubefake import KubeFake

from aksdoctor.sources.arm_clouds import cloud_named
from aksdoctor.sources.arm_writer import AzureSession
from kubectl_aksdoctor import fix_commands

WEB = service("web", "shop", ingress_ip="20.50.10.4")
OLD = service("old", "shop")  # deleted: only its IPs remain
OLDER = service("older", "shop")
GONE_FRONTEND = f"{group(NODE_RG)}/providers/Microsoft.Network/loadBalancers/kubernetes/frontendIPConfigurations/a1"
PIPS = listing(NODE_RG, "Microsoft.Network/publicIPAddresses")
API = "2024-05-01"


def live_ip():
    return managed_public_ip(WEB, "20.50.10.4", ip_configuration=GONE_FRONTEND)


def orphan():
    return managed_public_ip(OLD, "20.50.10.7")


def orphan_with_dns():
    return managed_public_ip(OLDER, "20.50.10.8", dns_label="old-shop")


def kube_objects():
    return [node(), WEB]


@pytest.fixture
def arm():
    with ArmFake() as fake:
        yield fake


def test_dry_run_plans_one_delete_per_proven_orphan_and_writes_nothing(arm, tmp_path):
    attached = managed_public_ip(service("gone", "shop"), "20.50.10.9", ip_configuration=GONE_FRONTEND)
    locked = managed_public_ip(service("kept", "shop"), "20.50.10.10")
    lock = {
        "name": "keep-ip",
        "id": f"{locked['id']}/providers/Microsoft.Authorization/locks/keep-ip",
        "type": "Microsoft.Authorization/locks",
        "properties": {"level": "CanNotDelete"},
    }
    byo = public_ip("my-own-ip", "20.50.10.11")  # no tags: someone's own
    serve_cluster(arm, public_ips=[live_ip(), orphan(), orphan_with_dns(), attached, locked, byo], locks=[lock])
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips")
        assert kube.writes == []
    assert arm.writes == []
    assert result.code == 0, result.stderr
    doc = result.doc
    assert doc["outcome"] == "planned"
    steps = doc["plan"]["steps"]
    assert [s["request"] for s in steps] == [
        {"api": "arm", "method": "DELETE", "path": orphan()["id"], "query": {"api-version": API}},
        {"api": "arm", "method": "DELETE", "path": orphan_with_dns()["id"], "query": {"api-version": API}},
    ]
    assert steps[0]["command"] == f"az network public-ip delete --ids {orphan()['id']}"
    assert steps[0]["target"] == f"Public IP {orphan()['name']}"
    assert "its service tag names shop/old" in steps[0]["description"]
    plan = doc["plan"]
    assert f"{orphan()['name']} (20.50.10.7)" in plan["blastRadius"]
    assert "old-shop.westeurope.cloudapp.azure.com" in plan["blastRadius"]
    assert "2 in westeurope of the subscription's public IP quota" in plan["blastRadius"]
    assert "cannot be undone" in plan["rollback"] and "IP address itself cannot be recovered" in plan["rollback"]
    notes = " ".join(plan["notes"])
    assert f"{attached['name']} is not deleted: it is still attached to {GONE_FRONTEND}" in notes
    assert f"{locked['name']} is not deleted: management lock(s) keep-ip (CanNotDelete)" in notes
    assert "my-own-ip" not in notes and "my-own-ip" not in str(steps)
    assert doc["audit"]["identity"][1] == {
        "api": "arm",
        "user": OPERATOR_USER,
        "via": "Azure Resource Manager access token claims",
    }


def test_apply_rechecks_each_ip_deletes_it_and_the_check_passes(arm, tmp_path):
    serve_cluster(arm, public_ips=[live_ip(), orphan(), orphan_with_dns()])
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0")
        service_reads = [r.path for r in kube.requests if "/services/" in r.path]
        first_writes = arm_writes(arm)
        again = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes")
        assert kube.writes == []
    assert result.code == 0, result.stdout
    doc = result.doc
    assert doc["outcome"] == "verified"
    assert first_writes == [
        ("DELETE", orphan()["id"], API, None),
        ("DELETE", orphan_with_dns()["id"], API, None),
    ]
    assert service_reads == ["/api/v1/namespaces/shop/services/old", "/api/v1/namespaces/shop/services/older"]
    assert [c["id"] for c in doc["verification"]["checks"]] == ["azure.orphaned-public-ip", "lb.quota-exceeded"]
    assert {c["status"] for c in doc["verification"]["checks"]} <= {"passed", "not-applicable"}
    assert doc["audit"]["changes"] == [
        {"step": 1, "target": f"Public IP {orphan()['name']}", "request": f"DELETE {orphan()['id']}?api-version={API}",
         "status": "done"},
        {"step": 2, "target": f"Public IP {orphan_with_dns()['name']}",
         "request": f"DELETE {orphan_with_dns()['id']}?api-version={API}", "status": "done"},
    ]  # fmt: skip
    # idempotent: the second run finds nothing to delete and writes nothing
    assert (again.code, again.doc["outcome"]) == (0, "nothing-to-do")
    assert arm.writes == []


def test_exact_write_requests_on_the_wire(arm, tmp_path):
    serve_cluster(arm, public_ips=[orphan()])
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0")
    assert result.code == 0, result.stdout
    [write] = arm.writes
    assert (write.method, write.path, write.query, write.body) == ("DELETE", orphan()["id"], {"api-version": API}, b"")
    assert write.header("Authorization").startswith("Bearer ")
    reads = [line for line in arm.lines if line.startswith("GET /subscriptions") and orphan()["name"] in line]
    assert reads == [
        f"GET {orphan()['id']}",
        f"GET {orphan()['id']}/providers/Microsoft.Authorization/locks",
    ]


def test_an_ip_that_changed_since_the_plan_is_left_alone(arm, tmp_path):
    serve_cluster(arm, public_ips=[orphan(), orphan_with_dns()])
    now_attached = managed_public_ip(OLDER, "20.50.10.8", ip_configuration=GONE_FRONTEND)
    arm.get(orphan_with_dns()["id"], now_attached)  # what the re-read right before the DELETE sees
    renamed = managed_public_ip(OLD, "20.50.10.7", tags={"k8s-azure-service": "shop/old,shop/web"})
    arm.get(orphan()["id"], renamed)
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0")
    assert arm.writes == []
    assert result.code == 1
    outcomes = result.doc["result"]["steps"]
    assert [o["status"] for o in outcomes] == ["not-attempted", "not-attempted"]
    assert outcomes[0]["detail"] == "left alone: its tag names shop/web, a LoadBalancer Service again"
    assert outcomes[1]["detail"].startswith(f"left alone: it is still attached to {GONE_FRONTEND}")
    assert result.doc["outcome"] == "failed"


def test_forbidden_delete_names_the_role_needed(arm, tmp_path):
    serve_cluster(arm, public_ips=[orphan()])
    denied = arm_error(403, "AuthorizationFailed", "The client does not have authorization to perform action.")
    arm.route(orphan()["id"], lambda req: denied if req.method == "DELETE" else Reply(200, orphan()))
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0")
    assert result.code == 1
    assert result.doc["outcome"] == "failed"
    [step] = result.doc["result"]["steps"]
    assert step["status"] == "failed"
    assert step["detail"] == (
        "HTTP 403 AuthorizationFailed: The client does not have authorization to perform action.; this needs "
        "Network Contributor on the public IP or its resource group (Microsoft.Network/publicIPAddresses/delete)"
    )


def test_throttled_delete_waits_for_retry_after_within_the_budget(arm, tmp_path):
    serve_cluster(arm, public_ips=[orphan()])
    throttled = arm_error(429, "TooManyRequests", "slow down", {"Retry-After": "1"})
    answers = [throttled, Reply(200, None)]
    arm.route(orphan()["id"], lambda req: answers.pop(0) if req.method == "DELETE" else Reply(200, orphan()))
    with KubeFake(kube_objects()) as kube:
        started = time.monotonic()
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0")
        took = time.monotonic() - started
    assert [r.method for r in arm.writes] == ["DELETE", "DELETE"]
    assert took >= 1.0
    assert result.doc["result"]["steps"][0]["status"] == "done"


def test_throttled_delete_beyond_the_budget_fails_cleanly(arm, tmp_path):
    serve_cluster(arm, public_ips=[orphan()])
    throttled = arm_error(429, "TooManyRequests", "slow down", {"Retry-After": "60"})
    arm.route(orphan()["id"], lambda req: throttled if req.method == "DELETE" else Reply(200, orphan()))
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0", max_wait=1.0)
    assert [r.method for r in arm.writes] == ["DELETE"]
    [step] = result.doc["result"]["steps"]
    assert step["detail"] == (
        "throttled by Azure Resource Manager (429, retry after 60 s) beyond the 1 s this run may wait: not applied; "
        "try again later"
    )
    assert result.code == 1


def test_snapshot_plans_but_never_applies(tmp_path):
    snap = write_snapshot(
        tmp_path / "snap", kube_objects(), azure={"publicIPAddresses.json": [live_ip(), orphan()], "locks.json": []}
    )
    planned = run_cli(tmp_path, "fix", "delete-orphaned-ips", "--snapshot", str(snap), "-o", "json")
    assert planned.code == 0, planned.stderr
    assert [s["request"]["path"] for s in planned.doc["plan"]["steps"]] == [orphan()["id"]]
    assert planned.doc["audit"]["source"] == "snapshot"
    refused = run_cli(tmp_path, "fix", "delete-orphaned-ips", "--snapshot", str(snap), "--yes")
    assert refused.code == 2
    assert "a snapshot can be planned from, never applied to" in refused.stderr


def test_the_token_is_never_printed(arm, tmp_path):
    serve_cluster(arm, public_ips=[orphan()])
    with KubeFake(kube_objects()) as kube:
        result = fix(kube, arm, tmp_path, "delete-orphaned-ips", "--yes", "--timeout", "0")
    token = arm.writes[0].header("Authorization").split(" ", 1)[1]
    assert token not in printed(result)


def test_unreachable_arm_while_planning_exits_3(tmp_path):
    with ArmFake() as arm:
        dead = arm.url
    with KubeFake(kube_objects()) as kube:
        config = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod-aks")
        unreachable = AzureSession(cloud_named("AzureCloud"), ClaimsToken({}), base_url=dead, max_wait=0)
        with mock.patch.object(fix_commands, "_azure_session", lambda _args: unreachable):
            result = run_cli(tmp_path, "fix", "delete-orphaned-ips", "--kubeconfig", config, "--yes")
    assert result.code == 3
    assert f"cannot plan delete-orphaned-ips: cannot reach Azure Resource Manager at {dead}" in result.stderr
