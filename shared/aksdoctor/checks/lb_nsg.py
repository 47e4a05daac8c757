"""A LoadBalancer Service's packets cross the nodes' network security groups twice: clients reach the frontend IP
(or the node's IP and nodePort when floating IP is off), and Azure's health probe reaches every node from
168.63.129.16. One Deny on that path (a user rule ranked before the provider's allow rule, a subnet NSG the provider
never edits, a deny-all outranking the allowed ranges) makes the IP time out while every Kubernetes object looks
healthy. Both flows are evaluated through the subnet and NIC NSGs the way Azure does it (azure/nsg.py), on one
representative node per node pool: nodes of a pool share their NSGs and subnet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import mapping, nsg, pool, providerid
from aksdoctor.azure.mapping import ref_id
from aksdoctor.azure.nsg import INBOUND, NIC, SUBNET, AddressSpace, Flow, NetworkSecurityGroup, Verdict
from aksdoctor.azure.resources import arm_field, prop
from aksdoctor.checks._lb_azure import (
    CONFIG_FACTS,
    capped,
    config,
    describe_service,
    provider_config,
    require_azure_service,
)
from aksdoctor.checks.base import NotApplicable, ServiceContext, Skipped, check, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix, Severity

ID = "lb.nsg-blocks-traffic"
DOCS = (
    "https://learn.microsoft.com/en-us/azure/virtual-network/network-security-group-how-it-works",
    "https://learn.microsoft.com/en-us/azure/aks/configure-load-balancer-standard",
    "https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-custom-probe-overview",
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
)
CLIENT, PROBE = "client", "probe"
_NSG_KN = knowledge.load("lb_mapping")["nsg"]
_MANAGED_PRIORITIES: tuple[int, int] = tuple(_NSG_KN["priority_range"])
# Flow protocol per LB rule protocol; NSG rules have no SCTP protocol (the provider writes "*"), so only "*" matches.
_FLOW_PROTOCOLS = {"Tcp": "Tcp", "Udp": "Udp", "All": "Sctp"}
_SOURCE_ANNOTATIONS = (
    mapping.ALLOWED_IP_RANGES,
    mapping.SOURCE_RANGES_ANNOTATION,
    mapping.ALLOWED_SERVICE_TAGS,
    mapping.DENY_ALL_EXCEPT,
    mapping.DISABLE_FLOATING_IP,
    mapping.DISABLE_NSG_RULE,
)
_COMMAND_CAP = 4


@check(
    id=ID,
    title="Network security group blocks the Service's traffic",
    severity="error",
    scope="service",
    needs=("services", "nodes", "azure_network_security_groups"),
    optional=(
        "azure_vm_scale_sets",
        "azure_network_interfaces",
        "azure_virtual_networks",
        "azure_load_balancers",
        *CONFIG_FACTS,
    ),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> list[Finding]:
    """Client traffic (from the allowed sources to the frontend) and the Azure probe (from AzureLoadBalancer to the
    nodes) through the subnet NSG and the NIC NSG of each node pool."""
    require_azure_service(ctx)
    svc = ctx.service
    frontend_ips = [ip for ip in mapping.ingress_ips(svc) if _is_ip(ip)]
    if not frontend_ips:
        raise NotApplicable("the Service has no load balancer IP yet (see lb.pending)")
    pools = _pools(ctx)
    if not pools:
        raise NotApplicable("no node is eligible for the load balancer's backend pool (see lb.backend-pool-empty)")
    rules = mapping.expected_rules(svc, _config(ctx))
    blocked: list[_Hit] = []
    doubtful: list[_Hit] = []
    unknown: list[str] = []
    for node_pool in pools:
        unknown += [f"{lvl.name} NSG of {node_pool.label}: {lvl.unknown}" for lvl in node_pool.levels if lvl.unknown]
        levels = [(lvl.name, lvl.nsg) for lvl in node_pool.levels if not lvl.unknown]
        flows, missing = _flows(svc, rules, frontend_ips, node_pool)
        unknown += missing
        if not levels:
            continue
        for flow in flows:
            for verdict in nsg.evaluate_path(flow.flow, levels, node_pool.space).verdicts:
                if verdict.blocking:
                    blocked.append(_Hit(flow, node_pool, verdict))
                elif verdict.doubts:
                    doubtful.append(_Hit(flow, node_pool, verdict))
    findings = []
    for kind in (CLIENT, PROBE):
        hits = [h for h in blocked if h.flow.kind == kind]
        doubts = [h for h in doubtful if h.flow.kind == kind]
        if hits or doubts:
            findings.append(_finding(ctx, kind, hits or doubts, bool(hits), pools, unknown))
    if not findings and unknown:
        raise Skipped("could not evaluate every NSG: " + capped(list(dict.fromkeys(unknown)), 3))
    return findings


def _config(ctx: ServiceContext) -> mapping.ProviderConfig:
    """The provider's settings (probe mode, SKU); without the LBs, from the cloud config or the managed cluster."""
    try:
        return config(ctx)
    except FactUnavailable:
        return provider_config(ctx)


