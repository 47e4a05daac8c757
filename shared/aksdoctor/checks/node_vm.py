"""A node is only as good as the Azure VM behind it: a deleted VM leaves a stale Node object, and a stopped, failed
or agent-less VM serves no traffic while the backend pool keeps probing it.

Each node's providerID names its VM; the VM lists (VMSS instances and VMs with their instance view, listed once per
resource group) say whether it exists and in which state. A node whose resource group was not listed is "cannot
tell", never "missing".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import providerid as pid
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.checks._nodes import EVIDENCE_CAP, nodes_resource, require_nodes
from aksdoctor.checks.base import CheckContext, Skipped, check, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.text import NAME_CAP, names_text

VM_FACTS = {"vmss": "azure_vmss_vms", "vm": "azure_virtual_machines"}
NEEDS = ("nodes",)
OPTIONAL = ("azure_scope", *VM_FACTS.values())
SPOT_LABEL = ("kubernetes.azure.com/scalesetpriority", "spot")
MISSING_DOCS = (
    "https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller",
    "https://learn.microsoft.com/en-us/troubleshoot/azure/azure-kubernetes/node-not-ready-basic-troubleshooting",
)
UNHEALTHY_DOCS = (
    "https://learn.microsoft.com/en-us/azure/virtual-machines/states-billing",
    "https://learn.microsoft.com/en-us/troubleshoot/azure/azure-kubernetes/node-not-ready-basic-troubleshooting",
)


# ---- shared: which VM each node names, and whether its group was listed -----------------------------------------


@dataclass(frozen=True)
class _Listing:
    """One VM list: records by lower-case ARM id, the (subscription, resource group) pairs it covers, why not read."""

    by_id: Mapping[str, Mapping[str, Any]]
    groups: frozenset[tuple[str, str]]
    reason: str = ""
    spelled: Mapping[str, str] = field(default_factory=dict)  # lower-case resource group -> as ARM spells it


@dataclass(frozen=True)
class _NodeVm:
    node: Mapping[str, Any]
    pid: pid.ProviderId
    vm: Mapping[str, Any] | None  # None: not in the list
    listed: bool  # the node's resource group was listed, so "not in the list" means "does not exist"


def _sub_rg(resource_id: str) -> tuple[str, str]:
    parts = resource_id.lower().strip("/").split("/")
    sub = parts[1] if len(parts) > 1 and parts[0] == "subscriptions" else ""
    rg = parts[3] if len(parts) > 3 and parts[2] == "resourcegroups" else ""
    return sub, rg


def _listing(ctx: CheckContext, fact_name: str) -> _Listing:
    try:
        vms = ctx.fact(fact_name)
    except FactUnavailable as exc:
        return _Listing({}, frozenset(), exc.reason)
    scope = ctx.fact("azure_scope")  # read already: every Azure list needs it
    groups = {(scope.subscription_id.lower(), rg.lower()) for rg in scope.resource_groups}
    groups.update(_sub_rg(str(vm.get("id", ""))) for vm in vms)
    spelled = {rg.lower(): rg for rg in scope.resource_groups}
    return _Listing({str(vm.get("id", "")).lower(): vm for vm in vms}, frozenset(groups), "", spelled)


def _node_vms(ctx: CheckContext) -> tuple[list[_NodeVm], dict[str, _Listing]]:
    """Every Azure node with its VM record (when listed), and the listings by providerID kind."""

    def build() -> tuple[list[_NodeVm], dict[str, _Listing]]:
        listings = {kind: _listing(ctx, fact) for kind, fact in VM_FACTS.items()}
        out = []
        for node in require_nodes(ctx):
            parsed = pid.parse_provider_id(pid.provider_id(node))
            if parsed is None:
                continue  # not an Azure VM: node.not-cloud-initialized says why
            listing = listings[parsed.kind]
            listed = (
                not listing.reason and (parsed.subscription.lower(), parsed.resource_group.lower()) in listing.groups
            )
            out.append(_NodeVm(node, parsed, listing.by_id.get(parsed.normalized_id), listed))
        return out, listings

    return ctx.facts.derived("node-vms", build)


def _unreadable(listings: Mapping[str, _Listing], kinds: set[str]) -> str:
    reasons = [listings[k].reason for k in sorted(kinds) if listings[k].reason]
    return "; ".join(dict.fromkeys(reasons)) or "the nodes' resource groups were not listed"


def _where(p: pid.ProviderId) -> str:
    """How evidence names a node's VM."""
    if p.kind == "vmss":
        return f"virtualMachineScaleSets/{p.scale_set} instance {p.instance_id} ({p.resource_group})"
    return f"virtualMachines/{p.vm_name} ({p.resource_group})"


