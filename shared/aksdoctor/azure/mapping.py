"""Service → Azure: the load balancer, frontend, rules, probes, public IP and NSG rules cloud-provider-azure gives a
LoadBalancer Service, computed the way the provider computes them (pure functions, no API calls).

The Azure side can only be judged against what the provider would have written: a probe "on the wrong port" means
nothing until we know the port the provider derives from nodePort, healthCheckNodePort, appProtocol and a dozen
annotations. Each rule below follows cloud-provider-azure master (sources in knowledge/lb_mapping.yaml), including
its quirks: the internal annotation must be exactly "true" to pick the internal LB, a truncated subnet frontend name
ends in "_" unless it ends in a letter, names of dual-stack IPv6 objects end in "-IPv6", NSG rules are named after an
MD5 of protocol, sources and ports. Names, limits and defaults live in the knowledge file; the logic lives here.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import knowledge, kube
from aksdoctor.azure.resources import prop, resource_group_of
from aksdoctor.versions import parse_version

PREFIX = "service.beta.kubernetes.io/"
INTERNAL = PREFIX + "azure-load-balancer-internal"
INTERNAL_SUBNET = PREFIX + "azure-load-balancer-internal-subnet"
LB_CONFIGURATIONS = PREFIX + "azure-load-balancer-configurations"
LB_MODE = PREFIX + "azure-load-balancer-mode"
RESOURCE_GROUP = PREFIX + "azure-load-balancer-resource-group"
PIP_NAME = {False: PREFIX + "azure-pip-name", True: PREFIX + "azure-pip-name-ipv6"}
PIP_PREFIX_ID = {False: PREFIX + "azure-pip-prefix-id", True: PREFIX + "azure-pip-prefix-id-ipv6"}
LB_IP = {False: PREFIX + "azure-load-balancer-ipv4", True: PREFIX + "azure-load-balancer-ipv6"}
HA_PORTS = PREFIX + "azure-load-balancer-enable-high-availability-ports"
DISABLE_FLOATING_IP = PREFIX + "azure-disable-load-balancer-floating-ip"
DNS_LABEL = PREFIX + "azure-dns-label-name"
PROBE_PROTOCOL = PREFIX + "azure-load-balancer-health-probe-protocol"
PROBE_PATH = PREFIX + "azure-load-balancer-health-probe-request-path"
PROBE_INTERVAL = PREFIX + "azure-load-balancer-health-probe-interval"
PROBE_NUM = PREFIX + "azure-load-balancer-health-probe-num-of-probe"
PLS_CREATE = PREFIX + "azure-pls-create"
PLS_PROXY_PROTOCOL = PREFIX + "azure-pls-proxy-protocol"
ALLOWED_SERVICE_TAGS = PREFIX + "azure-allowed-service-tags"
ALLOWED_IP_RANGES = PREFIX + "azure-allowed-ip-ranges"
SOURCE_RANGES_ANNOTATION = PREFIX + "load-balancer-source-ranges"  # v1.AnnotationLoadBalancerSourceRangesKey
DENY_ALL_EXCEPT = PREFIX + "azure-deny-all-except-load-balancer-source-ranges"
DISABLE_NSG_RULE = PREFIX + "azure-disable-load-balancer-nsg-rule"
SHARED_SECURITY_RULE = PREFIX + "azure-shared-securityrule"

_KN = knowledge.load("lb_mapping")
_NAMES = _KN["names"]
_PROBES = _KN["probes"]
_NSG = _KN["nsg"]
DEFAULT_CLUSTER_NAME: str = _NAMES["default_cluster_name"]
INTERNAL_SUFFIX: str = _NAMES["internal_suffix"]
IPV6_SUFFIX: str = _NAMES["ipv6_suffix"]
SHARED_PROBE_NAME: str = _PROBES["shared_name"]
NSG_PREFIX: str = _NSG["managed_prefix"]


def port_annotation(port: Any, param: str) -> str:
    """`service.beta.kubernetes.io/port_<port>_<param>` (e.g. param "health-probe_protocol", "no_lb_rule")."""
    return f"{PREFIX}port_{port}_{param}"


# ---- provider configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderConfig:
    """The cloud-config settings that change names and shapes. Defaults are AKS's (Standard SKU, one SLB).

    `shared_probe`: clusterServiceLoadBalancerHealthProbeMode is "shared" (one HTTP probe on kube-proxy's
    10256/healthz for every externalTrafficPolicy Cluster Service); `app_protocol_probes`: the provider is v1.24+
    and turns appProtocol http/https into HTTP(S) probes.
    """

    cluster_name: str = DEFAULT_CLUSTER_NAME
    load_balancer_name: str = ""
    load_balancer_sku: str = "standard"
    multiple_slb: tuple[str, ...] = ()
    shared_probe: bool = False
    shared_probe_port: int = _PROBES["shared_port"]
    shared_probe_path: str = _PROBES["shared_path"]
    app_protocol_probes: bool = True

    @property
    def standard(self) -> bool:
        return self.load_balancer_sku.lower() == "standard"


DEFAULT_CONFIG = ProviderConfig()


def config_from(
    *,
    cloud_config: Mapping[str, Any] | None = None,
    managed_cluster: Mapping[str, Any] | None = None,
    version: str | None = None,
) -> ProviderConfig:
    """ProviderConfig from a cloud config (azure.json), else an AKS managed cluster, and the provider version.

    Cloud-config keys are matched case-insensitively (Go's JSON decoding does); without `loadBalancerSku` the
    provider uses Basic. An AKS cluster always names its LBs `kubernetes` / `kubernetes-internal`.
    """
    values: dict[str, Any] = {}
    if cloud_config is not None:
        cc = {str(k).lower(): v for k, v in cloud_config.items()}
        values["load_balancer_name"] = str(cc.get("loadbalancername") or "")
        values["load_balancer_sku"] = str(cc.get("loadbalancersku") or "basic")
        configs = cc.get("multiplestandardloadbalancerconfigurations") or ()
        values["multiple_slb"] = tuple(
            str(c.get("name")).strip().lower() for c in configs if isinstance(c, Mapping) and c.get("name")
        )
        mode = str(cc.get("clusterserviceloadbalancerhealthprobemode") or "")
        values["shared_probe"] = mode.lower() == _PROBES["shared_mode_value"]
        if cc.get("clusterservicesharedloadbalancerhealthprobeport"):
            values["shared_probe_port"] = int(cc["clusterservicesharedloadbalancerhealthprobeport"])
        if cc.get("clusterservicesharedloadbalancerhealthprobepath"):
            values["shared_probe_path"] = str(cc["clusterservicesharedloadbalancerhealthprobepath"])
    elif managed_cluster is not None:
        network = prop(managed_cluster, "networkProfile") or {}
        values["load_balancer_sku"] = str(network.get("loadBalancerSku") or "standard")
        profile = network.get("loadBalancerProfile") or {}
        mode = str(profile.get("clusterServiceLoadBalancerHealthProbeMode") or "")
        values["shared_probe"] = mode.lower() == _PROBES["shared_mode_value"]
    parsed = parse_version(version) if version else None
    since = parse_version(_PROBES["app_protocol_since"])
    if parsed and since:
        values["app_protocol_probes"] = (parsed.major, parsed.minor) >= (since.major, since.minor)
    return ProviderConfig(**values)


# ---- the Service as the provider reads it --------------------------------------------------------------------


def is_true(service: Mapping[str, Any], key: str) -> bool:
    """The provider's boolean test for most annotations: the value equals "true", ignoring case (no trimming)."""
    value = kube.annotation_texts(service).get(key)
    return value is not None and value.lower() == "true"


def base_name(service: Mapping[str, Any]) -> str:
    """The Service's base name: "a" + its UID without dashes, cut to 32 characters (DefaultLoadBalancerName)."""
    uid = str(kube.meta(service).get("uid") or "")
    return (_NAMES["base_prefix"] + uid.replace("-", ""))[: _NAMES["base_max_length"]]


def is_internal(service: Mapping[str, Any]) -> bool:
    """Whether the provider puts the Service on the internal LB: the annotation must be exactly "true"
    (requiresInternalLoadBalancer compares case-sensitively, unlike most boolean annotations)."""
    return kube.annotation_texts(service).get(INTERNAL) == "true"


def reaches_azure(service: Mapping[str, Any]) -> tuple[bool, str]:
    """(True, "") when cloud-provider-azure reconciles this Service, else (False, why not)."""
    spec = kube.spec(service)
    if spec.get("type") != kube.LB_SERVICE_TYPE:
        return False, f"Service type is {spec.get('type') or 'ClusterIP'}, not LoadBalancer"
    lb_class = spec.get("loadBalancerClass")
    if lb_class:
        return False, f"spec.loadBalancerClass is {lb_class}: another controller implements this load balancer"
    return True, ""


def is_dual_stack(service: Mapping[str, Any]) -> bool:
    return len(kube.spec(service).get("ipFamilies") or ()) == 2


def ip_families(service: Mapping[str, Any]) -> tuple[bool, ...]:
    """The Service's IP families as "is IPv6" flags, IPv4 first; IPv4 alone when ipFamilies is unset."""
    families = kube.spec(service).get("ipFamilies") or ()
    v4, v6 = "IPv4" in families, "IPv6" in families
    if not v4 and not v6:
        v4 = True
    return tuple(flag for flag, on in ((False, v4), (True, v6)) if on)


def _by_family(name: str, service: Mapping[str, Any], ipv6: bool) -> str:
    """getResourceByIPFamily: only a dual-stack Service's IPv6 objects carry the suffix."""
    return f"{name}-{IPV6_SUFFIX}" if ipv6 and is_dual_stack(service) else name


def internal_subnet(service: Mapping[str, Any]) -> str | None:
    """The ILB subnet annotation as written, when the Service is internal and the value is not blank."""
    value = kube.annotation_texts(service).get(INTERNAL_SUBNET)
    if is_internal(service) and value is not None and value.strip():
        return value
    return None


def _ports(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in kube.spec(service).get("ports") or () if isinstance(p, Mapping)]


def _protocol(port: Mapping[str, Any]) -> str:
    return str(port.get("protocol") or "TCP")


def service_ips(service: Mapping[str, Any]) -> tuple[str, ...]:
    """IPs the Service asks for: azure-load-balancer-ipv4/ipv6 annotations, else spec.loadBalancerIP."""
    ann = kube.annotation_texts(service)
    ips = tuple(ann[LB_IP[v6]] for v6 in (False, True) if ann.get(LB_IP[v6]))
    if ips:
        return ips
    lb_ip = kube.spec(service).get("loadBalancerIP")
    return (str(lb_ip),) if lb_ip else ()


def service_ip(service: Mapping[str, Any], ipv6: bool) -> str:
    """getServiceLoadBalancerIP: the family's annotation, else spec.loadBalancerIP when it is of that family."""
    value = kube.annotation_texts(service).get(LB_IP[ipv6])
    if value:
        return value
    lb_ip = str(kube.spec(service).get("loadBalancerIP") or "")
    return lb_ip if lb_ip and _is_ipv6(lb_ip) is ipv6 else ""


def _family_annotation(service: Mapping[str, Any], keys: Mapping[bool, str], ipv6: bool) -> str:
    """getServicePIPName / getServicePIPPrefixID: an IPv6-only Service may use the IPv4 key."""
    ann = kube.annotation_texts(service)
    if is_dual_stack(service):
        return ann.get(keys[ipv6], "")
    families = ip_families(service)
    if ipv6 and families == (True,) and ann.get(keys[True]):
        return ann[keys[True]]
    if ipv6 and True not in families:
        return ""
    return ann.get(keys[False], "")


def ingress_ips(service: Mapping[str, Any]) -> tuple[str, ...]:
    """status.loadBalancer.ingress[].ip."""
    ingress = (kube.status(service).get("loadBalancer") or {}).get("ingress") or ()
    return tuple(str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip"))


def _is_ipv6(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.strip()).version == 6
    except ValueError:
        return ":" in ip


# ---- load balancer and frontend names ------------------------------------------------------------------------


def expected_lb_names(
    service: Mapping[str, Any], cluster_name: str | None = None, config: ProviderConfig | None = None
) -> tuple[str, ...]:
    """Names of the Azure LB(s) the provider may put the Service on (lower-case comparisons are the caller's).

    `kubernetes` / `kubernetes-internal` in the common case; cloud-config `loadBalancerName` replaces the cluster
    name; with multiple standard LBs, the configurations the Service's annotation names (else all of them); with
    a Basic LB and `azure-load-balancer-mode`, also LBs named after the listed VM sets.
    """
    cfg = config or DEFAULT_CONFIG
    prefix = cfg.load_balancer_name or cluster_name or cfg.cluster_name
    names: list[str] = [prefix]
    if cfg.multiple_slb:
        annotated = [
            n.strip().lower()
            for key, value in kube.annotation_texts(service).items()
            if key.lower() == LB_CONFIGURATIONS.lower()
            for n in value.split(",")
            if n.strip()
        ]
        names = annotated or list(cfg.multiple_slb)
    elif not cfg.standard:
        mode = kube.annotation_texts(service).get(LB_MODE, "")
        names += [m.strip() for m in mode.split(",") if m.strip() and m.strip() != "__auto__"]
    suffix = INTERNAL_SUFFIX if is_internal(service) else ""
    return tuple(dict.fromkeys(f"{n}{suffix}" for n in names))


@dataclass(frozen=True)
class FrontendName:
    """The frontend IP configuration name the primary Service owns for one IP family."""

    name: str
    ipv6: bool


def default_frontend_name(service: Mapping[str, Any]) -> str:
    """BASE, or BASE-SUBNET cut to 75 characters; a cut name not ending in a letter or "_" gets a final "_"."""
    base = base_name(service)
    subnet = internal_subnet(service)
    if subnet is None:
        return base
    name = f"{base}-{subnet}"
    limit = _NAMES["frontend_max_length"] - _NAMES["ip_family_suffix_length"]
    if len(name) > limit:
        name = name[:limit]
        if not name[-1].isalpha() and name[-1] != "_":
            name = name[:-1] + "_"
    return name


def frontend_config_names(service: Mapping[str, Any]) -> tuple[FrontendName, ...]:
    """One frontend name per IP family of the Service (`-IPv6` added for a dual-stack Service's IPv6 frontend)."""
    name = default_frontend_name(service)
    return tuple(FrontendName(_by_family(name, service, v6), v6) for v6 in ip_families(service))


def rule_name(service: Mapping[str, Any], protocol: str, port: Any, ipv6: bool) -> str:
    """BASE[-SUBNET]-PROTOCOL-PORT[-IPv6]; the subnet segment is cut so the name stays within 75 characters."""
    base = base_name(service)
    plain = f"{base}-{protocol}-{port}"
    subnet = internal_subnet(service)
    if subnet is None:
        return _by_family(plain, service, ipv6)
    limit = _NAMES["rule_max_length"] - _NAMES["ip_family_suffix_length"]
    if len(plain) + len(subnet) + 1 > limit:
        subnet = subnet[: max(0, limit - len(plain) - 1)]
    return _by_family(f"{base}-{subnet}-{protocol}-{port}", service, ipv6)


def backend_pool_name(cluster_name: str, ipv6: bool) -> str:
    """`<cluster>` for IPv4, `<cluster>-IPv6` for IPv6 (regardless of dual-stack)."""
    return f"{cluster_name}-{IPV6_SUFFIX}" if ipv6 else cluster_name


# ---- rules and probes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedProbe:
    """A health probe as the provider builds it. `port` None: the annotation naming it is invalid (sync fails).

    `reason` says where protocol and port come from, for findings (e.g. "appProtocol http on nodePort 31380").
    """

    name: str
    protocol: str  # Tcp | Http | Https
    port: int | None
    request_path: str | None  # HTTP(S) only
    interval: int
    threshold: int
    reason: str


@dataclass(frozen=True)
class ExpectedRule:
    """A load-balancing rule as the provider builds it for one Service port and IP family (or the HA-ports rule)."""

    name: str
    protocol: str  # Tcp | Udp | All
    frontend_port: int
    backend_port: int
    floating_ip: bool
    probe: ExpectedProbe | None
    ipv6: bool
    backend_pool: str
    service_port: int  # spec.ports[].port (0 for the HA-ports rule)
    node_port: int | None
    ha_ports: bool = False


def _int_annotation(service: Mapping[str, Any], keys: Sequence[str], default: int) -> int:
    ann = kube.annotation_texts(service)
    for key in keys:
        if key in ann:
            try:
                return int(ann[key].strip())
            except ValueError:
                return default
    return default


def _probe_timing(service: Mapping[str, Any], port: Any) -> tuple[int, int]:
    """(interval, threshold): per-port annotation, else the global one, else 5 s and 2."""
    interval = _int_annotation(
        service, (port_annotation(port, "health-probe_interval"), PROBE_INTERVAL), _PROBES["default_interval"]
    )
    threshold = _int_annotation(
        service, (port_annotation(port, "health-probe_num-of-probe"), PROBE_NUM), _PROBES["default_threshold"]
    )
    return interval, threshold


def _node_probe(service: Mapping[str, Any], config: ProviderConfig, ipv6: bool) -> tuple[ExpectedProbe | None, bool]:
    """The probe every rule shares, if any: ETP Local's /healthz on healthCheckNodePort, or the shared probe;
    and whether it is the shared one (which suppresses per-port probes)."""
    spec = kube.spec(service)
    local = str(spec.get("externalTrafficPolicy") or "").lower() == "local"
    if config.shared_probe and not local:
        probe = ExpectedProbe(
            SHARED_PROBE_NAME,
            "Http",
            config.shared_probe_port,
            config.shared_probe_path,
            _PROBES["default_interval"],
            _PROBES["default_threshold"],
            f"shared probe mode: kube-proxy health check on port {config.shared_probe_port}",
        )
        return probe, True
    pls_proxy = is_true(service, PLS_CREATE) and is_true(service, PLS_PROXY_PROTOCOL)
    if local and spec.get("type") == kube.LB_SERVICE_TYPE and not pls_proxy:
        port = spec.get("healthCheckNodePort")
        interval, threshold = _probe_timing(service, port)
        probe = ExpectedProbe(
            rule_name(service, "TCP", port, ipv6),
            "Http",
            port if isinstance(port, int) else None,
            _PROBES["local_request_path"],
            interval,
            threshold,
            f"externalTrafficPolicy Local: kube-proxy answers {_PROBES['local_request_path']} on "
            f"healthCheckNodePort {port}",
        )
        return probe, False
    return None, False


def _probe_port(service: Mapping[str, Any], port: Mapping[str, Any]) -> tuple[int | None, str] | None:
    """The port_<p>_health-probe_port override: a Service port number or name means that port's nodePort."""
    value = kube.annotation_texts(service).get(port_annotation(port.get("port"), "health-probe_port"))
    if value is None:
        return None
    key = port_annotation(port.get("port"), "health-probe_port")
    try:
        number = int(value.strip())
    except ValueError:
        for other in _ports(service):
            if str(other.get("name") or "").lower() == value.lower():
                return other.get("nodePort"), f"annotation {key}={value} (nodePort of port {value})"
        return None, f"annotation {key}={value} names no port of the Service"
    for other in _ports(service):
        if other.get("port") == number:
            return other.get("nodePort"), f"annotation {key}={value} (nodePort of port {number})"
    return number, f"annotation {key}={value}"


def _port_probe(
    service: Mapping[str, Any],
    port: Mapping[str, Any],
    name: str,
    node_probe: ExpectedProbe | None,
    shared: bool,
    config: ProviderConfig,
) -> ExpectedProbe | None:
    """buildHealthProbeRulesForPort: per-port annotation > appProtocol > global annotation > TCP, on the nodePort."""
    if shared or _protocol(port) in ("UDP", "SCTP"):
        return None
    override = _probe_port(service, port)
    if override is not None:
        probe_port, port_reason = override
    elif node_probe is not None:
        return None
    else:
        probe_port, port_reason = port.get("nodePort"), f"nodePort {port.get('nodePort')}"
    ann = kube.annotation_texts(service)
    per_port = port_annotation(port.get("port"), "health-probe_protocol")
    if per_port in ann:
        raw, why = ann[per_port], f"annotation {per_port}={ann[per_port]}"
    elif "appProtocol" in port and config.app_protocol_probes:
        raw, why = str(port.get("appProtocol") or ""), f"appProtocol {port.get('appProtocol')}"
    elif PROBE_PROTOCOL in ann:
        raw, why = ann[PROBE_PROTOCOL], f"annotation {PROBE_PROTOCOL}={ann[PROBE_PROTOCOL]}"
    else:
        raw, why = "Tcp", "default TCP"
    raw = raw.strip().lower()
    protocol = {"http": "Http", "https": "Https" if config.standard else "Tcp"}.get(raw, "Tcp")
    path = None
    if protocol in ("Http", "Https"):
        per_port_path = port_annotation(port.get("port"), "health-probe_request-path")
        path = ann.get(per_port_path, ann.get(PROBE_PATH, _PROBES["default_request_path"]))
    interval, threshold = _probe_timing(service, port.get("port"))
    reason = f"{protocol.upper()} probe from {why}, on {port_reason}"
    return ExpectedProbe(name, protocol, probe_port, path, interval, threshold, reason)


def expected_rules(service: Mapping[str, Any], config: ProviderConfig | None = None) -> tuple[ExpectedRule, ...]:
    """The LB rules (with their probes) the provider builds for the Service, per IP family (getExpectedLBRules).

    Ports with `port_<p>_no_lb_rule` get no rule; `port_<p>_no_probe_rule` leaves a rule without probe; floating IP
    is off (backend port = nodePort) with the annotation and on an internal LB's IPv6 pool; HA ports make a single
    `All` rule named after the first port.
    """
    cfg = config or DEFAULT_CONFIG
    ports = _ports(service)
    rules: list[ExpectedRule] = []
    ha = is_true(service, INTERNAL) and cfg.standard and is_true(service, HA_PORTS) and bool(ports)
    for ipv6 in ip_families(service):
        pool = backend_pool_name(cfg.cluster_name, ipv6)
        ilb_v6 = is_true(service, INTERNAL) and ipv6  # Azure ILB: no floating IP on IPv6 rules
        node_probe, shared = _node_probe(service, cfg, ipv6)
        if ha:
            first = ports[0]
            name = rule_name(service, _protocol(first), first.get("port"), ipv6)
            probe = node_probe
            if probe is None:
                probe = next((p for p in (_port_probe(service, q, name, None, False, cfg) for q in ports) if p), None)
            rules.append(ExpectedRule(name, "All", 0, 0, not ilb_v6, probe, ipv6, pool, 0, None, ha_ports=True))
            continue
        for port in ports:
            number = port.get("port")
            if is_true(service, port_annotation(number, "no_lb_rule")):
                continue
            name = rule_name(service, _protocol(port), number, ipv6)
            probe = None
            if not is_true(service, port_annotation(number, "no_probe_rule")):
                probe = _port_probe(service, port, name, node_probe, shared, cfg) or node_probe
            no_floating = ilb_v6 or is_true(service, DISABLE_FLOATING_IP)
            node_port = port.get("nodePort")
            backend = node_port if no_floating else number
            rules.append(
                ExpectedRule(
                    name,
                    _KN["rule_protocols"].get(_protocol(port), "Tcp"),
                    int(number or 0),
                    int(backend or 0),
                    not no_floating,
                    probe,
                    ipv6,
                    pool,
                    int(number or 0),
                    node_port,
                )
            )
    return tuple(rules)


def expected_probes(service: Mapping[str, Any], config: ProviderConfig | None = None) -> tuple[ExpectedProbe, ...]:
    """The distinct probes the Service's rules use (ETP Local and shared mode: one probe for all rules)."""
    seen: dict[str, ExpectedProbe] = {}
    for rule in expected_rules(service, config):
        if rule.probe and rule.probe.name.lower() not in seen:
            seen[rule.probe.name.lower()] = rule.probe
    return tuple(seen.values())


# ---- public IPs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedPublicIP:
    """Which public IP the provider uses for one IP family of a public Service.

    Found by `name` (azure-pip-name, or the managed `CLUSTER-BASE` name) or by `ip` (azure-load-balancer-ipv4/
    ipv6, spec.loadBalancerIP), in `resource_group` (azure-load-balancer-resource-group; None: the provider's
    default group). `managed`: the provider creates it and tags it `k8s-azure-service=<ns/name>`.
    """

    ipv6: bool
    name: str | None
    ip: str | None
    resource_group: str | None
    managed: bool
    how: str
    service_key: str


def managed_public_ip_name(service: Mapping[str, Any], cluster_name: str, ipv6: bool) -> str:
    """CLUSTER-BASE[-<prefix name>] cut to 75 characters, `-IPv6` for a dual-stack Service's IPv6 address."""
    name = f"{cluster_name}-{base_name(service)}"
    segment = _family_annotation(service, PIP_PREFIX_ID, ipv6).split("/")[-1]
    if segment:
        name = f"{name}-{segment}"
    limit = _NAMES["public_ip_max_length"] - _NAMES["ip_family_suffix_length"]
    return _by_family(name[:limit], service, ipv6)


def public_ip_resource_group(service: Mapping[str, Any]) -> str | None:
    value = kube.annotation_texts(service).get(RESOURCE_GROUP, "").strip()
    return value or None


def expected_public_ip(
    service: Mapping[str, Any], cluster_name: str | None = None, config: ProviderConfig | None = None
) -> tuple[ExpectedPublicIP, ...]:
    """The public IP(s) of a public Service, one per IP family (determinePublicIPName); () for internal ones."""
    if is_internal(service):
        return ()
    cluster = cluster_name or (config or DEFAULT_CONFIG).cluster_name
    rg = public_ip_resource_group(service)
    key = kube.key(service)
    out = []
    for ipv6 in ip_families(service):
        named = _family_annotation(service, PIP_NAME, ipv6)
        if named:
            out.append(ExpectedPublicIP(ipv6, named, None, rg, False, f"annotation {PIP_NAME[ipv6]}", key))
            continue
        if _family_annotation(service, PIP_PREFIX_ID, ipv6):
            name = managed_public_ip_name(service, cluster, ipv6)
            out.append(ExpectedPublicIP(ipv6, name, None, rg, True, f"annotation {PIP_PREFIX_ID[ipv6]}", key))
            continue
        ip = service_ip(service, ipv6)
        if ip:
            how = (
                f"annotation {LB_IP[ipv6]}"
                if kube.annotation_texts(service).get(LB_IP[ipv6])
                else "spec.loadBalancerIP"
            )
            out.append(ExpectedPublicIP(ipv6, None, ip, rg, False, how, key))
            continue
        name = managed_public_ip_name(service, cluster, ipv6)
        out.append(ExpectedPublicIP(ipv6, name, None, rg, True, "managed name", key))
    return tuple(out)


def _tag(resource: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    tags = resource.get("tags") or {}
    for key in keys:
        if key in tags and tags[key] is not None:
            return str(tags[key])
    return None


def service_tag_values(public_ip: Mapping[str, Any]) -> tuple[str, ...]:
    """`namespace/name` entries of the `k8s-azure-service` tag (legacy `service`), as the provider splits them."""
    value = _tag(public_ip, _KN["public_ip_tags"]["service"]) or ""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def cluster_tag(public_ip: Mapping[str, Any]) -> str | None:
    """The `k8s-azure-cluster-name` tag (legacy `kubernetes-cluster-name`)."""
    return _tag(public_ip, _KN["public_ip_tags"]["cluster"])


def public_ips_tagged_for(
    service: Mapping[str, Any], public_ips: Iterable[Mapping[str, Any]], cluster_name: str = DEFAULT_CLUSTER_NAME
) -> list[Mapping[str, Any]]:
    """Public IPs whose service tag lists this Service and whose cluster tag (if any) is this cluster's."""
    key = kube.key(service).lower()
    out = []
    for pip in public_ips:
        if key in (v.lower() for v in service_tag_values(pip)):
            tag = cluster_tag(pip)
            if not tag or tag.lower() == cluster_name.lower():
                out.append(pip)
    return out


def find_public_ip(expected: ExpectedPublicIP, public_ips: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The public IP resource an expectation names (by name or by address, within its resource group if given)."""
    for pip in public_ips:
        if expected.resource_group and resource_group_of(str(pip.get("id") or "")).lower() != (
            expected.resource_group.lower()
        ):
            continue
        if expected.name and str(pip.get("name") or "").lower() == expected.name.lower():
            return pip
        if expected.ip and str(prop(pip, "ipAddress") or "") == expected.ip:
            return pip
    return None


# ---- the Service's frontends on actual load balancers -----------------------------------------------------


@dataclass(frozen=True)
class FrontendMatch:
    """A frontend IP configuration serving the Service, and how it was recognised.

    `how`: "name" (the Service's own frontend: the name starts with its base name), "requested-ip" / "pip-name"
    (a secondary Service sharing another Service's frontend through the IP or public IP it asks for), or
    "status-ip" (the frontend holding the Service's status IP, when nothing else matched).
    `expected_lb`: the LB has one of the names expected_lb_names gives.
    """

    lb: Mapping[str, Any]
    frontend: Mapping[str, Any]
    ipv6: bool
    how: str
    public_ip: Mapping[str, Any] | None
    expected_lb: bool

    @property
    def ip(self) -> str | None:
        """The frontend's address: its public IP's ipAddress, or its private IP."""
        if self.public_ip is not None:
            return prop(self.public_ip, "ipAddress")
        return prop(self.frontend, "privateIPAddress")

    @property
    def ref(self) -> str:
        """How evidence names it: `LB kubernetes frontend aXXXX`."""
        return f"LB {self.lb.get('name')} frontend {self.frontend.get('name')}"


def frontends_of(lb: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in prop(lb, "frontendIPConfigurations") or () if isinstance(f, Mapping)]


def lb_is_internal(lb: Mapping[str, Any]) -> bool | None:
    """Internal (private frontends), public, or None when it has no frontend to tell by."""
    if str(lb.get("name") or "").lower().endswith(INTERNAL_SUFFIX):
        return True
    kinds = {prop(f, "publicIPAddress") is None for f in frontends_of(lb)}
    return next(iter(kinds)) if len(kinds) == 1 else (False if kinds else None)


def ref_id(value: Any) -> str:
    """The id of a sub-resource reference ({"id": ...}), lower-cased for comparison; "" when absent."""
    return str(value.get("id") or "").lower() if isinstance(value, Mapping) else ""


class FrontendIndex:
    """Every LB frontend and public IP indexed once, so finding a Service's frontend is a few dict lookups
    (`cluster` runs it for thousands of Services against LBs with hundreds of frontends)."""

    _PREFIX_LENGTH = _NAMES["base_max_length"]

    def __init__(self, lbs: Iterable[Mapping[str, Any]], public_ips: Iterable[Mapping[str, Any]] = ()):
        self.pips = list(public_ips)
        self.pip_by_id = {str(p.get("id") or "").lower(): p for p in self.pips}
        self.pips_by_ip: dict[str, list[Mapping[str, Any]]] = {}
        for pip in self.pips:
            if prop(pip, "ipAddress"):
                self.pips_by_ip.setdefault(str(prop(pip, "ipAddress")), []).append(pip)
        self.frontends: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        self.by_prefix: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        self.by_private_ip: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        self.by_pip_id: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        self.internal: dict[int, bool | None] = {}
        for lb in lbs:
            self.internal[id(lb)] = lb_is_internal(lb)
            for fe in frontends_of(lb):
                pair = (lb, fe)
                self.frontends.append(pair)
                self.by_prefix.setdefault(str(fe.get("name") or "")[: self._PREFIX_LENGTH], []).append(pair)
                private = prop(fe, "privateIPAddress")
                if private:
                    self.by_private_ip.setdefault(str(private), []).append(pair)
                pip_id = ref_id(prop(fe, "publicIPAddress"))
                if pip_id:
                    self.by_pip_id.setdefault(pip_id, []).append(pair)

    def named(self, base: str) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        """Frontends whose name starts with the base name."""
        if len(base) == self._PREFIX_LENGTH:
            return list(self.by_prefix.get(base, ()))
        return [(lb, fe) for lb, fe in self.frontends if str(fe.get("name") or "").startswith(base)]

    def with_public_ips(self, pips: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        return [pair for p in pips for pair in self.by_pip_id.get(str(p.get("id") or "").lower(), ())]

    def with_ip(self, ip: str, internal: bool, rg: str | None) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        """Frontends holding the IP: as private address (internal), through a public IP (in `rg`) otherwise."""
        if internal:
            return list(self.by_private_ip.get(ip, ()))
        pips = [
            p
            for p in self.pips_by_ip.get(ip, ())
            if not rg or resource_group_of(str(p.get("id") or "")).lower() == rg.lower()
        ]
        return self.with_public_ips(pips)


def find_frontends(
    service: Mapping[str, Any],
    lbs: Iterable[Mapping[str, Any]] = (),
    public_ips: Iterable[Mapping[str, Any]] = (),
    config: ProviderConfig | None = None,
    *,
    index: FrontendIndex | None = None,
) -> tuple[FrontendMatch, ...]:
    """The frontend(s) serving the Service, on LBs of its kind (public / internal), expected LB names first.

    Own frontends match by name prefix (serviceOwnsFrontendIP); a secondary Service sharing an IP has no frontend
    of its own, so its frontend is the one whose public IP (found by the requested address or azure-pip-name) or
    private IP equals what it asks for; as a last resort, the frontend holding the status IP. Pass a prebuilt
    `index` instead of `lbs` / `public_ips` when looking up many Services.
    """
    idx = index or FrontendIndex(lbs, public_ips)
    internal = is_internal(service)
    expected = {n.lower() for n in expected_lb_names(service, config=config)}

    def matches(pairs: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]], how: str) -> tuple[FrontendMatch, ...]:
        out = []
        for lb, fe in pairs:
            if idx.internal.get(id(lb)) not in (internal, None):
                continue
            pip = idx.pip_by_id.get(ref_id(prop(fe, "publicIPAddress")))
            on_expected = str(lb.get("name") or "").lower() in expected
            out.append(FrontendMatch(lb, fe, _frontend_is_ipv6(service, fe, pip), how, pip, on_expected))
        return tuple(sorted(out, key=lambda x: not x.expected_lb))

    found = matches(idx.named(base_name(service)), "name")
    for ip in service_ips(service):
        found = found or matches(idx.with_ip(ip, internal, public_ip_resource_group(service)), "requested-ip")
    if not internal and not found:
        names = _lower(n for n in (_family_annotation(service, PIP_NAME, v6) for v6 in ip_families(service)) if n)
        found = matches(
            idx.with_public_ips(p for p in idx.pips if str(p.get("name") or "").lower() in names), "pip-name"
        )
    for ip in ingress_ips(service):
        found = found or matches(idx.with_ip(ip, internal, None), "status-ip")
    return found


def _lower(items: Iterable[str]) -> set[str]:
    return {i.lower() for i in items}


def _frontend_is_ipv6(service: Mapping[str, Any], fe: Mapping[str, Any], pip: Mapping[str, Any] | None) -> bool:
    if pip is not None and prop(pip, "publicIPAddressVersion"):
        return str(prop(pip, "publicIPAddressVersion")).lower() == "ipv6"
    private = prop(fe, "privateIPAddress")
    if private:
        return _is_ipv6(str(private))
    if is_dual_stack(service):
        return str(fe.get("name") or "").endswith(f"-{IPV6_SUFFIX}")
    return ip_families(service) == (True,)


# ---- NSG rules -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NsgAllowRule:
    """A consolidated allow rule (v1.29+): one per protocol, IP family and source set, shared across Services.

    `sources` and `ports` are sorted as the name's hash sorts them; the rule's destinations are the frontend IPs.
    """

    name: str
    protocol: str  # Tcp | Udp | *
    ip_family: str  # IPv4 | IPv6
    sources: tuple[str, ...]
    ports: tuple[str, ...]


@dataclass(frozen=True)
class NsgRuleNames:
    """The NSG rules the provider keeps for a Service: current allow and deny-all rules, legacy (≤ v1.28) names.

    `managed` False: azure-disable-load-balancer-nsg-rule is set and the provider leaves the NSG alone.
    """

    managed: bool
    allow: tuple[NsgAllowRule, ...]
    deny_all: tuple[str, ...]
    legacy: tuple[str, ...]
    invalid_ranges: tuple[str, ...]


def allow_rule_name(protocol: str, ip_family: str, sources: Iterable[str], ports: Iterable[Any]) -> str:
    """`k8s-azure-lb_allow_<family>_<md5 of "<protocol>_<sorted sources>_<sorted ports>">` (ports sorted as text)."""
    key = "_".join([protocol, ",".join(sorted(sources)), ",".join(sorted(str(p) for p in ports))])
    digest = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()
    return _NSG["separator"].join([NSG_PREFIX, _NSG["allow_word"], ip_family, digest])


def deny_all_rule_name(ip_family: str) -> str:
    return _NSG["separator"].join([NSG_PREFIX, _NSG["deny_all_word"], ip_family])


def _parse_prefix(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """netip.ParsePrefix plus the provider's "properly masked" test: a CIDR with a slash and no host bits."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


def _ranges(values: Iterable[str]) -> tuple[list[Any], list[str]]:
    valid, invalid = [], []
    for raw in values:
        text = raw.strip()
        net = _parse_prefix(text)
        if net is None:
            invalid.append(text)
        else:
            valid.append(net)
    return valid, invalid


def _access(service: Mapping[str, Any]) -> tuple[list[str], list[Any], list[Any], list[str]]:
    """(service tags, source ranges, allowed IP ranges, invalid ranges) as the provider's AccessControl reads them."""
    ann = kube.annotation_texts(service)
    tags = [t.strip() for t in ann[ALLOWED_SERVICE_TAGS].strip().split(",")] if ALLOWED_SERVICE_TAGS in ann else []
    source, bad_source = _ranges(str(r) for r in kube.spec(service).get("loadBalancerSourceRanges") or ())
    allowed: list[Any] = []
    bad_allowed: list[str] = []
    for key in (ALLOWED_IP_RANGES, SOURCE_RANGES_ANNOTATION):
        if key in ann:
            good, bad = _ranges(ann[key].strip().split(","))
            allowed += good
            bad_allowed += bad
    return tags, source, allowed, bad_source + bad_allowed


def _allow_all(nets: Sequence[Any]) -> bool:
    return any(n.prefixlen == 0 for n in nets)


def nsg_rule_names(service: Mapping[str, Any], families: Sequence[bool] | None = None) -> NsgRuleNames:
    """The NSG rules for the Service's frontends in each IP family (default: the Service's families).

    Sources: `Internet` unless source ranges / allowed ranges / service tags restrict them (an internal LB gets no
    allow rule by default: the NSG's VirtualNetwork rule admits its clients); ranges are aggregated; destination
    ports are the Service ports, or the nodePorts with floating IP disabled.
    """
    fams = tuple(families) if families is not None else ip_families(service)
    tags, source, allowed, invalid = _access(service)
    lower_internal = is_true(service, INTERNAL)
    allow_internet = (
        not tags
        and (not source or _allow_all(source))
        and (not allowed or _allow_all(allowed))
        and not invalid
        and (not lower_internal or bool(allowed or source))
    )
    sources = list(tags)
    if allow_internet and not _allow_all(allowed) and not _allow_all(source):
        sources.append(_NSG["internet_tag"])
    aggregated = list(ipaddress.collapse_addresses([n for n in source + allowed if n.version == 4])) + list(
        ipaddress.collapse_addresses([n for n in source + allowed if n.version == 6])
    )
    no_floating = is_true(service, DISABLE_FLOATING_IP)
    ports_by_protocol: dict[str, list[str]] = {}
    for port in _ports(service):
        protocol = _NSG["protocols"].get(_protocol(port), "Tcp")
        number = port.get("nodePort") if no_floating else port.get("port")
        ports_by_protocol.setdefault(protocol, []).append(str(number))
    allow: list[NsgAllowRule] = []
    for protocol in ("Tcp", "Udp", "*"):
        ports = ports_by_protocol.get(protocol)
        if not ports:
            continue
        for ipv6 in fams:
            family = "IPv6" if ipv6 else "IPv4"
            groups = [[tag] for tag in sources]
            ranges = [str(n) for n in aggregated if (n.version == 6) is ipv6]
            if ranges:
                groups.append(ranges)
            for group in groups:
                name = allow_rule_name(protocol, family, group, ports)
                allow.append(NsgAllowRule(name, protocol, family, tuple(sorted(group)), tuple(sorted(ports))))
    deny = is_true(service, DENY_ALL_EXCEPT) and bool(source or allowed)
    deny_all = tuple(deny_all_rule_name("IPv6" if v6 else "IPv4") for v6 in fams) if deny or invalid else ()
    return NsgRuleNames(
        managed=not is_true(service, DISABLE_NSG_RULE),
        allow=tuple(allow),
        deny_all=deny_all,
        legacy=_legacy_nsg_names(service, fams, allow_internet, tags, source + allowed),
        invalid_ranges=tuple(invalid),
    )


def _legacy_nsg_names(
    service: Mapping[str, Any], fams: Sequence[bool], internet: bool, tags: Sequence[str], ranges: Sequence[Any]
) -> tuple[str, ...]:
    """≤ v1.28: one rule per port and source, `<base>-<PROTOCOL>-<port>-<source>[-IPv6]` (`shared-…` when the
    azure-shared-securityrule annotation was on); "/" and ":" in the source become "_" and "."."""
    prefix = _NSG["legacy_shared_prefix"] if is_true(service, SHARED_SECURITY_RULE) else base_name(service)
    names = []
    for ipv6 in fams:
        family_sources = [_NSG["internet_tag"]] if internet else []
        family_sources += [str(n) for n in ranges if (n.version == 6) is ipv6]
        family_sources += list(tags)
        for port in _ports(service):
            for src in family_sources:
                safe = src.replace("/", "_").replace(":", ".")
                names.append(_by_family(f"{prefix}-{_protocol(port)}-{port.get('port')}-{safe}", service, ipv6))
    return tuple(dict.fromkeys(names))