# ---- node pools and the NSGs on their path ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Level:
    """One NSG level of a pool: its NSG (None: no NSG here, everything passes), or why it could not be read."""

    name: str
    nsg: NetworkSecurityGroup | None
    unknown: str = ""


@dataclass(frozen=True, eq=False)
class _Pool:
    """Nodes that share a NIC configuration (a scale set, or standalone NICs in one subnet with one NSG), judged on
    one representative node."""

    label: str
    node: Mapping[str, Any]
    size: int
    levels: tuple[_Level, ...]
    space: AddressSpace
    subnet_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _NicConfig:
    """What decides a node's NSG path: its subnet and its NIC's NSG (ids lower-cased, "" when none)."""

    subnet_id: str
    nsg_id: str


def _pools(ctx: ServiceContext) -> tuple[_Pool, ...]:
    return ctx.facts.derived("lb.nsg:pools", lambda: _build_pools(ctx))


def _listing(ctx: ServiceContext, name: str) -> tuple[list[dict], str]:
    """An optional Azure fact and, when it could not be read, why."""
    try:
        return ctx.fact(name), ""
    except FactUnavailable as exc:
        return [], exc.reason


def _build_pools(ctx: ServiceContext) -> tuple[_Pool, ...]:
    nodes = sorted(ctx.nodes, key=kube.name)
    excluded = pool.cached_exclusion_index(ctx.facts, nodes)
    scale_sets, vmss_reason = _listing(ctx, "azure_vm_scale_sets")
    nics, nic_reason = _listing(ctx, "azure_network_interfaces")
    vnets, vnet_reason = _listing(ctx, "azure_virtual_networks")
    vmss_by_id = {str(v.get("id") or "").lower(): v for v in scale_sets}
    nic_by_vm = {ref_id(prop(n, "virtualMachine")): n for n in nics if ref_id(prop(n, "virtualMachine"))}
    subnets = {
        str(s.get("id") or "").lower(): (s, vnet)
        for vnet in vnets
        for s in prop(vnet, "subnets") or ()
        if isinstance(s, Mapping)
    }
    nsgs = {str(r.get("id") or "").lower(): nsg.parse_nsg(r) for r in ctx.fact("azure_network_security_groups")}

    groups: dict[tuple[str, ...], _Group] = {}
    for node in nodes:
        parsed = providerid.parse_provider_id(providerid.provider_id(node))
        if excluded.get(kube.name(node)) is not None or parsed is None:
            continue
        key, group = _placement(parsed, vmss_by_id, nic_by_vm, vmss_reason, nic_reason)
        groups.setdefault(key, group).members.append(node)
    return tuple(_pool(group, subnets, vnet_reason, nsgs) for group in groups.values())


@dataclass
class _Group:
    """Nodes placed alike: how findings name them, their NIC configuration, or why it is not known."""

    label: str
    cfg: _NicConfig | None
    why: str = ""
    members: list[Mapping[str, Any]] = field(default_factory=list)


def _placement(
    parsed: providerid.ProviderId,
    vmss_by_id: Mapping[str, Mapping[str, Any]],
    nic_by_vm: Mapping[str, Mapping[str, Any]],
    vmss_reason: str,
    nic_reason: str,
) -> tuple[tuple[str, ...], _Group]:
    """The group a node falls in: its scale set, or (standalone NICs) its subnet and NIC NSG."""
    if parsed.kind == "vmss":
        vmss_id = parsed.normalized_id.split("/virtualmachines/")[0]
        label = f"scale set {parsed.scale_set}"
        vmss = vmss_by_id.get(vmss_id)
        if vmss is None:
            return ("vmss", vmss_id), _Group(label, None, vmss_reason or f"{label} is not among the listed scale sets")
        profile = arm_field(arm_field(vmss, "virtualMachineProfile"), "networkProfile")
        cfg = _nic_config(_primary(arm_field(profile, "networkInterfaceConfigurations")))
        return ("vmss", vmss_id), _Group(label, cfg, "" if cfg else "the scale set has no NIC configuration")
    nic = nic_by_vm.get(parsed.normalized_id)
    if nic is None:
        why = nic_reason or "their NICs are not among the listed network interfaces"
        return ("vm",), _Group("VMs without a readable NIC", None, why)
    cfg = _nic_config(nic)
    if cfg is None:
        return ("nic",), _Group("VMs whose NIC has no IP configuration", None, "the NIC has no IP configuration")
    subnet = cfg.subnet_id.rsplit("/", 1)[-1] or "unknown subnet"
    return ("nic", cfg.subnet_id, cfg.nsg_id), _Group(f"VMs with standalone NICs in subnet {subnet}", cfg)


