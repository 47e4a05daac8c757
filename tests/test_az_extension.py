"""`az aks doctor` in-process through azure-cli-core's DummyCli: snapshots, and live runs whose ARM calls are
patched client factories and whose Kubernetes API is KubeFake. Exit codes, JSON, --query, table, help, and every
bad input ending in one az error message, never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import socket
import tempfile
import zipfile
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import az_harness  # first: it prepares azure-cli-core before anything imports it
import pytest
from az_harness import ROOT, SUB, AzResult, FakeManagedClusters, az, az_live, kubeconfig, managed_cluster
from builders import endpoint_slice, node, obj, pod, service
from kubefake import KubeFake

from aksdoctor import __version__

EXAMPLE = str(ROOT / "examples" / "broken-cluster")
SNAPSHOT = ("aks", "doctor", "-n", "x", "-g", "y", "--snapshot", EXAMPLE)
LIVE = ("aks", "doctor", "-n", "prod", "-g", "prod-rg")
CLUSTER_ID = az_harness.cluster_id()
TOKEN = "static-token"
AAD_TOKEN = "entra-id-token"
WEB = service("web", "shop")
OBJECTS = [
    *(obj("Namespace", ns, None) for ns in ("default", "kube-system", "shop")),
    node("aks-nodepool1-12345678-vmss000000"),
    WEB,
    pod("web-1", "shop", labels={"app": "web"}),
    endpoint_slice(WEB),
    service("broken", "shop", selector={"app": "gone"}, ingress_ip="20.50.10.5"),
]


def assert_az_error(result: AzResult, code: int, *texts: str) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert "ERROR: " in result.stderr
    for text in texts:
        assert text in result.stderr


# ---- snapshots ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot_json() -> AzResult:
    return az(*SNAPSHOT, "-o", "json")


def test_snapshot_json_is_the_report_and_fails_on_errors(snapshot_json):
    report = snapshot_json.json()
    assert report["schemaVersion"] == 1
    assert report["tool"] == {"name": "aksdoctor", "version": __version__}
    assert report["target"] == {"scope": "cluster", "cluster": "prod-aks"}  # the snapshot names the cluster
    assert {"lb.annotation-invalid", "version.unsupported"} <= {f["id"] for f in report["findings"]}
    assert all({"id", "severity", "title", "resource", "cause", "evidence"} <= set(f) for f in report["findings"])
    errors = report["summary"]["error"] + report["summary"]["critical"]
    assert errors > 0
    # --fail-on error (the default): the report is printed, then az's error line and exit code 1.
    assert snapshot_json.code == 1
    assert f"ERROR: {errors} finding(s) at or above severity 'error'" in snapshot_json.stderr
    assert "preview" in snapshot_json.stderr
    assert "Traceback" not in snapshot_json.stderr


def test_same_findings_as_the_kubectl_plugin(snapshot_json):
    from kubectl_aksdoctor.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["cluster", "--snapshot", EXAMPLE, "-o", "json"])
    plugin = json.loads(out.getvalue())
    assert code == snapshot_json.code == 1
    assert snapshot_json.json()["findings"] == plugin["findings"]
    assert snapshot_json.json()["checks"] == plugin["checks"]


@pytest.mark.parametrize(("fail_on", "code"), [("none", 0), ("critical", 0), ("warning", 1), ("info", 1)])
def test_fail_on_decides_the_exit_code(snapshot_json, fail_on, code):
    severities = {f["severity"] for f in snapshot_json.json()["findings"]}
    assert "critical" not in severities and "info" in severities  # what the expectations above rely on
    result = az(*SNAPSHOT, "--fail-on", fail_on, "-o", "json")
    assert result.code == code, result.stderr
    assert result.json()["findings"] == snapshot_json.json()["findings"]  # printed whatever the exit code
    assert ("ERROR:" in result.stderr) == bool(code)


def test_query_and_tsv(snapshot_json):
    report = snapshot_json.json()
    result = az(*SNAPSHOT, "--query", "summary", "-o", "json", "--fail-on", "none")
    assert (result.code, result.json()) == (0, report["summary"])
    ids = az(*SNAPSHOT, "--query", "findings[?severity=='error'].id", "-o", "tsv", "--fail-on", "none")
    assert ids.stdout.split() == [f["id"] for f in report["findings"] if f["severity"] == "error"]


def test_table_lists_findings_worst_first(snapshot_json):
    result = az(*SNAPSHOT, "-o", "table")
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Severity", "Check", "Resource", "Title"]
    rows = lines[2:]
    assert len(rows) == len(snapshot_json.json()["findings"])
    assert rows[0].startswith("error") and rows[-1].startswith("info")
    assert any("lb.annotation-invalid" in r and "Service default/orders-api" in r for r in rows)


def test_table_says_when_nothing_was_found():
    result = az(*SNAPSHOT, "--check", "lb.no-endpoints", "-o", "table")
    assert result.code == 0, result.stderr
    assert "no problems found" in result.stdout and "passed" in result.stdout


def test_output_none_keeps_the_exit_code():
    result = az(*SNAPSHOT, "-o", "none")
    assert (result.code, result.stdout) == (1, "")


def test_one_service_and_check_lists():
    result = az(*SNAPSHOT, "--service", "default/orders-api", "--check", "lb.*", "--skip", "lb.pending,lb.throttled")
    report = result.json()
    assert report["target"] == {"scope": "service", "cluster": "prod-aks", "namespace": "default", "name": "orders-api"}
    assert [f["id"] for f in report["findings"]] == ["lb.annotation-invalid"]
    ran = {c["id"] for c in report["checks"]}
    assert ran and all(c.startswith("lb.") for c in ran) and not ran & {"lb.pending", "lb.throttled"}


def test_no_azure_skips_azure_checks():
    report = az(*SNAPSHOT, "--no-azure", "--check", "azure.*", "-o", "json").json()
    assert report["checks"] and all(c["status"] in ("skipped", "not-applicable") for c in report["checks"])
    assert any("--no-azure" in c.get("reason", "") for c in report["checks"])


# ---- help and registration ---------------------------------------------------------------------------------------


def test_help_loads_with_examples_and_every_parameter():
    result = az("aks", "doctor", "-h")
    assert result.code == 0
    for text in ("Diagnose", "Examples", "--service", "--check", "--skip", "--fail-on", "--snapshot", "--admin"):
        assert text in result.stdout
    assert "--no-azure" in result.stdout and "preview" in result.stdout.lower()


def test_command_is_a_new_preview_leaf_under_aks():
    with mock.patch.dict(os.environ, az_harness.ENV):
        cli = az_harness.DummyCli()
        table = cli.commands_loader.load_command_table(["aks", "doctor"])
    command = table["aks doctor"]
    assert command.preview_info is not None
    assert command.command_source.extension_name == "aksdoctor"
    assert not command.command_source.overrides_command
    group = cli.commands_loader.command_group_table.get("aks")
    assert group is None or not getattr(group, "group_kwargs", {}).get("is_preview")


# ---- bad input ---------------------------------------------------------------------------------------------------


def test_unknown_check_id_is_a_usage_error():
    assert_az_error(az(*SNAPSHOT, "--check", "lb.nope"), 2, "unknown check id 'lb.nope'", "lb.no-endpoints")


@pytest.mark.parametrize("value", ["Shop/Web", "a/b/c", "shop/", "web_1"])
def test_malformed_service_is_a_usage_error(value):
    assert_az_error(az(*SNAPSHOT, "--service", value), 2, "NAMESPACE/NAME")


def test_missing_snapshot_is_a_usage_error(tmp_path):
    assert_az_error(az(*LIVE, "--snapshot", str(tmp_path / "nope")), 2, "no such file or directory")


def test_unknown_fail_on_value_is_a_usage_error():
    assert_az_error(az(*SNAPSHOT, "--fail-on", "severe"), 2, "'severe' is not a valid value")


def test_unknown_service_in_snapshot():
    assert_az_error(az(*SNAPSHOT, "--service", "default/nope"), 1, "default/nope not found")


def test_not_logged_in():
    assert_az_error(az(*LIVE), 1, "az login")


def test_real_factories_follow_the_subscription_argument(tmp_path):
    """`--subscription` (what az stores in cli_ctx.data) reaches ARM, the token request and the Azure source."""
    other = "11111111-2222-3333-4444-555555555555"
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    user = {"name": "me@example.com", "type": "user"}
    subscriptions = [
        {"id": sub, "name": name, "state": "Enabled", "user": user, "isDefault": sub == SUB, "tenantId": tenant,
         "environmentName": "AzureCloud", "homeTenantId": tenant, "managedByTenants": []}
        for sub, name in ((SUB, "prod"), (other, "other"))
    ]  # fmt: skip
    (tmp_path / "azureProfile.json").write_text(json.dumps({"subscriptions": subscriptions}))
    credential = SimpleNamespace(get_token=lambda *scopes, **kwargs: None)
    login = mock.patch(
        "azure.cli.core._profile.Profile.get_login_credentials", return_value=(credential, other, tenant)
    )
    raw_token = mock.patch(
        "azure.cli.core._profile.Profile.get_raw_token", return_value=(("Bearer", "t0ken", {}), other, tenant)
    )
    with mock.patch.dict(os.environ, {**az_harness.ENV, "AZURE_CONFIG_DIR": str(tmp_path)}), login as logins:
        from azext_aksdoctor import _client_factory

        cli = az_harness.DummyCli()
        cli.data["subscription_id"] = other
        assert _client_factory.subscription_id(cli) == other
        assert _client_factory.cf_managed_clusters(cli) is not None
        azure = _client_factory.cf_azure_source(cli)
        with raw_token as tokens:
            assert _client_factory.aks_server_token(cli) == "t0ken"
    assert {call.kwargs["subscription_id"] for call in logins.call_args_list} == {other}
    assert tokens.call_args.kwargs == {"resource": _client_factory.AKS_SERVER_APP_ID, "subscription": other}
    assert (azure.subscription_id, azure.cloud.arm) == (other, "https://management.azure.com")


# ---- live: ARM through patched client factories, the Kubernetes API through KubeFake --------------------------------


def arm_error(status: int, code: str, message: str) -> Exception:
    """What the SDK raises for an ARM error response."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    body = json.dumps({"error": {"code": code, "message": message}})
    response = SimpleNamespace(
        status_code=status,
        reason="",
        headers={},
        content_type="application/json",
        request=HttpRequest("GET", f"https://management.azure.com{CLUSTER_ID}"),
        text=lambda encoding=None: body,
        body=lambda: body.encode(),
    )
    return HttpResponseError(response=response, error_format=ARMErrorFormat)


