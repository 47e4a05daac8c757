"""The cloud provider says why it cannot build a Service's load balancer, in Warning events and in its log lines.

Those texts arrive in three SDK generations of wrappers, so they are read through the error classifier (codes,
not wrapper text). Each check of this family owns some classifier categories and turns the classified errors
of one Service into one finding per (code, scope, action): who lacks what where, the limit that was hit, the
annotation that points at the wrong IP or subnet, with the exact fix. Errors older than the Service's newest
successful sync are history: still shown, at info, so a Service that recovered does not fail the run.
lb.public-ip-config and lb.ilb-subnet are registered in their own modules, which add what Azure itself shows
to the findings `provider_findings` draws from the events.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.errors import AzureError, classify
from aksdoctor.azure.resources import resource_group_of
from aksdoctor.checks.base import (
    NotApplicable,
    ServiceContext,
    Skipped,
    check,
    event_evidence,
    field_evidence,
    log_evidence,
)
from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import LogLine
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.sources.base import ClusterMeta

LOG_EVIDENCE_CAP = 2  # log lines cited per finding next to the newest event
MESSAGE_CAP = 400  # characters of Azure's message repeated in a cause (the evidence keeps all of it)


# ---- reading one Service's errors (shared with lb.pending) ----------------------------------------------


@functools.cache
def _event_knowledge() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(components, reasons, resolving reasons) of load-balancer events, from error_codes.yaml."""
    data = knowledge.load("error_codes")["service_events"]
    return frozenset(data["components"]), frozenset(data["reasons"]), frozenset(data["resolved_by"])


def is_lb_event(event: Mapping[str, Any]) -> bool:
    """An event the service controller or the Azure provider wrote about a load balancer."""
    components, reasons, _ = _event_knowledge()
    return event.get("reason") in reasons or (event.get("source") or {}).get("component") in components


@dataclass(frozen=True)
class Sighting:
    """One classified error and where it was seen: an event (with its count) or a controller log line."""

    error: AzureError
    evidence: Evidence
    when: datetime | None
    count: int
    is_event: bool
    neighbours: tuple[AzureError, ...]  # every error classified from the same text, this one included


@dataclass(frozen=True)
class ServiceErrors:
    """What the provider reported about one Service: classified errors and the raw load-balancer trail."""

    sightings: tuple[Sighting, ...]  # newest first; undated log lines last
    resolved_at: datetime | None  # newest EnsuredLoadBalancer
    lb_events: tuple[Mapping[str, Any], ...]  # load-balancer events, Normal and Warning, newest first
    log_lines: tuple[LogLine, ...]  # controller log lines naming the Service, in log order
    logs_read: bool  # False when the controller logs were not available

    def resolved(self, when: datetime | None) -> bool:
        return bool(self.resolved_at and when and when < self.resolved_at)

    def current(self) -> list[Sighting]:
        return [s for s in self.sightings if not self.resolved(s.when)]


def service_errors(ctx: ServiceContext) -> ServiceErrors:
    """The Service's classified provider errors, computed once per Service for the whole family."""
    return ctx.facts.derived(f"provider-errors:{ctx.key}", lambda: _read_service_errors(ctx))


