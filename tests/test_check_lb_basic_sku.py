"""lb.basic-sku: the Service's load balancer or public IP is Basic SKU (retired 30 September 2025)."""

from __future__ import annotations

from azure_builders import load_balancer, managed_public_ip, public_ip, vmss_ip_configuration_id
from builders import findings, node, outcome, run_snapshot, service, write_snapshot

ID = "lb.basic-sku"
P = "service.beta.kubernetes.io/"
HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 31080}
VMSS = "aks-nodepool1-12345678-vmss"


def run(tmp_path, svc, lb, pips, nodes=None):
    nodes = nodes if nodes is not None else [node()]
    azure = {"loadBalancers.json": [lb], "publicIPAddresses.json": pips}
    snap = write_snapshot(tmp_path, [svc, *nodes], azure=azure)
    return run_snapshot(snap, service=f"default/{svc['metadata']['name']}", include=[ID])


def test_standard_is_quiet(tmp_path):
    svc = service("web", ports=[HTTP])
    pip = managed_public_ip(svc, "20.50.10.4")
    report = run(tmp_path, svc, load_balancer(services=[(svc, {"public_ip_id": pip["id"]})]), [pip])
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_basic_load_balancer_and_managed_public_ip(tmp_path):
    svc = service("web", ports=[HTTP])
    pip = managed_public_ip(svc, "20.50.10.4", sku="Basic")
    lb = load_balancer(sku="Basic", services=[(svc, {"public_ip_id": pip["id"]})])
    lb_finding, pip_finding = findings(run(tmp_path, svc, lb, [pip]), ID)
    assert lb_finding.severity.label == "error"
    assert "load balancer kubernetes, which is Basic SKU" in lb_finding.cause
    assert "retired on 2025-09-30" in lb_finding.cause
    assert lb_finding.evidence[0].ref == lb["id"]
    assert lb_finding.evidence[0].detail == "sku.name = Basic"
    assert lb_finding.fix.commands == ("az aks update -g prod-rg -n prod-aks --load-balancer-sku standard",)
    assert "https://learn.microsoft.com/en-us/azure/aks/upgrade-basic-load-balancer-on-aks" in lb_finding.docs
    assert f"public IP {pip['name']} (20.50.10.4" in pip_finding.cause
    assert "created by the provider" in pip_finding.cause
    assert pip_finding.fix.commands == lb_finding.fix.commands


def test_basic_byo_public_ip_on_standard_lb(tmp_path):
    svc = service(
        "web",
        ports=[HTTP],
        annotations={P + "azure-pip-name": "web-ip", P + "azure-load-balancer-resource-group": "net-rg"},
    )
    pip = public_ip("web-ip", "20.60.1.2", rg="net-rg", sku="Basic")
    lb = load_balancer(services=[(svc, {"public_ip_id": pip["id"]})])
    [finding] = findings(run(tmp_path, svc, lb, [pip]), ID)
    assert "bring-your-own IP" in finding.cause
    assert finding.fix.commands == ("az network public-ip update -g net-rg -n web-ip --sku Standard",)
    assert finding.evidence[0].detail == "sku.name = Basic"


def test_basic_lb_over_the_aks_node_limit(tmp_path):
    svc = service("web", ports=[HTTP])
    pip = managed_public_ip(svc, "20.50.10.4")
    members = [vmss_ip_configuration_id(VMSS, i) for i in range(101)]
    lb = load_balancer(sku="Basic", services=[(svc, {"public_ip_id": pip["id"]})], pool_members=members)
    nodes = [node(f"{VMSS}{i:06d}") for i in range(3)]
    basic, limit = findings(run(tmp_path, svc, lb, [pip], nodes), ID)
    assert basic.severity.label == "error"
    assert limit.severity.label == "warning"
    assert "largest backend pool of Basic load balancer kubernetes 101 member(s)" in limit.cause
    assert "at most 100 nodes" in limit.cause
    assert limit.evidence[0].detail == "101 member(s) in backendIPConfigurations"


def test_lb_found_by_name_before_the_frontend_exists(tmp_path):
    svc = service("web", ports=[HTTP], ingress_ip=None)
    [finding] = findings(run(tmp_path, svc, load_balancer(sku="Basic"), []), ID)
    assert finding.evidence[0].detail == "sku.name = Basic"


def test_not_applicable_without_load_balancer(tmp_path):
    svc = service("web", ports=[HTTP], annotations={P + "azure-load-balancer-internal": "true"})
    report = run(tmp_path, svc, load_balancer(sku="Basic"), [])
    assert outcome(report, ID)[0] == "not-applicable"


def test_cluster_scope_reports_the_shared_basic_lb_per_service(tmp_path):
    web = service("web", ports=[HTTP])
    api = service("api", ports=[HTTP])
    pips = [managed_public_ip(web, "20.50.10.4"), managed_public_ip(api, "20.50.10.5")]
    lb = load_balancer(
        sku="Basic", services=[(web, {"public_ip_id": pips[0]["id"]}), (api, {"public_ip_id": pips[1]["id"]})]
    )
    snap = write_snapshot(
        tmp_path, [web, api, node()], azure={"loadBalancers.json": [lb], "publicIPAddresses.json": pips}
    )
    report = run_snapshot(snap, include=[ID])
    assert sorted(f.resource for f in findings(report, ID)) == ["Service default/api", "Service default/web"]


def test_skipped_without_azure_data(tmp_path):
    snap = write_snapshot(tmp_path, [service("web", ports=[HTTP]), node()])
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == ("skipped", "not in snapshot: Azure load balancers")