@pytest.fixture(scope="module")
def fake_api():
    with (
        mock.patch.dict(os.environ, {"NO_PROXY": "*"}),  # the client reads proxies from the environment
        KubeFake(OBJECTS, require_token=TOKEN) as plain,
        KubeFake(OBJECTS, require_token=AAD_TOKEN) as aad,
    ):
        yield SimpleNamespace(plain=plain, aad=aad)


def live(clusters: FakeManagedClusters, *args: str, azure=None, token: str = AAD_TOKEN) -> AzResult:
    return az_live(clusters, *LIVE, *args, azure=azure, token=token)


def test_live_cluster_with_user_credentials(fake_api):
    clusters = FakeManagedClusters(kubeconfig_bytes=kubeconfig(fake_api.plain.url, {"token": TOKEN}))
    result = live(clusters, "--no-azure", "-o", "json")
    report = result.json()
    assert report["target"] == {"scope": "cluster", "cluster": "prod"}
    assert ("lb.no-endpoints", "Service shop/broken") in [(f["id"], f["resource"]) for f in report["findings"]]
    assert result.code == 1  # lb.no-endpoints is an error
    assert clusters.calls == [("get", "prod-rg", "prod"), ("user", "prod-rg", "prod")]
    assert clusters.token_calls == 0  # a static token needs no Entra ID token
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in fake_api.plain.requests)