def _read_service_errors(ctx: ServiceContext) -> ServiceErrors:
    known: dict[str, tuple[AzureError, ...]] = ctx.facts.derived("provider-error-texts", dict)

    def classified(text: str) -> tuple[AzureError, ...]:
        """The same message is often written for many Services: classify each distinct text once per run."""
        if text not in known:
            known[text] = tuple(classify(text))
        return known[text]

    lb_events = [e for e in ctx.events if is_lb_event(e)]
    resolving = _event_knowledge()[2]
    resolved_at = max(
        (t for e in lb_events if e.get("reason") in resolving and (t := kube.event_time(e))),
        default=None,
    )
    sightings: list[Sighting] = []
    for event in lb_events:
        if event.get("type") != "Warning":
            continue
        errors = classified(event.get("message") or "")
        evidence = event_evidence(event)
        when = kube.event_time(event)
        count = int(event.get("count") or 1)
        sightings.extend(Sighting(e, evidence, when, count, True, errors) for e in errors)
    try:
        lines = tuple(ctx.log_lines)
        logs_read = True
    except FactUnavailable:
        lines, logs_read = (), False
    now = ctx.fact_or("now")
    for line in lines:
        errors = classified(line.text)
        if errors:
            when = log_time(line.text, now)
            sightings.extend(Sighting(e, log_evidence(line), when, 1, False, errors) for e in errors)
    sightings.sort(key=lambda s: (s.when is not None, s.when or _NEVER), reverse=True)
    return ServiceErrors(tuple(sightings), resolved_at, tuple(lb_events), lines, logs_read)


_NEVER = datetime.min
# A leading RFC 3339 time (`kubectl logs --timestamps`), else the klog header (`E1127 09:58:00.123456 ...`).
_KLOG_TIME = re.compile(r"^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)")
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s")


def log_time(text: str, now: datetime | None) -> datetime | None:
    """When a controller log line was written; klog omits the year, so it is the latest one not after `now`."""
    m = _RFC3339.match(text)
    if m:
        return kube.parse_time(m.group(1))
    m = _KLOG_TIME.match(text)
    if not m or now is None:
        return None
    month, day, hour, minute, second = map(int, m.groups())
    for year in (now.year, now.year - 1):
        try:
            when = now.replace(year=year, month=month, day=day, hour=hour, minute=minute, second=second, microsecond=0)
        except ValueError:
            continue
        if when <= now:
            return when
    return None


# ---- the family ------------------------------------------------------------------------------------------

Advice = tuple[str, Sequence[Evidence], Fix]  # cause detail, extra evidence, fix


@dataclass(frozen=True)
class _Entry:
    """Catalog entry of a family member registered in this module."""

    title: str
    severity: str
    fix_action: str | None
    docs: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class _Spec:
    """One family member: the classifier categories it owns and how it turns them into advice.

    `entry` is None for members registered by their own module (lb.public-ip-config, lb.ilb-subnet), which add
    Azure-side findings to these and call `provider_findings`.
    """

    id: str
    categories: frozenset[str]
    advise: Callable[[ServiceContext, AzureError, Sighting], Advice]
    entry: _Entry | None


# What a check reading provider errors declares: `events` is what it needs, the rest improve the findings.
EVENT_FACTS = ("events", "provider_logs", "cluster", "now")


def _register(spec: _Spec, entry: _Entry) -> None:
    def run(ctx: ServiceContext) -> Iterator[Finding]:
        return _findings(spec, ctx)

    run.__doc__ = entry.description
    check(
        id=spec.id,
        title=entry.title,
        severity=entry.severity,
        scope="service",
        needs=("services", "events"),
        optional=EVENT_FACTS[1:],
        docs=entry.docs,
        fix_action=entry.fix_action,
    )(run)


def provider_findings(ctx: ServiceContext, check_id: str) -> list[Finding]:
    """A family member's findings from this Service's events and controller log lines.

    Raises FactUnavailable when the events cannot be read. The check calling this must declare EVENT_FACTS.
    """
    return list(_findings(_BY_ID[check_id], ctx))


def with_azure_side(
    ctx: ServiceContext, check_id: str, azure_side: Callable[[ServiceContext], Iterable[Finding]]
) -> list[Finding]:
    """The event findings of `check_id` plus what `azure_side` finds in Azure's own resources.

    Each part copes without its facts: the check is skipped only when the events cannot be read and the Azure side
    cannot look either (its facts unavailable) or does not apply (NotApplicable: then the events were the only way
    to see a problem).
    """
    found: list[Finding] = []
    blind: list[str] = []
    try:
        found += provider_findings(ctx, check_id)
    except FactUnavailable as exc:
        blind.append(exc.reason)
    try:
        found += azure_side(ctx)
    except FactUnavailable as exc:
        blind.append(exc.reason)
    except NotApplicable:
        if blind:
            raise Skipped(blind[0]) from None
    if len(blind) == 2:
        raise Skipped("; ".join(blind))
    return found


