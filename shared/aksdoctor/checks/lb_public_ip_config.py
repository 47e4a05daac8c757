"""A Service that brings its own public IP (azure-pip-name, azure-load-balancer-ipv4, spec.loadBalancerIP) or asks
for a DNS label depends on an Azure object the provider does not own: in the wrong resource group, of the other SKU,
attached to a VM or another load balancer, or a label someone else holds, and the Service stays without an IP (or
without its name). The provider's events say it failed; the public IPs themselves say why, so this check reads both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import prop, resource_group_of, sku_name
from aksdoctor.checks._lb_azure import (
    annotate,
    attached_to,
    cloud_config,
    describe_service,
    managed_cluster,
    provider_config,
    public_ip_evidence,
)
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.checks.provider_errors import EVENT_FACTS, service_errors, with_azure_side
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix, Severity

ID = "lb.public-ip-config"
DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/static-ip",
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
)
_ATTACHED_TO = re.compile(r"/providers/Microsoft\.\w+/([^/]+)/([^/]+)", re.I)  # resource type and name


@check(
    id=ID,
    title="Requested public IP or DNS label cannot be used",
    severity="error",
    scope="service",
    needs=("services",),
    optional=(
        *EVENT_FACTS,
        "cloud_config",
        "azure_scope",
        "azure_public_ips",
        "azure_load_balancers",
        "azure_managed_clusters",
    ),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> list[Finding]:
    """Provider errors about the Service's public IP or DNS label, and what the public IPs in Azure show."""
    return with_azure_side(ctx, ID, _azure_side)


def _azure_side(ctx: ServiceContext) -> Iterator[Finding]:
    svc = ctx.service
    if mapping.is_internal(svc):
        raise NotApplicable("internal Service: it has no public IP")
    config = provider_config(ctx)
    expected = mapping.expected_public_ip(svc, config=config)
    byo = [e for e in expected if not e.managed]
    label = kube.annotations(svc).get(mapping.DNS_LABEL)
    if not byo and label is None:
        raise NotApplicable("the Service asks for no particular public IP and no DNS label")
    pips = ctx.fact("azure_public_ips")
    default_rg = _default_resource_group(ctx)
    for exp in byo:
        yield from _byo_findings(ctx, exp, pips, default_rg, config)
    if label is not None:
        yield from _dns_findings(ctx, str(label).strip(), expected, pips)


def _default_resource_group(ctx: ServiceContext) -> str:
    """Where the provider looks for public IPs without azure-load-balancer-resource-group."""
    cfg = cloud_config(ctx)
    return (cfg.text("loadBalancerResourceGroup") if cfg else "") or ctx.fact("azure_scope").node_resource_group


# ---- bring-your-own public IP ----------------------------------------------------------------------------------


def _byo_findings(
    ctx: ServiceContext,
    exp: mapping.ExpectedPublicIP,
    pips: Sequence[Mapping[str, Any]],
    default_rg: str,
    config: mapping.ProviderConfig,
) -> Iterator[Finding]:
    svc = ctx.service
    rg = exp.resource_group or default_rg
    wanted = f"public IP {exp.name!r}" if exp.name else f"a public IP with address {exp.ip}"
    asked = _asked_evidence(svc, exp)
    matches = _index(ctx, pips).get(_key(exp.name, exp.ip), [])
    here = [p for p in matches if resource_group_of(str(p.get("id") or "")).lower() == rg.lower()]
    where = "azure-load-balancer-resource-group" if exp.resource_group else "the node resource group"
    if not here:
        if not matches and _denied_reading(ctx, rg):
            return  # the provider could not read the group: lb.permission-denied is the finding, not "missing"
        yield _not_in_group(ctx, exp, wanted, rg, where, matches, pips, asked)
        return
    pip = here[0]
    evidence = [*asked, public_ip_evidence(pip)]
    yield from _sku_mismatch(ctx, pip, evidence, config)
    yield from _in_use_elsewhere(ctx, pip, evidence, config)
    if str(prop(pip, "publicIPAllocationMethod") or "").lower() == "dynamic":
        cause = (
            f"The Service's {wanted} ({exp.how}) uses Dynamic allocation: Azure gives it an address only while it is "
            "attached and may hand out a different one after it is released, so the Service's address is not fixed "
            "(a Dynamic IP is also a Basic one: Basic public IPs were retired on 30 September 2025)."
        )
        fix = Fix(
            "Make the address static (keeps the current address when the IP is attached), or create a Standard "
            "static public IP and point the Service at it.",
            (
                shell.command(
                    "az", "network", "public-ip", "update", "--ids", pip["id"], "--allocation-method", "Static"
                ),
            ),
        )
        yield ctx.finding(cause, evidence, fix=fix, severity=Severity.WARNING)