def test_entra_id_cluster_uses_a_token_from_az_instead_of_kubelogin(fake_api):
    kubelogin = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
        }
    }
    mc = managed_cluster(aadProfile={"managed": True, "enableAzureRBAC": True})
    clusters = FakeManagedClusters(mc, kubeconfig(fake_api.aad.url, kubelogin))
    result = live(clusters, "--service", "shop/web", "--no-azure", "-o", "json")
    assert result.code == 0, result.stderr
    assert result.json()["target"]["name"] == "web"
    assert clusters.token_calls == 1
    assert fake_api.aad.requests and all(
        r.header("Authorization") == f"Bearer {AAD_TOKEN}" for r in fake_api.aad.requests
    )


def test_admin_credentials(fake_api):
    clusters = FakeManagedClusters(kubeconfig_bytes=kubeconfig(fake_api.plain.url, {"token": TOKEN}))
    result = live(clusters, "--admin", "--no-azure", "--fail-on", "none", "-o", "json")
    assert result.code == 0, result.stderr
    assert ("admin", "prod-rg", "prod") in clusters.calls


class FakeAzure:
    """An AzureSource that finds nothing and records the scopes it is asked about."""

    def __init__(self, notes=(), unreachable=None):
        self.notes, self.unreachable, self.scopes = list(notes), unreachable, []

    def resources(self, kind, scope):
        self.scopes.append(scope)
        return []

    def graph_objects(self, app_ids):
        return []


