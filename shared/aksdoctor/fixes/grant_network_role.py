"""grant-network-role: give the cloud provider identity the built-in role that allows the action Azure denied it,
at the scope the denial names (lb.permission-denied, re-read here from the same events and log lines).

Who: on an AKS cluster with a managed identity, the cluster (control-plane) identity from the managed cluster,
never the kubelet identity; otherwise the principal (object id) the AuthorizationFailed message names. Which role:
knowledge/fixes.yaml maps the denied action to the narrowest built-in role allowing it (Network Contributor for
Microsoft.Network actions). Nothing is planned when the principal already holds that role, Contributor or Owner
at or above the scope: read live at the scope (`$filter=principalId eq '...'`), from the role assignments fact
when planning from a snapshot. The assignment's name derives from scope, principal and role, so sending it again
cannot create a second one. A policy or a lock denial is not a missing role: it is noted, never "fixed" here.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aksdoctor import knowledge, kube, shell
from aksdoctor.azure.identity import cluster_client_id, is_placeholder, managed_cluster_for
from aksdoctor.azure.resources import prop
from aksdoctor.facts import Facts
from aksdoctor.fixes._azure import PROVIDER_ERROR_FACTS, AzureAction, arm, get, provider_errors
from aksdoctor.fixes.base import ApplyResult, Plan, Step, StepStatus, WriteError, Writer, register

API_VERSION = "2022-04-01"
ASSIGNMENTS = "/providers/Microsoft.Authorization/roleAssignments"
_NAMESPACE = uuid.UUID("0f3c6b52-7a8e-4d1f-9b2c-5e4a3d2c1b0a")  # aksdoctor's: names of the assignments it makes
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.I)
_MANAGEMENT_GROUP = re.compile(r"^/providers/Microsoft\.Management/managementGroups/[^/]+", re.I)


@dataclass
class _Grant:
    principal: str
    scope: str
    role: str
    action: str
    services: list[str] = field(default_factory=list)

    @property
    def role_id(self) -> str:
        return _knowledge()["roles"][self.role]

    @property
    def name(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.scope.lower()}|{self.principal.lower()}|{self.role_id}"))

    @property
    def assignment_id(self) -> str:
        return f"{self.scope}{ASSIGNMENTS}/{self.name}"


@register
class GrantNetworkRole(AzureAction):
    name = "grant-network-role"
    title = "Grant the cloud provider identity the role Azure denied it"
    addresses = ("lb.permission-denied",)
    needs = (*PROVIDER_ERROR_FACTS, "azure_managed_clusters", "azure_scope", "azure_role_assignments")
    waits = True  # role assignments take minutes to apply; the provider then retries by itself

    def plan(self, facts: Facts) -> Plan:
        notes: list[str] = []
        cluster_principal, kubelet = _cluster_identity(facts, notes)
        grants: dict[tuple[str, str, str], _Grant] = {}
        for svc, seen in provider_errors(facts, "lb.permission-denied", frozenset({"permission"})):
            grant = _grant_for(seen.error, cluster_principal, kubelet, notes)
            if grant:
                key = (grant.principal.lower(), grant.scope.lower(), grant.role)
                grants.setdefault(key, grant).services.append(kube.key(svc))
        other = {
            s.error.category for _, s in provider_errors(facts, "lb.permission-denied", frozenset({"policy", "lock"}))
        }
        if other:
            notes.append(
                f"Azure also refused the provider by {' and '.join(sorted(other))}: no role assignment changes that "
                "(see lb.permission-denied)."
            )
        todo = [g for g in grants.values() if not self._already_granted(facts, g, notes)]
        if not todo:
            summary = "No missing role to grant." if not grants else "Every denied role is already assigned."
            return Plan(self.name, summary, notes=tuple(dict.fromkeys(notes)), addresses=self.addresses)
        return Plan(
            self.name,
            f"Assign {len(todo)} role(s) to the cloud provider identity where Azure denied it an action.",
            tuple(_step(g) for g in todo),
            blast_radius=" ".join(
                f"{g.principal} gets every permission of {g.role} on {g.scope} and everything under it "
                f"(denied {g.action} for {', '.join(dict.fromkeys(g.services))})."
                for g in todo
            ),
            rollback="Delete the role assignment(s) (each step's rollback); the provider is then denied again.",
            notes=tuple(dict.fromkeys(notes)),
            addresses=self.addresses,
        )

    def _already_granted(self, facts: Facts, grant: _Grant, notes: list[str]) -> bool:
        """The principal holds the role (or a covering one) at or above the scope."""
        assignments: Sequence[Mapping[str, Any]] | None = None
        if self.reader is not None:
            query = {"$filter": f"principalId eq '{grant.principal}'"}
            try:
                found = get(self.reader, arm("GET", grant.scope + ASSIGNMENTS, API_VERSION, **query))
                assignments = (found or {}).get("value") or []
            except WriteError as exc:
                notes.append(f"Role assignments at {grant.scope} could not be read ({exc.message}).")
        if assignments is None:
            assignments = facts.get_or("azure_role_assignments")
            if assignments is None:
                notes.append(
                    f"Existing role assignments could not be read ({facts.reason('azure_role_assignments')}): "
                    "the assignment is planned anyway; Azure answers RoleAssignmentExists if it is there."
                )
                return False
        wanted = {_knowledge()["roles"][r].lower() for r in (grant.role, *_knowledge()["covering"])}
        for a in assignments:
            role_id = str(prop(a, "roleDefinitionId") or "").rsplit("/", 1)[-1].lower()
            scope = str(prop(a, "scope") or "")
            if (
                role_id in wanted
                and str(prop(a, "principalId") or "").lower() == grant.principal.lower()
                and _covers(scope, grant.scope)
            ):
                notes.append(
                    f"{grant.principal} already holds {_role_name(role_id)} on {scope}, which covers {grant.scope}: "
                    "nothing to assign. If Azure still denies it, the assignment may be minutes old, or a deny "
                    "assignment blocks it."
                )
                return True
        return False

    def apply(self, plan: Plan, writer: Writer) -> ApplyResult:
        """An assignment Azure says exists already (RoleAssignmentExists, another name) is done."""
        exists = _ExistsIsDone(writer)
        result = ApplyResult()
        for index, step in enumerate(plan.steps):
            exists.hit = False
            outcome = self._run_step(index, step, exists, result)
            if exists.hit:
                outcome = type(outcome)(index, outcome.target, outcome.request, StepStatus.DONE, "already assigned")
            result.outcomes.append(outcome)
        return result


class _ExistsIsDone:
    def __init__(self, writer: Writer):
        self.writer = writer
        self.hit = False

    def execute(self, request: Any) -> Any:
        try:
            return self.writer.execute(request)
        except WriteError as exc:
            if exc.status == 409 and "RoleAssignmentExists" in exc.message:
                self.hit = True
                return None
            raise

    def identities(self, *, probe: bool) -> list[Any]:
        return self.writer.identities(probe=probe)


@functools.cache
def _knowledge() -> dict[str, Any]:
    return knowledge.load("fixes")["grant_network_role"]


def _role_for(action: str) -> str | None:
    for rule in _knowledge()["by_action"]:
        if fnmatch.fnmatch(action.lower(), rule["action"].lower()):
            return str(rule["role"])
    return None


def _role_name(role_id: str) -> str:
    return next((n for n, i in _knowledge()["roles"].items() if i.lower() == role_id.lower()), role_id)


def _covers(assigned: str, wanted: str) -> bool:
    a, w = assigned.rstrip("/").lower(), wanted.rstrip("/").lower()
    return bool(a) and (a == w or w.startswith(a + "/") or a == "/")


def _cluster_identity(facts: Facts, notes: list[str]) -> tuple[str, str]:
    """(principal id of an AKS cluster's managed identity, kubelet identity's object id); ("", "") otherwise."""
    clusters, scope = facts.get_or("azure_managed_clusters"), facts.get_or("azure_scope")
    mc = managed_cluster_for(clusters, scope) if clusters and scope else None
    if mc is None or not is_placeholder(cluster_client_id(mc)):
        return "", ""
    identity = mc.get("identity") or {}
    kubelet = str(((prop(mc, "identityProfile") or {}).get("kubeletidentity") or {}).get("objectId") or "")
    principal = str(identity.get("principalId") or "")
    users = [u for u in (identity.get("userAssignedIdentities") or {}).values() if isinstance(u, dict)]
    if not principal and len(users) == 1:
        principal = str(users[0].get("principalId") or "")
    if not principal:
        notes.append(
            f"The managed cluster {mc.get('name')} shows no cluster identity principal id: the principal named in "
            "the error is used."
        )
    return principal, kubelet


def _grant_for(err: Any, cluster_principal: str, kubelet: str, notes: list[str]) -> _Grant | None:
    action, scope = (err.linked_action, err.linked_scope) if err.linked_scope else (err.action, err.scope)
    if not action or not scope:
        notes.append(f"A {err.code} names no action or scope: nothing can be granted for it.")
        return None
    if not (_SUBSCRIPTION.match(scope) or _MANAGEMENT_GROUP.match(scope)):
        notes.append(f"{err.code} names the scope {scope!r}, which is not an Azure resource id.")
        return None
    role = _role_for(action)
    if role is None:
        notes.append(f"No built-in role this action knows allows {action}: assign one that does by hand.")
        return None
    if kubelet and err.object_id and err.object_id.lower() == kubelet.lower():
        notes.append(
            f"The denial names the kubelet identity ({err.object_id}); the cloud provider acts as the cluster "
            "identity, so the role goes to that one."
        )
    principal = cluster_principal or err.object_id or ""
    if not principal:
        notes.append(
            f"The {err.code} message does not name the principal's object id, and the cluster has no managed "
            "identity to grant to: "
            + shell.command(
                "az",
                "role",
                "assignment",
                "create",
                "--assignee",
                err.principal or "<client-id>",
                "--role",
                role,
                "--scope",
                scope,
            )
        )
        return None
    return _Grant(principal, scope, role, action)


def _role_definition(grant: _Grant) -> str:
    sub = _SUBSCRIPTION.match(grant.scope)
    prefix = f"/subscriptions/{sub.group(1)}" if sub else ""
    return f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{grant.role_id}"


def _step(grant: _Grant) -> Step:
    body = {
        "properties": {
            "roleDefinitionId": _role_definition(grant),
            "principalId": grant.principal,
            "principalType": "ServicePrincipal",
        }
    }
    return Step(
        description=f"assign {grant.role} to {grant.principal} (denied {grant.action})",
        target=f"Role assignment on {grant.scope}",
        request=arm("PUT", grant.assignment_id, API_VERSION, body),
        command=shell.command(
            "az",
            "role",
            "assignment",
            "create",
            "--name",
            grant.name,
            "--assignee-object-id",
            grant.principal,
            "--assignee-principal-type",
            "ServicePrincipal",
            "--role",
            grant.role,
            "--scope",
            grant.scope,
        ),
        rollback=shell.command("az", "role", "assignment", "delete", "--ids", grant.assignment_id),
    )
