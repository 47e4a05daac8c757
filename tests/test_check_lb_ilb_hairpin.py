"""lb.ilb-hairpin: info for every internal LB; a warning when in-cluster traffic to the VIP goes through Azure."""

from builders import findings, outcome, run_snapshot, service, write_snapshot

CHECK = "lb.ilb-hairpin"
INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal"
NO_FLOATING_IP = "service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip"


def _run(tmp_path, svc):
    report = run_snapshot(write_snapshot(tmp_path, [svc]), service="default/web", include=[CHECK])
    return report, findings(report, CHECK)


def test_internal_lb_gets_the_limitation_as_info(tmp_path):
    svc = service("web", annotations={INTERNAL: "true"}, ingress_ip="10.224.0.100")
    _, [finding] = _run(tmp_path, svc)
    assert finding.severity.label == "info"
    assert finding.cause.startswith("10.224.0.100 is an internal load balancer frontend")
    assert finding.evidence[0].ref == f"Service default/web metadata.annotations[{INTERNAL}]"
    assert finding.evidence[0].detail == "true"
    assert (finding.evidence[1].ref, finding.evidence[1].detail) == (
        "Service default/web status.loadBalancer.ingress[0].ip",
        "10.224.0.100",
    )
    assert "web.default.svc.cluster.local" in finding.fix.summary
    assert "https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-troubleshoot-backend-traffic" in (
        finding.docs
    )


def test_floating_ip_disabled_is_noted(tmp_path):
    svc = service("web", annotations={INTERNAL: "true", NO_FLOATING_IP: "true"}, ingress_ip="10.224.0.100")
    _, [finding] = _run(tmp_path, svc)
    assert finding.severity.label == "info"
    assert "nodeIP:nodePort" in finding.cause
    assert any(e.ref.endswith(f"[{NO_FLOATING_IP}]") and e.detail == "true" for e in finding.evidence)


def test_internal_ipv6_rules_have_no_floating_ip(tmp_path):
    svc = service("web", annotations={INTERNAL: "true"}, ipFamilies=["IPv4", "IPv6"])
    _, [finding] = _run(tmp_path, svc)
    assert "floating IP on internal IPv6 rules" in finding.cause
    assert finding.evidence[-1].detail == "IPv4,IPv6"


def test_ip_mode_proxy_raises_to_warning(tmp_path):
    svc = service("web", annotations={INTERNAL: "true"}, ingress_ip="10.224.0.100")
    svc["status"]["loadBalancer"]["ingress"][0]["ipMode"] = "Proxy"
    _, [finding] = _run(tmp_path, svc)
    assert finding.severity.label == "warning"
    assert "ipMode is Proxy for 10.224.0.100" in finding.cause
    proxy = finding.evidence[-1]
    assert (proxy.ref, proxy.detail) == ("Service default/web status.loadBalancer.ingress[0].ipMode", "Proxy")
    assert "https://kubernetes.io/docs/concepts/services-networking/service/#load-balancer-ip-mode" in finding.docs


def test_public_lb_is_not_applicable(tmp_path):
    report, found = _run(tmp_path, service("web", annotations={INTERNAL: "false"}))
    assert found == []
    assert outcome(report, CHECK) == ("not-applicable", "public load balancer")


def test_internal_annotation_must_be_exactly_true(tmp_path):
    # The provider's requiresInternalLoadBalancer compares case-sensitively: "True" puts the Service on the public LB.
    report, found = _run(tmp_path, service("web", annotations={INTERNAL: "True"}, ingress_ip="20.1.2.3"))
    assert found == []
    assert outcome(report, CHECK) == ("not-applicable", "public load balancer")
