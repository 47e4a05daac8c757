"""Network security group rules evaluated the way Azure evaluates them (pure functions, no API calls).

"Is port 443 open?" is not answered by finding an allow rule. Azure takes the rules of one direction in priority
order (lowest number first) and the first rule whose protocol, source, source port, destination and destination
port all match decides; the default rules (65000-65500) end every NSG; inbound traffic crosses the subnet's NSG and
then the NIC's (outbound the other way round) and needs an Allow at each; a level without an NSG lets it through.

A flow's source is an address set (an IP, CIDRs, or a service tag such as Internet), not one address: rules may
allow part of it and deny the rest. Each matching rule takes the part of the still-undecided source it covers
(exact CIDR arithmetic), so a verdict says which rule decided which addresses. Internet, VirtualNetwork and
AzureLoadBalancer are expanded from an `AddressSpace` (the VNet's prefixes, or the private ranges when the VNet is
unknown); other service tags and application security groups cannot be expanded offline, so a rule using them is
treated as not matching and listed in `Verdict.unevaluated`, as is a rule limited to some source ports.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aksdoctor import knowledge
from aksdoctor.azure.resources import arm_field, resource_group_of
from aksdoctor.text import names_text

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

INBOUND, OUTBOUND = "Inbound", "Outbound"
ALLOW, DENY = "Allow", "Deny"
SUBNET, NIC = "subnet", "NIC"

_DATA = knowledge.load("service_tags")
_TAGS = _DATA["tags"]
INTERNET: str = _TAGS["internet"]
VIRTUAL_NETWORK: str = _TAGS["virtual_network"]
AZURE_LOAD_BALANCER: str = _TAGS["azure_load_balancer"]
_CANONICAL = {name.lower(): name for name in _TAGS.values()} | {k.lower(): v for k, v in _DATA["aliases"].items()}
_WILDCARDS = frozenset(w.lower() for w in _DATA["wildcards"])
_ANY_PORTS = frozenset(p.lower() for p in _DATA["any_port_ranges"])
CUSTOM_PRIORITIES: tuple[int, int] = tuple(_DATA["custom_priority_range"])
_MAX = {4: 2**32 - 1, 6: 2**128 - 1}
_ADDRESS = {4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}

# An address set of one IP family: sorted, disjoint, non-adjacent inclusive (first, last) integer intervals. Set
# operations are linear merges, which keeps Internet (74 CIDRs) against hundreds of rules cheap.
Ranges = tuple[tuple[int, int], ...]


def _of(version: int, nets: Iterable[Network]) -> list[Network]:
    return [n for n in nets if n.version == version]


# ---- address sets ------------------------------------------------------------------------------------------------


def _merge(intervals: Iterable[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for first, last in sorted(intervals):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return tuple(out)


def _ranges(nets: Iterable[Network]) -> Ranges:
    return _merge((int(n.network_address), int(n.broadcast_address)) for n in nets)


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            out.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    j = 0
    for first, last in a:
        while j < len(b) and b[j][1] < first:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= last:
            if b[k][0] > first:
                out.append((first, b[k][0] - 1))
            first = max(first, b[k][1] + 1)
            k += 1
        if first <= last:
            out.append((first, last))
    return tuple(out)


def _contains(ranges: Ranges, address: int) -> bool:
    index = bisect.bisect_right(ranges, (address, _MAX[6])) - 1
    return index >= 0 and ranges[index][0] <= address <= ranges[index][1]


def _cidrs(ranges: Ranges, version: int) -> list[Network]:
    make = _ADDRESS[version]
    return [net for first, last in ranges for net in ipaddress.summarize_address_range(make(first), make(last))]


def _describe(nets: Sequence[Network], cap: int = 6) -> str:
    return names_text([str(n) for n in nets], cap)


@functools.lru_cache(maxsize=8192)
def _literal(prefixes: tuple[str, ...], version: int) -> tuple[Ranges, bool, tuple[str, ...]]:
    """Prefixes of one family as ranges, whether "*" (or a /0) is among them, and the texts that are not addresses
    (service tags). Cached: the provider's rules carry hundreds of destination IPs, evaluated for every flow."""
    nets: list[Network] = []
    tags: list[str] = []
    everything = False
    for text in prefixes:
        if text.lower() in _WILDCARDS:
            everything = True
            continue
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            tags.append(text)
            continue
        if net.version == version:
            everything = everything or net.prefixlen == 0
            nets.append(net)
    return _ranges(nets), everything, tuple(tags)


