"""Generate a large synthetic snapshot for benchmarks: thousands of nodes, Services, pods and events.

The layout is a `kubectl cluster-info dump` tree inside the snapshot's kubernetes/ folder (nodes.json beside
one folder per namespace), which is what a collect of a big cluster looks like.

    python bench/generate_snapshot.py OUT_DIR [--nodes 5000 --services 2000 --pods 50000 --events 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from pathlib import Path

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NODE_RG = "MC_bench-rg_bench-aks_eastus2"
NAMESPACES = 50
PRINCIPAL = "11111111-2222-3333-4444-555555555555"
SYNC_FAILED = "Error syncing load balancer: failed to ensure load balancer: "
FAILURES = (
    SYNC_FAILED + "Retriable: false, RetryAfter: 0s, HTTPStatusCode: 403, RawError: "
    '{"error":{"code":"AuthorizationFailed","message":"The client '
    f"'{PRINCIPAL}' with object id '{PRINCIPAL}' does not have authorization to perform action "
    f"'Microsoft.Network/loadBalancers/write' over scope '/subscriptions/{SUB}/resourceGroups/{NODE_RG}'\"}}}}",
    SYNC_FAILED + "Retriable: true, RetryAfter: 30s, HTTPStatusCode: 429, RawError: "
    '{"error":{"code":"SubscriptionRequestsThrottled","message":"Number of \'read\' requests exceeded. '
    "Please try again after '30' seconds.\"}}",
)


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def node(i: int, rng: random.Random) -> dict:
    pool = f"pool{i // 1000}"
    vmss = f"aks-{pool}-{10000000 + i // 1000}-vmss"
    name = f"{vmss}{_base36(i % 1000)}"
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": uid(rng),
            "labels": {
                "kubernetes.azure.com/agentpool": pool,
                "kubernetes.azure.com/cluster": NODE_RG,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "Standard_D8ds_v5",
                "topology.kubernetes.io/zone": f"eastus2-{i % 3 + 1}",
            },
        },
        "spec": {
            "providerID": f"azure:///subscriptions/{SUB}/resourceGroups/{NODE_RG.lower()}/providers/"
            f"Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{i % 1000}",
            "podCIDR": f"10.{100 + i // 250}.{i % 250}.0/24",
        },
        "status": {
            "capacity": {"cpu": "8", "memory": "32850000Ki", "pods": "110"},
            "allocatable": {"cpu": "7820m", "memory": "28000000Ki", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [{"type": "InternalIP", "address": f"10.224.{i // 250}.{i % 250 + 4}"}],
            "nodeInfo": {"kubeletVersion": "v1.33.5", "osImage": "Ubuntu 22.04.5 LTS"},
        },
    }


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(6):
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def service(ns: str, i: int, rng: random.Random) -> dict:
    name = f"svc-{i}"
    pending = i % 10 == 0
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid(rng),
            "annotations": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"} if i % 4 == 0 else {},
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "nodePort": 30000 + i % 2000}
            ],
            "externalTrafficPolicy": "Local" if i % 5 == 0 else "Cluster",
            **({"healthCheckNodePort": 32000 + i % 700} if i % 5 == 0 else {}),
        },
        "status": {
            "loadBalancer": {} if pending else {"ingress": [{"ip": f"20.{i // 62500}.{i // 250 % 250}.{i % 250}"}]}
        },
    }


def pod(ns: str, svc_name: str, j: int, node_name: str, rng: random.Random) -> dict:
    ready = j % 17 != 0
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{svc_name}-7d9f8c6b5-{j:05d}",
            "namespace": ns,
            "uid": uid(rng),
            "labels": {"app": svc_name, "pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{svc_name}-7d9f8c6b5", "controller": True}],
        },
        "spec": {
            "nodeName": node_name,
            "containers": [
                {
                    "name": "app",
                    "image": f"contoso.azurecr.io/{svc_name}:1.0.{j % 7}",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.{100 + j % 150}.{j // 150 % 250}.{j % 250}",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def endpoint_slice(ns: str, svc: dict, pods: list[dict]) -> dict:
    name = svc["metadata"]["name"]
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": f"{name}-x7k2p", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": p["status"]["conditions"][0]["status"] == "True"},
                "nodeName": p["spec"]["nodeName"],
            }
            for p in pods
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def event(ns: str, svc: dict, k: int, rng: random.Random) -> dict:
    warning = k % 8 == 0
    minute = k % 60
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": f"{svc['metadata']['name']}.{k:x}", "namespace": ns},
        "involvedObject": {
            "kind": "Service",
            "namespace": ns,
            "name": svc["metadata"]["name"],
            "uid": svc["metadata"]["uid"],
        },
        "reason": "SyncLoadBalancerFailed" if warning else "EnsuredLoadBalancer",
        "message": FAILURES[k % 2] if warning else "Ensured load balancer",
        "type": "Warning" if warning else "Normal",
        "count": 1 + k % 5,
        "firstTimestamp": f"2026-11-27T09:{minute:02d}:00Z",
        "lastTimestamp": f"2026-11-27T09:{minute:02d}:30Z",
        "source": {"component": "service-controller"},
    }


def generate(out: Path, n_nodes: int, n_services: int, n_pods: int, n_events: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    kdir = out / "kubernetes"
    kdir.mkdir(parents=True, exist_ok=True)
    nodes = [node(i, rng) for i in range(n_nodes)]
    _write(kdir / "nodes.json", "NodeList", nodes)
    node_names = [n["metadata"]["name"] for n in nodes]
    pods_per_svc = max(1, n_pods // max(1, n_services))
    events_per_svc = max(1, n_events // max(1, n_services))
    for ns_index in range(NAMESPACES):
        ns = f"team-{ns_index:02d}"
        services, pods, slices, events = [], [], [], []
        for i in range(ns_index, n_services, NAMESPACES):
            svc = service(ns, i, rng)
            services.append(svc)
            own = [
                pod(ns, svc["metadata"]["name"], i * pods_per_svc + j, node_names[(i * 7 + j) % n_nodes], rng)
                for j in range(pods_per_svc)
            ]
            pods.extend(own)
            slices.append(endpoint_slice(ns, svc, own))
            events.extend(event(ns, svc, i * events_per_svc + k, rng) for k in range(events_per_svc))
        nsdir = kdir / ns
        nsdir.mkdir(exist_ok=True)
        _write(nsdir / "services.json", "ServiceList", services)
        _write(nsdir / "pods.json", "PodList", pods)
        _write(nsdir / "endpointslices.json", "EndpointSliceList", slices)
        _write(nsdir / "events.json", "EventList", events)
    (out / "snapshot.yaml").write_text(
        "capturedAt: '2026-11-27T10:00:00Z'\n"
        f"cluster: {{name: bench-aks, resourceGroup: bench-rg, subscriptionId: {SUB}, nodeResourceGroup: {NODE_RG}}}\n"
        "kubernetesVersion: v1.33.5\n"
    )


def _write(path: Path, list_kind: str, items: list[dict]) -> None:
    path.write_text(json.dumps({"kind": list_kind, "apiVersion": "v1", "metadata": {}, "items": items}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--pods", type=int, default=50000)
    parser.add_argument("--events", type=int, default=100000)
    args = parser.parse_args()
    generate(args.out, args.nodes, args.services, args.pods, args.events)
    print(f"wrote {args.out}: {args.nodes} nodes, {args.services} Services, {args.pods} pods, {args.events} events")


if __name__ == "__main__":
    main()
