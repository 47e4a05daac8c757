"""`kubectl aksdoctor selftest` (hidden): run, offline, every code path a frozen build can break.

A PyInstaller binary that starts can still fail on first real use: a module imported by name, a data file or
a distribution's metadata left out of the bundle. This walks each path once with no network: version metadata,
kubeconfig loading and the Kubernetes client (up to a refused connection), the Azure credential chain and the
management clients, every knowledge file, and the engine with every renderer on a snapshot. CI runs it on
every built binary.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from aksdoctor.errors import EXIT_FINDINGS, EXIT_OK

DUMMY_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: selftest
  cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}
users:
- name: selftest
  user: {{token: selftest-token}}
contexts:
- name: selftest
  context: {{cluster: selftest, user: selftest, namespace: selftest-ns}}
current-context: selftest
"""

# A LoadBalancer Service whose only pod is not ready: enough for findings in every renderer.
SNAPSHOT = {
    "snapshot.yaml": """\
capturedAt: '2026-01-01T00:00:00Z'
cluster: {name: selftest, resourceGroup: rg, subscriptionId: 00000000-0000-0000-0000-000000000000,
  nodeResourceGroup: MC_rg_selftest_westeurope, location: westeurope}
kubernetesVersion: v1.31.5
""",
    "kubernetes/services.yaml": """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: default, uid: 5e1f7e57-0000-4000-8000-000000000001}
  spec:
    type: LoadBalancer
    selector: {app: web}
    ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]
  status: {loadBalancer: {}}
""",
    "kubernetes/pods.yaml": """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web-0, namespace: default, labels: {app: web}, uid: 5e1f7e57-0000-4000-8000-000000000002}
  spec:
    nodeName: aks-nodepool1-12345678-vmss000000
    containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
  status:
    phase: Running
    conditions: [{type: Ready, status: 'False'}]
""",
    "kubernetes/nodes.yaml": """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: aks-nodepool1-12345678-vmss000000, labels: {kubernetes.azure.com/agentpool: nodepool1}}
  spec:
    providerID: azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_rg_selftest_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/0
  status:
    conditions: [{type: Ready, status: 'True'}]
    nodeInfo: {kubeletVersion: v1.31.5}
""",
    "kubernetes/endpointslices.yaml": "apiVersion: v1\nkind: List\nitems: []\n",
    "kubernetes/events.yaml": "apiVersion: v1\nkind: List\nitems: []\n",
}


def selftest(args: argparse.Namespace) -> int:
    """Run every step, print one line per step, exit 0 only if all passed."""
    steps: list[tuple[str, Callable[[], str]]] = [
        ("version", _version),
        ("kubeconfig", _kubeconfig),
        ("azure", _azure),
        ("knowledge", _knowledge),
        ("engine", lambda: _engine(args.snapshot)),
    ]
    started = time.perf_counter()
    failed = 0
    for name, step in steps:
        t0 = time.perf_counter()
        try:
            detail = step()
        except Exception as exc:  # report every broken path, not only the first
            failed += 1
            print(f"FAIL  {name:<10}  {type(exc).__name__}: {exc}")
            if args.verbose:
                traceback.print_exc()
            continue
        print(f"ok    {name:<10}  {detail} ({(time.perf_counter() - t0) * 1000:.0f} ms)")
    verdict = f"{failed} of {len(steps)} steps failed" if failed else "selftest passed"
    print(f"{verdict} ({time.perf_counter() - started:.1f} s, frozen={getattr(sys, 'frozen', False)})")
    return EXIT_FINDINGS if failed else EXIT_OK


def _version() -> str:
    from aksdoctor.buildinfo import build_info

    info = build_info()
    missing = [name for name, version in info["libraries"].items() if version == "not installed"]
    if missing:
        raise RuntimeError(f"no distribution metadata for {', '.join(missing)}")
    commit = f" (commit {info['commit']})" if info["commit"] else ""
    return f"aksdoctor {info['version']}{commit}, {len(info['libraries'])} library versions read"


