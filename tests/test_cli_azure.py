"""`kubectl aksdoctor` with its Azure side: where Azure data comes from (snapshot, live ARM, nothing), the reasons
Azure-needing checks are skipped with, the Azure flags, and exit codes (Kubernetes checks always run; exit 3 only
when ARM could not be reached). In-process `main()`; the live source is pointed at a loopback fake or a dead port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass

import pytest
from armfake import DAC_FAILURE, ArmFake, FailingCredential, StaticToken
from azure.core.exceptions import ClientAuthenticationError
from azure_builders import load_balancer, managed_cluster
from builders import NODE_RG, endpoint_slice, node, obj, pod, service, write_snapshot
from kubefake import KubeFake

from aksdoctor.checks import all_checks
from aksdoctor.checks.base import REGISTRY, check
from aksdoctor.sources import azure_live
from aksdoctor.sources.arm_pipeline import NO_CREDENTIALS
from kubectl_aksdoctor import commands
from kubectl_aksdoctor.cli import main

PROBE = "test.azure-probe"
WEB = service("web", "shop")
BROKEN = service("broken", "shop", selector={"app": "gone"}, ingress_ip="20.50.10.5")
OBJECTS = [
    *(obj("Namespace", ns, None) for ns in ("default", "kube-system", "shop")),
    node("aks-nodepool1-12345678-vmss000000"),
    WEB,
    pod("web-1", "shop", labels={"app": "web"}),
    endpoint_slice(WEB),
    BROKEN,
]
CHECKS = ("--check", f"{PROBE},lb.no-endpoints")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        return json.loads(self.stdout)

    def outcome(self, check_id: str) -> dict:
        return next(c for c in self.report["checks"] if c["id"] == check_id)


@pytest.fixture(autouse=True)
def azure_probe():
    """A check that needs Azure facts, so the tests do not depend on which Azure checks exist."""
    all_checks()

    @check(
        id=PROBE,
        title="reads Azure load balancers and the managed cluster",
        severity="error",
        scope="cluster",
        needs=("azure_load_balancers", "azure_managed_clusters"),
        also_in_lb=True,
    )
    def probe(ctx):
        ctx.fact("azure_load_balancers")
        ctx.fact("azure_managed_clusters")
        return []

    yield
    REGISTRY.pop(PROBE)


@pytest.fixture(autouse=True)
def isolated(loopback_only, monkeypatch, tmp_path):
    monkeypatch.delenv("AZURE_CLOUD", raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))  # never the user's az cloud
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


@pytest.fixture
def run(capsys):
    def run(*argv: str) -> Result:
        code = main([*argv, "-o", "json"])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory):
    with KubeFake(OBJECTS) as kube:
        yield kube.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", context="prod-aks")


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{sock.getsockname()[1]}"


# ---- snapshots ----------------------------------------------------------------------------------------------------


def test_no_azure_skips_azure_checks_and_runs_the_rest(run, tmp_path):
    snap = write_snapshot(tmp_path / "snap", OBJECTS, azure={"loadBalancers.json": [load_balancer()]})
    result = run("cluster", "--snapshot", str(snap), "--no-azure", *CHECKS)
    assert result.outcome(PROBE) == {"id": PROBE, "status": "skipped", "reason": "Azure not queried (--no-azure)"}
    assert result.outcome("lb.no-endpoints")["status"] == "failed"
    assert result.code == 1  # from the Kubernetes finding that ran


def test_snapshot_is_also_the_azure_source(run, tmp_path):
    azure = {"loadBalancers.json": [load_balancer()], "managedClusters.json": [managed_cluster()]}
    snap = write_snapshot(tmp_path / "snap", OBJECTS, azure=azure)
    result = run("lb", "shop/web", "--snapshot", str(snap), *CHECKS)
    assert result.outcome(PROBE)["status"] == "passed"
    assert result.code == 0


# ---- live ------------------------------------------------------------------------------------------------------


def test_no_credentials_skips_azure_checks_and_exit_reflects_what_ran(run, kubeconfig, monkeypatch):
    credential = FailingCredential(ClientAuthenticationError(message=DAC_FAILURE))
    monkeypatch.setattr(azure_live, "_default_credential", lambda cloud: credential)
    result = run("lb", "shop/web", "--kubeconfig", kubeconfig, *CHECKS)
    assert result.outcome(PROBE) == {"id": PROBE, "status": "skipped", "reason": NO_CREDENTIALS}
    assert result.outcome("lb.no-endpoints")["status"] == "passed"
    assert (result.code, result.stderr) == (0, "")
    assert credential.scopes == [("https://management.azure.com/.default",)]  # one sign-in attempt per run

    broken = run("lb", "shop/broken", "--kubeconfig", kubeconfig, *CHECKS)
    assert broken.outcome(PROBE)["reason"] == NO_CREDENTIALS
    assert broken.code == 1  # the Kubernetes finding decides


def test_unreachable_arm_prints_the_report_then_exits_3(run, kubeconfig, monkeypatch):
    dead = dead_url()
    monkeypatch.setattr(commands, "_live_azure", lambda cloud: azure_live.AzureLiveSource(StaticToken(), base_url=dead))
    result = run("lb", "shop/web", "--kubeconfig", kubeconfig, *CHECKS)
    reason = result.outcome(PROBE)["reason"]
    assert reason.startswith(f"cannot reach Azure Resource Manager at {dead}: ")
    assert result.outcome("lb.no-endpoints")["status"] == "passed"
    assert result.code == 3
    assert result.stderr == f"error: {reason}\n"


def test_azure_flags_name_the_subscription_and_cluster(run, kubeconfig, monkeypatch):
    other_sub = "11111111-2222-4333-8444-555555555555"
    with ArmFake() as arm:
        node_group = f"/subscriptions/{other_sub}/resourceGroups/{NODE_RG}/providers"
        arm.list(f"{node_group}/Microsoft.Network/loadBalancers", [load_balancer()])
        arm.get(
            f"/subscriptions/{other_sub}/resourceGroups/team-rg/providers/Microsoft.ContainerService/managedClusters/"
            "blue",
            managed_cluster("blue", "team-rg"),
        )
        source = azure_live.AzureLiveSource(StaticToken(), base_url=arm.url, connection_verify=arm.ca_file)
        monkeypatch.setattr(commands, "_live_azure", lambda cloud: source)
        args = ("--subscription", other_sub, "--cluster", "blue", "-g", "team-rg")
        result = run("lb", "shop/web", "--kubeconfig", kubeconfig, *CHECKS, *args)
        assert result.outcome(PROBE)["status"] == "passed", result.stdout
        assert result.code == 0
        assert sorted(arm.lines) == [
            f"GET {node_group}/Microsoft.Network/loadBalancers",
            f"GET /subscriptions/{other_sub}/resourceGroups/team-rg/providers/Microsoft.ContainerService/"
            "managedClusters/blue",
        ]


def test_unknown_cloud_is_a_usage_error(run, kubeconfig):
    result = run("lb", "shop/web", "--kubeconfig", kubeconfig, "--cloud", "AzureStack")
    assert result.code == 2
    assert result.stderr.startswith("error: unknown Azure cloud 'AzureStack' (from --cloud)")


def test_help_and_version_import_no_azure_package():
    script = (
        "import sys, contextlib, io\n"
        "from kubectl_aksdoctor.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['version'])\n"
        "    try:\n"
        "        main(['lb', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
