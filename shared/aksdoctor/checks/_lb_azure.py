"""What the Azure-side load balancer checks share: whether the Service reaches Azure, its frontends on the actual
LBs (index built once per run), LB children by id or name, the provider's settings and how they shape the Service's
rules, and evidence and commands that cite ARM objects the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.cloud_config import CloudConfig
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.checks.base import NotApplicable, ServiceContext, field_evidence
from aksdoctor.model import Evidence

# Optional facts every check using `config` and `frontends` declares (provider_config reads the first two).
CONFIG_FACTS = ("cloud_config", "azure_managed_clusters")
FRONTEND_FACTS = ("azure_public_ips",)
BASE_LENGTH = len(mapping.base_name({"metadata": {"uid": "0" * 32}}))  # 32: "a" + 31 characters of the UID


def require_azure_service(ctx: ServiceContext) -> None:
    """NotApplicable for Services cloud-provider-azure does not reconcile (e.g. another loadBalancerClass)."""
    ok, why = mapping.reaches_azure(ctx.service)
    if not ok:
        raise NotApplicable(why)


def cloud_config(ctx: ServiceContext) -> CloudConfig | None:
    """The cloud provider's config (optional fact `cloud_config`) when it could be read and parsed."""
    config = ctx.fact_or("cloud_config")
    return None if config is None or config.problem else config


def managed_cluster(ctx: ServiceContext) -> Mapping[str, Any] | None:
    """The AKS managed cluster, when exactly one was listed (optional fact `azure_managed_clusters`)."""
    clusters = ctx.fact_or("azure_managed_clusters", ())
    return clusters[0] if len(clusters) == 1 else None


def provider_config(ctx: ServiceContext) -> mapping.ProviderConfig:
    """The provider's settings: from its cloud config, else the AKS managed cluster, else AKS's defaults."""
    cfg = cloud_config(ctx)
    if cfg:
        return mapping.config_from(cloud_config=cfg.values)
    cluster = managed_cluster(ctx)
    return mapping.config_from(managed_cluster=cluster) if cluster else mapping.DEFAULT_CONFIG


def config(ctx: ServiceContext) -> mapping.ProviderConfig:
    """The provider's settings, once per run; the shared probe mode is also recognised from the LBs themselves
    (a `cluster-service-shared-health-probe` probe exists only in that mode)."""

    def build() -> mapping.ProviderConfig:
        cfg = provider_config(ctx)
        lbs = ctx.fact("azure_load_balancers")
        shared = any(
            str(p.get("name") or "").lower() == mapping.SHARED_PROBE_NAME for lb in lbs for p in children(lb, "probes")
        )
        return replace(cfg, shared_probe=True) if shared and not cfg.shared_probe else cfg

    return ctx.facts.derived("azure.lb:config", build)


def frontends(ctx: ServiceContext) -> tuple[mapping.FrontendMatch, ...]:
    """The Service's frontends on the actual LBs (public IPs resolved when that fact could be read)."""
    pips = ctx.fact_or("azure_public_ips", ())
    index = ctx.facts.derived(
        f"azure.lb:frontends:{bool(pips)}", lambda: mapping.FrontendIndex(ctx.fact("azure_load_balancers"), pips)
    )
    return mapping.find_frontends(ctx.service, config=config(ctx), index=index)


def require_frontends(ctx: ServiceContext) -> tuple[mapping.FrontendMatch, ...]:
    found = frontends(ctx)
    if not found:
        raise NotApplicable("the Service has no frontend on any load balancer (lb.frontend-drift / lb.pending)")
    return found


def children(lb: Mapping[str, Any], collection: str) -> list[Mapping[str, Any]]:
    """An LB's frontends, rules, probes or pools (`frontendIPConfigurations`, `loadBalancingRules`, ...)."""
    return [c for c in prop(lb, collection) or () if isinstance(c, Mapping)]


def child(
    ctx: ServiceContext, lb: Mapping[str, Any], collection: str, *, name: str = "", ref: Any = None
) -> Mapping[str, Any] | None:
    """The child named `name`, or referenced by `ref` ({"id": ...}); ARM names and ids compare case-insensitively."""
    by_id, by_name = ctx.facts.derived(
        f"azure.lb:{collection}:{str(lb.get('id') or '').lower()}", lambda: _index_children(lb, collection)
    )
    wanted_id = mapping.ref_id(ref)
    if wanted_id:
        return by_id.get(wanted_id)
    return by_name.get(name.lower())


def _index_children(
    lb: Mapping[str, Any], collection: str
) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    items = children(lb, collection)
    by_id = {str(i.get("id") or "").lower(): i for i in items}
    by_name = {str(i.get("name") or "").lower(): i for i in items}
    return by_id, by_name


def rules_of(
    ctx: ServiceContext, matches: Iterable[mapping.FrontendMatch]
) -> dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """lower-case rule name -> (LB, rule) over the LBs holding the Service's frontends (indexed once per LB)."""
    lbs = list({str(m.lb.get("id") or "").lower(): m.lb for m in matches}.values())
    if len(lbs) == 1:
        return _rule_index(ctx, lbs[0])
    out: dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    for lb in lbs:
        for name, pair in _rule_index(ctx, lb).items():
            out.setdefault(name, pair)
    return out