def _ready_evidence(node: Mapping[str, Any]) -> Evidence:
    cond = kube.node_condition(node, "Ready") or {}
    text = cond.get("status") or "<absent>"
    if cond.get("reason") or cond.get("message"):
        text += f" ({': '.join(str(x) for x in (cond.get('reason'), cond.get('message')) if x)})"
    return field_evidence("Node", node, "status.conditions[Ready]", text)


def _rg_of(item: _NodeVm, listing: _Listing) -> str:
    """The resource group as ARM spells it (providerIDs from IMDS are lower-cased), for commands."""
    if item.vm is not None:
        return resource_group_of(str(item.vm.get("id", ""))) or item.pid.resource_group
    return listing.spelled.get(item.pid.resource_group.lower(), item.pid.resource_group)


# ---- node.vm-missing ----------------------------------------------------------------------------------------


@check(
    id="node.vm-missing",
    title="Node's Azure VM no longer exists",
    severity="error",
    scope="cluster",
    needs=NEEDS,
    optional=OPTIONAL,
    docs=MISSING_DOCS,
    also_in_lb=True,
)
def run_missing(ctx: CheckContext) -> Iterator[Finding]:
    items, listings = _node_vms(ctx)
    judged = [i for i in items if i.listed]
    if not judged:
        if not items:
            raise Skipped("no node has an Azure providerID")
        raise Skipped(f"cannot tell whether the nodes' VMs exist: {_unreadable(listings, {i.pid.kind for i in items})}")
    missing = [i for i in judged if i.vm is None]
    if not missing:
        return
    instances = _instances_by_scale_set(listings["vmss"])
    names = [kube.name(i.node) for i in missing]
    ready = [kube.name(i.node) for i in missing if (kube.node_condition(i.node, "Ready") or {}).get("status") == "True"]
    cause = (
        f"{len(missing)} node(s) ({names_text(names)}) name Azure VMs that do not exist in the VM lists of their "
        "resource groups: the VM was deleted (scale-in, manual delete, a failed node pool operation) but the Node "
        "object stayed. The cloud node lifecycle controller normally deletes such nodes; cloud-provider-azure "
        'cannot put them in backend pools ("instance not found") and pods bound to them never run.'
    )
    if ready:
        cause += (
            f" Still Ready: {names_text(ready)}. Check that their providerID names the right VM before deleting "
            "anything."
        )
    unjudged = len(items) - len(judged)
    if unjudged:
        cause += f" {unjudged} other node(s) are in resource groups that were not listed and were not judged."
    evidence: list[Evidence] = []
    for item in missing[:EVIDENCE_CAP]:
        evidence.append(field_evidence("Node", item.node, "spec.providerID", item.pid.raw))
        evidence.append(_ready_evidence(item.node))
        evidence.append(Evidence("Azure", _where(item.pid), _absence(item.pid, instances)))
    fix = _missing_fix(missing, names, listings)
    yield ctx.finding(cause, evidence, fix=fix, resource=nodes_resource(ctx, [i.node for i in missing]))


def _instances_by_scale_set(listing: _Listing) -> dict[tuple[str, str, str], list[str]]:
    out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for vm_id in listing.by_id:
        parsed = pid.parse_provider_id(pid.SCHEME + vm_id)
        if parsed and parsed.kind == "vmss":
            out[(parsed.subscription, parsed.resource_group, parsed.scale_set)].append(parsed.instance_id)
    return out


