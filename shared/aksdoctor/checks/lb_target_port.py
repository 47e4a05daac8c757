"""A Service port whose targetPort the pods do not expose delivers traffic nowhere, while everything looks healthy.

A named targetPort is resolved per pod against the containers' port names (and protocol); a pod without that
name gets no endpoint for the port, and when no pod has it kube-proxy has nothing to forward to. A numeric
targetPort is used as is, so a number the pods do not declare only hints at a mistake (declarations are
informational): that case is a warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.checks._pods import live_pods, pod_list, workload_command
from aksdoctor.checks.base import ServiceContext, check, field_evidence
from aksdoctor.model import Evidence, Finding, Fix

DOCS = (
    "https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service",
    "https://kubernetes.io/docs/tasks/debug/debug-application/debug-service/",
)
MAX_POD_EVIDENCE = 3

# One declared container port: (container, port name, number, protocol).
DeclaredPort = tuple[str, str, int, str]


@check(
    id="lb.target-port-mismatch",
    title="Service targetPort is not exposed by the pods",
    severity="error",
    scope="service",
    needs=("services", "pods"),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    pods = live_pods(ctx)
    # Pods of one workload version declare the same ports: resolve each distinct declaration once.
    by_ports: dict[tuple[DeclaredPort, ...], list[dict]] = {}
    for pod in pods:
        by_ports.setdefault(_declared_ports(pod), []).append(pod)
    for index, port in enumerate(kube.spec(ctx.service).get("ports") or ()):
        finding = _check_port(ctx, index, port, by_ports, len(pods))
        if finding:
            yield finding


def _check_port(
    ctx: ServiceContext,
    index: int,
    port: Mapping[str, Any],
    by_ports: Mapping[tuple[DeclaredPort, ...], list[dict]],
    total: int,
) -> Finding | None:
    target = kube.target_port(port)
    protocol = port.get("protocol") or "TCP"
    named = isinstance(target, str)
    lacking = {
        declared: pods
        for declared, pods in by_ports.items()
        if not _exposes(declared, target, protocol)
        and (named or declared)  # a pod declaring no port at all says nothing about a number
    }
    if not lacking:
        return None
    lacking_pods = [p for pods in lacking.values() for p in pods]
    label = f"{port.get('name') or port.get('port')} ({port.get('port')}/{protocol})"
    other_protocol = sorted({d[3] for declared in lacking for d in declared if _is_target(d, target)} - {protocol})
    proto_note = (
        f" The pods declare {target!r} only as {'/'.join(other_protocol)}, and the protocol must match."
        if other_protocol
        else ""
    )
    severity = "warning"
    if named and len(lacking_pods) == total:
        severity = "error"
        cause = (
            f"Service port {label} targets the container port named {target!r}, but none of the {total} selected "
            f"pod(s) declares a {protocol} port with that name, so the port resolves to nothing: kube-proxy gets "
            f"no endpoint for it and every connection to it fails.{proto_note}"
        )
    elif named:
        cause = (
            f"Service port {label} targets the container port named {target!r}, which {len(lacking_pods)} of "
            f"{total} selected pods do not declare ({pod_list(kube.name(p) for p in lacking_pods)}); those pods get "
            f"no endpoint for this port (different versions of the workload?).{proto_note}"
        )
    else:
        declared = sorted({f"{d[2]}/{d[3]}" for ports in lacking for d in ports})
        cause = (
            f"Service port {label} sends traffic to port {target}/{protocol}, but "
            f"{pod_list(kube.name(p) for p in lacking_pods)} declare only {', '.join(declared)}. Kubernetes "
            f"forwards to {target} anyway (containerPort declarations are informational), so this works only if "
            f"the application listens on {target} without declaring it; the targetPort is likely wrong.{proto_note}"
        )
    evidence = [field_evidence("Service", ctx.service, f"spec.ports[{index}]", _port_text(port))]
    evidence += [_ports_evidence(pods[0], declared) for declared, pods in list(lacking.items())[:MAX_POD_EVIDENCE]]
    matching = next((pods[0] for declared, pods in by_ports.items() if _exposes(declared, target, protocol)), None)
    if matching is not None:
        evidence.append(_ports_evidence(matching, _declared_ports(matching)))
    return ctx.finding(cause, evidence, fix=_fix(ctx, index, target, protocol, lacking, total), severity=severity)


def _fix(
    ctx: ServiceContext,
    index: int,
    target: int | str,
    protocol: str,
    lacking: Mapping[tuple[DeclaredPort, ...], list[dict]],
    total: int,
) -> Fix:
    svc = ctx.service
    ns = kube.namespace(svc)
    owners = list(dict.fromkeys(kube.workload(p) for pods in lacking.values() for p in pods))
    view = tuple(workload_command(ns, kind, name) for kind, name in owners[:2])
    candidates = {(d[1], d[2]) for declared in lacking for d in declared if d[3] == protocol}
    numbers = {number for _, number in candidates}
    everyone = sum(len(p) for p in lacking.values()) == total
    if everyone and len(numbers) == 1:
        name, number = next(iter(candidates)) if len(candidates) == 1 else ("", numbers.pop())
        value: int | str = name if isinstance(target, str) and name else number
        patch = json.dumps([{"op": "replace", "path": f"/spec/ports/{index}/targetPort", "value": value}])
        command = shell.command("kubectl", "-n", ns, "patch", "service", kube.name(svc), "--type=json", "-p", patch)
        return Fix(
            f"Point the Service at the port the pods expose ({value}), or declare {target!r} in the pod template.",
            (command, *view),
        )
    return Fix(
        f"Make the Service's targetPort {target!r} match a {protocol} containerPort (number or name) of every pod: "
        "fix the Service, or the workload's pod template.",
        view,
    )


def _is_target(declared: DeclaredPort, target: int | str) -> bool:
    return declared[1 if isinstance(target, str) else 2] == target


def _exposes(declared: Sequence[DeclaredPort], target: int | str, protocol: str) -> bool:
    """What the EndpointSlice controller does: a name must match a port name with the same protocol."""
    return any(_is_target(d, target) and d[3] == protocol for d in declared)


def _declared_ports(pod: Mapping[str, Any]) -> tuple[DeclaredPort, ...]:
    return tuple(
        sorted(
            (c.get("name") or "", p.get("name") or "", int(p.get("containerPort") or 0), p.get("protocol") or "TCP")
            for c in kube.serving_containers(pod)
            for p in c.get("ports") or ()
        )
    )


def _ports_evidence(pod: Mapping[str, Any], declared: Sequence[DeclaredPort]) -> Evidence:
    by_container: dict[str, list[str]] = {}
    for container, name, number, protocol in declared:
        by_container.setdefault(container, []).append(f"{name + '=' if name else ''}{number}/{protocol}")
    text = "; ".join(f"{c}: {', '.join(ports)}" for c, ports in by_container.items()) or "no ports declared"
    return field_evidence("Pod", pod, "spec.containers[*].ports", text)


def _port_text(port: Mapping[str, Any]) -> str:
    fields = ("name", "port", "targetPort", "protocol")
    return " ".join(f"{f}={port[f]}" for f in fields if port.get(f) not in (None, ""))
