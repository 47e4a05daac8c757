"""node.vm-missing and node.vm-unhealthy: each node's VM looked up in the VMSS instance and VM lists."""

from __future__ import annotations

from azure_builders import COMPUTE, res_id, vmss_vm
from builders import NODE_RG, SUB, findings, node, outcome, run_snapshot, write_snapshot

MISSING, UNHEALTHY = "node.vm-missing", "node.vm-unhealthy"
VMSS = "aks-nodepool1-12345678-vmss"
RG_LOWER = NODE_RG.lower()  # providerIDs from IMDS carry the group lower-cased; ARM ids keep its casing


def vmss_node(instance: int, **kw) -> dict:
    """AKS names a scale set node after its instance id in base 36 (`…vmss00000a` is instance 10)."""
    digits = ""
    while True:
        instance, rest = divmod(instance, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not instance:
            return node(f"{VMSS}{digits:0>6}", **kw)


def vm_node(name: str, rg: str = RG_LOWER) -> dict:
    provider = f"azure:///subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"
    return node(name, provider_id=provider)


def run(tmp_path, objects, check, **azure):
    return run_snapshot(write_snapshot(tmp_path, objects, azure=azure), include=[check])


def agent_not_ready(vm: dict) -> dict:
    vm["properties"]["instanceView"]["vmAgent"] = {
        "vmAgentVersion": "Unknown",
        "statuses": [
            {
                "code": "ProvisioningState/Unavailable",
                "level": "Warning",
                "displayStatus": "Not Ready",
                "message": "VM status blob is found but not yet populated.",
            }
        ],
    }
    return vm


# ---- node.vm-missing ----------------------------------------------------------------------------------------


def test_missing_scale_set_instance_is_a_stale_node(tmp_path):
    nodes = [vmss_node(0), vmss_node(1), vmss_node(2, ready=False)]
    report = run(tmp_path, nodes, MISSING, **{"vmssVMs.json": [vmss_vm(VMSS, 0), vmss_vm(VMSS, 1)]})
    [finding] = findings(report, MISSING)
    assert finding.severity.label == "error"
    assert finding.resource == f"Node {VMSS}000002"
    assert f"1 node(s) ({VMSS}000002) name Azure VMs that do not exist" in finding.cause
    details = {(e.source, e.ref): e.detail for e in finding.evidence}
    assert details[("Azure", f"virtualMachineScaleSets/{VMSS} instance 2 ({RG_LOWER})")] == (
        "no instance 2; instances listed: 0, 1"
    )
    assert details[("Node", f"Node {VMSS}000002 spec.providerID")].endswith(
        f"/virtualMachineScaleSets/{VMSS}/virtualMachines/2"
    )
    assert details[("Node", f"Node {VMSS}000002 status.conditions[Ready]")] == "False (KubeletReady)"
    assert finding.fix.commands == (
        f"az vmss list-instances -g {NODE_RG} -n {VMSS} --query "
        "'[].{instance:instanceId, computerName:osProfile.computerName, state:provisioningState}' -o table",
        f"kubectl delete node {VMSS}000002",
    )
    assert "deleting a Node deletes the pods bound to it" in finding.fix.summary


def test_whole_scale_set_gone_and_ready_node_flagged(tmp_path):
    nodes = [vmss_node(0), node("aks-gpu-87654321-vmss000000")]
    report = run(tmp_path, nodes, MISSING, **{"vmssVMs.json": [vmss_vm(VMSS, 0)]})
    [finding] = findings(report, MISSING)
    assert "Still Ready: aks-gpu-87654321-vmss000000." in finding.cause
    assert "scale set aks-gpu-87654321-vmss has no instances in resource group" in finding.evidence[2].detail


def test_missing_availability_set_vm(tmp_path):
    vm = {"id": res_id(f"{COMPUTE}/virtualMachines", "aks-agentpool-27053986-0"), "type": f"{COMPUTE}/virtualMachines"}
    nodes = [vm_node("aks-agentpool-27053986-0"), vm_node("aks-agentpool-27053986-1")]
    [finding] = findings(run(tmp_path, nodes, MISSING, **{"vms.json": [vm]}), MISSING)
    assert "(aks-agentpool-27053986-1)" in finding.cause
    assert finding.evidence[2].detail == f"no VM named aks-agentpool-27053986-1 in resource group {RG_LOWER}"
    assert finding.fix.commands[0] == f"az vm list -g {NODE_RG} --query '[].name' -o tsv"


def test_quiet_when_every_vm_exists(tmp_path):
    nodes = [vmss_node(0), vmss_node(1)]
    report = run(tmp_path, nodes, MISSING, **{"vmssVMs.json": [vmss_vm(VMSS, 0), vmss_vm(VMSS, 1)]})
    assert outcome(report, MISSING) == ("passed", "")


def test_node_in_an_unlisted_resource_group_is_cannot_tell(tmp_path):
    other = f"azure:///subscriptions/{SUB}/resourceGroups/other-rg/providers/Microsoft.Compute/virtualMachineScaleSets/x/virtualMachines/0"
    report = run(tmp_path, [node("x000000", provider_id=other)], MISSING, **{"vmssVMs.json": [vmss_vm(VMSS, 0)]})
    assert outcome(report, MISSING) == (
        "skipped",
        "cannot tell whether the nodes' VMs exist: the nodes' resource groups were not listed",
    )
    both = run(
        tmp_path / "b",
        [vmss_node(0), node("x000000", provider_id=other)],
        MISSING,
        **{"vmssVMs.json": [vmss_vm(VMSS, 0)]},
    )
    assert outcome(both, MISSING)[0] == "passed"


def test_skipped_without_azure_and_without_azure_nodes(tmp_path):
    report = run_snapshot(write_snapshot(tmp_path, [vmss_node(0)]), include=[MISSING])
    reason = "cannot tell whether the nodes' VMs exist: not in snapshot: Azure vmss vms"
    assert outcome(report, MISSING) == ("skipped", reason)
    report = run(tmp_path / "k3s", [node("edge-1", provider_id="k3s://edge-1")], MISSING, **{"vmssVMs.json": []})
    assert outcome(report, MISSING) == ("skipped", "no node has an Azure providerID")


# ---- node.vm-unhealthy --------------------------------------------------------------------------------------


def test_deallocated_instance_is_an_error_with_a_start_command(tmp_path):
    vms = [vmss_vm(VMSS, 0), vmss_vm(VMSS, 1, power_state="deallocated")]
    report = run(tmp_path, [vmss_node(0), vmss_node(1)], UNHEALTHY, **{"vmssVMs.json": vms})
    [finding] = findings(report, UNHEALTHY)
    assert finding.severity.label == "error"
    assert f"1 node(s) ({VMSS}000001) have VMs that are stopped or deallocated" in finding.cause
    [ev] = finding.evidence
    assert (ev.source, ev.ref, ev.detail) == (
        "Azure",
        f"virtualMachineScaleSets/{VMSS} instance 1 ({RG_LOWER}) node {VMSS}000001",
        "PowerState/deallocated",
    )
    assert finding.fix.commands == (f"az vmss start -g {NODE_RG} -n {VMSS} --instance-ids 1",)


def test_evicted_spot_instance_is_a_warning(tmp_path):
    spot = vmss_node(3, labels={"kubernetes.azure.com/scalesetpriority": "spot"})
    report = run(tmp_path, [spot], UNHEALTHY, **{"vmssVMs.json": [vmss_vm(VMSS, 3, power_state="deallocated")]})
    [finding] = findings(report, UNHEALTHY)
    assert finding.severity.label == "warning"
    assert "are Spot VMs that are stopped or deallocated" in finding.cause


def test_failed_provisioning_and_stopped_make_two_findings(tmp_path):
    vms = [
        vmss_vm(VMSS, 0, provisioning_state="Failed"),
        vmss_vm(VMSS, 1, power_state="stopped"),
        vmss_vm(VMSS, 2),
        vmss_vm(VMSS, 7, provisioning_state="Failed", power_state="starting"),  # never became a node
        vmss_vm("aks-other-1-vmss", 0, provisioning_state="Failed"),  # another pool, no node of ours: ignored
    ]
    report = run(tmp_path, [vmss_node(0), vmss_node(1), vmss_node(2)], UNHEALTHY, **{"vmssVMs.json": vms})
    failed, stopped = findings(report, UNHEALTHY)
    assert "have VMs whose provisioning failed" in failed.cause
    assert f"2 node(s) ({VMSS}000000, {VMSS} instance 7 (no node))" in failed.cause
    assert [e.detail for e in failed.evidence] == [
        "ProvisioningState/failed; PowerState/running",
        "ProvisioningState/failed; PowerState/starting",
    ]
    assert failed.evidence[1].ref.endswith("no node")
    assert failed.resource == "Cluster prod-aks"
    assert failed.fix.commands == (
        f"az vmss get-instance-view -g {NODE_RG} -n {VMSS} --instance-id 0",
        f"az vmss update-instances -g {NODE_RG} -n {VMSS} --instance-ids 0 7",
        f"az vmss reimage -g {NODE_RG} -n {VMSS} --instance-ids 0 7",
    )
    assert "PowerState/stopped" in stopped.evidence[0].detail


def test_agent_not_ready_is_a_warning(tmp_path):
    report = run(tmp_path, [vmss_node(0)], UNHEALTHY, **{"vmssVMs.json": [agent_not_ready(vmss_vm(VMSS, 0))]})
    [finding] = findings(report, UNHEALTHY)
    assert finding.severity.label == "warning"
    assert finding.evidence[0].detail == (
        "ProvisioningState/Unavailable (Not Ready): VM status blob is found but not yet populated."
    )
    assert finding.fix.commands == (f"az vmss restart -g {NODE_RG} -n {VMSS} --instance-ids 0",)


def test_az_flattened_vm_list_stopped_vm(tmp_path):
    """`az vm list -d -o json`: no `properties`, power state as text."""
    name = "aks-agentpool-27053986-0"
    flat = {
        "id": res_id(f"{COMPUTE}/virtualMachines", name),
        "name": name,
        "type": f"{COMPUTE}/virtualMachines",
        "location": "westeurope",
        "resourceGroup": NODE_RG,
        "hardwareProfile": {"vmSize": "Standard_D4s_v5"},
        "powerState": "VM stopped",
        "provisioningState": "Succeeded",
    }
    [finding] = findings(run(tmp_path, [vm_node(name)], UNHEALTHY, **{"vms.json": [flat]}), UNHEALTHY)
    assert finding.evidence[0].detail == "powerState: VM stopped"
    assert finding.fix.commands == (f"az vm start -g {NODE_RG} -n {name}",)


def test_caps_node_lists_but_counts_all(tmp_path):
    nodes = [vmss_node(i) for i in range(15)]
    vms = [vmss_vm(VMSS, i, power_state="deallocated") for i in range(15)]
    [finding] = findings(run(tmp_path, nodes, UNHEALTHY, **{"vmssVMs.json": vms}), UNHEALTHY)
    assert finding.cause.startswith(f"15 node(s) ({VMSS}000000, ")
    assert "and 5 more)" in finding.cause
    assert len(finding.evidence) == 5
    assert finding.fix.commands == (f"az vmss start -g {NODE_RG} -n {VMSS} --instance-ids 0 1 2 3 4 5 6 7 8 9",)


def test_quiet_when_running(tmp_path):
    vms = [vmss_vm(VMSS, 0), vmss_vm(VMSS, 1)]
    report = run(tmp_path, [vmss_node(0), vmss_node(1)], UNHEALTHY, **{"vmssVMs.json": vms})
    assert outcome(report, UNHEALTHY) == ("passed", "")


def test_skipped_without_instance_view(tmp_path):
    bare = vmss_vm(VMSS, 0)
    del bare["properties"]["instanceView"]
    del bare["properties"]["provisioningState"]
    report = run(tmp_path, [vmss_node(0)], UNHEALTHY, **{"vmssVMs.json": [bare]})
    assert outcome(report, UNHEALTHY) == (
        "skipped",
        "the VM lists carry no instance view (power and provisioning state)",
    )


def test_both_run_under_lb(tmp_path):
    from builders import service

    vms = [vmss_vm(VMSS, 0, power_state="deallocated")]
    snap = write_snapshot(tmp_path, [service("web"), vmss_node(0), vmss_node(1)], azure={"vmssVMs.json": vms})
    report = run_snapshot(snap, service="default/web", include=[MISSING, UNHEALTHY])
    assert outcome(report, MISSING)[0] == "failed"
    assert outcome(report, UNHEALTHY)[0] == "failed"
