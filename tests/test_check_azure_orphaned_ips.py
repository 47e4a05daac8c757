"""azure.orphaned-public-ip: public IPs the provider created for Services that are gone, never someone's own IP."""

from __future__ import annotations

from azure_builders import NETWORK, managed_public_ip, management_lock, public_ip, res_id
from builders import NODE_RG, findings, outcome, run_snapshot, service, write_snapshot

ID = "azure.orphaned-public-ip"
GONE = service("gone")  # a Service that existed when its IP was made; not written to the snapshot


def run(tmp_path, services, *pips, locks=None):
    azure = {"publicIPAddresses.json": list(pips)}
    if locks is not None:
        azure["locks.json"] = locks
    snap = write_snapshot(tmp_path, services, azure=azure, captured_kinds=["Service"])
    return run_snapshot(snap, include=[ID])


def test_ip_of_a_deleted_service(tmp_path):
    pip = managed_public_ip(GONE, "20.61.7.9")
    report = run(tmp_path, [service("web")], pip)
    [finding] = findings(report, ID)
    assert finding.severity.label == "warning"
    assert finding.resource == "Cluster prod-aks"
    assert f"{pip['name']} (its service tag names default/gone, none of them a LoadBalancer Service" in finding.cause
    assert finding.evidence[0].ref == pip["id"]
    assert "k8s-azure-cluster-name=kubernetes, k8s-azure-service=default/gone" in finding.evidence[0].detail
    assert "ipConfiguration=<none>" in finding.evidence[0].detail
    assert finding.fix.action == "delete-orphaned-ips"
    assert finding.fix.commands == (f"az network public-ip delete --ids {pip['id']}",)
    assert "frees 1 public IP address(es) of the subscription's quota (1 in westeurope; 1 of them static)" in (
        finding.fix.summary
    )


def test_service_no_longer_of_type_load_balancer_releases_its_ip(tmp_path):
    web = service("web", svc_type="ClusterIP")
    pip = managed_public_ip(web, "20.61.7.9")
    [finding] = findings(run(tmp_path, [web], pip), ID)
    assert "names default/web, none of them a LoadBalancer Service" in finding.cause


def test_cluster_tagged_unattached_ip_without_service(tmp_path):
    pip = public_ip("kubernetes-leftover", "20.61.7.9", tags={"k8s-azure-cluster-name": "kubernetes"})
    [finding] = findings(run(tmp_path, [], pip), ID)
    assert "carries the cluster tag kubernetes, names no Service and is attached to nothing" in finding.cause


def test_attached_orphan_is_not_deleted_blindly(tmp_path):
    frontend = res_id(f"{NETWORK}/loadBalancers", "kubernetes") + "/frontendIPConfigurations/agone"
    pip = managed_public_ip(GONE, "20.61.7.9", ip_configuration=frontend)
    [finding] = findings(run(tmp_path, [], pip), ID)
    assert "still attached" in finding.cause and "PublicIPAddressCannotBeDeleted" in finding.cause
    assert finding.fix.commands == (f"az network lb frontend-ip show --ids {frontend}",)


def test_lock_that_blocks_deletion(tmp_path):
    pip = managed_public_ip(GONE, "20.61.7.9")
    lock = management_lock("no-delete")
    [finding] = findings(run(tmp_path, [], pip, locks=[lock]), ID)
    assert "Management lock(s) no-delete (CanNotDelete) block their deletion" in finding.cause
    assert (finding.evidence[-1].ref, finding.evidence[-1].detail) == (lock["id"], "level=CanNotDelete")
    assert finding.fix.commands == (
        f"az lock delete --ids {lock['id']}",
        f"az network public-ip delete --ids {pip['id']}",
    )


def test_outside_the_node_resource_group_only_candidates(tmp_path):
    pip = managed_public_ip(GONE, "20.61.7.9", rg="shared-ips-rg")
    [finding] = findings(run(tmp_path, [], pip), ID)
    assert finding.severity.label == "info"
    assert "another cluster sharing the group may still use them" in finding.cause
    assert finding.fix.action is None
    assert finding.fix.commands == (f"az network public-ip show --ids {pip['id']}",)


def test_never_someone_elses_ip(tmp_path):
    web = service("web")
    pips = [
        managed_public_ip(web, "20.61.7.1"),  # its Service exists
        public_ip("byo-ip", "20.61.7.2"),  # no tags at all
        public_ip("byo-tagged", "20.61.7.3", tags={"k8s-azure-service": "default/gone"}),  # no cluster tag, own name
        managed_public_ip(GONE, "20.61.7.4", cluster="other-cluster"),  # another cluster's
        public_ip(  # unattached but waiting for its (existing) Service
            "kubernetes-pending",
            None,
            tags={"k8s-azure-cluster-name": "kubernetes", "k8s-azure-service": "default/web"},
        ),
    ]
    report = run(tmp_path, [web], *pips)
    assert findings(report, ID) == []
    assert outcome(report, ID) == ("passed", "")


def test_legacy_tags_without_cluster_tag_on_a_provider_named_ip(tmp_path):
    pip = managed_public_ip(GONE, "20.61.7.9")
    pip["tags"] = {"service": "default/gone"}
    [finding] = findings(run(tmp_path, [], pip), ID)
    assert pip["name"] in finding.cause


def test_az_flattened_public_ip(tmp_path):
    pip_id = res_id(f"{NETWORK}/publicIPAddresses", "kubernetes-leftover")
    flattened = {
        "name": "kubernetes-leftover",
        "id": pip_id,
        "type": "Microsoft.Network/publicIPAddresses",
        "resourceGroup": NODE_RG,
        "location": "westeurope",
        "sku": {"name": "Standard", "tier": "Regional"},
        "ipAddress": "20.61.7.9",
        "publicIpAllocationMethod": "Static",
        "tags": {"k8s-azure-cluster-name": "kubernetes", "k8s-azure-service": "default/gone"},
    }
    [finding] = findings(run(tmp_path, [], flattened), ID)
    assert finding.fix.commands == (f"az network public-ip delete --ids {pip_id}",)
    assert "allocation=Static" in finding.evidence[0].detail


def test_skipped_without_azure_data(tmp_path):
    snap = write_snapshot(tmp_path, [service("web")])
    assert outcome(run_snapshot(snap, include=[ID]), ID) == ("skipped", "not in snapshot: Azure public ips")
