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
SYSTEM_NAMESPACE = "kube-system"  # tunnel agents, device plugins, kured, the cloud provider's Secret
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


def as_text(value: Any) -> str:
    """A string field's value as text, tolerating YAML-parsed input: true/false for booleans, "" for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def annotation_texts(obj: Mapping[str, Any]) -> dict[str, str]:
    """Annotations with every value as text (YAML input may hold booleans or numbers)."""
    return {str(k): as_text(v) for k, v in annotations(obj).items()}


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


def serving_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Containers whose ports back Service endpoints: regular ones plus sidecars (restartPolicy Always)."""
    sidecars = [c for c in spec(pod).get("initContainers") or () if c.get("restartPolicy") == "Always"]
    return [*containers(pod), *sidecars]


def restarts(pod: Mapping[str, Any]) -> int:
    """Restarts of all the pod's containers together."""
    return sum(int(c.get("restartCount") or 0) for c in status(pod).get("containerStatuses") or ())


def controller(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference marked as the object's controller."""
    return next((o for o in meta(obj).get("ownerReferences") or () if o.get("controller")), None)


def workload(pod: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name) of what manages a pod: a ReplicaSet's Deployment when the name says so, else the controller."""
    owner = controller(pod) or next(iter(meta(pod).get("ownerReferences") or ()), None)
    if not owner:
        return "Pod", name(pod)
    kind, owner_name = owner.get("kind") or "", owner.get("name") or ""
    template_hash = labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and owner_name.endswith(f"-{template_hash}"):
        return "Deployment", owner_name.removesuffix(f"-{template_hash}")
    return kind, owner_name


def target_port(port: Mapping[str, Any]) -> int | str:
    """A Service port's targetPort (a number or a container port name); absent means the same as `port`."""
    target = port.get("targetPort")
    return port.get("port") if target in (None, "", 0) else target


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


def taint_text(taint: Mapping[str, Any]) -> str:
    """`key=value:Effect` as kubectl writes taints."""
    value = taint.get("value")
    return f"{taint.get('key')}{'=' + value if value else ''}:{taint.get('effect', '')}"


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
