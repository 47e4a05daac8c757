"""The bundled example (examples/broken-cluster), the snapshot README's first command diagnoses: a broken AKS cluster
seen from both planes, Kubernetes and Azure/Graph.

The findings are pinned as a golden list, so any change in what the example shows is deliberate: a new check that
fires, a check that stops firing, or an edit of the example all fail here until the list is updated on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aksdoctor import engine
from aksdoctor.checks import all_checks
from aksdoctor.facts import Facts
from aksdoctor.model import Report, Status, Target
from aksdoctor.render.path import Verdict, hops
from aksdoctor.sources.snapshot import SnapshotSource

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "broken-cluster"
MAX_BYTES = 200_000

# (check id, resource, severity) of every finding `cluster` reports on the example.
GOLDEN = {
    # Kubernetes side
    ("gpu.device-plugin-missing", "Node aks-gpu-27182818-vmss000000", "error"),
    ("lb.annotation-invalid", "Service default/orders-api", "error"),
    ("lb.permission-denied", "Service shop/storefront", "error"),
    ("lb.quota-exceeded", "Service monitoring/grafana", "error"),
    ("lb.target-port-mismatch", "Service payments/checkout", "error"),
    ("lb.no-readiness-probe", "Service payments/checkout", "warning"),
    ("lb.throttled", "Service reporting/exports", "warning"),
    ("arm.throttling", "Cluster prod-aks", "warning"),
    ("lb.ilb-hairpin", "Service reporting/exports", "info"),
    ("node.reboot-pending", "DaemonSet kube-system/kured", "error"),
    ("node.virtual-not-excluded", "Node virtual-node-aci-linux", "error"),
    ("tunnel.unhealthy", "Deployment kube-system/konnectivity-agent", "error"),
    ("version.unsupported", "Cluster prod-aks", "error"),
    ("version.known-issue", "Service ingress-nginx/ingress-nginx-controller", "warning"),
    # Azure / Graph side
    ("identity.sp-expired", "Cluster prod-aks", "warning"),  # the only client secret ends in 12 days
    ("identity.service-principal", "Cluster prod-aks", "info"),
    ("lb.probe-mismatch", "Service ingress-nginx/ingress-nginx-controller", "warning"),  # HTTP "/" -> 404 trap
    ("lb.nsg-blocks-traffic", "Service payments/checkout", "error"),  # deny-internet-443 at priority 400
    ("node.vm-unhealthy", "Node aks-user-16180339-vmss000003", "error"),  # instance 3 deallocated
    ("azure.orphaned-public-ip", "Cluster prod-aks", "warning"),  # tagged for the deleted staging/legacy-api
    # The throttled sync built the exports ILB frontend (10.225.0.4) but never wrote the Service's status.
    ("lb.frontend-drift", "Service reporting/exports", "error"),
}

# Checks allowed to be skipped on the example, and why the data cannot be there.
EXPECTED_SKIPS = {
    # AKS runs the cloud provider in the managed control plane: no kube-system/azure-cloud-provider Secret, and
    # azure.json lives only on the nodes, so a snapshot of an AKS cluster usually has no cloud config.
    "identity.cloud-config": "not in snapshot: files/azure.json or Secret kube-system/azure-cloud-provider",
}


def run(target: Target) -> Report:
    """What `kubectl-aksdoctor lb|cluster --snapshot EXAMPLE` runs: the snapshot is the Kubernetes and Azure source."""
    source = SnapshotSource(EXAMPLE)
    return engine.run(Facts(target=target, kube=source, azure=source))


@pytest.fixture(scope="module")
def cluster_report() -> Report:
    return run(Target("cluster", "prod-aks"))


def test_cluster_findings_are_the_golden_list(cluster_report):
    found = [(f.id, f.resource, f.severity.label) for f in cluster_report.findings]
    assert len(found) == len(set(found)), "one finding per check and resource"
    assert set(found) == GOLDEN


def test_the_healthy_service_has_no_finding(cluster_report):
    assert [f.id for f in cluster_report.findings if f.resource == "Service web/frontend"] == []


def test_every_check_ran_or_does_not_apply(cluster_report):
    outcomes = {o.id: o for o in cluster_report.checks}
    assert set(outcomes) == set(all_checks()), "every catalog check has an outcome in `cluster`"
    skipped = {o.id: o.reason for o in cluster_report.checks if o.status is Status.SKIPPED}
    assert skipped == EXPECTED_SKIPS


@pytest.mark.parametrize(
    ("check_id", "text"),
    [
        ("identity.sp-expired", "ends 2026-12-08T17:32:10Z (expires in 12 days)"),
        ("lb.probe-mismatch", 'answers "/" with 404'),
        ("lb.nsg-blocks-traffic", "TCP 443 from Internet to 20.103.88.57 is denied by rule deny-internet-443"),
        ("node.vm-unhealthy", "stopped or deallocated"),
        ("azure.orphaned-public-ip", "its service tag names staging/legacy-api"),
        ("lb.frontend-drift", "with IP 10.225.0.4, but the Service's status has no IP"),
    ],
)
def test_each_azure_problem_reads_as_intended(cluster_report, check_id, text):
    (finding,) = [f for f in cluster_report.findings if f.id == check_id]
    assert text in finding.cause


def test_the_deallocated_instance_is_cited_from_its_instance_view(cluster_report):
    (finding,) = [f for f in cluster_report.findings if f.id == "node.vm-unhealthy"]
    assert [e.detail for e in finding.evidence] == ["PowerState/deallocated (VM deallocated)"]


F, P, U, N = Verdict.FAILED, Verdict.PASSED, Verdict.UNKNOWN, Verdict.UNJUDGED
# The Backend pool and Node hops fail on every Service: node.virtual-not-excluded and node.vm-unhealthy are cluster
# checks that `lb` also runs (the virtual node breaks every pool sync; the deallocated VM is in every pool).
PATHS = {
    "web/frontend": {
        "Service": (P, ""),
        "Frontend": (P, ""),
        "Rule": (P, ""),
        "Probe": (P, ""),
        "Backend pool": (F, "node.virtual-not-excluded"),
        "NSG": (P, ""),
        "Node": (F, "node.vm-unhealthy"),
        "Pod": (P, ""),
    },
    "payments/checkout": {
        "Service": (P, ""),
        "Frontend": (P, ""),
        "Rule": (P, ""),
        "Probe": (P, ""),
        "Backend pool": (F, "node.virtual-not-excluded"),
        "NSG": (F, "lb.nsg-blocks-traffic"),
        "Node": (F, "node.vm-unhealthy"),
        "Pod": (F, "lb.target-port-mismatch"),
    },
    "ingress-nginx/ingress-nginx-controller": {
        "Service": (P, ""),
        "Frontend": (P, ""),
        "Rule": (P, ""),
        "Probe": (F, "lb.probe-mismatch"),
        "Backend pool": (F, "node.virtual-not-excluded"),
        "NSG": (P, ""),
        "Node": (F, "node.vm-unhealthy"),
        "Pod": (P, ""),
    },
    "reporting/exports": {
        "Service": (F, "lb.throttled"),
        "Frontend": (F, "lb.frontend-drift"),
        "Rule": (F, "lb.frontend-drift"),
        "Probe": (P, ""),
        "Backend pool": (F, "node.virtual-not-excluded"),
        "NSG": (N, "no load balancer IP yet"),
        "Node": (F, "node.vm-unhealthy"),
        "Pod": (P, ""),
    },
}


@pytest.mark.parametrize("service", sorted(PATHS))
def test_lb_path_hop_by_hop(service):
    namespace, name = service.split("/")
    report = run(Target("service", "prod-aks", namespace, name))
    got = {h.name: h for h in hops(report)}
    assert list(got) == list(PATHS[service])
    for hop, (verdict, mentions) in PATHS[service].items():
        assert got[hop].verdict is verdict, (hop, got[hop].detail)
        assert mentions in got[hop].detail, (hop, got[hop].detail)
    assert not [o for o in report.checks if o.status is Status.SKIPPED and o.id not in EXPECTED_SKIPS]


def test_snapshot_reads_cleanly_and_stays_small():
    source = SnapshotSource(EXAMPLE)
    assert source.problems == [] and source.ignored == []
    files = [p for p in EXAMPLE.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < MAX_BYTES
    for path in (EXAMPLE / "azure").glob("*.json"):
        page = json.loads(path.read_text())
        assert set(page) == {"value"}, path.name  # a list page, as ARM returns it
        assert all(r["type"].startswith("Microsoft.") for r in page["value"]), path.name