# ---- what the tags stand for -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressSpace:
    """What the VirtualNetwork tag means where a flow is evaluated: the VNet's address space, its peered VNets'
    spaces and the Azure host address (168.63.129.16). `assumed`: the VNet was not known and the private ranges
    stand in for it (say so in findings). Internet is every public address outside VirtualNetwork.

    Not known offline, hence not included: on-premises prefixes learned through a gateway and user-defined-route
    prefixes (a 0.0.0.0/0 route to an appliance makes VirtualNetwork cover everything).
    """

    virtual_network: tuple[Network, ...]
    assumed: bool = False
    origin: str = ""

    @classmethod
    def of_vnet(cls, vnet: Mapping[str, Any]) -> AddressSpace:
        """From a VNet resource (REST or az shape): addressSpace plus every peering's remote address space."""
        texts = list(_prefixes(arm_field(vnet, "addressSpace")))
        peerings = arm_field(vnet, "virtualNetworkPeerings") or ()
        for peering in peerings:
            for key in ("remoteAddressSpace", "remoteVirtualNetworkAddressSpace"):
                texts += _prefixes(arm_field(peering, key))
        nets = _valid_networks(texts)
        origin = f"VNet {vnet.get('name')} ({_describe(_collapse_all(nets))}"
        origin += f", with {len(peerings)} peering(s))" if peerings else ")"
        return cls(tuple(nets), False, origin)

    @classmethod
    def assumed_private(cls) -> AddressSpace:
        nets = tuple(_valid_networks(_DATA["assumed_virtual_network"]))
        return cls(nets, True, f"assumed private ranges {_describe(list(nets))} (VNet not known)")

    @functools.cached_property
    def _expanded(self) -> dict[tuple[str, int], Ranges]:
        host = _valid_networks(_DATA["host_addresses"])
        lb = _valid_networks(_DATA["azure_load_balancer"])
        out: dict[tuple[str, int], Ranges] = {}
        for version in (4, 6):
            vnet = _ranges([*_of(version, self.virtual_network), *_of(version, host)])
            public = _subtract(((0, _MAX[version]),), _ranges(_of(version, _valid_networks(_DATA["not_internet"]))))
            out[(VIRTUAL_NETWORK, version)] = vnet
            out[(INTERNET, version)] = _subtract(public, vnet)
            if _of(version, lb):
                out[(AZURE_LOAD_BALANCER, version)] = _ranges(_of(version, lb))
        return out

    def ranges(self, tag: str, version: int) -> Ranges | None:
        canonical = _CANONICAL.get(tag.lower())
        return self._expanded.get((canonical, version)) if canonical else None

    def expand(self, tag: str, version: int) -> tuple[Network, ...] | None:
        """The addresses of a tag in one IP family as CIDRs; None when the tag cannot be expanded offline."""
        found = self.ranges(tag, version)
        return None if found is None else tuple(_cidrs(found, version))


def _collapse_all(nets: Iterable[Network]) -> list[Network]:
    return [*ipaddress.collapse_addresses(_of(4, nets)), *ipaddress.collapse_addresses(_of(6, nets))]


def _prefixes(space: Any) -> list[str]:
    if not isinstance(space, Mapping):
        return []
    return [str(p) for p in arm_field(space, "addressPrefixes") or ()]


def _valid_networks(texts: Iterable[str]) -> list[Network]:
    """The texts that are CIDRs or addresses, as networks (others are skipped)."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            continue
    return out


# ---- rules ---------------------------------------------------------------------------------------------------


def _texts(obj: Mapping[str, Any], singular: str, plural: str) -> tuple[str, ...]:
    """A rule's singular and plural forms together (ARM fills one of them; the other is "" or [])."""
    one = arm_field(obj, singular)
    many = arm_field(obj, plural) or ()
    values = ([str(one)] if one not in (None, "") else []) + [str(v) for v in many if v not in (None, "")]
    return tuple(dict.fromkeys(v.strip() for v in values))


