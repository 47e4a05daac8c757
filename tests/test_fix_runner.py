"""The fix framework: step outcomes and dependencies, writers per API, output formats, exit codes, unreachable
clusters, and the Kubernetes writer and KubeFake's write verbs through the real client."""

import json
import socket
from pathlib import Path

import pytest
import yaml
from builders import node
from fixkit import fix, kubeconfig, run_cli
from kubefake import KubeFake
from kubernetes import client

from aksdoctor.errors import UnreachableError
from aksdoctor.fixes.base import ARM, KUBERNETES, Action, Identity, Plan, Request, Step, StepStatus, WriteError, Writers
from aksdoctor.sources import kube_writer
from aksdoctor.sources.kube_live import KubeLiveSource
from aksdoctor.sources.kube_writer import KubeWriter
from kubectl_aksdoctor.fix_commands import parse_duration

VK1, VK2 = "virtual-node-aci-linux", "virtual-node-aci-linux-2"


def virtual(name):
    made = node(name, provider_id=None, labels={"type": "virtual-kubelet"})
    del made["metadata"]["labels"]["kubernetes.azure.com/agentpool"]
    return made


def objects():
    return [node(), virtual(VK1), virtual(VK2)]


class RecordingWriter:
    """A writer that refuses the paths it is told to, and records what it was asked to send."""

    def __init__(self, refuse=(), unreachable=()):
        self.sent: list[str] = []
        self.refuse, self.unreachable = set(refuse), set(unreachable)

    def execute(self, request):
        self.sent.append(request.line)
        if request.path in self.unreachable:
            raise UnreachableError("cannot reach the API server at https://x: connection refused")
        if request.path in self.refuse:
            raise WriteError(f"HTTP 403: {request.path} is forbidden", 403)
        return {}

    def identities(self, *, probe):
        return [Identity(KUBERNETES, "tester", "test")]


def _plan(*paths, depends=None):
    steps = tuple(
        Step(
            f"change {p}",
            p,
            Request(KUBERNETES, "PATCH", p, {}),
            f"kubectl patch {p}",
            depends_on=(depends or {}).get(p, ()),
        )
        for p in paths
    )
    return Plan("test", "test", steps)


def test_a_refused_step_fails_alone_and_its_dependants_are_not_attempted():
    writer = RecordingWriter(refuse={"/b"})
    result = Action().apply(_plan("/a", "/b", "/c", "/d", depends={"/c": (1,)}), writer)
    assert [(o.target, o.status, o.detail) for o in result.outcomes] == [
        ("/a", StepStatus.DONE, ""),
        ("/b", StepStatus.FAILED, "HTTP 403: /b is forbidden"),
        ("/c", StepStatus.NOT_ATTEMPTED, "step 2 was not done"),
        ("/d", StepStatus.DONE, ""),
    ]
    assert writer.sent == ["PATCH /a", "PATCH /b", "PATCH /d"]
    assert result.status == "partial"


def test_nothing_more_is_attempted_once_the_api_is_unreachable():
    writer = RecordingWriter(unreachable={"/b"})
    result = Action().apply(_plan("/a", "/b", "/c"), writer)
    assert [o.status for o in result.outcomes] == [StepStatus.DONE, StepStatus.FAILED, StepStatus.NOT_ATTEMPTED]
    assert result.unreachable.startswith("cannot reach the API server")
    assert writer.sent == ["PATCH /a", "PATCH /b"]


def test_writers_send_each_request_to_its_api():
    kube = RecordingWriter()
    writers = Writers({KUBERNETES: kube})
    writers.execute(Request(KUBERNETES, "DELETE", "/api/v1/namespaces/x/pods/y"))
    with pytest.raises(WriteError, match="no arm credentials"):
        writers.execute(Request(ARM, "DELETE", "/subscriptions/s/resourceGroups/rg/providers/x"))
    assert kube.sent == ["DELETE /api/v1/namespaces/x/pods/y"]
    assert writers.identities(probe=False) == [Identity(KUBERNETES, "tester", "test")]


def test_request_line_and_document():
    request = Request(ARM, "DELETE", "/subscriptions/s/x", query=(("api-version", "2024-05-01"),))
    assert request.line == "DELETE /subscriptions/s/x?api-version=2024-05-01"
    assert request.to_dict() == {
        "api": "arm",
        "method": "DELETE",
        "path": "/subscriptions/s/x",
        "query": {"api-version": "2024-05-01"},
    }


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("2m", 120), ("1.5h", 5400), (" 0 ", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_and_output_format_are_usage_errors(tmp_path):
    bad = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "--timeout", "soon")
    assert (bad.code, bad.stderr.strip()) == (2, "error: --timeout: 'soon' is not a duration (e.g. 90s, 5m)")
    sarif = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "-o", "sarif")
    assert sarif.code == 2
    assert "expected one of: table, json, yaml, markdown" in sarif.stderr


def test_yaml_and_markdown_outputs(tmp_path):
    with KubeFake(objects()) as fake:
        as_yaml = fix(fake, tmp_path, "exclude-virtual-nodes", "-o", "yaml")
        as_json = fix(fake, tmp_path, "exclude-virtual-nodes")
        as_markdown = fix(fake, tmp_path, "exclude-virtual-nodes", "-o", "markdown")
    doc = yaml.safe_load(as_yaml.stdout)
    assert doc["plan"] == as_json.doc["plan"]
    assert doc["schemaVersion"] == 1 and doc["tool"]["name"] == "aksdoctor"
    md = as_markdown.stdout
    assert md.startswith("## aksdoctor fix exclude-virtual-nodes (live, fake)")
    assert "### Steps" in md and "### Blast radius" in md and "### Audit" in md
    assert f"$ kubectl label node {VK1} node.kubernetes.io/exclude-from-external-load-balancers=true" in md


