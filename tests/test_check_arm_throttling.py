"""arm.throttling: throttling anywhere in events and controller logs, aggregated per code and operation group."""

from __future__ import annotations

from builders import (
    CAPTURED_AT,
    SUB,
    azcore_error,
    event,
    findings,
    node,
    obj,
    outcome,
    retriable_error,
    run_snapshot,
    service,
    write_snapshot,
)

from aksdoctor import engine
from aksdoctor.facts import Facts
from aksdoctor.model import Target
from aksdoctor.sources.base import ClusterMeta, LogText

ARM_LIMIT = (
    f"Number of requests for subscription '{SUB}' and operation 'GET/SUBSCRIPTIONS/RESOURCEGROUPS/PROVIDERS/"
    "MICROSOFT.NETWORK/LOADBALANCERS' exceeded the limit of '50' for time interval '00:05:00'. Please try again "
    "after '372' seconds."
)
CRP_MESSAGE = "The server rejected the request because too many requests have been received for this subscription."
CRP_DETAILS = [
    {
        "code": "TooManyRequests",
        "target": "HighCostGetVMScaleSet30Min",
        "message": '{"operationGroup":"HighCostGetVMScaleSet30Min","allowedRequestCount":900,'
        '"measuredRequestCount":1209}',
    }
]
SUBSCRIPTION_THROTTLED = "Error syncing load balancer: failed to ensure load balancer: " + retriable_error(
    429, "SubscriptionRequestsThrottled", ARM_LIMIT, retry_after="6m12s"
)
CRP_THROTTLED = "failed to get VMSS aks-nodepool1-12345678-vmss: " + azcore_error(
    429, "Too Many Requests", "OperationNotAllowed", CRP_MESSAGE, details=CRP_DETAILS
)
PROVIDER_LINE = (
    "E1127 09:59:{:02d}.000000       1 azure_vmss.go:210] GetVMSS(aks-nodepool1-12345678-vmss): "
    "throttled due to too many requests, retry after 2m0s"
)
GATEWAY = "Error syncing load balancer: failed to ensure load balancer: " + retriable_error(
    429, "GatewayError", "Error occurred in resource provider infrastructure services.", retry_after="5s"
).replace('{"error":{"code":"GatewayError","message":', '{"Code":"GatewayError","Message":').replace("}}", "}")


def cluster_report(tmp_path, objects, **kw):
    snap = write_snapshot(tmp_path, objects, captured_kinds=["Event"], **kw)
    return run_snapshot(snap, include=["arm.throttling"])


def test_aggregates_across_many_objects(tmp_path):
    services = [service(f"web-{i}") for i in range(30)]
    nodes = [node(f"aks-nodepool1-12345678-vmss00000{i}") for i in range(5)]
    objects = [*services, *nodes]
    for i, svc in enumerate(services):
        objects.append(
            event(svc, "SyncLoadBalancerFailed", SUBSCRIPTION_THROTTLED, count=2, last=f"2026-11-27T09:{i:02d}:00Z")
        )
    for n in nodes:
        objects.append(event(n, "FailedToGetVMSS", CRP_THROTTLED, component="cloud-node-manager", count=3))
    objects.append(event(services[0], "Throttled", SUBSCRIPTION_THROTTLED, type="Normal"))  # not a Warning
    log = "\n".join(PROVIDER_LINE.format(s) for s in range(4))
    report = cluster_report(tmp_path, objects, logs={"kube-system/cloud-controller-manager-1.log": log})
    [finding] = findings(report, "arm.throttling")
    assert finding.severity.label == "warning"
    assert finding.resource == "Cluster prod-aks"
    assert (
        "SubscriptionRequestsThrottled (HTTP 429) [limit 50 requests, retry after up to 372s]: 60 time(s) in 30 "
        "event(s) on 30 object(s), newest 2026-11-27T09:29:00Z" in finding.cause
    )
    assert (
        "OperationNotAllowed (HTTP 429) [operation group HighCostGetVMScaleSet30Min, limit 900 requests]: "
        "15 time(s) in 5 event(s) on 5 object(s)" in finding.cause
    )
    assert "provider-throttled" in finding.cause and "4 time(s) in 4 controller log line(s)" in finding.cause
    assert finding.cause.index("SubscriptionRequestsThrottled") < finding.cause.index("OperationNotAllowed")
    assert "HighCostGetVMScaleSet groups are Compute RP reads" in finding.cause
    events = [e for e in finding.evidence if e.source == "Event"]
    assert events[0].ref == "Service default/web-29 (Warning SyncLoadBalancerFailed x2 last 2026-11-27T09:29:00Z)"
    assert events[0].detail == SUBSCRIPTION_THROTTLED
    logs = [e for e in finding.evidence if e.source == "Log"]
    assert [e.ref for e in logs] == [
        "kube-system/cloud-controller-manager-1:3",
        "kube-system/cloud-controller-manager-1:4",
    ]
    assert "On AKS" in finding.fix.summary and "useInstanceMetadata" not in finding.fix.summary
    assert finding.fix.commands == (
        "az aks get-upgrades --resource-group prod-rg --name prod-aks --output table",
        "az aks update --resource-group prod-rg --name prod-aks --cluster-autoscaler-profile scan-interval=30s",
    )


