"""version.unsupported and version.known-issue on snapshots with fixed versions and capture times."""

from __future__ import annotations

import pytest
from builders import event, findings, node, outcome, run_snapshot, service, write_snapshot

from aksdoctor.checks.version_known_issue import TRIGGER_KINDS, triggers
from aksdoctor.model import Severity
from aksdoctor.versions import known_issues, parse_range

UNSUPPORTED = "version.unsupported"
KNOWN = "version.known-issue"
GET_UPGRADES = "az aks get-upgrades --resource-group prod-rg --name prod-aks -o table"


def snapshot(tmp_path, version, captured_at="2026-11-27T10:00:00Z", objects=(), **kwargs):
    meta = {"kubernetesVersion": version, "capturedAt": captured_at}
    return write_snapshot(tmp_path, list(objects), meta=meta, **kwargs)


def by_issue(report, issue_id):
    """The known-issue findings for one knowledge entry (matched by title)."""
    issue = next(i for i in known_issues() if i.id == issue_id)
    return [f for f in findings(report, KNOWN) if f.title == f"Known issue: {issue.title}"]


# ---- version.unsupported ----------------------------------------------------------------------------------


def test_end_of_life_is_an_error(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.29.4"), include=[UNSUPPORTED])
    [finding] = findings(report, UNSUPPORTED)
    assert finding.severity.label == "error"
    assert "out of AKS support" in finding.cause and "2026-11-27" in finding.cause
    assert finding.evidence[0].source == "Version"
    assert finding.evidence[0].ref == "API server version (snapshot kubernetesVersion)"
    assert finding.evidence[0].detail == "v1.29.4"
    assert finding.evidence[1].detail == "GA 2024-03-31, end of life 2025-03-31, LTS end 2026-04-30"
    assert finding.fix.commands == (
        GET_UPGRADES,
        "az aks upgrade --resource-group prod-rg --name prod-aks --kubernetes-version 1.34",
    )
    assert finding.docs == ("https://learn.microsoft.com/azure/aks/supported-kubernetes-versions",)


def test_platform_support_is_a_warning(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.33.2", "2026-08-21T08:00:00Z"), include=[UNSUPPORTED])
    [finding] = findings(report, UNSUPPORTED)
    assert finding.severity.label == "warning"
    assert "platform support only" in finding.cause
    assert finding.fix.commands[-1].endswith("--kubernetes-version 1.34")


def test_lts_only_cannot_be_told_from_kubernetes(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.31.4"), include=[UNSUPPORTED])
    [finding] = findings(report, UNSUPPORTED)
    assert finding.severity.label == "warning"
    assert "supported only with the Premium tier's LTS" in finding.cause
    assert finding.fix.commands[0] == (
        "az aks show --resource-group prod-rg --name prod-aks "
        "--query '{tier: sku.tier, supportPlan: supportPlan}' -o table"
    )


def test_supported_but_ending_soon_is_info_with_the_date(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.34.1", "2026-10-15T00:00:00Z"), include=[UNSUPPORTED])
    [finding] = findings(report, UNSUPPORTED)
    assert finding.severity.label == "info"
    assert "ends on 2026-11-30 (46 days after 2026-10-15)" in finding.cause
    assert finding.fix.commands[-1].endswith("--kubernetes-version 1.35")


def test_supported_version_passes(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.35.2"), include=[UNSUPPORTED])
    assert findings(report, UNSUPPORTED) == []
    assert outcome(report, UNSUPPORTED) == ("passed", "")


def test_preview_or_unknown_minor_is_info(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.40.0"), include=[UNSUPPORTED])
    [finding] = findings(report, UNSUPPORTED)
    assert finding.severity.label == "info"
    assert "not in aksdoctor's AKS release calendar" in finding.cause
    assert finding.fix.commands == (GET_UPGRADES,)


def test_now_is_the_capture_time(tmp_path):
    # the same version is supported in one snapshot and out of support in a later one
    early = run_snapshot(snapshot(tmp_path / "a", "v1.32.3", "2025-12-01T00:00:00Z"), include=[UNSUPPORTED])
    late = run_snapshot(snapshot(tmp_path / "b", "v1.32.3", "2027-05-01T00:00:00Z"), include=[UNSUPPORTED])
    assert outcome(early, UNSUPPORTED)[0] == "passed"
    assert [f.severity.label for f in findings(late, UNSUPPORTED)] == ["error"]


def test_unparseable_version_is_skipped_with_its_text(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "latest-and-greatest"), include=[UNSUPPORTED, KNOWN])
    reason = "cannot read the Kubernetes version 'latest-and-greatest'"
    assert outcome(report, UNSUPPORTED) == ("skipped", reason)
    assert outcome(report, KNOWN) == ("skipped", reason)


def test_kubelet_fallback_is_named_as_such(tmp_path):
    nodes = [node("aks-pool-0", kubelet_version="v1.28.9"), node("aks-pool-1", kubelet_version="v1.28.3")]
    snap = snapshot(tmp_path, None, objects=nodes)
    [finding] = findings(run_snapshot(snap, include=[UNSUPPORTED]), UNSUPPORTED)
    assert finding.evidence[0].ref == (
        "Node aks-pool-0 status.nodeInfo.kubeletVersion (newest kubelet; no API server version)"
    )
    assert finding.evidence[0].detail == "v1.28.9"


def test_unknown_resource_group_gets_a_placeholder(tmp_path):
    snap = write_snapshot(tmp_path, [], meta={"kubernetesVersion": "v1.29.4", "cluster": {}})
    [finding] = findings(run_snapshot(snap, include=[UNSUPPORTED]), UNSUPPORTED)
    assert finding.fix.commands[0] == "az aks get-upgrades --resource-group '<resource-group>' --name prod-aks -o table"


def test_unsupported_is_not_run_for_one_service(tmp_path):
    snap = snapshot(tmp_path, "v1.29.4", objects=[service("web")])
    report = run_snapshot(snap, service="default/web")
    assert UNSUPPORTED not in {o.id for o in report.checks}
    assert KNOWN in {o.id for o in report.checks}


# ---- version.known-issue: version match ------------------------------------------------------------------


def test_trigger_data_is_well_formed():
    kinds = {spec["kind"] for issue in known_issues() for spec in triggers(issue)}
    assert kinds <= set(TRIGGER_KINDS)
    assert {"node_label", "service_app_protocol_without_probe_path", "error_code", "log_signature"} <= kinds
    for issue in known_issues():
        Severity.parse(issue.extra.get("severity") or "warning")
        if "behaviour_versions" in issue.extra:
            assert parse_range(issue.extra["behaviour_versions"]) is not None


def test_version_match_alone_is_a_warning(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.15.9", captured_kinds=["Event"]), include=[KNOWN])
    [finding] = by_issue(report, "pip-dns-label-removed")
    assert finding.severity.label == "warning"
    assert finding.title.startswith("Known issue: PIP DNS label deleted")
    assert "Kubernetes 1.15.9 has a known cloud-provider bug (pip-dns-label-removed)" in finding.cause
    assert "Fixed in 1.15.10 for 1.15" in finding.cause
    assert "It leaves no trace aksdoctor can look for: the version alone matches." in finding.cause
    assert [(e.source, e.detail) for e in finding.evidence] == [
        ("Version", "v1.15.9"),
        (
            "Version",
            "affected: 1.14.10, 1.15.7-1.15.9, 1.16.0-1.16.6, 1.17.0-1.17.2; fixed_in: 1.15.10, 1.16.7, 1.17.3, 1.18.0",
        ),
    ]
    assert finding.fix.commands == (
        GET_UPGRADES,
        "az aks upgrade --resource-group prod-rg --name prod-aks --kubernetes-version 1.15.10",
    )
    assert "https://github.com/kubernetes/kubernetes/issues/87127" in finding.docs
    assert by_issue(report, "vmss-cache-inconsistent") and by_issue(report, "route-table-concurrent-update")


def test_minor_below_every_fix_names_the_next_fixed_release(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.14.5"), include=[KNOWN])
    [finding] = by_issue(report, "vmss-backend-lost-on-latest-model")
    # fixed in 1.14.7 for Basic LB but only from 1.15.12 for Standard LB: the safe target is the later one
    assert finding.fix.commands[-1].endswith("--kubernetes-version 1.15.12")
    assert "basic_lb: 1.14.7, 1.15.4, 1.16.0" in finding.evidence[1].detail


def test_trigger_error_code_raises_to_error(tmp_path):
    svc = service("web")
    message = (
        "Error syncing load balancer: failed to ensure load balancer: Retriable: true, RetryAfter: 0s, "
        'HTTPStatusCode: 409, RawError: {"error":{"code":"RetryableError","message":"A retryable error occurred."}}'
    )
    snap = snapshot(tmp_path, "v1.15.9", objects=[svc, event(svc, "SyncLoadBalancerFailed", message)])
    report = run_snapshot(snap, include=[KNOWN])
    [finding] = by_issue(report, "route-table-concurrent-update")
    assert finding.severity.label == "error"
    assert "Seen here: RetryableError in event SyncLoadBalancerFailed on Service default/web" in finding.cause
    assert finding.evidence[-1].source == "Event" and finding.evidence[-1].detail == message
    # a version-matched bug without such evidence stays a warning
    [other] = by_issue(report, "pip-dns-label-removed")
    assert other.severity.label == "warning"


def test_error_code_only_named_in_prose_is_not_evidence(tmp_path):
    svc = service("web")
    message = "retrying after RetryableError was seen earlier"  # no ARM error in it
    snap = snapshot(tmp_path, "v1.15.9", objects=[svc, event(svc, "Note", message)])
    [finding] = by_issue(run_snapshot(snap, include=[KNOWN]), "route-table-concurrent-update")
    assert finding.severity.label == "warning"


def test_trigger_log_signature_in_controller_log(tmp_path):
    line = (
        "E0301 10:00:00.000001 1 azure_loadbalancer.go:95] "
        "Expected to find an IP address for service default/web but did not"
    )
    logs = {"kube-system/kube-controller-manager-master-0.log": f"I0301 starting\n{line}\n"}
    report = run_snapshot(snapshot(tmp_path, "v1.9.3", logs=logs), include=[KNOWN])
    [finding] = by_issue(report, "pip-not-deleted-frontend-quota")
    assert finding.severity.label == "error"
    assert finding.evidence[-1].source == "Log"
    assert finding.evidence[-1].ref == "kube-system/kube-controller-manager-master-0:2"
    assert finding.evidence[-1].detail == line


def test_trigger_node_label_on_version_matched_bug(tmp_path):
    nodes = [node("aks-pool-0"), node("onprem-1", labels={"kubernetes.azure.com/managed": "false"})]
    report = run_snapshot(snapshot(tmp_path, "v1.16.13", objects=nodes), include=[KNOWN])
    [finding] = by_issue(report, "unmanaged-nodes-in-vmss-pool")
    assert finding.severity.label == "error"
    assert finding.resource == "Node onprem-1"
    assert "Seen here: Node onprem-1 (kubernetes.azure.com/managed=false)" in finding.cause
    assert finding.evidence[-1].detail == "false"


def test_trigger_service_annotation_value(tmp_path):
    svc = service("internal", annotations={"service.beta.kubernetes.io/azure-load-balancer-internal-subnet": ""})
    report = run_snapshot(snapshot(tmp_path, "v1.13.4", objects=[svc]), include=[KNOWN])
    [finding] = by_issue(report, "ilb-subnet-annotation-empty")
    assert finding.severity.label == "error"
    assert finding.resource == "Service default/internal"


# ---- version.known-issue: uncertain version match ---------------------------------------------------------


def test_uncertain_version_reported_only_with_trigger_as_info(tmp_path):
    unmanaged = node("onprem-1", labels={"kubernetes.azure.com/managed": "false"})
    with_trigger = run_snapshot(snapshot(tmp_path / "a", "v1.18.5", objects=[node(), unmanaged]), include=[KNOWN])
    [finding] = by_issue(with_trigger, "unmanaged-nodes-in-vmss-pool")
    assert finding.severity.label == "info"
    assert "The version match is uncertain" in finding.cause
    assert "Fixed releases listed: 1.16.14, 1.20.0" in finding.cause
    assert finding.fix.commands[-1].endswith("--kubernetes-version 1.20.0")

    without = run_snapshot(snapshot(tmp_path / "b", "v1.18.5", objects=[node()]), include=[KNOWN])
    assert by_issue(without, "unmanaged-nodes-in-vmss-pool") == []


def test_modern_cluster_without_evidence_passes(tmp_path):
    snap = snapshot(tmp_path, "v1.33.2", objects=[node(), service("web")])
    report = run_snapshot(snap, include=[KNOWN])
    assert findings(report, KNOWN) == []
    assert outcome(report, KNOWN) == ("passed", "")


def test_control_plane_labels_are_info(tmp_path):
    cp = node("cp-0", labels={"node-role.kubernetes.io/control-plane": ""})
    [finding] = by_issue(
        run_snapshot(snapshot(tmp_path, "v1.33.2", objects=[cp]), include=[KNOWN]), "excludemaster-doc-mismatch"
    )
    assert finding.severity.label == "info"
    assert "no fixed release" in finding.cause


# ---- version.known-issue: appProtocol makes the provider probe HTTP(S) / ---------------------------------

NGINX_PORTS = (
    {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"},
    {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP", "appProtocol": "https"},
)
PATH_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path"


def nginx(**kwargs):
    return service("ingress-nginx-controller", "ingress-nginx", ports=NGINX_PORTS, **kwargs)


def test_app_protocol_without_probe_path_fires(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.32.6", objects=[nginx(), service("web")]), include=[KNOWN])
    [finding] = by_issue(report, "http-probe-appprotocol")
    assert finding.severity.label == "warning"
    assert finding.resource == "Service ingress-nginx/ingress-nginx-controller"
    assert "Service ingress-nginx/ingress-nginx-controller port 80 (appProtocol http)" in finding.cause
    assert "port 443 (appProtocol https)" in finding.cause
    assert "introduced: cloud-provider-azure v1.24" in finding.cause
    assert [(e.ref, e.detail) for e in finding.evidence[1:]] == [
        ("Service ingress-nginx/ingress-nginx-controller spec.ports[0].appProtocol", "http"),
        ("Service ingress-nginx/ingress-nginx-controller spec.ports[1].appProtocol", "https"),
    ]
    assert finding.fix.commands == (
        f"kubectl annotate service -n ingress-nginx ingress-nginx-controller {PATH_ANNOTATION}=/healthz",
    )
    assert "https://github.com/Azure/AKS/issues/2903" in finding.docs


def test_app_protocol_quiet_before_the_behaviour_existed(tmp_path):
    report = run_snapshot(snapshot(tmp_path, "v1.18.5", objects=[nginx()]), include=[KNOWN])
    assert by_issue(report, "http-probe-appprotocol") == []


def test_app_protocol_fires_under_lb_too(tmp_path):
    snap = snapshot(tmp_path, "v1.32.6", objects=[nginx()])
    report = run_snapshot(snap, service="ingress-nginx/ingress-nginx-controller", include=[KNOWN])
    assert [f.severity.label for f in by_issue(report, "http-probe-appprotocol")] == ["warning"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"annotations": {PATH_ANNOTATION: "/healthz"}},
        {
            "annotations": {
                "service.beta.kubernetes.io/port_80_health-probe_protocol": "tcp",
                "service.beta.kubernetes.io/port_443_health-probe_request-path": "/healthz",
            }
        },
        {
            "annotations": {
                "service.beta.kubernetes.io/port_80_no_probe_rule": "true",
                "service.beta.kubernetes.io/port_443_no_lb_rule": "True",
            }
        },
        {"external_traffic_policy": "Local"},
    ],
    ids=["request-path", "per-port", "no-probe", "etp-local"],
)
def test_app_protocol_quiet_when_probe_is_chosen(tmp_path, kwargs):
    report = run_snapshot(snapshot(tmp_path, "v1.32.6", objects=[nginx(**kwargs)]), include=[KNOWN])
    assert by_issue(report, "http-probe-appprotocol") == []
    assert outcome(report, KNOWN) == ("passed", "")


def test_app_protocol_names_only_the_unprobed_port(tmp_path):
    svc = nginx(annotations={"service.beta.kubernetes.io/port_443_health-probe_protocol": "tcp"})
    [finding] = by_issue(
        run_snapshot(snapshot(tmp_path, "v1.32.6", objects=[svc]), include=[KNOWN]), "http-probe-appprotocol"
    )
    assert "port 80 (appProtocol http)" in finding.cause
    assert "port 443" not in finding.cause