def _primary(items: Any) -> Mapping[str, Any] | None:
    """The primary NIC (configuration) or IP configuration, else the first."""
    items = [i for i in items or () if isinstance(i, Mapping)]
    return next((i for i in items if arm_field(i, "primary") is True), items[0] if items else None)


def _nic_config(nic: Mapping[str, Any] | None) -> _NicConfig | None:
    """Subnet and NSG of a scale set's NIC configuration or a standalone NIC (both shapes)."""
    if nic is None:
        return None
    ipconfig = _primary(arm_field(nic, "ipConfigurations"))
    if ipconfig is None:
        return None
    return _NicConfig(ref_id(arm_field(ipconfig, "subnet")), ref_id(arm_field(nic, "networkSecurityGroup")))


def _pool(
    group: _Group,
    subnets: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]],
    vnet_reason: str,
    nsgs: Mapping[str, NetworkSecurityGroup],
) -> _Pool:
    label, cfg, why = group.label, group.cfg, group.why
    node, size = group.members[0], len(group.members)
    if cfg is None:
        return _Pool(
            label, node, size, (_Level(SUBNET, None, why), _Level(NIC, None, why)), AddressSpace.assumed_private()
        )
    subnet, vnet = subnets.get(cfg.subnet_id, (None, None))
    if vnet_reason:
        subnet_level = _Level(SUBNET, None, f"virtual networks not read ({vnet_reason})")
    elif subnet is None:
        subnet_level = _Level(SUBNET, None, f"subnet {cfg.subnet_id or '-'} is not among the listed virtual networks")
    else:
        subnet_level = _level(SUBNET, ref_id(prop(subnet, "networkSecurityGroup")), nsgs)
    space = AddressSpace.of_vnet(vnet) if vnet is not None else AddressSpace.assumed_private()
    prefixes: tuple[str, ...] = ()
    if subnet is not None:
        prefixes = tuple(str(p) for p in [prop(subnet, "addressPrefix"), *(prop(subnet, "addressPrefixes") or ())] if p)
    levels = (subnet_level, _level(NIC, cfg.nsg_id, nsgs))
    return _Pool(label, node, size, levels, space, tuple(dict.fromkeys(prefixes)))


def _level(name: str, nsg_id: str, nsgs: Mapping[str, NetworkSecurityGroup]) -> _Level:
    if not nsg_id:
        return _Level(name, None)
    found = nsgs.get(nsg_id)
    return _Level(name, found) if found else _Level(name, None, f"NSG {nsg_id} is not among the listed NSGs")


# ---- flows -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Flow:
    """A flow to judge: `broad` sources (a tag, or a /0) make a partial denial a warning (a block list is normal);
    `to_node`: the destination is the node's own address (probe, or floating IP off)."""

    kind: str
    flow: Flow
    broad: bool
    to_node: bool


@dataclass(frozen=True)
class _Hit:
    flow: _Flow
    pool: _Pool
    verdict: Verdict


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _node_ip(node: Mapping[str, Any], version: int) -> str | None:
    for address in kube.status(node).get("addresses") or ():
        if address.get("type") != "InternalIP":
            continue
        try:
            if ipaddress.ip_address(str(address.get("address"))).version == version:
                return str(address["address"])
        except ValueError:
            continue
    return None


def _client_sources(svc: Mapping[str, Any], ipv6: bool) -> list[tuple[tuple[str, ...], bool]]:
    """The source sets the Service admits in one family, as the provider's allow rules group them: the service tags
    each alone, the ranges together; Internet by default; VirtualNetwork for an internal LB without ranges."""
    names = mapping.nsg_rule_names(svc, (ipv6,))
    groups = list(dict.fromkeys(rule.sources for rule in names.allow))
    if not groups and mapping.is_internal(svc) and not names.invalid_ranges:
        groups = [(nsg.VIRTUAL_NETWORK,)]
    return [(g, any(_broad(s) for s in g)) for g in groups]


