"""Basic SKU load balancers and public IPs were retired on 30 September 2025: AKS no longer supports them, and a
Service still on one runs on infrastructure Azure no longer maintains. AKS also caps clusters on a Basic load
balancer (with availability sets) at 100 nodes. Reported for each Service whose LB or public IP is Basic, so a
cluster-wide Basic LB shows up once per Service using it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aksdoctor import knowledge, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import prop, resource_group_of, sku_name
from aksdoctor.checks import _lb_azure as az
from aksdoctor.checks.base import NotApplicable, ServiceContext, check
from aksdoctor.model import Finding, Fix
from aksdoctor.shell import Var

_BASIC = knowledge.load("lb_mapping")["basic_sku"]
DOCS = (_BASIC["migration_url"], _BASIC["retirement_url"])


@check(
    id="lb.basic-sku",
    title="Basic SKU load balancer or public IP (retired)",
    severity="error",
    scope="service",
    needs=("services", "azure_load_balancers"),
    optional=(*az.CONFIG_FACTS, *az.FRONTEND_FACTS, "azure_scope", "nodes"),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    az.require_azure_service(ctx)
    matches = az.frontends(ctx)
    lbs = _service_lbs(ctx, matches)
    if not lbs:
        raise NotApplicable("the Service's load balancer was not found (lb.frontend-drift / lb.pending)")
    for lb in lbs:
        if sku_name(lb).lower() == "basic":
            yield _basic_lb(ctx, lb)
            yield from _too_many_nodes(ctx, lb)
    for match in matches:
        pip = match.public_ip
        if pip is not None and sku_name(pip).lower() == "basic":
            yield _basic_public_ip(ctx, match, pip)


def _service_lbs(ctx: ServiceContext, matches: Sequence[mapping.FrontendMatch]) -> list[Mapping[str, Any]]:
    """The LBs holding the Service's frontends, else the LBs it would be put on."""
    if matches:
        return list({str(m.lb.get("id") or "").lower(): m.lb for m in matches}.values())
    names = {n.lower() for n in mapping.expected_lb_names(ctx.service, config=az.config(ctx))}
    return [lb for lb in ctx.fact("azure_load_balancers") if str(lb.get("name") or "").lower() in names]


def _migrate_command(ctx: ServiceContext) -> str:
    """`az aks update --load-balancer-sku standard` for this cluster (placeholders when its name is unknown)."""
    scope = ctx.fact_or("azure_scope")
    rg = scope.cluster_resource_group if scope and scope.cluster_resource_group else Var("RESOURCE_GROUP")
    name = scope.cluster_name if scope and scope.cluster_name else Var("CLUSTER")
    return shell.command("az", "aks", "update", "-g", rg, "-n", name, "--load-balancer-sku", "standard")


def _basic_lb(ctx: ServiceContext, lb: Mapping[str, Any]) -> Finding:
    cause = (
        f"The Service is on load balancer {lb.get('name')}, which is Basic SKU. Basic load balancers were retired on "
        f"{_BASIC['retired_on']}: AKS no longer supports them and Azure no longer maintains them. Migrating the "
        "cluster to a Standard load balancer recreates the load balancer and its public IPs (Standard SKU, new "
        "addresses unless they are static bring-your-own ones) and causes downtime for LoadBalancer Services; "
        "there is no rollback."
    )
    fix = Fix(
        "Migrate the cluster to the Standard SKU (plan the downtime; clusters with availability sets migrate those "
        "in the same step, see the migration guide).",
        (_migrate_command(ctx),),
    )
    return ctx.finding(cause, [az.azure_evidence(lb, f"sku.name = {(lb.get('sku') or {}).get('name')}")], fix=fix)


def _too_many_nodes(ctx: ServiceContext, lb: Mapping[str, Any]) -> Iterator[Finding]:
    """AKS: at most 100 nodes per cluster with availability sets and a Basic load balancer."""
    limit = int(_BASIC["aks_max_nodes"])
    pools = [
        (p, len(prop(p, "backendIPConfigurations") or ()) + len(prop(p, "loadBalancerBackendAddresses") or ()))
        for p in az.children(lb, "backendAddressPools")
    ]
    nodes = ctx.fact_or("nodes", ())
    biggest = max(pools, key=lambda item: item[1], default=(None, 0))
    if max(biggest[1], len(nodes)) <= limit:
        return
    evidence = []
    if biggest[0] is not None:
        evidence.append(az.azure_evidence(biggest[0], f"{biggest[1]} member(s) in backendIPConfigurations"))
    cause = (
        f"The cluster has {len(nodes)} node(s) and the largest backend pool of Basic load balancer {lb.get('name')} "
        f"{biggest[1]} member(s): AKS supports at most {limit} nodes per cluster with availability sets and a Basic "
        "load balancer, so scaling further is unsupported."
    )
    fix = Fix("Migrate to a Standard load balancer, which has no such limit.", (_migrate_command(ctx),))
    yield ctx.finding(cause, evidence, fix=fix, severity="warning", docs=(_BASIC["aks_limits_url"],))


def _basic_public_ip(ctx: ServiceContext, match: mapping.FrontendMatch, pip: Mapping[str, Any]) -> Finding:
    managed = bool(mapping.service_tag_values(pip))
    cause = (
        f"The Service's public IP {pip.get('name')} ({prop(pip, 'ipAddress') or 'no address'}, on {match.ref}) is "
        f"Basic SKU. Basic public IPs were retired on {_BASIC['retired_on']}"
    )
    if managed:
        cause += "; this one was created by the provider, so migrating the cluster to Standard replaces it."
        command = _migrate_command(ctx)
    else:
        cause += (
            "; it is a bring-your-own IP, so upgrade it to Standard yourself: it keeps its address, but must be "
            "static and detached from the load balancer while it is upgraded (a Standard load balancer accepts only "
            "Standard public IPs)."
        )
        rg = resource_group_of(str(pip.get("id") or ""))
        command = shell.command(
            "az", "network", "public-ip", "update", "-g", rg, "-n", str(pip.get("name")), "--sku", "Standard"
        )
    evidence = [az.azure_evidence(pip, f"sku.name = {(pip.get('sku') or {}).get('name')}")]
    fix = Fix("Move to a Standard SKU public IP.", (command,))
    docs = (_BASIC["public_ip_retirement_url"], _BASIC["public_ip_upgrade_url"])
    return ctx.finding(cause, evidence, fix=fix, docs=docs)
