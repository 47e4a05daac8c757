"""collect against KubeFake: secrets planted everywhere a secret can hide never reach the bundle; reading the bundle
back gives the live run's findings; --anonymize replaces identifying values consistently."""

import base64
import json
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from builders import (
    NODE_RG,
    SUB,
    container,
    daemonset,
    deployment,
    endpoint_slice,
    event,
    node,
    obj,
    pod,
    service,
    system_pod,
)
from fixkit import isolated_env, run_cli
from kubefake import KubeFake

from aksdoctor import engine
from aksdoctor.collect import collect
from aksdoctor.facts import Facts
from aksdoctor.model import Target
from aksdoctor.sources.kube_live import KubeLiveSource
from aksdoctor.sources.snapshot import SnapshotSource

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
TOKEN = "PLANT-kubeconfig-token"
CCM = "cloud-controller-manager-7d9f8c6b5-x2k4q"
AGENT = "konnectivity-agent-6f8c9d7b5-7d9fb"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJQTEFOVC1qd3QifQ.c2lnbmF0dXJlUExBTlQ"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEPLANTpemBODY\nPLANTmore==\n-----END RSA PRIVATE KEY-----"
CLOUD_CONFIG = {
    "cloud": "AzurePublicCloud",
    "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "subscriptionId": SUB,
    "aadClientId": "0a1b2c3d-0000-4000-8000-00000000abcd",
    "aadClientSecret": "PLANT-secret-cloud-config",
    "aadClientCertPassword": "PLANT-cert-password",
    "aadClientCertPath": "/etc/kubernetes/sp.pfx",
    "resourceGroup": NODE_RG,
    "loadBalancerSku": "standard",
}
CCM_LOG = "\n".join(
    [
        "I1127 09:58:00.000000 1 azure_loadbalancer.go:100] ensure(shop/web): START",
        "E1127 09:58:01.000000 1 auth.go:12] token refresh: client_secret=PLANT-log-client-secret grant_type=x",
        "E1127 09:58:02.000000 1 auth.go:13] request headers: Authorization: Bearer PLANT-log-bearer",
        f"E1127 09:58:03.000000 1 auth.go:14] assertion {JWT} rejected",
        'I1127 09:58:04.000000 1 config.go:20] loaded {"aadClientSecret": "PLANT-log-aad", "tenantId": "t"}',
        "I1127 09:58:05.000000 1 storage.go:9] DefaultEndpointsProtocol=https;AccountKey=PLANT-log-accountkey;x=y",
        "I1127 09:58:06.000000 1 blob.go:9] GET https://a.blob.core.windows.net/c?sv=2022&sig=PLANT-log-sig&se=1",
        "I1127 09:58:07.000000 1 cert.go:1] loaded key",
        PEM,
        "I1127 09:58:08.000000 1 db.go:1] connect password=PLANT-log-password user=app",
        "",
    ]
)
SECRET_ENV = {"DB_PASSWORD": "PLANT-env-password", "API_KEY": "PLANT-env-apikey", "SAS_TOKEN": "PLANT-env-sas"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(name, namespace, data):
    return obj("Secret", name, namespace, type="Opaque", data={k: _b64(v) for k, v in data.items()})


def web_deployment():
    env = [{"name": k, "value": v} for k, v in SECRET_ENV.items()]
    env += [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "DB_USER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
    ]
    template_spec = {"containers": [{"name": "web", "image": "registry.example.com/web:1.0", "env": env}]}
    made = deployment("web", "shop", labels={"app": "web"})
    made["spec"]["template"]["spec"] = template_spec
    last_applied = json.loads(json.dumps(made))
    last_applied["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "PLANT-lastapplied-password"
    made["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(last_applied),
        "example.com/api-token": "PLANT-annotation-token",
        "deployment.kubernetes.io/revision": "3",
    }
    return made


def web_pod():
    made = pod("web-5c9d-abcde", "shop", labels={"app": "web"})
    ctr = made["spec"]["containers"][0]
    ctr["env"] = [{"name": "AZURE_CLIENT_SECRET", "value": "PLANT-pod-env-secret"}, {"name": "PORT", "value": "8080"}]
    ctr["args"] = ["--client-secret=PLANT-arg-secret", "--token", "PLANT-arg-token", "--port=8080"]
    ctr["livenessProbe"] = {
        "httpGet": {
            "path": "/healthz",
            "port": 8080,
            "httpHeaders": [{"name": "Authorization", "value": "Bearer PLANT-probe"}],
        }
    }
    return made


def planted_objects():
    web = service("web", "shop", selector={"app": "web"})
    return [
        obj("Namespace", "shop", None),
        node(),
        web,
        web_deployment(),
        web_pod(),
        endpoint_slice(web),
        event(web, "SyncLoadBalancerFailed", "Error syncing load balancer: token=PLANT-event-token rejected"),
        system_pod(CCM, labels={"component": "cloud-controller-manager"}),
        system_pod(AGENT, owner=("ReplicaSet", "konnectivity-agent-6f8c9d7b5"), labels={"app": "konnectivity-agent"}),
        deployment("konnectivity-agent", labels={"app": "konnectivity-agent"}, replicas=1, ready=1),
        daemonset("kube-proxy"),
        secret("azure-cloud-provider", "kube-system", {"cloud-config": json.dumps(CLOUD_CONFIG)}),
        secret("db-creds", "shop", {"password": "PLANT-secret-object-password"}),
    ]


def planted_fake() -> KubeFake:
    fake = KubeFake(planted_objects(), require_token=TOKEN)
    fake.set_log("kube-system", CCM, "app", CCM_LOG)
    fake.set_log("kube-system", AGENT, "app", "dial failed; retrying with --password=PLANT-agent-flag\n")
    return fake


def bundle_bytes(path: Path) -> bytes:
    """Every byte of every file in the bundle (directory or .tar.gz), names included."""
    if path.is_dir():
        return b"\n".join(
            p.as_posix().encode() + b"\n" + p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
        )
    with tarfile.open(path) as tar:
        return b"\n".join(m.name.encode() + b"\n" + tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())


def bundle_file(path: Path, rel: str) -> str:
    if path.is_dir():
        return (path / rel).read_text()
    with tarfile.open(path) as tar:
        return tar.extractfile(f"aksdoctor-snapshot/{rel}").read().decode()


def source_for(fake, tmp_path, **kw) -> KubeLiveSource:
    return KubeLiveSource.from_kubeconfig(config_file=fake.write_kubeconfig(tmp_path / "kubeconfig", **kw))


@pytest.fixture(autouse=True)
def _loopback(tmp_path):
    with isolated_env(tmp_path):
        yield


# ---- redaction ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bundle.tar.gz", "bundle-dir"])
def test_no_planted_secret_reaches_the_bundle(tmp_path, name):
    dest = tmp_path / name
    with planted_fake() as fake:
        kc = fake.write_kubeconfig(tmp_path / "kubeconfig", token=TOKEN)
        result = run_cli(
            tmp_path, "collect", *(["-f"] if name.endswith(".gz") else ["-d"]), str(dest), "--kubeconfig", kc
        )
        secret_reads = [r.path for r in fake.requests if "/secrets" in r.path]
    assert result.code == 0, result.stderr
    data = bundle_bytes(dest)
    assert b"PLANT" not in data
    for value in (TOKEN, JWT, _b64(json.dumps(CLOUD_CONFIG)), _b64("PLANT-secret-object-password"), "MIIE"):
        assert value.encode() not in data
    assert b'"kind": "Secret"' not in data and b'"kind":"Secret"' not in data
    # Only the cloud config's own Secret was read (for azure.json), never listed or written.
    assert secret_reads == ["/api/v1/namespaces/kube-system/secrets/azure-cloud-provider"]
    # The keys stay, so checks still see what is set; harmless values stay too.
    azure_json = json.loads(bundle_file(dest, "files/azure.json"))
    assert azure_json["aadClientSecret"] == "<redacted>"
    assert azure_json["aadClientCertPassword"] == "<redacted>"
    assert azure_json["aadClientCertPath"] == "/etc/kubernetes/sp.pfx"
    assert azure_json["aadClientId"] == CLOUD_CONFIG["aadClientId"]
    deployments = json.loads(bundle_file(dest, "kubernetes/deployments.json"))["items"]
    [web] = [d for d in deployments if d["metadata"]["name"] == "web"]
    env = {
        e["name"]: e.get("value", e.get("valueFrom")) for e in web["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["LOG_LEVEL"] == "debug"
    assert env["DB_USER_PASSWORD"] == {"secretKeyRef": {"name": "db-creds", "key": "password"}}
    assert {env[k] for k in SECRET_ENV} == {"<redacted>"}
    annotations = web["metadata"]["annotations"]
    assert annotations["example.com/api-token"] == "<redacted>"
    assert annotations["deployment.kubernetes.io/revision"] == "3"
    applied = json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["template"]["spec"]["containers"][0]["env"][0] == {
        "name": "DB_PASSWORD",
        "value": "<redacted>",
    }
    ccm_log = bundle_file(dest, f"logs/kube-system/{CCM}/app.log")
    assert "client_secret=<redacted> grant_type=x" in ccm_log
    assert "Authorization: Bearer <redacted>" in ccm_log
    assert "ensure(shop/web): START" in ccm_log
    [web_pod_doc] = [
        p
        for p in json.loads(bundle_file(dest, "kubernetes/pods.json"))["items"]
        if p["metadata"]["name"].startswith("web")
    ]
    ctr = web_pod_doc["spec"]["containers"][0]
    assert ctr["args"] == ["--client-secret=<redacted>", "--token", "<redacted>", "--port=8080"]
    assert {"name": "PORT", "value": "8080"} in ctr["env"]
    meta = bundle_file(dest, "snapshot.yaml")
    assert "redacted: " in meta and "anonymized: false" in meta


def test_cloud_config_file_is_redacted_too(tmp_path):
    azure_json = tmp_path / "azure.json"
    azure_json.write_text(
        json.dumps({**CLOUD_CONFIG, "aadClientCertData": PEM, "extra": {"clientSecret": "PLANT-nested"}})
    )
    with planted_fake() as fake:
        kc = fake.write_kubeconfig(tmp_path / "kubeconfig", token=TOKEN)
        result = run_cli(
            tmp_path, "collect", "-d", str(tmp_path / "b"), "--kubeconfig", kc, "--cloud-config", str(azure_json)
        )
        assert not [r for r in fake.requests if "/secrets" in r.path]  # the file given replaces the secret
    assert result.code == 0, result.stderr
    assert b"PLANT" not in bundle_bytes(tmp_path / "b")
    written = json.loads((tmp_path / "b/files/azure.json").read_text())
    assert written["aadClientCertData"] == "<redacted>"
    assert written["extra"] == {"clientSecret": "<redacted>"}


# ---- round trip -----------------------------------------------------------------------------------------------

LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
GONE = "aks-nodepool1-12345678-vmss000007"


def broken_objects():
    """A cluster with something for most Kubernetes-side checks to say."""
    web = service("web", "shop", selector={"app": "web"})
    orphan = service("orphan", "shop", selector={"app": "nothing"}, ingress_ip=None)
    vk = node("virtual-node-aci-linux", provider_id=None, labels={"type": "virtual-kubelet"})
    gpu = node(
        "aks-gpu-27182818-vmss000000",
        instance_type="Standard_NC6s_v3",
        taints=[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
    )
    lock = json.dumps(
        {"nodeID": GONE, "metadata": {"unschedulable": False}, "created": "2026-11-19T06:12:44Z", "TTL": 0}
    )
    crash = ("CrashLoopBackOff", "back-off 5m0s restarting failed container=konnectivity-agent")
    return [
        obj("Namespace", "shop", None),
        node(),
        node("aks-nodepool1-12345678-vmss000001", labels={LABEL: "true"}),
        vk,
        gpu,
        web,
        orphan,
        pod("web-1", "shop", labels={"app": "web"}, containers=[container(readiness=False)]),
        endpoint_slice(web),
        event(orphan, "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer: boom"),
        event(web, "EnsuringLoadBalancer", "Ensuring load balancer", type="Normal"),
        daemonset("kured", image="ghcr.io/kubereboot/kured:1.23.0", annotations={"weave.works/kured-node-lock": lock}),
        daemonset("kube-proxy"),
        deployment("konnectivity-agent", labels={"app": "konnectivity-agent"}, replicas=1, ready=0),
        system_pod(
            AGENT,
            owner=("ReplicaSet", "konnectivity-agent-6f8c9d7b5"),
            labels={"app": "konnectivity-agent"},
            ready=False,
            waiting=crash,
            restarts=12,
        ),
        system_pod(CCM, labels={"component": "cloud-controller-manager"}),
    ]


def broken_fake() -> KubeFake:
    fake = KubeFake(broken_objects(), version="v1.27.3")
    fake.set_log(
        "kube-system",
        CCM,
        "app",
        "E1127 09:58:01.000000 1 controller.go:300] error processing service shop/orphan (will retry): failed to "
        'ensure load balancer: "instance not found" node=virtual-node-aci-linux\n',
    )
    return fake


# Evidence may say where a value was read; only that provenance differs between the live run and its bundle.
PROVENANCE = " (snapshot kubernetesVersion)"


def report_doc(report):
    findings = json.loads(json.dumps([f.to_dict() for f in report.findings]).replace(PROVENANCE, ""))
    return {"findings": findings, "checks": [(c.id, c.status.value) for c in report.checks]}


@pytest.mark.parametrize("where", ["bundle.tar.gz", "bundle"])
@pytest.mark.parametrize("target", [Target("cluster", "fake"), Target("service", "fake", "shop", "orphan")])
def test_reading_the_bundle_back_gives_the_live_findings(tmp_path, where, target):
    with broken_fake() as fake:
        live_source = source_for(fake, tmp_path)
        live = engine.run(Facts(target=target, kube=live_source, now=NOW))
        collect(source_for(fake, tmp_path), tmp_path / where, now=NOW)
    offline = engine.run(Facts(target=target, kube=SnapshotSource(tmp_path / where)))
    expected = {"lb.no-endpoints", "node.virtual-not-excluded"}  # lb runs service checks and node checks
    if target.scope == "cluster":
        expected |= {"tunnel.unhealthy", "gpu.device-plugin-missing", "node.reboot-pending", "version.unsupported"}
    assert {f.id for f in live.findings} >= expected
    assert report_doc(offline) == report_doc(live)
    assert offline.captured_at == live.captured_at


def test_round_trip_through_the_cli(tmp_path):
    with broken_fake() as fake:
        kc = fake.write_kubeconfig(tmp_path / "kubeconfig")
        live = run_cli(tmp_path, "cluster", "--kubeconfig", kc, "--no-azure", "-o", "json")  # Azure: a later part
        made = run_cli(tmp_path, "collect", "-f", str(tmp_path / "b.tar.gz"), "--kubeconfig", kc, "-o", "json")
    offline = run_cli(tmp_path, "cluster", "--snapshot", str(tmp_path / "b.tar.gz"), "--no-azure", "-o", "json")
    assert made.code == 0, made.stderr
    assert made.doc["objects"]["nodes"] == 4 and made.doc["logs"] == 2
    assert (live.code, offline.code) == (1, 1)
    assert json.loads(json.dumps(offline.doc["findings"]).replace(PROVENANCE, "")) == live.doc["findings"]
    assert [(c["id"], c["status"]) for c in offline.doc["checks"]] == [
        (c["id"], c["status"]) for c in live.doc["checks"]
    ]


def test_a_kind_that_cannot_be_read_is_left_out_and_noted(tmp_path):
    with broken_fake() as fake:
        fake.forbid("events")
        live = engine.run(Facts(target=Target("cluster", "fake"), kube=source_for(fake, tmp_path), now=NOW))
        result = collect(source_for(fake, tmp_path), tmp_path / "b", now=NOW)
    assert not (tmp_path / "b/kubernetes/events.json").exists()
    assert "events not collected: forbidden: list events" in result.notes
    assert "events not collected: forbidden: list events" in (tmp_path / "b/snapshot.yaml").read_text()
    offline = engine.run(Facts(target=Target("cluster", "fake"), kube=SnapshotSource(tmp_path / "b")))
    assert report_doc(offline)["findings"] == report_doc(live)["findings"]


# ---- anonymize ------------------------------------------------------------------------------------------------


def test_anonymize_replaces_identifying_values_consistently(tmp_path):
    with broken_fake() as fake:
        result = collect(source_for(fake, tmp_path), tmp_path / "b.tar.gz", now=NOW, anonymize=True)
    data = bundle_bytes(tmp_path / "b.tar.gz").decode()
    assert result.anonymized
    for identifying in (SUB, NODE_RG, NODE_RG.lower(), "aks-nodepool1-12345678-vmss000000", "20.50.10.4", "10.224.0.4"):
        assert identifying not in data, identifying
    assert '"shop"' not in data and "shop/orphan" not in data
    nodes = {
        n["metadata"]["name"] for n in json.loads(bundle_file(tmp_path / "b.tar.gz", "kubernetes/nodes.json"))["items"]
    }
    pods = json.loads(bundle_file(tmp_path / "b.tar.gz", "kubernetes/pods.json"))["items"]
    assert all(p["spec"]["nodeName"] in nodes for p in pods)  # the same node name everywhere
    services = json.loads(bundle_file(tmp_path / "b.tar.gz", "kubernetes/services.json"))["items"]
    [web] = [s for s in services if s["status"]["loadBalancer"]]  # the other one is still pending
    assert web["metadata"]["name"] != "web" and web["spec"]["selector"]["app"] != "web"
    assert any(p["metadata"]["labels"].get("app") == web["spec"]["selector"]["app"] for p in pods)  # still selects
    assert "kube-system" in data and "konnectivity-agent" in data  # system names stay: checks know them by name
    offline = engine.run(Facts(target=Target("cluster", "x"), kube=SnapshotSource(tmp_path / "b.tar.gz")))
    assert {f.id for f in offline.findings} >= {"node.reboot-pending", "tunnel.unhealthy", "gpu.device-plugin-missing"}


# ---- refusals -------------------------------------------------------------------------------------------------


def test_refusals(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    (tmp_path / "old.tar.gz").write_bytes(b"keep me")
    cases = {
        ("-d", str(tmp_path / "full")): "exists and is not empty",
        ("-f", str(tmp_path / "old.tar.gz")): "exists; name a new file",
        ("-f", str(tmp_path / "bundle.zip")): "name it *.tar.gz",
        ("--snapshot", str(tmp_path / "full")): "--snapshot cannot be used with it",
    }
    with broken_fake() as fake:
        kc = fake.write_kubeconfig(tmp_path / "kubeconfig")
        for args, message in cases.items():
            result = run_cli(tmp_path, "collect", *args, "--kubeconfig", kc)
            assert (result.code, message in result.stderr) == (2, True), (args, result.stderr)
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    assert (tmp_path / "old.tar.gz").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "kubeconfig", "old.tar.gz"]  # no partial bundle


def test_archive_members_live_under_one_folder(tmp_path):
    with broken_fake() as fake:
        collect(source_for(fake, tmp_path), tmp_path / "b.tar.gz", now=NOW)
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        names = tar.getnames()
        meta = tar.extractfile("aksdoctor-snapshot/snapshot.yaml").read().decode()
    assert all(n.startswith("aksdoctor-snapshot/") for n in names)
    assert "aksdoctor-snapshot/kubernetes/nodes.json" in names
    assert "capturedAt: '2026-11-27T10:00:00Z'" in meta and "kubernetesVersion: v1.27.3" in meta