def _broad(source: str) -> bool:
    try:
        return ipaddress.ip_network(source, strict=False).prefixlen == 0
    except ValueError:
        return True  # a service tag


def _flows(
    svc: Mapping[str, Any], rules: Sequence[mapping.ExpectedRule], frontend_ips: Sequence[str], node_pool: _Pool
) -> tuple[list[_Flow], list[str]]:
    """Client and probe flows of the Service for one pool, and the flows that could not be built (no node IP)."""
    flows: dict[Flow, _Flow] = {}
    missing: list[str] = []
    ports = [p for p in kube.spec(svc).get("ports") or () if isinstance(p, Mapping)]
    sources = {v6: _client_sources(svc, v6) for v6 in {r.ipv6 for r in rules}}
    for rule in rules:
        version = 6 if rule.ipv6 else 4
        node_ip = _node_ip(node_pool.node, version)
        if node_ip is None:
            missing.append(f"node {kube.name(node_pool.node)} has no IPv{version} InternalIP")
            continue
        if rule.ha_ports:
            targets = [(_k8s_protocol(p), p.get("port"), p.get("nodePort")) for p in ports]
        else:
            targets = [(_FLOW_PROTOCOLS.get(rule.protocol, rule.protocol), rule.frontend_port, rule.node_port)]
        for group, broad in sources[rule.ipv6]:
            for protocol, port, node_port in targets:
                if rule.floating_ip:
                    for ip in frontend_ips:
                        if ipaddress.ip_address(ip).version == version and port:
                            flow = Flow(INBOUND, protocol, group, ip, int(port))
                            flows.setdefault(flow, _Flow(CLIENT, flow, broad, False))
                elif node_port:
                    flow = Flow(INBOUND, protocol, group, node_ip, int(node_port))
                    flows.setdefault(flow, _Flow(CLIENT, flow, broad, True))
        if rule.probe and rule.probe.port:
            flow = Flow(INBOUND, "Tcp", (nsg.AZURE_LOAD_BALANCER,), node_ip, rule.probe.port)
            flows.setdefault(flow, _Flow(PROBE, flow, True, True))
    return list(flows.values()), list(dict.fromkeys(missing))


def _k8s_protocol(port: Mapping[str, Any]) -> str:
    return {"TCP": "Tcp", "UDP": "Udp"}.get(str(port.get("protocol") or "TCP"), "Sctp")


# ---- the finding -----------------------------------------------------------------------------------------------


def _managed(rule: nsg.SecurityRule) -> bool:
    """A rule cloud-provider-azure owns (IsManagedSecurityRule): its prefix and a priority in 500-4096."""
    low, high = _MANAGED_PRIORITIES
    return rule.name.lower().startswith(mapping.NSG_PREFIX.lower()) and low <= rule.priority <= high


def _group(hits: Iterable[_Hit]) -> dict[tuple[Any, ...], list[_Hit]]:
    """Hits that name the same flow, NSG and deciding rule (floating-IP flows repeat across pools)."""
    out: dict[tuple[Any, ...], list[_Hit]] = {}
    for hit in hits:
        decision = hit.verdict.blocking or hit.verdict.doubts[0]
        key = (hit.flow.flow, hit.verdict.level, hit.verdict.nsg.id if hit.verdict.nsg else "", decision.rule.id)
        out.setdefault(key, []).append(hit)
    return out