def test_azure_facts_come_from_the_azure_source_with_the_cluster_identity(fake_api):
    azure = FakeAzure(notes=["resource group MC_gone not found"])
    clusters = FakeManagedClusters(kubeconfig_bytes=kubeconfig(fake_api.plain.url, {"token": TOKEN}))
    report = live(clusters, "--check", "azure.*", "-o", "json", azure=azure).json()
    assert azure.scopes, "no Azure fact was read"
    scope = azure.scopes[0]
    assert (scope.subscription_id, scope.cluster_name, scope.cluster_resource_group) == (SUB, "prod", "prod-rg")
    assert scope.node_resource_group == "MC_prod-rg_prod_westeurope"
    assert "Azure: resource group MC_gone not found" in report["notes"]


def test_azure_unreachable_prints_the_report_then_fails(fake_api):
    azure = FakeAzure(unreachable="cannot reach Azure Resource Manager: connection refused")
    clusters = FakeManagedClusters(kubeconfig_bytes=kubeconfig(fake_api.plain.url, {"token": TOKEN}))
    result = live(clusters, "--fail-on", "none", "-o", "json", azure=azure)
    assert result.json()["findings"]
    assert_az_error(result, 1, "cannot reach Azure Resource Manager")


def test_kubeconfig_is_never_written(fake_api):
    clusters = FakeManagedClusters(kubeconfig_bytes=kubeconfig(fake_api.plain.url, {"token": TOKEN}))

    def refuse(*args, **kwargs):
        raise AssertionError("a temporary file was created")

    with mock.patch.object(tempfile, "mkstemp", refuse), mock.patch.object(tempfile, "NamedTemporaryFile", refuse):
        result = live(clusters, "--no-azure", "-o", "json")
    assert result.json()["findings"], result.stderr


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/prod' under resource group "
         "'prod-rg' was not found."),
        ("ResourceGroupNotFound", "Resource group 'prod-rg' could not be found."),
    ],
)  # fmt: skip
def test_unknown_cluster_or_resource_group(code, message):
    result = live(FakeManagedClusters(get_error=arm_error(404, code, message)))
    assert_az_error(result, 3, f"({code}) {message}")


def test_no_permission_to_list_credentials_names_the_role():
    denied = arm_error(
        403,
        "AuthorizationFailed",
        "The client 'me@example.com' does not have authorization to perform action "
        "'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action'",
    )
    result = live(FakeManagedClusters(credentials_error=denied))
    assert_az_error(result, 1, "AuthorizationFailed", "Azure Kubernetes Service Cluster User Role", CLUSTER_ID)


def test_admin_on_a_cluster_without_local_accounts():
    clusters = FakeManagedClusters(managed_cluster(disableLocalAccounts=True))
    assert_az_error(live(clusters, "--admin"), 1, "local accounts disabled", "without --admin")
    assert clusters.calls == [("get", "prod-rg", "prod")]


def test_stopped_cluster():
    clusters = FakeManagedClusters(managed_cluster(powerState={"code": "Stopped"}))
    assert_az_error(live(clusters), 1, "is stopped", "az aks start -g prod-rg -n prod")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_private_cluster_points_to_command_invoke():
    mc = managed_cluster(apiServerAccessProfile={"enablePrivateCluster": True})
    dead = kubeconfig(f"http://127.0.0.1:{_closed_port()}", {"token": TOKEN})
    result = live(FakeManagedClusters(mc, dead), "--no-azure")
    assert_az_error(result, 1, "cannot reach the API server", "private cluster", "az aks command invoke")


def test_unreachable_cluster_with_authorized_ip_ranges():
    mc = managed_cluster(apiServerAccessProfile={"authorizedIPRanges": ["203.0.113.0/24"]})
    dead = kubeconfig(f"http://127.0.0.1:{_closed_port()}", {"token": TOKEN})
    result = live(FakeManagedClusters(mc, dead), "--no-azure")
    assert_az_error(result, 1, "cannot reach the API server", "203.0.113.0/24")


def test_rejected_credentials():
    with KubeFake(OBJECTS, require_token="another-token") as fake:
        result = live(FakeManagedClusters(kubeconfig_bytes=kubeconfig(fake.url, {"token": TOKEN})), "--no-azure")
    assert_az_error(result, 1, "401", "az account show")


# ---- the in-memory kubeconfig ------------------------------------------------------------------------------------


