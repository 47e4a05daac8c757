"""Public IPs the provider created for Services that are gone still count against the subscription's regional quota
(and cost money); when the quota runs out, new Services stay without an IP (PublicIPCountLimitReached). The
provider's tags say whose an IP is: `k8s-azure-service` (legacy `service`) names the Services using it,
`k8s-azure-cluster-name` (legacy `kubernetes-cluster-name`) the cluster.

An IP is orphaned when its service tag names only Services that are not LoadBalancer Services of this cluster any
more (deleted, or changed to another type: both release the IP), or when it carries our cluster tag, names no
Service and is attached to nothing. An IP without our tags is someone's own and never reported; nor is one whose
tag names a Service that still exists (unattached, it is that Service's IP waiting for the next sync).
The cluster tag holds the provider's --cluster-name, `kubernetes` on every AKS cluster, so outside the node
resource group (a group several clusters may share) an IP is only reported as a candidate, without a delete
command.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.checks._lb_azure import attached_to, public_ip_evidence
from aksdoctor.checks.base import CheckContext, check
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.text import names_text

ID = "azure.orphaned-public-ip"
EVIDENCE_CAP = 40  # IPs cited one by one; the commands cover all of them
LOCKS = "/providers/microsoft.authorization/locks/"
DOCS = (
    "https://learn.microsoft.com/en-us/azure/virtual-network/ip-services/public-ip-addresses",
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/azure-subscription-service-limits#azure-networking-limits",
    "https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/",
)


@dataclass(frozen=True)
class Orphan:
    pip: Mapping[str, Any]
    why: str
    attached_to: str  # ipConfiguration (or NAT gateway) id; "" when unattached
    locks: tuple[Mapping[str, Any], ...]  # management locks at or above the IP

    @property
    def id(self) -> str:
        return str(self.pip.get("id") or "")


@check(
    id=ID,
    title="Public IPs left behind by deleted Services",
    severity="warning",
    scope="cluster",
    needs=("azure_scope", "azure_public_ips", "services"),
    optional=("azure_locks",),
    docs=DOCS,
    fix_action="delete-orphaned-ips",
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    """Cluster-tagged public IPs whose Services are gone, or that are attached to nothing."""
    orphans = find_orphans(
        ctx.fact("azure_public_ips"), ctx.fact("services"), ctx.fact_or("azure_locks", []), mapping.DEFAULT_CLUSTER_NAME
    )
    node_rg = ctx.fact("azure_scope").node_resource_group.lower()
    ours = [o for o in orphans if resource_group_of(o.id).lower() == node_rg]
    shared = [o for o in orphans if resource_group_of(o.id).lower() != node_rg]
    if ours:
        yield _confirmed(ctx, ours)
    if shared:
        yield _candidates(ctx, shared)


def find_orphans(
    public_ips: Iterable[Mapping[str, Any]],
    services: Iterable[Mapping[str, Any]],
    locks: Sequence[Mapping[str, Any]],
    cluster: str,
) -> list[Orphan]:
    """The public IPs this cluster's provider created and no LoadBalancer Service of it uses any more."""
    alive = {kube.key(s).lower() for s in services if kube.is_load_balancer(s)}
    out = []
    for pip in public_ips:
        why = _orphaned_because(pip, alive, cluster)
        if why:
            out.append(Orphan(pip, why, attached_to(pip), tuple(_covering(locks, str(pip.get("id") or "")))))
    return out


def _orphaned_because(pip: Mapping[str, Any], alive: set[str], cluster: str) -> str:
    named = mapping.service_tag_values(pip)
    owner = mapping.cluster_tag(pip)
    if owner is not None and owner.lower() != cluster.lower():
        return ""  # another cluster's
    if owner is None and not (named and _managed_name(cluster).match(str(pip.get("name") or ""))):
        return ""  # no cluster tag: only an IP the provider named after a Service counts (a BYO IP may be tagged)
    if any(s.lower() in alive for s in named):
        return ""
    if named:
        return f"its service tag names {', '.join(named)}, none of them a LoadBalancer Service of this cluster any more"
    return (
        "" if attached_to(pip) else f"it carries the cluster tag {owner}, names no Service and is attached to nothing"
    )


@functools.cache
def _managed_name(cluster: str) -> re.Pattern[str]:
    """`<cluster>-a<31 hex>`: the names the provider gives the IPs it creates (managed_public_ip_name)."""
    names = knowledge.load("lb_mapping")["names"]
    prefix = names["base_prefix"]
    hex_len = names["base_max_length"] - len(prefix)
    return re.compile(rf"^{re.escape(cluster)}-{re.escape(prefix)}[0-9a-f]{{{hex_len}}}", re.I)


