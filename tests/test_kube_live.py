"""KubeLiveSource through the real `kubernetes` client against KubeFake: what goes on the wire, and how
kubeconfigs, faults and pagination turn into facts, skipped checks and exit codes."""

from __future__ import annotations

import base64
import json
import math
import socket
import sys
import time
from collections import Counter
from datetime import datetime, timezone

import pytest
from builders import container, endpoint_slice, event, node, obj, pod, service
from kubefake import KubeFake

from aksdoctor import engine
from aksdoctor.checks.base import REGISTRY, Check
from aksdoctor.errors import EXIT_UNREACHABLE, BadInputError, FactUnavailable, UnreachableError
from aksdoctor.facts import Facts, known_facts
from aksdoctor.model import Severity, Status, Target
from aksdoctor.sources.kube_live import KubeLiveSource

pytestmark = pytest.mark.usefixtures("loopback_only")  # the client talks to a fake on loopback

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
SELECTOR = {"app": "web", "tier": "frontend"}
CCM = "cloud-controller-manager-7d9f8c6b5-x2k4q"
WEB = service("web", "shop", selector=SELECTOR)
MI_CLOUD_CONFIG = base64.b64encode(b'{"useManagedIdentityExtension": true, "aadClientId": "msi"}').decode()
CLOUD_CONFIG_GET = ("GET", "/api/v1/namespaces/kube-system/secrets/azure-cloud-provider", ())
API = service("api", "payments", selector={"app": "api"}, ingress_ip="20.50.10.9")


def _objects() -> list[dict]:
    """A small but realistic cluster: two LoadBalancer Services, pods, slices, events, nodes, kube-system."""
    web_pods = [pod(f"web-{i}", "shop", labels={**SELECTOR, "pod-template-hash": "5c9d"}) for i in (1, 2)]
    return [
        *(obj("Namespace", ns, None) for ns in ("default", "kube-system", "shop", "payments")),
        node("aks-nodepool1-12345678-vmss000000"),
        node("aks-nodepool1-12345678-vmss000001"),
        WEB,
        API,
        service("db", "shop", svc_type="ClusterIP", ingress_ip=None),
        *web_pods,
        pod("web-canary", "shop", labels={"app": "web", "tier": "canary"}),
        pod("db-0", "shop", labels={"app": "db"}),
        pod("api-1", "payments", labels={"app": "api"}),
        endpoint_slice(WEB, [("10.244.0.10", True, "aks-nodepool1-12345678-vmss000000")]),
        endpoint_slice(API, [("10.244.1.7", True, "aks-nodepool1-12345678-vmss000001")]),
        obj("Endpoints", "web", "shop", subsets=[{"addresses": [{"ip": "10.244.0.10"}], "ports": [{"port": 8080}]}]),
        event(WEB, "EnsuringLoadBalancer", "Ensuring load balancer", type="Normal"),
        event(web_pods[0], "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
        event(API, "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer"),
        pod(CCM, "kube-system", labels={"component": "cloud-controller-manager"}, containers=[_c("ccm")]),
        pod("coredns-6f9c8d7b5-abcde", "kube-system", labels={"k8s-app": "kube-dns"}, containers=[_c("coredns")]),
        obj("DaemonSet", "kube-proxy", "kube-system", spec=_template("kube-proxy"), status={"numberReady": 2}),
        obj("Deployment", "coredns", "kube-system", spec=_template("coredns"), status={"readyReplicas": 1}),
        obj("Secret", "azure-cloud-provider", "kube-system", data={"cloud-config": MI_CLOUD_CONFIG}),
    ]


def _c(name: str) -> dict:
    return container(name, ports=(), readiness=False)


def _template(name: str) -> dict:
    labels = {"k8s-app": name}
    return {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {}}}


@pytest.fixture
def fake():
    with KubeFake(_objects()) as kube:
        yield kube


def _source(kube: KubeFake, tmp_path, **kubeconfig) -> KubeLiveSource:
    return KubeLiveSource.from_kubeconfig(config_file=kube.write_kubeconfig(tmp_path / "kubeconfig", **kubeconfig))