def test_self_managed_cluster_gets_cloud_config_advice(tmp_path):
    worker = node(
        "worker-0",
        provider_id="azure:///subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/worker-0",
    )
    del worker["metadata"]["labels"]["kubernetes.azure.com/cluster"]
    svc = service("web")
    report = cluster_report(tmp_path, [svc, worker, event(svc, "SyncLoadBalancerFailed", SUBSCRIPTION_THROTTLED)])
    [finding] = findings(report, "arm.throttling")
    assert "useInstanceMetadata: true" in finding.fix.summary
    assert "On AKS" not in finding.fix.summary
    assert finding.fix.commands == ()


def test_gateway_error_429_is_transient_not_throttling(tmp_path):
    svc = service("web")
    report = cluster_report(tmp_path, [svc, event(svc, "SyncLoadBalancerFailed", GATEWAY, count=2)])
    [finding] = findings(report, "arm.throttling")
    assert finding.severity.label == "info"
    assert "GatewayError and HTTP 429" in finding.cause
    assert "not subscription throttling" in finding.cause
    assert finding.evidence[0].detail == GATEWAY


def test_quiet_without_throttling(tmp_path):
    svc = service("web")
    pod = obj("Pod", "web-7f9c429d-x2b")
    objects = [
        svc,
        event(svc, "EnsuredLoadBalancer", "Ensured load balancer", type="Normal"),
        event(pod, "BackOff", "Back-off restarting failed container app in pod web-7f9c429d-x2b", component="kubelet"),
    ]
    report = cluster_report(tmp_path, objects)
    assert findings(report, "arm.throttling") == []
    assert outcome(report, "arm.throttling") == ("passed", "")


def test_skipped_without_events(tmp_path):
    snap = write_snapshot(tmp_path, [service("web")])
    report = run_snapshot(snap, include=["arm.throttling"])
    assert outcome(report, "arm.throttling") == ("skipped", "not in snapshot: events")


class _BigSource:
    """A source with a huge event list, read without snapshot parsing (which is not what is measured here)."""

    def __init__(self, events, logs):
        self._events, self._logs = events, logs

    def list_services(self):
        return []

    def list_events(self, *args):
        return self._events

    def list_nodes(self):
        return [node("aks-nodepool1-12345678-vmss000000")]

    def controller_logs(self):
        return self._logs

    def cluster_meta(self):
        return ClusterMeta(name="prod-aks", resource_group="prod-rg", captured_at=CAPTURED_AT)


def test_linear_on_100000_events():
    svc = service("web")
    noise = [
        event(
            obj("Pod", f"p-{i}"), "BackOff", f"Back-off restarting failed container in pod p-{i}", component="kubelet"
        )
        for i in range(200)
    ]
    normal = [event(svc, "EnsuredLoadBalancer", "Ensured load balancer", type="Normal") for _ in range(200)]
    throttled = [event(obj("Service", f"s-{i}"), "SyncLoadBalancerFailed", SUBSCRIPTION_THROTTLED) for i in range(100)]
    events = (noise * 200) + (normal * 200) + (throttled * 200)  # 100,000 events, 20,000 of them throttling
    log = LogText(
        "kube-system/cloud-controller-manager-1", "\n".join(PROVIDER_LINE.format(i % 60) for i in range(20000))
    )
    facts = Facts(target=Target("cluster", "prod-aks"), kube=_BigSource(events, [log]))
    report = engine.run(facts, include=["arm.throttling"])
    [finding] = findings(report, "arm.throttling")
    assert "20000 time(s) in 20000 event(s) on 100 object(s)" in finding.cause
    assert "20000 controller log line(s)" in finding.cause
