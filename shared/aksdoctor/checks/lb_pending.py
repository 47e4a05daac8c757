"""A LoadBalancer Service with no ingress IP, when no provider error names a more specific cause.

The specific checks (lb.auth-failed, lb.permission-denied, ...) own every error the classifier can place; this
one speaks when none of them can. It shows the load-balancer trail the provider left (events, log lines) and
says what a missing trail means: events expire after an hour, and on AKS the cloud-controller-manager runs in
the managed control plane, so its log is only reachable through the cluster's diagnostic settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from aksdoctor import kube, shell
from aksdoctor.checks.base import (
    NotApplicable,
    ServiceContext,
    check,
    event_evidence,
    field_evidence,
    log_evidence,
)
from aksdoctor.checks.provider_errors import OWNER, ServiceErrors, Sighting, service_errors
from aksdoctor.model import Finding, Fix, Severity

PROVISIONING = timedelta(minutes=2)  # a new Service usually gets its IP within this
EVENT_CAP = 5
LOG_CAP = 5
NO_NODES = "no-available-nodes"  # classifier signature of "There are no available nodes for LoadBalancer"
ELSEWHERE = "lb.annotation-invalid, node.excluded-from-lb, node.not-cloud-initialized and lb.backend-pool-empty"
DOCS = (
    "https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer",
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
    "https://learn.microsoft.com/en-us/azure/aks/monitor-aks-reference",
)


@check(
    id="lb.pending",
    title="Service has no load balancer IP",
    severity="error",
    scope="service",
    needs=("services", "events"),
    optional=("provider_logs", "cluster", "now"),
    docs=DOCS,
    # Any error-level finding on the Service (an Azure-side or Kubernetes-side cause) is more specific.
    yields_to=("lb.*",),
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    """No ingress IP and no classified cause: show the provider's trail, or say why there is none."""
    svc = ctx.service
    lb_class = kube.spec(svc).get("loadBalancerClass")
    if lb_class:
        raise NotApplicable(
            f"spec.loadBalancerClass is {lb_class}: another controller, not the Azure provider, owns it"
        )
    ingress = (kube.status(svc).get("loadBalancer") or {}).get("ingress") or ()
    if any(i.get("ip") or i.get("hostname") for i in ingress):
        return
    errors = service_errors(ctx)
    current = errors.current()
    explained = sorted({OWNER[s.error.category] for s in current if s.error.category in OWNER})
    if explained:
        raise NotApplicable(f"no ingress IP yet; the cause is reported by {', '.join(explained)}")

    evidence = [field_evidence("Service", svc, "status.loadBalancer.ingress", None)]
    evidence += [event_evidence(e) for e in errors.lb_events[:EVENT_CAP]]
    evidence += [log_evidence(line) for line in errors.log_lines[-LOG_CAP:]]
    cause = ["The Service has no ingress IP (status.loadBalancer.ingress is empty)."]
    severity = None
    age = _age(ctx)
    if age is not None and age < PROVISIONING:
        cause.append(f"It was created {int(age.total_seconds())}s ago and is probably still provisioning.")
        severity = Severity.INFO
    no_nodes = any(s.error.code == NO_NODES for s in current)
    cause.append(_trail(errors, current, no_nodes))
    if not errors.logs_read:
        cause.append(
            "The controller logs were not read; on AKS the cloud-controller-manager log is only available through "
            "the cluster's diagnostic settings (category cloud-controller-manager)."
        )
    cause.append(
        "No error of lb.auth-failed, lb.permission-denied, lb.quota-exceeded, lb.throttled, lb.public-ip-config or "
        f"lb.ilb-subnet explains it; also look at {ELSEWHERE}."
    )
    yield ctx.finding(" ".join(cause), evidence, fix=_fix(ctx, errors, no_nodes, severity), severity=severity)


def _age(ctx: ServiceContext) -> timedelta | None:
    created = kube.parse_time(kube.meta(ctx.service).get("creationTimestamp"))
    now = ctx.fact_or("now")
    if now is None or created is None or created > now:
        return None
    return now - created


def _trail(errors: ServiceErrors, current: list[Sighting], no_nodes: bool) -> str:
    """What the provider's events and log lines say, or what their absence means."""
    if no_nodes:
        return (
            'The service controller found no node to put behind it ("There are no available nodes for '
            'LoadBalancer"): every node is not ready, excluded from load balancers, or being deleted.'
        )
    if current:
        reported = dict.fromkeys(f"{s.error.code} ({s.error.meaning})" for s in current)
        return f"The provider reports {'; '.join(list(reported)[:3])}."
    classified = {s.evidence.detail for s in errors.sightings if s.is_event}
    unexplained = [
        e
        for e in errors.lb_events
        if e.get("type") == "Warning"
        and (e.get("message") or "") not in classified
        and not errors.resolved(kube.event_time(e))
    ]
    if unexplained:
        return "Its newest Warning events name no cause aksdoctor recognises; read them in the evidence."
    if errors.resolved_at:
        return (
            f"The provider last ensured its load balancer at {kube.format_time(errors.resolved_at)}, after any "
            "earlier error, yet the Service status has no IP: the status update may have failed or the Service "
            "changed since."
        )
    if not errors.lb_events:
        return (
            "There are no load-balancer events for it: events expire after an hour, so an older failure may have "
            "left no trace here."
        )
    newest = errors.lb_events[0]
    when = kube.event_time(newest)
    at = f" at {kube.format_time(when)}" if when else ""
    return (
        f"Its events carry no error (newest: {newest.get('reason')}{at}): the provider may still be working, "
        "or its error went only to the controller log."
    )


def _fix(ctx: ServiceContext, errors: ServiceErrors, no_nodes: bool, severity: Severity | None) -> Fix:
    ns, name = kube.namespace(ctx.service), kube.name(ctx.service)
    selector = f"involvedObject.kind=Service,involvedObject.name={name}"
    commands = [
        shell.command("kubectl", "describe", "service", name, "-n", ns),
        shell.command("kubectl", "get", "events", "-n", ns, "--field-selector", selector),
    ]
    if not errors.logs_read:
        meta = ctx.cluster_meta()
        if meta.subscription_id and meta.resource_group and meta.name:
            cluster_id = (
                f"/subscriptions/{meta.subscription_id}/resourceGroups/{meta.resource_group}"
                f"/providers/Microsoft.ContainerService/managedClusters/{meta.name}"
            )
            commands.append(
                shell.command(
                    "az",
                    "monitor",
                    "diagnostic-settings",
                    "create",
                    "--name",
                    "cloud-controller-manager",
                    "--resource",
                    cluster_id,
                    "--workspace",
                    "<log-analytics-workspace-id>",
                    "--logs",
                    '[{"category": "cloud-controller-manager", "enabled": true}]',
                )
            )
        else:
            commands.append(
                shell.command("kubectl", "logs", "-n", "kube-system", "-l", "component=cloud-controller-manager")
            )
    if no_nodes:
        summary = "Make at least one Ready node eligible for load balancers (see node.excluded-from-lb)."
    elif severity is Severity.INFO:
        summary = "Wait a minute and run again; a new Service usually gets its IP within two minutes."
    else:
        summary = "Read the Service's events and the cloud-controller-manager log for the provider's error."
    return Fix(summary, tuple(commands))
