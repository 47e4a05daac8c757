"""fix grant-network-role against KubeFake and the loopback ARM fake: the role goes to the cluster identity of a
managed-identity cluster (never the kubelet identity), or to the principal the denial names, at the scope it names;
nothing is planned when the role (or a broader one) is already held there; 403, 409 and 429 on the PUT."""

import time
import uuid

import pytest
from armfake import ArmFake, Reply, arm_error
from azure_builders import managed_cluster, role_assignment
from azurefixkit import OPERATOR_USER, arm_writes, fix, group, listing, serve_cluster
from builders import NODE_RG, SUB, SYNC_FAILED, event, node, retriable_error, service, write_snapshot
from fixkit import run_cli
from kubefake import KubeFake

from aksdoctor.fixes.grant_network_role import _NAMESPACE

SHARED = group("shared-ips-rg")
PIP_ID = f"{SHARED}/providers/Microsoft.Network/publicIPAddresses/web-ip"
LB_ID = f"{group(NODE_RG)}/providers/Microsoft.Network/loadBalancers/kubernetes"
CLIENT = "a7d3c2e1-5b4f-4a6e-9c8d-0f1e2d3c4b5a"
DENIED_OID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
CLUSTER_OID = "c1c1c1c1-2222-4333-8444-555566667777"
KUBELET_OID = "d2d2d2d2-2222-4333-8444-555566667777"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
API = "2022-04-01"
ANNOTATIONS = {
    "service.beta.kubernetes.io/azure-pip-name": "web-ip",
    "service.beta.kubernetes.io/azure-load-balancer-resource-group": "shared-ips-rg",
}
WEB = service("web", ingress_ip=None, annotations=ANNOTATIONS)


def denied(action="Microsoft.Network/publicIPAddresses/read", scope=PIP_ID, oid=DENIED_OID):
    return (
        f"The client '{CLIENT}' with object id '{oid}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials."
    )


def failure(message, code="AuthorizationFailed"):
    return event(WEB, "SyncLoadBalancerFailed", SYNC_FAILED + retriable_error(403, code, message), count=4)


def mi_cluster():
    mc = managed_cluster()
    mc["identity"] = {"type": "SystemAssigned", "principalId": CLUSTER_OID, "tenantId": "t"}
    mc["properties"]["identityProfile"] = {"kubeletidentity": {"objectId": KUBELET_OID, "clientId": "k"}}
    return mc


def assignment_name(scope, principal, role=NETWORK_CONTRIBUTOR):
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{principal.lower()}|{role}"))