def _kubeconfig() -> str:
    """Load a kubeconfig into the live source (CoreV1Api and friends), then make one call that must be refused."""
    from aksdoctor.errors import UnreachableError
    from aksdoctor.sources.kube_live import KubeLiveSource

    with tempfile.TemporaryDirectory(prefix="aksdoctor-selftest-") as tmp:
        path = Path(tmp) / "kubeconfig"
        path.write_text(KUBECONFIG.format(port=_closed_port()), encoding="utf-8")
        source = KubeLiveSource.from_kubeconfig(config_file=str(path), timeout=2.0)
    if source.default_namespace != "selftest-ns" or source.cluster_name != "selftest":
        raise RuntimeError(f"kubeconfig read wrongly: {source.default_namespace!r}, {source.cluster_name!r}")
    try:
        source.server_version()
    except UnreachableError:
        pass
    else:
        raise RuntimeError("a closed port answered")
    return f"{type(source.core).__name__} for {source.api_client.configuration.host}; closed port -> UnreachableError"


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _azure() -> str:
    """Construct what live Azure reads need; construction makes no request."""
    import certifi
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.network import NetworkManagementClient

    credential = DefaultAzureCredential()
    clients = (
        (NetworkManagementClient(credential, DUMMY_SUBSCRIPTION), "load_balancers"),
        (ComputeManagementClient(credential, DUMMY_SUBSCRIPTION), "virtual_machine_scale_sets"),
        (ContainerServiceClient(credential, DUMMY_SUBSCRIPTION), "managed_clusters"),
    )
    for client, group in clients:
        getattr(client, group)
    if not Path(certifi.where()).is_file():
        raise RuntimeError(f"CA bundle missing: {certifi.where()}")
    names = ", ".join(type(c).__name__ for c, _ in clients)
    return f"{type(credential).__name__}; {names}; CA bundle present"


def _knowledge() -> str:
    from importlib import resources

    from aksdoctor import knowledge

    names = sorted(p.name[:-5] for p in resources.files(knowledge.__name__).iterdir() if p.name.endswith(".yaml"))
    if not names:
        raise RuntimeError("no knowledge files in the package")
    empty = [name for name in names if not knowledge.load(name)]
    if empty:
        raise RuntimeError(f"empty knowledge files: {', '.join(empty)}")
    return f"{len(names)} files: {', '.join(names)}"


def _engine(snapshot: str | None) -> str:
    """All checks on a snapshot (the given one, else the embedded one); every renderer on the report."""
    if snapshot:
        return _run_engine(snapshot, need_findings=False)
    with tempfile.TemporaryDirectory(prefix="aksdoctor-selftest-") as tmp:
        for rel, text in SNAPSHOT.items():
            path = Path(tmp, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return _run_engine(tmp, need_findings=True)


def _run_engine(location: str, *, need_findings: bool) -> str:
    from aksdoctor import engine
    from aksdoctor.checks import all_checks
    from aksdoctor.facts import Facts
    from aksdoctor.model import Target
    from aksdoctor.render import FORMATS, render
    from aksdoctor.sources.snapshot import SnapshotSource

    source = SnapshotSource(location)
    report = engine.run(Facts(target=Target("cluster", source.cluster_meta().name), kube=source))
    ran = {outcome.id for outcome in report.checks}
    missing = sorted(set(all_checks()) - ran)
    crashed = [f"{o.id}: {o.reason}" for o in report.checks if o.reason.startswith("internal error")]
    if missing or crashed:
        raise RuntimeError(f"checks not run: {missing}; crashed: {crashed}")
    if need_findings and not report.findings:
        raise RuntimeError("the embedded snapshot produced no finding")
    for fmt in FORMATS:
        text = render(report, fmt)
        if fmt == "json":
            json.loads(text)
    return f"{len(ran)} checks, {len(report.findings)} findings on {location}; rendered {', '.join(FORMATS)}"
