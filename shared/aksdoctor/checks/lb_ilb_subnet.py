"""An internal load balancer takes its frontend IP from a subnet of the cluster's VNet: the one the Service names
(azure-load-balancer-internal-subnet) or the cloud config's subnetName. A misspelt subnet, a full one, or a
requested private IP outside it keeps the Service without an IP. The provider's events say the sync failed; the
VNet says which of these it is, with the numbers.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import arm_field, prop, resource_group_of
from aksdoctor.checks._lb_azure import annotate, cloud_config
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.checks.provider_errors import EVENT_FACTS, with_azure_side
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix, Severity

ID = "lb.ilb-subnet"
AZURE_RESERVED = 5  # per IPv4 prefix: network address, .1 gateway, .2/.3 Azure DNS, broadcast
# Subnets that cannot hold a load balancer frontend.
SPECIAL_SUBNETS = frozenset(
    {"gatewaysubnet", "azurebastionsubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet"}
)
DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/internal-lb",
    "https://learn.microsoft.com/en-us/azure/virtual-network/ip-services/private-ip-addresses",
)


@check(
    id=ID,
    title="Internal load balancer subnet missing, wrong or full",
    severity="error",
    scope="service",
    needs=("services",),
    optional=(
        *EVENT_FACTS,
        "cloud_config",
        "azure_scope",
        "azure_virtual_networks",
        "azure_vm_scale_sets",
        "azure_network_interfaces",
    ),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> list[Finding]:
    """Provider errors about the internal LB's subnet, and whether the subnet exists, has room and holds the IP."""
    return with_azure_side(ctx, ID, _azure_side)


@dataclass(frozen=True)
class _Vnet:
    """The cluster's VNet and default subnet, and what says so."""

    resource_group: str
    name: str
    subnet: str
    evidence: tuple[Evidence, ...]


def _azure_side(ctx: ServiceContext) -> Iterator[Finding]:
    svc = ctx.service
    if not mapping.is_internal(svc):
        raise NotApplicable("not an internal load balancer Service")
    vnets = ctx.fact("azure_virtual_networks")
    cluster = _cluster_vnet(ctx)
    annotated = mapping.internal_subnet(svc)
    wanted = annotated or cluster.subnet
    vnet = _find(vnets, cluster.resource_group, cluster.name)
    if vnet is None:
        raise FactUnavailable(f"the cluster's VNet {cluster.name} ({cluster.resource_group}) was not listed")
    asked = [*_subnet_evidence(svc, annotated), *cluster.evidence]
    subnets = [s for s in prop(vnet, "subnets") or () if isinstance(s, Mapping)]
    subnet = next((s for s in subnets if str(s.get("name") or "").lower() == wanted.lower()), None)
    if subnet is None:
        yield _missing(ctx, wanted, vnet, subnets, vnets, asked)
        return
    evidence = [*asked, _subnet_numbers(subnet)]
    requested = mapping.service_ip(svc, False)
    if requested:
        yield from _requested_ip(ctx, requested, subnet, subnets, vnet, evidence)
    free = free_addresses(subnet)
    if free is not None and free <= 0:
        yield _full(ctx, subnet, subnets, vnet, evidence)


def _subnet_evidence(svc: Mapping[str, Any], annotated: str | None) -> list[Evidence]:
    if annotated is None:
        return []
    key = mapping.INTERNAL_SUBNET
    return [field_evidence("Service", svc, f"metadata.annotations[{key}]", kube.annotations(svc).get(key))]


def _cluster_vnet(ctx: ServiceContext) -> _Vnet:
    """VNet and default subnet (found once per run): the cloud config's vnetName/subnetName, else the subnet most
    node NICs are in."""
    found = ctx.facts.derived("lb.ilb-subnet:cluster-vnet", lambda: _read_cluster_vnet(ctx))
    if found is None:
        raise FactUnavailable("cannot tell the cluster's VNet: no cloud config and no scale set or NIC subnet")
    return found


def _read_cluster_vnet(ctx: ServiceContext) -> _Vnet | None:
    cfg = cloud_config(ctx)
    if cfg and cfg.text("vnetName") and cfg.text("subnetName"):
        rg_key = "vnetResourceGroup" if cfg.text("vnetResourceGroup") else "resourceGroup"
        evidence = tuple(Evidence("Config", cfg.source, cfg.describe(k)) for k in ("vnetName", rg_key, "subnetName"))
        return _Vnet(cfg.text(rg_key), cfg.text("vnetName"), cfg.text("subnetName"), evidence)
    counts = Counter(_node_subnet_ids(ctx))
    if not counts:
        return None
    subnet_id, used = counts.most_common(1)[0]
    # /subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET
    parts = subnet_id.split("/")
    evidence = Evidence("Azure", subnet_id, f"subnet of {used} node NIC configuration(s): the cluster's default subnet")
    return _Vnet(resource_group_of(subnet_id), parts[-3], parts[-1], (evidence,))


