"""Static checks of a Service's cloud-provider-azure annotations and the spec fields the provider reads.

Everything that is knowledge (keys, types, limits, the provider's own messages, conflicts, other clouds' keys)
lives in knowledge/annotations.yaml. This module only holds generic validators keyed by type name and a small
condition evaluator, so adding an annotation or a rule is a data change. Works on the plain dict that
`kubectl get svc -o json` prints; no cluster access.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import Template
from typing import Any

from aksdoctor import knowledge, kube

_TYPO_CUTOFF = 0.8  # difflib ratio; high enough that unrelated azure-* keys are not "corrected" into each other
_PREFIX_CUTOFF = 0.75  # how close a foreign key prefix must be to service.beta.kubernetes.io to count as a typo
_PORT_KEY = re.compile(r"^port_(0|[1-9][0-9]*)_(.+)$")  # exactly what fmt "port_%d_%s" produces
_PORT_TYPO = re.compile(r"^port[_-]?([0-9]+)[_-](.+)$")
_INT32 = re.compile(r"^[+-]?[0-9]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class AnnotationProblem:
    """One finding about one annotation key (or spec field such as "spec.loadBalancerIP")."""

    key: str
    kind: str  # unknown | deprecated | invalid-value | conflict | ineffective | other-cloud
    severity: str  # info | warning | error
    value: str
    message: str
    suggestion: str | None = None


@dataclass(frozen=True)
class _Issue:
    """A validator's verdict before it is tied to a key; severity None means "the type's default"."""

    message: str
    suggestion: str | None = None
    severity: str | None = None


def _fmt(template: str, **values: object) -> str:
    """Fill ${name} placeholders; `$` inside regexes and unknown names are left alone."""
    return Template(template).safe_substitute({k: str(v) for k, v in values.items()})