def _facts(source, scope: str = "service") -> Facts:
    target = Target("service", "fake", "shop", "web") if scope == "service" else Target("cluster", "fake")
    return Facts(target=target, kube=source, now=NOW)


def _wire(requests) -> Counter:
    """Requests as hashable (method, path, sorted query) tuples, counted."""
    return Counter((r.method, r.path, tuple(sorted(r.query.items()))) for r in requests)


def _list(path: str, **query: str) -> tuple:
    return ("GET", path, tuple(sorted({"limit": "500", **query}.items())))


KUBE_SYSTEM_PODS = _list("/api/v1/namespaces/kube-system/pods")
# What each fact costs on the wire in the `lb` scope for shop/web: one request per fact kind.
LB_WIRE: dict[str, set[tuple]] = {
    "services": {("GET", "/api/v1/namespaces/shop/services/web", ())},
    "pods": {_list("/api/v1/namespaces/shop/pods", labelSelector="app=web,tier=frontend")},
    "endpointslices": {
        _list(
            "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices", labelSelector="kubernetes.io/service-name=web"
        )
    },
    "endpoints": {_list("/api/v1/namespaces/shop/endpoints", fieldSelector="metadata.name=web")},
    "events": {
        _list("/api/v1/namespaces/shop/events", fieldSelector="involvedObject.kind=Service,involvedObject.name=web")
    },
    "nodes": {_list("/api/v1/nodes")},
    "daemonsets": {_list("/apis/apps/v1/daemonsets")},
    "system_pods": {KUBE_SYSTEM_PODS},
    "system_deployments": {_list("/apis/apps/v1/namespaces/kube-system/deployments")},
    "provider_logs": {
        KUBE_SYSTEM_PODS,
        ("GET", f"/api/v1/namespaces/kube-system/pods/{CCM}/log", (("container", "ccm"), ("tailLines", "2000"))),
    },
    "version": {("GET", "/version/", ())},
    "cluster": set(),
    "now": set(),  # given by the caller on live runs
    "cloud_config": {CLOUD_CONFIG_GET},
    "graph_objects": {CLOUD_CONFIG_GET},  # managed identity in the cloud config: no Graph call
}


def _expected_wire(facts_needed) -> Counter:
    # Azure facts make no Kubernetes request (and no Azure source is given here).
    facts_needed = [f for f in facts_needed if not f.startswith("azure_")]
    missing = set(facts_needed) - LB_WIRE.keys()
    assert not missing, f"add the wire requests of new facts {sorted(missing)} to LB_WIRE"
    return Counter(set().union(*(LB_WIRE[f] for f in facts_needed)))


# ---- 1. lb scope: the exact requests ------------------------------------------------------------------------


def test_lb_scope_makes_one_selective_request_per_fact_kind(fake, tmp_path):
    """Every registered check, through the engine: only the facts they declare, each read once, selectively."""
    report = engine.run(_facts(_source(fake, tmp_path)))
    checks = engine.select_checks("service")
    needed = {"services"} | {n for c in checks for n in (*c.needs, *c.optional)}
    assert _wire(fake.requests) == _expected_wire(needed)
    assert {o.id for o in report.checks} == {c.id for c in checks}
    assert ("lb.no-endpoints", Status.PASSED) in {(o.id, o.status) for o in report.checks}


def test_lb_scope_every_fact_at_once(fake, tmp_path):
    """All facts prefetched in parallel: 12 requests for 15 facts, kube-system pods listed once for two of them."""
    facts = _facts(_source(fake, tmp_path))
    facts.prefetch(known_facts())
    assert _wire(fake.requests) == _expected_wire(known_facts())
    assert sum(_wire(fake.requests).values()) == 12
    named_gets = [r.path for r in fake.requests if r.query.get("limit") is None and r.path != "/version/"]
    assert sorted(named_gets) == [
        f"/api/v1/namespaces/kube-system/pods/{CCM}/log",
        "/api/v1/namespaces/kube-system/secrets/azure-cloud-provider",
        "/api/v1/namespaces/shop/services/web",
    ]
    assert [kube_name(p) for p in facts.get("pods")] == ["web-1", "web-2"]  # the canary lacks tier=frontend
    assert [e["reason"] for e in facts.get("events")] == ["EnsuringLoadBalancer"]
    assert facts.get("version") == "v1.30.4"