def test_certificates_live_only_while_the_client_is_used():
    from azext_aksdoctor import _kubeconfig

    cluster = {"server": "https://prod.hcp.westeurope.azmk8s.io:443", "certificate-authority-data": "Q0E="}
    user = {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}
    doc = {
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
        "current-context": "x",
    }
    access = _kubeconfig.parse_kubeconfig(json.dumps(doc).encode())
    assert (access.namespace, access.exec_plugin, access.client_key) == ("shop", False, b"KEY")
    with _kubeconfig.api_client(access) as api:
        cfg = api.configuration
        paths = (cfg.ssl_ca_cert, cfg.cert_file, cfg.key_file)
        assert [Path(p).read_bytes() for p in paths] == [b"CA", b"CERT", b"KEY"]
        assert cfg.host == cluster["server"] and cfg.verify_ssl
    assert not any(Path(p).exists() for p in paths)


def test_client_certificate_authenticates_over_tls():
    """The CA and client certificate from memory are what Python's ssl really uses: the server demands the client
    certificate, and the client verifies the server against the kubeconfig's CA."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme
    from kubernetes import client

    from azext_aksdoctor import _kubeconfig

    ca = trustme.CA()
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.connection.getpeercert())
            body = json.dumps({"major": "1", "minor": "30", "gitVersion": "v1.30.4"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    user = ca.issue_cert("clusterUser")
    access = _kubeconfig.ClusterAccess(
        server=f"https://127.0.0.1:{server.server_address[1]}",
        ca_data=ca.cert_pem.bytes(),
        client_cert=b"".join(pem.bytes() for pem in user.cert_chain_pems),
        client_key=user.private_key_pem.bytes(),
    )
    try:
        with mock.patch.dict(os.environ, {"NO_PROXY": "*"}), _kubeconfig.api_client(access) as api:
            version = json.loads(client.VersionApi(api).get_code(_preload_content=False).data)
    finally:
        server.shutdown()
        server.server_close()
    assert version["gitVersion"] == "v1.30.4"
    assert seen and seen[0]["subjectAltName"] == (("DNS", "clusteruser"),)  # the client certificate was sent


def test_certificate_files_without_memfd(monkeypatch):
    from azext_aksdoctor import _kubeconfig

    monkeypatch.delattr(os, "memfd_create", raising=False)  # macOS, Windows
    with _kubeconfig.secret_file(b"secret") as path:
        assert Path(path).read_bytes() == b"secret"
        assert os.stat(path).st_mode & 0o077 == 0
        assert os.stat(Path(path).parent).st_mode & 0o077 == 0
    assert not Path(path).parent.exists()


def test_unusable_kubeconfig_from_arm():
    clusters = FakeManagedClusters(kubeconfig_bytes=b"apiVersion: v1\nclusters: []\n")
    assert_az_error(live(clusters), 1, "kubeconfig ARM returned cannot be used")


# ---- the wheel ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the extension wheel from a copy of the sources, as `pip wheel ./az_extension` does."""
    import shutil
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT / "az_extension", tmp / "az_extension", ignore=ignore)
    shutil.copytree(ROOT / "shared" / "aksdoctor", tmp / "shared" / "aksdoctor", ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(tmp / "az_extension"), "-w", str(tmp / "dist")],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return next((tmp / "dist").glob("*.whl"))


def test_wheel_carries_the_core_and_its_knowledge(wheel):
    assert wheel.name == f"aksdoctor-{__version__}-py3-none-any.whl"  # az takes the extension name from it
    names = set(zipfile.ZipFile(wheel).namelist())
    core = ROOT / "shared" / "aksdoctor"
    for path in [*core.rglob("*.py"), *core.glob("knowledge/*.yaml")]:
        if "__pycache__" not in path.parts:
            assert f"aksdoctor/{path.relative_to(core).as_posix()}" in names
    ext = ROOT / "az_extension" / "azext_aksdoctor"
    for path in [*ext.glob("*.py"), ext / "azext_metadata.json"]:
        assert f"azext_aksdoctor/{path.name}" in names


def test_wheel_metadata(wheel):
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(f"aksdoctor-{__version__}.dist-info/METADATA").decode()
    requires = sorted(
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist")
    )
    assert requires == ["azure-mgmt-network>=25", "kubernetes>=30"]
    azext = json.loads(archive.read("azext_aksdoctor/azext_metadata.json"))
    assert azext["azext.isPreview"] is True
    from azure.cli.core import __version__ as core_version
    from packaging.version import Version

    assert Version(azext["azext.minCliCoreVersion"]) <= Version(core_version)  # else az would not load it here
