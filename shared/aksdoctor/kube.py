"""Helpers over Kubernetes objects kept as plain dicts (the JSON shape the API and `kubectl -o json` use).

Plain dicts, not client model classes: the live source skips model deserialisation (the slowest part of the
client on big lists), and the snapshot source reads the same shape from files, so checks see one shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

LB_SERVICE_TYPE = "LoadBalancer"
_FRACTION = re.compile(r"\.(\d+)")


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def name(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("name") or ""


def namespace(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("namespace") or ""


def key(obj: Mapping[str, Any]) -> str:
    """`namespace/name`, or just `name` for cluster-scoped objects."""
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def ref(kind: str, obj: Mapping[str, Any]) -> str:
    """How a resource is named in findings: `Service default/web`, `Node aks-pool-0`."""
    return f"{kind} {key(obj)}"


def is_load_balancer(service: Mapping[str, Any]) -> bool:
    return spec(service).get("type") == LB_SERVICE_TYPE


def selector_matches(selector: Mapping[str, str], obj_labels: Mapping[str, str]) -> bool:
    """Equality-based selector as Services use it; an empty selector matches nothing (no automatic endpoints)."""
    if not selector:
        return False
    return all(obj_labels.get(k) == v for k, v in selector.items())


def label_selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status(pod).get("conditions") or ())


def pod_is_terminal(pod: Mapping[str, Any]) -> bool:
    return status(pod).get("phase") in ("Succeeded", "Failed")


def containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(spec(pod).get("containers") or ())


def node_condition(node: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in status(node).get("conditions") or ():
        if cond.get("type") == kind:
            return cond
    return None


def has_taint(node: Mapping[str, Any], taint_key: str) -> Mapping[str, Any] | None:
    for taint in spec(node).get("taints") or ():
        if taint.get("key") == taint_key:
            return taint
    return None


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """Kubernetes toleration semantics for one taint (empty key + Exists tolerates everything)."""
    for tol in tolerations:
        op = tol.get("operator") or "Equal"
        tkey = tol.get("key") or ""
        effect = tol.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        if not tkey and op == "Exists":
            return True
        if tkey != taint.get("key"):
            continue
        if op == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 timestamp (as the API writes it) to an aware datetime; None when absent or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not value or not isinstance(value, str):
        return None
    # Go writes up to nine fractional digits; Python 3.10's fromisoformat takes exactly three or six.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value.strip().replace("Z", "+00:00"), count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_time(event: Mapping[str, Any]) -> datetime | None:
    """Newest time an event was seen, whichever of the API's several time fields is filled."""
    for field in ("lastTimestamp", "eventTime", "firstTimestamp"):
        when = parse_time(event.get(field))
        if when:
            return when
    series = event.get("series") or {}
    return parse_time(series.get("lastObservedTime")) or parse_time(meta(event).get("creationTimestamp"))


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """Give `events.k8s.io/v1` events the core/v1 field names checks read (involvedObject, message, count)."""
    if "involvedObject" in event or "regarding" not in event:
        return event
    out = dict(event)
    out["involvedObject"] = event.get("regarding") or {}
    out.setdefault("message", event.get("note") or "")
    out.setdefault("source", {"component": event.get("reportingController") or ""})
    out.setdefault("count", (event.get("series") or {}).get("count") or event.get("deprecatedCount") or 1)
    out.setdefault("lastTimestamp", event.get("deprecatedLastTimestamp") or event.get("eventTime"))
    return out