def _absence(p: pid.ProviderId, instances: Mapping[tuple[str, str, str], list[str]]) -> str:
    if p.kind == "vm":
        return f"no VM named {p.vm_name} in resource group {p.resource_group}"
    listed = sorted(instances.get((p.subscription.lower(), p.resource_group.lower(), p.scale_set.lower()), ()), key=int)
    if not listed:
        return f"scale set {p.scale_set} has no instances in resource group {p.resource_group} (deleted or empty)"
    return f"no instance {p.instance_id}; instances listed: {names_text(listed)}"


_INSTANCES = "[].{instance:instanceId, computerName:osProfile.computerName, state:provisioningState}"


def _missing_fix(missing: Sequence[_NodeVm], names: Sequence[str], listings: Mapping[str, _Listing]) -> Fix:
    confirm: list[str] = []
    for item in missing:
        rg = _rg_of(item, listings[item.pid.kind])
        if item.pid.kind == "vmss":
            cmd = shell.command(
                "az", "vmss", "list-instances", "-g", rg, "-n", item.pid.scale_set, "--query", _INSTANCES, "-o", "table"
            )
        else:
            cmd = shell.command("az", "vm", "list", "-g", rg, "--query", "[].name", "-o", "tsv")
        if cmd not in confirm:
            confirm.append(cmd)
    more = f" (then the other {len(names) - NAME_CAP})" if len(names) > NAME_CAP else ""
    return Fix(
        "Confirm in Azure that the VM is gone, then delete the stale Node object" + more + ". Caveat: deleting a "
        "Node deletes the pods bound to it (their controllers recreate them elsewhere); if the VM still exists "
        "under another name or resource group, the providerID is wrong instead: re-register that node.",
        (*confirm[:3], shell.command("kubectl", "delete", "node", *names[:NAME_CAP])),
    )


# ---- node.vm-unhealthy --------------------------------------------------------------------------------------

FAILED, STOPPED, SPOT, TRANSITION, AGENT = "failed", "stopped", "spot", "transition", "agent"
_STOPPED_STATES = frozenset({"stopped", "stopping", "deallocated", "deallocating"})
_SEVERITY = {FAILED: "error", STOPPED: "error", SPOT: "warning", TRANSITION: "warning", AGENT: "warning"}
_CAUSES = {
    FAILED: (
        "have VMs whose provisioning failed: the last model or extension update did not complete, so the VM may "
        "not run the kubelet or the node configuration the pool expects."
    ),
    STOPPED: (
        "have VMs that are stopped or deallocated: nothing answers the load balancer's health probe there, pods "
        "on them are unreachable, and a deallocated VM has no IP address to serve from."
    ),
    SPOT: (
        "are Spot VMs that are stopped or deallocated: Azure evicts Spot capacity when it needs it (by design); "
        "they come back only when capacity returns."
    ),
    TRANSITION: "have VMs that are neither running nor stopped (starting, or in an unknown power state).",
    AGENT: (
        "have running VMs whose VM agent is not ready: extensions (node bootstrap, updates) cannot run and the "
        "platform cannot report on the VM."
    ),
}


@dataclass(frozen=True)
class _State:
    power: str  # "running", "deallocated", …; "" when the list has no instance view
    power_detail: str
    failed: str  # the failed provisioning status, "" when none
    agent: str  # the not-ready VM agent status, "" when ready or not visible

    @property
    def visible(self) -> bool:
        return bool(self.power or self.failed or self.agent)


def _status_text(status: Mapping[str, Any]) -> str:
    """`code (displayStatus): message`, as the instance view gives them."""
    text = str(status.get("code") or "")
    if status.get("displayStatus"):
        text += f" ({status['displayStatus']})"
    if status.get("message"):
        text += f": {status['message']}"
    return text