def _covering(locks: Sequence[Mapping[str, Any]], resource_id: str) -> Iterator[Mapping[str, Any]]:
    """Locks on the resource, its resource group or its subscription (all of them block a delete)."""
    target = resource_id.lower()
    for lock in locks:
        scope = str(lock.get("id") or "").lower().split(LOCKS)[0]
        if scope and (target == scope or target.startswith(scope + "/")):
            yield lock


def _lock_evidence(lock: Mapping[str, Any]) -> Evidence:
    notes = prop(lock, "notes")
    return Evidence(
        "Azure", str(lock.get("id") or ""), f"level={prop(lock, 'level')}" + (f" notes={notes}" if notes else "")
    )


def _evidence(orphans: Sequence[Orphan]) -> list[Evidence]:
    evidence = [public_ip_evidence(o.pip) for o in orphans[:EVIDENCE_CAP]]
    locks = {str(lock.get("id")): lock for o in orphans for lock in o.locks}
    return evidence + [_lock_evidence(lock) for lock in locks.values()]


def _names(orphans: Sequence[Orphan]) -> str:
    return names_text([f"{o.pip.get('name')} ({o.why})" for o in orphans])


def _quota(orphans: Sequence[Orphan]) -> str:
    by_region = Counter(str(o.pip.get("location") or "unknown region") for o in orphans)
    static = sum(1 for o in orphans if str(prop(o.pip, "publicIPAllocationMethod") or "").lower() == "static")
    regions = ", ".join(f"{n} in {region}" for region, n in sorted(by_region.items()))
    return f"{len(orphans)} public IP address(es) of the subscription's quota ({regions}; {static} of them static)"


def _confirmed(ctx: CheckContext, orphans: list[Orphan]) -> Finding:
    free = [o for o in orphans if not o.attached_to]
    held = [o for o in orphans if o.attached_to]
    cause = f"{len(orphans)} public IP(s) this cluster's provider created are left behind: {_names(orphans)}."
    if len(orphans) > EVIDENCE_CAP:
        cause += f" The evidence lists the first {EVIDENCE_CAP}."
    commands: list[str] = []
    summary = []
    locks = {str(lock.get("id")): lock for o in free for lock in o.locks}
    if locks:
        listed = ", ".join(f"{lock.get('name')} ({prop(lock, 'level')})" for lock in locks.values())
        cause += f" Management lock(s) {listed} block their deletion."
        summary.append("Remove the lock(s) first (and put them back afterwards).")
        commands += [shell.command("az", "lock", "delete", "--ids", lock_id) for lock_id in locks]
    if free:
        summary.append(f"Delete the unattached IPs: that frees {_quota(free)}.")
        commands += [shell.command("az", "network", "public-ip", "delete", "--ids", o.id) for o in free]
    if held:
        cause += (
            f" {len(held)} of them are still attached ({', '.join(str(o.pip.get('name')) for o in held[:10])}): Azure "
            "refuses to delete an attached IP (PublicIPAddressCannotBeDeleted)."
        )
        summary.append(
            "The attached ones still back a frontend of a deleted Service: the provider removes it when it next "
            "reconciles that load balancer; if it stays, delete the frontend's rules and the frontend, then the IP."
        )
        commands += [shell.command("az", "network", "lb", "frontend-ip", "show", "--ids", o.attached_to) for o in held]
    fix = Fix(" ".join(summary), tuple(commands), "delete-orphaned-ips")
    return ctx.finding(cause, _evidence(orphans), fix=fix)


def _candidates(ctx: CheckContext, orphans: list[Orphan]) -> Finding:
    groups = sorted({resource_group_of(o.id) for o in orphans}, key=str.lower)
    cause = (
        f"{len(orphans)} public IP(s) in {', '.join(groups)} look left behind by this cluster: {_names(orphans)}. They "
        "are outside the node resource group, and their cluster tag is the provider's --cluster-name "
        f"({mapping.DEFAULT_CLUSTER_NAME} on every AKS cluster), so another cluster sharing the group may still use "
        "them: no delete command is offered."
    )
    commands = tuple(shell.command("az", "network", "public-ip", "show", "--ids", o.id) for o in orphans)
    fix = Fix(
        "Check that no other cluster's Service uses each IP (its tags and ipConfiguration), then delete it with "
        "az network public-ip delete --ids <id>.",
        commands,
    )
    return ctx.finding(cause, _evidence(orphans), fix=fix, severity=Severity.INFO)
