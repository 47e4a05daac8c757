"""NSG evaluation (azure/nsg.py): a table of flows against rule sets, checked against what Azure decides."""

from __future__ import annotations

import ipaddress

import pytest
from azure_builders import nsg as nsg_resource
from azure_builders import security_rule

from aksdoctor.azure import nsg
from aksdoctor.azure.nsg import AddressSpace, Flow

VNET = AddressSpace((ipaddress.ip_network("10.224.0.0/12"),), origin="test VNet")
NODE = "10.224.0.4"
FRONTEND = "20.50.10.4"
ASG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web-asg"


def flow(
    sources: str | tuple[str, ...] = "Internet", port: int = 443, dest: str = FRONTEND, proto: str = "Tcp"
) -> Flow:
    return Flow("Inbound", proto, (sources,) if isinstance(sources, str) else sources, dest, port)


def with_asg(rule: dict, side: str) -> dict:
    rule["properties"].pop(f"{side}AddressPrefix", None)
    rule["properties"][f"{side}AddressPrefixes"] = []
    rule["properties"][f"{side}ApplicationSecurityGroups"] = [{"id": ASG}]
    return rule


R = security_rule
# id, rules, flow, space, expected decisions [(rule, access, part or None)], expected unevaluated rule names
CASES = [
    ("defaults-deny-internet", [], flow(), VNET, [("DenyAllInBound", "Deny", None)], []),
    ("defaults-allow-vnet", [], flow("10.225.0.0/16", dest=NODE), VNET, [("AllowVnetInBound", "Allow", None)], []),
    (
        "defaults-probe-is-in-virtualnetwork",
        [],
        flow("AzureLoadBalancer", 31380, NODE),
        VNET,
        [("AllowVnetInBound", "Allow", None)],
        [],
    ),
    (
        "defaults-probe-outside-vnet-destination",
        [],
        flow("AzureLoadBalancer", 31380, "20.1.1.1"),
        VNET,
        [("AllowAzureLoadBalancerInBound", "Allow", None)],
        [],
    ),
    (
        "lower-number-wins-deny",
        [R("allow-https", 200, source="Internet", ports="443"), R("deny-https", 100, access="Deny", ports="443")],
        flow(),
        VNET,
        [("deny-https", "Deny", None)],
        [],
    ),
    (
        "lower-number-wins-allow",
        [R("allow-https", 100, source="Internet", ports="443"), R("deny-https", 200, access="Deny", ports="443")],
        flow(),
        VNET,
        [("allow-https", "Allow", None)],
        [],
    ),
    (
        "overlapping-cidrs-split-the-source",
        [R("deny-lab", 100, access="Deny", source="10.1.2.0/24"), R("allow-corp", 200, source="10.0.0.0/8")],
        flow("10.1.0.0/16", dest="20.50.10.4"),
        AddressSpace((ipaddress.ip_network("172.16.0.0/16"),)),
        [
            ("deny-lab", "Deny", "10.1.2.0/24"),
            (
                "allow-corp",
                "Allow",
                "10.1.0.0/23, 10.1.3.0/24, 10.1.4.0/22, 10.1.8.0/21, 10.1.16.0/20, 10.1.32.0/19 and 2 more",
            ),
        ],
        [],
    ),
    (
        "wider-deny-covers-the-source",
        [R("deny-ten", 100, access="Deny", source="10.0.0.0/8"), R("allow-lab", 200, source="10.1.2.0/24")],
        flow("10.1.2.0/24"),
        VNET,
        [("deny-ten", "Deny", None)],
        [],
    ),
    (
        "single-ip-prefix",
        [R("allow-one", 300, source="203.0.113.7")],
        flow("203.0.113.7"),
        VNET,
        [("allow-one", "Allow", None)],
        [],
    ),
    (
        "internet-tag-covers-public-ranges",
        [R("allow-web", 300, source="Internet", ports="443")],
        flow("198.51.100.0/24"),
        VNET,
        [("allow-web", "Allow", None)],
        [],
    ),
    (
        "private-range-outside-the-vnet-is-not-internet",
        [R("allow-web", 300, source="Internet", ports="443")],
        flow("192.168.5.0/24"),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "classic-tag-spelling",
        [R("allow-web", 300, source="INTERNET", ports="443")],
        flow(),
        VNET,
        [("allow-web", "Allow", None)],
        [],
    ),
    (
        "internet-minus-a-block-list",
        [R("deny-bad", 100, access="Deny", source="198.51.100.0/24"), R("allow-web", 300, source="Internet")],
        flow(),
        VNET,
        [("deny-bad", "Deny", "198.51.100.0/24"), ("allow-web", "Allow", None)],
        [],
    ),
    (
        "other-service-tag-is-reported-not-matched",
        [R("deny-storage", 100, access="Deny", source="Storage"), R("allow-web", 300, source="Internet")],
        flow(),
        VNET,
        [("allow-web", "Allow", None)],
        ["deny-storage"],
    ),
    (
        "tag-source-matched-by-name",
        [R("allow-afd", 500, source="AzureFrontDoor.Backend", ports="443")],
        flow("AzureFrontDoor.Backend"),
        VNET,
        [("allow-afd", "Allow", "AzureFrontDoor.Backend")],
        [],
    ),
    (
        "tag-source-matched-by-parent-tag",
        [R("allow-storage", 500, source="Storage")],
        flow("Storage.WestEurope"),
        VNET,
        [("allow-storage", "Allow", "Storage.WestEurope")],
        [],
    ),
    (
        "tag-source-against-internet-cannot-be-told",
        [
            R("deny-internet", 100, access="Deny", source="Internet"),
            R("allow-afd", 500, source="AzureFrontDoor.Backend"),
        ],
        flow("AzureFrontDoor.Backend"),
        VNET,
        [("allow-afd", "Allow", "AzureFrontDoor.Backend")],
        ["deny-internet"],
    ),
    (
        "port-range-inside",
        [R("allow-range", 300, ports="8000-8100")],
        flow(port=8080),
        VNET,
        [("allow-range", "Allow", None)],
        [],
    ),
    (
        "port-range-outside",
        [R("allow-range", 300, ports="8000-8100")],
        flow(port=8101),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "port-list",
        [R("allow-list", 300, ports=["80", "443", "9000-9010"])],
        flow(),
        VNET,
        [("allow-list", "Allow", None)],
        [],
    ),
    (
        "port-list-miss",
        [R("allow-list", 300, ports=["80", "8443"])],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "plural-source-prefixes",
        [R("allow-corp", 300, source=["198.51.100.0/24", "203.0.113.0/24"])],
        flow("203.0.113.0/25"),
        VNET,
        [("allow-corp", "Allow", None)],
        [],
    ),
    (
        "plural-prefixes-cover-part",
        [R("allow-corp", 300, source=["203.0.113.0/25"])],
        flow(("203.0.113.0/24",)),
        VNET,
        [("allow-corp", "Allow", "203.0.113.0/25"), ("DenyAllInBound", "Deny", "203.0.113.128/25")],
        [],
    ),
    (
        "custom-deny-all-beats-default-vnet-allow",
        [R("deny-everything", 4096, access="Deny", protocol="*")],
        flow("VirtualNetwork", dest="10.224.1.10"),
        VNET,
        [("deny-everything", "Deny", None)],
        [],
    ),
    (
        "source-asg-cannot-be-evaluated",
        [with_asg(R("allow-asg", 300), "source")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        ["allow-asg"],
    ),
    (
        "destination-asg-cannot-be-evaluated",
        [with_asg(R("allow-to-asg", 300), "destination")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        ["allow-to-asg"],
    ),
    (
        "udp-rule-skips-tcp",
        [R("allow-dns", 300, protocol="Udp", ports="443")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "any-protocol-rule",
        [R("allow-any", 300, protocol="*", ports="443")],
        flow(),
        VNET,
        [("allow-any", "Allow", None)],
        [],
    ),
    (
        "icmp-rule-skips-tcp",
        [R("allow-ping", 300, protocol="Icmp")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "source-port-limited-rule-is-reported",
        [R("allow-high-ports", 300, source_ports="1024-65535")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        ["allow-high-ports"],
    ),
    (
        "outbound-rule-ignored",
        [R("allow-out", 100, direction="Outbound")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "destination-ip-must-match",
        [R("allow-other-ip", 300, destination="20.50.10.5")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "public-frontend-is-not-virtualnetwork",
        [R("allow-to-vnet", 300, source="Internet", destination="VirtualNetwork")],
        flow(),
        VNET,
        [("DenyAllInBound", "Deny", None)],
        [],
    ),
    (
        "ipv6-internet",
        [R("allow-v4-any", 200, source="0.0.0.0/0"), R("allow-v6-web", 300, source="Internet")],
        flow("2001:db8::/32", dest="2603:1030:20c::5"),
        VNET,
        [("allow-v6-web", "Allow", None)],
        [],
    ),
    (
        "ipv6-deny-all",
        [R("deny-v6", 100, access="Deny", source="::/0", destination="*"), R("allow-v6-web", 300, source="Internet")],
        flow("Internet", dest="2603:1030:20c::5"),
        VNET,
        [("deny-v6", "Deny", None)],
        [],
    ),
    (
        "ipv6-probe-matched-by-tag-name-only",
        [R("deny-vnet", 100, access="Deny", source="VirtualNetwork")],
        flow("AzureLoadBalancer", 31380, "fd00:10:224::4"),
        VNET,
        [("AllowAzureLoadBalancerInBound", "Allow", "AzureLoadBalancer")],
        ["deny-vnet"],
    ),
]


@pytest.mark.parametrize(
    ("rules", "the_flow", "space", "decisions", "unevaluated"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_evaluation_table(rules, the_flow, space, decisions, unevaluated):
    verdict = nsg.evaluate(nsg.parse_nsg(nsg_resource(rules=rules)), the_flow, space, level="subnet")
    got = [(d.rule.name, d.rule.access, d.part()) for d in verdict.decisions]
    assert [(n, a) for n, a, _ in got] == [(n, a) for n, a, _ in decisions]
    for (_, _, part), (_, _, expected) in zip(got, decisions, strict=True):
        if expected is not None:
            assert part == expected
    assert [u.rule.name for u in verdict.unevaluated] == unevaluated
    assert verdict.allowed is all(a == "Allow" for _, a, _ in decisions)


def test_partial_verdict_names_the_first_denying_rule():
    rules = [R("deny-bad", 100, access="Deny", source="198.51.100.0/24"), R("allow-web", 300, source="Internet")]
    verdict = nsg.evaluate(nsg.parse_nsg(nsg_resource(rules=rules)), flow(), VNET)
    assert not verdict.allowed and verdict.partial
    assert verdict.blocking.rule.name == "deny-bad"
    assert verdict.blocking.rule.id.endswith("/networkSecurityGroups/aks-agentpool-31415926-nsg/securityRules/deny-bad")


def test_doubts_are_unevaluated_denies_before_the_allow():
    rules = [R("deny-storage", 100, access="Deny", source="Storage"), R("allow-web", 300, source="Internet")]
    verdict = nsg.evaluate(nsg.parse_nsg(nsg_resource(rules=rules)), flow(), VNET)
    assert verdict.allowed
    assert [u.rule.name for u in verdict.doubts] == ["deny-storage"]
    assert verdict.doubts[0].why == "source service tag Storage cannot be expanded offline"


def test_path_needs_an_allow_at_every_level_and_a_missing_nsg_passes():
    subnet = nsg.parse_nsg(nsg_resource("subnet-nsg", [R("allow-web", 100, source="Internet", ports="443")]))
    nic = nsg.parse_nsg(nsg_resource("nic-nsg"))
    path = nsg.evaluate_path(flow(), nsg.path_levels("Inbound", subnet, nic), VNET)
    assert [v.level for v in path.verdicts] == ["subnet", "NIC"]
    assert not path.allowed
    assert [(v.level, v.blocking.rule.name) for v in path.blocked] == [("NIC", "DenyAllInBound")]
    open_path = nsg.evaluate_path(flow(), nsg.path_levels("Inbound", subnet, None), VNET)
    assert open_path.allowed
    assert open_path.verdicts[1].nsg is None and open_path.verdicts[1].decisions == ()
    assert [lvl for lvl, _ in nsg.path_levels("Outbound", subnet, nic)] == ["NIC", "subnet"]


def test_default_rules_in_the_object_are_used_and_missing_ones_added():
    given = nsg_resource(rules=[R("allow-web", 100, ports="443")])
    given["properties"]["defaultSecurityRules"] = [
        {
            "name": "DenyAllInBound",
            "id": given["id"] + "/defaultSecurityRules/DenyAllInBound",
            "properties": {
                "protocol": "*",
                "sourcePortRange": "*",
                "destinationPortRange": "*",
                "sourceAddressPrefix": "*",
                "destinationAddressPrefix": "*",
                "access": "Deny",
                "priority": 65500,
                "direction": "Inbound",
            },
        }
    ]
    parsed = nsg.parse_nsg(given)
    assert not parsed.defaults_added
    assert [r.name for r in parsed.rules if r.direction == "Inbound"] == ["allow-web", "DenyAllInBound"]
    added = nsg.parse_nsg(nsg_resource())
    assert added.defaults_added
    assert [(r.name, r.priority) for r in added.rules] == [
        ("AllowVnetInBound", 65000),
        ("AllowAzureLoadBalancerInBound", 65001),
        ("DenyAllInBound", 65500),
        ("AllowVnetOutBound", 65000),
        ("AllowInternetOutBound", 65001),
        ("DenyAllOutBound", 65500),
    ]
    assert added.rules[2].id.endswith("/defaultSecurityRules/DenyAllInBound")


def test_az_flattened_rules():
    """`az network nsg show` prints rule fields at the top of each rule, and priorities may come as text."""
    flattened = {
        "name": "byo-nsg",
        "id": "/subscriptions/s/resourceGroups/net-rg/providers/Microsoft.Network/networkSecurityGroups/byo-nsg",
        "type": "Microsoft.Network/networkSecurityGroups",
        "resourceGroup": "net-rg",
        "securityRules": [
            {
                "name": "deny-web",
                "access": "Deny",
                "direction": "Inbound",
                "priority": "150",
                "protocol": "Tcp",
                "sourceAddressPrefix": "",
                "sourceAddressPrefixes": ["198.51.100.0/24", "203.0.113.0/24"],
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRanges": ["80", "443"],
            }
        ],
    }
    parsed = nsg.parse_nsg(flattened)
    assert parsed.resource_group == "net-rg"
    verdict = nsg.evaluate(parsed, flow("203.0.113.0/24"), VNET)
    assert verdict.blocking.rule.name == "deny-web"
    assert verdict.blocking.rule.describe() == (
        "priority=150 access=Deny direction=Inbound protocol=Tcp source=198.51.100.0/24,203.0.113.0/24 "
        "destination=* ports=80,443"
    )


def test_address_space_from_vnet_with_peerings():
    vnet = {
        "name": "hub",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
            "virtualNetworkPeerings": [{"properties": {"remoteAddressSpace": {"addressPrefixes": ["172.20.0.0/16"]}}}],
        },
    }
    space = AddressSpace.of_vnet(vnet)
    assert not space.assumed
    assert space.origin == "VNet hub (10.224.0.0/12, 172.20.0.0/16, with 1 peering(s))"
    assert ipaddress.ip_network("168.63.129.16/32") in space.expand("VirtualNetwork", 4)
    internet = space.expand("Internet", 4)
    assert not any(n.overlaps(ipaddress.ip_network("172.20.0.0/16")) for n in internet)
    assert not any(n.overlaps(ipaddress.ip_network("168.63.129.16/32")) for n in internet)
    assert space.expand("Storage", 4) is None
    assumed = AddressSpace.assumed_private()
    assert assumed.assumed and "10.0.0.0/8" in assumed.origin


def test_free_priority_below_the_blocking_rule():
    parsed = nsg.parse_nsg(nsg_resource(rules=[R("a", 150), R("b", 149), R("c", 148, direction="Outbound")]))
    assert nsg.free_priority(parsed, "Inbound", 150) == 148
    assert nsg.free_priority(parsed, "Inbound", 65500) == 4096
    full = nsg.parse_nsg(nsg_resource(rules=[R("x", 100)]))
    assert nsg.free_priority(full, "Inbound", 100) is None


def test_address_set_arithmetic_matches_address_by_address():
    """Intersection and difference of CIDR sets, checked against plain sets of addresses in a /24."""
    import random

    rng = random.Random(7)
    base = int(ipaddress.ip_address("10.0.0.0"))

    def random_set() -> tuple[list[ipaddress.IPv4Network], set[int]]:
        nets = []
        for _ in range(rng.randint(0, 5)):
            prefix = rng.randint(25, 32)
            start = base + rng.randrange(0, 256, 2 ** (32 - prefix))
            nets.append(ipaddress.ip_network(f"{ipaddress.ip_address(start)}/{prefix}"))
        return nets, {int(a) for n in nets for a in n}

    for _ in range(300):
        (a_nets, a), (b_nets, b) = random_set(), random_set()
        ra, rb = nsg._ranges(a_nets), nsg._ranges(b_nets)
        for got, want in ((nsg._intersect(ra, rb), a & b), (nsg._subtract(ra, rb), a - b)):
            assert {x for first, last in got for x in range(first, last + 1)} == want
            assert all(nsg._contains(got, x) for x in want)
