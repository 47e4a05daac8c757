"""Azure load balancers have hard per-SKU limits on frontends, rules and backend pool members, and a NIC can carry
only so many rules. Nothing fails until a limit is hit; then new Services stay without an IP or new nodes never
join the pool. This warns while there is still room (80 %), from the counts on the load balancers themselves.
The limits are data (knowledge/sku_limits.yaml).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aksdoctor import knowledge, shell
from aksdoctor.azure.providerid import parse_provider_id, provider_id
from aksdoctor.azure.resources import arm_field, prop, resource_group_of, sku_name
from aksdoctor.checks.base import CheckContext, NotApplicable, check
from aksdoctor.model import Evidence, Finding, Fix, Severity

DOCS = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/azure-subscription-service-limits#load-balancer",
    "https://learn.microsoft.com/en-us/azure/aks/load-balancer-standard",
)
# counter -> the `az network lb` group that lists its items
LISTING = {"frontend_ip_configurations": "frontend-ip", "rules": "rule", "probes": "probe"}
# az prints camelCase SDK names (backendIpConfigurations), and JMESPath is case-sensitive.
POOL_SIZE_QUERY = "length(backendIpConfigurations || loadBalancerBackendAddresses || `[]`)"


@check(
    id="azure.lb-limits",
    title="Load balancer near an Azure limit",
    severity="warning",
    scope="cluster",
    needs=("azure_load_balancers",),
    optional=("azure_scope", "nodes"),
    docs=DOCS,
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    """Frontend, rule, probe and backend pool counts per load balancer, and rules per NIC, against the SKU limits."""
    limits = knowledge.load("sku_limits")
    lbs = _cluster_load_balancers(ctx)
    if not lbs:
        raise NotApplicable("no load balancer in the cluster's node resource group")
    for lb in lbs:
        yield from _load_balancer_findings(ctx, lb, limits)
    yield from _nic_findings(ctx, lbs, limits)


def _cluster_load_balancers(ctx: CheckContext) -> list[dict]:
    """The load balancers in the node resource group (other listed groups hold users' IPs, not the cluster's LBs)."""
    lbs = ctx.fact("azure_load_balancers")
    scope = ctx.fact_or("azure_scope")
    if scope is None:
        return list(lbs)
    node_rg = scope.node_resource_group.lower()
    return [lb for lb in lbs if resource_group_of(lb.get("id") or "").lower() == node_rg]


def _verdict(count: int, limit: int, warn_ratio: float) -> Severity | None:
    if count >= limit:
        return Severity.ERROR
    if count >= warn_ratio * limit:
        return Severity.WARNING
    return None


@dataclass(frozen=True)
class _Measure:
    """One counted thing of a load balancer against its limit."""

    counter: str  # key in sku_limits.yaml
    what: str  # "492 frontend IP configurations"
    count: int
    limit: int
    limit_text: str  # "the Standard limit of 600"
    ref: str  # id of the counted resource (the LB or one pool)
    command: str  # shows the items counted


def _load_balancer_findings(ctx: CheckContext, lb: Mapping[str, Any], limits: Mapping[str, Any]) -> Iterator[Finding]:
    for m in _measures(lb, limits):
        severity = _verdict(m.count, m.limit, limits["warn_ratio"])
        if not severity:
            continue
        info = limits["counters"][m.counter]
        cause = (
            f"Load balancer {lb.get('name')} ({sku_name(lb)}) has {m.what}: {100 * m.count // m.limit} % of "
            f"{m.limit_text}. {_text(info['effect'])}"
        )
        evidence = [
            Evidence("Azure", f"{lb.get('id')} sku.name", sku_name(lb)),
            Evidence("Azure", m.ref, f"{info['label']}: {m.count} (limit {m.limit})"),
        ]
        fix = Fix(_text(info["advice"]), (m.command,))
        yield ctx.finding(cause, evidence, fix=fix, resource=f"LoadBalancer {lb.get('name')}", severity=severity)


def _measures(lb: Mapping[str, Any], limits: Mapping[str, Any]) -> Iterator[_Measure]:
    sku = sku_name(lb)
    sku_limits = limits["skus"].get(sku.lower())
    if not sku_limits:
        return  # e.g. the Gateway SKU: no limits recorded
    lb_id = str(lb.get("id") or "")
    flags = ("--resource-group", resource_group_of(lb_id), "--lb-name", lb.get("name") or "")
    nat_rules = len(prop(lb, "inboundNatRules") or ())
    counts = {
        "frontend_ip_configurations": len(prop(lb, "frontendIPConfigurations") or ()),
        "rules": len(prop(lb, "loadBalancingRules") or ()) + nat_rules,
        "probes": len(prop(lb, "probes") or ()),
    }
    for counter, count in counts.items():
        limit, limit_text = _limit(counter, sku, sku_limits, limits)
        if limit is None:
            continue
        what = f"{count} {limits['counters'][counter]['label']}"
        if counter == "rules" and nat_rules:
            what += f" ({count - nat_rules} load-balancing, {nat_rules} inbound NAT)"
        command = shell.command("az", "network", "lb", LISTING[counter], "list", *flags, "--output", "table")
        yield _Measure(counter, what, count, limit, limit_text, lb_id, command)
    pool_limit = sku_limits.get("backend_pool_ip_configurations")
    if pool_limit is None:
        return
    for pool in prop(lb, "backendAddressPools") or ():
        name = pool.get("name") or ""
        count = len(pool_members(pool))
        command = shell.command(
            "az", "network", "lb", "address-pool", "show", *flags, "--name", name, "--query", POOL_SIZE_QUERY
        )
        what = f"{count} IP configurations in backend pool {name}"
        limit_text = f"the {sku} limit of {pool_limit}"
        yield _Measure(
            "backend_pool_ip_configurations", what, count, pool_limit, limit_text, pool.get("id") or lb_id, command
        )


def _limit(counter: str, sku: str, sku_limits: Mapping[str, Any], limits: Mapping[str, Any]) -> tuple[int | None, str]:
    """The limit that bites first and how to name it: Azure's, or the provider's rule count for Basic."""
    limit = sku_limits.get(counter)
    text = f"the {sku} limit of {limit}"
    provider = limits["provider_max_rules"]
    if counter == "rules" and sku.lower() in provider["skus"] and (limit is None or provider["value"] <= limit):
        azure_too = f"the {sku} limit and " if limit == provider["value"] else ""
        limit = provider["value"]
        text = (
            f"{azure_too}cloud-provider-azure's {provider['name']} of {limit} (past it the provider places no "
            "further Service on this load balancer)"
        )
    return limit, text


def _text(folded: str) -> str:
    return " ".join(folded.split())


def pool_members(pool: Mapping[str, Any]) -> set[str]:
    """Members of a backend pool: NIC IP configurations (lower-cased ids) and IP-based addresses.

    Recent API versions list NIC-based members twice (backendIPConfigurations and loadBalancerBackendAddresses
    with a networkInterfaceIPConfiguration), so both are read into one set.
    """
    members = {str(c.get("id") or "").lower() for c in prop(pool, "backendIPConfigurations") or ()}
    for address in prop(pool, "loadBalancerBackendAddresses") or ():
        nic_config = arm_field(address, "networkInterfaceIPConfiguration") or {}
        if nic_config.get("id"):
            members.add(str(nic_config["id"]).lower())
        else:
            members.add("address:" + str(arm_field(address, "ipAddress") or address.get("name") or ""))
    members.discard("")
    return members


def _nic_of(ip_configuration_id: str) -> str:
    return ip_configuration_id.lower().split("/ipconfigurations/")[0]


def _nic_rule_counts(lbs: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Rules per NIC across all load balancers: each rule of every pool a NIC's IP configuration is in."""
    per_nic: Counter[str] = Counter()
    for lb in lbs:
        rules_per_pool: Counter[str] = Counter()
        for rule in prop(lb, "loadBalancingRules") or ():
            pools = {str(p.get("id") or "").lower() for p in prop(rule, "backendAddressPools") or ()}
            single = prop(rule, "backendAddressPool") or {}
            pools.add(str(single.get("id") or "").lower())
            for pool_id in pools - {""}:
                rules_per_pool[pool_id] += 1
        for pool in prop(lb, "backendAddressPools") or ():
            n = rules_per_pool[str(pool.get("id") or "").lower()]
            if n:
                for member in pool_members(pool):
                    if not member.startswith("address:"):
                        per_nic[_nic_of(member)] += n
        for nat in prop(lb, "inboundNatRules") or ():
            target = (prop(nat, "backendIPConfiguration") or {}).get("id")
            if target:
                per_nic[_nic_of(str(target))] += 1
    return per_nic