def _findings(spec: _Spec, ctx: ServiceContext) -> Iterator[Finding]:
    errors = service_errors(ctx)
    groups: dict[tuple[str, str, str], list[Sighting]] = {}
    for s in errors.sightings:
        if s.error.category in spec.categories:
            groups.setdefault(_group_key(s.error), []).append(s)
    for group in groups.values():
        yield _finding(spec, ctx, errors, group)


def _group_key(err: AzureError) -> tuple[str, str, str]:
    """One finding per code and the thing it is about (scope and action, quota, operation group)."""
    about = err.linked_scope or err.scope or err.quota or err.operation_group or ""
    return err.code, about.lower(), (err.linked_action or err.action or "").lower()


def _finding(spec: _Spec, ctx: ServiceContext, errors: ServiceErrors, group: list[Sighting]) -> Finding:
    newest = group[0]
    detail, extra, fix = spec.advise(ctx, newest.error, newest)
    events = {s.evidence: s for s in group if s.is_event}
    logs = [s for s in group if not s.is_event]
    times = sum(s.count for s in events.values()) + len(logs)
    seen = [f"{len(events)} event(s)"] if events else []
    seen += [f"{len(logs)} controller log line(s)"] if logs else []
    cause = f"{detail} Seen {times} time(s) in {' and '.join(seen)}"
    cause += f", last at {kube.format_time(newest.when)}." if newest.when else "."
    also = sorted({OWNER[e.category] for e in newest.neighbours if OWNER.get(e.category, spec.id) != spec.id})
    if also:
        cause += f" The same message also reports another cause: see {', '.join(also)}."
    severity: Severity | None = None
    if errors.resolved_at and errors.resolved(newest.when):
        severity = Severity.INFO
        cause += (
            f" Resolved since {kube.format_time(errors.resolved_at)}: the load balancer was ensured after this "
            "error, so it is history unless it comes back."
        )
    evidence = [s.evidence for s in group if s.is_event][:1]
    evidence += [s.evidence for s in logs[:LOG_EVIDENCE_CAP]]
    return ctx.finding(cause, [*evidence, *extra], fix=fix, severity=severity)


# ---- shared wording and command pieces -------------------------------------------------------------------


def _cmd(words: str, *args: object, **flags: object) -> str:
    """`words` (fixed text, no values) then each argument and `--flag value` pair, every value shell-quoted."""
    values = [*args, *(x for flag, value in flags.items() for x in (_Flag(flag), value))]
    return " ".join([words, *(_quote(v) for v in values)])


class _Flag(str):
    """A keyword argument of `_cmd` turned into its option: resource_group -> --resource-group."""


def _quote(value: object) -> str:
    if isinstance(value, _Flag):
        return "--" + value.replace("_", "-")
    return shell.command(value)


@functools.cache
def _signature_ids() -> frozenset[str]:
    return frozenset(s["id"] for s in knowledge.load("error_codes")["signatures"])


def _is_signature(err: AzureError) -> bool:
    """A provider-side message matched by its wording: its "message" is just the log or event line."""
    return err.code in _signature_ids()


def _said(err: AzureError) -> str:
    """Azure's own message for an ARM or Entra ID error (the evidence holds the full text either way)."""
    if not err.message or _is_signature(err):
        return ""
    text = err.message if len(err.message) <= MESSAGE_CAP else err.message[:MESSAGE_CAP] + "..."
    return f' Azure says: "{text}"'