def kube_name(o: dict) -> str:
    return o["metadata"]["name"]


def test_list_items_get_kind_and_api_version(fake, tmp_path):
    [slice_] = _source(fake, tmp_path).list_endpoint_slices("shop", "web")
    assert (slice_["apiVersion"], slice_["kind"]) == ("discovery.k8s.io/v1", "EndpointSlice")


# ---- 2. cluster scope: one list per kind, all pages ---------------------------------------------------------


def test_cluster_scope_lists_each_kind_once_across_pages(tmp_path):
    with KubeFake(_objects(), page_size_cap=2) as kube:
        facts = _facts(_source(kube, tmp_path), scope="cluster")
        report = engine.run(facts)
        facts.prefetch(known_facts())  # the rest, so every kind is on the wire
        lists: dict[tuple, list] = {}
        for r in kube.requests:
            if "limit" in r.query:
                query = tuple(sorted((k, v) for k, v in r.query.items() if k != "continue"))
                lists.setdefault((r.path, query), []).append(r.query.get("continue"))
        counts = Counter(o["kind"] for o in _objects())
    pages = {path: len(tokens) for (path, _), tokens in lists.items()}
    kinds = {
        "/api/v1/services": counts["Service"],
        "/api/v1/pods": counts["Pod"],
        "/apis/discovery.k8s.io/v1/endpointslices": counts["EndpointSlice"],
        "/api/v1/endpoints": counts["Endpoints"],
        "/api/v1/events": counts["Event"],
        "/api/v1/nodes": counts["Node"],
        "/apis/apps/v1/daemonsets": counts["DaemonSet"],
        "/api/v1/namespaces/kube-system/pods": 2,
        "/apis/apps/v1/namespaces/kube-system/deployments": counts["Deployment"],
    }
    assert pages == {path: math.ceil(n / 2) for path, n in kinds.items()}
    assert pages["/api/v1/pods"] == 4
    assert all(q == (("limit", "500"),) for _, q in lists)  # no selectors: everything, once
    for tokens in lists.values():  # one chain per kind: a first page, then only continue tokens
        assert tokens[0] is None and all(tokens[1:]) and len(set(tokens[1:])) == len(tokens) - 1
    assert len(facts.get("pods")) == counts["Pod"]
    assert sorted(kube_name(s) for s in facts.get("services")) == ["api", "web"]  # LoadBalancer ones only
    assert len(facts.get("events")) == 3
    assert report.target.scope == "cluster"


def test_expired_continue_restarts_the_list_once(tmp_path):
    with KubeFake(_objects(), page_size_cap=1) as kube:
        kube.fail("/api/v1/pods", 410, when=lambda r: "continue" in r.query, times=1)
        pods = _source(kube, tmp_path).list_pods()
        wire = [("continue" in r.query) for r in kube.requests]
    names = [kube_name(p) for p in pods]
    assert len(names) == len(set(names)) == sum(1 for o in _objects() if o["kind"] == "Pod")
    assert wire[:3] == [False, True, False]  # page 1, expired continue, restart from page 1
    assert wire.count(False) == 2


def test_expired_twice_makes_the_fact_unavailable(tmp_path):
    with KubeFake(_objects(), page_size_cap=1) as kube:
        kube.fail("/api/v1/pods", 410, when=lambda r: "continue" in r.query)
        with pytest.raises(FactUnavailable, match=r"^list pods failed: HTTP 410 The provided continue parameter"):
            _source(kube, tmp_path).list_pods()
        assert len(kube.requests) == 4  # first, 410, restart, 410


