"""A LoadBalancer Service whose selector matches no pods, or whose pods are not ready, has nothing behind its IP.

Azure keeps probing the nodes, but every connection is refused or dropped. EndpointSlices are the source of
truth (what kube-proxy programs); the legacy Endpoints object is read only when slices were not captured.
"""

from __future__ import annotations

from collections.abc import Iterator

from aksdoctor import kube, shell
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix

DOCS = ("https://kubernetes.io/docs/tasks/debug/debug-application/debug-service/#does-the-service-have-any-endpoints",)


@check(
    id="lb.no-endpoints",
    title="Service has no ready endpoints",
    severity="error",
    scope="service",
    needs=("services", "pods"),
    optional=("endpointslices", "endpoints"),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    svc = ctx.service
    selector = kube.spec(svc).get("selector") or {}
    if not selector:
        raise NotApplicable("Service has no selector (endpoints are managed by hand)")
    ready, not_ready, source = _endpoint_addresses(ctx)
    if ready:
        return
    pods = ctx.pods
    sel_text = kube.label_selector_text(selector)
    ns = kube.namespace(svc)
    evidence = [field_evidence("Service", svc, "spec.selector", sel_text)]
    if not pods:
        cause = f"The selector {sel_text} matches no pod in namespace {ns}, so the Service has no endpoints."
        command = shell.command("kubectl", "get", "pods", "-n", ns, "--show-labels")
        fix = Fix("Make the selector match the pods' labels (or deploy the pods).", (command,))
    else:
        live = [p for p in pods if not kube.pod_is_terminal(p)]
        unready = [p for p in live if not kube.pod_is_ready(p)]
        cause = (
            f"{len(pods)} pod(s) match the selector but none is ready "
            f"({len(unready)} not ready, {len(pods) - len(live)} finished); {source} lists "
            f"{not_ready} not-ready address(es) and no ready one."
        )
        for pod in unready[:5]:
            conds = {c.get("type"): c.get("status") for c in kube.status(pod).get("conditions") or ()}
            evidence.append(
                Evidence(
                    "Pod", kube.ref("Pod", pod), f"phase={kube.status(pod).get('phase')} Ready={conds.get('Ready')}"
                )
            )
        first = unready[0] if unready else pods[0]
        fix = Fix(
            "Find why the pods are not ready (failing readiness probe, crash loop, pending scheduling).",
            (shell.command("kubectl", "describe", "pod", "-n", ns, kube.name(first)),),
        )
    yield ctx.finding(cause, evidence, fix=fix)


def _endpoint_addresses(ctx: ServiceContext) -> tuple[int, int, str]:
    """(ready, not ready, which object) from EndpointSlices, falling back to Endpoints."""
    try:
        slices = ctx.endpoint_slices
    except FactUnavailable:
        slices = None
    if slices:
        ready = not_ready = 0
        for sl in slices:
            for ep in sl.get("endpoints") or ():
                n = len(ep.get("addresses") or ())
                if (ep.get("conditions") or {}).get("ready", True) is not False:
                    ready += n
                else:
                    not_ready += n
        return ready, not_ready, "EndpointSlices"
    try:
        endpoints = ctx.endpoints
    except FactUnavailable:
        if slices is None:
            raise FactUnavailable("neither EndpointSlices nor Endpoints could be read") from None
        return 0, 0, "EndpointSlices"
    ready = sum(len(s.get("addresses") or ()) for e in endpoints for s in e.get("subsets") or ())
    not_ready = sum(len(s.get("notReadyAddresses") or ()) for e in endpoints for s in e.get("subsets") or ())
    return ready, not_ready, "Endpoints"