def _nic_findings(ctx: CheckContext, lbs: list[dict], limits: Mapping[str, Any]) -> Iterator[Finding]:
    limit = limits["rules_per_nic"]
    per_nic = _nic_rule_counts(lbs)
    crowded = {nic: n for nic, n in per_nic.items() if _verdict(n, limit, limits["warn_ratio"])}
    if not crowded:
        return
    nic, worst = max(crowded.items(), key=lambda item: (item[1], item[0]))
    severity = _verdict(worst, limit, limits["warn_ratio"])
    node = _node_names(ctx).get(nic.split("/networkinterfaces/")[0])
    who = f"the NIC of node {node}" if node else f"NIC {nic}"
    cause = (
        f"{len(crowded)} NIC(s) carry at least {int(limits['warn_ratio'] * 100)} % of the {limit} rules Azure allows "
        f"per NIC (across every load balancer whose pools the NIC is in); {who} carries {worst}: "
        f"{100 * worst // limit} %. At the limit Azure refuses further rules for every Service on these nodes."
    )
    evidence = [Evidence("Azure", nic, f"rules across load balancers: {worst} (limit {limit})")]
    fix = Fix(_text(limits["counters"]["rules"]["advice"]))
    yield ctx.finding(cause, evidence, fix=fix, severity=severity)


def _node_names(ctx: CheckContext) -> dict[str, str]:
    """Lower-cased VM id -> node name (VMSS NIC ids start with the instance's id)."""
    out = {}
    for node in ctx.fact_or("nodes", ()):
        parsed = parse_provider_id(provider_id(node))
        if parsed:
            out[parsed.normalized_id] = node["metadata"]["name"]
    return out
