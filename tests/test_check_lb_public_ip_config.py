"""lb.public-ip-config, Azure side: bring-your-own public IPs and DNS labels checked against the public IPs
themselves. The event side (provider messages in every wrapper) is in test_check_provider_errors.
"""

from __future__ import annotations

import pytest
from azure_builders import NETWORK, base_name, load_balancer, managed_public_ip, public_ip, res_id
from builders import NODE_RG, SYNC_FAILED, event, findings, outcome, run_snapshot, service, write_snapshot

ID = "lb.public-ip-config"
P = "service.beta.kubernetes.io/"
LB_ID = res_id(f"{NETWORK}/loadBalancers", "kubernetes")
NIC_CONFIG = res_id(f"{NETWORK}/networkInterfaces", "jumpbox-nic") + "/ipConfigurations/ipconfig1"


def web(ingress_ip=None, **annotations):
    return service("web", annotations={P + k: v for k, v in annotations.items()}, ingress_ip=ingress_ip)


def run(tmp_path, svc, *pips, lbs=None, objects=()):
    azure = {"publicIPAddresses.json": list(pips), "loadBalancers.json": [load_balancer()] if lbs is None else lbs}
    snap = write_snapshot(tmp_path, [svc, *objects], azure=azure)
    return run_snapshot(snap, service="default/web", include=[ID])


def test_pip_in_another_resource_group(tmp_path):
    pip = public_ip("web-ip", "20.61.7.9", rg="shared-ips-rg")
    [finding] = findings(run(tmp_path, web(**{"azure-pip-name": "web-ip"}), pip), ID)
    assert finding.severity.label == "error"
    assert (
        f"the provider looks for it in resource group {NODE_RG} (the node resource group), but it is in "
        "shared-ips-rg: set azure-load-balancer-resource-group: shared-ips-rg." in finding.cause
    )
    assert finding.evidence[0].ref == f"Service default/web metadata.annotations[{P}azure-pip-name]"
    assert finding.evidence[1].ref == pip["id"]
    assert "sku=Standard allocation=Static ipAddress=20.61.7.9 ipConfiguration=<none>" in finding.evidence[1].detail
    assert finding.fix.commands == (
        f"kubectl -n default annotate service web {P}azure-load-balancer-resource-group=shared-ips-rg --overwrite",
    )


def test_pip_name_not_found_anywhere(tmp_path):
    svc = web(**{"azure-pip-name": "web-ip", "azure-load-balancer-resource-group": "shared-ips-rg"})
    [finding] = findings(run(tmp_path, svc, public_ip("other-ip", "20.61.7.1", rg="shared-ips-rg")), ID)
    assert "no public IP listed in resource group shared-ips-rg (azure-load-balancer-resource-group)" in finding.cause
    assert [e.ref for e in finding.evidence[:2]] == [
        f"Service default/web metadata.annotations[{P}azure-pip-name]",
        f"Service default/web metadata.annotations[{P}azure-load-balancer-resource-group]",
    ]
    assert finding.evidence[2].detail == "1 public IP(s) listed; none named web-ip"
    assert finding.fix.commands == (
        "az network public-ip create --resource-group shared-ips-rg --name web-ip --sku Standard "
        "--allocation-method Static",
    )


def test_group_not_visible_is_not_called_missing(tmp_path):
    svc = web(**{"azure-pip-name": "web-ip", "azure-load-balancer-resource-group": "shared-ips-rg"})
    [finding] = findings(run(tmp_path, svc, public_ip("other-ip", "20.61.7.1")), ID)
    assert finding.severity.label == "warning"
    assert "no public IP of that group is in the data at all" in finding.cause
    assert finding.fix.commands == ("az network public-ip list --resource-group shared-ips-rg -o table",)


def test_denied_group_defers_to_the_permission_finding(tmp_path):
    svc = web(**{"azure-pip-name": "web-ip", "azure-load-balancer-resource-group": "shared-ips-rg"})
    scope = res_id(f"{NETWORK}/publicIPAddresses", "web-ip", "shared-ips-rg")
    denied = event(
        svc,
        "SyncLoadBalancerFailed",
        SYNC_FAILED + 'Retriable: false, RetryAfter: 0s, HTTPStatusCode: 403, RawError: {"error":{"code":'
        '"AuthorizationFailed","message":"The client \'a7d3e1c2-5b4f-4e6a-8d9c-0f1e2d3c4b5a\' with object id '
        "'a7d3e1c2-5b4f-4e6a-8d9c-0f1e2d3c4b5a' does not have authorization to perform action "
        f"'Microsoft.Network/publicIPAddresses/read' over scope '{scope}'\"}}}}",
    )
    report = run(tmp_path, svc, public_ip("other-ip", "20.61.7.1"), objects=[denied])
    assert findings(report, ID) == []


