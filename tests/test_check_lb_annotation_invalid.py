"""lb.annotation-invalid: the validator's problems become findings with the right severity and fix."""

from builders import findings, outcome, run_snapshot, service, write_snapshot

INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal"


def test_typo_in_internal_annotation_is_an_error_with_rename_fix(tmp_path):
    svc = service("orders", annotations={"service.beta.kubernetes.io/azure-load-balancer-interal": "true"})
    report = run_snapshot(write_snapshot(tmp_path, [svc]), service="default/orders")
    [finding] = findings(report, "lb.annotation-invalid")
    assert finding.severity.label == "error"
    assert f"did you mean {INTERNAL}" in finding.cause
    assert finding.evidence[0].detail == "service.beta.kubernetes.io/azure-load-balancer-interal: 'true'"
    assert finding.fix.commands[0] == (f"kubectl annotate service -n default orders --overwrite {INTERNAL}=true")
    assert finding.fix.commands[1].endswith("service.beta.kubernetes.io/azure-load-balancer-interal-")


def test_invalid_value_quotes_the_provider_message(tmp_path):
    svc = service(annotations={"service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout": "2"})
    [finding] = findings(run_snapshot(write_snapshot(tmp_path, [svc]), service="default/web"), "lb.annotation-invalid")
    assert "between 4 and 100, actual value: 2" in finding.cause
    assert finding.severity.label == "error"


def test_deprecated_load_balancer_ip_is_a_warning(tmp_path):
    svc = service(loadBalancerIP="10.1.2.3")
    [finding] = findings(run_snapshot(write_snapshot(tmp_path, [svc]), service="default/web"), "lb.annotation-invalid")
    assert finding.severity.label == "warning"
    assert finding.evidence[0].ref == "Service default/web spec"


def test_quiet_for_valid_annotations(tmp_path):
    svc = service(
        annotations={INTERNAL: "true", "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout": "30"}
    )
    report = run_snapshot(write_snapshot(tmp_path, [svc]), service="default/web")
    assert findings(report, "lb.annotation-invalid") == []
    assert outcome(report, "lb.annotation-invalid") == ("passed", "")
