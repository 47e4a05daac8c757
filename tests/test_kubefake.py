"""KubeFake driven through the real official client, so the fake stays honest about the wire format."""

from __future__ import annotations

import json
import socket

import pytest
from kubefake import KubeFake
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.usefixtures("loopback_only")  # the client talks to a fake on loopback


def _pod(namespace, name, *, labels=None, node="", phase="Running", containers=("app",)):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": c, "image": "img"} for c in containers]},
        "status": {"phase": phase},
    }


def _event(name, kind, target, reason, type_):
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": "default", "name": name},
        "involvedObject": {"kind": kind, "namespace": "default", "name": target},
        "reason": reason,
        "type": type_,
    }


def _workload(kind, namespace, name):
    # The 37.x models reject an apps/v1 object without spec (None is not a valid V1DaemonSetSpec).
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template},
    }


OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "aks-np-0"}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "aks-np-1"}, "spec": {"unschedulable": True}},
    _pod("default", "web-1", labels={"app": "web", "tier": "fe"}, node="aks-np-0"),
    _pod("default", "web-2", labels={"app": "web"}, node="aks-np-1", phase="Pending"),
    _pod("kube-system", "coredns-1", labels={"k8s-app": "kube-dns"}, node="aks-np-0", containers=("coredns", "side")),
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    },
    _event("web.1", "Service", "web", "SyncLoadBalancerFailed", "Warning"),
    _event("web-1.1", "Pod", "web-1", "Scheduled", "Normal"),
    {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"namespace": "default", "name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}],
    },
    _workload("DaemonSet", "kube-system", "kube-proxy"),
    _workload("Deployment", "default", "web"),
]


def _api_client(fake, path, **kubeconfig):
    return config.new_client_from_config(config_file=fake.write_kubeconfig(path / "kubeconfig", **kubeconfig))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """(fake, ApiClient) for tests that only read: a fake per test would cost more than the test."""
    with KubeFake(OBJECTS) as fake, _api_client(fake, tmp_path_factory.mktemp("shared")) as api:
        yield fake, api


@pytest.fixture
def kube():
    """A fresh fake for tests that script failures, denials or logs."""
    with KubeFake(OBJECTS) as fake:
        yield fake


@pytest.fixture
def core(kube, tmp_path):
    with _api_client(kube, tmp_path) as api:
        yield client.CoreV1Api(api)


def _names(items):
    return [i.metadata.name for i in items]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-1", "web-2"]),
        ("app==web,tier=fe", ["web-1"]),
        ("app!=web", ["coredns-1"]),
        ("app in (web, db)", ["web-1", "web-2"]),
        ("app notin (web)", ["coredns-1"]),
        ("tier", ["web-1"]),
        ("!tier", ["web-2", "coredns-1"]),
    ],
)
def test_label_selectors_are_evaluated(shared, selector, expected):
    kube, api = shared
    assert _names(client.CoreV1Api(api).list_pod_for_all_namespaces(label_selector=selector).items) == expected
    assert kube.requests[-1].path == "/api/v1/pods"
    assert kube.requests[-1].query == {"labelSelector": selector}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("spec.nodeName=aks-np-0", ["web-1", "coredns-1"]),
        ("status.phase!=Running", ["web-2"]),
        ("metadata.namespace==kube-system", ["coredns-1"]),
    ],
)
def test_field_selectors_are_evaluated(shared, selector, expected):
    core = client.CoreV1Api(shared[1])
    assert _names(core.list_pod_for_all_namespaces(field_selector=selector).items) == expected


def test_event_field_selector_and_exact_query(shared):
    kube, api = shared
    core = client.CoreV1Api(api)
    selector = "involvedObject.kind=Service,involvedObject.name=web,type=Warning"
    events = core.list_namespaced_event("default", field_selector=selector, limit=50)
    assert [e.reason for e in events.items] == ["SyncLoadBalancerFailed"]
    assert kube.requests[-1].path == "/api/v1/namespaces/default/events"
    assert kube.requests[-1].query == {"fieldSelector": selector, "limit": "50"}


def test_cluster_scoped_bool_field(shared):
    nodes = client.CoreV1Api(shared[1]).list_node(field_selector="spec.unschedulable=false")
    assert _names(nodes.items) == ["aks-np-0"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda api: client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector="spec.foo=x"),
         "field label not supported: spec.foo"),
        (lambda api: client.AppsV1Api(api).list_namespaced_deployment("default", field_selector="status.x=1"),
         '"status.x" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ],
)  # fmt: skip
def test_unsupported_field_label_is_bad_request(shared, call, message):
    with pytest.raises(ApiException) as err:
        call(shared[1])
    assert err.value.status == 400
    assert json.loads(err.value.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "BadRequest",
        "code": 400,
    }


def test_raw_list_matches_api_server_shape(shared):
    resp = client.CoreV1Api(shared[1]).list_namespaced_pod("default", _preload_content=False)
    body = json.loads(resp.data)
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert body["metadata"]["resourceVersion"].isdigit()
    assert "continue" not in body["metadata"]
    item = body["items"][0]
    assert "kind" not in item and "apiVersion" not in item
    assert {"uid", "resourceVersion", "creationTimestamp"} <= item["metadata"].keys()
    paged = json.loads(client.CoreV1Api(shared[1]).list_namespaced_pod("default", limit=1, _preload_content=False).data)
    assert paged["metadata"]["continue"] and paged["metadata"]["remainingItemCount"] == 1


