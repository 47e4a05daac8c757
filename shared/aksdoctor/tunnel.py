"""The AKS tunnel between the API server and the kubelets: konnectivity-agent, before it aks-link, before that
tunnelfront. Which kube-system pods and Deployments belong to it, and which pods are in trouble, is read the same
way by the check tunnel.unhealthy, the fix restart-tunnel and `collect` (which keeps the agents' logs). Names come
from the `tunnel` section of knowledge/nodes.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aksdoctor import knowledge, kube


def settings() -> Mapping[str, Any]:
    return knowledge.load("nodes")["tunnel"]


@dataclass
class Component:
    """One tunnel component found in kube-system: its knowledge entry, Deployment and pods."""

    spec: Mapping[str, Any]
    deployment: Mapping[str, Any] | None = None
    pods: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def live(self) -> list[dict]:
        """Its pods that are not finished."""
        return [p for p in self.pods if not kube.pod_is_terminal(p)]


def components(pods: Sequence[dict], deployments: Sequence[dict]) -> list[Component]:
    """Tunnel components present: pods by name prefix or label, Deployments by name."""
    found = {c["name"]: Component(c) for c in settings()["components"]}
    for dep in deployments:
        if kube.name(dep) in found:
            found[kube.name(dep)].deployment = dep
    for pod in pods:
        owner = component_of(pod)
        if owner:
            found[owner].pods.append(pod)
    return [c for c in found.values() if c.pods or c.deployment]


def component_of(pod: Mapping[str, Any]) -> str | None:
    """Which component a kube-system pod belongs to; `component=tunnel` alone means the current one."""
    tk = settings()
    name = kube.name(pod)
    labels = kube.labels(pod)
    for comp in tk["components"]:
        if name.startswith(comp["name"] + "-") or any(kube.selector_matches(s, labels) for s in comp["pod_labels"]):
            return comp["name"]
    if any(kube.selector_matches(s, labels) for s in tk["shared_pod_labels"]):
        return tk["components"][0]["name"]
    return None


def troubled(pods: Sequence[dict]) -> list[dict]:
    """The pods that are not ready, or restart often."""
    limit = settings()["restart_warning"]
    return [p for p in pods if not kube.pod_is_ready(p) or kube.restarts(p) >= limit]
