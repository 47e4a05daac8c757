"""Azure's health probe decides which nodes get the Service's traffic: it must ask what the cluster answers.

cloud-provider-azure derives every probe from the Service: TCP on the nodePort, HTTP /healthz on healthCheckNodePort
for externalTrafficPolicy Local, HTTP(S) "/" for appProtocol http/https (v1.24+), or what the probe annotations say.
A probe on another port or protocol (hand-edited LB, provider syncs failing since the Service changed) marks healthy
nodes down. And a correct probe can still fail: ingress-nginx answers the HTTP "/" probe its appProtocol ports get
with 404, so every node looks down unless the probe path annotation points at /healthz.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aksdoctor import knowledge, kube
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import prop
from aksdoctor.checks import _lb_azure as az
from aksdoctor.checks.base import NotApplicable, ServiceContext, check, field_evidence
from aksdoctor.model import Evidence, Finding, Fix

DOCS = (
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/#custom-load-balancer-health-probe",
    "https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-custom-probe-overview",
)
PROBE_FIELDS = ("protocol", "port", "requestPath")
MAX_COMMANDS = 3


@check(
    id="lb.probe-mismatch",
    title="Azure health probe does not match the Service",
    severity="error",
    scope="service",
    needs=("services", "azure_load_balancers"),
    optional=(*az.CONFIG_FACTS, *az.FRONTEND_FACTS),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    az.require_azure_service(ctx)
    matches = az.require_frontends(ctx)
    svc = ctx.service
    rules = az.rules_of(ctx, matches)
    problems: list[tuple[str, list[Evidence], str | None]] = []
    probed: list[tuple[mapping.ExpectedRule, Mapping[str, Any], Mapping[str, Any]]] = []
    for exp in mapping.expected_rules(svc, az.config(ctx)):
        found = rules.get(exp.name.lower())
        if found is None or exp.probe is None:
            continue  # a missing rule is lb.frontend-drift's; a rule without probe by design has nothing to compare
        lb, rule = found
        problem = _compare(ctx, exp, lb, rule)
        if problem:
            problems.append(problem)
        probe = az.child(ctx, lb, "probes", ref=prop(rule, "probe"))
        if probe is not None:
            probed.append((exp, lb, probe))
    if not problems and not probed:
        raise NotApplicable("no rule of the Service has a health probe in Azure to compare")
    if problems:
        yield _mismatch_finding(ctx, problems)
    trap = _ingress_404_trap(ctx, probed)
    if trap:
        yield trap


def _describe(probe: mapping.ExpectedProbe) -> str:
    path = f" {probe.request_path}" if probe.request_path else ""
    port = probe.port if probe.port is not None else "(invalid port annotation)"
    return f"{probe.protocol.upper()}{path} on port {port}"


def _compare(
    ctx: ServiceContext, exp: mapping.ExpectedRule, lb: Mapping[str, Any], rule: Mapping[str, Any]
) -> tuple[str, list[Evidence], str | None] | None:
    """(what differs, evidence, az command) for one rule, or None when Azure probes it as the provider would."""
    svc = ctx.service
    want = exp.probe
    assert want is not None
    expected_evidence = _expected_evidence(svc, exp)
    ref = prop(rule, "probe")
    if not mapping.ref_id(ref):
        text = f"rule {rule.get('name')} has no health probe (the provider gives it {_describe(want)})"
        return text, [az.azure_evidence(rule, "probe = <absent>"), *expected_evidence], None
    probe = az.child(ctx, lb, "probes", ref=ref)
    if probe is None:
        missing = mapping.ref_id(ref).rsplit("/", 1)[-1]
        text = f"rule {rule.get('name')} points at probe {missing}, which does not exist on LB {lb.get('name')}"
        return text, [az.azure_evidence(rule, f"probe.id = {ref.get('id')}"), *expected_evidence], None
    diffs = []
    if want.port is not None and prop(probe, "port") != want.port:
        diffs.append(f"port {prop(probe, 'port')} instead of {want.port}")
    same_protocol = str(prop(probe, "protocol") or "").lower() == want.protocol.lower()
    if not same_protocol:
        diffs.append(f"protocol {prop(probe, 'protocol')} instead of {want.protocol}")
    elif want.request_path and str(prop(probe, "requestPath") or "").lower() != want.request_path.lower():
        diffs.append(f"request path {prop(probe, 'requestPath') or '-'} instead of {want.request_path}")
    if not diffs:
        return None
    other = "" if str(probe.get("name") or "").lower() == want.name.lower() else f" (the probe of {probe.get('name')})"
    text = (
        f"rule {rule.get('name')} is probed with {', '.join(diffs)}{other}; the provider sets {_describe(want)}: "
        f"{want.reason}"
    )
    evidence = [az.azure_evidence(probe, az.fields(probe, PROBE_FIELDS)), *expected_evidence]
    return text, evidence, az.az_lb(lb, "probe", "show", "-n", str(probe.get("name") or ""))


def _expected_evidence(svc: Mapping[str, Any], exp: mapping.ExpectedRule) -> list[Evidence]:
    """The Service fields the expected probe comes from: healthCheckNodePort, or the port's nodePort / appProtocol."""
    spec = kube.spec(svc)
    probe = exp.probe
    if probe is None or probe.name == mapping.SHARED_PROBE_NAME:
        return []
    if probe.port is not None and probe.port == spec.get("healthCheckNodePort"):
        return [field_evidence("Service", svc, "spec.healthCheckNodePort", probe.port)]
    index = az.service_port_index(svc, exp.service_port)
    if index is None:
        return []
    port = spec["ports"][index]
    out = [field_evidence("Service", svc, f"spec.ports[{index}].nodePort", port.get("nodePort"))]
    if "appProtocol" in port:
        out.append(field_evidence("Service", svc, f"spec.ports[{index}].appProtocol", port.get("appProtocol")))
    return out