def _state(vm: Mapping[str, Any]) -> _State:
    """Power, provisioning and agent state from the instance view (REST or `az … --expand instanceView`) or the
    `powerState` field `az vm list -d` prints."""
    view = prop(vm, "instanceView") or {}
    power = power_detail = failed = agent = ""
    for status in view.get("statuses") or ():
        head, _, rest = str(status.get("code") or "").partition("/")
        if head.lower() == "powerstate":
            power, power_detail = rest.lower(), _status_text(status)
        elif head.lower() == "provisioningstate" and rest.lower().startswith("failed"):
            failed = _status_text(status)
    flat_power = prop(vm, "powerState")
    if not power and isinstance(flat_power, str) and flat_power:
        power, power_detail = flat_power.lower().removeprefix("vm ").strip(), f"powerState: {flat_power}"
    if not failed and str(prop(vm, "provisioningState") or "").lower() == "failed":
        failed = f"provisioningState: {prop(vm, 'provisioningState')}"
    for status in (view.get("vmAgent") or {}).get("statuses") or ():
        if str(status.get("displayStatus") or "").lower() == "not ready" or str(status.get("level")) == "Error":
            agent = _status_text(status)
    return _State(power, power_detail, failed, agent)


def _class(item: _NodeVm, state: _State) -> str | None:
    if state.failed:
        return FAILED
    if state.power in _STOPPED_STATES:
        spot = (
            kube.labels(item.node).get(SPOT_LABEL[0]) == SPOT_LABEL[1]
            or str(prop(item.vm or {}, "priority") or "").lower() == "spot"
        )
        return SPOT if spot else STOPPED
    if state.power and state.power != "running":
        return TRANSITION
    if state.agent:
        return AGENT
    return None


@dataclass(frozen=True)
class _Subject:
    """A VM in a bad state: a node's, or a scale set instance that never became a node."""

    label: str  # node name, or "instance 5 of <scale set> (no node)"
    item: _NodeVm | None
    pid: pid.ProviderId
    rg: str
    state: _State


@check(
    id="node.vm-unhealthy",
    title="Node's Azure VM is not running or failed",
    severity="error",
    scope="cluster",
    needs=NEEDS,
    optional=OPTIONAL,
    docs=UNHEALTHY_DOCS,
    also_in_lb=True,
)
def run_unhealthy(ctx: CheckContext) -> Iterator[Finding]:
    items, listings = _node_vms(ctx)
    found = [(i, _state(i.vm)) for i in items if i.vm is not None]
    seen = [(i, s) for i, s in found if s.visible]
    if not seen:
        if not items:
            raise Skipped("no node has an Azure providerID")
        if found:
            raise Skipped("the VM lists carry no instance view (power and provisioning state)")
        raise Skipped(f"no node's VM was found in the VM lists: {_unreadable(listings, {i.pid.kind for i in items})}")
    groups: dict[str, list[_Subject]] = defaultdict(list)
    for item, state in seen:
        cls = _class(item, state)
        if cls:
            groups[cls].append(
                _Subject(kube.name(item.node), item, item.pid, _rg_of(item, listings[item.pid.kind]), state)
            )
    groups[FAILED].extend(_failed_instances_without_node(items, listings["vmss"]))
    for cls in (FAILED, STOPPED, SPOT, TRANSITION, AGENT):
        if groups.get(cls):
            yield _unhealthy_finding(ctx, cls, groups[cls])


def _failed_instances_without_node(items: Sequence[_NodeVm], listing: _Listing) -> list[_Subject]:
    """Failed instances of the nodes' scale sets that never registered a node (a pool short of a node)."""
    node_ids = {i.pid.normalized_id for i in items}
    sets = {(i.pid.subscription.lower(), i.pid.resource_group.lower(), i.pid.scale_set.lower()) for i in items}
    out = []
    for vm_id, vm in listing.by_id.items():
        parsed = pid.parse_provider_id(pid.SCHEME + str(vm.get("id", "")))
        if not parsed or parsed.kind != "vmss" or vm_id in node_ids:
            continue
        if (parsed.subscription.lower(), parsed.resource_group.lower(), parsed.scale_set.lower()) not in sets:
            continue
        state = _state(vm)
        if state.failed:
            label = f"{parsed.scale_set} instance {parsed.instance_id} (no node)"
            out.append(_Subject(label, None, parsed, parsed.resource_group, state))
    return out