def _code(err: AzureError) -> str:
    return f"{err.code} (HTTP {err.http_status})" if err.http_status and not _is_signature(err) else err.code


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _resource_group_scope(resource_id: str) -> str | None:
    """`/subscriptions/S/resourceGroups/RG` of an id at or below a resource group."""
    m = re.match(r"(/subscriptions/[^/]+/resourceGroups/[^/]+)", resource_id, re.I)
    return m.group(1) if m else None


def _placeholder(value: str | None, name: str) -> str:
    return value or f"<{name}>"


def _service_fields(svc: Mapping[str, Any], keys: Iterable[str]) -> list[tuple[str, str, Evidence]]:
    """(short name, value, evidence) of each annotation / spec field in `keys` the Service sets."""
    out = []
    annotations = kube.annotations(svc)
    for key in keys:
        if key.startswith("spec."):
            value = kube.spec(svc).get(key[5:])
            path = key
        else:
            value = annotations.get(key)
            path = f"metadata.annotations[{key}]"
        if value is not None:
            out.append((key.removeprefix(mapping.PREFIX), str(value), field_evidence("Service", svc, path, value)))
    return out


def _sets_text(found: Sequence[tuple[str, str, Evidence]]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value, _ in found)


# ---- lb.auth-failed --------------------------------------------------------------------------------------

_RESET_CODES = frozenset({"AADSTS7000222", "AADSTS7000215", "AADSTS7000216", "adal-refresh-401"})


def _advise_auth(ctx: ServiceContext, err: AzureError, _: Sighting) -> Advice:
    who = f" (app {err.principal})" if err.principal else ""
    detail = f"The cloud provider identity{who} cannot sign in to Azure: {_code(err)}: {err.meaning}.{_said(err)}"
    if err.code in _RESET_CODES:
        return detail, (), _reset_sp_fix(err, ctx.cluster_meta())
    if err.code == "identity-not-found":
        return detail, (), _identity_fix(ctx.cluster_meta())
    return detail, (), Fix(_sentence(err.fix))


def _reset_sp_fix(err: AzureError, meta: ClusterMeta) -> Fix:
    """domain §4.3: a new secret for the SP, handed to the cluster."""
    rg, name = _placeholder(meta.resource_group, "resource-group"), _placeholder(meta.name, "cluster-name")
    commands = []
    app: object = err.principal
    if not app:
        show = _cmd("az aks show", resource_group=rg, name=name, query="servicePrincipalProfile.clientId", output="tsv")
        commands.append(f"SP_ID=$({show})")
        app = shell.Var("SP_ID")
    reset = _cmd("az ad app credential reset", id=app, query="password", output="tsv")
    commands.append(f"SP_SECRET=$({reset})")
    commands.append(
        _cmd(
            "az aks update-credentials --reset-service-principal",
            resource_group=rg,
            name=name,
            service_principal=app,
            client_secret=shell.Var("SP_SECRET"),
        )
    )
    summary = "Give the service principal a new client secret and hand it to the cluster"
    if err.code == "AADSTS7000215":
        summary += " (the configured secret is wrong: often the secret ID was pasted instead of its value)"
    summary += (
        ". On AKS update-credentials rolls the nodes; on a self-managed cluster put the new secret in "
        "aadClientSecret of /etc/kubernetes/azure.json (or the kube-system/azure-cloud-provider secret) and restart "
        "the cloud-controller-manager. A managed identity (az aks update --enable-managed-identity) has no secret "
        "to expire."
    )
    return Fix(summary, tuple(commands), "reset-sp-credential")


def _identity_fix(meta: ClusterMeta) -> Fix:
    rg = _placeholder(meta.node_resource_group, "node-resource-group")
    return Fix(
        "Attach the user-assigned identity the cloud config names to the node scale sets, or set "
        "userAssignedIdentityID in azure.json to the client id of an attached identity (required when several "
        "are attached).",
        (
            _cmd("az vmss identity show", resource_group=rg, name="<vmss-name>"),
            _cmd("az vmss identity assign", resource_group=rg, name="<vmss-name>", identities="<identity-resource-id>"),
        ),
    )


