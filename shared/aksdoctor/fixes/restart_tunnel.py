"""restart-tunnel: delete the unhealthy konnectivity-agent (or aks-link / tunnelfront) pods so their controllers
recreate them, then wait, bounded, for the tunnel to be ready again.

Only troubled pods go (not ready, or restarting often); ready ones keep the tunnel up meanwhile. A pod no
controller owns would not come back, so it is never deleted. A restart clears a stuck agent, not a blocked
egress: when the new pods fail too, the re-check says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.checks._nodes import node_knowledge
from aksdoctor.checks.tunnel import _components, _restarts
from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import Facts
from aksdoctor.fixes.base import Action, ApplyResult, Plan, Step, StepStatus, register
from aksdoctor.sources import kube_writer


@register
class RestartTunnel(Action):
    name = "restart-tunnel"
    title = "Restart the AKS tunnel agents"
    addresses = ("tunnel.unhealthy",)
    needs = ("system_pods", "system_deployments")
    waits = True

    def plan(self, facts: Facts) -> Plan:
        tk = node_knowledge()["tunnel"]
        try:
            deployments = facts.get("system_deployments")
        except FactUnavailable:
            deployments = []
        steps: list[Step] = []
        uids: list[str] = []  # of each step's pod, for `settled`
        notes: list[str] = []
        kept = 0
        for comp in _components(facts.get("system_pods"), deployments, tk):
            live = [p for p in comp.pods if not kube.pod_is_terminal(p)]
            troubled = [p for p in live if not kube.pod_is_ready(p) or _restarts(p) >= tk["restart_warning"]]
            kept += len(live) - len(troubled)
            if not live and comp.deployment is not None:
                notes.append(
                    f"{comp.name} has no pod: there is nothing to restart. Its Deployment's events say why: "
                    + shell.command(
                        "kubectl", "-n", kube.namespace(comp.deployment), "describe", "deployment", comp.name
                    )
                )
            for pod in troubled:
                owner = _controller(pod)
                if owner is None:
                    notes.append(
                        f"{kube.ref('Pod', pod)} is not deleted: no controller owns it, nothing would recreate it."
                    )
                    continue
                steps.append(_delete_step(pod, owner))
                uids.append(kube.meta(pod).get("uid") or "")
        if not steps:
            return Plan(self.name, "No tunnel pod needs a restart.", notes=tuple(notes), addresses=self.addresses)
        return Plan(
            self.name,
            f"Delete {len(steps)} unhealthy tunnel pod(s); their controllers recreate them.",
            tuple(steps),
            blast_radius=(
                "kubectl logs/exec/attach/port-forward, metrics and admission webhooks that go through these agents "
                "keep failing until the replacement pods are ready (the pods deleted are not healthy now). "
                + (
                    f"{kept} healthy tunnel pod(s) are left running."
                    if kept
                    else "No healthy tunnel pod is left meanwhile."
                )
            ),
            rollback="Nothing to roll back: the controllers recreate the pods from the same template.",
            notes=tuple(notes),
            addresses=self.addresses,
            context={"uids": tuple(uids)},
        )

    def settled(self, facts: Facts, plan: Plan, result: ApplyResult) -> bool:
        """The deleted pods are gone (a terminating pod can still look ready)."""
        done = [o.status is StepStatus.DONE for o in result.outcomes]
        deleted = {uid for uid, ok in zip(plan.context["uids"], done, strict=True) if ok}
        try:
            pods = facts.get("system_pods")
        except FactUnavailable:
            return False
        return not any(kube.meta(p).get("uid") in deleted for p in pods)


def _controller(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((o for o in kube.meta(pod).get("ownerReferences") or () if o.get("controller")), None)


def _delete_step(pod: Mapping[str, Any], owner: Mapping[str, Any]) -> Step:
    ns, name = kube.namespace(pod), kube.name(pod)
    state = "not ready" if not kube.pod_is_ready(pod) else f"{_restarts(pod)} restarts"
    return Step(
        description=f"delete the pod ({state}); {owner.get('kind')} {owner.get('name')} recreates it",
        target=kube.ref("Pod", pod),
        request=kube_writer.delete_pod(ns, name, kube.meta(pod).get("uid") or ""),
        command=shell.command("kubectl", "-n", ns, "delete", "pod", name),
    )
