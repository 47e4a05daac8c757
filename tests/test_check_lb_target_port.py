"""lb.target-port-mismatch: named ports must resolve in every pod; numeric ones should be declared somewhere."""

from builders import container, deployment_pod, findings, outcome, pod, run_snapshot, service, write_snapshot

CHECK = "lb.target-port-mismatch"


def _run(tmp_path, svc, *pods):
    snap = write_snapshot(tmp_path, [svc, *pods])
    report = run_snapshot(snap, service=f"{svc['metadata']['namespace']}/{svc['metadata']['name']}", include=[CHECK])
    return report, findings(report, CHECK)


def test_named_target_port_that_no_pod_declares(tmp_path):
    svc = service("web", ports=[{"name": "http", "port": 80, "targetPort": "web"}])
    _, [finding] = _run(tmp_path, svc, pod("web-1"), pod("web-2"))
    assert finding.severity.label == "error"
    assert "named 'web'" in finding.cause and "none of the 2 selected pod(s)" in finding.cause
    assert finding.evidence[0].ref == "Service default/web spec.ports[0]"
    assert finding.evidence[0].detail == "name=http port=80 targetPort=web protocol=TCP"
    assert finding.evidence[1].ref == "Pod default/web-1 spec.containers[*].ports"
    assert finding.evidence[1].detail == "app: http=8080/TCP"
    assert finding.fix.commands[0] == (
        "kubectl -n default patch service web --type=json -p "
        """'[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": "http"}]'"""
    )


def test_named_port_missing_in_some_pods_names_them(tmp_path):
    svc = service("web", ports=[{"name": "http", "port": 80, "targetPort": "web"}])
    new = container(ports=[{"name": "web", "containerPort": 8080, "protocol": "TCP"}])
    pods = [
        deployment_pod("web-new-1", "web", template_hash="aaa", containers=[new]),
        deployment_pod("web-old-1", "web", template_hash="bbb"),
        deployment_pod("web-old-2", "web", template_hash="bbb"),
    ]
    _, [finding] = _run(tmp_path, svc, *pods)
    assert finding.severity.label == "warning"
    assert "2 of 3 selected pods do not declare" in finding.cause
    assert "web-old-1, web-old-2" in finding.cause
    refs = [e.ref for e in finding.evidence]
    assert "Pod default/web-old-1 spec.containers[*].ports" in refs
    assert "Pod default/web-new-1 spec.containers[*].ports" in refs  # a pod that has it, for contrast
    assert finding.fix.commands == ("kubectl -n default get deployment web -o yaml",)


def test_numeric_target_port_not_declared_is_a_warning(tmp_path):
    svc = service("web", ports=[{"name": "http", "port": 80, "targetPort": 80}])
    _, [finding] = _run(tmp_path, svc, pod("web-1"))
    assert finding.severity.label == "warning"
    assert "declare only 8080/TCP" in finding.cause
    assert '"value": 8080' in finding.fix.commands[0]


def test_protocol_must_match(tmp_path):
    svc = service("dns", ports=[{"name": "dns", "port": 53, "targetPort": "dns", "protocol": "UDP"}])
    app = container(ports=[{"name": "dns", "containerPort": 53, "protocol": "TCP"}])
    _, [finding] = _run(tmp_path, svc, pod("dns-1", labels={"app": "dns"}, containers=[app]))
    assert finding.severity.label == "error"
    assert "declare 'dns' only as TCP" in finding.cause


def test_quiet_when_ports_match(tmp_path):
    report, found = _run(tmp_path, service("web"), pod("web-1"))
    assert found == []
    assert outcome(report, CHECK) == ("passed", "")


def test_missing_target_port_means_the_port(tmp_path):
    svc = service("web", ports=[{"name": "http", "port": 8080}])
    assert _run(tmp_path, svc, pod("web-1"))[1] == []


def test_numeric_port_quiet_when_pods_declare_no_ports(tmp_path):
    svc = service("web", ports=[{"name": "http", "port": 80, "targetPort": 9000}])
    assert _run(tmp_path, svc, pod("web-1", containers=[container(ports=())]))[1] == []


def test_named_port_on_a_native_sidecar_counts(tmp_path):
    svc = service("web", ports=[{"name": "http", "port": 80, "targetPort": "proxy"}])
    sidecar_pod = pod("web-1")
    sidecar_pod["spec"]["initContainers"] = [
        {
            "name": "proxy",
            "image": "registry.example.com/proxy:1.0",
            "restartPolicy": "Always",
            "ports": [{"name": "proxy", "containerPort": 15001, "protocol": "TCP"}],
        }
    ]
    assert _run(tmp_path, svc, sidecar_pod)[1] == []


def test_not_applicable_without_pods(tmp_path):
    report, found = _run(tmp_path, service("web"), pod("api-1", labels={"app": "api"}))
    assert found == []
    assert outcome(report, CHECK)[0] == "not-applicable"


def test_skipped_when_pods_not_captured(tmp_path):
    snap = write_snapshot(tmp_path, [service("web")])
    report = run_snapshot(snap, service="default/web", include=[CHECK])
    assert outcome(report, CHECK) == ("skipped", "not in snapshot: pods")