# ---- lb.permission-denied --------------------------------------------------------------------------------

_POLICY_ASSIGNMENT = re.compile(
    r"(?:/subscriptions/[^\s'\"\\,}]*?|/providers/Microsoft\.Management/managementGroups/[^\s'\"\\,}/]+)?"
    r"/providers/Microsoft\.Authorization/policyAssignments/[^\s'\"\\,}]+",
    re.I,
)


def _advise_permission(ctx: ServiceContext, err: AzureError, seen: Sighting) -> Advice:
    if err.category == "policy":
        return _advise_policy(ctx, err, seen)
    if err.category == "lock":
        return _advise_lock(err)
    ids = [f"client {err.principal}"] if err.principal else []
    ids += [f"object id {err.object_id}"] if err.object_id else []
    who = "The cloud provider identity" + (f" ({', '.join(ids)})" if ids else "")
    if err.linked_scope:
        action, scope = err.linked_action, err.linked_scope
        detail = (
            f"{who} may perform {err.action} on {err.scope} but lacks {action} on the linked scope {scope} "
            f"({err.code}): {err.meaning}."
        )
    else:
        action, scope = err.action, err.scope
        detail = f"{who} lacks {action or 'an action'} on scope {scope or '(not in the message)'} ({err.code})."
    role = _role_for(action)
    assignee = (
        {"assignee_object_id": err.object_id, "assignee_principal_type": "ServicePrincipal"}
        if err.object_id
        else {"assignee": _placeholder(err.principal, "cluster-identity-client-id")}
    )
    command = _cmd("az role assignment create", **assignee, role=role, scope=_placeholder(scope, "scope"))
    summary = f"Grant {role} to the cloud provider identity on {scope or 'the scope in the message'}"
    group = _resource_group_scope(scope or "")
    if group and scope and group.lower() != scope.lower():
        summary += f" (or on its resource group {group}, which covers the other resources the provider uses there)"
    summary += (
        ". With a managed identity the role goes on the cluster (control-plane) identity, not the kubelet identity. "
        "Role assignments take a few minutes to apply; the provider then retries by itself."
    )
    return detail, (), Fix(summary, (command,), "grant-network-role")


@functools.cache
def _roles() -> tuple[dict[str, str], str]:
    data = knowledge.load("error_codes")
    return {k.lower(): v for k, v in data["roles_by_namespace"].items()}, data["roles_default"]


def _role_for(action: str | None) -> str:
    by_namespace, default = _roles()
    return by_namespace.get((action or "").split("/", 1)[0].lower(), default)


def _advise_policy(ctx: ServiceContext, err: AzureError, seen: Sighting) -> Advice:
    m = _POLICY_ASSIGNMENT.search(err.message) or _POLICY_ASSIGNMENT.search(seen.evidence.detail.replace("\\", ""))
    assignment = m.group() if m else None
    meta = ctx.cluster_meta()
    scope = _resource_group_scope(err.resource_id or "") or (
        f"/subscriptions/{meta.subscription_id}/resourceGroups/{meta.node_resource_group}"
        if meta.subscription_id and meta.node_resource_group
        else "<node-resource-group-id>"
    )
    detail = f"An Azure Policy assignment denied the provider's request ({_code(err)}).{_said(err)}"
    if assignment:
        detail += f" Assignment: {assignment}."
    command = _cmd(
        "az policy exemption create",
        name=f"k8s-lb-{kube.name(ctx.service)}",
        policy_assignment=_placeholder(assignment, "policy-assignment-id"),
        exemption_category="Waiver",
        scope=scope,
    )
    summary = (
        "Make the Service comply with the policy (e.g. an internal load balancer where public IPs are denied), or "
        "ask the policy owner for an exemption on the node resource group."
    )
    return detail, (), Fix(summary, (command,))