def _node_subnet_ids(ctx: ServiceContext) -> Iterator[str]:
    """Subnet ids of the scale sets' NIC configurations and of standalone NICs (availability-set nodes)."""
    for vmss in ctx.fact_or("azure_vm_scale_sets", ()):
        network = arm_field(arm_field(vmss, "virtualMachineProfile"), "networkProfile")
        for nic in arm_field(network, "networkInterfaceConfigurations") or ():
            yield from _subnet_ids(nic)
    for nic in ctx.fact_or("azure_network_interfaces", ()):
        yield from _subnet_ids(nic)


def _subnet_ids(nic: Mapping[str, Any]) -> Iterator[str]:
    for config in arm_field(nic, "ipConfigurations") or ():
        subnet = arm_field(config, "subnet")
        if isinstance(subnet, Mapping) and subnet.get("id"):
            yield str(subnet["id"])


def _find(vnets: Iterable[Mapping[str, Any]], rg: str, name: str) -> Mapping[str, Any] | None:
    for vnet in vnets:
        same_rg = not rg or resource_group_of(str(vnet.get("id") or "")).lower() == rg.lower()
        if same_rg and str(vnet.get("name") or "").lower() == name.lower():
            return vnet
    return None


# ---- numbers -----------------------------------------------------------------------------------------------------