# ---- 3. kubeconfig handling ---------------------------------------------------------------------------------


def _kubeconfig(path, kube_url: str, contexts: dict[str, dict], current: str | None) -> str:
    """A kubeconfig with one cluster, user and context per entry: {name: {"user": {...}, "namespace": ...}}."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"{n}-cluster", "cluster": {"server": kube_url}} for n in contexts],
        "users": [{"name": f"{n}-user", "user": c["user"]} for n, c in contexts.items()],
        "contexts": [
            {
                "name": n,
                "context": {"cluster": f"{n}-cluster", "user": f"{n}-user", **_ns(c.get("namespace"))},
            }
            for n, c in contexts.items()
        ],
    }
    if current:
        doc["current-context"] = current
    path.write_text(json.dumps(doc))
    return str(path)


def _ns(namespace: str | None) -> dict:
    return {"namespace": namespace} if namespace else {}


def _bearer(kube: KubeFake) -> str | None:
    return kube.requests[-1].header("Authorization")


def test_kubeconfig_flag_and_context_namespace(fake, tmp_path):
    source = _source(fake, tmp_path, context="prod-aks", namespace="shop")
    assert (source.default_namespace, source.cluster_name) == ("shop", "prod-aks")
    assert source.list_nodes()
    assert _bearer(fake) == "Bearer fake-token"


def test_kubeconfig_env_merges_files_first_current_context_wins(fake, tmp_path, monkeypatch):
    first = _kubeconfig(tmp_path / "a.yaml", fake.url, {"dev": {"user": {"token": "dev-token"}}}, "dev")
    second = _kubeconfig(
        tmp_path / "b.yaml", fake.url, {"prod": {"user": {"token": "prod-token"}, "namespace": "shop"}}, "prod"
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing.yaml'}:{second}")
    default = KubeLiveSource.from_kubeconfig()
    assert (default.default_namespace, default.cluster_name) == ("default", "dev-cluster")
    default.list_nodes()
    assert _bearer(fake) == "Bearer dev-token"
    chosen = KubeLiveSource.from_kubeconfig(context="prod")
    assert (chosen.default_namespace, chosen.cluster_name) == ("shop", "prod-cluster")
    chosen.list_nodes()
    assert _bearer(fake) == "Bearer prod-token"


def test_context_flag_works_without_current_context(fake, tmp_path):
    path = _kubeconfig(tmp_path / "kc", fake.url, {"a": {"user": {"token": "t"}}}, None)
    assert KubeLiveSource.from_kubeconfig(config_file=path, context="a").cluster_name == "a-cluster"
    with pytest.raises(BadInputError, match=r"no current-context; pass --context \(available: a\)"):
        KubeLiveSource.from_kubeconfig(config_file=path)


def test_unknown_context_names_the_available_ones(fake, tmp_path):
    path = _kubeconfig(tmp_path / "kc", fake.url, {"b": {"user": {}}, "a": {"user": {}}}, "a")
    with pytest.raises(BadInputError) as err:
        KubeLiveSource.from_kubeconfig(config_file=path, context="prod")
    assert str(err.value) == "context 'prod' not found in kubeconfig (available: a, b)"


def test_missing_kubeconfig_file(tmp_path):
    with pytest.raises(BadInputError, match=r"^kubeconfig not found: .*/nope$"):
        KubeLiveSource.from_kubeconfig(config_file=str(tmp_path / "nope"))


def test_no_kubeconfig_anywhere_and_not_in_a_pod(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(BadInputError, match=r"^no kubeconfig found \(looked at .*/none\)"):
        KubeLiveSource.from_kubeconfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nclusters: [\n  - name: x\n", r"is not valid YAML: .* at line \d+, column \d+$"),
        ("just a string\n", r"^kubeconfig .*/kc is malformed \(TypeError: "),
        ("apiVersion: v1\nkind: Config\n", r"^kubeconfig has no current-context"),
    ],
)
def test_malformed_kubeconfig_is_one_line_bad_input(tmp_path, text, message):
    path = tmp_path / "kc"
    path.write_text(text)
    with pytest.raises(BadInputError, match=message) as err:
        KubeLiveSource.from_kubeconfig(config_file=str(path))
    assert "\n" not in str(err.value)


EXEC_PLUGIN = """
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
if sys.argv[1] == "fail":
    sys.exit("AADSTS70043: The refresh token has expired; run 'kubelogin convert-kubeconfig'")
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": {"token": sys.argv[1]}}))
"""


def _exec_user(script, arg: str) -> dict:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(script), arg],
            "interactiveMode": "Never",
        }
    }


def test_exec_credential_plugin_token_is_sent(tmp_path):
    """kubelogin-style auth: the token the plugin prints is the bearer token the API server sees."""
    script = tmp_path / "kubelogin.py"
    script.write_text(EXEC_PLUGIN)
    with KubeFake(_objects(), require_token="aad-token-123") as kube:
        path = _kubeconfig(tmp_path / "kc", kube.url, {"aad": {"user": _exec_user(script, "aad-token-123")}}, "aad")
        source = KubeLiveSource.from_kubeconfig(config_file=path)
        assert [kube_name(n) for n in source.list_nodes()] == [
            "aks-nodepool1-12345678-vmss000000",
            "aks-nodepool1-12345678-vmss000001",
        ]
        assert _bearer(kube) == "Bearer aad-token-123"


def test_failing_exec_plugin_is_unreachable_with_its_message(tmp_path):
    script = tmp_path / "kubelogin.py"
    script.write_text(EXEC_PLUGIN)
    path = _kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", {"aad": {"user": _exec_user(script, "fail")}}, "aad")
    with pytest.raises(UnreachableError) as err:
        KubeLiveSource.from_kubeconfig(config_file=path)
    assert str(err.value).startswith("cannot get credentials for context 'aad': exec: process returned 1. AADSTS70043")


def test_in_cluster_service_account(tmp_path, monkeypatch):
    """No kubeconfig, inside a pod: the service account token, CA and namespace next to it (paths redirected)."""
    from kubernetes.config import incluster_config

    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (sa / "namespace").write_text("monitoring\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    source = KubeLiveSource.from_kubeconfig()
    cfg = source.api_client.configuration
    assert (source.default_namespace, source.cluster_name) == ("monitoring", "in-cluster")
    # The in-cluster loader insists on https (and re-sets the host before each request), which the plain-HTTP
    # fake cannot serve: assert what the requests would carry instead.
    assert (cfg.host, cfg.ssl_ca_cert, cfg.retries) == ("https://10.0.0.1:443", str(sa / "ca.crt"), 0)
    assert cfg.auth_settings()["BearerToken"]["value"] == "bearer sa-token"


# ---- 4. faults ----------------------------------------------------------------------------------------------


@pytest.fixture
def nodes_probe(monkeypatch):
    """A service check that needs only nodes, so "the other checks still run" holds whatever is registered."""
    probe = Check(
        id="test.nodes-probe",
        title="probe",
        severity=Severity.INFO,
        scope="service",
        needs=("nodes",),
        optional=(),
        docs=(),
        fix_action=None,
        run=lambda ctx: [] if ctx.nodes else None,
        also_in_lb=False,
        description="",
    )
    monkeypatch.setitem(REGISTRY, probe.id, probe)
    return probe


def test_forbidden_pods_skip_only_the_checks_that_need_them(fake, tmp_path, nodes_probe):
    fake.forbid("pods", namespace="shop")
    report = engine.run(_facts(_source(fake, tmp_path)))
    needs = {c.id: c.needs for c in engine.select_checks("service")}
    outcomes = {o.id: o for o in report.checks}
    assert outcomes[nodes_probe.id].status is Status.PASSED
    pod_checks = [cid for cid, n in needs.items() if "pods" in n]
    assert pod_checks
    for cid in pod_checks:
        assert (outcomes[cid].status, outcomes[cid].reason) == (
            Status.SKIPPED,
            "forbidden: list pods in namespace shop",
        )
    for cid in needs.keys() - pod_checks:
        assert "forbidden" not in outcomes[cid].reason


def test_unauthorized_is_unreachable(tmp_path):
    with KubeFake(_objects(), require_token="right") as kube:
        source = _source(kube, tmp_path, token="wrong")
        with pytest.raises(UnreachableError) as err:
            engine.run(_facts(source))
        assert str(err.value) == (
            f"the API server at {kube.url} rejected the credentials (401 Unauthorized); "
            "refresh them (az aks get-credentials, kubelogin) and retry"
        )
    assert err.value.exit_code == EXIT_UNREACHABLE


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_api_server_fails_fast(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    path = _kubeconfig(tmp_path / "kc", url, {"gone": {"user": {"token": "t"}}}, "gone")
    source = KubeLiveSource.from_kubeconfig(config_file=path, timeout=30)
    assert source.api_client.configuration.retries == 0
    assert source.timeout == (5.0, 30.0)  # connect timeout capped, read timeout as asked
    started = time.monotonic()
    with pytest.raises(UnreachableError) as err:
        engine.run(_facts(source))
    assert time.monotonic() - started < 3
    assert str(err.value) == f"cannot reach the API server at {url}: connection refused"


def test_server_error_on_one_list_makes_only_that_fact_unavailable(fake, tmp_path):
    fake.fail("/api/v1/nodes", 500)
    facts = _facts(_source(fake, tmp_path))
    facts.prefetch(known_facts())
    assert facts.reason("nodes") == "list nodes failed: HTTP 500 Internal error occurred: injected by KubeFake"
    kube_facts = [n for n in sorted(known_facts()) if not n.startswith("azure_")]
    assert [n for n in kube_facts if facts.reason(n)] == ["nodes"]


def test_non_json_answer_is_unavailable_not_a_crash(fake, tmp_path):
    fake.fail("/api/v1/nodes", 200, body="<html>corporate proxy login</html>")
    with pytest.raises(FactUnavailable, match=r"^list nodes failed: the answer is not a JSON object"):
        _source(fake, tmp_path).list_nodes()


# ---- 5. controller logs -------------------------------------------------------------------------------------


def test_controller_logs_tail_and_kube_system_listed_once(fake, tmp_path):
    lines = [f"I1127 09:{i // 60:02d}:{i % 60:02d} 1 azure_loadbalancer.go:1 line {i}" for i in range(2500)]
    lines[-1] = "E1127 09:59:59 1 controller.go:298 error processing service shop/web (will retry): boom"
    fake.set_log("kube-system", CCM, "ccm", "\n".join(lines) + "\n")
    facts = _facts(_source(fake, tmp_path))
    facts.prefetch(["system_pods", "provider_logs"])
    [log] = facts.get("provider_logs")
    assert (log.ref, log.namespace, log.pod, log.container) == (f"kube-system/{CCM}/ccm", "kube-system", CCM, "ccm")
    assert log.text.splitlines() == lines[-2000:]
    [line] = facts.log_lines_for(WEB)
    assert (line.number, line.text) == (2000, lines[-1])
    assert _wire(fake.requests) == _expected_wire({"system_pods", "provider_logs"})


def test_controller_logs_forbidden(fake, tmp_path):
    fake.forbid("pods/log", verb="get")
    facts = _facts(_source(fake, tmp_path))
    assert facts.reason("provider_logs") == f"forbidden: read logs of kube-system/{CCM}/ccm"


def test_kube_system_denied_is_read_once_for_both_facts(fake, tmp_path):
    fake.forbid("pods", namespace="kube-system")
    facts = _facts(_source(fake, tmp_path))
    facts.prefetch(["system_pods", "provider_logs"])
    reason = "forbidden: list pods in namespace kube-system"
    assert (facts.reason("system_pods"), facts.reason("provider_logs")) == (reason, reason)
    assert len(fake.requests) == 1