def _advise_lock(err: AzureError) -> Advice:
    rg = resource_group_of(err.scope or "")
    target = f" on {err.resource_id}" if err.resource_id else ""
    detail = (
        f"A management lock on {err.scope or 'a parent scope'} blocks the provider's change{target} ({_code(err)})."
    )
    listing = {"resource_group": rg} if rg else {}
    commands = (_cmd("az lock list", **listing, output="table"), _cmd("az lock delete", name="<lock-name>", **listing))
    summary = (
        "Remove the lock (or move it off the node resource group): the provider cannot change or delete "
        "load-balancer resources under a ReadOnly or CanNotDelete lock."
    )
    return detail + _said(err), (), Fix(summary, commands)


# ---- lb.quota-exceeded -----------------------------------------------------------------------------------

_UNATTACHED_PIPS = (
    "[?ipConfiguration==null && natGateway==null]"
    '.{name:name, resourceGroup:resourceGroup, ip:ipAddress, service:tags."k8s-azure-service"}'
)


def _advise_quota(ctx: ServiceContext, err: AzureError, _: Sighting) -> Advice:
    meta = ctx.cluster_meta()
    limit = f" (limit {err.limit})" if err.limit else ""
    what = err.quota if err.quota and err.quota != err.code else err.code
    detail = f"An Azure limit is exhausted: {what}{limit}: {err.meaning}.{_said(err)}"
    nrg = _placeholder(meta.node_resource_group, "node-resource-group")
    usages = _cmd("az network list-usages", location=_placeholder(meta.location, "location"), output="table")
    code = err.code.lower()
    if "publicip" in code:
        orphans = _cmd("az network public-ip list", query=_UNATTACHED_PIPS, output="table")
        summary = (
            "Delete public IPs nothing uses any more (the list shows unattached ones and the Service that created "
            "them), or request a higher Public IP quota for the region (Usage + quotas, Networking)."
        )
        return detail, (), Fix(summary, (usages, orphans), "delete-orphaned-ips")
    if "frontendipconfiguration" in code:
        lb = "kubernetes-internal" if mapping.is_internal(ctx.service) else "kubernetes"
        command = _cmd("az network lb frontend-ip list", resource_group=nrg, lb_name=lb, output="table")
        return detail, (), Fix(_sentence(err.fix), (command,))
    if code == "nsg-priorities-exhausted":
        query = "[].{name:name, rules:length(securityRules)}"
        command = _cmd("az network nsg list", resource_group=nrg, query=query, output="table")
        return detail, (), Fix(_sentence(err.fix), (command,))
    if code == "lb-rule-limit":
        return detail, (), Fix(_sentence(err.fix))
    return detail, (), Fix(_sentence(err.fix), (usages,))


# ---- lb.throttled ----------------------------------------------------------------------------------------


def _advise_throttle(ctx: ServiceContext, err: AzureError, _: Sighting) -> Advice:
    parts = [f"operation group {err.operation_group}"] if err.operation_group else []
    parts += [f"limit {err.limit} requests"] if err.limit else []
    parts += [f"retry after {err.retry_after:g}s"] if err.retry_after else []
    extra = f" ({', '.join(parts)})" if parts else ""
    detail = f"Azure throttled the provider's calls while syncing this Service: {_code(err)}{extra}: {err.meaning}."
    if err.wrapper == "provider":
        advice = "The provider is holding back on its own (client-side limit or a remembered Retry-After). "
    elif (err.operation_group or "").lower().startswith("highcost"):
        advice = "The Compute RP throttles VM scale set reads for the whole subscription and region. "
    else:
        advice = ""
    summary = (
        f"{advice}{_sentence(err.fix)} The sync is retried after the wait; arm.throttling shows the cluster-wide "
        "picture."
    )
    return detail, (), Fix(summary)


# ---- lb.public-ip-config ---------------------------------------------------------------------------------

