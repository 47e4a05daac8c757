"""Builders for scenario snapshots: realistic Kubernetes objects, written to a snapshot folder, then run.

Tests describe a broken (or healthy) cluster with these, write it as a snapshot exactly as users would, and run
the real engine on it: no mocked clients, and the same path the CLI takes.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from aksdoctor import engine
from aksdoctor.facts import Facts
from aksdoctor.model import Finding, Report, Target
from aksdoctor.sources.snapshot import SnapshotSource

SUB = "8ecadfc9-d1a3-4ea4-b844-0d9f87e4d7c8"
NODE_RG = "MC_prod-rg_prod-aks_westeurope"
CAPTURED_AT = "2026-11-27T10:00:00Z"
PLURALS = {
    "Service": "services",
    "Pod": "pods",
    "Node": "nodes",
    "Event": "events",
    "Endpoints": "endpoints",
    "EndpointSlice": "endpointslices",
    "DaemonSet": "daemonsets",
    "Deployment": "deployments",
    "Namespace": "namespaces",
    "ConfigMap": "configmaps",
}
API_VERSIONS = {"EndpointSlice": "discovery.k8s.io/v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1"}


def _uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def obj(kind: str, name: str, namespace: str | None = "default", **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": _uid(f"{kind}/{namespace}/{name}")}
    if namespace:
        meta["namespace"] = namespace
    meta.update(fields.pop("metadata", {}))
    return {"apiVersion": API_VERSIONS.get(kind, "v1"), "kind": kind, "metadata": meta, **fields}


def service(
    name: str = "web",
    namespace: str = "default",
    *,
    ports: Sequence[Mapping[str, Any]] = ({"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},),
    selector: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    ingress_ip: str | None = "20.50.10.4",
    svc_type: str = "LoadBalancer",
    external_traffic_policy: str = "Cluster",
    **spec: Any,
) -> dict[str, Any]:
    """A Service; node ports are filled in the way the API server allocates them."""
    full_ports = []
    for i, port in enumerate(ports):
        p = {"protocol": "TCP", **port}
        if svc_type in ("LoadBalancer", "NodePort"):
            p.setdefault("nodePort", 30000 + i + (hash(name) % 2000))
        full_ports.append(p)
    body: dict[str, Any] = {
        "type": svc_type,
        "ports": full_ports,
        "selector": dict(selector if selector is not None else {"app": name}),
        "clusterIP": "10.0.12.34",
        **spec,
    }
    if svc_type == "LoadBalancer":
        body["externalTrafficPolicy"] = external_traffic_policy
    status: dict[str, Any] = {"loadBalancer": {}}
    if ingress_ip:
        status["loadBalancer"] = {"ingress": [{"ip": ingress_ip, "ipMode": "VIP"}]}
    return obj(
        "Service",
        name,
        namespace,
        metadata={"annotations": dict(annotations or {})},
        spec=body,
        status=status,
    )


def container(
    name: str = "app",
    *,
    ports: Sequence[Mapping[str, Any]] = ({"name": "http", "containerPort": 8080, "protocol": "TCP"},),
    readiness: bool = True,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": f"registry.example.com/{name}:1.0", "ports": list(ports)}
    if readiness:
        out["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5}
    return out


def pod(
    name: str,
    namespace: str = "default",
    *,
    labels: Mapping[str, str] | None = None,
    containers: Sequence[Mapping[str, Any]] | None = None,
    ready: bool = True,
    node: str = "aks-nodepool1-12345678-vmss000000",
    phase: str = "Running",
    ip: str = "10.244.0.10",
) -> dict[str, Any]:
    return obj(
        "Pod",
        name,
        namespace,
        metadata={"labels": dict(labels or {"app": "web"})},
        spec={"containers": list(containers or [container()]), "nodeName": node},
        status={
            "phase": phase,
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    )


def provider_id_vmss(vmss: str = "aks-nodepool1-12345678-vmss", instance: int = 0) -> str:
    return (
        f"azure:///subscriptions/{SUB}/resourceGroups/{NODE_RG.lower()}/providers/"
        f"Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{instance}"
    )


def node(
    name: str = "aks-nodepool1-12345678-vmss000000",
    *,
    provider_id: str | None = "",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    capacity: Mapping[str, str] | None = None,
    ready: bool = True,
    kubelet_version: str = "v1.32.6",
    annotations: Mapping[str, str] | None = None,
    instance_type: str = "Standard_D4s_v5",
) -> dict[str, Any]:
    """A node; `provider_id=""` means "derive a VMSS providerID from the name", None means unset."""
    if provider_id == "":
        instance = int(name[-6:], 36) if name[-6:].isalnum() else 0
        provider_id = provider_id_vmss(name[:-6], instance)
    spec: dict[str, Any] = {}
    if provider_id is not None:
        spec["providerID"] = provider_id
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    base_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": instance_type,
        "kubernetes.azure.com/agentpool": "nodepool1",
        "kubernetes.azure.com/cluster": NODE_RG,
    }
    return obj(
        "Node",
        name,
        None,
        metadata={"labels": {**base_labels, **(labels or {})}, "annotations": dict(annotations or {})},
        spec=spec,
        status={
            "capacity": {"cpu": "4", "memory": "16393220Ki", "pods": "110", **(capacity or {})},
            "allocatable": {"cpu": "3860m", "memory": "12880388Ki", "pods": "110", **(capacity or {})},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": kubelet_version, "osImage": "Ubuntu 22.04.5 LTS"},
            "addresses": [{"type": "InternalIP", "address": "10.224.0.4"}, {"type": "Hostname", "address": name}],
        },
    )


def event(
    involved: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    type: str = "Warning",
    count: int = 1,
    last: str = "2026-11-27T09:58:00Z",
    component: str = "service-controller",
) -> dict[str, Any]:
    inv_meta = involved["metadata"]
    name = f"{inv_meta['name']}.{abs(hash((reason, message, last))) % 10**12:x}"
    return obj(
        "Event",
        name,
        inv_meta.get("namespace") or "default",
        involvedObject={
            "kind": involved["kind"],
            "name": inv_meta["name"],
            "namespace": inv_meta.get("namespace", ""),
            "uid": inv_meta.get("uid", ""),
            "apiVersion": "v1",
        },
        reason=reason,
        message=message,
        type=type,
        count=count,
        firstTimestamp=last,
        lastTimestamp=last,
        source={"component": component},
    )


def endpoint_slice(
    svc: Mapping[str, Any],
    addresses: Iterable[tuple[str, bool, str]] = (("10.244.0.10", True, "aks-nodepool1-12345678-vmss000000"),),
    *,
    ports: Sequence[Mapping[str, Any]] = ({"name": "http", "port": 8080, "protocol": "TCP"},),
) -> dict[str, Any]:
    svc_name = svc["metadata"]["name"]
    return obj(
        "EndpointSlice",
        f"{svc_name}-abcde",
        svc["metadata"]["namespace"],
        metadata={"labels": {"kubernetes.io/service-name": svc_name}},
        addressType="IPv4",
        endpoints=[
            {"addresses": [ip], "conditions": {"ready": ready}, "nodeName": node_name}
            for ip, ready, node_name in addresses
        ],
        ports=list(ports),
    )


def daemonset(
    name: str,
    namespace: str = "kube-system",
    *,
    tolerations: Sequence[Mapping[str, str]] = (),
    node_selector: Mapping[str, str] | None = None,
    image: str = "registry.example.com/agent:1.0",
    labels: Mapping[str, str] | None = None,
    desired: int = 1,
    ready: int = 1,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    template_spec: dict[str, Any] = {"containers": [{"name": name, "image": image}]}
    if tolerations:
        template_spec["tolerations"] = [dict(t) for t in tolerations]
    if node_selector:
        template_spec["nodeSelector"] = dict(node_selector)
    match = dict(labels or {"name": name})
    return obj(
        "DaemonSet",
        name,
        namespace,
        metadata={"labels": match, "annotations": dict(annotations or {})},
        spec={"selector": {"matchLabels": match}, "template": {"metadata": {"labels": match}, "spec": template_spec}},
        status={"desiredNumberScheduled": desired, "numberReady": ready, "numberAvailable": ready},
    )


def write_snapshot(
    root: Path,
    objects: Iterable[Mapping[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    logs: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    azure: Mapping[str, Any] | None = None,
    graph: Mapping[str, Any] | None = None,
    captured_kinds: Iterable[str] = (),
) -> Path:
    """Write a snapshot folder: one `kind: List` YAML file per kind, plus metadata, logs, node and Azure files.

    `captured_kinds` writes empty lists for kinds that were collected but had no objects.
    """
    root.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for o in objects:
        by_kind[o["kind"]].append(o)
    for kind in captured_kinds:
        by_kind.setdefault(kind, [])
    kdir = root / "kubernetes"
    kdir.mkdir(exist_ok=True)
    for kind, items in by_kind.items():
        doc = {"apiVersion": "v1", "kind": "List", "items": items} if items else {"kind": f"{kind}List", "items": []}
        (kdir / f"{PLURALS.get(kind, kind.lower() + 's')}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    snapshot_meta = {
        "capturedAt": CAPTURED_AT,
        "cluster": {
            "name": "prod-aks",
            "resourceGroup": "prod-rg",
            "subscriptionId": SUB,
            "nodeResourceGroup": NODE_RG,
            "location": "westeurope",
        },
        "kubernetesVersion": "v1.32.6",
    }
    snapshot_meta.update(meta or {})
    (root / "snapshot.yaml").write_text(yaml.safe_dump(snapshot_meta, sort_keys=False))
    for rel, text in (logs or {}).items():
        _write(root / "logs" / rel, text)
    for rel, text in (files or {}).items():
        _write(root / "files" / rel, text)
    for rel, doc in (azure or {}).items():
        _write(root / "azure" / rel, json.dumps(doc, indent=2))
    for rel, doc in (graph or {}).items():
        _write(root / "graph" / rel, json.dumps(doc, indent=2))
    return root


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_snapshot(
    root: Path,
    *,
    service: str | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Report:
    """Run the engine on a snapshot as the CLI runs `--snapshot`: the snapshot is the Azure source too (Azure facts
    from azure/ and graph/). The `lb` scope when `service` ("ns/name") is given, else `cluster`."""
    source = SnapshotSource(root)
    if service:
        ns, name = service.split("/", 1)
        target = Target("service", "prod-aks", ns, name)
    else:
        target = Target("cluster", "prod-aks")
    return engine.run(Facts(target=target, kube=source, azure=source), include=include, exclude=exclude)


def findings(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.id == check_id]


def outcome(report: Report, check_id: str) -> tuple[str, str]:
    for o in report.checks:
        if o.id == check_id:
            return o.status.value, o.reason
    raise AssertionError(f"{check_id} not in report checks: {[o.id for o in report.checks]}")


def deployment_pod(
    name: str,
    deployment: str,
    *,
    template_hash: str = "5d8f7c9b6d",
    labels: Mapping[str, str] | None = None,
    **pod_fields: Any,
) -> dict[str, Any]:
    """A pod created by a Deployment's ReplicaSet (ownerReferences and pod-template-hash as the controller sets)."""
    made = pod(name, labels={**(labels or {"app": "web"}), "pod-template-hash": template_hash}, **pod_fields)
    made["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": f"{deployment}-{template_hash}",
            "uid": _uid(f"ReplicaSet/{deployment}-{template_hash}"),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return made


def deployment(
    name: str,
    namespace: str = "kube-system",
    *,
    labels: Mapping[str, str] | None = None,
    replicas: int = 2,
    ready: int = 2,
) -> dict[str, Any]:
    """A Deployment with the status the controller writes (Available condition False when nothing is ready)."""
    match = dict(labels or {"app": name})
    available = {"type": "Available", "status": "True" if ready else "False", "reason": "MinimumReplicasAvailable"}
    if not ready:
        available.update(reason="MinimumReplicasUnavailable", message="Deployment does not have minimum availability.")
    return obj(
        "Deployment",
        name,
        namespace,
        metadata={"labels": match},
        spec={"replicas": replicas, "selector": {"matchLabels": match}, "template": {"metadata": {"labels": match}}},
        status={
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [available],
        },
    )


def system_pod(
    name: str,
    namespace: str = "kube-system",
    *,
    owner: tuple[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    node: str = "aks-nodepool1-12345678-vmss000000",
    ready: bool = True,
    phase: str = "Running",
    waiting: tuple[str, str] | None = None,
    restarts: int = 0,
    last_terminated: str | None = None,
    unschedulable: str | None = None,
) -> dict[str, Any]:
    """A controller-owned pod with container statuses: `owner=("DaemonSet", "kured")`, `waiting=(reason, message)`."""
    made = pod(name, namespace, labels=labels or {"app": name}, node=node, ready=ready, phase=phase)
    if owner:
        kind, owner_name = owner
        ref = {"apiVersion": "apps/v1", "kind": kind, "name": owner_name, "uid": _uid(f"{kind}/{owner_name}")}
        made["metadata"]["ownerReferences"] = [{**ref, "controller": True}]
    container_name = made["spec"]["containers"][0]["name"]
    state: dict[str, Any] = {"running": {"startedAt": "2026-11-27T09:00:00Z"}}
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    status: dict[str, Any] = {"name": container_name, "ready": ready, "restartCount": restarts, "state": state}
    if last_terminated:
        exit_code = 137 if last_terminated == "OOMKilled" else 1
        status["lastState"] = {"terminated": {"reason": last_terminated, "exitCode": exit_code}}
    if phase != "Pending":
        made["status"]["containerStatuses"] = [status]
    if unschedulable:
        del made["spec"]["nodeName"]
        made["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}
        ]
    return made


# ---- Azure error texts, as the three SDK generations print them inside events and controller logs ----------

ARM = "https://management.azure.com"
LB_ID = f"/subscriptions/{SUB}/resourceGroups/{NODE_RG}/providers/Microsoft.Network/loadBalancers/kubernetes"
SYNC_FAILED = "Error syncing load balancer: failed to ensure load balancer: "


def arm_body(code: str, message: str, **extra: Any) -> str:
    """The ARM error envelope: {"error": {"code": ..., "message": ...}}."""
    return json.dumps({"error": {"code": code, "message": message, **extra}}, separators=(",", ":"))


def azcore_error(
    status: int, reason: str, code: str, message: str, *, method: str = "GET", url: str = "", **extra: Any
) -> str:
    """azcore ResponseError.Error() (track-2 SDK, current providers); `extra` goes into the error body."""
    rule = "-" * 80
    target = url or LB_ID
    return (
        f"{method} {ARM}{target}\n{rule}\nRESPONSE {status}: {status} {reason}\nERROR CODE: {code}\n{rule}\n"
        f"{json.dumps(json.loads(arm_body(code, message, **extra)), indent=2)}\n{rule}\n"
    )


def retriable_error(status: int, code: str, message: str, *, retry_after: str = "0s", **extra: Any) -> str:
    """The track-1 retry wrapper of cloud-provider-azure (about v1.18-v1.29)."""
    flag = "true" if status in (429, 500, 503) else "false"
    raw = arm_body(code, message, **extra)
    return f"Retriable: {flag}, RetryAfter: {retry_after}, HTTPStatusCode: {status}, RawError: {raw}"


def autorest_error(status: int, code: str, message: str, *, client: str = "network.LoadBalancersClient#Get") -> str:
    """Legacy autorest (in-tree provider up to about 1.17)."""
    return (
        f"{client}: Failure responding to request: StatusCode={status} -- Original Error: autorest/azure: "
        f'Service returned an error. Status={status} Code="{code}" Message="{message}"'
    )


def adal_error(description: str) -> str:
    """Legacy adal token refresh failure with an Entra ID (AADSTS) description."""
    body = json.dumps({"error": "invalid_client", "error_description": description})
    return (
        f"azure.BearerAuthorizer#WithAuthorization: Failed to refresh the Token for request to {ARM}{LB_ID}"
        "?api-version=2017-09-01: "
        f"StatusCode=401 -- Original Error: adal: Refresh request failed. Status Code = '401'. Response body: {body}"
    )
