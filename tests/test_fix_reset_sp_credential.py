"""fix reset-sp-credential against KubeFake and the loopback ARM/Graph fake: Graph addPassword, then the secret goes
where it belongs (AKS resetServicePrincipalProfile, or the azure-cloud-provider Secret) without ever being printed,
unless --show-secret (stderr, once); expired credentials removed only with --remove-expired; a secret the cluster
could not be given is rolled back; 403 and 429 on the writes."""

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from armfake import ArmFake, Reply, arm_error
from azure_builders import graph_application, managed_cluster
from azurefixkit import OPERATOR_USER, arm_writes, cluster_path, fix, printed, serve_cluster
from builders import SUB, SYNC_FAILED, event, node, obj, service, write_snapshot
from fixkit import run_cli
from kubefake import KubeFake

from aksdoctor import kube as k8s

SP = "0b0c1f7e-8f0e-4c2a-9d55-1e2f3a4b5c6d"
APP_OBJECT = "1f6ac5c0-9f0e-4d7c-8d2b-3c1e9a7f4b21"  # graph_application's object id
NEW_SECRET = "Xq8~PLANTED-new-secret-value-0123456789ab"
NEW_KEY = "9a9a9a9a-0000-4000-8000-000000000001"
ADD = f"/v1.0/applications/{APP_OBJECT}/addPassword"
REMOVE = f"/v1.0/applications/{APP_OBJECT}/removePassword"
RESET = f"{cluster_path()}/resetServicePrincipalProfile"
AKS_API = "2025-05-01"
END = "2027-06-30"
OLD_CONFIG = {
    "cloud": "AzurePublicCloud",
    "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "subscriptionId": SUB,
    "aadClientId": SP,
    "aadClientSecret": "PLANTED-old-secret",
    "resourceGroup": "k8s-nodes",
    "loadBalancerSku": "standard",
}


def days(n):
    return k8s.format_time(datetime.now(timezone.utc) + timedelta(days=n))


def today():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


class Graph:
    """The application's Graph side: read by appId, addPassword, removePassword; every answer recorded by ArmFake."""

    def __init__(self, arm, ends, *, add=None):
        self.app = graph_application(SP, ends)
        self.add_answers = list(add or [])
        arm.graph_applications([self.app])
        arm.route(ADD, self.add_password)
        arm.route(REMOVE, self.remove_password)

    def add_password(self, req):
        if self.add_answers:
            return self.add_answers.pop(0)
        asked = req.json()["passwordCredential"]
        made = {
            "keyId": NEW_KEY,
            "displayName": asked["displayName"],
            "endDateTime": asked["endDateTime"],
            "startDateTime": k8s.format_time(datetime.now(timezone.utc)),
            "hint": NEW_SECRET[:3],
            "secretText": NEW_SECRET,
            "customKeyIdentifier": None,
        }
        self.app["passwordCredentials"].append({**made, "secretText": None})
        return Reply(200, made)

    def remove_password(self, req):
        key = req.json()["keyId"]
        self.app["passwordCredentials"] = [c for c in self.app["passwordCredentials"] if c["keyId"] != key]
        return Reply(204, None)

    @property
    def key_ids(self):
        return [c["keyId"] for c in self.app["passwordCredentials"]]


def aks(arm, ends, *, reset=None, add=None):
    """An AKS cluster signing in with the service principal SP; `reset` answers resetServicePrincipalProfile."""
    serve_cluster(arm, managed=managed_cluster(client_id=SP))
    arm.route(RESET, lambda _req: reset or Reply(202, None, {"Location": f"{cluster_path()}/operations/1"}))
    return Graph(arm, ends, add=add)


