"""kured, the reboot daemon: which DaemonSet is kured, and its reboot lock.

kured takes turns through a lock annotation on its own DaemonSet: one JSON object `{"nodeID", "created", "TTL"}`,
or the multi-lock `{"maxOwners": n, "locks": [...]}`. The check node.reboot-pending reads the lock and the fix
release-kured-lock removes it, so both read it here. Names come from the `kured` section of knowledge/nodes.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aksdoctor import knowledge, kube, shell


def settings() -> Mapping[str, Any]:
    return knowledge.load("nodes")["kured"]


def is_kured(ds: Mapping[str, Any]) -> bool:
    kk = settings()
    if any(m in kube.name(ds) for m in kk["name_markers"]):
        return True
    template = kube.spec(ds).get("template") or {}
    return any(m in (c.get("image") or "") for c in kube.containers(template) for m in kk["image_markers"])


def parse_locks(raw: str) -> list[Mapping[str, Any]] | None:
    """The lock entries: one object, or kured's multi-lock `{"maxOwners": n, "locks": [...]}`; None if unreadable."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if "locks" in doc:
        return [lock for lock in doc.get("locks") or () if isinstance(lock, dict)]
    return [doc]


def holder(lock: Mapping[str, Any]) -> str:
    """The node holding a lock entry."""
    return str(lock.get("nodeID") or "")


def ttl(lock: Mapping[str, Any]) -> timedelta | None:
    """kured writes the TTL as a Go time.Duration: integer nanoseconds; 0 means none."""
    value = lock.get("TTL")
    if isinstance(value, (int, float)) and value > 0:
        return timedelta(microseconds=value / 1000)
    return None


def expires(lock: Mapping[str, Any]) -> datetime | None:
    """When a lock entry expires; None without a TTL (or a creation time)."""
    created, lifetime = kube.parse_time(lock.get("created")), ttl(lock)
    return created + lifetime if created and lifetime else None


def expired(lock: Mapping[str, Any], now: datetime | None) -> bool:
    """kured replaces an expired lock at its next attempt."""
    end = expires(lock)
    return bool(end and now and now >= end)


def release_command(ds: Mapping[str, Any]) -> str:
    """Remove the lock annotation by hand."""
    annotation = settings()["lock_annotation"]
    return shell.command("kubectl", "-n", kube.namespace(ds), "annotate", "daemonset", kube.name(ds), f"{annotation}-")
