"""The Service and the Azure load balancer must tell the same story: one frontend holding the status IP, one rule per
port. When they drift apart (frontend deleted or never finished, status IP left over from an old frontend, a public
IP deleted under the frontend, rules missing for new ports or left over for removed ones) clients reach nothing.
The provider repairs drift on its next successful sync, so lasting drift also means its syncs fail.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.checks import _lb_azure as az
from aksdoctor.checks.base import NotApplicable, ServiceContext, Skipped, check, field_evidence
from aksdoctor.model import Evidence, Finding, Fix

DOCS = (
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
    "https://learn.microsoft.com/en-us/azure/aks/load-balancer-standard",
)
RULE_FIELDS = ("protocol", "frontendPort", "backendPort", "enableFloatingIP")


@check(
    id="lb.frontend-drift",
    title="Azure load balancer does not match the Service",
    severity="error",
    scope="service",
    needs=("services", "azure_load_balancers"),
    optional=(*az.CONFIG_FACTS, *az.FRONTEND_FACTS, "azure_scope"),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    az.require_azure_service(ctx)
    svc = ctx.service
    if not mapping.is_internal(svc):  # a public frontend's address lives on its public IP
        reason = ctx.facts.reason("azure_public_ips")
        if reason:
            raise Skipped(reason)
    matches = az.frontends(ctx)
    ingress = mapping.ingress_ips(svc)
    if not matches:
        if not ingress:
            raise NotApplicable("no status IP and no frontend yet: lb.pending covers a Service still waiting")
        yield _no_frontend(ctx, ingress)
        return
    if matches[0].how == "status-ip":
        yield _borrowed_frontend(ctx, matches)
    yield from _missing_public_ips(ctx, matches)
    yield from _ip_mismatch(ctx, matches, ingress)
    yield from _rule_drift(ctx, matches)


def _status_evidence(svc: Mapping[str, Any]) -> list[Evidence]:
    ingress = (kube.status(svc).get("loadBalancer") or {}).get("ingress") or ()
    found = [
        field_evidence("Service", svc, f"status.loadBalancer.ingress[{i}].ip", item["ip"])
        for i, item in enumerate(ingress)
        if item.get("ip")
    ]
    return found or [field_evidence("Service", svc, "status.loadBalancer.ingress", None)]


def _frontend_evidence(match: mapping.FrontendMatch) -> Evidence:
    if match.public_ip is not None:
        detail = f"publicIPAddress {match.public_ip.get('name')} ipAddress = {match.ip or '<none>'}"
    elif mapping.ref_id(prop(match.frontend, "publicIPAddress")):
        detail = f"publicIPAddress.id = {prop(match.frontend, 'publicIPAddress').get('id')}"
    else:
        detail = f"privateIPAddress = {match.ip or '<none>'}"
    return az.azure_evidence(match.frontend, detail, match.ref)


def _no_frontend(ctx: ServiceContext, ingress: Sequence[str]) -> Finding:
    svc = ctx.service
    lbs = ctx.fact("azure_load_balancers")
    by_name = {str(lb.get("name") or "").lower(): lb for lb in lbs}
    expected = mapping.expected_lb_names(svc, config=az.config(ctx))
    fe_names = ", ".join(f.name for f in mapping.frontend_config_names(svc))
    evidence = _status_evidence(svc)
    for name in expected:
        lb = by_name.get(name.lower())
        if lb is None:
            evidence.append(az.azure_evidence({}, "not found among the load balancers read", f"LB {name}"))
        else:
            names = [str(f.get("name") or "") for f in mapping.frontends_of(lb)]
            evidence.append(az.azure_evidence(lb, f"frontendIPConfigurations: {az.capped(names, 8) or '(none)'}"))
    other_kind = _other_kind_frontend(svc, lbs)
    cause = (
        f"The Service's status says {', '.join(ingress)}, but no load balancer has a frontend for it: the provider "
        f"would name it {fe_names} on {' or '.join(expected)}, and no frontend holds the status IP."
    )
    if other_kind:
        lb, fe = other_kind
        evidence.append(
            az.azure_evidence(fe, "frontend of this Service", f"LB {lb.get('name')} frontend {fe.get('name')}")
        )
        cause += (
            f" Its frontend is on LB {lb.get('name')}, of the other kind: the Service switched between public and "
            "internal and the provider has not finished moving it."
        )
    else:
        cause += " The frontend was deleted in Azure, or the status is left over from an earlier load balancer."
    cause += " Clients using the status IP reach nothing until the provider syncs the Service again."
    commands = [az.describe_service(svc)]
    commands += [
        az.az_lb(by_name[n.lower()], "frontend-ip", "list", "-o", "table") for n in expected if n.lower() in by_name
    ]
    fix = Fix(
        "Look at the Service's events for the provider's failed syncs; it recreates the frontend when a sync succeeds.",
        tuple(commands),
    )
    return ctx.finding(cause, evidence, fix=fix)


def _other_kind_frontend(
    svc: Mapping[str, Any], lbs: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    base = mapping.base_name(svc)
    internal = mapping.is_internal(svc)
    for lb in lbs:
        if mapping.lb_is_internal(lb) is (not internal):
            for fe in mapping.frontends_of(lb):
                if str(fe.get("name") or "").startswith(base):
                    return lb, fe
    return None


def _borrowed_frontend(ctx: ServiceContext, matches: Sequence[mapping.FrontendMatch]) -> Finding:
    svc = ctx.service
    match = matches[0]
    names = ", ".join(f.name for f in mapping.frontend_config_names(svc))
    cause = (
        f"No frontend is named after the Service ({names}) and it asks for no IP, yet its status IP {match.ip} is "
        f"held by {match.ref}, which belongs to another Service. The provider does not consider that frontend this "
        "Service's: the status is stale, and the next sync will try to give the Service a frontend of its own. To "
        "share the IP on purpose, set it on the Service (azure-load-balancer-ipv4 or azure-pip-name)."
    )
    evidence = [*_status_evidence(svc), _frontend_evidence(match)]
    fix = Fix(
        "Check the Service's events, and set the shared IP explicitly if sharing is intended.",
        (az.describe_service(svc),),
    )
    return ctx.finding(cause, evidence, fix=fix)


def _missing_public_ips(ctx: ServiceContext, matches: Sequence[mapping.FrontendMatch]) -> Iterator[Finding]:
    """Frontends whose public IP is not among the public IPs read (only in groups that were read)."""
    scope = ctx.fact_or("azure_scope")
    groups = {g.lower() for g in scope.resource_groups} if scope else None
    for match in matches:
        ref = prop(match.frontend, "publicIPAddress")
        pip_id = mapping.ref_id(ref)
        if not pip_id or match.public_ip is not None:
            continue
        rg = resource_group_of(str(ref.get("id")))
        if groups is not None and rg.lower() not in groups:
            continue  # a group that was not listed: cannot tell
        cause = (
            f"{match.ref} references public IP {ref.get('id').rsplit('/', 1)[-1]}, which does not exist in resource "
            f"group {rg}: the frontend has no address, so nothing answers on the Service's IP. Someone deleted the "
            "public IP (or moved it); the provider recreates a managed one on its next successful sync, a "
            "bring-your-own one must be restored."
        )
        evidence = [
            _frontend_evidence(match),
            az.azure_evidence({}, f"not found among the public IPs of resource group {rg}", ref.get("id")),
        ]
        fix = Fix(
            "Restore the public IP (or remove the reference), then let the provider sync the Service.",
            (
                shell.command("az", "network", "public-ip", "list", "-g", rg, "-o", "table"),
                az.describe_service(ctx.service),
            ),
        )
        yield ctx.finding(cause, evidence, fix=fix)


def _ip_mismatch(
    ctx: ServiceContext, matches: Sequence[mapping.FrontendMatch], ingress: Sequence[str]
) -> Iterator[Finding]:
    svc = ctx.service
    # a frontend whose public IP was not found has an unknown address (_missing_public_ips judges those)
    matches = [m for m in matches if m.public_ip is not None or not mapping.ref_id(prop(m.frontend, "publicIPAddress"))]
    if not matches:
        return
    azure_ips = [m.ip for m in matches if m.ip]
    if not ingress:
        cause = (
            f"Azure has the Service's frontend ({', '.join(m.ref for m in matches)}) with IP "
            f"{', '.join(azure_ips) or '<none>'}, but the Service's status has no IP: the provider built the frontend "
            "and then failed before it could publish the address (its events say why)."
        )
    else:
        missing = [ip for ip in ingress if ip not in azure_ips]
        extra = [ip for ip in azure_ips if ip not in ingress]
        if not missing and not extra:
            return
        cause = (
            f"The Service's status says {', '.join(ingress)}, but its frontend in Azure holds "
            f"{', '.join(azure_ips) or 'no address'}. Clients and DNS records using the status IP "
            f"({', '.join(missing) or 'none'}) reach nothing or another Service; the status is stale or the frontend "
            "was changed in Azure."
        )
    evidence = [*_status_evidence(svc), *(_frontend_evidence(m) for m in matches)]
    fix = Fix(
        "Find why the provider's last sync did not finish (Service events); it rewrites the status after a "
        "successful sync.",
        (az.describe_service(svc),),
    )
    yield ctx.finding(cause, evidence, fix=fix)


def _rule_drift(ctx: ServiceContext, matches: Sequence[mapping.FrontendMatch]) -> Iterator[Finding]:
    svc = ctx.service
    expected = mapping.expected_rules(svc, az.config(ctx))
    actual = az.rules_of(ctx, matches)
    frontend_ids = {str(m.frontend.get("id") or "").lower() for m in matches}
    problems: list[str] = []
    evidence: list[Evidence] = []
    for exp in expected:
        found = actual.get(exp.name.lower())
        if found is None:
            problems.append(f"rule {exp.name} is missing ({exp.protocol} port {exp.frontend_port})")
            index = az.service_port_index(svc, exp.service_port)
            if index is not None:
                evidence.append(field_evidence("Service", svc, f"spec.ports[{index}].port", exp.service_port))
            continue
        diffs = _rule_differences(exp, found[1], frontend_ids)
        rule = found[1]
        if diffs:
            problems.append(f"rule {rule.get('name')} has {', '.join(diffs)}")
            evidence.append(az.azure_evidence(rule, az.fields(rule, RULE_FIELDS)))
    wanted = {e.name.lower() for e in expected}
    for _lb, rule in az.rules_named_after(ctx, matches, mapping.base_name(svc)):
        if str(rule.get("name") or "").lower() not in wanted:
            problems.append(f"rule {rule.get('name')} is left over (port {prop(rule, 'frontendPort')})")
            evidence.append(az.azure_evidence(rule, az.fields(rule, RULE_FIELDS)))
    if not problems:
        return
    lb = matches[0].lb
    names = [str(r.get("name") or "") for r in az.children(lb, "loadBalancingRules")]
    if any(" is missing " in p for p in problems):
        evidence.append(az.azure_evidence(lb, f"loadBalancingRules: {az.capped(names, 8) or '(none)'}"))
    cause = (
        f"The load balancer's rules do not match the Service's ports: {az.capped(problems)}. A port without its rule "
        "gets no traffic; a left-over rule keeps forwarding a port the Service no longer has. The provider "
        "reconciles rules on every successful sync, so this also means its syncs fail (see the Service's events)."
    )
    fix = Fix(
        "Find why the provider's syncs fail (Service events) and compare the rules.",
        (az.describe_service(svc), az.az_lb(lb, "rule", "list", "-o", "table")),
    )
    yield ctx.finding(cause, evidence, fix=fix)


def _rule_differences(exp: mapping.ExpectedRule, rule: Mapping[str, Any], frontend_ids: set[str]) -> list[str]:
    diffs = []
    if mapping.ref_id(prop(rule, "frontendIPConfiguration")) not in frontend_ids:
        target = mapping.ref_id(prop(rule, "frontendIPConfiguration")).rsplit("/", 1)[-1] or "no frontend"
        diffs.append(f"frontend {target}, not the Service's")
    checks = (
        ("protocol", str(prop(rule, "protocol") or "").lower(), exp.protocol.lower(), exp.protocol),
        ("frontendPort", prop(rule, "frontendPort"), exp.frontend_port, exp.frontend_port),
        ("backendPort", prop(rule, "backendPort"), exp.backend_port, exp.backend_port),
        ("enableFloatingIP", bool(prop(rule, "enableFloatingIP")), exp.floating_ip, exp.floating_ip),
    )
    for field, actual, wanted, shown in checks:
        if actual != wanted:
            diffs.append(f"{field} {prop(rule, field)} instead of {shown}")
    return diffs