def _key(name: str | None, ip: str | None) -> str:
    return f"name:{name.lower()}" if name else f"ip:{ip}"


def _label_key(label: str) -> str:
    return f"label:{label.lower()}"


def _index(ctx: ServiceContext, pips: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Public IPs by name, address and DNS label, built once per run (Services x public IPs stays linear)."""

    def build() -> dict[str, list[Mapping[str, Any]]]:
        index: dict[str, list[Mapping[str, Any]]] = {}
        for pip in pips:
            keys = [_key(str(pip.get("name") or ""), None), _key(None, str(prop(pip, "ipAddress") or ""))]
            if _label_of(pip):
                keys.append(_label_key(_label_of(pip)))
            for key in keys:
                index.setdefault(key, []).append(pip)
        return index

    return ctx.facts.derived("lb.public-ip-config:public-ips", build)


def _asked_evidence(svc: Mapping[str, Any], exp: mapping.ExpectedPublicIP) -> list[Evidence]:
    """The Service fields that name the IP and its resource group."""
    annotations = kube.annotations(svc)
    out = []
    if exp.how.startswith("annotation "):
        key = exp.how.removeprefix("annotation ")
        out.append(field_evidence("Service", svc, f"metadata.annotations[{key}]", annotations.get(key)))
    else:
        out.append(field_evidence("Service", svc, "spec.loadBalancerIP", kube.spec(svc).get("loadBalancerIP")))
    if exp.resource_group:
        key = mapping.RESOURCE_GROUP
        out.append(field_evidence("Service", svc, f"metadata.annotations[{key}]", annotations.get(key)))
    return out


def _not_in_group(
    ctx: ServiceContext,
    exp: mapping.ExpectedPublicIP,
    wanted: str,
    rg: str,
    where: str,
    elsewhere: Sequence[Mapping[str, Any]],
    pips: Sequence[Mapping[str, Any]],
    asked: list[Evidence],
) -> Finding:
    svc = ctx.service
    if elsewhere:
        pip = elsewhere[0]
        other = resource_group_of(str(pip.get("id") or ""))
        cause = (
            f"The Service asks for {wanted} ({exp.how}); the provider looks for it in resource group {rg} "
            f"({where}), but it is in {other}: set azure-load-balancer-resource-group: {other}."
        )
        command = annotate(svc, mapping.RESOURCE_GROUP, other)
        summary = (
            f"Point the Service at resource group {other}. The cloud provider identity then needs read and join "
            f"permission on the IP there (Network Contributor on {other}, or a role with "
            "Microsoft.Network/publicIPAddresses/read and /join/action)."
        )
        return ctx.finding(cause, [*asked, public_ip_evidence(pip)], fix=Fix(summary, (command,)))
    groups = sorted({resource_group_of(str(p.get("id") or "")) for p in pips} - {""}, key=str.lower)
    if rg.lower() not in {g.lower() for g in groups}:
        cause = (
            f"The Service asks for {wanted} ({exp.how}) in resource group {rg} ({where}), but no public IP of that "
            "group is in the data at all: it was not collected, or this identity cannot read it. Whether the IP "
            "exists cannot be told from here."
        )
        show = shell.command("az", "network", "public-ip", "list", "--resource-group", rg, "-o", "table")
        return ctx.finding(cause, asked, fix=Fix(f"Check that {rg} holds the IP.", (show,)), severity=Severity.WARNING)
    cause = (
        f"The Service asks for {wanted} ({exp.how}), but no public IP listed in resource group {rg} ({where}) "
        f"or in the other listed groups ({', '.join(g for g in groups if g.lower() != rg.lower()) or 'none'}) "
        "matches, so the provider cannot use it and the Service stays without an IP."
    )
    listed = Evidence(
        "Azure",
        f"Microsoft.Network/publicIPAddresses in {', '.join(groups) or rg}",
        f"{len(pips)} public IP(s) listed; none " + (f"named {exp.name}" if exp.name else f"with address {exp.ip}"),
    )
    if exp.name:
        command = _create_public_ip(rg, exp.name, "Standard")
        summary = (
            f"Create the public IP in {rg} (Standard, static), or correct azure-pip-name / "
            "azure-load-balancer-resource-group to name an existing one."
        )
    else:
        query = f"[?ipAddress=='{exp.ip}'].{{name:name, resourceGroup:resourceGroup, sku:sku.name}}"
        command = shell.command("az", "network", "public-ip", "list", "--query", query, "--output", "table")
        summary = (
            "Find which resource group holds the address (the whole subscription is searched) and set "
            "azure-load-balancer-resource-group to it; an address no public IP of the subscription owns cannot be "
            "requested."
        )
    return ctx.finding(cause, [*asked, listed], fix=Fix(summary, (command,)))


def _create_public_ip(rg: str, name: str, sku: str) -> str:
    return shell.command(
        "az", "network", "public-ip", "create", "--resource-group", rg, "--name", name, "--sku", sku,
        "--allocation-method", "Static",
    )  # fmt: skip


def _sku_mismatch(
    ctx: ServiceContext, pip: Mapping[str, Any], evidence: list[Evidence], config: mapping.ProviderConfig
) -> Iterator[Finding]:
    lb_sku, lb_evidence = _lb_sku(ctx, config)
    pip_sku = sku_name(pip) or "Basic"  # ARM's default SKU is Basic
    if not lb_sku or pip_sku.lower() == lb_sku.lower():
        return
    cause = (
        f"Public IP {pip.get('name')} is {pip_sku} SKU but the load balancer is {lb_sku}: Azure refuses a frontend "
        "whose public IP SKU differs from the load balancer's, so the Service cannot get this IP."
    )
    rg = resource_group_of(str(pip.get("id") or ""))
    create = _create_public_ip(rg, f"{pip.get('name')}-{lb_sku.lower()}", lb_sku)
    summary = (
        f"Use a {lb_sku} public IP (create one and point azure-pip-name or azure-load-balancer-ipv4 at it). Basic "
        "load balancers and Basic public IPs were retired on 30 September 2025: move both to Standard."
    )
    yield ctx.finding(cause, [*evidence, lb_evidence], fix=Fix(summary, (create,)))


def _lb_sku(ctx: ServiceContext, config: mapping.ProviderConfig) -> tuple[str, Evidence | None]:
    """The SKU of the load balancer the Service goes on: from that LB, else the cloud config, else the AKS cluster."""
    names = {n.lower() for n in mapping.expected_lb_names(ctx.service, config=config)}
    for lb in ctx.fact_or("azure_load_balancers", []):
        sku = sku_name(lb)
        if str(lb.get("name") or "").lower() in names and sku:
            return sku, Evidence("Azure", f"{lb.get('id')} sku.name", sku)
    cfg = cloud_config(ctx)
    cluster = managed_cluster(ctx)
    if cfg:  # the provider's default without loadBalancerSku is Basic
        evidence = Evidence("Config", cfg.source, cfg.describe("loadBalancerSku"))
    elif cluster:
        ref = f"{cluster.get('id')} networkProfile.loadBalancerSku"
        evidence = Evidence("Azure", ref, str((prop(cluster, "networkProfile") or {}).get("loadBalancerSku")))
    else:
        return "", None
    return config.load_balancer_sku.capitalize(), evidence


def _in_use_elsewhere(
    ctx: ServiceContext, pip: Mapping[str, Any], evidence: list[Evidence], config: mapping.ProviderConfig
) -> Iterator[Finding]:
    """The IP is attached to something that is not one of this cluster's load balancers (a VM's NIC, another LB)."""
    owner = attached_to(pip)
    if not owner:
        return
    m = _ATTACHED_TO.search(owner)
    kind, name = (m.group(1), m.group(2)) if m else ("resource", owner)
    if kind.lower() == "loadbalancers" and _is_cluster_lb(ctx, owner, name, config):
        return
    what = {
        "networkinterfaces": f"network interface {name} (a VM's NIC)",
        "loadbalancers": f"load balancer {name}, which is not this cluster's",
        "natgateways": f"NAT gateway {name}",
        "virtualmachinescalesets": f"an instance NIC of scale set {name}",
    }.get(kind.lower(), f"{kind} {name}")
    cause = (
        f"Public IP {pip.get('name')} is already in use by {what}: a public IP serves one resource at a time, so "
        "the provider cannot put it on the Service's load balancer frontend (PublicIPAddressInUse)."
    )
    if kind.lower() == "networkinterfaces":
        commands: tuple[str, ...] = (
            shell.command("az", "network", "nic", "ip-config", "update", "--ids", owner, "--remove", "publicIpAddress"),
        )
        summary = "Detach the IP from the NIC (the VM loses that public address), or give the Service another IP."
    else:
        commands = (shell.command("az", "resource", "show", "--ids", owner.split("/ipConfigurations/")[0]),)
        summary = f"Detach the IP from {what}, or give the Service another IP."
    yield ctx.finding(cause, evidence, fix=Fix(summary, commands))


def _is_cluster_lb(ctx: ServiceContext, attached: str, lb_name: str, config: mapping.ProviderConfig) -> bool:
    names = {n.lower() for n in mapping.expected_lb_names(ctx.service, config=config)}
    return lb_name.lower() in names and resource_group_of(attached).lower() == _default_resource_group(ctx).lower()


# ---- DNS label -------------------------------------------------------------------------------------------------


@functools.cache
def _label_rules() -> tuple[re.Pattern[str], tuple[str, ...]]:
    """(valid label pattern, tag keys naming the Service that owns a public IP's label)."""
    pattern = re.compile(knowledge.load("annotations")["types"]["dns-label"]["regex"])
    return pattern, tuple(knowledge.load("lb_mapping")["public_ip_tags"]["dns_label_service"])


def _label_owner(pip: Mapping[str, Any]) -> str | None:
    tags = pip.get("tags") or {}
    return next((str(tags[k]) for k in _label_rules()[1] if tags.get(k)), None)


def _label_of(pip: Mapping[str, Any]) -> str:
    return str((prop(pip, "dnsSettings") or {}).get("domainNameLabel") or "")


def _dns_findings(
    ctx: ServiceContext,
    label: str,
    expected: Sequence[mapping.ExpectedPublicIP],
    pips: Sequence[Mapping[str, Any]],
) -> Iterator[Finding]:
    svc = ctx.service
    own = _service_public_ip(svc, expected, pips)
    asked = field_evidence("Service", svc, f"metadata.annotations[{mapping.DNS_LABEL}]", label)
    relabel = annotate(svc, mapping.DNS_LABEL, "<label>")
    if own is None:
        return  # no public IP yet: the events (or lb.pending) tell why
    current = _label_of(own)
    evidence = [asked, public_ip_evidence(own)]
    if label and not _label_rules()[0].match(label):
        cause = (
            f"azure-dns-label-name {label!r} is not a valid DNS label (Azure accepts {_label_rules()[0].pattern}: "
            f"lower-case, no dots), so Azure refuses it (InvalidDomainNameLabel); public IP {own.get('name')} "
            f"has {_label_text(current)}."
        )
        yield ctx.finding(
            cause, evidence, fix=Fix("Give only the label; Azure appends .<region>.cloudapp.azure.com.", (relabel,))
        )
        return
    owner = _label_owner(own)
    if label and owner and owner.lower() != kube.key(svc).lower():
        cause = (
            f"The DNS label on public IP {own.get('name')} belongs to Service {owner} (tag "
            f"{_label_rules()[1][0]}): the provider lets only that Service set it, so this Service's "
            f"azure-dns-label-name {label!r} is refused."
        )
        fix = Fix(f"Set the label on one Service only: remove it from {owner} or from this Service.", (relabel,))
        yield ctx.finding(cause, evidence, fix=fix)
        return
    if current.lower() == label.lower():
        return
    region = str(own.get("location") or "").lower()
    taken = [
        p
        for p in _index(ctx, pips).get(_label_key(label), [])
        if p.get("id") != own.get("id") and str(p.get("location") or "").lower() == region
    ]
    if taken:
        other = taken[0]
        holder = _label_owner(other)
        cause = (
            f"azure-dns-label-name {label!r} is already used by public IP {other.get('name')}"
            + (f" (Service {holder})" if holder else "")
            + f": a label is unique per region ({label}.{region}.cloudapp.azure.com), so Azure refuses it "
            f"(DnsRecordInUse) and public IP {own.get('name')} keeps {_label_text(current)}."
        )
        yield ctx.finding(cause, [*evidence, public_ip_evidence(other)], fix=Fix("Choose another label.", (relabel,)))
        return
    cause = (
        f"The Service asks for DNS label {label!r} but its public IP {own.get('name')} has {_label_text(current)}: "
        "the provider has not applied it (it does on a successful sync; the provider's events say why not)."
        if label
        else f"The Service's empty azure-dns-label-name asks to remove the label, but public IP {own.get('name')} "
        f"still has {_label_text(current)}."
    )
    yield ctx.finding(
        cause,
        evidence,
        fix=Fix("Look at the Service's events for the failed sync.", (describe_service(svc),)),
        severity=Severity.WARNING,
    )


def _label_text(label: str) -> str:
    return f"label {label!r}" if label else "no DNS label"


def _service_public_ip(
    svc: Mapping[str, Any], expected: Sequence[mapping.ExpectedPublicIP], pips: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The Service's (IPv4 first) public IP: the one its annotations or managed name give, else the tagged one."""
    for exp in expected:
        pip = mapping.find_public_ip(exp, pips)
        if pip is not None:
            return pip
    tagged = mapping.public_ips_tagged_for(svc, pips)
    return tagged[0] if tagged else None


def _denied_reading(ctx: ServiceContext, resource_group: str) -> bool:
    """The provider itself was refused access in this resource group (so the IP's absence proves nothing)."""
    try:
        sightings = service_errors(ctx).current()
    except FactUnavailable:
        return False
    needle = f"/resourcegroups/{resource_group.lower()}/"
    return any(
        s.error.category == "permission" and needle in f"{s.error.scope or ''}/".lower().replace("//", "/")
        for s in sightings
    )
