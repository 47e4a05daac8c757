"""identity.sp-expired, identity.service-principal and identity.cloud-config, from snapshots; secrets never shown."""

from __future__ import annotations

import base64
import json

import pytest
from azure_builders import graph_application, managed_cluster
from builders import NODE_RG, SUB, findings, node, obj, outcome, run_snapshot, write_snapshot

from aksdoctor import engine
from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import Facts
from aksdoctor.model import Target
from aksdoctor.render import FORMATS, render
from aksdoctor.sources.snapshot import SnapshotSource
from kubectl_aksdoctor.cli import main

EXPIRED, SP, CONFIG = "identity.sp-expired", "identity.service-principal", "identity.cloud-config"
APP = "0d6a5c8f-2b1e-4c7a-9f3d-6e8b1a2c4d5f"
SECRET = "pl4nted~Secret.Value_0123456789abcdefghi"  # 40 characters
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NODE = node("aks-nodepool1-12345678-vmss000000")
MI_CONFIG = {  # what AKS writes to /etc/kubernetes/azure.json on a managed-identity cluster
    "cloud": "AzurePublicCloud",
    "tenantId": TENANT,
    "subscriptionId": SUB,
    "aadClientId": "msi",
    "aadClientSecret": "msi",
    "resourceGroup": NODE_RG,
    "location": "westeurope",
    "vmType": "vmss",
    "useManagedIdentityExtension": True,
    "userAssignedIdentityID": "5b1e2c3d-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
    "loadBalancerSku": "Standard",
}
SP_CONFIG = {
    **{k: v for k, v in MI_CONFIG.items() if k not in ("useManagedIdentityExtension", "userAssignedIdentityID")},
    "aadClientId": APP,
    "aadClientSecret": SECRET,
}


def snapshot(tmp_path, *, client_id="msi", graph=None, config=None, nodes=(NODE,), objects=()):
    azure = {"managedClusters.json": [managed_cluster(client_id=client_id)]} if client_id else None
    files = {"azure.json": config if isinstance(config, str) else json.dumps(config)} if config is not None else None
    return write_snapshot(tmp_path, [*nodes, *objects], azure=azure, graph=graph, files=files)


def app(ends, **kw) -> dict:
    application = graph_application(APP, ends, **kw)
    for cred in application["passwordCredentials"]:
        cred["hint"], cred["secretText"] = SECRET[:3], SECRET  # Graph returns secretText only on addPassword
    return application


def graph(*objects) -> dict:
    return {"applications.json": {"value": list(objects)}}


def assert_never_rendered(report, *secrets):
    for fmt in FORMATS:
        text = render(report, fmt)
        for secret in secrets:
            assert secret not in text, f"{fmt} output shows a secret"


# ---- identity.sp-expired ------------------------------------------------------------------------------------


def test_all_credentials_expired_is_an_error(tmp_path):
    snap = snapshot(tmp_path, client_id=APP, graph=graph(app(["2026-09-01T00:00:00Z", "2026-11-01T08:30:00Z"])))
    report = run_snapshot(snap, include=[EXPIRED])
    [finding] = findings(report, EXPIRED)
    assert finding.severity.label == "error"
    assert f"All 2 credential(s) of the service principal {APP} (prod-aks-sp) have expired" in finding.cause
    assert "the newest ended 2026-11-01T08:30:00Z (expired 26 days ago)" in finding.cause
    assert "AADSTS7000222" in finding.cause
    details = [(e.source, e.ref, e.detail) for e in finding.evidence]
    assert details[0] == ("Azure", "managedClusters/prod-aks servicePrincipalProfile.clientId", APP)
    assert details[1] == (
        "Graph",
        f"application {APP} password credential 00000001-aaaa-bbbb-cccc-000000000000",
        "endDateTime 2026-11-01T08:30:00Z (expired 26 days ago), displayName rbac-1",
    )
    assert finding.fix.action == "reset-sp-credential"
    assert finding.fix.commands == (
        f"az ad app credential list --id {APP} --query '[].{{keyId:keyId, name:displayName, end:endDateTime}}' "
        "-o table",
        f"SP_SECRET=$(az ad app credential reset --id {APP} --append --query password -o tsv)",
        f"az aks update-credentials -g prod-rg -n prod-aks --reset-service-principal --service-principal {APP} "
        '--client-secret "$SP_SECRET"',
    )
    assert_never_rendered(report, SECRET)


def test_newest_expiring_within_30_days_is_a_warning(tmp_path):
    snap = snapshot(tmp_path, client_id=APP, graph=graph(app(["2026-01-01T00:00:00Z", "2026-12-10T00:00:00Z"])))
    [finding] = findings(run_snapshot(snap, include=[EXPIRED]), EXPIRED)
    assert finding.severity.label == "warning"
    assert "ends 2026-12-10T00:00:00Z (expires in 12 days); 1 other(s) already expired" in finding.cause