def test_requested_address_owned_by_no_public_ip(tmp_path):
    svc = web()
    svc["spec"]["loadBalancerIP"] = "20.61.7.9"
    [finding] = findings(run(tmp_path, svc, public_ip("other-ip", "20.61.7.1")), ID)
    assert "asks for a public IP with address 20.61.7.9 (spec.loadBalancerIP)" in finding.cause
    assert finding.evidence[0].ref == "Service default/web spec.loadBalancerIP"
    assert finding.fix.commands[0].startswith("az network public-ip list --query")


def test_basic_public_ip_on_a_standard_load_balancer(tmp_path):
    pip = public_ip("web-ip", "20.61.7.9", sku="Basic")
    [finding] = findings(run(tmp_path, web(**{"azure-load-balancer-ipv4": "20.61.7.9"}), pip), ID)
    assert "Public IP web-ip is Basic SKU but the load balancer is Standard" in finding.cause
    assert (finding.evidence[-1].ref, finding.evidence[-1].detail) == (f"{LB_ID} sku.name", "Standard")
    assert "--sku Standard --allocation-method Static" in finding.fix.commands[0]


def test_sku_from_the_managed_cluster_when_no_load_balancer_exists_yet(tmp_path):
    from azure_builders import managed_cluster

    pip = public_ip("web-ip", "20.61.7.9", sku="Basic")
    azure = {"publicIPAddresses.json": [pip], "loadBalancers.json": [], "managedClusters.json": [managed_cluster()]}
    snap = write_snapshot(tmp_path, [web(**{"azure-pip-name": "web-ip"})], azure=azure)
    [finding] = findings(run_snapshot(snap, service="default/web", include=[ID]), ID)
    assert "is Basic SKU but the load balancer is Standard" in finding.cause
    assert finding.evidence[-1].ref.endswith("networkProfile.loadBalancerSku")


def test_public_ip_in_use_by_a_vm_nic(tmp_path):
    pip = public_ip("web-ip", "20.61.7.9", ip_configuration=NIC_CONFIG)
    [finding] = findings(run(tmp_path, web(**{"azure-pip-name": "web-ip"}), pip), ID)
    assert "already in use by network interface jumpbox-nic (a VM's NIC)" in finding.cause
    assert f"ipConfiguration={NIC_CONFIG}" in finding.evidence[-1].detail
    assert finding.fix.commands == (f"az network nic ip-config update --ids {NIC_CONFIG} --remove publicIpAddress",)


def test_public_ip_on_another_load_balancer(tmp_path):
    other = res_id(f"{NETWORK}/loadBalancers", "appgw-lb", "shared-rg") + "/frontendIPConfigurations/fe1"
    pip = public_ip("web-ip", "20.61.7.9", ip_configuration=other)
    [finding] = findings(run(tmp_path, web(**{"azure-pip-name": "web-ip"}), pip), ID)
    assert "in use by load balancer appgw-lb, which is not this cluster's" in finding.cause


def test_quiet_when_the_ip_serves_this_clusters_frontend(tmp_path):
    svc = web(ingress_ip="20.61.7.9", **{"azure-pip-name": "web-ip"})
    frontend = f"{LB_ID}/frontendIPConfigurations/{base_name(svc)}"
    pip = public_ip("web-ip", "20.61.7.9", ip_configuration=frontend)
    lb = load_balancer(services=[(svc, {"public_ip_id": pip["id"]})])
    report = run(tmp_path, svc, pip, lbs=[lb])
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_dynamic_byo_ip_warns(tmp_path):
    pip = public_ip("web-ip", None, sku="Basic", allocation="Dynamic")
    report = run(tmp_path, web(**{"azure-pip-name": "web-ip"}), pip, lbs=[load_balancer(sku="Basic")])
    [finding] = findings(report, ID)
    assert finding.severity.label == "warning"
    assert "uses Dynamic allocation" in finding.cause
    assert finding.fix.commands == (f"az network public-ip update --ids {pip['id']} --allocation-method Static",)


def test_az_flattened_public_ip(tmp_path):
    pip_id = res_id(f"{NETWORK}/publicIPAddresses", "web-ip")
    flattened = {
        "name": "web-ip",
        "id": pip_id,
        "type": "Microsoft.Network/publicIPAddresses",
        "resourceGroup": NODE_RG,
        "location": "westeurope",
        "sku": {"name": "Standard", "tier": "Regional"},
        "ipAddress": "20.61.7.9",
        "publicIpAllocationMethod": "Static",
        "ipConfiguration": {"id": NIC_CONFIG, "resourceGroup": NODE_RG},
        "tags": {},
    }
    [finding] = findings(run(tmp_path, web(**{"azure-load-balancer-ipv4": "20.61.7.9"}), flattened), ID)
    assert "already in use by network interface jumpbox-nic" in finding.cause