def _ids(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    return tuple(str(a.get("id") or "") for a in arm_field(obj, name) or () if isinstance(a, Mapping))


@dataclass(frozen=True)
class SecurityRule:
    """One security rule with singular and plural fields merged (`sources` holds sourceAddressPrefix(es))."""

    name: str
    id: str
    priority: int
    direction: str
    access: str
    protocol: str
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    source_ports: tuple[str, ...]
    destination_ports: tuple[str, ...]
    source_asgs: tuple[str, ...] = ()
    destination_asgs: tuple[str, ...] = ()
    default: bool = False

    @property
    def allows(self) -> bool:
        return self.access.lower() == ALLOW.lower()

    def describe(self) -> str:
        """`priority=100 access=Deny direction=Inbound protocol=Tcp source=Internet destination=* ports=443`."""
        source = ",".join(self.sources) or ",".join(_asg_names(self.source_asgs)) or "-"
        destination = ",".join(self.destinations) or ",".join(_asg_names(self.destination_asgs)) or "-"
        text = (
            f"priority={self.priority} access={self.access} direction={self.direction} protocol={self.protocol} "
            f"source={source} destination={destination} ports={','.join(self.destination_ports) or '-'}"
        )
        if not _any_port(self.source_ports):
            text += f" sourcePorts={','.join(self.source_ports)}"
        return text + (" (default rule)" if self.default else "")


def _asg_names(ids: Sequence[str]) -> list[str]:
    return [f"ASG {i.rstrip('/').rsplit('/', 1)[-1]}" for i in ids]


def parse_rule(rule: Mapping[str, Any], *, nsg_id: str = "", default: bool = False) -> SecurityRule:
    name = str(rule.get("name") or "")
    collection = "defaultSecurityRules" if default else "securityRules"
    try:
        priority = int(arm_field(rule, "priority"))
    except (TypeError, ValueError):
        priority = 65535  # never written by ARM; sorts such a rule last
    return SecurityRule(
        name=name,
        id=str(rule.get("id") or (f"{nsg_id}/{collection}/{name}" if nsg_id else name)),
        priority=priority,
        direction=str(arm_field(rule, "direction") or ""),
        access=str(arm_field(rule, "access") or ""),
        protocol=str(arm_field(rule, "protocol") or "*"),
        sources=_texts(rule, "sourceAddressPrefix", "sourceAddressPrefixes"),
        destinations=_texts(rule, "destinationAddressPrefix", "destinationAddressPrefixes"),
        source_ports=_texts(rule, "sourcePortRange", "sourcePortRanges") or ("*",),
        destination_ports=_texts(rule, "destinationPortRange", "destinationPortRanges"),
        source_asgs=_ids(rule, "sourceApplicationSecurityGroups"),
        destination_asgs=_ids(rule, "destinationApplicationSecurityGroups"),
        default=default,
    )


def _default_rules(nsg_id: str) -> list[SecurityRule]:
    return [
        SecurityRule(
            name=r["name"],
            id=f"{nsg_id}/defaultSecurityRules/{r['name']}",
            priority=r["priority"],
            direction=r["direction"],
            access=r["access"],
            protocol="*",
            sources=(r["source"],),
            destinations=(r["destination"],),
            source_ports=("*",),
            destination_ports=("*",),
            default=True,
        )
        for r in _DATA["default_rules"]
    ]


@dataclass(frozen=True, eq=False)
class NetworkSecurityGroup:
    """An NSG's rules in evaluation order (custom and default, by direction then priority).

    `defaults_added`: the object carried no defaultSecurityRules (az output trimmed, hand-written snapshot), so
    Azure's fixed defaults were appended. Compared by identity: parse each NSG once and reuse it.
    """

    id: str
    name: str
    rules: tuple[SecurityRule, ...]
    defaults_added: bool = False

    @property
    def resource_group(self) -> str:
        return resource_group_of(self.id)

    def priorities(self, direction: str) -> frozenset[int]:
        return frozenset(r.priority for r in self.rules if r.direction.lower() == direction.lower())

    def rule_named(self, name: str) -> SecurityRule | None:
        return next((r for r in self.rules if r.name.lower() == name.lower()), None)


def parse_nsg(resource: Mapping[str, Any]) -> NetworkSecurityGroup:
    nsg_id = str(resource.get("id") or "")
    rules = [parse_rule(r, nsg_id=nsg_id) for r in arm_field(resource, "securityRules") or () if isinstance(r, Mapping)]
    defaults = [
        parse_rule(r, nsg_id=nsg_id, default=True)
        for r in arm_field(resource, "defaultSecurityRules") or ()
        if isinstance(r, Mapping)
    ]
    added = not defaults
    ordered = sorted([*rules, *(defaults or _default_rules(nsg_id))], key=lambda r: (r.direction.lower(), r.priority))
    return NetworkSecurityGroup(nsg_id, str(resource.get("name") or ""), tuple(ordered), added)


# ---- matching ------------------------------------------------------------------------------------------------


def _any_port(ranges: Sequence[str]) -> bool:
    return not ranges or any(r.lower() in _ANY_PORTS for r in ranges)


def _port_range(text: str) -> tuple[int, int] | None:
    """ "80" -> (80, 80), "8000-8100" -> (8000, 8100), "*" -> (0, 65535); None when unreadable."""
    if text.lower() in _ANY_PORTS:
        return 0, 65535
    low, _, high = text.partition("-")
    try:
        start, end = int(low), int(high or low)
    except ValueError:
        return None
    return (start, end) if 0 <= start <= end <= 65535 else None


@functools.lru_cache(maxsize=8192)
def _port_ranges(ranges: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    if not ranges:
        return ((0, 65535),)
    return tuple(r for r in map(_port_range, ranges) if r is not None)


def port_matches(ranges: Sequence[str], port: int) -> bool:
    """Whether a port lies in any of the ranges ("*", "80", "8000-8100"); unreadable entries match nothing."""
    return any(low <= port <= high for low, high in _port_ranges(tuple(ranges)))


def protocol_matches(rule_protocol: str, protocol: str) -> bool:
    return rule_protocol.strip() == "*" or rule_protocol.strip().lower() == protocol.strip().lower()


@dataclass(frozen=True)
class _Prefixes:
    """A rule's address prefixes resolved for one IP family: addresses, and what could not be expanded."""

    ranges: Ranges
    everything: bool  # "*" (or a /0 of the family)
    tags: tuple[str, ...]  # tag names as written (for comparing with tag sources)
    unknown: tuple[str, ...]  # service tags and ASGs that cannot be expanded


def _resolve(prefixes: tuple[str, ...], asgs: Sequence[str], space: AddressSpace, version: int) -> _Prefixes:
    ranges, everything, tags = _literal(prefixes, version)
    unknown = [f"application security group {a.rstrip('/').rsplit('/', 1)[-1]}" for a in asgs]
    for tag in tags:
        expanded = space.ranges(tag, version)
        if expanded is None:
            unknown.append(f"service tag {tag}")
        else:
            ranges = _merge([*ranges, *expanded])
    return _Prefixes(ranges, everything, tags, tuple(unknown))


def _tag_within(tag: str, resolved: _Prefixes) -> bool | None:
    """Whether all addresses of a tag that cannot be expanded fall in a rule's prefixes: True for "*" and for the
    same tag or its parent (Storage covers Storage.WestEurope); None (cannot tell) for any other prefix."""
    if resolved.everything:
        return True
    for written in resolved.tags:
        if tag.lower() == written.lower() or tag.lower().startswith(written.lower() + "."):
            return True
    return None if (resolved.ranges or resolved.unknown or resolved.tags) else False


# ---- flows and verdicts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """Traffic to judge: direction, protocol (Tcp, Udp, Icmp, Esp, Ah), sources (IPs, CIDRs or service tags, taken
    together), one destination IP and the destination port. The source port is unknown (clients pick one)."""

    direction: str
    protocol: str
    sources: tuple[str, ...]
    destination: str
    port: int

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.destination).version

    def describe(self) -> str:
        """`TCP 443 from Internet to 20.50.10.4`."""
        return f"{self.protocol.upper()} {self.port} from {', '.join(self.sources)} to {self.destination}"


@dataclass(frozen=True)
class Decision:
    """A rule that decided part of a flow's source: addresses (`ranges` of IP `version`), or a `tag` that cannot be
    expanded."""

    rule: SecurityRule
    ranges: Ranges = ()
    version: int = 4
    tag: str = ""

    @property
    def networks(self) -> list[Network]:
        return _cidrs(self.ranges, self.version)

    @property
    def allows(self) -> bool:
        return self.rule.allows

    def part(self) -> str:
        """Which sources the rule decided, for findings."""
        if self.tag:
            return self.tag
        return _describe(self.networks)


@dataclass(frozen=True)
class Unevaluated:
    """A rule that matched the flow's protocol and port but could not be judged (and was treated as not matching)."""

    rule: SecurityRule
    why: str


@dataclass(frozen=True)
class Verdict:
    """What one NSG does with a flow; `nsg` None: no NSG at this level, everything passes."""

    level: str
    nsg: NetworkSecurityGroup | None
    decisions: tuple[Decision, ...] = ()
    unevaluated: tuple[Unevaluated, ...] = ()

    @property
    def allowed(self) -> bool:
        return all(d.allows for d in self.decisions)

    @property
    def denials(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if not d.allows)

    @property
    def blocking(self) -> Decision | None:
        """The first (highest-priority) rule that denies some or all of the flow."""
        return next(iter(self.denials), None)

    @property
    def partial(self) -> bool:
        """Some sources are allowed and others denied."""
        return bool(self.denials) and any(d.allows for d in self.decisions)

    @property
    def doubts(self) -> tuple[Unevaluated, ...]:
        """Unevaluated Deny rules placed before an Allow that decided: if they match, the flow is blocked."""
        allowing = [d.rule.priority for d in self.decisions if d.allows]
        if not allowing:
            return ()
        last = max(allowing)
        return tuple(u for u in self.unevaluated if not u.rule.allows and u.rule.priority < last)


@dataclass(frozen=True)
class PathVerdict:
    """A flow through every NSG on its path (each judged on the whole flow, so every blocking NSG is named)."""

    flow: Flow
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return all(v.allowed for v in self.verdicts)

    @property
    def blocked(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.allowed)


def _expand_sources(flow: Flow, space: AddressSpace) -> tuple[Ranges, list[str]]:
    """A flow's sources as addresses of its family, and the tags that cannot be expanded."""
    ranges, everything, tags = _literal(flow.sources, flow.version)
    if everything:
        ranges = ((0, _MAX[flow.version]),)
    opaque: list[str] = []
    for tag in tags:
        expanded = space.ranges(tag, flow.version)
        if expanded is None:
            opaque.append(tag)
        else:
            ranges = _merge([*ranges, *expanded])
    return ranges, opaque


def evaluate(nsg: NetworkSecurityGroup | None, flow: Flow, space: AddressSpace, *, level: str = "") -> Verdict:
    """Which rules of the NSG decide the flow, for which part of its sources (first match by priority wins)."""
    if nsg is None:
        return Verdict(level, None)
    version = flow.version
    destination = int(ipaddress.ip_address(flow.destination))
    remaining, pending = _expand_sources(flow, space)
    decisions: list[Decision] = []
    unevaluated: list[Unevaluated] = []
    for rule in nsg.rules:
        if not remaining and not pending:
            break
        if rule.direction.lower() != flow.direction.lower() or not protocol_matches(rule.protocol, flow.protocol):
            continue
        if not port_matches(rule.destination_ports, flow.port):
            continue
        if not _any_port(rule.source_ports):
            unevaluated.append(Unevaluated(rule, f"applies only to source ports {','.join(rule.source_ports)}"))
            continue
        dest = _resolve(rule.destinations, rule.destination_asgs, space, version)
        if not (dest.everything or _contains(dest.ranges, destination)):
            if dest.unknown:
                why = f"destination {', '.join(dest.unknown)} cannot be expanded offline"
                unevaluated.append(Unevaluated(rule, why))
            continue
        src = _resolve(rule.sources, rule.source_asgs, space, version)
        if remaining:
            covered = remaining if src.everything else _intersect(remaining, src.ranges)
            if covered:
                decisions.append(Decision(rule, covered, version))
                remaining = () if covered == remaining else _subtract(remaining, covered)
            if remaining and src.unknown:
                why = f"source {', '.join(src.unknown)} cannot be expanded offline"
                unevaluated.append(Unevaluated(rule, why))
        for tag in list(pending):
            within = _tag_within(tag, src)
            if within:
                decisions.append(Decision(rule, tag=tag))
                pending.remove(tag)
            elif within is None:
                why = f"cannot tell whether service tag {tag} lies within {', '.join(rule.sources) or 'its sources'}"
                unevaluated.append(Unevaluated(rule, why))
    return Verdict(level, nsg, tuple(decisions), tuple(unevaluated))


def path_levels(
    direction: str, subnet_nsg: NetworkSecurityGroup | None, nic_nsg: NetworkSecurityGroup | None
) -> tuple[tuple[str, NetworkSecurityGroup | None], ...]:
    """The NSGs a flow crosses, in order: subnet then NIC inbound, NIC then subnet outbound."""
    levels = ((SUBNET, subnet_nsg), (NIC, nic_nsg))
    return levels if direction.lower() == INBOUND.lower() else levels[::-1]


def evaluate_path(
    flow: Flow, levels: Sequence[tuple[str, NetworkSecurityGroup | None]], space: AddressSpace
) -> PathVerdict:
    """The flow at every level (see `path_levels`); it passes only if every NSG allows it."""
    return PathVerdict(flow, tuple(evaluate(nsg, flow, space, level=level) for level, nsg in levels))


def free_priority(nsg: NetworkSecurityGroup, direction: str, before: int) -> int | None:
    """The highest custom priority below `before` that no rule of that direction uses; None when none is left."""
    low, high = CUSTOM_PRIORITIES
    used = nsg.priorities(direction)
    for priority in range(min(before - 1, high), low - 1, -1):
        if priority not in used:
            return priority
    return None
