"""Pods behind a LoadBalancer Service without a readiness probe receive traffic whether or not they can serve it.

Without a probe a container counts as ready as soon as it runs, so a pod that is still starting, deadlocked or
misconfigured stays an endpoint. Azure cannot help: its health probe checks nodes (or, with
externalTrafficPolicy Local, kube-proxy's count of ready local endpoints), never the pod, so it keeps passing
while a share of the connections lands on the broken pod.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.model import Finding, Fix

DOCS = ("https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/",)
MAX_LISTED = 5


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
    targets = {target_port(p) for p in kube.spec(svc).get("ports") or ()}
    # workload -> (containers without a probe, pods, one example pod)
    missing: dict[tuple[str, str], tuple[set[str], list[str], Mapping[str, Any]]] = {}
    for pod in pods:
        unprobed = _unprobed_containers(pod, targets)
        if not unprobed:
            continue
        entry = missing.setdefault(workload(pod), (set(), [], pod))
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


def live_pods(ctx: ServiceContext) -> list[dict]:
    """The Service's pods that can still become endpoints; NotApplicable when there are none."""
    if not kube.spec(ctx.service).get("selector"):
        raise NotApplicable("Service has no selector (endpoints are managed by hand)")
    pods = [p for p in ctx.pods if not kube.pod_is_terminal(p)]
    if not pods:
        raise NotApplicable("no running pods selected (lb.no-endpoints covers that)")
    return pods


def serving_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Containers whose ports back Service endpoints: regular ones plus sidecars (restartPolicy Always)."""
    sidecars = [c for c in kube.spec(pod).get("initContainers") or () if c.get("restartPolicy") == "Always"]
    return [*kube.containers(pod), *sidecars]


def workload(pod: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name) of what manages a pod: a ReplicaSet's Deployment when the name says so, else the controller."""
    owner = next((o for o in kube.meta(pod).get("ownerReferences") or () if o.get("controller")), None)
    owner = owner or next(iter(kube.meta(pod).get("ownerReferences") or ()), None)
    if not owner:
        return "Pod", kube.name(pod)
    kind, name = owner.get("kind") or "", owner.get("name") or ""
    template_hash = kube.labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return "Deployment", name.removesuffix(f"-{template_hash}")
    return kind, name


def workload_command(namespace: str, kind: str, name: str) -> str:
    return shell.command("kubectl", "-n", namespace, "get", kind.lower(), name, "-o", "yaml")


def pod_list(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{len(names)} pod(s): {shown}" + (f" and {more} more" if more > 0 else "")


def target_port(port: Mapping[str, Any]) -> int | str:
    """A Service port's targetPort (a number or a container port name); absent means the same as `port`."""
    target = port.get("targetPort")
    return port.get("port") if target in (None, "", 0) else target


def _unprobed_containers(pod: Mapping[str, Any], targets: set[Any]) -> list[str]:
    """Containers that serve the Service without a probe: the ones declaring a target port, else all of them
    when no container of the pod has a probe (a sidecar without one does not hide a probed app)."""
    containers = serving_containers(pod)
    serving = [c for c in containers if any(_declares(c, t) for t in targets)]
    if serving:
        return [c.get("name") or "" for c in serving if not c.get("readinessProbe")]
    if any(c.get("readinessProbe") for c in containers):
        return []
    return [c.get("name") or "" for c in containers]


def _declares(container: Mapping[str, Any], target: Any) -> bool:
    key = "name" if isinstance(target, str) else "containerPort"
    return any(p.get(key) == target for p in container.get("ports") or ())
