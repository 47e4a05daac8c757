"""lb.probe-mismatch: Azure's probes against what cloud-provider-azure derives from the Service."""

from __future__ import annotations

from azure_builders import base_name, load_balancer, managed_public_ip, set_probe
from builders import NODE_RG, SUB, findings, node, outcome, run_snapshot, service, write_snapshot

ID = "lb.probe-mismatch"
P = "service.beta.kubernetes.io/"
HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 31080}
HTTPS = {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP", "nodePort": 31443}


def scenario(tmp_path, svc, *, edit=None, extra=()):
    pip = managed_public_ip(svc, "20.50.10.4")
    lb = load_balancer(services=[(svc, {"public_ip_id": pip["id"]})])
    if edit:
        edit(lb)
    azure = {"loadBalancers.json": [lb], "publicIPAddresses.json": [pip]}
    snap = write_snapshot(tmp_path, [svc, node(), *extra], azure=azure)
    return run_snapshot(snap, service=f"default/{svc['metadata']['name']}", include=[ID]), lb


def test_quiet_when_probe_is_tcp_on_node_port(tmp_path):
    report, _ = scenario(tmp_path, service("web", ports=[HTTP]))
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_probe_on_service_port_instead_of_node_port(tmp_path):
    svc = service("web", ports=[HTTP, HTTPS])
    probe = f"{base_name(svc)}-TCP-443"
    report, lb = scenario(tmp_path, svc, edit=lambda lb: set_probe(lb, probe, port=443))
    [finding] = findings(report, ID)
    assert finding.severity.label == "error"
    assert f"rule {probe} is probed with port 443 instead of 31443" in finding.cause
    azure = [e for e in finding.evidence if e.source == "Azure"]
    assert azure[0].ref == f"{lb['id']}/probes/{probe}"
    assert azure[0].detail == "protocol=Tcp port=443 requestPath=-"
    assert any(e.ref == "Service default/web spec.ports[1].nodePort" and e.detail == "31443" for e in finding.evidence)
    assert finding.fix.commands[0] == f"az network lb probe show -n {probe} -g {NODE_RG} --lb-name kubernetes"
    assert finding.fix.commands[-1] == "kubectl -n default describe service web"


def test_rule_pointing_at_probe_of_another_port(tmp_path):
    svc = service("web", ports=[HTTP, HTTPS])
    base = base_name(svc)

    def cross(lb):
        rule = next(r for r in lb["properties"]["loadBalancingRules"] if r["name"].endswith("-443"))
        rule["properties"]["probe"]["id"] = f"{lb['id']}/probes/{base}-TCP-80"

    report, _ = scenario(tmp_path, svc, edit=cross)
    [finding] = findings(report, ID)
    assert f"port 31080 instead of 31443 (the probe of {base}-TCP-80)" in finding.cause


def test_rule_without_probe_and_missing_probe(tmp_path):
    svc = service("web", ports=[HTTP, HTTPS])

    def break_probes(lb):
        rules = lb["properties"]["loadBalancingRules"]
        del rules[0]["properties"]["probe"]
        rules[1]["properties"]["probe"]["id"] = f"{lb['id']}/probes/gone"

    report, _ = scenario(tmp_path, svc, edit=break_probes)
    [finding] = findings(report, ID)
    assert "has no health probe (the provider gives it TCP on port 31080)" in finding.cause
    assert "points at probe gone, which does not exist on LB kubernetes" in finding.cause
    assert any(e.detail == "probe = <absent>" for e in finding.evidence)


def test_app_protocol_http_expects_http_slash(tmp_path):
    svc = service("web", ports=[{**HTTP, "appProtocol": "http"}])
    report, _ = scenario(tmp_path, svc)  # the builder made a TCP probe: what a pre-1.24 provider did
    [finding] = findings(report, ID)
    assert "protocol Tcp instead of Http" in finding.cause
    assert "HTTP / on port 31080" in finding.cause
    assert "appProtocol http" in finding.cause
    assert any(e.ref == "Service default/web spec.ports[0].appProtocol" for e in finding.evidence)


def test_local_policy_probe_on_health_check_node_port(tmp_path):
    svc = service("web", ports=[HTTP], external_traffic_policy="Local", healthCheckNodePort=32100)
    probe = f"{base_name(svc)}-TCP-32100"
    report, _ = scenario(tmp_path, svc)
    assert findings(report, ID) == []
    report, _ = scenario(tmp_path / "edited", svc, edit=lambda lb: set_probe(lb, probe, requestPath="/"))
    [finding] = findings(report, ID)
    assert "request path / instead of /healthz" in finding.cause
    assert any(e.ref == "Service default/web spec.healthCheckNodePort" for e in finding.evidence)


NGINX_SELECTOR = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/instance": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}


def nginx_service(**kw):
    ports = [{**HTTP, "appProtocol": "http"}, {**HTTPS, "appProtocol": "https"}]
    return service("ingress-nginx-controller", "ingress-nginx", ports=ports, selector=NGINX_SELECTOR, **kw)


def http_probes(svc, path="/"):
    base = base_name(svc)

    def edit(lb):
        set_probe(lb, f"{base}-TCP-80", protocol="Http", requestPath=path)
        return set_probe(lb, f"{base}-TCP-443", protocol="Https", requestPath=path)

    return edit


def test_ingress_nginx_slash_probe_returns_404(tmp_path):
    svc = nginx_service()
    pip = managed_public_ip(svc, "20.50.10.7")
    lb = http_probes(svc)(load_balancer(services=[(svc, {"public_ip_id": pip["id"]})]))
    snap = write_snapshot(tmp_path, [svc, node()], azure={"loadBalancers.json": [lb], "publicIPAddresses.json": [pip]})
    report = run_snapshot(snap, service="ingress-nginx/ingress-nginx-controller", include=[ID])
    [finding] = findings(report, ID)
    assert finding.severity.label == "warning"
    assert "selects ingress-nginx" in finding.cause
    assert "HTTP / on port 31080 (HTTP probe from appProtocol http, on nodePort 31080)" in finding.cause
    assert "404" in finding.cause
    assert finding.evidence[0].detail == "protocol=Http port=31080 requestPath=/"
    assert finding.fix.commands[0] == (
        "kubectl -n ingress-nginx annotate service ingress-nginx-controller "
        "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path=/healthz --overwrite"
    )
    assert "https://github.com/Azure/AKS/issues/2903" in finding.docs


def test_ingress_nginx_quiet_with_healthz_path(tmp_path):
    svc = nginx_service(annotations={P + "azure-load-balancer-health-probe-request-path": "/healthz"})
    pip = managed_public_ip(svc, "20.50.10.7")
    lb = http_probes(svc, "/healthz")(load_balancer(services=[(svc, {"public_ip_id": pip["id"]})]))
    snap = write_snapshot(tmp_path, [svc, node()], azure={"loadBalancers.json": [lb], "publicIPAddresses.json": [pip]})
    report = run_snapshot(snap, service="ingress-nginx/ingress-nginx-controller", include=[ID])
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_shared_probe_mode_recognised_from_the_lb(tmp_path):
    svc = service("web", ports=[HTTP])
    base = base_name(svc)

    def shared(lb):
        probe = lb["properties"]["probes"][0]
        probe.update(
            name="cluster-service-shared-health-probe", id=f"{lb['id']}/probes/cluster-service-shared-health-probe"
        )
        probe["properties"].update(protocol="Http", port=10256, requestPath="/healthz")
        lb["properties"]["loadBalancingRules"][0]["properties"]["probe"]["id"] = probe["id"]
        assert lb["properties"]["loadBalancingRules"][0]["name"] == f"{base}-TCP-80"

    report, _ = scenario(tmp_path, svc, edit=shared)
    assert findings(report, ID) == []


def test_az_flattened_load_balancer(tmp_path):
    """The LB as `az network lb show -o json` prints it: no `properties`, `Ip` casing, resourceGroup everywhere."""
    svc = service("web", ports=[HTTP])
    base = base_name(svc)
    lb_id = f"/subscriptions/{SUB}/resourceGroups/{NODE_RG}/providers/Microsoft.Network/loadBalancers/kubernetes"
    pip = managed_public_ip(svc, "20.50.10.4")

    def ref(path):
        return {"id": f"{lb_id}/{path}", "resourceGroup": NODE_RG}

    flattened = {
        "backendAddressPools": [
            {
                "backendIpConfigurations": [],
                "etag": 'W/"2b6f6f34-0f44-4c0a-9f3f-5a1f0b2d6e11"',
                "id": f"{lb_id}/backendAddressPools/kubernetes",
                "loadBalancerBackendAddresses": [],
                "loadBalancingRules": [ref(f"loadBalancingRules/{base}-TCP-80")],
                "name": "kubernetes",
                "provisioningState": "Succeeded",
                "resourceGroup": NODE_RG,
                "type": "Microsoft.Network/loadBalancers/backendAddressPools",
            }
        ],
        "etag": 'W/"2b6f6f34-0f44-4c0a-9f3f-5a1f0b2d6e11"',
        "frontendIpConfigurations": [
            {
                "etag": 'W/"2b6f6f34-0f44-4c0a-9f3f-5a1f0b2d6e11"',
                "id": f"{lb_id}/frontendIPConfigurations/{base}",
                "loadBalancingRules": [ref(f"loadBalancingRules/{base}-TCP-80")],
                "name": base,
                "privateIpAllocationMethod": "Dynamic",
                "provisioningState": "Succeeded",
                "publicIpAddress": {"id": pip["id"], "resourceGroup": NODE_RG},
                "resourceGroup": NODE_RG,
                "type": "Microsoft.Network/loadBalancers/frontendIPConfigurations",
            }
        ],
        "id": lb_id,
        "inboundNatPools": [],
        "inboundNatRules": [],
        "loadBalancingRules": [
            {
                "backendAddressPool": ref("backendAddressPools/kubernetes"),
                "backendAddressPools": [ref("backendAddressPools/kubernetes")],
                "backendPort": 80,
                "disableOutboundSnat": True,
                "enableFloatingIp": True,
                "enableTcpReset": True,
                "etag": 'W/"2b6f6f34-0f44-4c0a-9f3f-5a1f0b2d6e11"',
                "frontendIpConfiguration": ref(f"frontendIPConfigurations/{base}"),
                "frontendPort": 80,
                "id": f"{lb_id}/loadBalancingRules/{base}-TCP-80",
                "idleTimeoutInMinutes": 4,
                "loadDistribution": "Default",
                "name": f"{base}-TCP-80",
                "probe": ref(f"probes/{base}-TCP-80"),
                "protocol": "Tcp",
                "provisioningState": "Succeeded",
                "resourceGroup": NODE_RG,
                "type": "Microsoft.Network/loadBalancers/loadBalancingRules",
            }
        ],
        "location": "westeurope",
        "name": "kubernetes",
        "outboundRules": [],
        "probes": [
            {
                "etag": 'W/"2b6f6f34-0f44-4c0a-9f3f-5a1f0b2d6e11"',
                "id": f"{lb_id}/probes/{base}-TCP-80",
                "intervalInSeconds": 5,
                "loadBalancingRules": [ref(f"loadBalancingRules/{base}-TCP-80")],
                "name": f"{base}-TCP-80",
                "numberOfProbes": 2,
                "port": 30080,
                "probeThreshold": 1,
                "protocol": "Tcp",
                "provisioningState": "Succeeded",
                "resourceGroup": NODE_RG,
                "type": "Microsoft.Network/loadBalancers/probes",
            }
        ],
        "provisioningState": "Succeeded",
        "resourceGroup": NODE_RG,
        "resourceGuid": "6c1e5b3e-3a55-4a4e-9d8e-1f1f2a6b7c8d",
        "sku": {"name": "Standard", "tier": "Regional"},
        "tags": {},
        "type": "Microsoft.Network/loadBalancers",
    }
    snap = write_snapshot(tmp_path, [svc, node()], azure={"lb.json": flattened, "publicIPAddresses.json": [pip]})
    report = run_snapshot(snap, service="default/web", include=[ID])
    [finding] = findings(report, ID)
    assert "port 30080 instead of 31080" in finding.cause
    assert finding.evidence[0].detail == "protocol=Tcp port=30080 requestPath=-"


def test_not_applicable_and_skipped(tmp_path):
    other = service("nlb", ports=[HTTP], loadBalancerClass="service.k8s.aws/nlb")
    snap = write_snapshot(tmp_path / "class", [other, node()], azure={"loadBalancers.json": []})
    status, reason = outcome(run_snapshot(snap, service="default/nlb", include=[ID]), ID)
    assert status == "not-applicable" and "loadBalancerClass" in reason
    svc = service("web", ports=[HTTP])
    snap = write_snapshot(tmp_path / "nofe", [svc, node()], azure={"loadBalancers.json": [load_balancer()]})
    assert outcome(run_snapshot(snap, service="default/web", include=[ID]), ID)[0] == "not-applicable"
    snap = write_snapshot(tmp_path / "k8s-only", [svc, node()])
    assert outcome(run_snapshot(snap, service="default/web", include=[ID]), ID) == (
        "skipped",
        "not in snapshot: Azure load balancers",
    )
