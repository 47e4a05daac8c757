"""delete-orphaned-ips: delete the public IPs azure.orphaned-public-ip proves orphaned, by the check's own predicate:
in the node resource group, tagged by this cluster's provider for Services that are all gone (or for none),
attached to nothing, under no management lock. Candidates outside the node resource group (a group other clusters
may share), attached IPs and locked ones are listed, never deleted.

Each IP is read again right before its DELETE, with the locks over it and the Services its tag names: if it got
attached, a named Service exists again, or a lock appeared, it is left alone. A deleted public IP cannot be
restored, and its address goes back to Azure: nobody can get that address back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from aksdoctor import kube, shell
from aksdoctor.azure import mapping
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.checks.azure_orphaned_ips import Orphan, find_orphans
from aksdoctor.errors import UnreachableError
from aksdoctor.facts import Facts
from aksdoctor.fixes._azure import AzureAction, arm, get
from aksdoctor.fixes.base import (
    KUBERNETES,
    ApplyResult,
    Plan,
    Request,
    Step,
    StepOutcome,
    StepStatus,
    WriteError,
    Writer,
    register,
)
from aksdoctor.sources.azure_live import LOCKS_API_VERSION

NETWORK_API_VERSION = "2024-05-01"
ROLLBACK = (
    "None: this cannot be undone. A deleted public IP cannot be restored, and the IP address itself cannot be "
    "recovered (Azure gives it to someone else); anything still pointing at it (DNS records, allow-lists) needs the "
    "new address of whatever replaces it."
)


@register
class DeleteOrphanedIps(AzureAction):
    name = "delete-orphaned-ips"
    title = "Delete public IPs left behind by deleted Services"
    addresses = ("azure.orphaned-public-ip", "lb.quota-exceeded")
    needs = ("azure_scope", "azure_public_ips", "services", "azure_locks")
    waits = True  # a deleted IP can still be listed for a moment; a quota error clears at the Service's next sync

    def plan(self, facts: Facts) -> Plan:
        node_rg = facts.get("azure_scope").node_resource_group.lower()
        locks = facts.get_or("azure_locks")
        orphans = find_orphans(
            facts.get("azure_public_ips"), facts.get("services"), locks or [], mapping.DEFAULT_CLUSTER_NAME
        )
        notes = []
        if locks is None:
            notes.append(
                f"Management locks could not be read ({facts.reason('azure_locks')}); each IP's locks are read "
                "again before its deletion, and a locked IP is left alone."
            )
        doomed: list[Orphan] = []
        for orphan in orphans:
            left = _left_alone(orphan, node_rg)
            if left:
                notes.append(f"{orphan.pip.get('name')} is not deleted: {left}")
            else:
                doomed.append(orphan)
        if not doomed:
            summary = "No public IP is proven orphaned" + (" and free to delete." if orphans else ".")
            return Plan(self.name, summary, notes=tuple(notes), addresses=self.addresses)
        return Plan(
            self.name,
            f"Delete {len(doomed)} public IP(s) this cluster's provider created for Services that are gone.",
            tuple(_delete_step(o) for o in doomed),
            blast_radius=_blast_radius(doomed),
            rollback=ROLLBACK,
            notes=tuple(notes),
            addresses=self.addresses,
            context={"ids": tuple(o.id for o in doomed)},
        )

    def apply(self, plan: Plan, writer: Writer) -> ApplyResult:
        """Each IP is read again (with its locks and the Services its tag names) right before its DELETE."""
        result = ApplyResult()
        for index, step in enumerate(plan.steps):
            result.outcomes.append(self._guarded(index, step, writer, result))
        return result

    def _guarded(self, index: int, step: Step, writer: Writer, result: ApplyResult) -> StepOutcome:
        def outcome(status: StepStatus, detail: str) -> StepOutcome:
            return StepOutcome(index, step.target, step.request.line, status, detail)

        if not result.unreachable:
            try:
                fresh = get(writer, arm("GET", step.request.path, NETWORK_API_VERSION))
                if fresh is None:
                    return outcome(StepStatus.DONE, "already gone")
                changed = _no_longer_orphaned(fresh, writer)
            except WriteError as exc:
                return outcome(StepStatus.FAILED, f"not deleted: could not read it again ({exc.message})")
            except UnreachableError as exc:
                result.unreachable = str(exc)
                return outcome(StepStatus.FAILED, f"not deleted: {exc}")
            if changed:
                return outcome(StepStatus.NOT_ATTEMPTED, f"left alone: {changed}")
        return self._run_step(index, step, writer, result)

    def settled(self, facts: Facts, plan: Plan, result: ApplyResult) -> bool:
        """The IPs deleted are no longer listed."""
        done = {
            i.lower() for i, o in zip(plan.context["ids"], result.outcomes, strict=False) if o.status is StepStatus.DONE
        }
        pips = facts.get_or("azure_public_ips")
        return pips is not None and not any(str(p.get("id") or "").lower() in done for p in pips)


def _left_alone(orphan: Orphan, node_rg: str) -> str:
    if resource_group_of(orphan.id).lower() != node_rg:
        return (
            f"it is in {resource_group_of(orphan.id)}, outside the node resource group, where another cluster "
            "(same provider cluster tag) may still use it; check it and delete it by hand: "
            + shell.command("az", "network", "public-ip", "delete", "--ids", orphan.id)
        )
    if orphan.attached_to:
        return (
            f"it is still attached to {orphan.attached_to} (Azure refuses to delete an attached IP); the provider "
            "removes that frontend when it next reconciles the load balancer"
        )
    if orphan.locks:
        names = ", ".join(f"{lock.get('name')} ({prop(lock, 'level')})" for lock in orphan.locks)
        return f"management lock(s) {names} cover it; remove them first if the IP is really unwanted"
    return ""


def _delete_step(orphan: Orphan) -> Step:
    pip = orphan.pip
    address = prop(pip, "ipAddress") or "no address"
    return Step(
        description=f"delete public IP {pip.get('name')} ({address}): {orphan.why}",
        target=f"Public IP {pip.get('name')}",
        request=arm("DELETE", orphan.id, NETWORK_API_VERSION),
        command=shell.command("az", "network", "public-ip", "delete", "--ids", orphan.id),
    )


def _blast_radius(doomed: Sequence[Orphan]) -> str:
    listed = ", ".join(f"{o.pip.get('name')} ({prop(o.pip, 'ipAddress') or 'no address'})" for o in doomed)
    fqdns = [str((prop(o.pip, "dnsSettings") or {}).get("fqdn")) for o in doomed if prop(o.pip, "dnsSettings")]
    regions = Counter(str(o.pip.get("location") or "unknown region") for o in doomed)
    text = (
        f"Deleted, with their addresses: {listed}. Nothing uses them (no ipConfiguration, no NAT gateway) and no "
        "LoadBalancer Service of this cluster names them; this frees "
        + ", ".join(f"{n} in {region}" for region, n in sorted(regions.items()))
        + " of the subscription's public IP quota."
    )
    if fqdns:
        text += f" These DNS names stop resolving: {', '.join(fqdns)}."
    return text


def _no_longer_orphaned(pip: dict[str, Any], writer: Writer) -> str:
    """Why a re-read IP must now be left alone ("" when it is still orphaned), by the check's own predicate."""
    locks = get(writer, arm("GET", f"{pip['id']}/providers/Microsoft.Authorization/locks", LOCKS_API_VERSION))
    alive = [svc for key in mapping.service_tag_values(pip) if (svc := _service(writer, key)) is not None]
    found = find_orphans([pip], alive, (locks or {}).get("value") or [], mapping.DEFAULT_CLUSTER_NAME)
    if not found:
        named = [kube.key(s) for s in alive if kube.is_load_balancer(s)]
        return f"its tag names {', '.join(named)}, a LoadBalancer Service again" if named else "no longer orphaned"
    return _left_alone(found[0], resource_group_of(found[0].id).lower())


def _service(writer: Writer, key: str) -> dict[str, Any] | None:
    namespace, _, name = key.partition("/")
    if not namespace or not name:
        return None
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{quote(name, safe='')}"
    return get(writer, Request(KUBERNETES, "GET", path))