def test_pagination_follows_continue_with_capped_pages(tmp_path):
    with KubeFake(OBJECTS, page_size_cap=1) as fake, _api_client(fake, tmp_path) as api:
        core = client.CoreV1Api(api)
        names, token = [], None
        while True:
            page = core.list_pod_for_all_namespaces(limit=2, _continue=token)
            names += _names(page.items)
            token = page.metadata._continue
            if not token:
                break
            assert page.metadata.remaining_item_count == 3 - len(names)
    assert names == ["web-1", "web-2", "coredns-1"]  # ordered by (namespace, name)
    assert [r.query.get("limit") for r in fake.requests] == ["2"] * 3
    assert [("continue" in r.query) for r in fake.requests] == [False, True, True]


def test_expired_continue_is_410(kube, core):
    kube.fail("/api/v1/pods", 410, when=lambda r: "continue" in r.query)
    first = core.list_pod_for_all_namespaces(limit=1)
    with pytest.raises(ApiException) as err:
        core.list_pod_for_all_namespaces(limit=1, _continue=first.metadata._continue)
    assert err.value.status == 410
    assert json.loads(err.value.body)["reason"] == "Expired"


def test_scripted_failure_fires_limited_times(kube, core):
    kube.fail("/api/v1/nodes", 500, times=1)
    with pytest.raises(ApiException) as err:
        core.list_node()
    assert err.value.status == 500
    assert len(core.list_node().items) == 2


def test_single_get_and_404(shared):
    api = shared[1]
    core = client.CoreV1Api(api)
    svc = core.read_namespaced_service("web", "default")
    assert svc.spec.type == "LoadBalancer" and svc.kind == "Service"
    assert core.read_node("aks-np-1").spec.unschedulable is True
    assert client.DiscoveryV1Api(api).read_namespaced_endpoint_slice("web-abc", "default").address_type == "IPv4"
    with pytest.raises(ApiException) as err:
        core.read_namespace("nope")
    assert err.value.status == 404
    body = json.loads(err.value.body)
    assert (body["reason"], body["message"]) == ("NotFound", 'namespaces "nope" not found')
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(api).read_namespaced_deployment("missing", "default")
    assert json.loads(err.value.body)["message"] == 'deployments.apps "missing" not found'


def test_unserved_resource_is_404(shared):
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(shared[1]).list_namespaced_replica_set("default")
    assert err.value.status == 404


def test_apps_and_discovery_lists(shared):
    kube, api = shared
    apps = client.AppsV1Api(api)
    assert _names(apps.list_daemon_set_for_all_namespaces().items) == ["kube-proxy"]
    assert _names(apps.list_namespaced_deployment("default").items) == ["web"]
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=web"
    )
    assert slices.items[0].endpoints[0].addresses == ["10.244.0.5"]
    assert kube.requests[-1].path == "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


def test_forbidden_messages(kube, core):
    kube.forbid("pods")
    kube.forbid("pods/log", verb="get")
    with pytest.raises(ApiException) as err:
        core.list_pod_for_all_namespaces()
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'pods is forbidden: User "fake-user" cannot list resource "pods" in API group "" at the cluster scope'
    )
    assert core.read_namespaced_pod("web-1", "default").metadata.name == "web-1"  # only list was denied
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("web-1", "default")
    assert json.loads(err.value.body)["message"] == (
        'pods "web-1" is forbidden: User "fake-user" cannot get resource "pods/log" in API group "" '
        'in the namespace "default"'
    )


def test_forbidden_in_one_namespace(kube, core):
    kube.forbid("events", namespace="kube-system")
    assert len(core.list_namespaced_event("default").items) == 2
    with pytest.raises(ApiException) as err:
        core.list_namespaced_event("kube-system")
    assert json.loads(err.value.body)["message"].endswith('in the namespace "kube-system"')
    with pytest.raises(ApiException):  # no cluster-wide grant can exist either
        core.list_event_for_all_namespaces()


def test_logs_honour_tail_lines_and_container(kube, core):
    kube.set_log("default", "web-1", None, 'one\ntwo\n{"level": "error"}\n')
    kube.set_log("kube-system", "coredns-1", "side", "a\nb\n")
    assert core.read_namespaced_pod_log("web-1", "default", tail_lines=2) == 'two\n{"level": "error"}\n'
    assert kube.requests[-1].path == "/api/v1/namespaces/default/pods/web-1/log"
    assert kube.requests[-1].query == {"tailLines": "2"}
    assert core.read_namespaced_pod_log("coredns-1", "kube-system", container="side", tail_lines=1) == "b\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("coredns-1", "kube-system")
    assert err.value.status == 400
    assert "choose one of: [coredns side]" in json.loads(err.value.body)["message"]


def test_version_and_bearer_token(shared):
    kube, api = shared
    info = client.VersionApi(api).get_code()
    assert (info.git_version, info.major, info.minor) == ("v1.30.4", "1", "30")
    assert kube.requests[-1].path == "/version/"
    assert kube.requests[-1].header("authorization") == "Bearer fake-token"


def test_required_token_rejects_wrong_one(tmp_path):
    with KubeFake(require_token="s3cret") as fake:
        with _api_client(fake, tmp_path, token="wrong") as api, pytest.raises(ApiException) as err:
            client.CoreV1Api(api).list_node()
        assert err.value.status == 401
        with _api_client(fake, tmp_path, token="s3cret") as api:
            assert client.CoreV1Api(api).list_node().items == []


def test_stop_closes_the_listener():
    fake = KubeFake().start()
    port = int(fake.url.rsplit(":", 1)[1])
    fake.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