def test_quiet_with_a_credential_valid_for_months(tmp_path):
    snap = snapshot(tmp_path, client_id=APP, graph=graph(app(["2026-12-01T00:00:00Z", "2027-09-01T00:00:00Z"])))
    assert outcome(run_snapshot(snap, include=[EXPIRED]), EXPIRED) == ("passed", "")


def test_certificate_credentials_count_too(tmp_path):
    application = app(["2026-01-01T00:00:00Z"])
    application["keyCredentials"] = [
        {
            "keyId": "c3",
            "displayName": "CN=prod-aks",
            "endDateTime": "2027-11-01T00:00:00Z",
            "type": "AsymmetricX509Cert",
        }
    ]
    snap = snapshot(tmp_path, client_id=APP, graph=graph(application))
    assert outcome(run_snapshot(snap, include=[EXPIRED]), EXPIRED) == ("passed", "")


def test_application_not_in_graph_is_a_warning(tmp_path):
    snap = snapshot(tmp_path, client_id=APP, graph=graph(graph_application("11111111-2222-3333-4444-555555555555")))
    [finding] = findings(run_snapshot(snap, include=[EXPIRED]), EXPIRED)
    assert finding.severity.label == "warning"
    assert "has no application in Microsoft Graph" in finding.cause
    assert "AADSTS700016" in finding.cause


def test_managed_identity_is_not_applicable(tmp_path):
    report = run_snapshot(snapshot(tmp_path), include=[EXPIRED])
    assert outcome(report, EXPIRED) == ("not-applicable", "the cluster uses a managed identity (no service principal)")


class _Azure:
    """The snapshot as Azure source, with Graph answering the way a live tenant can."""

    def __init__(self, snap, graph_error: str | None = None):
        self.snap = SnapshotSource(snap)
        self.graph_error = graph_error
        self.graph_calls: list[list[str]] = []

    def resources(self, kind, scope):
        return self.snap.resources(kind, scope)

    def graph_objects(self, app_ids):
        self.graph_calls.append(list(app_ids))
        if self.graph_error:
            raise FactUnavailable(self.graph_error)
        return self.snap.graph_objects(app_ids)


def _run(snap, azure, checks):
    facts = Facts(target=Target("cluster", "prod-aks"), kube=SnapshotSource(snap), azure=azure)
    return engine.run(facts, include=checks)


def test_graph_forbidden_skips_with_the_reason(tmp_path):
    azure = _Azure(snapshot(tmp_path, client_id=APP), graph_error="needs Application.Read.All")
    report = _run(tmp_path, azure, [EXPIRED])
    assert outcome(report, EXPIRED) == ("skipped", "needs Application.Read.All")
    assert azure.graph_calls == [[APP]]


def test_no_graph_call_for_a_managed_identity(tmp_path):
    azure = _Azure(snapshot(tmp_path), graph_error="must not be called")
    assert outcome(_run(tmp_path, azure, [EXPIRED]), EXPIRED)[0] == "not-applicable"
    assert azure.graph_calls == []


def test_service_principal_from_the_cloud_config_of_a_self_managed_cluster(tmp_path):
    capz = node("capz-md-0-abcde", provider_id=NODE["spec"]["providerID"])
    del capz["metadata"]["labels"]["kubernetes.azure.com/cluster"]
    snap = snapshot(
        tmp_path, client_id=None, config=SP_CONFIG, graph=graph(app(["2026-11-20T00:00:00Z"])), nodes=[capz]
    )
    azure = _Azure(snap)
    report = _run(tmp_path, azure, [EXPIRED])
    [finding] = findings(report, EXPIRED)
    assert azure.graph_calls == [[APP]]
    assert ("Config", "azure.json (snapshot files/azure.json)", f"aadClientId: {json.dumps(APP)}") in {
        (e.source, e.ref, e.detail) for e in finding.evidence
    }
    assert not any("az aks" in c for c in finding.fix.commands)
    assert "put it in aadClientSecret of /etc/kubernetes/azure.json on every node" in finding.fix.summary
    assert_never_rendered(report, SECRET)


def test_identity_unknown_without_azure_or_cloud_config(tmp_path):
    report = run_snapshot(snapshot(tmp_path, client_id=None), include=[EXPIRED, SP])
    reason = (
        "cannot tell whether the cluster uses a service principal (managed cluster: not in snapshot: Azure managed "
        "clusters; cloud config: not in snapshot: files/azure.json or Secret kube-system/azure-cloud-provider)"
    )
    assert outcome(report, EXPIRED) == ("skipped", reason)
    assert outcome(report, SP) == ("skipped", reason)


