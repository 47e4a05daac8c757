"""Pods behind a LoadBalancer Service without a readiness probe receive traffic whether or not they can serve it.

Without a probe a container counts as ready as soon as it runs, so a pod that is still starting, deadlocked or
misconfigured stays an endpoint. Azure cannot help: its health probe checks nodes (or, with
externalTrafficPolicy Local, kube-proxy's count of ready local endpoints), never the pod, so it keeps passing
while a share of the connections lands on the broken pod.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aksdoctor import kube
from aksdoctor.checks._pods import live_pods, pod_list, workload_command
from aksdoctor.checks.base import ServiceContext, check, field_evidence
from aksdoctor.model import Finding, Fix

DOCS = ("https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/",)


@check(
    id="lb.no-readiness-probe",
    title="Pods behind the Service have no readiness probe",
    severity="warning",
    scope="service",
    needs=("services", "pods"),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    svc = ctx.service
    pods = live_pods(ctx)
    targets = {kube.target_port(p) for p in kube.spec(svc).get("ports") or ()}
    # workload -> (containers without a probe, pods, one example pod)
    missing: dict[tuple[str, str], tuple[set[str], list[str], Mapping[str, Any]]] = {}
    for pod in pods:
        unprobed = _unprobed_containers(pod, targets)
        if not unprobed:
            continue
        entry = missing.setdefault(kube.workload(pod), (set(), [], pod))
        entry[0].update(unprobed)
        entry[1].append(kube.name(pod))
    if not missing:
        return
    ns = kube.namespace(svc)
    bad_pods = sum(len(names) for _, names, _ in missing.values())
    groups = [
        f"{kind} {name}: container(s) {', '.join(sorted(containers))} in {pod_list(names)}"
        for (kind, name), (containers, names, _) in missing.items()
    ]
    cause = (
        f"{bad_pods} of {len(pods)} pod(s) behind the Service serve traffic without a readiness probe "
        f"({'; '.join(groups)}). They count as ready as soon as they run, so a pod that cannot serve stays an "
        "endpoint while the Azure health probe, which checks nodes and not pods, keeps passing."
    )
    evidence = [
        field_evidence("Pod", example, f"spec.containers[{container}].readinessProbe", None)
        for containers, _, example in missing.values()
        for container in sorted(containers)
    ]
    commands = tuple(workload_command(ns, kind, name) for kind, name in list(missing)[:3])
    fix = Fix(
        "Add a readinessProbe (httpGet, tcpSocket or exec against the serving port) to these containers in the "
        "workload's pod template, so only pods that can answer receive traffic.",
        commands,
    )
    yield ctx.finding(cause, evidence, fix=fix)


def _unprobed_containers(pod: Mapping[str, Any], targets: set[Any]) -> list[str]:
    """Containers that serve the Service without a probe: the ones declaring a target port, else all of them
    when no container of the pod has a probe (a sidecar without one does not hide a probed app)."""
    containers = kube.serving_containers(pod)
    serving = [c for c in containers if any(_declares(c, t) for t in targets)]
    if serving:
        return [c.get("name") or "" for c in serving if not c.get("readinessProbe")]
    if any(c.get("readinessProbe") for c in containers):
        return []
    return [c.get("name") or "" for c in containers]


def _declares(container: Mapping[str, Any], target: Any) -> bool:
    key = "name" if isinstance(target, str) else "containerPort"
    return any(p.get(key) == target for p in container.get("ports") or ())
