"""The cloud provider's config: parsed as the provider parses it, found in a snapshot, a live secret or a file,
and never shown with its secrets."""

from __future__ import annotations

import base64
import json

import pytest
from builders import SUB, obj, write_snapshot
from kubefake import KubeFake

from aksdoctor.azure import cloud_config
from aksdoctor.azure.cloud_config import REDACTED, is_secret_key, parse
from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import Facts
from aksdoctor.model import Target
from aksdoctor.sources.kube_live import KubeLiveSource
from aksdoctor.sources.snapshot import SnapshotSource

pytestmark = pytest.mark.usefixtures("loopback_only")  # the client talks to a fake on loopback

SECRET = "pl4nted~Secret.Value_0123456789abcdefghi"  # 40 characters
CONFIG = {
    "cloud": "AzurePublicCloud",
    "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "subscriptionId": SUB,
    "aadClientId": "0d6a5c8f-2b1e-4c7a-9f3d-6e8b1a2c4d5f",
    "aadClientSecret": SECRET,
    "resourceGroup": "MC_prod-rg_prod-aks_westeurope",
    "vmType": "vmss",
    "loadBalancerSku": "Standard",
}


def secret_object(text: str, name: str = "azure-cloud-provider") -> dict:
    data = {"cloud-config": base64.b64encode(text.encode()).decode()}
    return obj("Secret", name, "kube-system", type="Opaque", data=data)


# ---- parsing and redaction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [json.dumps(CONFIG, indent="\t"), "\n".join(f"{k}: {json.dumps(v)}" for k, v in CONFIG.items())],
    ids=["json-with-tabs", "yaml"],
)
def test_json_and_yaml_parse_alike(text):
    cfg = parse(text, "azure.json")
    assert not cfg.problem
    assert cfg.get("aadclientid") == CONFIG["aadClientId"]  # encoding/json matches keys case-insensitively
    assert cfg.key("LOADBALANCERSKU") == "loadBalancerSku"
    assert cfg.is_set("tenantId") and not cfg.is_set("userAssignedIdentityID")


def test_describe_shows_values_exactly_but_never_a_secret():
    cfg = parse(json.dumps({**CONFIG, "useManagedIdentityExtension": "true", "aadClientCertPassword": ""}), "x")
    assert cfg.describe("aadClientSecret") == "aadClientSecret: <set, 40 characters>"
    assert cfg.describe("aadClientCertPassword") == "aadClientCertPassword: <empty>"
    assert cfg.describe("useManagedIdentityExtension") == 'useManagedIdentityExtension: "true"'  # a string, not true
    assert cfg.describe("userAssignedIdentityID") == "userAssignedIdentityID: <not set>"
    assert cfg.describe("vmType") == 'vmType: "vmss"'
    assert cfg.flag("useManagedIdentityExtension") is False
    assert SECRET not in repr(cfg)


def test_redacted_view_masks_every_secret_nested_or_not():
    nested = {
        **CONFIG,
        "aadClientCertPassword": SECRET,
        "aadFederatedTokenFile": "/var/run/secrets/azure/tokens/azure-identity-token",
        "multipleStandardLoadBalancerConfigurations": [{"name": "lb-1", "servicePrincipalSecret": SECRET}],
    }
    view = parse(json.dumps(nested), "x").redacted()
    assert SECRET not in json.dumps(view)
    assert view["aadClientSecret"] == view["aadClientCertPassword"] == REDACTED
    assert view["multipleStandardLoadBalancerConfigurations"][0] == {"name": "lb-1", "servicePrincipalSecret": REDACTED}
    assert view["aadFederatedTokenFile"] == nested["aadFederatedTokenFile"]  # a path, not a token
    assert view["aadClientId"] == CONFIG["aadClientId"]


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("aadClientSecret", True),
        ("AADCLIENTSECRET", True),
        ("aadClientCertPassword", True),
        ("someAccessToken", True),
        ("dbPasswd", True),
        ("aadFederatedTokenFile", False),
        ("aadClientCertPath", False),
        ("aadClientId", False),
        ("useManagedIdentityExtension", False),
    ],
)
def test_secret_keys(key, secret):
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"aadClientSecret": "' + SECRET + '", }', "invalid JSON at line 1"),
        ("aadClientSecret: " + SECRET + "\n  bad: [indent", "invalid YAML at line 2"),
        ("", "it is empty"),
        ("- a\n- b\n", "it is not one mapping of settings"),
    ],
)
def test_unparsable_config_says_where_without_quoting_it(text, problem):
    cfg = parse(text, "azure.json")
    assert cfg.problem.startswith(problem)
    assert SECRET not in cfg.problem
    assert cfg.values == {}


