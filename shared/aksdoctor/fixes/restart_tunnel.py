"""restart-tunnel: delete the unhealthy konnectivity-agent (or aks-link / tunnelfront) pods so their controllers
recreate them, then wait, bounded, for the tunnel to be ready again.

Only troubled pods go (not ready, or restarting often); ready ones keep the tunnel up meanwhile. A pod no
controller owns would not come back, so it is never deleted. A restart clears a stuck agent, not a blocked
egress: when the new pods fail too, the re-check says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aksdoctor import kube, shell, tunnel
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
        deployments = facts.get_or("system_deployments", [])
        steps: list[Step] = []
        uids: list[str] = []  # of each step's pod, for `settled`
        notes: list[str] = []
        kept = 0
        for comp in tunnel.components(facts.get("system_pods"), deployments):
            live = comp.live
            troubled = tunnel.troubled(live)
            kept += len(live) - len(troubled)
            if not live and comp.deployment is not None:
                notes.append(
                    f"{comp.name} has no pod: there is nothing to restart. Its Deployment's events say why: "
                    + shell.command(
                        "kubectl", "-n", kube.namespace(comp.deployment), "describe", "deployment", comp.name
                    )
                )
            for pod in troubled:
                owner = kube.controller(pod)
                if owner is None:
                    notes.append(
                        f"{kube.ref('Pod', pod)} is not deleted: no controller owns it, nothing would recreate it."
                    )
                    continue
                steps.append(_delete_step(pod, owner))
                uids.append(kube.meta(pod).get("uid") or "")
        if not steps:
            return self.no_change("No tunnel pod needs a restart.", notes)
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
        pods = facts.get_or("system_pods")
        return pods is not None and not any(kube.meta(p).get("uid") in deleted for p in pods)


def _delete_step(pod: Mapping[str, Any], owner: Mapping[str, Any]) -> Step:
    ns, name = kube.namespace(pod), kube.name(pod)
    state = "not ready" if not kube.pod_is_ready(pod) else f"{kube.restarts(pod)} restarts"
    return Step(
        description=f"delete the pod ({state}); {owner.get('kind')} {owner.get('name')} recreates it",
        target=kube.ref("Pod", pod),
        request=kube_writer.delete_pod(ns, name, kube.meta(pod).get("uid") or ""),
        command=shell.command("kubectl", "-n", ns, "delete", "pod", name),
    )