_PIP_FIELDS = (
    mapping.PIP_NAME[False],
    mapping.PIP_NAME[True],
    mapping.LB_IP[False],
    mapping.LB_IP[True],
    "spec.loadBalancerIP",
    mapping.RESOURCE_GROUP,
    mapping.PIP_PREFIX_ID[False],
)
_DNS_COLUMNS = '{name:name, resourceGroup:resourceGroup, service:tags."k8s-azure-dns-label-service"}'
_PIP_COLUMNS = "{name:name, resourceGroup:resourceGroup, ip:ipAddress, sku:sku.name, attachedTo:ipConfiguration.id}"


def _advise_public_ip(ctx: ServiceContext, err: AzureError, _: Sighting) -> Advice:
    svc = ctx.service
    ns, name = kube.namespace(svc), kube.name(svc)
    label_err = err.category == "dns-label"
    found = _service_fields(svc, (mapping.DNS_LABEL,) if label_err else _PIP_FIELDS)
    detail = f"{_code(err)}: {err.meaning}.{_said(err)}"
    if found:
        detail += f" The Service sets {_sets_text(found)}."
    elif not label_err:
        detail += (
            " The Service sets none of the public IP annotations (azure-pip-name, azure-load-balancer-ipv4, "
            "spec.loadBalancerIP)."
        )
    values = {key.removeprefix(mapping.PREFIX): value for key, value, _ in found}
    commands = []
    if label_err:
        label = values.get("azure-dns-label-name", "")
        query = f"[?dnsSettings.domainNameLabel==`{json.dumps(label)}`].{_DNS_COLUMNS}"
        if label and err.code != "InvalidDomainNameLabel":
            commands.append(_cmd("az network public-ip list", query=query, output="table"))
        commands.append(
            _cmd("kubectl annotate service", name, f"{mapping.DNS_LABEL}=<label>", "--overwrite", namespace=ns)
        )
    else:
        rg = values.get("azure-load-balancer-resource-group") or ctx.cluster_meta().node_resource_group
        ip = values.get("azure-load-balancer-ipv4") or values.get("spec.loadBalancerIP")
        if "azure-pip-name" in values:
            pip = values["azure-pip-name"]
            rg = _placeholder(rg, "resource-group")
            commands.append(
                _cmd("az network public-ip show", resource_group=rg, name=pip, query=_PIP_COLUMNS, output="table")
            )
        elif ip:
            # The whole subscription: the IP may exist, only in another resource group than the provider looked in.
            query = f"[?ipAddress==`{json.dumps(ip)}`].{_PIP_COLUMNS}"
            commands.append(_cmd("az network public-ip list", query=query, output="table"))
    return detail, [e for _, _, e in found], Fix(_sentence(err.fix), tuple(commands))


# ---- lb.ilb-subnet ---------------------------------------------------------------------------------------

_SUBNET_ID = re.compile(
    r"/resourceGroups/([^/]+)/providers/Microsoft\.Network/virtualNetworks/([^/]+)/subnets/([^/\s]+)", re.I
)
_SUBNET_IN_MESSAGE = re.compile(r"failed to get subnet: ([\w.-]+)/([\w.-]+)")


