"""externalTrafficPolicy Local: Azure only sends traffic to nodes that run a ready endpoint, by design.

The provider then builds one HTTP probe on `/healthz` at the Service's healthCheckNodePort; kube-proxy answers
200 only on nodes with a ready local endpoint, so the other nodes show as unhealthy in Azure (expected). When
no node of the backend pool runs a ready endpoint, every probe fails and the IP is dead even though the pods
are fine. Also here: `allocateLoadBalancerNodePorts: false`, which works only with floating IP and either
policy Local or the shared probe mode, because otherwise a rule or probe needs the missing nodePort.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import mapping, pool
from aksdoctor.checks._lb_azure import floating_ip_off
from aksdoctor.checks.base import NotApplicable, ServiceContext, Skipped, check, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix

DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/load-balancer-standard",
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
    "https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/"
    "#preserving-the-client-source-ip",
)
MAX_LISTED = 5


@check(
    id="lb.etp-local",
    title="externalTrafficPolicy Local: only nodes with a ready endpoint pass the Azure probe",
    severity="warning",
    scope="service",
    needs=("services",),
    optional=("nodes", "pods", "endpointslices", "cluster"),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> list[Finding]:
    local = str(kube.spec(ctx.service).get("externalTrafficPolicy") or "").lower() == "local"
    findings = _missing_node_ports(ctx, local)
    if local:
        findings += _local_policy(ctx, has_other_findings=bool(findings))
    elif not findings:
        raise NotApplicable("externalTrafficPolicy is Cluster")
    return findings


def _missing_node_ports(ctx: ServiceContext, local: bool) -> list[Finding]:
    """allocateLoadBalancerNodePorts false with a rule or probe that still needs a nodePort."""
    svc = ctx.service
    spec = kube.spec(svc)
    if spec.get("allocateLoadBalancerNodePorts") is not False:
        return []
    no_dsr = floating_ip_off(svc)
    if local and not no_dsr:
        return []
    # Without floating IP every rule needs the nodePort; with it, only the nodePort probes of policy Cluster do.
    needs_node_port = (lambda port: True) if no_dsr else _probes_node_port(svc)
    missing = [(i, p) for i, p in enumerate(spec.get("ports") or ()) if not p.get("nodePort") and needs_node_port(p)]
    if not missing:
        return []
    port_text = ", ".join(f"{p.get('port')}/{p.get('protocol') or 'TCP'}" for _, p in missing)
    evidence = [field_evidence("Service", svc, "spec.allocateLoadBalancerNodePorts", "false")]
    evidence += [field_evidence("Service", svc, f"spec.ports[{i}].nodePort", None) for i, _ in missing]
    commands = [_patch_spec(svc, allocateLoadBalancerNodePorts=True)]
    if no_dsr:
        reason, floating_evidence = no_dsr[0]
        evidence.append(floating_evidence)
        cause = (
            f"The Service allocates no nodePorts (ports {port_text} have none), but {reason}: the load-balancing "
            "rules for these ports have no backend port to send traffic to, so they cannot work."
        )
        summary = "Allocate nodePorts again, or keep floating IP enabled (required without nodePorts)."
    else:
        cause = (
            f"The Service allocates no nodePorts (ports {port_text} have none) and uses externalTrafficPolicy "
            "Cluster. The Azure health probe of each port targets its nodePort unless the cluster uses the shared "
            "probe mode (kube-proxy /healthz on 10256), so without that mode the probes have no port and the IP "
            "gets no healthy backend."
        )
        summary = (
            "Allocate nodePorts again, or check that the cluster uses the shared health probe mode "
            "(clusterServiceLoadBalancerHealthProbeMode: Shared)."
        )
        commands.extend(_probe_mode_command(ctx))
    return [ctx.finding(cause, evidence, fix=Fix(summary, tuple(commands)))]


def _patch_spec(svc: Mapping[str, Any], **fields: Any) -> str:
    patch = json.dumps({"spec": fields})
    return shell.command("kubectl", "-n", kube.namespace(svc), "patch", "service", kube.name(svc), "-p", patch)


def _probes_node_port(svc: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Whether the provider probes a port on its nodePort (policy Cluster, non-shared probe mode): TCP ports,
    unless the port has no rule or no probe, or its probe is sent to another port."""

    def probed(port: Mapping[str, Any]) -> bool:
        if (port.get("protocol") or "TCP") != "TCP":
            return False
        number = port.get("port")
        if any(mapping.is_true(svc, mapping.port_annotation(number, p)) for p in ("no_lb_rule", "no_probe_rule")):
            return False
        return not kube.annotations(svc).get(mapping.port_annotation(number, "health-probe_port"))

    return probed


def _probe_mode_command(ctx: ServiceContext) -> list[str]:
    meta = ctx.cluster_meta()
    if not meta.identified:
        return []
    query = "networkProfile.loadBalancerProfile.clusterServiceLoadBalancerHealthProbeMode"
    return [shell.command("az", "aks", "show", "-g", meta.resource_group, "-n", meta.name, "--query", query)]


