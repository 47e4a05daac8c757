"""lb.frontend-drift: the Service and its Azure frontend, public IP and rules disagree."""

from __future__ import annotations

import copy

from azure_builders import base_name, load_balancer, managed_public_ip, public_ip, subnet_id
from builders import NODE_RG, findings, node, outcome, run_snapshot, service, write_snapshot

ID = "lb.frontend-drift"
P = "service.beta.kubernetes.io/"
HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 31080}
HTTPS = {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP", "nodePort": 31443}
ALT = {"name": "alt", "port": 8080, "targetPort": 8080, "protocol": "TCP", "nodePort": 31808}


def run(tmp_path, objects, lbs, pips, svc="default/web"):
    azure = {"loadBalancers.json": lbs, "publicIPAddresses.json": pips}
    snap = write_snapshot(tmp_path, [*objects, node()], azure=azure)
    return run_snapshot(snap, service=svc, include=[ID])


def public(svc, ip="20.50.10.4", **kw):
    pip = managed_public_ip(svc, ip)
    return load_balancer(services=[(svc, {"public_ip_id": pip["id"]})], **kw), pip


def test_quiet_when_consistent(tmp_path):
    svc = service("web", ports=[HTTP, HTTPS])
    lb, pip = public(svc)
    report = run(tmp_path, [svc], [lb], [pip])
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_not_applicable_without_status_ip_and_frontend(tmp_path):
    svc = service("web", ports=[HTTP], ingress_ip=None)
    report = run(tmp_path, [svc], [load_balancer()], [])
    assert outcome(report, ID) == (
        "not-applicable",
        "no status IP and no frontend yet: lb.pending covers a Service still waiting",
    )


def test_status_ip_without_frontend(tmp_path):
    svc = service("web", ports=[HTTP])
    report = run(tmp_path, [svc], [load_balancer()], [])
    [finding] = findings(report, ID)
    assert finding.severity.label == "error"
    assert f"would name it {base_name(svc)} on kubernetes" in finding.cause
    assert finding.evidence[0].ref == "Service default/web status.loadBalancer.ingress[0].ip"
    assert finding.evidence[0].detail == "20.50.10.4"
    assert finding.evidence[1].detail == "frontendIPConfigurations: (none)"
    assert finding.fix.commands == (
        "kubectl -n default describe service web",
        f"az network lb frontend-ip list -o table -g {NODE_RG} --lb-name kubernetes",
    )


def test_frontend_left_on_the_public_lb_after_switching_to_internal(tmp_path):
    svc = service("web", ports=[HTTP], annotations={P + "azure-load-balancer-internal": "true"})
    lb, pip = public(svc)
    report = run(tmp_path, [svc], [lb, load_balancer("kubernetes-internal")], [pip])
    [finding] = findings(report, ID)
    assert "Its frontend is on LB kubernetes, of the other kind" in finding.cause
    assert any(e.detail == "not found among the load balancers read" for e in finding.evidence) is False


def test_status_ip_differs_from_public_ip(tmp_path):
    svc = service("web", ports=[HTTP], ingress_ip="20.50.10.4")
    lb, pip = public(svc, ip="20.50.10.99")
    report = run(tmp_path, [svc], [lb], [pip])
    [finding] = findings(report, ID)
    assert "status says 20.50.10.4, but its frontend in Azure holds 20.50.10.99" in finding.cause
    frontend = next(e for e in finding.evidence if e.source == "Azure")
    assert frontend.ref == f"LB kubernetes frontend {base_name(svc)}"
    assert frontend.detail == f"publicIPAddress kubernetes-{base_name(svc)} ipAddress = 20.50.10.99"


def test_frontend_without_status_ip(tmp_path):
    svc = service("web", ports=[HTTP], ingress_ip=None)
    lb, pip = public(svc)
    [finding] = findings(run(tmp_path, [svc], [lb], [pip]), ID)
    assert "but the Service's status has no IP" in finding.cause
    assert finding.evidence[0].detail == "<absent>"


def test_public_ip_deleted_under_the_frontend(tmp_path):
    svc = service("web", ports=[HTTP])
    lb, pip = public(svc)
    report = run(tmp_path, [svc], [lb], [])
    [missing] = [f for f in findings(report, ID) if "does not exist" in f.cause]
    assert f"references public IP kubernetes-{base_name(svc)}, which does not exist" in missing.cause
    assert missing.evidence[1].ref == pip["id"]
    assert missing.fix.commands[0] == f"az network public-ip list -g {NODE_RG} -o table"


def test_public_ip_in_a_group_that_was_not_read_is_not_judged(tmp_path):
    svc = service("web", ports=[HTTP])
    elsewhere = public_ip("byo", "20.50.10.4", rg="net-rg")
    lb = load_balancer(services=[(svc, {"public_ip_id": elsewhere["id"]})])
    report = run(tmp_path, [svc], [lb], [])
    assert findings(report, ID) == []


def test_rules_missing_and_left_over(tmp_path):
    old = service("web", ports=[HTTP, ALT])
    lb, pip = public(old)
    svc = copy.deepcopy(old)
    svc["spec"]["ports"] = [HTTP, HTTPS]  # 8080 removed, 443 added; the provider has not synced since
    report = run(tmp_path, [svc], [lb], [pip])
    [finding] = findings(report, ID)
    base = base_name(svc)
    assert f"rule {base}-TCP-443 is missing (Tcp port 443)" in finding.cause
    assert f"rule {base}-TCP-8080 is left over (port 8080)" in finding.cause
    assert any(e.ref == "Service default/web spec.ports[1].port" for e in finding.evidence)
    assert finding.fix.commands[1] == f"az network lb rule list -o table -g {NODE_RG} --lb-name kubernetes"


def test_rule_with_changed_backend_port(tmp_path):
    svc = service("web", ports=[HTTP], annotations={P + "azure-disable-load-balancer-floating-ip": "true"})
    lb, pip = public(svc)  # the builder keeps floating IP on and backend port 80
    [finding] = findings(run(tmp_path, [svc], [lb], [pip]), ID)
    assert "backendPort 80 instead of 31080, enableFloatingIP True instead of False" in finding.cause


def test_secondary_service_sharing_the_ip(tmp_path):
    primary = service("web", ports=[HTTP])
    secondary = service("web-tls", ports=[HTTPS], loadBalancerIP="20.50.10.4")
    pip = managed_public_ip(primary, "20.50.10.4")
    lb = load_balancer(services=[(primary, {"public_ip_id": pip["id"]})])
    shared = load_balancer(services=[(secondary, {"public_ip_id": pip["id"]})])
    rule = shared["properties"]["loadBalancingRules"][0]
    rule["properties"]["frontendIPConfiguration"]["id"] = lb["properties"]["frontendIPConfigurations"][0]["id"]
    lb["properties"]["loadBalancingRules"].append(rule)
    lb["properties"]["probes"] += shared["properties"]["probes"]
    report = run(tmp_path, [primary, secondary], [lb], [pip], svc="default/web-tls")
    assert findings(report, ID) == []
    lb["properties"]["loadBalancingRules"].pop()
    report = run(tmp_path / "missing", [primary, secondary], [lb], [pip], svc="default/web-tls")
    [finding] = findings(report, ID)
    assert f"rule {base_name(secondary)}-TCP-443 is missing" in finding.cause


def test_status_ip_held_by_another_services_frontend(tmp_path):
    primary = service("web", ports=[HTTP])
    stray = service("web-old", ports=[HTTP], ingress_ip="20.50.10.4")
    lb, pip = public(primary)
    borrowed, rules = findings(run(tmp_path, [primary, stray], [lb], [pip], svc="default/web-old"), ID)
    assert f"rule {base_name(stray)}-TCP-80 is missing" in rules.cause
    assert f"held by LB kubernetes frontend {base_name(primary)}, which belongs to another Service" in borrowed.cause


def dual_stack_internal(svc, v4="10.224.0.50", v6="fd00:10:224::50"):
    """An internal LB as the provider builds it for a dual-stack Service: IPv6 frontend, rule and pool suffixed."""
    lb = load_balancer("kubernetes-internal", services=[(svc, {"private_ip": v4})])
    props = lb["properties"]
    base = base_name(svc)
    fe6 = copy.deepcopy(props["frontendIPConfigurations"][0])
    fe6.update(name=f"{base}-IPv6", id=f"{lb['id']}/frontendIPConfigurations/{base}-IPv6")
    fe6["properties"].update(privateIPAddress=v6, privateIPAddressVersion="IPv6", subnet={"id": subnet_id()})
    props["frontendIPConfigurations"].append(fe6)
    pool6 = copy.deepcopy(props["backendAddressPools"][0])
    pool6.update(name="kubernetes-IPv6", id=f"{lb['id']}/backendAddressPools/kubernetes-IPv6")
    props["backendAddressPools"].append(pool6)
    rule6 = copy.deepcopy(props["loadBalancingRules"][0])
    rule6.update(name=f"{base}-TCP-80-IPv6", id=f"{lb['id']}/loadBalancingRules/{base}-TCP-80-IPv6")
    rule6["properties"].update(
        frontendIPConfiguration={"id": fe6["id"]},
        backendAddressPool={"id": pool6["id"]},
        probe={"id": f"{lb['id']}/probes/{base}-TCP-80-IPv6"},
        backendPort=31080,
        enableFloatingIP=False,
    )
    props["loadBalancingRules"].append(rule6)
    probe6 = copy.deepcopy(props["probes"][0])
    probe6.update(name=f"{base}-TCP-80-IPv6", id=f"{lb['id']}/probes/{base}-TCP-80-IPv6")
    props["probes"].append(probe6)
    return lb


def test_dual_stack_internal_service(tmp_path):
    svc = service(
        "web",
        ports=[HTTP],
        annotations={P + "azure-load-balancer-internal": "true"},
        ipFamilies=["IPv4", "IPv6"],
        ipFamilyPolicy="RequireDualStack",
        ingress_ip="10.224.0.50",
    )
    svc["status"]["loadBalancer"]["ingress"].append({"ip": "fd00:10:224::50", "ipMode": "VIP"})
    lb = dual_stack_internal(svc)
    report = run(tmp_path, [svc], [lb], [])
    assert findings(report, ID) == []
    # the IPv6 rule written with floating IP on (as for IPv4) is drift: Azure ILBs need it off for IPv6
    lb["properties"]["loadBalancingRules"][1]["properties"].update(enableFloatingIP=True, backendPort=80)
    [finding] = findings(run(tmp_path / "v6", [svc], [lb], []), ID)
    assert f"rule {base_name(svc)}-TCP-80-IPv6 has backendPort 80 instead of 31080" in finding.cause


def test_public_ips_needed_only_for_public_services(tmp_path):
    svc = service("web", ports=[HTTP])
    snap = write_snapshot(tmp_path, [svc, node()], azure={"loadBalancers.json": [load_balancer()]})
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == ("skipped", "not in snapshot: Azure public ips")
    ilb = service(
        "ilb", ports=[HTTP], annotations={P + "azure-load-balancer-internal": "true"}, ingress_ip="10.224.0.50"
    )
    lb = load_balancer("kubernetes-internal", services=[(ilb, {"private_ip": "10.224.0.50"})])
    snap = write_snapshot(tmp_path / "ilb", [ilb, node()], azure={"loadBalancers.json": [lb]})
    assert outcome(run_snapshot(snap, service="default/ilb", include=[ID]), ID) == ("passed", "")


def test_skipped_without_load_balancers(tmp_path):
    snap = write_snapshot(tmp_path, [service("web", ports=[HTTP]), node()])
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == ("skipped", "not in snapshot: Azure load balancers")
