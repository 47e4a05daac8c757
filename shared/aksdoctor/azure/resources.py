"""ARM resources in one shape: the REST shape (`properties` holds the resource-specific fields).

`az ... show|list` prints a flattened shape (resource fields at the top, sometimes with different casing such
as `frontendIpConfigurations`); both come out of `normalize` the same, so checks read one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields that live at the top of an ARM resource in the REST shape; everything else is a property.
ENVELOPE_FIELDS = frozenset(
    {
        "id",
        "name",
        "type",
        "location",
        "tags",
        "sku",
        "etag",
        "zones",
        "identity",
        "extendedLocation",
        "kind",
        "managedBy",
        "plan",
        "systemData",
        "properties",
    }
)
# az adds these to its output; they are derived from the id and not part of the resource.
_AZ_ONLY_FIELDS = frozenset({"resourceGroup"})


def normalize(resource: Mapping[str, Any]) -> dict[str, Any]:
    """REST shape for a resource and its sub-resources (frontends, rules, probes, IP configurations...)."""
    out: dict[str, Any] = {}
    props: dict[str, Any] = dict(resource.get("properties") or {})
    for field, value in resource.items():
        if field in ENVELOPE_FIELDS:
            if field != "properties":
                out[field] = value
        elif field not in _AZ_ONLY_FIELDS:
            props.setdefault(field, value)
    out["properties"] = {field: _normalize_value(value) for field, value in props.items()}
    return out


def _normalize_value(value: Any) -> Any:
    if isinstance(value, list) and value and all(_is_sub_resource(v) for v in value):
        return [normalize(v) for v in value]
    if _is_sub_resource(value) and len(value) > 1:
        return normalize(value)
    return value


def _is_sub_resource(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"].startswith("/subscriptions/")


def prop(resource: Mapping[str, Any], field: str, default: Any = None) -> Any:
    """A property by name, matching case-insensitively (REST `frontendIPConfigurations`, az `...Ip...`)."""
    props = resource.get("properties") or {}
    if field in props:
        return props[field]
    folded = field.lower()
    for name, value in props.items():
        if name.lower() == folded:
            return value
    return default


def arm_field(obj: Any, name: str) -> Any:
    """A field of a nested ARM object in either shape: under `properties` (REST) or at its top (az output).

    `normalize` reshapes only sub-resources (objects with an ARM id); nested objects without one, such as backend
    addresses, scale set NIC configurations or NSG rules as az prints them, keep az's flat layout. Names match
    case-insensitively; None for a non-object or a field absent (or null) in both places.
    """
    if not isinstance(obj, Mapping):
        return None
    folded = name.lower()
    for scope in (obj.get("properties"), obj):
        if isinstance(scope, Mapping):
            for key, value in scope.items():
                if key.lower() == folded and value is not None:
                    return value
    return None


def sku_name(resource: Mapping[str, Any]) -> str:
    """`Standard`, `Basic`, ... as ARM writes it ("" when absent)."""
    return str((resource.get("sku") or {}).get("name") or "")


def resource_type(resource: Mapping[str, Any]) -> str:
    """Lower-case ARM type (`microsoft.network/loadbalancers`), derived from the id when `type` is missing."""
    rtype = resource.get("type")
    if isinstance(rtype, str) and rtype:
        return rtype.lower()
    parts = str(resource.get("id") or "").strip("/").split("/")
    try:
        idx = [p.lower() for p in parts].index("providers")
    except ValueError:
        return ""
    segs = parts[idx + 1 :]
    # providers/<Namespace>/<type>/<name>[/<subtype>/<name>...]
    types = [segs[0], *segs[1::2]] if segs else []
    return "/".join(types).lower()


def resource_group_of(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        idx = lowered.index("resourcegroups")
        if idx + 1 < len(parts):
            return parts[idx + 1]
    return ""