def _is_set(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return kube.as_text(value) != ""


def _go_quote_list(items: list[str]) -> str:
    """Render like Go's %q on a []string, as the provider's event messages do."""
    return "[" + " ".join(json.dumps(item, ensure_ascii=False) for item in items) + "]"


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# --------------------------------------------------------------------------- catalogue (built once)


@dataclass(frozen=True)
class _Catalog:
    """Lookup tables derived from the YAML once per process, so per-Service work is dict lookups."""

    data: dict[str, Any]
    prefix: str
    types: dict[str, dict[str, Any]]
    exact: dict[str, dict[str, Any]]
    folded: dict[str, dict[str, Any]]  # lowercased key -> entry, for keys the provider matches with EqualFold
    port_entries: dict[str, dict[str, Any]]  # "health-probe_protocol" -> entry of port_{port}_health-probe_protocol
    names: dict[str, str]  # lowercased name after the prefix -> canonical full key (typo candidates)
    port_suffixes: dict[str, str]  # lowercased per-port suffix -> canonical suffix
    mistakes: dict[str, dict[str, Any]]
    other_clouds: tuple[tuple[str, str], ...]
    equivalents: dict[str, str]
    spec_fields: tuple[dict[str, Any], ...]
    rules: tuple[dict[str, Any], ...]


@functools.cache
def _catalog() -> _Catalog:
    data = knowledge.load("annotations")
    prefix = data["prefix"]
    exact: dict[str, dict[str, Any]] = {}
    folded: dict[str, dict[str, Any]] = {}
    port_entries: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for entry in data["annotations"]:
        key = entry["key"]
        name = key[len(prefix) :]
        if name.startswith("port_{port}_"):
            port_entries[name[len("port_{port}_") :]] = entry
            continue
        exact[key] = entry
        if entry.get("key_case_insensitive"):
            folded[key.lower()] = entry
        if not entry.get("deprecated"):
            names[name.lower()] = key
    return _Catalog(
        data=data,
        prefix=prefix,
        types=data["types"],
        exact=exact,
        folded=folded,
        port_entries=port_entries,
        names=names,
        port_suffixes={suffix.lower(): suffix for suffix in port_entries},
        mistakes={m["key"]: m for m in data["mistakes"]},
        other_clouds=tuple((o["prefix"], o["cloud"]) for o in data["other_clouds"]),
        equivalents=dict(data["azure_equivalents"]),
        spec_fields=tuple(data["spec_fields"]),
        rules=tuple(data["rules"]),
    )


def _lookup(key: str) -> tuple[dict[str, Any], int | None] | None:
    """The catalogue entry for a key and, for port_{port}_* keys, the port number."""
    cat = _catalog()
    entry = cat.exact.get(key) or cat.folded.get(key.lower())
    if entry is not None:
        return entry, None
    if key.startswith(cat.prefix):
        match = _PORT_KEY.match(key[len(cat.prefix) :])
        if match and match.group(2) in cat.port_entries:
            return cat.port_entries[match.group(2)], int(match.group(1))
    return None


def known_annotation(key: str) -> bool:
    """True for any key in the catalogue, including port_<n>_* keys and deprecated ones."""
    return _lookup(key) is not None


# --------------------------------------------------------------------------- the Service as seen by the checks


class _Service:
    """Normalised view of the Service dict: string annotations, ports, families, optional cluster SKU."""

    def __init__(self, service: Mapping[str, Any], sku: str | None) -> None:
        self.name = kube.as_text(kube.meta(service).get("name"))
        self.annotations = kube.annotation_texts(service)
        self.spec: Mapping[str, Any] = kube.spec(service)
        self.type = kube.as_text(self.spec.get("type")) or "LoadBalancer"
        self.load_balancer_class = kube.as_text(self.spec.get("loadBalancerClass"))
        self.ports = [p for p in self.spec.get("ports") or [] if isinstance(p, Mapping)]
        self.port_numbers = sorted({p["port"] for p in self.ports if isinstance(p.get("port"), int)})
        families = self.spec.get("ipFamilies")
        self.ip_families = {kube.as_text(f) for f in families} if families else None
        self.health_check_node_port = self.spec.get("healthCheckNodePort")
        self.sku = sku.lower() if sku else None

    def field(self, name: str) -> Any:
        if name.startswith("spec."):
            return self.spec.get(name[len("spec.") :])
        return self.annotations.get(name)


_Condition = Callable[[Any, _Service], bool]


def _holds(condition: Mapping[str, Any], svc: _Service) -> bool:
    ((op, arg),) = condition.items()
    return _CONDITIONS[op](arg, svc)


_CONDITIONS: dict[str, _Condition] = {
    "set": lambda arg, svc: _is_set(svc.field(arg)),
    "is_true": lambda arg, svc: svc.annotations.get(arg, "").lower() == "true",
    "equals": lambda arg, svc: kube.as_text(svc.field(arg[0])).lower() == str(arg[1]).lower(),
    "not": lambda arg, svc: not _holds(arg, svc),
    "any_of": lambda arg, svc: any(_holds(c, svc) for c in arg),
    "all_of": lambda arg, svc: all(_holds(c, svc) for c in arg),
    "ip_family": lambda arg, svc: svc.ip_families is None or arg in svc.ip_families,
    "sku": lambda arg, svc: svc.sku is None or svc.sku == str(arg).lower(),
    "any_port_missing": lambda arg, svc: any(not p.get(arg) for p in svc.ports),
}


# --------------------------------------------------------------------------- validators by type


@dataclass(frozen=True)
class _Ctx:
    key: str
    constraints: Mapping[str, Any]
    tdef: Mapping[str, Any]
    svc: _Service

    def msg(self, name: str, *fallbacks: str) -> str:
        """Entry-level `<name>_message` (or a fallback override) wins over the type's default text."""
        for candidate in (name, *fallbacks):
            override = self.constraints.get(f"{candidate}_message")
            if override:
                return override
        return self.tdef[name]


def _split(value: str | list[Any], separator: str, strip: bool, skip_empty: bool) -> list[str]:
    """Split the way the provider does (strings.Split after TrimSpace); spec lists arrive already split."""
    items = [kube.as_text(v) for v in value] if isinstance(value, list) else value.strip().split(separator)
    if strip:
        items = [item.strip() for item in items]
    return [item for item in items if item] if skip_empty else items


def _ip_issue(item: str, value: str, ctx: _Ctx) -> _Issue | None:
    """One address of `value` (the whole annotation value, for messages that quote it)."""
    family = ctx.constraints.get("family")
    try:
        address = ipaddress.ip_address(item)
    except ValueError:
        return _Issue(_fmt(ctx.msg("invalid"), item=item, value=value, key=ctx.key))
    if family and address.version != family:
        return _Issue(_fmt(ctx.msg("wrong_family"), item=item, value=value, key=ctx.key, type=family))
    return None


def _v_bool(value: str, ctx: _Ctx) -> list[_Issue]:
    if value.lower() in ("true", "false"):
        return []
    return [_Issue(_fmt(ctx.msg("invalid"), value=value, key=ctx.key))]


def _v_int(value: str, ctx: _Ctx) -> list[_Issue]:
    text = value.strip()
    if not _INT32.match(text) or not -(2**31) <= int(text) < 2**31:
        return [_Issue(_fmt(ctx.msg("invalid"), value=text, key=ctx.key))]
    number, low, high = int(text), ctx.constraints.get("min"), ctx.constraints.get("max")
    if low is not None and number < low:
        return [_Issue(_fmt(ctx.msg("below_min", "range"), value=number, key=ctx.key, min=low, max=high))]
    if high is not None and number > high:
        return [_Issue(_fmt(ctx.msg("above_max", "range"), value=number, key=ctx.key, min=low, max=high))]
    return []


def _v_enum(value: str, ctx: _Ctx) -> list[_Issue]:
    allowed = ctx.constraints["values"]
    if ctx.constraints.get("case_insensitive"):
        ok = value.strip().lower() in {v.lower() for v in allowed}
    else:
        ok = value in allowed
    return [] if ok else [_Issue(_fmt(ctx.msg("invalid"), value=value, key=ctx.key, items=", ".join(allowed)))]


def _v_ip(value: str, ctx: _Ctx) -> list[_Issue]:
    issue = _ip_issue(value, value, ctx)
    return [issue] if issue else []


def _v_ip_list(value: str, ctx: _Ctx) -> list[_Issue]:
    c = ctx.constraints
    separator, strip = c.get("separator", ","), c.get("strip_items", True)
    issues = []
    for item in _split(value, separator, strip, skip_empty=separator == " "):
        issue = _ip_issue(item, value, ctx)
        if issue is None:
            continue
        hint = None
        if separator == " " and "," in item:
            hint = c.get("comma_hint")
        elif not strip and item != item.strip():
            hint = c.get("space_hint")
        issues.append(_Issue(issue.message, hint))
    return issues


def _v_cidr_list(value: str | list[Any], ctx: _Ctx) -> list[_Issue]:
    """net/netip.ParsePrefix plus the provider's "must be masked" rule; one event lists all bad entries."""
    invalid, hints = [], []
    for item in _split(value, ",", strip=True, skip_empty=False):
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            invalid.append(item)
            continue
        if not item.rpartition("/")[2].isdigit():  # netip wants "/bits": no bare IPs, no netmasks
            invalid.append(item)
        elif network.network_address != ipaddress.ip_interface(item).ip:
            invalid.append(item)
            hints.append(_fmt(ctx.tdef["masked_hint"], item=item, masked=network))
    if not invalid:
        return []
    message = _fmt(ctx.msg("invalid"), items=_go_quote_list(invalid), key=ctx.key)
    return [_Issue(message, "; ".join(hints) or None)]


def _v_tag_list(value: str, ctx: _Ctx) -> list[_Issue]:
    issues = []
    for item in _split(value, ",", strip=True, skip_empty=False):
        if _regex(ctx.tdef["regex"]).match(item):
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            issues.append(_Issue(_fmt(ctx.msg("invalid"), item=item, key=ctx.key)))
        else:
            issues.append(_Issue(_fmt(ctx.tdef["cidr_hint"], item=item)))
    return issues


def _v_name(value: str, ctx: _Ctx) -> list[_Issue]:
    c = ctx.constraints
    if value.lower().startswith("/subscriptions/"):
        return [_Issue(_fmt(ctx.tdef["resource_id_hint"], value=value, what=c["what"]))]
    if _regex(c["regex"]).match(value):
        return []
    return [_Issue(_fmt(ctx.msg("invalid"), value=value, what=c["what"], rule=c["rule"]))]


def _v_name_list(value: str, ctx: _Ctx) -> list[_Issue]:
    if all(_split(value, ",", strip=True, skip_empty=False)):
        return []
    return [_Issue(_fmt(ctx.msg("invalid"), value=value))]


def _v_dns_label(value: str, ctx: _Ctx) -> list[_Issue]:
    pattern = _regex(ctx.tdef["regex"])
    if pattern.match(value):
        return []
    suggestion = None
    label = value.split(".", 1)[0].lower()
    if "." in value:
        suggestion = ctx.tdef["fqdn_hint"] + (f': use "{label}"' if pattern.match(label) else "")
    elif pattern.match(label):
        suggestion = f'use lowercase "{label}"'
    return [_Issue(_fmt(ctx.msg("invalid"), value=value, regex=ctx.tdef["regex"]), suggestion)]


def _v_resource_id(value: str, ctx: _Ctx) -> list[_Issue]:
    c = ctx.constraints
    if _regex(c["regex"]).match(value):
        return []
    return [_Issue(_fmt(ctx.msg("invalid"), value=value, what=c["what"], rule=c["rule"]))]


def _v_kv_list(value: str, ctx: _Ctx) -> list[_Issue]:
    return [
        _Issue(_fmt(ctx.msg("invalid"), item=pair))
        for pair in _split(value, ",", strip=False, skip_empty=True)
        if pair.strip() and pair.count("=") != 1
    ]


def _v_path(value: str, ctx: _Ctx) -> list[_Issue]:
    return [] if value.startswith("/") else [_Issue(_fmt(ctx.msg("invalid"), value=value), f'use "/{value}"')]


def _v_port_ref(value: str, ctx: _Ctx) -> list[_Issue]:
    if any(kube.as_text(p.get("name")).lower() == value.lower() for p in ctx.svc.ports):
        return []
    if not _INT32.match(value):
        return [_Issue(_fmt(ctx.msg("invalid"), value=value, key=ctx.key))]
    if not 0 <= int(value) <= 65535:
        return [_Issue(_fmt(ctx.msg("out_of_range"), value=value, key=ctx.key))]
    return []


def _space_list(value: str, ctx: _Ctx, valid: Callable[[str], bool]) -> list[_Issue]:
    """Space-separated lists: a comma is the classic mistake, so the fix is offered as the suggestion."""
    comma_fix = None
    if "," in value:
        comma_fix = f"{ctx.tdef['comma_hint']}: {' '.join(_split(value.replace(',', ' '), ' ', True, True))}"
    return [
        _Issue(_fmt(ctx.msg("invalid"), item=item), comma_fix)
        for item in _split(value, " ", strip=True, skip_empty=True)
        if not valid(item)
    ]


def _v_subid_list(value: str, ctx: _Ctx) -> list[_Issue]:
    star = bool(ctx.constraints.get("allow_star"))
    return _space_list(value, ctx, lambda item: bool(_GUID.match(item)) or (star and item == "*"))


def _v_fqdn_list(value: str, ctx: _Ctx) -> list[_Issue]:
    return _space_list(value, ctx, lambda item: bool(_regex(ctx.tdef["regex"]).match(item)))


_VALIDATORS: dict[str, Callable[[Any, _Ctx], list[_Issue]]] = {
    "bool": _v_bool,
    "int": _v_int,
    "enum": _v_enum,
    "ip": _v_ip,
    "ip-list": _v_ip_list,
    "cidr-list": _v_cidr_list,
    "tag-list": _v_tag_list,
    "name": _v_name,
    "name-list": _v_name_list,
    "vmset-list": _v_name_list,
    "dns-label": _v_dns_label,
    "resource-id": _v_resource_id,
    "kv-list": _v_kv_list,
    "path": _v_path,
    "port-ref": _v_port_ref,
    "subid-list": _v_subid_list,
    "fqdn-list": _v_fqdn_list,
}


# --------------------------------------------------------------------------- per-key checks


def _ignored_severity(entry: Mapping[str, Any] | None) -> str:
    """How bad it is that the provider ignores this key: warning, or error where ignoring fails open."""
    return (entry or {}).get("ignored_severity", "warning")


def _did_you_mean(key: str | None) -> str | None:
    return _fmt(_catalog().data["did_you_mean"], key=key) if key else None


def _replace_with(replacement: str | None) -> str:
    """The deprecation fix: the replacement when there is one, otherwise removing the key."""
    data = _catalog().data
    return _fmt(data["replace_with"], replacement=replacement) if replacement else data["remove_suggestion"]


def _check_value(key: str, value: Any, entry: Mapping[str, Any], svc: _Service) -> list[AnnotationProblem]:
    """Type validation of one value (annotation or spec field), including hints and empty-string rules."""
    cat = _catalog()
    tdef = cat.types[entry["type"]]
    constraints = entry.get("constraints") or {}
    shown = ", ".join(kube.as_text(v) for v in value) if isinstance(value, list) else value
    on_invalid = constraints.get("on_invalid", tdef["on_invalid"])
    if on_invalid == "warning":
        on_invalid = _ignored_severity(entry)

    for hint in constraints.get("hints", ()):
        if isinstance(value, str) and value.strip().lower() == hint["value"].lower():
            return [AnnotationProblem(key, "invalid-value", on_invalid, shown, hint["message"], hint.get("suggestion"))]

    if isinstance(value, str) and not value.strip():
        empty = entry.get("empty") or {}
        if empty.get("effect") == "harmful":
            remove = cat.data["remove_suggestion"]
            return [AnnotationProblem(key, "invalid-value", "error", shown, empty["message"], remove)]
        if empty.get("effect") == "meaningful":
            return []
        if tdef["empty_is_unset"]:
            message = cat.data["empty_unset_message"]
            return [AnnotationProblem(key, "ineffective", _ignored_severity(entry), shown, message)]

    ctx = _Ctx(key, constraints, tdef, svc)
    return [
        AnnotationProblem(key, "invalid-value", issue.severity or on_invalid, shown, issue.message, issue.suggestion)
        for issue in _VALIDATORS[entry["type"]](value, ctx)
    ]


def _port_suggestion(port: int, entry: Mapping[str, Any], svc: _Service) -> str | None:
    """A port_{n}_ key written with a targetPort or nodePort: point at the Service port it meant."""
    for p in svc.ports:
        if port in (p.get("nodePort"), p.get("targetPort")) or kube.as_text(p.get("targetPort")) == str(port):
            return _did_you_mean(entry["key"].replace("{port}", str(p.get("port"))))
    return None


def _check_known(
    key: str, value: str, entry: Mapping[str, Any], port: int | None, svc: _Service
) -> list[AnnotationProblem]:
    cat = _catalog()
    if svc.type != "LoadBalancer":
        message = _fmt(cat.data["not_load_balancer_message"], type=svc.type)
        return [AnnotationProblem(key, "ineffective", "warning", value, message)]
    if svc.load_balancer_class:  # the service controller skips Services with a class; another LB owns it
        message = _fmt(cat.data["load_balancer_class_message"], type=svc.load_balancer_class)
        return [AnnotationProblem(key, "ineffective", "warning", value, message)]

    deprecated = entry.get("deprecated")
    if deprecated:
        message = _fmt(cat.data["deprecated_message"], **deprecated)
        return [
            AnnotationProblem(
                key, "deprecated", "warning", value, message, _replace_with(deprecated.get("replacement"))
            )
        ]

    if port is not None:
        valid_ports = set(svc.port_numbers)
        if entry.get("health_check_node_port") and svc.health_check_node_port:
            valid_ports.add(svc.health_check_node_port)
        if port not in valid_ports:
            ports = ", ".join(map(str, svc.port_numbers)) or "none"
            message = _fmt(cat.data["port_not_in_service_message"], port=port, ports=ports)
            return [
                AnnotationProblem(key, "ineffective", "warning", value, message, _port_suggestion(port, entry, svc))
            ]

    problems = _check_value(key, value, entry, svc)
    if entry["type"] == "bool" and value.lower() != "true":
        return problems  # "false" switches nothing on, so its prerequisites do not matter
    for requirement in entry.get("requires", ()):
        if not _holds(requirement["when"], svc):
            problems.append(
                AnnotationProblem(
                    key,
                    requirement.get("kind", "ineffective"),
                    requirement.get("severity", "warning"),
                    value,
                    requirement["message"],
                    requirement.get("suggestion"),
                )
            )
    return problems


def _closest(name: str) -> str | None:
    """Closest known full key for a name (the part after the prefix), port_{n}_ aware; None if nothing is close."""
    cat = _catalog()
    low = name.lower()
    port = _PORT_TYPO.match(low)
    if port:
        number, suffix = port.groups()
        best = difflib.get_close_matches(suffix, list(cat.port_suffixes), n=1, cutoff=_TYPO_CUTOFF)
        return f"{cat.prefix}port_{int(number)}_{cat.port_suffixes[best[0]]}" if best else None
    if low in cat.names:
        return cat.names[low]
    best = difflib.get_close_matches(low, list(cat.names), n=1, cutoff=_TYPO_CUTOFF)
    return cat.names[best[0]] if best else None


@functools.lru_cache(maxsize=4096)
def _classify_unknown(key: str) -> tuple[str, str, str, str | None] | None:
    """(kind, severity, message, suggestion) for a key not in the catalogue, or None if it is not ours."""
    cat = _catalog()
    mistake = cat.mistakes.get(key)
    if mistake:
        target = mistake.get("suggestion")
        severity = _ignored_severity(cat.exact.get(target or ""))
        message = mistake.get("message") or cat.data["unknown_message"]
        if mistake["kind"] == "deprecated":
            return "deprecated", severity, message, _replace_with(target)
        return mistake["kind"], severity, message, _did_you_mean(target)

    for prefix, cloud in cat.other_clouds:
        if key.startswith(prefix):
            message = _fmt(cat.data["other_cloud_message"], cloud=cloud)
            equivalent = cat.equivalents.get(key)
            suggestion = _fmt(cat.data["azure_equivalent"], equivalent=equivalent) if equivalent else None
            return "other-cloud", "info", message, suggestion

    if key.startswith(cat.prefix):
        suggestion = _closest(key[len(cat.prefix) :])
        case_only = suggestion is not None and suggestion.lower() == key.lower()
        message = cat.data["unknown_case_message" if case_only else "unknown_message"]
        return "unknown", _ignored_severity(cat.exact.get(suggestion or "")), message, _did_you_mean(suggestion)

    head, _, name = key.rpartition("/")
    ours = cat.prefix.rstrip("/")
    if head and difflib.SequenceMatcher(None, head.lower(), ours).ratio() < _PREFIX_CUTOFF:
        return None
    suggestion = _closest(name)
    if suggestion is None and not name.lower().startswith(("azure-", "port_")):
        return None
    message = cat.data["unknown_case_message" if head.lower() == ours else "wrong_prefix_message"]
    return "unknown", _ignored_severity(cat.exact.get(suggestion or "")), message, _did_you_mean(suggestion)


# --------------------------------------------------------------------------- spec fields and cross-field rules


def _check_spec_field(field: Mapping[str, Any], svc: _Service) -> list[AnnotationProblem]:
    key = field["key"]
    raw = svc.field(key)
    if not _is_set(raw):
        return []
    value = raw if isinstance(raw, list) else kube.as_text(raw)
    problems = _check_value(key, value, field, svc)
    deprecated = field.get("deprecated")
    if deprecated and not problems:
        replacement = deprecated.get("replacement")
        if isinstance(replacement, Mapping):  # pick the annotation of the address's family
            replacement = f'{replacement[str(ipaddress.ip_address(value).version)]}: "{value}"'
        message = _fmt(_catalog().data["deprecated_message"], **deprecated)
        problems.append(
            AnnotationProblem(key, "deprecated", "warning", kube.as_text(value), message, _replace_with(replacement))
        )
    return problems


def _annotation_int(svc: _Service, key: str) -> int | None:
    text = svc.annotations.get(key, "").strip()
    return int(text) if _INT32.match(text) else None


def _check_probe_total(rule: Mapping[str, Any], svc: _Service) -> list[AnnotationProblem]:
    """interval x num-of-probe < limit, globally and for every port that overrides either value."""
    p = rule["params"]
    global_interval = _annotation_int(svc, p["interval"]) or p["default_interval"]
    global_num = _annotation_int(svc, p["num_of_probe"]) or p["default_num_of_probe"]
    candidates = [(p["interval"], p["num_of_probe"], global_interval, global_num)]
    ports = set(svc.port_numbers) | ({svc.health_check_node_port} if svc.health_check_node_port else set())
    for port in sorted(ports):
        interval_key = p["port_interval"].replace("{port}", str(port))
        num_key = p["port_num_of_probe"].replace("{port}", str(port))
        if interval_key in svc.annotations or num_key in svc.annotations:
            interval = _annotation_int(svc, interval_key) or global_interval
            num = _annotation_int(svc, num_key) or global_num
            candidates.append((interval_key, num_key, interval, num))
    problems = []
    for interval_key, num_key, interval, num in candidates:
        key = interval_key if interval_key in svc.annotations else num_key
        if key in svc.annotations and interval * num >= p["limit"]:
            message = _fmt(rule["message"], interval=interval, num=num, total=interval * num)
            problems.append(AnnotationProblem(key, "conflict", rule["severity"], svc.annotations[key], message))
    return problems


def _check_subset(rule: Mapping[str, Any], svc: _Service) -> list[AnnotationProblem]:
    p = rule["params"]
    subset = _split(svc.annotations.get(p["subset"], ""), p["separator"], True, True)
    superset = {s.lower() for s in _split(svc.annotations.get(p["superset"], ""), p["separator"], True, True)}
    if p["wildcard"] in superset:
        return []
    missing = [s for s in subset if s.lower() not in superset]
    if not missing:
        return []
    message = _fmt(rule["message"], items=" ".join(missing))
    value = svc.annotations[p["subset"]]
    return [AnnotationProblem(rule["key"], "conflict", rule["severity"], value, message, rule.get("suggestion"))]


def _check_count_at_most(rule: Mapping[str, Any], svc: _Service) -> list[AnnotationProblem]:
    p = rule["params"]
    count = len(_split(svc.annotations.get(p["items"], ""), p["separator"], True, True))
    limit = _annotation_int(svc, p["limit"]) if p["limit"] in svc.annotations else p["default_limit"]
    if limit is None or count <= limit:
        return []
    message = _fmt(rule["message"], limit=limit, count=count)
    value = svc.annotations[p["items"]]
    return [AnnotationProblem(rule["key"], "conflict", rule["severity"], value, message, rule.get("suggestion"))]


_CHECKS: dict[str, Callable[[Mapping[str, Any], _Service], list[AnnotationProblem]]] = {
    "probe-total": _check_probe_total,
    "subset": _check_subset,
    "count-at-most": _check_count_at_most,
}


def _check_rule(rule: Mapping[str, Any], svc: _Service) -> list[AnnotationProblem]:
    if "when" in rule and not _holds(rule["when"], svc):
        return []
    if "check" in rule:
        return _CHECKS[rule["check"]](rule, svc)
    raw = svc.field(rule["key"])
    value = ", ".join(kube.as_text(v) for v in raw) if isinstance(raw, list) else kube.as_text(raw)
    kind = rule.get("kind", "conflict")
    return [AnnotationProblem(rule["key"], kind, rule["severity"], value, rule["message"], rule.get("suggestion"))]


# --------------------------------------------------------------------------- entry point


def validate_service_annotations(service: Mapping[str, Any], *, sku: str | None = None) -> list[AnnotationProblem]:
    """All annotation problems of one Service, in key order then rule order.

    `sku` ("basic"/"standard") is the cluster's load balancer SKU when known; SKU-dependent rules are
    skipped when it is None.
    """
    cat = _catalog()
    svc = _Service(service, sku)
    problems: list[AnnotationProblem] = []
    for key in sorted(svc.annotations):
        value = svc.annotations[key]
        found = _lookup(key)
        if found is not None:
            problems.extend(_check_known(key, value, found[0], found[1], svc))
            continue
        verdict = _classify_unknown(key)
        if verdict is not None:
            problems.append(AnnotationProblem(key, verdict[0], verdict[1], value, verdict[2], verdict[3]))
    if svc.type == "LoadBalancer" and not svc.load_balancer_class:
        for field in cat.spec_fields:
            problems.extend(_check_spec_field(field, svc))
        for rule in cat.rules:
            problems.extend(_check_rule(rule, svc))
    return problems