def _finding(
    ctx: ServiceContext,
    kind: str,
    hits: Sequence[_Hit],
    certain: bool,
    pools: Sequence[_Pool],
    unknown: Sequence[str],
) -> Finding:
    svc = ctx.service
    grouped = _group(hits)
    lines: list[str] = []
    rule_evidence: list[Evidence] = []
    unevaluated: list[Evidence] = []
    for group in grouped.values():
        first = group[0]
        where = ", ".join(h.pool.label for h in group)
        verdict, flow = first.verdict, first.flow.flow
        nsg_name = verdict.nsg.name if verdict.nsg else "-"
        if certain:
            decision = verdict.blocking
            part = f" (for {decision.part()}; the rest is allowed)" if verdict.partial else ""
            lines.append(
                f"{flow.describe()} is denied{part} by rule {decision.rule.name} (priority {decision.rule.priority}) "
                f"of the {verdict.level} NSG {nsg_name}, for {where}"
            )
            detail = f"{verdict.level} NSG {nsg_name}: {decision.rule.describe()}; denies {flow.describe()}"
            rule_evidence.append(
                Evidence("Azure", decision.rule.id, detail + (f" for {decision.part()}" if part else ""))
            )
            skipped = [u for u in verdict.unevaluated if u.rule.priority < decision.rule.priority]
        else:
            skipped = list(verdict.doubts)
            lines.append(
                f"{flow.describe()} meets Deny rule {skipped[0].rule.name} (priority {skipped[0].rule.priority}) of "
                f"the {verdict.level} NSG {nsg_name} before any rule that allows it, and {skipped[0].why}, for {where}"
            )
        unevaluated += [
            Evidence("Azure", u.rule.id, f"not evaluated ({u.why}): {u.rule.describe()}") for u in skipped[:2]
        ]
    evidence = [*rule_evidence, *_service_evidence(svc, kind)]
    for node_pool in dict.fromkeys(h.pool for h in hits if h.flow.to_node):
        ips = ", ".join(dict.fromkeys(h.flow.flow.destination for h in hits if h.pool is node_pool))
        detail = f"InternalIP {ips}: representative of {node_pool.label} ({node_pool.size} node(s))"
        evidence.append(Evidence("Node", kube.ref("Node", node_pool.node), detail))
    evidence += list(dict.fromkeys(unevaluated))
    evidence += [Evidence("Azure", "NSG path", f"not evaluated: {u}") for u in list(dict.fromkeys(unknown))[:3]]

    if kind == CLIENT:
        head = "Traffic the Service admits is denied by a network security group"
        tail = (
            "Azure needs an Allow at every NSG on the path (the subnet's, then the NIC's); the first matching rule "
            "by priority decides."
        )
    else:
        head = "Azure's health probe (source AzureLoadBalancer, 168.63.129.16) is denied by a network security group"
        tail = "The load balancer then marks these nodes down and sends them no traffic."
    if not certain:
        head = f"Cannot tell whether {'the Service traffic' if kind == CLIENT else 'the health probe'} passes the NSGs"
        tail = (
            "Service tags other than Internet, VirtualNetwork and AzureLoadBalancer, and application security groups, "
            "cannot be expanded offline."
        )
    cause = f"{head}: {capped(lines, 3)}. {tail}"
    cause += _provider_note(svc, kind, hits, pools)
    nodes = [f"{kube.name(p.node)} for {p.label}" for p in pools]
    cause += f" Evaluated on one representative node per node pool: {capped(nodes, 5)}."
    assumed = next((h.pool.space.origin for h in hits if h.pool.space.assumed), None)
    if assumed:
        cause += f" VirtualNetwork was taken as the {assumed}."
    severity = Severity.ERROR if certain and any(_severe(h) for h in hits) else Severity.WARNING
    return ctx.finding(cause, evidence, fix=_fix(svc, kind, grouped, certain), severity=severity)


def _severe(hit: _Hit) -> bool:
    """A denial of all the allowed sources, or of part of sources the Service lists itself, is an error; a denial
    of part of Internet (a block list) only a warning."""
    return not hit.verdict.partial or not hit.flow.broad


def _service_evidence(svc: Mapping[str, Any], kind: str) -> list[Evidence]:
    out: list[Evidence] = []
    if kind == CLIENT:
        out.append(
            field_evidence("Service", svc, "status.loadBalancer.ingress[].ip", ", ".join(mapping.ingress_ips(svc)))
        )
        ranges = kube.spec(svc).get("loadBalancerSourceRanges")
        if ranges:
            out.append(field_evidence("Service", svc, "spec.loadBalancerSourceRanges", ", ".join(map(str, ranges))))
    annotations = kube.annotations(svc)
    for key in _SOURCE_ANNOTATIONS if kind == CLIENT else (mapping.DISABLE_NSG_RULE,):
        if key in annotations:
            out.append(field_evidence("Service", svc, f"metadata.annotations[{key}]", annotations[key]))
    return out