def _local_policy(ctx: ServiceContext, *, has_other_findings: bool) -> list[Finding]:
    svc = ctx.service
    health_port = kube.spec(svc).get("healthCheckNodePort")
    policy = field_evidence("Service", svc, "spec.externalTrafficPolicy", kube.spec(svc).get("externalTrafficPolicy"))
    port_evidence = field_evidence("Service", svc, "spec.healthCheckNodePort", health_port)
    findings = []
    if not health_port:
        cause = (
            "externalTrafficPolicy is Local but the Service has no healthCheckNodePort. The provider builds the "
            "Azure probe as HTTP /healthz on that port, where kube-proxy reports whether the node has a ready "
            "endpoint; without it the probe cannot tell nodes apart."
        )
        fix = Fix(
            "Let the API server allocate it: set externalTrafficPolicy to Cluster and back to Local, or recreate "
            "the Service.",
            (shell.command("kubectl", "-n", kube.namespace(svc), "get", "service", kube.name(svc), "-o", "yaml"),),
        )
        findings.append(ctx.finding(cause, [policy, port_evidence], fix=fix))
    try:
        members, pool_size = _backend_pool(ctx)
        by_node, source = _ready_endpoints_by_node(ctx)
    except (FactUnavailable, Skipped):
        if findings or has_other_findings:
            return findings
        raise
    ready = sum(len(eps) for eps in by_node.values())
    if not ready:
        if findings or has_other_findings:
            return findings
        raise NotApplicable("no ready endpoints (lb.no-endpoints covers that)")
    serving = [n for n in by_node if n in members and members[n] is None]
    outside = [n for n in by_node if members.get(n) is not None or n not in members]
    probe = f"HTTP /healthz on healthCheckNodePort {health_port}" if health_port else "HTTP /healthz"
    evidence = [policy, port_evidence, source]
    if outside:
        evidence += [_outside_evidence(n, members) for n in sorted(outside)[:MAX_LISTED]]
    outside_text = "; ".join(f"{n}: {_outside_reason(n, members)}" for n in sorted(outside)[:MAX_LISTED])
    if not serving:
        cause = (
            f"externalTrafficPolicy is Local, so Azure's probe ({probe}) passes only on backend-pool nodes that run "
            f"a ready endpoint. The {ready} ready endpoint(s) all run on nodes outside the backend pool "
            f"({outside_text}), so the probe fails on every node and the IP answers nothing."
        )
        selector = kube.label_selector_text(kube.spec(svc).get("selector") or {})
        ns = kube.namespace(svc)
        commands = [
            shell.command("kubectl", "-n", ns, "get", "pods", "-l", selector, "-o", "wide"),
            _patch_spec(svc, externalTrafficPolicy="Cluster"),
        ]
        fix = Fix(
            "Run at least one ready replica on a node of the backend pool (check nodeSelector, affinity and "
            "tolerations), or use externalTrafficPolicy Cluster if the client source IP need not be preserved.",
            tuple(commands if selector else commands[1:]),
        )
        findings.append(ctx.finding(cause, evidence, fix=fix, severity="error"))
    elif len(serving) < pool_size or outside:
        cause = (
            f"externalTrafficPolicy is Local: {len(serving)} of {pool_size} backend-pool node(s) run a ready "
            f"endpoint and pass Azure's probe ({probe}); the other {pool_size - len(serving)} fail it by design "
            "and get no traffic from the load balancer, so 'unhealthy' backends in Azure are expected here."
        )
        if outside:
            cause += (
                f" {sum(len(by_node[n]) for n in outside)} ready endpoint(s) run on nodes outside the backend pool "
                f"({outside_text}) and get no load-balancer traffic."
            )
        findings.append(ctx.finding(cause, evidence, severity="info"))
    return findings


def _backend_pool(ctx: ServiceContext) -> tuple[Mapping[str, pool.Exclusion | None], int]:
    """Every node's backend-pool eligibility (built once per run), and how many nodes are in the pool."""
    index = pool.cached_exclusion_index(ctx.facts, ctx.nodes)
    size = ctx.facts.derived("lb.etp-local:pool-size", lambda: sum(1 for e in index.values() if e is None))
    return index, size


def _outside_reason(node_name: str, members: Mapping[str, pool.Exclusion | None]) -> str:
    entry = members.get(node_name)
    return entry.text if entry else "not a known node"


def _outside_evidence(node_name: str, members: Mapping[str, pool.Exclusion | None]) -> Evidence:
    entry = members.get(node_name)
    return entry.evidence if entry else Evidence("Node", f"Node {node_name}", "not in the cluster's node list")


def _ready_endpoints_by_node(ctx: ServiceContext) -> tuple[dict[str, set[str]], Evidence]:
    """node -> ready endpoints on it, from the EndpointSlices (else the ready pods), with evidence of where."""
    svc = ctx.service
    try:
        slices = ctx.endpoint_slices
    except FactUnavailable:
        slices = None
    by_node: dict[str, set[str]] = defaultdict(set)
    if slices is None:
        for pod in ctx.pods:
            node_name = kube.spec(pod).get("nodeName")
            if node_name and kube.pod_is_ready(pod) and not kube.pod_is_terminal(pod):
                by_node[node_name].add(kube.name(pod))
        ref = f"Pods of {kube.ref('Service', svc)} spec.nodeName"
        return by_node, Evidence("Pod", ref, _node_counts(by_node))
    unplaced = 0
    for sl in slices:
        for ep in sl.get("endpoints") or ():
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            endpoint = (ep.get("targetRef") or {}).get("name") or ",".join(ep.get("addresses") or ())
            if ep.get("nodeName"):
                by_node[ep["nodeName"]].add(endpoint)
            else:
                unplaced += 1
    if unplaced and not by_node:
        raise Skipped("the EndpointSlices do not say which node runs each endpoint (no nodeName)")
    names = ",".join(sorted(kube.name(s) for s in slices)) or "(none)"
    ref = f"EndpointSlice {kube.namespace(svc)}/{names} endpoints[ready].nodeName"
    return by_node, Evidence("EndpointSlice", ref, _node_counts(by_node))


def _node_counts(by_node: Mapping[str, set[str]]) -> str:
    if not by_node:
        return "no ready endpoint"
    items = sorted(by_node.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    text = ", ".join(f"{n} ({len(eps)})" for n, eps in items[:10])
    return text + (f" and {len(items) - 10} more nodes" if len(items) > 10 else "")
