"""lb.no-endpoints: fires when nothing ready stands behind the Service, quiet when something does."""

from builders import endpoint_slice, findings, outcome, pod, run_snapshot, service, write_snapshot


def test_selector_matches_no_pod(tmp_path):
    svc = service("web", selector={"app": "web"})
    snap = write_snapshot(tmp_path, [svc, pod("api-1", labels={"app": "api"})], captured_kinds=["EndpointSlice"])
    report = run_snapshot(snap, service="default/web")
    [finding] = findings(report, "lb.no-endpoints")
    assert finding.severity.label == "error"
    assert "matches no pod" in finding.cause
    assert finding.evidence[0].detail == "app=web"
    assert finding.fix.commands == ("kubectl get pods -n default --show-labels",)


def test_pods_not_ready(tmp_path):
    svc = service("web")
    slice_ = endpoint_slice(svc, [("10.244.0.10", False, "n1")])
    snap = write_snapshot(tmp_path, [svc, pod("web-1", ready=False), slice_])
    [finding] = findings(run_snapshot(snap, service="default/web"), "lb.no-endpoints")
    assert "none is ready" in finding.cause
    assert any(e.ref == "Pod default/web-1" for e in finding.evidence)


def test_quiet_with_ready_endpoint(tmp_path):
    svc = service("web")
    snap = write_snapshot(tmp_path, [svc, pod("web-1"), endpoint_slice(svc)])
    report = run_snapshot(snap, service="default/web")
    assert findings(report, "lb.no-endpoints") == []
    assert outcome(report, "lb.no-endpoints") == ("passed", "")


def test_falls_back_to_endpoints_object(tmp_path):
    svc = service("web")
    eps = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.0.10"}], "ports": [{"port": 8080}]}],
    }
    snap = write_snapshot(tmp_path, [svc, pod("web-1"), eps])
    assert findings(run_snapshot(snap, service="default/web"), "lb.no-endpoints") == []


def test_skipped_when_pods_not_captured(tmp_path):
    snap = write_snapshot(tmp_path, [service("web")])
    report = run_snapshot(snap, service="default/web")
    assert outcome(report, "lb.no-endpoints") == ("skipped", "not in snapshot: pods")