# ---- DNS label ---------------------------------------------------------------------------------------------


def managed(svc, **kw):
    return managed_public_ip(svc, "20.61.7.9", **kw)


def test_dns_label_used_by_another_public_ip_in_the_region(tmp_path):
    svc = web(**{"azure-dns-label-name": "shop"})
    other = public_ip("other-ip", "20.61.7.1", dns_label="shop", tags={"k8s-azure-dns-label-service": "prod/shop"})
    [finding] = findings(run(tmp_path, svc, managed(svc), other), ID)
    assert finding.severity.label == "error"
    assert "already used by public IP other-ip (Service prod/shop)" in finding.cause
    assert "shop.westeurope.cloudapp.azure.com" in finding.cause
    assert finding.evidence[0].detail == "shop"
    assert finding.evidence[-1].ref == other["id"]
    assert finding.fix.commands == (
        f"kubectl -n default annotate service web '{P}azure-dns-label-name=<label>' --overwrite",
    )


def test_dns_label_owned_by_another_service(tmp_path):
    svc = web(**{"azure-dns-label-name": "shop"})
    pip = managed(svc, dns_label="shop", tags={"k8s-azure-dns-label-service": "default/other"})
    [finding] = findings(run(tmp_path, svc, pip), ID)
    assert "belongs to Service default/other (tag k8s-azure-dns-label-service)" in finding.cause


def test_invalid_dns_label(tmp_path):
    svc = web(**{"azure-dns-label-name": "shop.example.com"})
    [finding] = findings(run(tmp_path, svc, managed(svc)), ID)
    assert "is not a valid DNS label" in finding.cause
    assert "has no DNS label" in finding.cause


def test_dns_label_not_applied(tmp_path):
    svc = web(**{"azure-dns-label-name": "shop"})
    [finding] = findings(run(tmp_path, svc, managed(svc, dns_label="old-shop")), ID)
    assert finding.severity.label == "warning"
    assert "asks for DNS label 'shop' but its public IP" in finding.cause
    assert "has label 'old-shop'" in finding.cause


def test_quiet_with_the_label_applied(tmp_path):
    svc = web(**{"azure-dns-label-name": "shop"})
    pip = managed(svc, dns_label="shop", tags={"k8s-azure-dns-label-service": "default/web"})
    report = run(tmp_path, svc, pip)
    assert outcome(report, ID) == ("passed", "")


# ---- both sides, and neither ------------------------------------------------------------------------------


def test_event_and_azure_findings_together(tmp_path):
    svc = web(**{"azure-pip-name": "web-ip"})
    text = SYNC_FAILED + "PublicIP from annotation azure-pip-name=web-ip for service default/web doesn't exist"
    report = run(
        tmp_path,
        svc,
        public_ip("web-ip", "20.61.7.9", rg="shared-ips-rg"),
        objects=[event(svc, "SyncLoadBalancerFailed", text)],
    )
    causes = [f.cause for f in findings(report, ID)]
    assert len(causes) == 2
    assert any("pip-name-not-found" in c for c in causes)  # from the event
    assert any("but it is in shared-ips-rg" in c for c in causes)  # from the public IPs


def test_events_without_azure_data(tmp_path):
    svc = web(**{"azure-pip-name": "web-ip"})
    text = SYNC_FAILED + "PublicIP from annotation azure-pip-name=web-ip for service default/web doesn't exist"
    snap = write_snapshot(tmp_path, [svc, event(svc, "SyncLoadBalancerFailed", text)])
    [finding] = findings(run_snapshot(snap, service="default/web", include=[ID]), ID)
    assert "pip-name-not-found" in finding.cause


@pytest.mark.parametrize(
    ("svc", "expected"),
    [
        (web(**{"azure-pip-name": "web-ip"}), "not in snapshot: events; not in snapshot: Azure public ips"),
        (web(), "not in snapshot: events"),  # the Azure side has nothing to look at
    ],
)
def test_skipped_when_neither_side_can_look(tmp_path, svc, expected):
    report = run_snapshot(write_snapshot(tmp_path, [svc]), service="default/web", include=[ID])
    assert outcome(report, ID) == ("skipped", expected)


def test_internal_service_has_no_public_ip(tmp_path):
    svc = web(**{"azure-load-balancer-internal": "true"})
    snap = write_snapshot(tmp_path, [svc], captured_kinds=["Event"], azure={"publicIPAddresses.json": []})
    report = run_snapshot(snap, service="default/web", include=[ID])
    assert outcome(report, ID) == ("passed", "")