def test_load_file_and_missing_file(tmp_path):
    path = tmp_path / "azure.json"
    path.write_text(json.dumps(CONFIG))
    cfg = cloud_config.load_file(str(path))
    assert cfg.source == f"azure.json {path} (--cloud-config)"
    assert cfg.get("vmType") == "vmss"
    with pytest.raises(FactUnavailable, match=r"cannot read --cloud-config .*nope\.json: No such file"):
        cloud_config.load_file(str(tmp_path / "nope.json"))


def test_secret_without_the_key_or_with_redacted_data():
    with pytest.raises(FactUnavailable, match="has no cloud-config key"):
        cloud_config.from_secret({"data": {}}, "Secret kube-system/azure-cloud-provider")
    with pytest.raises(FactUnavailable, match="not base64 text"):
        cloud_config.from_secret({"data": {"cloud-config": "<redacted>"}}, "Secret kube-system/azure-cloud-provider")
    assert cloud_config.from_secret({"stringData": {"cloud-config": "vmType: vmss"}}, "s") == "vmType: vmss"


# ---- the cloud_config fact from each source -----------------------------------------------------------------


def _fact(source, **kw) -> object:
    return Facts(target=Target("cluster", "prod-aks"), kube=source, **kw).get("cloud_config")


def test_snapshot_files_azure_json_wins_over_the_secret(tmp_path):
    snap = write_snapshot(
        tmp_path, [secret_object("vmType: standard")], files={"etc/kubernetes/azure.json": json.dumps(CONFIG)}
    )
    cfg = _fact(SnapshotSource(snap))
    assert cfg.source == "azure.json (snapshot files/etc/kubernetes/azure.json)"
    assert cfg.get("vmType") == "vmss"


def test_snapshot_secret_is_base64_decoded(tmp_path):
    snap = write_snapshot(tmp_path, [secret_object(json.dumps(CONFIG)), secret_object("x: 1", "other")])
    cfg = _fact(SnapshotSource(snap))
    assert cfg.source == "Secret kube-system/azure-cloud-provider"
    assert cfg.in_secret
    assert cfg.get("aadClientSecret") == SECRET


def test_snapshot_without_either(tmp_path):
    snap = write_snapshot(tmp_path, [])
    facts = Facts(target=Target("cluster", "prod-aks"), kube=SnapshotSource(snap))
    assert facts.reason("cloud_config") == (
        "not in snapshot: files/azure.json or Secret kube-system/azure-cloud-provider"
    )


def test_cloud_config_file_overrides_the_source(tmp_path):
    snap = write_snapshot(tmp_path / "snap", [], files={"azure.json": "vmType: standard"})
    path = tmp_path / "mine.yaml"
    path.write_text("vmType: vmssflex\n")
    cfg = _fact(SnapshotSource(snap), cloud_config_file=str(path))
    assert cfg.get("vmType") == "vmssflex"


# ---- live: one GET of the secret ----------------------------------------------------------------------------


def _live(kube: KubeFake, tmp_path) -> KubeLiveSource:
    return KubeLiveSource.from_kubeconfig(config_file=kube.write_kubeconfig(tmp_path / "kubeconfig"))


def test_live_secret_read_with_one_get(tmp_path):
    with KubeFake([secret_object(json.dumps(CONFIG))]) as kube:
        cfg = _fact(_live(kube, tmp_path), now=None)
        paths = [r.path for r in kube.requests]
    assert paths == ["/api/v1/namespaces/kube-system/secrets/azure-cloud-provider"]
    assert cfg.source == "Secret kube-system/azure-cloud-provider"
    assert cfg.get("aadClientId") == CONFIG["aadClientId"]


def test_live_no_secret_on_aks(tmp_path):
    with KubeFake([]) as kube:
        facts = Facts(target=Target("cluster", "prod-aks"), kube=_live(kube, tmp_path))
        assert facts.reason("cloud_config") == (
            "no Secret kube-system/azure-cloud-provider (not self-managed or not readable; pass --cloud-config FILE "
            "(a copy of /etc/kubernetes/azure.json))"
        )


def test_live_secret_forbidden(tmp_path):
    with KubeFake([secret_object(json.dumps(CONFIG))]) as kube:
        kube.forbid("secrets", "kube-system", verb="get")
        facts = Facts(target=Target("cluster", "prod-aks"), kube=_live(kube, tmp_path))
        reason = facts.reason("cloud_config")
    assert reason.startswith(
        "forbidden: get secret azure-cloud-provider in namespace kube-system (not self-managed or not readable"
    )