def _prefixes(subnet: Mapping[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    texts = [prop(subnet, "addressPrefix"), *(prop(subnet, "addressPrefixes") or ())]
    out = []
    for text in dict.fromkeys(t for t in texts if t):
        try:
            out.append(ipaddress.ip_network(str(text), strict=False))
        except ValueError:
            continue
    return out


def free_addresses(subnet: Mapping[str, Any]) -> int | None:
    """IPv4 addresses left: each prefix's size less Azure's 5 reserved, less the IP configurations using the subnet.

    None when the subnet has no IPv4 prefix (IPv6 subnets do not run out).
    """
    v4 = [p for p in _prefixes(subnet) if p.version == 4]
    if not v4:
        return None
    usable = sum(max(p.num_addresses - AZURE_RESERVED, 0) for p in v4)
    return usable - len(prop(subnet, "ipConfigurations") or ())


def _subnet_numbers(subnet: Mapping[str, Any]) -> Evidence:
    prefixes = ", ".join(str(p) for p in _prefixes(subnet)) or "<none>"
    used = len(prop(subnet, "ipConfigurations") or ())
    free = free_addresses(subnet)
    detail = f"addressPrefix(es)={prefixes} ipConfigurations={used}"
    if free is not None:
        detail += f" free={free} (prefix size - {AZURE_RESERVED} reserved - ipConfigurations)"
    return Evidence("Azure", str(subnet.get("id") or subnet.get("name") or ""), detail)


def _roomiest(subnets: Sequence[Mapping[str, Any]], but: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
    """The subnet with the most free addresses that can hold a frontend (not delegated, not a gateway subnet)."""
    candidates = [
        (free, s)
        for s in subnets
        if s is not but
        and str(s.get("name") or "").lower() not in SPECIAL_SUBNETS
        and not prop(s, "delegations")
        and (free := free_addresses(s))
    ]
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


# ---- findings ----------------------------------------------------------------------------------------------------


def _vnet_flags(vnet: Mapping[str, Any]) -> list[str]:
    return ["--resource-group", resource_group_of(str(vnet.get("id") or "")), "--vnet-name", str(vnet.get("name"))]


def _missing(
    ctx: ServiceContext,
    wanted: str,
    vnet: Mapping[str, Any],
    subnets: Sequence[Mapping[str, Any]],
    vnets: Iterable[Mapping[str, Any]],
    asked: list[Evidence],
) -> Finding:
    names = [str(s.get("name")) for s in subnets]
    elsewhere = [
        str(v.get("name"))
        for v in vnets
        if v is not vnet and any(str(s.get("name") or "").lower() == wanted.lower() for s in prop(v, "subnets") or ())
    ]
    cause = (
        f"Subnet {wanted!r} does not exist in the cluster's VNet {vnet.get('name')}, so the provider cannot place "
        "the internal frontend (it only looks in that VNet)."
    )
    if elsewhere:
        cause += f" A subnet of that name exists in VNet {', '.join(elsewhere)}, which the provider does not use."
    listing = Evidence("Azure", str(vnet.get("id") or ""), f"subnets: {', '.join(names) or '<none>'}")
    query = "[].{name:name, prefix:addressPrefix, used:length(ipConfigurations || `[]`)}"
    commands = [
        shell.command("az", "network", "vnet", "subnet", "list", *_vnet_flags(vnet), "--query", query, "-o", "table")
    ]
    target = _roomiest(subnets)
    if target is not None:
        commands.append(annotate(ctx.service, mapping.INTERNAL_SUBNET, str(target.get("name"))))
    summary = "Name an existing subnet of the VNet in azure-load-balancer-internal-subnet" + (
        f" (for example {target.get('name')}, which has the most free addresses)." if target is not None else "."
    )
    return ctx.finding(cause, [*asked, listing], fix=Fix(summary, tuple(commands)))


def _full(
    ctx: ServiceContext,
    subnet: Mapping[str, Any],
    subnets: Sequence[Mapping[str, Any]],
    vnet: Mapping[str, Any],
    evidence: list[Evidence],
) -> Finding:
    has_ip = bool(mapping.ingress_ips(ctx.service))
    cause = f"Subnet {subnet.get('name')} has no free address left ({_subnet_numbers(subnet).detail})."
    if has_ip:
        cause += " The Service keeps the IP it has, but a new internal frontend in this subnet fails (SubnetIsFull)."
    else:
        cause += " The provider cannot take a frontend IP from it, so the Service stays without an IP (SubnetIsFull)."
    target = _roomiest(subnets, subnet)
    commands = []
    if target is not None:
        commands.append(annotate(ctx.service, mapping.INTERNAL_SUBNET, str(target.get("name"))))
        summary = (
            f"Move the Service to subnet {target.get('name')} ({free_addresses(target)} free addresses; the "
            "Service's IP changes), or free addresses in this one."
        )
    else:
        commands.append(
            shell.command(
                "az",
                "network",
                "vnet",
                "subnet",
                "create",
                *_vnet_flags(vnet),
                "--name",
                "<new-subnet>",
                "--address-prefixes",
                "<cidr>",
            )
        )
        commands.append(annotate(ctx.service, mapping.INTERNAL_SUBNET, "<new-subnet>"))
        summary = (
            "Create a subnet with room in the VNet and move the Service to it (its IP changes), or free addresses."
        )
    return ctx.finding(
        cause, evidence, fix=Fix(summary, tuple(commands)), severity=Severity.WARNING if has_ip else None
    )


def _requested_ip(
    ctx: ServiceContext,
    requested: str,
    subnet: Mapping[str, Any],
    subnets: Sequence[Mapping[str, Any]],
    vnet: Mapping[str, Any],
    evidence: list[Evidence],
) -> Iterator[Finding]:
    svc = ctx.service
    try:
        ip = ipaddress.ip_address(requested.strip())
    except ValueError:
        return  # lb.annotation-invalid reports a malformed address
    key = mapping.LB_IP[False] if kube.annotations(svc).get(mapping.LB_IP[False]) else None
    asked = field_evidence("Service", svc, f"metadata.annotations[{key}]" if key else "spec.loadBalancerIP", requested)
    inside = [p for p in _prefixes(subnet) if p.version == ip.version and ip in p]
    if inside:
        net = inside[0]
        reserved = {net.network_address + i for i in range(4)} | {net.broadcast_address}
        if ip in reserved:
            cause = (
                f"The Service asks for private IP {ip}, one of the 5 addresses Azure reserves in {net} (network, "
                "gateway, DNS and broadcast), so Azure refuses it."
            )
            fix = Fix(
                f"Ask for an address from {net.network_address + 4} to {net.broadcast_address - 1}.",
                (annotate(svc, mapping.LB_IP[False], "<free IP>"),),
            )
            yield ctx.finding(cause, [asked, *evidence], fix=fix)
        return
    prefixes = ", ".join(str(p) for p in _prefixes(subnet))
    cause = (
        f"The Service asks for private IP {ip}, which is outside subnet {subnet.get('name')} ({prefixes}): an internal "
        "frontend takes its IP from its subnet, so Azure refuses it."
    )
    holder = next((s for s in subnets if any(p.version == ip.version and ip in p for p in _prefixes(s))), None)
    if holder is not None:
        cause += f" The address lies in subnet {holder.get('name')} of the same VNet."
        fix = Fix(
            f"Put the Service in subnet {holder.get('name')} (azure-load-balancer-internal-subnet), or ask for an "
            f"address inside {prefixes}.",
            (annotate(svc, mapping.INTERNAL_SUBNET, str(holder.get("name"))),),
        )
    else:
        cause += f" No subnet of VNet {vnet.get('name')} holds it."
        fix = Fix(f"Ask for a free address inside {prefixes}.", (annotate(svc, mapping.LB_IP[False], "<free IP>"),))
    yield ctx.finding(cause, [asked, *evidence], fix=fix)
