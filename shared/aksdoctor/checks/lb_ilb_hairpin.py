"""An internal load balancer cannot send a node's own connection back to that node (no hairpin), by design.

Azure does not translate flows from a backend VM to its own internal frontend; when the flow is mapped back to
the VM that opened it, the two halves do not match and the connection times out. In the cluster, kube-proxy
normally catches traffic to the VIP before it leaves the node, so in-cluster clients never notice. They do when
the VIP is not caught locally (status ipMode Proxy): that raises the finding to a warning. With floating IP off the
rule delivers the flow as nodeIP:nodePort, so a flow mapped back to its own node fails every time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import mapping
from aksdoctor.checks._lb_azure import floating_ip_off
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.model import Evidence, Finding, Fix

DOCS = (
    "https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-troubleshoot-backend-traffic",
    "https://learn.microsoft.com/en-us/azure/aks/internal-lb",
)
IP_MODE_DOC = "https://kubernetes.io/docs/concepts/services-networking/service/#load-balancer-ip-mode"


@check(
    id="lb.ilb-hairpin",
    title="Internal LB VIP is not reachable from its own backend nodes",
    severity="info",
    scope="service",
    needs=("services",),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    svc = ctx.service
    if not mapping.is_internal(svc):
        raise NotApplicable("public load balancer")
    ns, name = kube.namespace(svc), kube.name(svc)
    ingress = kube.status(svc).get("loadBalancer", {}).get("ingress") or ()
    vip_text = ", ".join(i["ip"] for i in ingress if i.get("ip")) or "The VIP"
    dns_name = f"{name}.{ns}.svc.cluster.local"
    internal = kube.annotations(svc)[mapping.INTERNAL]
    evidence = [field_evidence("Service", svc, f"metadata.annotations[{mapping.INTERNAL}]", internal)]
    evidence += [
        field_evidence("Service", svc, f"status.loadBalancer.ingress[{i}].ip", ing["ip"])
        for i, ing in enumerate(ingress)
        if ing.get("ip")
    ]
    no_dsr = floating_ip_off(svc)
    dsr_note = f" Here {no_dsr[0][0]}, so such a flow fails every time." if no_dsr else ""
    evidence += [e for _, e in no_dsr]
    proxied = _proxy_ip_mode(svc)
    if proxied:
        evidence += [e for _, e in proxied]
        cause = (
            f"{vip_text} is an internal load balancer frontend and {proxied[0][0]}. In-cluster clients connecting "
            "to the VIP therefore go through Azure, and time out whenever Azure maps the flow back to the node it "
            f"came from (internal LB hairpin is not supported).{dsr_note}"
        )
        fix = Fix(
            f"Have in-cluster clients use the Service name {dns_name} (or its ClusterIP) instead of the ILB IP, "
            "and find which controller set ipMode Proxy (the Azure cloud provider does not).",
            (shell.command("kubectl", "-n", ns, "get", "service", name, "-o", "jsonpath={.status.loadBalancer}"),),
        )
        yield ctx.finding(cause, evidence, fix=fix, severity="warning", docs=(IP_MODE_DOC,))
        return
    cause = (
        f"{vip_text} is an internal load balancer frontend. Azure does not support hairpin on internal load "
        "balancers: a connection from a backend node to the VIP times out when Azure maps it back to that node. "
        "kube-proxy normally serves in-cluster connections to the VIP on the node itself, so pods are not "
        f"affected; traffic that reaches Azure from a node in the backend pool is.{dsr_note}"
    )
    fix = Fix(f"From inside the cluster, use the Service name {dns_name} (or its ClusterIP), not the ILB IP.")
    yield ctx.finding(cause, evidence, fix=fix)


def _proxy_ip_mode(svc: Mapping[str, Any]) -> list[tuple[str, Evidence]]:
    return [
        (
            f"status ipMode is Proxy for {ing.get('ip') or ing.get('hostname')}, so kube-proxy does not serve the "
            "VIP locally and in-cluster traffic goes through Azure",
            field_evidence("Service", svc, f"status.loadBalancer.ingress[{i}].ipMode", ing.get("ipMode")),
        )
        for i, ing in enumerate(kube.status(svc).get("loadBalancer", {}).get("ingress") or ())
        if ing.get("ipMode") == "Proxy"
    ]