def self_managed(arm, ends):
    """No managed cluster: the provider's config is the kube-system/azure-cloud-provider Secret."""
    serve_cluster(arm)
    arm.route(cluster_path(), lambda _req: arm_error(404, "ResourceNotFound", "not found"))
    arm.list(f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters", [])
    return Graph(arm, ends)


def cloud_secret(config=None):
    text = json.dumps(config or OLD_CONFIG)
    secret = obj("Secret", "azure-cloud-provider", "kube-system", type="Opaque")
    secret["data"] = {"cloud-config": base64.b64encode(text.encode()).decode()}
    return secret


def secret_config(kube):
    stored = kube.stored("Secret", "azure-cloud-provider", "kube-system")
    return json.loads(base64.b64decode(stored["data"]["cloud-config"]))


@pytest.fixture
def arm():
    with ArmFake() as fake:
        yield fake


def add_body(end=f"{END}T00:00:00Z"):
    return {"passwordCredential": {"displayName": f"aksdoctor-{today()}", "endDateTime": end}}


# ---- AKS ---------------------------------------------------------------------------------------------------------


def test_dry_run_shows_add_password_then_the_cluster_reset_without_a_secret(arm, tmp_path):
    aks(arm, [days(-10)])
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--end-date", END)
        assert kube.writes == []
    assert arm.writes == []
    assert result.code == 0, result.stderr
    plan = result.doc["plan"]
    add, reset = plan["steps"]
    assert add["request"] == {"api": "graph", "method": "POST", "path": ADD, "contentType": "application/json",
                              "body": add_body()}  # fmt: skip
    assert add["command"] == (
        f"SP_SECRET=$(az ad app credential reset --id {SP} --append --display-name aksdoctor-{today()} "
        f"--end-date {END}T00:00:00Z --query password -o tsv)"
    )
    assert "all 1 credential(s) have expired" in add["description"]
    assert reset["request"] == {
        "api": "arm",
        "method": "POST",
        "path": RESET,
        "query": {"api-version": AKS_API},
        "contentType": "application/json",
        "body": {"clientId": SP, "secret": "<the new secret from step 1>"},
    }
    assert reset["dependsOn"] == [0]
    assert reset["command"] == (
        "az aks update-credentials -g prod-rg -n prod-aks --reset-service-principal --service-principal "
        f'{SP} --client-secret "$SP_SECRET"'
    )
    assert "rolls the nodes" in plan["blastRadius"]
    assert any("password 00000000-aaaa-bbbb-cccc-000000000000 'rbac-0' ends" in n for n in plan["notes"])
    assert any("1 expired password credential(s)" in n and "--remove-expired" in n for n in plan["notes"])


def test_default_lifetime_is_one_year(arm, tmp_path):
    aks(arm, [days(-10)])
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential")
    body = result.doc["plan"]["steps"][0]["request"]["body"]["passwordCredential"]
    end = k8s.parse_time(body["endDateTime"])
    now = datetime.now(timezone.utc)
    assert abs(end - now.replace(year=now.year + 1)) < timedelta(minutes=5)


def test_apply_hands_the_secret_to_the_cluster_and_never_prints_it(arm, tmp_path):
    graph = aks(arm, [days(-10)])
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--end-date", END, "--timeout", "5")
        writes = arm_writes(arm)
        again = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes")
        assert [r for r in kube.writes if "selfsubjectreviews" not in r.path] == []
    assert result.code == 0, result.stdout
    assert writes == [
        ("POST", ADD, None, add_body()),
        ("POST", RESET, AKS_API, {"clientId": SP, "secret": NEW_SECRET}),
    ]
    assert NEW_SECRET not in printed(result) and NEW_SECRET[:3] + "~" not in printed(result)
    doc = result.doc
    assert doc["outcome"] == "verified"
    assert doc["result"]["steps"][0]["detail"] == (
        f"new password credential {NEW_KEY}, ends {END}T00:00:00Z (secret not shown)"
    )
    assert doc["result"]["steps"][1]["detail"] == (
        "accepted; AKS applies it in the background: "
        "az aks show -g prod-rg -n prod-aks --query provisioningState -o tsv"
    )
    assert {c["id"]: c["status"] for c in doc["verification"]["checks"]} == {
        "identity.sp-expired": "passed",
        "lb.auth-failed": "not-applicable",
    }
    identities = {i["api"]: i for i in doc["audit"]["identity"]}
    assert identities["graph"]["user"] == identities["arm"]["user"] == OPERATOR_USER
    assert graph.key_ids == ["00000000-aaaa-bbbb-cccc-000000000000", NEW_KEY]  # the old one is kept
    assert (again.code, again.doc["outcome"]) == (0, "nothing-to-do")  # idempotent
    assert arm.writes == []


def test_show_secret_prints_it_once_on_stderr_only(arm, tmp_path):
    aks(arm, [days(-10)])
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--show-secret", "--timeout", "5")
    assert result.code == 0, result.stdout
    assert NEW_SECRET not in result.stdout
    assert result.stderr.count(NEW_SECRET) == 1
    assert f"New client secret of application {SP} (keyId {NEW_KEY}" in result.stderr


def test_remove_expired_removes_only_expired_passwords_after_the_reset(arm, tmp_path):
    graph = aks(arm, [days(-10), days(10)])  # one expired, one still valid (ends within 30 days)
    expired, valid = graph.key_ids
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--remove-expired", "--timeout", "5")
    assert result.code == 0, result.stdout
    assert [(m, p) for m, p, _, _ in arm_writes(arm)] == [("POST", ADD), ("POST", RESET), ("POST", REMOVE)]
    assert arm_writes(arm)[2][3] == {"keyId": expired}
    assert graph.key_ids == [valid, NEW_KEY]
    assert result.doc["plan"]["steps"][2]["dependsOn"] == [1]


def test_cluster_update_refused_rolls_the_new_secret_back(arm, tmp_path):
    forbidden = arm_error(403, "AuthorizationFailed", "The client does not have authorization.")
    graph = aks(arm, [days(-10)], reset=forbidden)
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--timeout", "0")
    assert result.code == 1
    assert [(m, p) for m, p, _, _ in arm_writes(arm)] == [("POST", ADD), ("POST", RESET), ("POST", REMOVE)]
    assert arm_writes(arm)[2][3] == {"keyId": NEW_KEY}
    assert graph.key_ids == ["00000000-aaaa-bbbb-cccc-000000000000"]  # nothing left behind
    steps = result.doc["result"]["steps"]
    assert [s["status"] for s in steps] == ["done", "failed", "done"]
    assert steps[1]["detail"].endswith(
        "this needs Azure Kubernetes Service Contributor Role or Contributor on the cluster "
        "(Microsoft.ContainerService/managedClusters/resetServicePrincipalProfile/action)"
    )
    assert steps[2]["detail"].startswith(f"rolled back step 1: the new credential {NEW_KEY} was deleted")
    assert result.doc["outcome"] == "partial"
    assert NEW_SECRET not in printed(result)


def test_cluster_update_refused_with_show_secret_keeps_it_and_says_how_to_finish(arm, tmp_path):
    forbidden = arm_error(403, "AuthorizationFailed", "The client does not have authorization.")
    graph = aks(arm, [days(-10)], reset=forbidden)
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--show-secret", "--timeout", "0")
    assert [p for _, p, _, _ in arm_writes(arm)] == [ADD, RESET]
    assert NEW_KEY in graph.key_ids
    assert NEW_SECRET not in result.stdout and result.stderr.count(NEW_SECRET) == 1
    assert "The cluster did NOT get it (step 2 failed)" in result.stderr
    assert "az aks update-credentials -g prod-rg -n prod-aks" in result.stderr


def test_add_password_refused_names_the_entra_role_and_touches_nothing_else(arm, tmp_path):
    denied = arm_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    aks(arm, [days(-10)], add=[denied])
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--timeout", "0")
    assert [p for _, p, _, _ in arm_writes(arm)] == [ADD]
    steps = result.doc["result"]["steps"]
    assert [s["status"] for s in steps] == ["failed", "not-attempted"]
    assert steps[0]["detail"] == (
        "HTTP 403 Authorization_RequestDenied: Insufficient privileges to complete the operation.; this needs the "
        "Application Administrator or Cloud Application Administrator role in Entra ID, or being an owner of the "
        "application"
    )
    assert (result.code, result.doc["outcome"]) == (1, "failed")


def test_throttled_add_password_is_retried_after_retry_after(arm, tmp_path):
    throttled = arm_error(429, "TooManyRequests", "slow down", {"Retry-After": "1"})
    aks(arm, [days(-10)], add=[throttled])
    with KubeFake([node()]) as kube:
        started = time.monotonic()
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--timeout", "5")
        took = time.monotonic() - started
    assert [p for _, p, _, _ in arm_writes(arm)] == [ADD, ADD, RESET]
    assert took >= 1.0
    assert result.doc["outcome"] == "verified"


def test_a_valid_credential_is_left_alone_unless_sign_in_failed_after_it(arm, tmp_path):
    aks(arm, [days(200)])
    web = service("web", ingress_ip=None)
    invalid = (
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client "
        f"secret value, not the client secret ID, for a secret added to app '{SP}'."
    )
    body = json.dumps({"error": "invalid_client", "error_description": invalid})
    text = SYNC_FAILED + f"adal: Refresh request failed. Status Code = '401'. Response body: {body}"
    recent = event(web, "SyncLoadBalancerFailed", text, last=days(0))
    older = event(web, "SyncLoadBalancerFailed", text, last="2025-11-01T00:00:00Z")  # before the credential
    with KubeFake([node(), web, older]) as kube:
        quiet = fix(kube, arm, tmp_path, "reset-sp-credential")
    with KubeFake([node(), web, recent]) as kube:
        needed = fix(kube, arm, tmp_path, "reset-sp-credential")
    assert quiet.doc["outcome"] == "nothing-to-do"
    assert needed.doc["outcome"] == "planned"
    assert "sign-in fails with AADSTS7000215" in needed.doc["plan"]["steps"][0]["description"]


def test_managed_identity_cluster_has_nothing_to_reset(arm, tmp_path):
    serve_cluster(arm, managed=managed_cluster())
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes")
    assert (result.code, result.doc["outcome"]) == (0, "nothing-to-do")
    assert "managed identity" in result.doc["plan"]["summary"]
    assert arm.writes == []


def test_graph_forbidden_cannot_plan(arm, tmp_path):
    serve_cluster(arm, managed=managed_cluster(client_id=SP))
    arm.route("/v1.0/applications", lambda _req: arm_error(403, "Authorization_RequestDenied", "Insufficient."))
    with KubeFake([node()]) as kube:
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes")
    assert result.code == 2
    assert "cannot plan reset-sp-credential: Microsoft Graph: needs Application.Read.All" in result.stderr
    assert arm.writes == []


# ---- self-managed ------------------------------------------------------------------------------------------------


def test_self_managed_secret_gets_the_new_secret_guarded_by_its_resource_version(arm, tmp_path):
    self_managed(arm, [days(-10)])
    with KubeFake([node(), cloud_secret()]) as kube:
        planned = fix(kube, arm, tmp_path, "reset-sp-credential")
        result = fix(kube, arm, tmp_path, "reset-sp-credential", "--yes", "--timeout", "5")
        patches = [(r.method, r.path, r.header("Content-Type"), r.json()) for r in kube.writes if r.method == "PATCH"]
        stored = secret_config(kube)
    step = planned.doc["plan"]["steps"][1]
    assert step["request"]["path"] == "/api/v1/namespaces/kube-system/secrets/azure-cloud-provider"
    assert step["request"]["contentType"] == "application/merge-patch+json"
    assert "PLANTED-old-secret" not in planned.stdout
    assert step["command"].startswith(
        "kubectl -n kube-system get secret azure-cloud-provider -o 'jsonpath={.data.cloud-config}' | base64 -d | "
        'jq --arg s "$SP_SECRET" '
    )
    assert any("rollout restart deployment cloud-controller-manager" in n for n in planned.doc["plan"]["notes"])
    assert result.code == 0, result.stdout
    [(method, path, content_type, body)] = patches
    assert (method, path, content_type) == (
        "PATCH",
        "/api/v1/namespaces/kube-system/secrets/azure-cloud-provider",
        "application/merge-patch+json",
    )
    assert body["metadata"]["resourceVersion"]
    assert stored == {**OLD_CONFIG, "aadClientSecret": NEW_SECRET}  # only the secret changed
    assert [p for _, p, _, _ in arm_writes(arm)] == [ADD]
    assert NEW_SECRET not in printed(result) and "PLANTED-old-secret" not in printed(result)


def test_cloud_config_file_needs_show_secret_to_apply(arm, tmp_path):
    self_managed(arm, [days(-10)])
    config = tmp_path / "azure.json"
    config.write_text(json.dumps(OLD_CONFIG))
    with KubeFake([node()]) as kube:
        planned = fix(kube, arm, tmp_path, "reset-sp-credential", "--cloud-config", str(config))
        refused = fix(kube, arm, tmp_path, "reset-sp-credential", "--cloud-config", str(config), "--yes")
        refused_writes = list(arm.writes)
        shown = fix(kube, arm, tmp_path, "reset-sp-credential", "--cloud-config", str(config), "--yes",
                    "--show-secret", "--timeout", "5")  # fmt: skip
    assert [s["request"]["path"] for s in planned.doc["plan"]["steps"]] == [ADD]
    notes = " ".join(planned.doc["plan"]["notes"])
    assert "applying needs --show-secret" in notes
    assert "sudo jq --arg s \"$SP_SECRET\" '.aadClientSecret = $s' /etc/kubernetes/azure.json" in notes
    assert refused.code == 2 and "add --show-secret" in refused.stderr
    assert refused_writes == []
    assert shown.code == 0, shown.stdout
    assert shown.stderr.count(NEW_SECRET) == 1 and NEW_SECRET not in shown.stdout


# ---- offline, flags ------------------------------------------------------------------------------------------------


def test_snapshot_plans_but_never_applies(tmp_path):
    snap = write_snapshot(
        tmp_path / "snap",
        [node()],
        azure={"managedClusters.json": [managed_cluster(client_id=SP)]},
        graph={"applications.json": [graph_application(SP, ["2026-01-01T00:00:00Z"])]},
    )
    planned = run_cli(tmp_path, "fix", "reset-sp-credential", "--snapshot", str(snap), "-o", "json")
    assert planned.code == 0, planned.stderr
    assert [s["request"]["api"] for s in planned.doc["plan"]["steps"]] == ["graph", "arm"]
    refused = run_cli(tmp_path, "fix", "reset-sp-credential", "--snapshot", str(snap), "--yes")
    assert refused.code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grant-network-role", "--years", "2"), "--years only apply to reset-sp-credential, not grant-network-role"),
        (("reset-sp-credential", "--years", "2", "--end-date", END), "--years and --end-date cannot be used together"),
        (("reset-sp-credential", "--end-date", "2020-01-01"), "--end-date 2020-01-01 is not in the future"),
        (("reset-sp-credential", "--end-date", "soon"), "--end-date: 'soon' is not a date"),
    ],
)
def test_flag_misuse_is_a_usage_error(tmp_path, args, message):
    snap = write_snapshot(
        tmp_path / "snap",
        [node()],
        azure={"managedClusters.json": [managed_cluster(client_id=SP)]},
        graph={"applications.json": [graph_application(SP, ["2026-01-01T00:00:00Z"])]},
    )
    result = run_cli(tmp_path, "fix", *args, "--snapshot", str(snap))
    assert result.code == 2
    assert message in result.stderr