def _mismatch_finding(ctx: ServiceContext, problems: list[tuple[str, list[Evidence], str | None]]) -> Finding:
    texts = [p[0] for p in problems]
    cause = (
        f"Azure probes {len(problems)} rule(s) of the Service differently from what cloud-provider-azure sets: "
        f"{az.capped(texts)}. A probe on the wrong port, protocol or path marks healthy nodes down (or broken ones "
        "up), so connections to the IP fail. The provider rewrites its probes on every successful sync: a lasting "
        "difference means the load balancer was edited outside Kubernetes or the provider's syncs are failing."
    )
    evidence = [e for p in problems for e in p[1]]
    commands = [c for c in dict.fromkeys(p[2] for p in problems) if c][:MAX_COMMANDS]
    fix = Fix(
        "Compare the probe in Azure with the Service; look at the Service's events for failed syncs (the provider "
        "restores its probe on the next successful sync, edits made in Azure are overwritten).",
        (*commands, az.describe_service(ctx.service)),
    )
    return ctx.finding(cause, evidence, fix=fix)


def _ingress_404_trap(
    ctx: ServiceContext, probed: list[tuple[mapping.ExpectedRule, Mapping[str, Any], Mapping[str, Any]]]
) -> Finding | None:
    """An ingress controller probed with HTTP(S) "/": its default server answers 404, so every node looks down."""
    svc = ctx.service
    controller = _ingress_controller(svc)
    if controller is None:
        return None
    slash = [
        (exp, lb, probe)
        for exp, lb, probe in probed
        if str(prop(probe, "protocol") or "").lower() in ("http", "https")
        and str(prop(probe, "requestPath") or "/") == "/"
        and exp.probe is not None
        and exp.probe.name != mapping.SHARED_PROBE_NAME
        and prop(probe, "port") != kube.spec(svc).get("healthCheckNodePort")
    ]
    if not slash:
        return None
    exp, lb, probe = slash[0]
    selector = kube.label_selector_text(kube.spec(svc).get("selector") or {})
    why = f" ({exp.probe.reason})" if exp.probe and exp.probe.protocol != "Tcp" else ""
    healthy = controller["healthy_path"]
    cause = (
        f"The Service selects {controller['name']} ({selector}) and Azure probes it with "
        f"{str(prop(probe, 'protocol')).upper()} / on port {prop(probe, 'port')}{why}. {controller['name']} answers "
        f'"/" with 404 when no Ingress matches the request, so the probe fails on every node and the IP stops '
        f"answering, unless the probe path annotation points at a path that returns 200 ({healthy})."
    )
    evidence = [az.azure_evidence(p, az.fields(p, PROBE_FIELDS)) for _, _, p in slash[:3]]
    evidence += _expected_evidence(svc, exp)
    evidence.append(field_evidence("Service", svc, "spec.selector", selector))
    fix = Fix(
        f"Set the probe path to {healthy} (the provider updates the probe on its next sync).",
        (
            az.annotate(svc, mapping.PROBE_PATH, healthy),
            az.az_lb(lb, "probe", "show", "-n", str(probe.get("name") or "")),
        ),
    )
    return ctx.finding(cause, evidence, fix=fix, severity="warning", docs=tuple(controller["docs"]))


def _ingress_controller(svc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    selector = kube.spec(svc).get("selector") or {}
    for controller in knowledge.load("lb_mapping")["ingress_controllers"]:
        if any(all(selector.get(k) == v for k, v in marker.items()) for marker in controller["selector_labels"]):
            return controller
    return None
