"""release-kured-lock: remove kured's reboot lock when the node holding it no longer exists.

The lock is an annotation on kured's DaemonSet. The patch first tests that the annotation still holds exactly
the value read, so a lock another node took in the meantime is never removed. With kured's multi-lock format
(`{"maxOwners": n, "locks": [...]}`) only the entries of vanished nodes go. A lock held by a node that still
exists, an expired one (kured replaces it itself) and an unreadable one are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aksdoctor import kube, kured, shell
from aksdoctor.facts import Facts
from aksdoctor.fixes.base import Action, Plan, Step, register
from aksdoctor.sources import kube_writer


@register
class ReleaseKuredLock(Action):
    name = "release-kured-lock"
    title = "Release a kured lock held by a node that is gone"
    addresses = ("node.reboot-pending",)
    needs = ("nodes", "daemonsets", "now")

    def plan(self, facts: Facts) -> Plan:
        annotation = kured.settings()["lock_annotation"]
        names = {kube.name(n) for n in facts.get("nodes")}
        now = facts.get_or("now")
        steps: list[Step] = []
        notes: list[str] = []
        holders: list[str] = []
        for ds in facts.get("daemonsets"):
            raw = kube.annotations(ds).get(annotation)
            if raw is None or not kured.is_kured(ds):
                continue
            locks = kured.parse_locks(raw)
            if locks is None:
                notes.append(
                    f"The lock on DaemonSet {kube.key(ds)} is not valid JSON, so its holder cannot be told: not "
                    "touched. Remove it by hand if no node is rebooting: " + kured.release_command(ds)
                )
                continue
            gone = [lock for lock in locks if kured.holder(lock) not in names and not kured.expired(lock, now)]
            if gone:
                holders += [kured.holder(lock) for lock in gone]
                steps.append(_release_step(ds, annotation, raw, [lk for lk in locks if lk not in gone]))
        if not steps:
            return self.no_change("No kured lock is held by a node that no longer exists.", notes)
        return Plan(
            self.name,
            f"Release the kured lock held by {', '.join(holders)} (no longer in the cluster).",
            tuple(steps),
            blast_radius=(
                "kured resumes reboots: the next node that needs one takes the lock and is cordoned, drained and "
                "rebooted, one node at a time, within kured's reboot window. Nothing else changes."
            ),
            rollback="Put the annotation back with its old value (each step's rollback command).",
            notes=tuple(notes),
            addresses=self.addresses,
        )


def _release_step(ds: Mapping[str, Any], annotation: str, raw: str, remaining: list[Mapping[str, Any]]) -> Step:
    """Test the exact old value, then remove the annotation (or keep only the live holders' entries)."""
    path = kube_writer.pointer("metadata", "annotations", annotation)
    ops: list[dict[str, Any]] = [{"op": "test", "path": path, "value": raw}]
    if remaining:
        doc = json.loads(raw)
        ops.append({"op": "replace", "path": path, "value": json.dumps({**doc, "locks": remaining})})
        what = "remove the vanished nodes' entries from the lock annotation"
    else:
        ops.append({"op": "remove", "path": path})
        what = f"remove the lock annotation {annotation}"
    rollback = shell.command(
        "kubectl",
        "-n",
        kube.namespace(ds),
        "annotate",
        "--overwrite",
        "daemonset",
        kube.name(ds),
        f"{annotation}={raw}",
    )
    return kube_writer.patch_daemonset_step(ds, ops, f"{what} (only if it still holds the value read)", rollback)
