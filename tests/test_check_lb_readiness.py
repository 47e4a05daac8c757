"""lb.no-readiness-probe: serving containers without a readiness probe, grouped by the workload that owns them."""

from builders import container, deployment_pod, findings, outcome, pod, run_snapshot, service, write_snapshot

CHECK = "lb.no-readiness-probe"


def _run(tmp_path, *objects):
    snap = write_snapshot(tmp_path, [service("web"), *objects])
    report = run_snapshot(snap, service="default/web", include=[CHECK])
    return report, findings(report, CHECK)


def test_pods_without_probe_grouped_by_deployment(tmp_path):
    pods = [deployment_pod(f"web-{i}", "web", containers=[container(readiness=False)]) for i in range(7)]
    _, [finding] = _run(tmp_path, *pods)
    assert finding.severity.label == "warning"
    assert "7 of 7 pod(s)" in finding.cause
    assert "Deployment web: container(s) app in 7 pod(s): web-0, web-1, web-2, web-3, web-4 and 2 more" in finding.cause
    [evidence] = finding.evidence
    assert (evidence.source, evidence.ref, evidence.detail) == (
        "Pod",
        "Pod default/web-0 spec.containers[app].readinessProbe",
        "<absent>",
    )
    assert finding.fix.commands == ("kubectl -n default get deployment web -o yaml",)


def test_only_the_unprobed_pods_are_named(tmp_path):
    good = deployment_pod("web-new-1", "web", template_hash="new1")
    bad = deployment_pod("web-old-1", "web", template_hash="old1", containers=[container(readiness=False)])
    _, [finding] = _run(tmp_path, good, bad)
    assert "1 of 2 pod(s)" in finding.cause
    assert "web-old-1" in finding.cause and "web-new-1" not in finding.cause


def test_bare_pod_is_its_own_owner(tmp_path):
    _, [finding] = _run(tmp_path, pod("web-1", containers=[container(readiness=False)]))
    assert "Pod web-1" in finding.cause
    assert finding.fix.commands == ("kubectl -n default get pod web-1 -o yaml",)


def test_sidecar_without_probe_does_not_count_when_the_app_has_one(tmp_path):
    sidecar = container("log-shipper", ports=(), readiness=False)
    assert _run(tmp_path, pod("web-1", containers=[container(), sidecar]))[1] == []


def test_serving_container_without_probe_fires_even_if_a_sidecar_has_one(tmp_path):
    app = container(readiness=False)
    sidecar = container("mesh-proxy", ports=[{"name": "admin", "containerPort": 15000}], readiness=True)
    _, [finding] = _run(tmp_path, pod("web-1", containers=[app, sidecar]))
    assert [e.ref for e in finding.evidence] == ["Pod default/web-1 spec.containers[app].readinessProbe"]


def test_quiet_when_every_pod_has_a_probe(tmp_path):
    report, found = _run(tmp_path, pod("web-1"), pod("web-2"))
    assert found == []
    assert outcome(report, CHECK) == ("passed", "")


def test_not_applicable_without_pods(tmp_path):
    report, _ = _run(tmp_path, pod("api-1", labels={"app": "api"}))
    assert outcome(report, CHECK)[0] == "not-applicable"


def test_finished_pods_are_ignored(tmp_path):
    report, found = _run(tmp_path, pod("web-1", phase="Succeeded", containers=[container(readiness=False)]))
    assert found == []
    assert outcome(report, CHECK)[0] == "not-applicable"