def _provider_note(svc: Mapping[str, Any], kind: str, hits: Sequence[_Hit], pools: Sequence[_Pool]) -> str:
    """Client flows: whether the provider manages the Service's NSG rules, and which NSG holds its allow rule
    (current `k8s-azure-lb_allow_*` or legacy ≤ v1.28 names)."""
    if kind != CLIENT:
        return ""
    names = mapping.nsg_rule_names(svc)
    if not names.managed:
        return (
            f" The Service sets {mapping.DISABLE_NSG_RULE}: cloud-provider-azure manages no NSG rule for it, so the "
            "allow rules must be created by hand."
        )
    expected = {r.name.lower() for r in names.allow} | {n.lower() for n in names.legacy}
    if not expected:
        return ""
    known = {lvl.nsg.id: lvl.nsg for p in pools for lvl in p.levels if lvl.nsg}
    holding = {n.id for n in known.values() if any(n.rule_named(name) for name in expected)}
    if not holding:
        allow_names = ", ".join(sorted(r.name for r in names.allow))
        return (
            f" cloud-provider-azure's allow rule for these sources ({allow_names}) is in none of the nodes' NSGs: "
            "its last sync of the Service failed, or it writes to another NSG (see the Service's events)."
        )
    others = list(dict.fromkeys(h.verdict.nsg.name for h in hits if h.verdict.nsg and h.verdict.nsg.id not in holding))
    if others:
        return (
            f" cloud-provider-azure keeps its allow rule in NSG {', '.join(known[i].name for i in sorted(holding))} "
            f"only; it never edits {', '.join(others)}."
        )
    return ""


def _fix(svc: Mapping[str, Any], kind: str, grouped: Mapping[tuple[Any, ...], list[_Hit]], certain: bool) -> Fix:
    commands: list[str] = []
    notes: list[str] = []
    for group in grouped.values():
        hit = group[0]
        verdict = hit.verdict
        rule = (verdict.blocking or verdict.doubts[0]).rule
        if verdict.nsg is None:
            continue
        if _managed(rule):
            notes.append(
                f"{rule.name} is cloud-provider-azure's own rule, rewritten from the Services' "
                f"{mapping.ALLOWED_IP_RANGES.split('/')[-1]}, {mapping.ALLOWED_SERVICE_TAGS.split('/')[-1]}, "
                f"spec.loadBalancerSourceRanges and {mapping.DENY_ALL_EXCEPT.split('/')[-1]} at every sync: change "
                "those on the Service (and see its events for a failed sync), not the rule in Azure."
            )
            commands.append(describe_service(svc))
            continue
        command = _allow_command(hit, rule)
        if command:
            commands.append(command)
        else:
            notes.append(f"No priority is free before {rule.name} ({rule.priority}) in {verdict.nsg.name}: narrow it.")
            commands.append(_show_rule(verdict.nsg, rule))
    if certain:
        summary = (
            "Add an Allow rule ranked before the denying rule in each NSG named (or narrow that rule)"
            if kind == CLIENT
            else "Allow the AzureLoadBalancer service tag to the nodes' probe port before the denying rule"
        )
    else:
        summary = (
            "Check whether the service tag or application security group covers this traffic; if it does, allow "
            "it before that rule"
        )
    text = ". ".join([summary, *dict.fromkeys(notes)]).rstrip(".") + "."
    return Fix(text, tuple(dict.fromkeys(commands))[:_COMMAND_CAP])


def _allow_command(hit: _Hit, rule: nsg.SecurityRule) -> str | None:
    """`az network nsg rule create` for exactly the denied flow, at the highest free priority before `rule`."""
    group = hit.verdict.nsg
    assert group is not None
    priority = nsg.free_priority(group, INBOUND, rule.priority)
    if priority is None:
        return None
    flow = hit.flow.flow
    destinations = (hit.pool.subnet_prefixes or (flow.destination,)) if hit.flow.to_node else (flow.destination,)
    protocol = "*" if flow.protocol == "Sctp" else flow.protocol
    name = f"allow-{hit.flow.kind}-{flow.protocol.lower()}-{flow.port}"
    taken = {r.name.lower() for r in group.rules}
    unique, n = name, 2
    while unique.lower() in taken:
        unique, n = f"{name}-{n}", n + 1
    return shell.command(
        "az", "network", "nsg", "rule", "create",
        "--resource-group", group.resource_group,
        "--nsg-name", group.name,
        "--name", unique,
        "--priority", priority,
        "--direction", INBOUND,
        "--access", "Allow",
        "--protocol", protocol,
        "--source-address-prefixes", *flow.sources,
        "--source-port-ranges", "*",
        "--destination-address-prefixes", *destinations,
        "--destination-port-ranges", flow.port,
    )  # fmt: skip


def _show_rule(group: NetworkSecurityGroup, rule: nsg.SecurityRule) -> str:
    return shell.command(
        "az", "network", "nsg", "rule", "show", "--resource-group", group.resource_group, "--nsg-name", group.name,
        "--name", rule.name,
    )  # fmt: skip
