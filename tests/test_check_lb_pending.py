"""lb.pending: a Service without an IP and no specific cause; quiet when it has an IP or another check explains it."""

from __future__ import annotations

from builders import (
    SUB,
    SYNC_FAILED,
    event,
    findings,
    outcome,
    retriable_error,
    run_snapshot,
    service,
    write_snapshot,
)

NS_EVENTS = "kubectl get events -n default --field-selector involvedObject.kind=Service,involvedObject.name=web"
CLUSTER_ID = (
    f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.ContainerService/managedClusters/prod-aks"
)


def run(tmp_path, svc, *objects, **kw):
    snap = write_snapshot(tmp_path, [svc, *objects], captured_kinds=["Event"], **kw)
    return run_snapshot(snap, service="default/web")


def pending(**kw):
    return service("web", ingress_ip=None, **kw)


def test_no_events_at_all(tmp_path):
    report = run(tmp_path, pending())
    [finding] = findings(report, "lb.pending")
    assert finding.severity.label == "error"
    assert "no ingress IP" in finding.cause
    assert "There are no load-balancer events for it: events expire after an hour" in finding.cause
    assert "diagnostic settings (category cloud-controller-manager)" in finding.cause
    assert "node.excluded-from-lb" in finding.cause
    assert finding.evidence[0].ref == "Service default/web status.loadBalancer.ingress"
    assert finding.evidence[0].detail == "<absent>"
    assert finding.fix.commands[:2] == ("kubectl describe service web -n default", NS_EVENTS)
    assert finding.fix.commands[2] == (
        "az monitor diagnostic-settings create --name cloud-controller-manager --resource "
        f"{CLUSTER_ID} --workspace '<log-analytics-workspace-id>' "
        """--logs '[{"category": "cloud-controller-manager", "enabled": true}]'"""
    )


def test_only_normal_events(tmp_path):
    svc = pending()
    ensuring = event(svc, "EnsuringLoadBalancer", "Ensuring load balancer", type="Normal", count=4)
    report = run(tmp_path, svc, ensuring)
    [finding] = findings(report, "lb.pending")
    assert "Its events carry no error (newest: EnsuringLoadBalancer at 2026-11-27T09:58:00Z)" in finding.cause
    [cited] = [e for e in finding.evidence if e.source == "Event"]
    assert cited.detail == "Ensuring load balancer"
    assert "Normal EnsuringLoadBalancer x4" in cited.ref


def test_specific_cause_silences_pending(tmp_path):
    svc = pending()
    message = (
        "The client 'a7d3c2e1-5b4f-4a6e-9c8d-0f1e2d3c4b5a' with object id '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b' "
        "does not have authorization to perform action 'Microsoft.Network/loadBalancers/read' over scope "
        f"'/subscriptions/{SUB}/resourceGroups/mc' or the scope is invalid."
    )
    text = SYNC_FAILED + retriable_error(403, "AuthorizationFailed", message)
    report = run(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text))
    assert findings(report, "lb.pending") == []
    assert outcome(report, "lb.pending") == (
        "not-applicable",
        "no ingress IP yet; the cause is reported by lb.permission-denied",
    )
    assert [f.severity.label for f in findings(report, "lb.permission-denied")] == ["error"]


def test_no_available_nodes(tmp_path):
    svc = pending()
    unavailable = event(svc, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
    [finding] = findings(run(tmp_path, svc, unavailable), "lb.pending")
    assert "found no node to put behind it" in finding.cause
    assert "node.excluded-from-lb" in finding.fix.summary


def test_unowned_provider_error_is_reported(tmp_path):
    svc = pending()
    text = SYNC_FAILED + 'ensure(default/web): lb(kubernetes) - failed to ensure host in pool: "instance not found"'
    [finding] = findings(run(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.pending")
    assert "The provider reports instance-not-found (a node has no Azure VM behind it" in finding.cause
    assert any(e.detail == text for e in finding.evidence)


def test_unrecognised_warning(tmp_path):
    svc = pending()
    text = SYNC_FAILED + "context deadline exceeded"
    [finding] = findings(run(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.pending")
    assert "Warning events name no cause aksdoctor recognises; read them in the evidence" in finding.cause


def test_just_created_is_still_provisioning(tmp_path):
    svc = pending()
    svc["metadata"]["creationTimestamp"] = "2026-11-27T09:59:30Z"  # 30s before capture
    report = run(tmp_path, svc, event(svc, "EnsuringLoadBalancer", "Ensuring load balancer", type="Normal"))
    [finding] = findings(report, "lb.pending")
    assert finding.severity.label == "info"
    assert "created 30s ago and is probably still provisioning" in finding.cause
    assert finding.fix.summary.startswith("Wait a minute")


def test_controller_logs_are_evidence(tmp_path):
    svc = pending()
    logs = {
        "kube-system/cloud-controller-manager-7d9f8.log": (
            "I1127 09:57:00.000000       1 azure_loadbalancer.go:120] reconcileLoadBalancer for service(default/web): "
            "started\n"
        )
    }
    [finding] = findings(run(tmp_path, svc, logs=logs), "lb.pending")
    [line] = [e for e in finding.evidence if e.source == "Log"]
    assert line.ref == "kube-system/cloud-controller-manager-7d9f8:1"
    assert "controller logs were not read" not in finding.cause
    assert not any("diagnostic-settings" in c for c in finding.fix.commands)


def test_passed_with_an_ingress_ip(tmp_path):
    report = run(tmp_path, service("web"))
    assert findings(report, "lb.pending") == []
    assert outcome(report, "lb.pending") == ("passed", "")


def test_load_balancer_class_is_not_azure(tmp_path):
    report = run(tmp_path, pending(loadBalancerClass="metallb.io/metallb"))
    status, reason = outcome(report, "lb.pending")
    assert status == "not-applicable"
    assert "metallb.io/metallb" in reason


def test_skipped_without_events(tmp_path):
    snap = write_snapshot(tmp_path, [pending()])
    assert outcome(run_snapshot(snap, service="default/web"), "lb.pending") == ("skipped", "not in snapshot: events")


def test_ensured_after_resolved_errors_but_no_ip(tmp_path):
    svc = pending()
    message = (
        "The client 'a7d3c2e1-5b4f-4a6e-9c8d-0f1e2d3c4b5a' with object id '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b' "
        "does not have authorization to perform action 'Microsoft.Network/loadBalancers/write' over scope "
        f"'/subscriptions/{SUB}/resourceGroups/mc' or the scope is invalid."
    )
    failed = event(
        svc,
        "SyncLoadBalancerFailed",
        SYNC_FAILED + retriable_error(403, "AuthorizationFailed", message),
        last="2026-11-27T09:40:00Z",
    )
    ensured = event(svc, "EnsuredLoadBalancer", "Ensured load balancer", type="Normal", last="2026-11-27T09:45:00Z")
    report = run(tmp_path, svc, failed, ensured)
    [finding] = findings(report, "lb.pending")
    assert "last ensured its load balancer at 2026-11-27T09:45:00Z" in finding.cause
    assert [f.severity.label for f in findings(report, "lb.permission-denied")] == ["info"]