# ---- identity.service-principal -----------------------------------------------------------------------------


def test_service_principal_cluster_gets_the_managed_identity_advice(tmp_path):
    report = run_snapshot(snapshot(tmp_path, client_id=APP, config=SP_CONFIG), include=[SP])
    [finding] = findings(report, SP)
    assert finding.severity.label == "info"
    assert f"signs in to Azure with the service principal {APP}" in finding.cause
    assert [e.detail for e in finding.evidence] == [
        APP,
        f"aadClientId: {json.dumps(APP)}",
        "useManagedIdentityExtension: <not set>",
    ]
    assert finding.fix.commands == (
        "az aks update -g prod-rg -n prod-aks --enable-managed-identity",
        "az aks nodepool upgrade -g prod-rg --cluster-name prod-aks -n nodepool1 --node-image-only",
    )
    assert_never_rendered(report, SECRET)


def test_managed_identity_cluster_passes(tmp_path):
    report = run_snapshot(snapshot(tmp_path, config=MI_CONFIG), include=[SP])
    assert outcome(report, SP) == ("passed", "")


# ---- identity.cloud-config ----------------------------------------------------------------------------------


def config_findings(tmp_path, config, nodes=(NODE,), objects=()):
    report = run_snapshot(
        snapshot(tmp_path, client_id=None, config=config, nodes=nodes, objects=objects), include=[CONFIG]
    )
    return report, findings(report, CONFIG)


def test_aks_managed_identity_config_is_quiet(tmp_path):
    report, found = config_findings(tmp_path, MI_CONFIG)
    assert found == []
    assert outcome(report, CONFIG) == ("passed", "")


def test_managed_identity_with_a_real_secret_left_over(tmp_path):
    report, [finding] = config_findings(tmp_path, {**MI_CONFIG, "aadClientSecret": SECRET})
    assert finding.severity.label == "warning"
    assert finding.resource == "azure.json (snapshot files/azure.json)"
    assert "ignores the secret" in finding.cause
    assert [e.detail for e in finding.evidence] == [
        "useManagedIdentityExtension: true",
        "aadClientSecret: <set, 40 characters>",
    ]
    assert_never_rendered(report, SECRET)


@pytest.mark.parametrize(
    ("change", "severity", "text"),
    [
        ({"useManagedIdentityExtension": False, "userAssignedIdentityID": None}, "error", "AADSTS700016"),
        ({"useManagedIdentityExtension": None}, "error", 'aadClientId is the managed-identity placeholder "msi"'),
        ({"aadClientId": APP, "aadClientSecret": SECRET, "useManagedIdentityExtension": None}, "warning",
         "userAssignedIdentityID is set but useManagedIdentityExtension is not true"),
        ({"subscriptionId": None, "resourceGroup": ""}, "error", "subscriptionId, resourceGroup are not set"),
        ({"loadBalancerSku": None}, "warning", "loadBalancerSku is not set, so cloud-provider-azure creates Basic"),
        ({"loadBalancerSku": "basic"}, "warning", 'loadBalancerSku is "basic", not "standard"'),
    ],
)  # fmt: skip
def test_contradictions_and_gaps(tmp_path, change, severity, text):
    config = {k: v for k, v in {**MI_CONFIG, **change}.items() if v is not None}
    report, found = config_findings(tmp_path, config)
    matching = [f for f in found if text in f.cause]
    assert matching, [f.cause for f in found]
    assert matching[0].severity.label == severity
    assert_never_rendered(report, SECRET)


def test_no_credentials_at_all(tmp_path):
    config = {k: v for k, v in SP_CONFIG.items() if k != "aadClientSecret"}
    _, [finding] = config_findings(tmp_path, config)
    assert "no credentials provided for Azure cloud provider" in finding.cause
    assert "aadClientSecret: <not set>" in [e.detail for e in finding.evidence]


def test_service_principal_config_needs_a_tenant(tmp_path):
    config = {k: v for k, v in SP_CONFIG.items() if k != "tenantId"}
    _, [finding] = config_findings(tmp_path, config)
    assert finding.cause.startswith("tenantId is not set")


def test_boolean_written_as_a_string_rejects_the_whole_config(tmp_path):
    _, [finding] = config_findings(tmp_path, {**MI_CONFIG, "useManagedIdentityExtension": "true"})
    assert finding.severity.label == "error"
    assert "useManagedIdentityExtension must be a boolean" in finding.cause
    assert finding.evidence[0].detail == 'useManagedIdentityExtension: "true"'


def test_vm_type_standard_with_scale_set_nodes(tmp_path):
    _, [finding] = config_findings(tmp_path, {**MI_CONFIG, "vmType": "standard"})
    assert 'vmType is "standard" but 1 node(s) (aks-nodepool1-12345678-vmss000000) are VM scale set' in finding.cause
    assert [e.source for e in finding.evidence] == ["Config", "Node"]