def _advise_subnet(ctx: ServiceContext, err: AzureError, seen: Sighting) -> Advice:
    found = _service_fields(
        ctx.service, (mapping.INTERNAL, mapping.INTERNAL_SUBNET, mapping.LB_IP[False], "spec.loadBalancerIP")
    )
    detail = f"{_code(err)}: {err.meaning}.{_said(err)}"
    if found:
        detail += f" The Service sets {_sets_text(found)}."
    annotated = kube.annotations(ctx.service).get(mapping.INTERNAL_SUBNET)
    if annotated is None:
        detail += " It has no azure-load-balancer-internal-subnet annotation, so the cloud config's subnetName is used."
    rg = vnet = None
    subnet = annotated or None
    m = _SUBNET_ID.search(" ".join(filter(None, (err.resource_id, err.scope, err.message))))
    if m:
        rg, vnet, subnet = m.groups()
    elif mm := _SUBNET_IN_MESSAGE.search(seen.evidence.detail):
        vnet, subnet = mm.groups()
    query = "{prefix:addressPrefix, prefixes:addressPrefixes, used:length(ipConfigurations || `[]`)}"
    command = _cmd(
        "az network vnet subnet show",
        resource_group=_placeholder(rg, "vnet-resource-group"),
        vnet_name=_placeholder(vnet, "vnet-name"),
        name=_placeholder(subnet, "subnet-name"),
        query=query,
        output="table",
    )
    return detail, [e for _, _, e in found], Fix(_sentence(err.fix), (command,))


# ---- the table -------------------------------------------------------------------------------------------

_PERMISSIONS_DOC = "https://cloud-provider-azure.sigs.k8s.io/topics/azure-permissions/"
SPECS: tuple[_Spec, ...] = (
    _Spec(
        "lb.auth-failed",
        frozenset({"auth"}),
        _advise_auth,
        _Entry(
            "Cloud provider identity cannot sign in to Azure",
            "critical",
            "reset-sp-credential",
            (
                "https://learn.microsoft.com/en-us/azure/aks/update-credentials",
                "https://cloud-provider-azure.sigs.k8s.io/install/configs/",
            ),
            "Expired or wrong service principal secrets, missing identities and empty cloud configs stop every "
            "load balancer of the cluster: the provider cannot get a token at all.",
        ),
    ),
    _Spec(
        "lb.permission-denied",
        frozenset({"permission", "policy", "lock"}),
        _advise_permission,
        _Entry(
            "Cloud provider identity is not allowed to change Azure resources",
            "error",
            "grant-network-role",
            (
                _PERMISSIONS_DOC,
                "https://learn.microsoft.com/en-us/azure/aks/kubernetes-service-principal",
                "https://learn.microsoft.com/en-us/azure/aks/use-managed-identity",
            ),
            "A missing role (often on a VNet, IP or resource group outside the node resource group), a deny policy "
            "or a management lock makes Azure refuse the provider's calls: who, which action, which scope.",
        ),
    ),
    _Spec(
        "lb.quota-exceeded",
        frozenset({"quota"}),
        _advise_quota,
        _Entry(
            "Azure quota or load balancer limit reached",
            "error",
            "delete-orphaned-ips",
            (
                "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/azure-subscription-service-limits",
                "https://learn.microsoft.com/en-us/azure/networking/check-usage-against-limits",
            ),
            "Public IP quotas, frontend IP configuration and rule limits, and exhausted NSG priorities stop new "
            "frontends; orphaned public IPs are the usual reason the quota is gone.",
        ),
    ),
    _Spec(
        "lb.throttled",
        frozenset({"throttle"}),
        _advise_throttle,
        _Entry(
            "Azure throttled the load balancer sync",
            "warning",
            None,
            (
                "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling",
                "https://learn.microsoft.com/en-us/troubleshoot/azure/azure-kubernetes/429-too-many-requests-errors",
            ),
            "A throttled sync is retried, but delays every change of this Service until the subscription's "
            "request budget refills.",
        ),
    ),
    # Registered by checks/lb_public_ip_config.py and checks/lb_ilb_subnet.py, which add the Azure side.
    _Spec("lb.public-ip-config", frozenset({"public-ip", "dns-label"}), _advise_public_ip, None),
    _Spec("lb.ilb-subnet", frozenset({"ilb-subnet", "subnet"}), _advise_subnet, None),
)
_BY_ID: dict[str, _Spec] = {spec.id: spec for spec in SPECS}
OWNER: dict[str, str] = {category: spec.id for spec in SPECS for category in spec.categories}

for _spec in SPECS:
    if _spec.entry:
        _register(_spec, _spec.entry)
