"""The kubectl front-end as users run it: the installed console script, found by the real kubectl on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "broken-cluster"
SCRIPT = Path(sys.executable).parent / "kubectl-aksdoctor"
KUBECTL = shutil.which("kubectl")


def run_plugin(*args: str, path_dir: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    if path_dir:
        full_env["PATH"] = f"{path_dir}{os.pathsep}{full_env['PATH']}"
    return subprocess.run(args, capture_output=True, text=True, env=full_env, timeout=60, check=False)


def cli(*args: str) -> subprocess.CompletedProcess:
    return run_plugin(str(SCRIPT), *args)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    """A PATH folder holding only the plugin, linked the way Krew links it."""
    if not SCRIPT.exists():
        pytest.fail(f"console script not installed next to the interpreter: {SCRIPT}")
    folder = tmp_path_factory.mktemp("bin")
    (folder / "kubectl-aksdoctor").symlink_to(SCRIPT)
    return folder


needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@needs_kubectl
def test_kubectl_discovers_the_plugin(plugin_dir):
    listing = run_plugin(KUBECTL, "plugin", "list", path_dir=plugin_dir)
    assert str(plugin_dir / "kubectl-aksdoctor") in listing.stdout


@needs_kubectl
def test_help_through_kubectl_names_kubectl_aksdoctor(plugin_dir):
    result = run_plugin(KUBECTL, "aksdoctor", "lb", "--help", path_dir=plugin_dir)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: kubectl aksdoctor lb")
    assert "kubectl aksdoctor lb web -n shop" in result.stdout


@needs_kubectl
def test_cluster_on_the_example_through_kubectl(plugin_dir):
    result = run_plugin(KUBECTL, "aksdoctor", "cluster", "--snapshot", str(EXAMPLE), "-o", "json", path_dir=plugin_dir)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["schemaVersion"] == 1
    assert report["target"] == {"scope": "cluster", "cluster": "prod-aks"}
    ids = {f["id"] for f in report["findings"]}
    assert {"lb.annotation-invalid", "lb.target-port-mismatch"} <= ids


@needs_kubectl
def test_lb_flags_after_the_service_name(plugin_dir):
    """kubectl passes everything through: -n after the positional must work."""
    result = run_plugin(
        KUBECTL,
        "aksdoctor",
        "lb",
        "checkout",
        "-n",
        "payments",
        "--snapshot",
        str(EXAMPLE),
        "-o",
        "json",
        path_dir=plugin_dir,
    )
    report = json.loads(result.stdout)
    assert report["target"] == {"scope": "service", "cluster": "prod-aks", "namespace": "payments", "name": "checkout"}
    resources = {f["resource"] for f in report["findings"]}
    assert "Service payments/checkout" in resources
    assert all(r == "Service payments/checkout" or r.startswith("Node") for r in resources)


def test_module_invocation_uses_script_name():
    result = run_plugin(sys.executable, "-m", "kubectl_aksdoctor", "--help")
    assert result.stdout.startswith("usage: kubectl-aksdoctor")


def test_version_names_the_version_and_libraries():
    result = cli("version", "-o", "json")
    info = json.loads(result.stdout)
    assert info["version"]
    assert "kubernetes" in info["libraries"]


def test_checks_lists_the_catalog():
    result = cli("checks", "-o", "json")
    ids = [row["id"] for row in json.loads(result.stdout)]
    assert ids == sorted(ids)
    assert "lb.no-endpoints" in ids


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cluster", "-o", "xml"], "error: unknown output format 'xml'"),
        (["cluster", "--check", "lb.nope"], "error: unknown check id 'lb.nope'"),
        (["cluster", "--fail-on", "fatal"], "error: --fail-on: unknown severity 'fatal'"),
        (["cluster", "--snapshot", "/nonexistent/snap"], "error: snapshot not found: /nonexistent/snap"),
        (["lb", "nope", "-n", "shop"], "error: Service shop/nope not found"),
        (["lb", "web", "-n", "no-such-ns"], "error: namespace 'no-such-ns' not found"),
        (["lb", "a/b/c"], "error: invalid Service 'a/b/c'"),
        (["lb", "shop/storefront", "-n", "web"], "error: Service 'shop/storefront' names namespace 'shop'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    needs_snapshot = "--snapshot" not in args and args[0] in ("lb", "cluster")
    result = cli(*args, *(["--snapshot", str(EXAMPLE)] if needs_snapshot else []))
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_not_a_load_balancer_service(tmp_path):
    from builders import service, write_snapshot

    snap = write_snapshot(tmp_path, [service("cache", svc_type="ClusterIP", ingress_ip=None)])
    result = cli("lb", "cache", "--snapshot", str(snap))
    assert result.returncode == 2
    assert result.stderr == (
        "error: Service default/cache is of type ClusterIP, not LoadBalancer; "
        "aksdoctor lb diagnoses LoadBalancer Services\n"
    )


def test_fail_on_decides_the_exit_code():
    assert cli("cluster", "--snapshot", str(EXAMPLE), "-o", "json").returncode == 1
    assert cli("cluster", "--snapshot", str(EXAMPLE), "-o", "json", "--fail-on", "critical").returncode in (0, 1)
    assert cli("cluster", "--snapshot", str(EXAMPLE), "-o", "json", "--fail-on", "none").returncode == 0


def test_malformed_snapshot_file_is_reported_and_the_rest_analysed(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(EXAMPLE, snap)
    (snap / "kubernetes" / "broken.yaml").write_text("apiVersion: v1\nkind: List\nitems: [\n")
    result = cli("cluster", "--snapshot", str(snap), "-o", "json")
    report = json.loads(result.stdout)
    assert any(n.startswith("malformed snapshot file kubernetes/broken.yaml: invalid YAML") for n in report["notes"])
    assert report["findings"]


def test_tarball_snapshot_gives_the_same_report(tmp_path):
    archive = tmp_path / "snap.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(EXAMPLE.parent), EXAMPLE.name], check=True)
    from_dir = json.loads(cli("cluster", "--snapshot", str(EXAMPLE), "-o", "json").stdout)
    from_tar = json.loads(cli("cluster", "--snapshot", str(archive), "-o", "json").stdout)
    assert from_tar == from_dir


def test_no_color_on_pipes():
    result = cli("cluster", "--snapshot", str(EXAMPLE))
    assert "\x1b[" not in result.stdout
    assert result.stderr == ""


def test_unrecognised_snapshot_files_are_noted_once(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(EXAMPLE, snap)
    for i in range(7):
        (snap / f"notes-{i}.txt").write_text("not part of a snapshot\n")
    report = json.loads(cli("cluster", "--snapshot", str(snap), "-o", "json").stdout)
    [note] = [n for n in report["notes"] if n.startswith("ignored")]
    assert note.startswith("ignored 7 unrecognised snapshot file(s): notes-0.txt, ")
    assert note.endswith(" and 2 more")
