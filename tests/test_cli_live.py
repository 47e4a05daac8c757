"""`kubectl-aksdoctor lb` against KubeFake: exit codes, JSON on stdout, and one `error:` line on stderr, never a
traceback.

Two cases run as a user runs them, in a subprocess (started together in one module fixture: each spends most of
its time importing the client); the others call the same `main()` in-process.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass

import pytest
from builders import endpoint_slice, node, obj, pod, service
from kubefake import KubeFake

from kubectl_aksdoctor.cli import main

TOKEN = "s3cret-token"
WEB = service("web", "shop")
OBJECTS = [
    *(obj("Namespace", ns, None) for ns in ("default", "kube-system", "shop")),
    node("aks-nodepool1-12345678-vmss000000"),
    WEB,
    pod("web-1", "shop", labels={"app": "web"}),
    endpoint_slice(WEB),
    service("broken", "shop", selector={"app": "gone"}, ingress_ip="20.50.10.5"),
    service("db", "shop", svc_type="ClusterIP", ingress_ip=None),
]
FAILING_EXEC_PLUGIN = "import sys\nsys.exit('AADSTS70043: The refresh token has expired')\n"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        return json.loads(self.stdout)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(path, doc: dict) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _kubeconfig(path, server: str, user: dict, namespace: str | None = None) -> str:
    context = {"cluster": "aks", "user": "me", **({"namespace": namespace} if namespace else {})}
    return _write(
        path,
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "aks", "cluster": {"server": server}}],
            "users": [{"name": "me", "user": user}],
            "contexts": [{"name": "prod-aks", "context": context}],
            "current-context": "prod-aks",
        },
    )


@pytest.fixture(scope="module", autouse=True)
def _isolated_env(loopback_only, tmp_path_factory):
    """Loopback only, and never the user's kubeconfig."""
    loopback_only.setenv("KUBECONFIG", str(tmp_path_factory.mktemp("home") / "no-kubeconfig"))
    loopback_only.setenv("NO_COLOR", "1")


@pytest.fixture(scope="module")
def kubeconfigs(tmp_path_factory) -> dict[str, str]:
    """Kubeconfigs for one fake (which lives as long as the module): good, wrong token, dead server, ..."""
    tmp = tmp_path_factory.mktemp("cli")
    plugin = tmp / "kubelogin.py"
    plugin.write_text(FAILING_EXEC_PLUGIN)
    exec_user = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable, "args": [str(plugin)]}
    }
    with KubeFake(OBJECTS, require_token=TOKEN) as fake:
        yield {
            "good": _kubeconfig(tmp / "good", fake.url, {"token": TOKEN}),
            "namespaced": _kubeconfig(tmp / "namespaced", fake.url, {"token": TOKEN}, namespace="shop"),
            "wrong-token": _kubeconfig(tmp / "wrong", fake.url, {"token": "expired"}),
            "dead-server": _kubeconfig(tmp / "dead", f"http://127.0.0.1:{_closed_port()}", {"token": TOKEN}),
            "exec-fails": _kubeconfig(tmp / "exec", fake.url, exec_user),
        }


def _argv(kubeconfigs: dict[str, str], kubeconfig: str, *args: str) -> list[str]:
    return ["lb", *args, "--kubeconfig", kubeconfigs[kubeconfig], "--no-azure", "-o", "json"]


ONE_CHECK = ("--check", "lb.no-endpoints")
SUBPROCESS_CASES = {  # stdout and exit 1; stderr and exit 3. Each costs ~2 s of CPU, mostly importing the client
    "broken": ("good", "broken", "-n", "shop", *ONE_CHECK),
    "exec-plugin-fails": ("exec-fails", "web"),
}


@pytest.fixture(scope="module")
def runs(kubeconfigs) -> dict[str, Result]:
    """`python -m kubectl_aksdoctor lb ...` for every SUBPROCESS_CASES entry, all started before any is awaited."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "kubectl_aksdoctor", *_argv(kubeconfigs, *case)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for name, case in SUBPROCESS_CASES.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        results[name] = Result(proc.returncode, out, err)
    return results


@pytest.fixture
def run_main(kubeconfigs, capsys):
    """The same front-end in-process: `main(argv)` with captured stdout/stderr."""

    def run(kubeconfig: str, *args: str) -> Result:
        code = main(_argv(kubeconfigs, kubeconfig, *args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def _error_line(result: Result) -> str:
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert result.stdout == ""
    return line


# ---- exit 0 and 1: findings against --fail-on --------------------------------------------------------------


def test_healthy_service_exits_0(run_main):
    result = run_main("good", "web", "-n", "shop", *ONE_CHECK)
    assert (result.code, result.stderr) == (0, "")
    report = result.report
    assert report["target"] == {"scope": "service", "cluster": "aks", "namespace": "shop", "name": "web"}
    assert report["findings"] == []
    assert report["checks"] == [{"id": "lb.no-endpoints", "status": "passed"}]


def test_findings_at_or_above_fail_on_exit_1(runs):
    result = runs["broken"]
    assert (result.code, result.stderr) == (1, "")
    [finding] = result.report["findings"]
    assert (finding["id"], finding["severity"], finding["resource"]) == (
        "lb.no-endpoints",
        "error",
        "Service shop/broken",
    )
    assert "app=gone matches no pod in namespace shop" in finding["cause"]


@pytest.mark.parametrize(
    "args",
    [
        ("shop/broken", *ONE_CHECK, "--fail-on", "critical"),
        ("svc/broken", "-n", "shop", *ONE_CHECK, "--fail-on", "none"),
    ],
)
def test_findings_below_fail_on_exit_0(run_main, args):
    result = run_main("good", *args)
    assert result.code == 0
    assert [f["id"] for f in result.report["findings"]] == ["lb.no-endpoints"]


def test_exit_code_follows_findings_with_every_check(run_main):
    result = run_main("good", "web", "-n", "shop")
    failing = {f["severity"] for f in result.report["findings"]} & {"error", "critical"}
    assert (result.code, result.stderr) == (1 if failing else 0, "")


def test_namespace_defaults_to_the_contexts(run_main):
    result = run_main("namespaced", "web", *ONE_CHECK)
    assert result.code == 0
    assert result.report["target"]["namespace"] == "shop"


# ---- exit 2 and 3: one line on stderr -----------------------------------------------------------------------

CLUSTER_IP = (
    "error: Service shop/db is of type ClusterIP, not LoadBalancer; aksdoctor lb diagnoses LoadBalancer Services"
)


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("exec-plugin-fails", 3, "error: cannot get credentials for context 'prod-aks': exec: process returned 1. "),
    ],
)
def test_errors_as_a_user_sees_them(runs, case, code, message):
    result = runs[case]
    assert result.code == code, result.stderr
    assert _error_line(result).startswith(message)


@pytest.mark.parametrize(
    ("kubeconfig", "args", "code", "message"),
    [
        ("good", ("nope", "-n", "shop"), 2, "error: Service shop/nope not found"),
        ("good", ("web", "-n", "nowhere"), 2, "error: namespace 'nowhere' not found"),
        ("good", ("db", "-n", "shop"), 2, CLUSTER_IP),
        ("wrong-token", ("web", "-n", "shop"), 3, "error: the API server at http://127.0.0.1:"),
        ("dead-server", ("web", "-n", "shop"), 3, "error: cannot reach the API server at http://127.0.0.1:"),
    ],
)
def test_errors_in_process(run_main, kubeconfig, args, code, message):
    result = run_main(kubeconfig, *args)
    assert result.code == code, result.stderr
    assert _error_line(result).startswith(message)