def _unhealthy_finding(ctx: CheckContext, cls: str, subjects: Sequence[_Subject]) -> Finding:
    labels = [s.label for s in subjects]
    cause = f"{len(subjects)} node(s) ({names_text(labels)}) {_CAUSES[cls]}"
    evidence = []
    for s in subjects[:EVIDENCE_CAP]:
        detail = {FAILED: s.state.failed, AGENT: s.state.agent}.get(cls) or s.state.power_detail
        if cls == FAILED and s.state.power_detail:
            detail += f"; {s.state.power_detail}"
        evidence.append(Evidence("Azure", f"{_where(s.pid)} {f'node {s.label}' if s.item else 'no node'}", detail))
    nodes = [s.item.node for s in subjects if s.item]
    return ctx.finding(
        cause,
        evidence,
        fix=_unhealthy_fix(cls, subjects),
        resource=nodes_resource(ctx, nodes) if len(nodes) == len(subjects) else ctx.default_resource,
        severity=Severity.parse(_SEVERITY[cls]),
    )


_FIX_SUMMARY = {
    FAILED: (
        "Read the failure in the instance view, then re-apply the scale set model to the failed instances; if that "
        "fails too, reimage them (reimaging replaces the OS disk) or redeploy/reapply a standalone VM."
    ),
    STOPPED: (
        "Start the VMs (on AKS, a stopped cluster or node pool is started with az aks start / az aks nodepool "
        "start), or delete the nodes you no longer want."
    ),
    SPOT: (
        "Start them again when capacity allows, and keep workloads that must stay reachable off Spot nodes "
        "(or add a regular node pool)."
    ),
    TRANSITION: "Watch the instance view; if the VM stays in this state, restart it.",
    AGENT: "Restart the VMs; if the agent stays not ready, check outbound access to the Azure platform endpoints.",
}
_VMSS_VERBS = {
    FAILED: ("update-instances", "reimage"),
    STOPPED: ("start",),
    SPOT: ("start",),
    TRANSITION: ("restart",),
    AGENT: ("restart",),
}
_VM_VERBS = {
    FAILED: ("reapply", "redeploy"),
    STOPPED: ("start",),
    SPOT: ("start",),
    TRANSITION: ("restart",),
    AGENT: ("restart",),
}


def _unhealthy_fix(cls: str, subjects: Sequence[_Subject]) -> Fix:
    by_set: dict[tuple[str, str], list[str]] = defaultdict(list)
    vms: list[tuple[str, str]] = []
    for s in subjects:
        if s.pid.kind == "vmss":
            by_set[(s.rg, s.pid.scale_set)].append(s.pid.instance_id)
        else:
            vms.append((s.rg, s.pid.vm_name))
    commands: list[str] = []
    for (rg, scale_set), ids in list(by_set.items())[:3]:
        first = ids[0]
        if cls in (FAILED, TRANSITION):
            commands.append(
                shell.command("az", "vmss", "get-instance-view", "-g", rg, "-n", scale_set, "--instance-id", first)
            )
        for verb in _VMSS_VERBS[cls]:
            commands.append(
                shell.command("az", "vmss", verb, "-g", rg, "-n", scale_set, "--instance-ids", *ids[:NAME_CAP])
            )
    for rg, name in vms[:3]:
        if cls in (FAILED, TRANSITION):
            commands.append(shell.command("az", "vm", "get-instance-view", "-g", rg, "-n", name))
        for verb in _VM_VERBS[cls]:
            commands.append(shell.command("az", "vm", verb, "-g", rg, "-n", name))
    return Fix(_FIX_SUMMARY[cls], tuple(commands))
