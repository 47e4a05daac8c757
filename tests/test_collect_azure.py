"""collect's Azure side against KubeFake and the loopback ARM/Graph fake: every Azure kind and the service
principal's Graph application land in azure/ and graph/, secrets planted in Graph credentials and ARM tags never do,
and reading the bundle back with --snapshot gives the live run's findings, Azure ones included."""

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from armfake import ArmFake, StaticToken, arm_error
from azure_builders import (
    graph_application,
    load_balancer,
    managed_cluster,
    managed_public_ip,
    nsg,
    public_ip,
    route_table,
    virtual_network,
    vmss,
    vmss_vm,
)
from azurefixkit import POOL, cluster_path, listing
from builders import NODE_RG, SUB, node, obj, pod, service
from fixkit import run_cli
from kubefake import KubeFake
from test_collect import bundle_bytes, bundle_file

from aksdoctor import kube as k8s
from aksdoctor.sources.azure_live import AzureLiveSource
from kubectl_aksdoctor import commands

SP = "0b0c1f7e-8f0e-4c2a-9d55-1e2f3a4b5c6d"
WEB = service("web", "shop", selector={"app": "web"}, ingress_ip="20.50.10.4")
GONE = service("gone", "shop")
CONFIG = {"aadClientId": SP, "aadClientSecret": "PLANT-cloud-config-secret", "subscriptionId": SUB}
PROVENANCE = " (snapshot kubernetesVersion)"


def ago(days):
    return k8s.format_time(datetime.now(timezone.utc) - timedelta(days=days))


def application():
    app = graph_application(SP, [ago(10)])
    app["passwordCredentials"][0].update(hint="PLANT-hint", secretText="PLANT-graph-secret-text")
    app["keyCredentials"] = [
        {
            "keyId": "11111111-aaaa-bbbb-cccc-000000000000",
            "displayName": "CN=prod-aks-sp",
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "endDateTime": ago(5),
            "key": base64.b64encode(b"PLANT-certificate-material").decode(),
            "customKeyIdentifier": "ABCDEF0123",
        }
    ]
    return app


def serve_azure(arm, planted):
    """With `planted`, secrets hide in tags (a value, and a key naming a password): redaction changes what evidence
    quotes, so the round trip runs without them."""
    web_ip = managed_public_ip(WEB, "20.50.10.4", tags={"owner": "team password=PLANT-tag-password"} if planted else {})
    orphan = managed_public_ip(GONE, "20.50.10.9", tags={"db-password": "PLANT-tag-key"} if planted else {})
    node_nsg = nsg()
    lists = {
        "Microsoft.Network/loadBalancers": [load_balancer(services=[(WEB, {"public_ip_id": web_ip["id"]})])],
        "Microsoft.Network/publicIPAddresses": [web_ip, orphan, public_ip("my-own-ip", "20.50.10.11")],
        "Microsoft.Network/networkSecurityGroups": [node_nsg],
        "Microsoft.Network/networkInterfaces": [],
        "Microsoft.Network/virtualNetworks": [virtual_network(nsg_id=node_nsg["id"])],
        "Microsoft.Network/routeTables": [route_table()],
        "Microsoft.Compute/virtualMachineScaleSets": [vmss(POOL, capacity=1, nsg_id=node_nsg["id"])],
        "Microsoft.Compute/virtualMachines": [],
        "Microsoft.Authorization/locks": [],
        "Microsoft.Authorization/roleAssignments": [],
    }
    for rtype, items in lists.items():
        arm.list(listing(NODE_RG, rtype), items)
    arm.list(
        f"{listing(NODE_RG, 'Microsoft.Compute/virtualMachineScaleSets')}/{POOL}/virtualMachines", [vmss_vm(POOL, 0)]
    )
    arm.get(cluster_path(), managed_cluster(client_id=SP))
    arm.graph_applications([application()])


def cloud_secret():
    secret = obj("Secret", "azure-cloud-provider", "kube-system", type="Opaque")
    secret["data"] = {"cloud-config": base64.b64encode(json.dumps(CONFIG).encode()).decode()}
    return secret


def kube_objects():
    """An AKS cluster: the service principal is the managed cluster's (AKS has no azure-cloud-provider Secret)."""
    return [node(), WEB, pod("web-1", "shop", labels={"app": "web"})]


@pytest.fixture
def fakes(monkeypatch, request):
    planted = getattr(request, "param", "") == "planted"
    with ArmFake() as arm, KubeFake(kube_objects() + ([cloud_secret()] if planted else [])) as kube:
        serve_azure(arm, planted)
        source = lambda _cloud: AzureLiveSource(  # noqa: E731
            StaticToken(), base_url=arm.url, graph_url=arm.url, connection_verify=arm.ca_file
        )
        monkeypatch.setattr(commands, "_live_azure", source)
        yield kube, arm


