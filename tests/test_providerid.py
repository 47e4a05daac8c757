"""providerID parsing and node classification, table-driven over the shapes seen in real clusters."""

import pytest
from builders import node

from aksdoctor.azure import providerid as pid

SUB = "8ecadfc9-d1a3-4ea4-b844-0d9f87e4d7c8"
VMSS = f"azure:///subscriptions/{SUB}/resourceGroups/mc_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-agentpool-22126781-vmss/virtualMachines/10"
VMAS = f"azure:///subscriptions/{SUB}/resourceGroups/MC_rg_aks_eastus/providers/Microsoft.Compute/virtualMachines/aks-nodepool1-27053986-0"
VK_TAINT = {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}
FLEX = f"azure:///subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/flexprofile-mp-0_df53ee36"


@pytest.mark.parametrize(
    ("text", "kind", "rg", "scale_set", "instance", "vm", "flex"),
    [
        (VMSS, "vmss", "mc_rg_aks_westeurope", "aks-agentpool-22126781-vmss", "10", "", None),
        (VMAS, "vm", "MC_rg_aks_eastus", "", "", "aks-nodepool1-27053986-0", None),
        (FLEX, "vm", "rg", "", "", "flexprofile-mp-0_df53ee36", "flexprofile-mp-0"),
        # segment names in another case (seen from older tooling) still parse
        (VMSS.replace("resourceGroups", "resourcegroups").replace("Microsoft.Compute", "microsoft.compute"),
         "vmss", "mc_rg_aks_westeurope", "aks-agentpool-22126781-vmss", "10", "", None),
    ],
)  # fmt: skip
def test_parse(text, kind, rg, scale_set, instance, vm, flex):
    parsed = pid.parse_provider_id(text)
    assert parsed is not None
    assert (parsed.kind, parsed.resource_group, parsed.scale_set, parsed.instance_id, parsed.vm_name) == (
        kind,
        rg,
        scale_set,
        instance,
        vm,
    )
    assert parsed.subscription == SUB
    assert parsed.flex_scale_set == flex
    assert parsed.resource_id == text[len("azure://") :]
    assert parsed.normalized_id == parsed.resource_id.lower()


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "azure://",
        VMSS.replace("azure:///", "azure:////"),  # CAPZ extra slash (cluster-api-provider-azure#1292)
        VMSS.replace("/virtualMachines/10", "/virtualMachines/ten"),  # instance ids are numbers
        VMAS + "/extra",
        "aks-nodepool1-27053986-0",  # hostname only
        "k3s://aks-nodepool1-27053986-0",
        f"aws:///subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x",
        f"azure:///subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines/x",  # no resource group
    ],
)
def test_rejects(text):
    assert pid.parse_provider_id(text) is None


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("aks-agentpool-22126781-vmss000000", 0),
        ("aks-agentpool-22126781-vmss000001", 1),
        ("aks-agentpool-22126781-vmss00000a", 10),
        ("aks-agentpool-22126781-vmss00000A", 10),
        ("aks-agentpool-22126781-vmss0000zz", 36 * 36 - 1),
        ("aks-nodepool1-27053986-0", None),
        ("virtual-node-aci-linux", None),
        ("aks-agentpool-22126781-vmss00001", None),
    ],
)
def test_vmss_instance_from_node_name(name, instance):
    assert pid.vmss_instance_from_node_name(name) == instance


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, pid.OK),
        ({"provider_id": None}, pid.EMPTY),
        ({"provider_id": VMSS.replace("azure:///", "azure:////")}, pid.MALFORMED),
        ({"provider_id": "azure:///subscriptions/x"}, pid.MALFORMED),
        ({"provider_id": "aks-nodepool1-12345678-vmss000000"}, pid.HOSTNAME),
        ({"provider_id": "k3s://aks-nodepool1-12345678-vmss000000"}, pid.FOREIGN),
        ({"provider_id": "no-scheme-at-all"}, pid.MALFORMED),
        ({"provider_id": None, "labels": {"type": "virtual-kubelet"}}, pid.VIRTUAL),
        ({"provider_id": None, "taints": [VK_TAINT]}, pid.VIRTUAL),
    ],
)  # fmt: skip
def test_classify(kwargs, status):
    got, reason = pid.classify_provider_id(node(**kwargs))
    assert got == status
    assert (reason == "") == (status == pid.OK)


def test_empty_string_provider_id_is_empty():
    n = node()
    n["spec"]["providerID"] = ""
    assert pid.classify_provider_id(n)[0] == pid.EMPTY


def test_virtual_by_role_and_name_only_without_azure_provider_id():
    vk = node("virtual-kubelet-aci", provider_id=None, labels={"kubernetes.io/role": "agent"})
    assert pid.is_virtual_node(vk)
    real = node("virtual-node-pool-vmss000000", labels={"kubernetes.io/role": "agent"})
    assert not pid.is_virtual_node(real)