def assignments_at(arm, scope, existing=(), *, on_put=None):
    """GET `scope`'s assignments (by the $filter's principal) and PUT new ones there, like ARM."""
    held = list(existing)

    def listed(req):
        wanted = req.query.get("$filter", "")
        return Reply(200, {"value": [a for a in held if f"'{a['properties']['principalId']}'" in wanted]})

    def put(req):
        if on_put:
            answer = on_put(req)
            if answer is not None:
                return answer
        made = {
            "id": req.path,
            "name": req.path.rsplit("/", 1)[1],
            "properties": {**req.json()["properties"], "scope": scope},
        }
        held.append(made)
        return Reply(201, made)

    arm.route(f"{scope}/providers/Microsoft.Authorization/roleAssignments", listed)
    arm.route(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{assignment_name(scope, CLUSTER_OID)}", put)
    arm.route(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{assignment_name(scope, DENIED_OID)}", put)


def serve(arm, mc, *, role_assignments=()):
    serve_cluster(arm, managed=mc, role_assignments=role_assignments)
    arm.list(listing("shared-ips-rg", "Microsoft.Authorization/roleAssignments"), list(role_assignments))


@pytest.fixture
def arm():
    with ArmFake() as fake:
        yield fake


def expected_body(principal, role=NETWORK_CONTRIBUTOR):
    return {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }
    }


def test_dry_run_grants_network_contributor_to_the_cluster_identity_at_the_denied_scope(arm, tmp_path):
    serve(arm, mi_cluster())
    assignments_at(arm, PIP_ID)
    with KubeFake([node(), WEB, failure(denied(oid=KUBELET_OID))]) as kube:
        result = fix(kube, arm, tmp_path, "grant-network-role")
        assert kube.writes == []
    assert arm.writes == []
    assert result.code == 0, result.stderr
    name = assignment_name(PIP_ID, CLUSTER_OID)
    [step] = result.doc["plan"]["steps"]
    assert step["request"] == {
        "api": "arm",
        "method": "PUT",
        "path": f"{PIP_ID}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "query": {"api-version": API},
        "contentType": "application/json",
        "body": expected_body(CLUSTER_OID),
    }
    assert step["command"] == (
        f"az role assignment create --name {name} --assignee-object-id {CLUSTER_OID} --assignee-principal-type "
        f"ServicePrincipal --role 'Network Contributor' --scope {PIP_ID}"
    )
    assert step["rollback"] == (
        f"az role assignment delete --ids {PIP_ID}/providers/Microsoft.Authorization/roleAssignments/{name}"
    )
    plan = result.doc["plan"]
    assert f"{CLUSTER_OID} gets every permission of Network Contributor on {PIP_ID}" in plan["blastRadius"]
    assert "denied Microsoft.Network/publicIPAddresses/read for default/web" in plan["blastRadius"]
    assert any("names the kubelet identity" in n for n in plan["notes"])
    reads = [line for line in arm.lines if "roleAssignments" in line and PIP_ID in line]
    assert reads == [
        f"GET {PIP_ID}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '{CLUSTER_OID}'"
    ]


def test_apply_assigns_the_role_verifies_and_a_second_run_has_nothing_to_do(arm, tmp_path):
    serve(arm, mi_cluster())
    with KubeFake([node(), WEB, failure(denied())]) as kube:

        def provider_retries(_req):  # the provider's next sync succeeds once the role is there
            ensured = event(WEB, "EnsuredLoadBalancer", "Ensured", type="Normal", last="2026-11-27T10:05:00Z")
            kube.add(ensured)

        assignments_at(arm, PIP_ID, on_put=provider_retries)
        result = fix(kube, arm, tmp_path, "grant-network-role", "--yes", "--timeout", "0")
        writes = arm_writes(arm)
        again = fix(kube, arm, tmp_path, "grant-network-role", "--yes")
        assert [r for r in kube.writes if "selfsubjectreviews" not in r.path] == []
    assert result.code == 0, result.stdout
    name = assignment_name(PIP_ID, CLUSTER_OID)
    assert writes == [
        ("PUT", f"{PIP_ID}/providers/Microsoft.Authorization/roleAssignments/{name}", API, expected_body(CLUSTER_OID))
    ]
    assert result.doc["outcome"] == "verified"
    # the denial is history now (the load balancer was ensured after it): an info finding, which passes
    assert [f["severity"] for f in result.doc["verification"]["findings"]] == ["info"]
    assert result.doc["audit"]["identity"][1]["user"] == OPERATOR_USER
    assert (again.code, again.doc["outcome"]) == (0, "nothing-to-do")
    assert arm.writes == []


def test_a_second_run_before_the_provider_retried_finds_the_assignment(arm, tmp_path):
    serve(arm, mi_cluster())
    assignments_at(arm, PIP_ID)
    with KubeFake([node(), WEB, failure(denied())]) as kube:
        first = fix(kube, arm, tmp_path, "grant-network-role", "--yes", "--timeout", "0")
        again = fix(kube, arm, tmp_path, "grant-network-role", "--yes", "--timeout", "0")
    assert first.doc["outcome"] == "not-verified"  # the denial stays current until the provider syncs again
    assert first.code == 1
    assert (again.code, again.doc["outcome"]) == (0, "nothing-to-do")
    assert arm.writes == []
    notes = again.doc["plan"]["notes"]
    assert any(f"{CLUSTER_OID} already holds Network Contributor on {PIP_ID}" in n for n in notes)


def test_service_principal_cluster_grants_to_the_principal_the_linked_denial_names(arm, tmp_path):
    serve(arm, managed_cluster(client_id=CLIENT))
    assignments_at(arm, PIP_ID)
    message = (
        f"The client '{CLIENT}' with object id '{DENIED_OID}' has permission to perform action "
        f"'Microsoft.Network/loadBalancers/write' on scope '{LB_ID}'; however, it does not have permission to "
        f"perform action 'Microsoft.Network/publicIPAddresses/join/action' on the linked scope(s) '{PIP_ID}' or "
        "the linked scope(s) are invalid."
    )
    with KubeFake([node(), WEB, failure(message, "LinkedAuthorizationFailed")]) as kube:
        result = fix(kube, arm, tmp_path, "grant-network-role")
    [step] = result.doc["plan"]["steps"]
    assert step["request"]["path"].startswith(f"{PIP_ID}/providers/Microsoft.Authorization/roleAssignments/")
    assert step["request"]["body"] == expected_body(DENIED_OID)
    assert "denied Microsoft.Network/publicIPAddresses/join/action" in result.doc["plan"]["blastRadius"]


def test_a_role_held_above_the_scope_means_nothing_to_do(arm, tmp_path):
    held = role_assignment(CLUSTER_OID, NETWORK_CONTRIBUTOR, scope=SHARED)
    serve(arm, mi_cluster())
    assignments_at(arm, PIP_ID, [held])
    with KubeFake([node(), WEB, failure(denied())]) as kube:
        result = fix(kube, arm, tmp_path, "grant-network-role", "--yes")
    assert (result.code, result.doc["outcome"]) == (0, "nothing-to-do")
    assert arm.writes == []
    assert any(
        f"already holds Network Contributor on {SHARED}, which covers {PIP_ID}" in n
        for n in result.doc["plan"]["notes"]
    )


def test_compute_actions_get_virtual_machine_contributor_and_unknown_ones_nothing(arm, tmp_path):
    vmss_id = f"{group(NODE_RG)}/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss"
    serve(arm, mi_cluster())
    assignments_at(arm, vmss_id)
    events = [
        failure(denied("Microsoft.Compute/virtualMachineScaleSets/write", vmss_id)),
        failure(
            denied("Microsoft.Storage/storageAccounts/read", f"{SHARED}/providers/Microsoft.Storage/storageAccounts/x")
        ),
    ]
    with KubeFake([node(), WEB, *events]) as kube:
        result = fix(kube, arm, tmp_path, "grant-network-role")
    [step] = result.doc["plan"]["steps"]
    assert step["request"]["body"] == expected_body(CLUSTER_OID, VM_CONTRIBUTOR)
    assert "--role 'Virtual Machine Contributor'" in step["command"]
    assert any(
        "No built-in role this action knows allows Microsoft.Storage/storageAccounts/read" in n
        for n in result.doc["plan"]["notes"]
    )


def test_forbidden_assignment_names_owner_or_user_access_administrator(arm, tmp_path):
    serve(arm, mi_cluster())
    forbidden = arm_error(403, "AuthorizationFailed", "The client does not have authorization to perform action.")
    assignments_at(arm, PIP_ID, on_put=lambda _req: forbidden)
    with KubeFake([node(), WEB, failure(denied())]) as kube:
        result = fix(kube, arm, tmp_path, "grant-network-role", "--yes", "--timeout", "0")
    assert result.code == 1
    [step] = result.doc["result"]["steps"]
    assert step["status"] == "failed"
    assert step["detail"].endswith(
        "this needs Owner or User Access Administrator (Microsoft.Authorization/roleAssignments/write) at that scope"
    )
    assert result.doc["outcome"] == "failed"


def test_an_assignment_that_exists_under_another_name_is_done(arm, tmp_path):
    serve(arm, mi_cluster())
    exists = arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")
    assignments_at(arm, PIP_ID, on_put=lambda _req: exists)
    with KubeFake([node(), WEB, failure(denied())]) as kube:
        result = fix(kube, arm, tmp_path, "grant-network-role", "--yes", "--timeout", "0")
    [step] = result.doc["result"]["steps"]
    assert (step["status"], step["detail"]) == ("done", "already assigned")


def test_throttled_assignment_is_retried_after_retry_after(arm, tmp_path):
    serve(arm, mi_cluster())
    answers = [arm_error(429, "TooManyRequests", "slow down", {"Retry-After": "1"})]
    assignments_at(arm, PIP_ID, on_put=lambda _req: answers.pop() if answers else None)
    with KubeFake([node(), WEB, failure(denied())]) as kube:
        started = time.monotonic()
        result = fix(kube, arm, tmp_path, "grant-network-role", "--yes", "--timeout", "0")
        took = time.monotonic() - started
    assert [r.method for r in arm.writes] == ["PUT", "PUT"]
    assert took >= 1.0
    assert result.doc["result"]["steps"][0]["status"] == "done"


def test_snapshot_plan_reads_the_role_assignments_fact_and_never_applies(tmp_path):
    objects = [node(), WEB, failure(denied())]
    held = role_assignment(CLUSTER_OID, NETWORK_CONTRIBUTOR, scope=SHARED)
    clusters = {"managedClusters.json": [mi_cluster()]}
    bare = write_snapshot(tmp_path / "bare", objects, azure={**clusters, "roleAssignments.json": []})
    covered = write_snapshot(tmp_path / "covered", objects, azure={**clusters, "roleAssignments.json": [held]})
    planned = run_cli(tmp_path, "fix", "grant-network-role", "--snapshot", str(bare), "-o", "json")
    assert planned.code == 0, planned.stderr
    assert [s["request"]["body"]["properties"]["principalId"] for s in planned.doc["plan"]["steps"]] == [CLUSTER_OID]
    nothing = run_cli(tmp_path, "fix", "grant-network-role", "--snapshot", str(covered), "-o", "json")
    assert nothing.doc["outcome"] == "nothing-to-do"
    refused = run_cli(tmp_path, "fix", "grant-network-role", "--snapshot", str(bare), "--yes")
    assert refused.code == 2