def cli(kube, tmp_path, *args):
    config = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod-aks")
    return run_cli(tmp_path, *args, "--kubeconfig", config)


@pytest.mark.parametrize("fakes", ["planted"], indirect=True)
@pytest.mark.parametrize("name", ["bundle.tar.gz", "bundle-dir"])
def test_azure_kinds_and_graph_are_collected_without_their_secrets(fakes, tmp_path, name):
    kube, arm = fakes
    dest = tmp_path / name
    result = cli(kube, tmp_path, "collect", "-f" if name.endswith(".gz") else "-d", str(dest), "-o", "json")
    assert result.code == 0, result.stderr
    assert arm.writes == []
    data = bundle_bytes(dest)
    assert b"PLANT" not in data
    assert base64.b64encode(b"PLANT-certificate-material") not in data
    assert result.doc["azure"] == {
        "azure/loadBalancers.json": 1,
        "azure/publicIps.json": 3,
        "azure/networkSecurityGroups.json": 1,
        "azure/networkInterfaces.json": 0,
        "azure/virtualNetworks.json": 1,
        "azure/routeTables.json": 1,
        "azure/vmScaleSets.json": 1,
        "azure/vmssVms.json": 1,
        "azure/virtualMachines.json": 0,
        "azure/managedClusters.json": 1,
        "azure/locks.json": 0,
        "azure/roleAssignments.json": 0,
        "graph/applications.json": 1,
    }
    [app] = json.loads(bundle_file(dest, "graph/applications.json"))
    [password] = app["passwordCredentials"]
    assert (password["hint"], password["secretText"]) == ("<redacted>", "<redacted>")
    assert password["keyId"] == "00000000-aaaa-bbbb-cccc-000000000000" and password["endDateTime"]
    [cert] = app["keyCredentials"]
    assert cert["key"] == "<redacted>" and cert["customKeyIdentifier"] == "ABCDEF0123"
    tags = {p["name"]: p["tags"] for p in json.loads(bundle_file(dest, "azure/publicIps.json"))}
    assert {t.get("owner") for t in tags.values()} >= {"team password=<redacted>"}
    assert any(t.get("db-password") == "<redacted>" for t in tags.values())
    assert any(t.get("k8s-azure-service") == "shop/web" for t in tags.values())  # what checks read stays


def test_reading_the_bundle_back_gives_the_live_azure_findings(fakes, tmp_path):
    kube, _ = fakes
    live = cli(kube, tmp_path, "cluster", "-o", "json")
    made = cli(kube, tmp_path, "collect", "-f", str(tmp_path / "b.tar.gz"))
    offline = run_cli(tmp_path, "cluster", "--snapshot", str(tmp_path / "b.tar.gz"), "-o", "json")
    assert made.code == 0, made.stderr
    ids = {f["id"] for f in live.doc["findings"]}
    assert {"azure.orphaned-public-ip", "identity.sp-expired", "identity.service-principal"} <= ids
    assert json.loads(json.dumps(offline.doc["findings"]).replace(PROVENANCE, "")) == live.doc["findings"]
    statuses = [(c["id"], c["status"]) for c in live.doc["checks"]]
    assert [(c["id"], c["status"]) for c in offline.doc["checks"]] == statuses
    assert ("lb.frontend-drift", "passed") in statuses  # the Azure-side checks ran on both sides


def test_no_azure_collects_nothing_from_azure(fakes, tmp_path):
    kube, arm = fakes
    result = cli(kube, tmp_path, "collect", "-d", str(tmp_path / "b"), "--no-azure", "-o", "json")
    assert result.code == 0, result.stderr
    assert result.doc["azure"] == {}
    assert not (tmp_path / "b" / "azure").exists()
    assert arm.requests == []


def test_anonymize_replaces_subscription_and_groups_in_azure_files_too(fakes, tmp_path):
    kube, _ = fakes
    result = cli(kube, tmp_path, "collect", "-d", str(tmp_path / "b"), "--anonymize")
    assert result.code == 0, result.stderr
    azure = "".join(p.read_text() for p in (tmp_path / "b" / "azure").iterdir())
    assert SUB not in azure and NODE_RG not in azure and NODE_RG.lower() not in azure.lower()
    assert "20.50.10.4" not in azure


def test_graph_forbidden_is_noted_and_the_rest_collected(fakes, tmp_path):
    kube, arm = fakes
    arm.route("/v1.0/applications", lambda _req: arm_error(403, "Authorization_RequestDenied", "Insufficient."))
    result = cli(kube, tmp_path, "collect", "-d", str(tmp_path / "b"), "-o", "json")
    assert result.code == 0, result.stderr
    assert "graph/applications.json not collected: Microsoft Graph: needs Application.Read.All (403 " in " ".join(
        result.doc["notes"]
    )
    assert "azure/loadBalancers.json" in result.doc["azure"]