def test_nodes_outside_the_configured_subscription_and_group(tmp_path):
    elsewhere = node(
        "vm-other-0",
        provider_id=f"azure:///subscriptions/{SUB}/resourceGroups/other-rg/providers/Microsoft.Compute/virtualMachines/vm-other-0",
    )
    labelled = node(
        "vm-labelled-0",
        provider_id=f"azure:///subscriptions/{SUB}/resourceGroups/pool-rg/providers/Microsoft.Compute/virtualMachines/vm-labelled-0",
        labels={"kubernetes.azure.com/resource-group": "pool-rg"},
    )
    config = {**MI_CONFIG, "subscriptionId": "00000000-0000-0000-0000-000000000000"}
    _, [sub] = config_findings(tmp_path / "sub", config)
    assert "1 node(s) (aks-nodepool1-12345678-vmss000000) live in another subscription" in sub.cause
    _, [rg] = config_findings(tmp_path / "rg", MI_CONFIG, nodes=(NODE, elsewhere, labelled))
    assert "1 node(s) (vm-other-0) live in another resource group than the config's resourceGroup" in rg.cause


def test_only_control_plane_nodes_and_exclude_master(tmp_path):
    cp = node("k8s-master-0-vmss000000", labels={"node-role.kubernetes.io/control-plane": ""})
    _, [finding] = config_findings(tmp_path, MI_CONFIG, nodes=(cp,))
    assert finding.severity.label == "warning"
    assert "Every Azure node (1) is a control-plane node" in finding.cause


def test_malformed_config_is_an_error_without_its_content(tmp_path):
    report, [finding] = config_findings(tmp_path, '{"aadClientSecret": "' + SECRET + '",, }')
    assert finding.cause.startswith(
        "The cloud provider cannot parse azure.json (snapshot files/azure.json): invalid JSON"
    )
    assert_never_rendered(report, SECRET)


def test_missing_cloud_config_is_skipped_with_the_reason(tmp_path):
    report, _ = config_findings(tmp_path, None)
    assert outcome(report, CONFIG) == (
        "skipped",
        "not in snapshot: files/azure.json or Secret kube-system/azure-cloud-provider",
    )


def test_secret_in_the_snapshot_and_every_format_redacted(tmp_path):
    text = json.dumps({**SP_CONFIG, "aadClientCertPassword": SECRET[::-1], "vmType": "standard"})
    secret = obj(
        "Secret", "azure-cloud-provider", "kube-system", data={"cloud-config": base64.b64encode(text.encode()).decode()}
    )
    snap = snapshot(tmp_path, client_id=APP, objects=[secret], graph=graph(app(["2026-01-01T00:00:00Z"])))
    report = run_snapshot(snap, include=["identity.*"])
    [config] = findings(report, CONFIG)
    assert config.resource == "Secret kube-system/azure-cloud-provider"
    assert config.fix.commands[0] == (
        "kubectl -n kube-system get secret azure-cloud-provider -o 'jsonpath={.data.cloud-config}' "
        "| base64 -d > azure.json"
    )
    assert config.fix.commands[-1] == "kubectl -n kube-system rollout restart deployment cloud-controller-manager"
    assert {f.id for f in report.findings} == {EXPIRED, SP, CONFIG}
    assert_never_rendered(report, SECRET, SECRET[::-1], base64.b64encode(text.encode()).decode()[:40])


# ---- --cloud-config through the CLI -------------------------------------------------------------------------


def test_cloud_config_flag_overrides_the_snapshot(tmp_path, capsys):
    snap = snapshot(tmp_path / "snap", config=MI_CONFIG)
    path = tmp_path / "azure.json"
    path.write_text(json.dumps({**MI_CONFIG, "aadClientSecret": SECRET}))
    code = main(["cluster", "--snapshot", str(snap), "--cloud-config", str(path), "--check", CONFIG, "-o", "json"])
    doc = json.loads(capsys.readouterr().out)
    [finding] = doc["findings"]
    assert finding["resource"] == f"azure.json {path} (--cloud-config)"
    assert "aadClientSecret: <set, 40 characters>" in [e["detail"] for e in finding["evidence"]]
    assert code == 0  # a warning, below the default --fail-on error
    assert SECRET not in json.dumps(doc)


def test_cloud_config_flag_with_a_missing_file_is_bad_input(tmp_path, capsys):
    snap = snapshot(tmp_path / "snap")
    code = main(["cluster", "--snapshot", str(snap), "--cloud-config", str(tmp_path / "nope.json")])
    assert code == 2
    assert capsys.readouterr().err == f"error: --cloud-config: file not found: {tmp_path / 'nope.json'}\n"
