"""A load-balancing rule forwards to a backend pool; a node missing from that pool never gets the Service's traffic,
and an empty pool makes the IP answer nothing at all.

The pool lists members as NIC IP configurations (VMSS instances: .../virtualMachineScaleSets/S/virtualMachines/I/...;
availability-set and Flex VMs: .../networkInterfaces/N/...) or, for IP-based pools, as node IPs. Mapping them back to
nodes (providerID, NIC -> VM, InternalIP) and comparing with the nodes the provider should put there (azure.pool)
says which nodes are missing, and the scale set data often says why (instance not on the latest model).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import mapping, pool
from aksdoctor.azure.providerid import parse_provider_id, provider_id
from aksdoctor.azure.resources import prop, sku_name
from aksdoctor.checks import _lb_azure as az
from aksdoctor.checks._nodes import EVIDENCE_CAP, require_nodes
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.model import Evidence, Finding, Fix
from aksdoctor.text import names_text

DOCS = (
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
    "https://learn.microsoft.com/en-us/azure/aks/load-balancer-standard",
    "https://learn.microsoft.com/en-us/azure/load-balancer/backend-pool-management",
)
INSTANCE_CAP = 10  # instance ids written into one update-instances command
_VMSS_MEMBER = re.compile(
    r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/"
    r"virtualmachinescalesets/[^/]+/virtualmachines/[^/]+)/networkinterfaces/"
)


@check(
    id="lb.backend-pool-empty",
    title="Backend pool is empty or misses eligible nodes",
    severity="error",
    scope="service",
    needs=("services", "nodes", "azure_load_balancers"),
    optional=(
        *az.CONFIG_FACTS,
        *az.FRONTEND_FACTS,
        "azure_scope",
        "azure_network_interfaces",
        "azure_vmss_vms",
        "azure_vm_scale_sets",
    ),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    az.require_azure_service(ctx)
    matches = az.require_frontends(ctx)
    pools = _service_pools(ctx, matches)
    if not pools:
        raise NotApplicable("no rule of the Service sends to a backend pool (lb.frontend-drift covers missing rules)")
    for lb, pool_id, backend, rules in pools:
        if backend is None:
            yield _missing_pool(ctx, lb, pool_id, rules)
        else:
            yield from _membership_findings(ctx, lb, backend, rules)


def _service_pools(
    ctx: ServiceContext, matches: Sequence[mapping.FrontendMatch]
) -> list[tuple[Mapping[str, Any], str, Mapping[str, Any] | None, list[str]]]:
    """(LB, pool id, pool or None when missing, names of the Service's rules using it), one entry per pool."""
    actual = az.rules_of(ctx, matches)
    rules = [
        actual[e.name.lower()] for e in mapping.expected_rules(ctx.service, az.config(ctx)) if e.name.lower() in actual
    ]
    if not rules:
        frontend_ids = {str(m.frontend.get("id") or "").lower() for m in matches}
        rules = [
            (lb, r) for lb, r in actual.values() if mapping.ref_id(prop(r, "frontendIPConfiguration")) in frontend_ids
        ]
    by_pool: dict[str, tuple[Mapping[str, Any], str, Mapping[str, Any] | None, list[str]]] = {}
    for lb, rule in rules:
        ref = prop(rule, "backendAddressPool")
        pool_id = mapping.ref_id(ref)
        if not pool_id:
            continue
        if pool_id not in by_pool:
            by_pool[pool_id] = (lb, str(ref.get("id")), az.child(ctx, lb, "backendAddressPools", ref=ref), [])
        by_pool[pool_id][3].append(str(rule.get("name") or ""))
    return list(by_pool.values())


def _missing_pool(ctx: ServiceContext, lb: Mapping[str, Any], pool_id: str, rules: list[str]) -> Finding:
    name = pool_id.rsplit("/", 1)[-1]
    cause = (
        f"Rule(s) {', '.join(rules)} send to backend pool {name}, which does not exist on LB {lb.get('name')}: the "
        "Service's traffic has no backend at all. The pool was deleted in Azure; the provider recreates it on its "
        "next successful sync."
    )
    pools = [str(p.get("name") or "") for p in az.children(lb, "backendAddressPools")]
    evidence = [
        az.azure_evidence({}, f"backendAddressPool.id = {pool_id}", f"LB {lb.get('name')} rule {rules[0]}"),
        az.azure_evidence(lb, f"backendAddressPools: {az.capped(pools, 8) or '(none)'}"),
    ]
    fix = Fix(
        "Let the provider sync the Service (its events say whether syncs fail).",
        (az.describe_service(ctx.service), az.az_lb(lb, "address-pool", "list", "-o", "table")),
    )
    return ctx.finding(cause, evidence, fix=fix)


# ---- pool membership ------------------------------------------------------------------------------------------


@dataclass
class _Members:
    """A pool's members mapped to nodes. `unknown_nics`: NIC members that could not be mapped without NIC data."""

    total: int = 0
    nodes: set[str] = field(default_factory=set)
    strangers: list[str] = field(default_factory=list)  # members that are no node of the cluster
    unknown_nics: int = 0


@dataclass(frozen=True)
class _NodeIndex:
    by_vm: dict[str, str]  # lower ARM id of the VM / VMSS instance -> node name
    by_ip: dict[str, str]  # InternalIP -> node name
    nics: dict[str, str] | None  # lower NIC id -> lower VM id; None when NICs were not read


def _node_index(ctx: ServiceContext) -> _NodeIndex:
    def build() -> _NodeIndex:
        by_vm, by_ip = {}, {}
        for node in ctx.nodes:
            parsed = parse_provider_id(provider_id(node))
            if parsed:
                by_vm[parsed.normalized_id] = kube.name(node)
            for addr in kube.status(node).get("addresses") or ():
                if addr.get("type") == "InternalIP" and addr.get("address"):
                    by_ip[str(addr["address"])] = kube.name(node)
        nic_list = ctx.fact_or("azure_network_interfaces")
        nics = None
        if nic_list is not None:
            nics = {str(n.get("id") or "").lower(): mapping.ref_id(prop(n, "virtualMachine")) for n in nic_list}
        return _NodeIndex(by_vm, by_ip, nics)

    return ctx.facts.derived("lb.backend-pool:nodes", build)


def _members(ctx: ServiceContext, backend: Mapping[str, Any]) -> _Members:
    """The pool's members as node names, built once per pool and run."""

    def build() -> _Members:
        index = _node_index(ctx)
        out = _Members()
        for ref in prop(backend, "backendIPConfigurations") or ():
            out.total += 1
            _add_ip_configuration(out, index, mapping.ref_id(ref))
        for address in prop(backend, "loadBalancerBackendAddresses") or ():
            out.total += 1
            ip = str(prop(address, "ipAddress") or "")
            if ip in index.by_ip:
                out.nodes.add(index.by_ip[ip])
                continue
            config_id = mapping.ref_id(prop(address, "networkInterfaceIPConfiguration"))
            if config_id:
                _add_ip_configuration(out, index, config_id)
            else:
                out.strangers.append(ip or str(address.get("name") or ""))
        return out

    return ctx.facts.derived(f"lb.backend-pool:members:{str(backend.get('id') or '').lower()}", build)


def _add_ip_configuration(out: _Members, index: _NodeIndex, config_id: str) -> None:
    vmss = _VMSS_MEMBER.match(config_id)
    if vmss:
        vm_id = vmss.group(1)
    elif "/networkinterfaces/" in config_id:
        if index.nics is None:
            out.unknown_nics += 1
            return
        vm_id = index.nics.get(config_id.split("/ipconfigurations/")[0], "")
    else:
        vm_id = ""
    node = index.by_vm.get(vm_id)
    if node:
        out.nodes.add(node)
    else:
        out.strangers.append(vm_id or config_id)


@dataclass(frozen=True)
class _PoolState:
    """One pool compared with the nodes; the same for every Service whose rules use the pool (built once)."""

    members: _Members
    eligible: list[str]
    missing: list[str]
    excluded: list[tuple[str, pool.Exclusion]]
    basic: bool
    hints: list[str]
    hint_evidence: list[Evidence]
    commands: list[str]


def _pool_state(ctx: ServiceContext, lb: Mapping[str, Any], backend: Mapping[str, Any]) -> _PoolState:
    def build() -> _PoolState:
        members = _members(ctx, backend)
        scope = ctx.fact_or("azure_scope")
        exclusions = pool.cached_exclusion_index(
            ctx.facts, require_nodes(ctx), resource_group=scope.node_resource_group if scope else None
        )
        nodes_by_name = _nodes_by_name(ctx)
        eligible = [n for n, excl in exclusions.items() if excl is None]
        basic = sku_name(lb).lower() == "basic"
        if basic:
            eligible = _basic_vm_set(eligible, members, nodes_by_name)
        elsewhere = _on_other_lbs(ctx, lb, backend)
        missing = [n for n in eligible if n not in members.nodes and n not in elsewhere]
        if members.unknown_nics:  # NIC members could not be mapped: VM (non-scale-set) nodes may be among them
            missing = [n for n in missing if _kind(nodes_by_name[n]) != "vm"]
        excluded = [(n, e) for n, e in exclusions.items() if e is not None]
        hints, evidence, commands = _why_missing(ctx, missing, nodes_by_name, backend)
        return _PoolState(members, eligible, missing, excluded, basic, hints, evidence, commands)

    return ctx.facts.derived(f"lb.backend-pool:state:{str(backend.get('id') or '').lower()}", build)


def _nodes_by_name(ctx: ServiceContext) -> Mapping[str, Mapping[str, Any]]:
    return ctx.facts.derived("lb.backend-pool:nodes-by-name", lambda: {kube.name(n): n for n in ctx.nodes})


def _membership_findings(
    ctx: ServiceContext, lb: Mapping[str, Any], backend: Mapping[str, Any], rules: list[str]
) -> Iterator[Finding]:
    state = _pool_state(ctx, lb, backend)
    members, eligible, missing, excluded = state.members, state.eligible, state.missing, state.excluded
    if members.total and not missing:
        return
    evidence = [az.azure_evidence(backend, f"{members.total} member(s): {len(members.nodes)} node(s) of the cluster")]
    if not members.total:
        cause = (
            f"Backend pool {backend.get('name')} of LB {lb.get('name')} (rules {', '.join(rules)}) has no members: "
            "the Service's IP forwards to no node at all."
        )
        if not eligible:
            cause += f" No node is eligible: {_excluded_text(excluded)}."
            evidence += [e.evidence for _, e in excluded[:EVIDENCE_CAP]]
        else:
            cause += (
                f" {len(eligible)} node(s) are eligible ({names_text(eligible)}) but none was added: the provider's "
                "backend sync fails (see the Service's and nodes' events) or the VMs never took the pool."
            )
    else:
        cause = (
            f"{len(missing)} of {len(eligible)} eligible node(s) are not in backend pool {backend.get('name')} of LB "
            f"{lb.get('name')}: {names_text(missing)}. They get none of the Service's traffic"
        )
        local = str(kube.spec(ctx.service).get("externalTrafficPolicy") or "").lower() == "local"
        cause += " (and with externalTrafficPolicy Local, its pods on them are unreachable)." if local else "."
        if excluded:
            cause += f" Left out by design: {_excluded_text(excluded)}."
    if state.hints:
        cause += f" Azure shows why: {az.capped(state.hints, 3)}."
    if state.basic:
        cause += " A Basic load balancer only takes the nodes of one VM set (availability set or scale set)."
    if members.strangers:
        shown = [_member_label(m) for m in members.strangers]
        cause += f" {len(shown)} member(s) are no node of the cluster: {names_text(shown, 5)}."
    if members.unknown_nics:
        cause += (
            f" {members.unknown_nics} member(s) are network interfaces that were not read, so availability-set "
            "nodes were not compared."
        )
    nodes_by_name = _nodes_by_name(ctx)
    for name in missing[:EVIDENCE_CAP]:
        node = nodes_by_name[name]
        evidence.append(field_evidence("Node", node, "spec.providerID", provider_id(node) or None))
    evidence += state.hint_evidence
    fix = Fix(
        "Compare the pool with the nodes and find why the provider did not add them (Service events; for scale "
        "sets, instances not on the latest model get the pool only when they are upgraded).",
        (
            *state.commands,
            az.az_lb(lb, "address-pool", "show", "-n", str(backend.get("name") or "")),
            az.describe_service(ctx.service),
        ),
    )
    yield ctx.finding(cause, evidence, fix=fix)


def _member_label(member: str) -> str:
    """A short name for a pool member: `scaleset/instance`, the VM or NIC name, or the IP address."""
    parts = member.split("/")
    for kind, width in (("virtualmachinescalesets", 3), ("virtualmachines", 1), ("networkinterfaces", 1)):
        if kind in parts:
            i = parts.index(kind)
            return "/".join(parts[i + 1 : i + 1 + width : 2])
    return member


def _excluded_text(excluded: Sequence[tuple[str, pool.Exclusion]]) -> str:
    counts = Counter(e.text for _, e in excluded)
    return "; ".join(f"{n} {text}" for text, n in counts.most_common()) or "no node at all"


def _kind(node: Mapping[str, Any]) -> str:
    parsed = parse_provider_id(provider_id(node))
    return parsed.kind if parsed else ""


def _basic_vm_set(eligible: list[str], members: _Members, nodes_by_name: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A Basic LB takes one VM set: keep the eligible nodes of the scale sets already in the pool."""
    sets = {_scale_set(nodes_by_name[n]) for n in members.nodes} - {""}
    return [n for n in eligible if _scale_set(nodes_by_name[n]) in sets] if sets else eligible


def _scale_set(node: Mapping[str, Any]) -> str:
    parsed = parse_provider_id(provider_id(node))
    return parsed.scale_set.lower() if parsed and parsed.kind == "vmss" else ""


def _on_other_lbs(ctx: ServiceContext, lb: Mapping[str, Any], backend: Mapping[str, Any]) -> set[str]:
    """Nodes in the same-named pool of other LBs of the same kind (multiple standard LBs spread nodes over LBs)."""
    kind = mapping.lb_is_internal(lb)
    name = str(backend.get("name") or "").lower()
    out: set[str] = set()
    for other in ctx.fact("azure_load_balancers"):
        if other is lb or str(other.get("id") or "").lower() == str(lb.get("id") or "").lower():
            continue
        if mapping.lb_is_internal(other) not in (kind, None):
            continue
        same = az.child(ctx, other, "backendAddressPools", name=name)
        if same is not None:
            out |= _members(ctx, same).nodes
    return out


def _why_missing(
    ctx: ServiceContext,
    missing: Sequence[str],
    nodes_by_name: Mapping[str, Mapping[str, Any]],
    backend: Mapping[str, Any],
) -> tuple[list[str], list[Evidence], list[str]]:
    """What the scale set data says about missing nodes: model without the pool, instance not on the latest model,
    VM not running. (hints, evidence, commands)"""
    vms = {str(v.get("id") or "").lower(): v for v in ctx.fact_or("azure_vmss_vms", ())}
    sets = {str(s.get("id") or "").lower(): s for s in ctx.fact_or("azure_vm_scale_sets", ())}
    pool_id = str(backend.get("id") or "").lower()
    hints: list[str] = []
    evidence: list[Evidence] = []
    stale: dict[tuple[str, str], list[str]] = {}
    stopped: list[str] = []
    checked_sets: set[str] = set()
    for name in missing:
        parsed = parse_provider_id(provider_id(nodes_by_name[name]))
        if parsed is None or parsed.kind != "vmss":
            continue
        set_id = parsed.normalized_id.split("/virtualmachines/")[0]
        scale_set = sets.get(set_id)
        if scale_set is not None and set_id not in checked_sets:
            checked_sets.add(set_id)
            pools = _model_pools(scale_set)
            if pool_id not in pools:
                hints.append(f"scale set {scale_set.get('name')}'s model does not reference the pool")
                evidence.append(
                    az.azure_evidence(
                        scale_set,
                        f"ipConfigurations loadBalancerBackendAddressPools: {az.capped(sorted(pools), 4) or '(none)'}",
                    )
                )
        vm = vms.get(parsed.normalized_id)
        if vm is None:
            continue
        if prop(vm, "latestModelApplied") is False:
            stale.setdefault((parsed.resource_group, parsed.scale_set), []).append(parsed.instance_id)
            if len(evidence) < EVIDENCE_CAP * 2:
                evidence.append(az.azure_evidence(vm, "latestModelApplied = False"))
        power = _power_state(vm)
        if power and power != "running":
            stopped.append(f"{name} ({power})")
            if len(evidence) < EVIDENCE_CAP * 2:
                evidence.append(az.azure_evidence(vm, f"instanceView PowerState/{power}"))
    if stopped:
        hints.append(f"{len(stopped)} missing node VM(s) are not running: {names_text(stopped, 5)}")
    commands = []
    for (rg, scale_set), instances in stale.items():
        hints.append(
            f"{len(instances)} instance(s) of {scale_set} are not on the scale set's latest model, which holds the "
            "pool membership"
        )
        ids = instances[:INSTANCE_CAP]
        commands.append(
            shell.command("az", "vmss", "update-instances", "-g", rg, "-n", scale_set, "--instance-ids", *ids)
        )
    return hints, evidence, commands


def _model_pools(scale_set: Mapping[str, Any]) -> set[str]:
    profile = prop(scale_set, "virtualMachineProfile") or {}
    nics = ((profile.get("networkProfile") or {}).get("networkInterfaceConfigurations")) or ()
    out = set()
    for nic in nics:
        for config in (nic.get("properties") or nic).get("ipConfigurations") or ():
            for ref in (config.get("properties") or config).get("loadBalancerBackendAddressPools") or ():
                out.add(mapping.ref_id(ref))
    return out


def _power_state(vm: Mapping[str, Any]) -> str | None:
    for status in (prop(vm, "instanceView") or {}).get("statuses") or ():
        code = str(status.get("code") or "")
        if code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return None