def test_unreachable_cluster_before_any_write_exits_3(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with KubeFake(objects()) as fake:
        path = kubeconfig(fake, tmp_path)
    config = json.loads(Path(path).read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    (tmp_path / "dead").write_text(json.dumps(config))
    result = run_cli(tmp_path, "fix", "exclude-virtual-nodes", "--yes", "--kubeconfig", str(tmp_path / "dead"))
    assert result.code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot reach the API server at http://127.0.0.1:")


def test_credentials_rejected_mid_apply_reports_what_was_done_and_exits_3(tmp_path):
    with KubeFake(objects()) as fake:
        fake.fail(f"/api/v1/nodes/{VK2}", 401, when=lambda r: r.method == "PATCH")
        result = fix(fake, tmp_path, "exclude-virtual-nodes", "--yes")
    assert result.code == 3
    doc = result.doc
    assert doc["outcome"] == "unreachable"
    assert [s["status"] for s in doc["result"]["steps"]] == ["done", "failed"]
    assert doc["result"]["unreachable"].startswith("the API server at http://127.0.0.1:")
    assert doc["verification"]["reason"].startswith("not re-checked: the API server")
    assert doc["audit"]["outcome"] == "unreachable"


# ---- the Kubernetes writer and KubeFake's write verbs ---------------------------------------------------------


@pytest.fixture
def live(tmp_path):
    with KubeFake(objects()) as fake:
        source = KubeLiveSource.from_kubeconfig(config_file=kubeconfig(fake, tmp_path))
        yield fake, KubeWriter(source.api_client, kubeconfig_user="clusterUser_rg_aks"), source.api_client


def test_writer_identity(live):
    fake, writer, _ = live
    assert writer.identities(probe=False) == [Identity(KUBERNETES, "clusterUser_rg_aks", "kubeconfig user entry")]
    assert fake.requests == []
    [me] = writer.identities(probe=True)
    assert (me.user, me.via, me.groups) == ("fake-user", "SelfSubjectReview", ("system:authenticated",))


def test_merge_patch_null_removes_a_label(live):
    fake, writer, _ = live
    writer.execute(kube_writer.label_node(VK1, {"a": "1", "b": "2"}))
    writer.execute(kube_writer.label_node(VK1, {"a": None}))
    labels = fake.stored("Node", VK1)["metadata"]["labels"]
    assert "a" not in labels and labels["b"] == "2"
    assert fake.requests[-1].json() == {"metadata": {"labels": {"a": None}}}


def test_writer_refusals_carry_the_server_message(live):
    _, writer, _ = live
    with pytest.raises(WriteError) as err:
        writer.execute(kube_writer.patch_daemonset("kube-system", "kured", [{"op": "remove", "path": "/x"}]))
    assert (err.value.status, err.value.message) == (404, 'HTTP 404: daemonsets.apps "kured" not found')
    with pytest.raises(WriteError, match="not a Kubernetes request"):
        writer.execute(Request(ARM, "DELETE", "/subscriptions/x"))


def test_fake_merge_patch_resource_version_precondition(live):
    fake, _, api = live
    core = client.CoreV1Api(api)
    stale = {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}}
    with pytest.raises(client.ApiException) as err:
        core.patch_node(VK1, stale, _content_type="application/merge-patch+json")
    assert err.value.status == 409
    assert "the object has been modified" in json.loads(err.value.body)["message"]
    current = fake.stored("Node", VK1)["metadata"]["resourceVersion"]
    fresh = {"metadata": {"resourceVersion": current, "labels": {"x": "y"}}}
    raw = core.patch_node(VK1, fresh, _content_type="application/strategic-merge-patch+json", _preload_content=False)
    patched = json.loads(raw.data)  # raw: the builders' nodes are too sparse for the client's models
    assert patched["metadata"]["labels"]["x"] == "y"
    assert int(patched["metadata"]["resourceVersion"]) > int(current)


def test_fake_json_patch_appends_and_rejects_apply_patches(live):
    fake, _, api = live
    core = client.CoreV1Api(api)
    for op in (
        {"path": "/spec/taints", "value": []},
        {"path": "/spec/taints/-", "value": {"key": "k", "effect": "NoSchedule"}},
    ):
        core.patch_node(VK1, [{"op": "add", **op}], _preload_content=False)
    assert fake.stored("Node", VK1)["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]
    with pytest.raises(client.ApiException) as err:
        core.patch_node(VK1, {"metadata": {}}, _content_type="application/apply-patch+yaml", field_manager="t")
    assert err.value.status == 415


def test_fake_create_then_already_exists(live):
    fake, _, api = live
    apps = client.AppsV1Api(api)
    body = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "ds"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}}},
    }
    created = apps.create_namespaced_daemon_set("kube-system", body)
    assert (created.metadata.namespace, created.metadata.generation) == ("kube-system", 1)
    assert created.metadata.uid and created.metadata.resource_version
    with pytest.raises(client.ApiException) as err:
        apps.create_namespaced_daemon_set("kube-system", body)
    assert err.value.status == 409
    assert json.loads(err.value.body)["reason"] == "AlreadyExists"
    assert [r.method for r in fake.writes] == ["POST", "POST"]


def test_a_plan_that_cannot_read_what_it_needs_is_bad_input(tmp_path):
    with KubeFake(objects()) as fake:
        fake.forbid("nodes")
        result = fix(fake, tmp_path, "exclude-virtual-nodes", "--yes")
        assert fake.writes == []
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.strip() == "error: cannot plan exclude-virtual-nodes: forbidden: list nodes"