def rules_named_after(
    ctx: ServiceContext, matches: Iterable[mapping.FrontendMatch], base: str
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Rules whose name starts with `base` + "-" (a Service's own rules), on the LBs holding its frontends."""
    prefix = base.lower() + "-"
    out = []
    for lb in {str(m.lb.get("id") or "").lower(): m.lb for m in matches}.values():
        by_base = ctx.facts.derived(
            f"azure.lb:rules-by-base:{str(lb.get('id') or '').lower()}",
            lambda lb=lb: _group_by_base(_rule_index(ctx, lb)),
        )
        candidates = by_base.get(base.lower(), ()) if len(base) == BASE_LENGTH else _rule_index(ctx, lb).items()
        out += [pair for name, pair in candidates if name.startswith(prefix)]
    return out


def _group_by_base(
    index: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> dict[str, list[tuple[str, tuple[Mapping[str, Any], Mapping[str, Any]]]]]:
    groups: dict[str, list[tuple[str, tuple[Mapping[str, Any], Mapping[str, Any]]]]] = {}
    for name, pair in index.items():
        groups.setdefault(name[:BASE_LENGTH], []).append((name, pair))
    return groups


def _rule_index(ctx: ServiceContext, lb: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]]:
    def build() -> dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]]:
        return {str(r.get("name") or "").lower(): (lb, r) for r in children(lb, "loadBalancingRules")}

    return ctx.facts.derived(f"azure.lb:rules:{str(lb.get('id') or '').lower()}", build)


def floating_ip_off(svc: Mapping[str, Any]) -> list[tuple[str, Evidence]]:
    """Why the LB rules of this Service target nodeIP:nodePort instead of the VIP (floating IP disabled).

    The annotation disables it for every rule; the provider also disables it on an internal LB's IPv6 rules.
    """
    out = []
    if mapping.is_true(svc, mapping.DISABLE_FLOATING_IP):
        value = kube.annotations(svc)[mapping.DISABLE_FLOATING_IP]
        out.append(
            (
                "floating IP is disabled (the rules forward to nodeIP:nodePort)",
                field_evidence("Service", svc, f"metadata.annotations[{mapping.DISABLE_FLOATING_IP}]", value),
            )
        )
    families = kube.spec(svc).get("ipFamilies") or ()
    if not out and "IPv6" in families and mapping.is_true(svc, mapping.INTERNAL):
        out.append(
            (
                "the provider disables floating IP on internal IPv6 rules (IPv6 flows go to nodeIP:nodePort)",
                field_evidence("Service", svc, "spec.ipFamilies", ",".join(families)),
            )
        )
    return out


def azure_evidence(obj: Mapping[str, Any], detail: str, ref: str | None = None) -> Evidence:
    """An ARM object and the exact field/value: ref is its ARM id unless given (`LB kubernetes frontend aXXX`)."""
    return Evidence("Azure", ref or str(obj.get("id") or obj.get("name") or ""), detail)


def attached_to(pip: Mapping[str, Any]) -> str:
    """What the public IP serves: its ipConfiguration (LB frontend, NIC) or NAT gateway id; "" when unattached."""
    return str((prop(pip, "ipConfiguration") or {}).get("id") or (prop(pip, "natGateway") or {}).get("id") or "")


def public_ip_evidence(pip: Mapping[str, Any]) -> Evidence:
    """A public IP's id and the fields that decide whether it can serve (or is orphaned)."""
    attached = attached_to(pip)
    tags = pip.get("tags") or {}
    parts = [
        f"sku={(pip.get('sku') or {}).get('name', '<absent>')}",
        f"allocation={prop(pip, 'publicIPAllocationMethod') or '<absent>'}",
        f"ipAddress={prop(pip, 'ipAddress') or '<none>'}",
        f"ipConfiguration={attached or '<none>'}",
        "tags={" + ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) + "}",
    ]
    label = (prop(pip, "dnsSettings") or {}).get("domainNameLabel")
    if label:
        parts.append(f"dnsSettings.domainNameLabel={label}")
    return Evidence("Azure", str(pip.get("id") or pip.get("name") or ""), " ".join(parts))


def fields(obj: Mapping[str, Any], names: Sequence[str]) -> str:
    """`protocol=Tcp port=31380 requestPath=/`: the named properties as Azure holds them (absent ones as -)."""
    parts = []
    for name in names:
        value = prop(obj, name)
        parts.append(f"{name}={'-' if value is None or value == '' else value}")
    return " ".join(parts)


def lb_location(lb: Mapping[str, Any]) -> tuple[str, str]:
    """(resource group, name) of an LB, for az commands."""
    return resource_group_of(str(lb.get("id") or "")), str(lb.get("name") or "")


def az_lb(lb: Mapping[str, Any], *args: str) -> str:
    """`az network lb <args> -g RG --lb-name LB ...` (or `--name` for `az network lb show`)."""
    rg, name = lb_location(lb)
    if args and args[0] == "show":
        return shell.command("az", "network", "lb", *args, "-g", rg, "-n", name)
    return shell.command("az", "network", "lb", *args, "-g", rg, "--lb-name", name)


def describe_service(svc: Mapping[str, Any]) -> str:
    """kubectl describe for the Service: its events say whether the provider's last sync failed and why."""
    return shell.command("kubectl", "-n", kube.namespace(svc), "describe", "service", kube.name(svc))


def annotate(svc: Mapping[str, Any], key: str, value: str) -> str:
    return shell.command(
        "kubectl", "-n", kube.namespace(svc), "annotate", "service", kube.name(svc), f"{key}={value}", "--overwrite"
    )


def service_port_index(svc: Mapping[str, Any], number: int) -> int | None:
    """Index of the spec.ports entry with this port number (for field evidence)."""
    for i, port in enumerate(kube.spec(svc).get("ports") or ()):
        if port.get("port") == number:
            return i
    return None


def capped(items: Sequence[str], cap: int = 5) -> str:
    shown = "; ".join(items[:cap])
    return f"{shown}; and {len(items) - cap} more" if len(items) > cap else shown
