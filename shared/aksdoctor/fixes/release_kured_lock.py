"""release-kured-lock: remove kured's reboot lock when the node holding it no longer exists.

The lock is an annotation on kured's DaemonSet. The patch first tests that the annotation still holds exactly
the value read, so a lock another node took in the meantime is never removed. With kured's multi-lock format
(`{"maxOwners": n, "locks": [...]}`) only the entries of vanished nodes go. A lock held by a node that still
exists, an expired one (kured replaces it itself) and an unreadable one are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.checks._nodes import node_knowledge
from aksdoctor.checks.node_reboot import _is_kured, _parse_locks, _ttl
from aksdoctor.errors import FactUnavailable
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
        kk = node_knowledge()["kured"]
        annotation = kk["lock_annotation"]
        names = {kube.name(n) for n in facts.get("nodes")}
        now = _now(facts)
        steps: list[Step] = []
        notes: list[str] = []
        holders: list[str] = []
        for ds in facts.get("daemonsets"):
            raw = kube.annotations(ds).get(annotation)
            if raw is None or not _is_kured(ds, kk):
                continue
            locks = _parse_locks(raw)
            if locks is None:
                notes.append(
                    f"The lock on DaemonSet {kube.key(ds)} is not valid JSON, so its holder cannot be told: not "
                    "touched. Remove it by hand if no node is rebooting: "
                    + shell.command(
                        "kubectl", "-n", kube.namespace(ds), "annotate", "daemonset", kube.name(ds), f"{annotation}-"
                    )
                )
                continue
            gone = [lock for lock in locks if str(lock.get("nodeID") or "") not in names and not _expired(lock, now)]
            if gone:
                holders += [str(lock.get("nodeID") or "") for lock in gone]
                steps.append(_release_step(ds, annotation, raw, [lk for lk in locks if lk not in gone]))
        if not steps:
            return Plan(
                self.name,
                "No kured lock is held by a node that no longer exists.",
                notes=tuple(notes),
                addresses=self.addresses,
            )
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


def _now(facts: Facts) -> datetime | None:
    try:
        return facts.get("now")
    except FactUnavailable:
        return None


def _expired(lock: Mapping[str, Any], now: datetime | None) -> bool:
    created, ttl = kube.parse_time(lock.get("created")), _ttl(lock.get("TTL"))
    return bool(now and created and ttl and now >= created + ttl)


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
    ns, name = kube.namespace(ds), kube.name(ds)
    return Step(
        description=f"{what} (only if it still holds the value read)",
        target=kube.ref("DaemonSet", ds),
        request=kube_writer.patch_daemonset(ns, name, ops),
        command=shell.command(
            "kubectl", "-n", ns, "patch", "daemonset", name, "--type=json", "-p", kube_writer.json_text(ops)
        ),
        rollback=shell.command(
            "kubectl", "-n", ns, "annotate", "--overwrite", "daemonset", name, f"{annotation}={raw}"
        ),
    )
