"""Service → Azure mapping, checked against cloud-provider-azure's own naming rules and test vectors.

Name vectors marked "provider test" are the expectations of cloud-provider-azure's unit tests
(TestGetFrontendIPConfigName, TestGetLoadBalancingRuleName, TestGetPublicIPName, securitygroup tests).
"""

from __future__ import annotations

import hashlib

import pytest
from azure_builders import load_balancer, managed_public_ip, public_ip, res_id, subnet_id
from builders import service

from aksdoctor.azure import mapping as m

P = "service.beta.kubernetes.io/"
UID = "257b9655-5137-4ad2-b091-ef3f07043ad3"
BASE = "a257b965551374ad2b091ef3f07043ad"


def svc(name="web", *, uid=UID, annotations=None, families=None, **kw):
    made = service(name, annotations=annotations, **kw)
    made["metadata"]["uid"] = uid
    if families:
        made["spec"]["ipFamilies"] = list(families)
    return made


def internal(subnet=None, **kw):
    ann = {P + "azure-load-balancer-internal": "true", **kw.pop("annotations", {})}
    if subnet is not None:
        ann[P + "azure-load-balancer-internal-subnet"] = subnet
    return svc(annotations=ann, **kw)


# ---- base name, internal, LB names ------------------------------------------------------------------------


def test_base_name_is_a_plus_31_hex_characters():
    assert m.base_name(svc(uid="eb4d9e3f-07eb-11e8-bb1d-000d3a19c1da")) == "aeb4d9e3f07eb11e8bb1d000d3a19c1d"
    assert m.base_name(svc(uid="uid")) == "auid"
    assert len(m.base_name(svc())) == 32


def test_internal_annotation_must_be_exactly_true():
    assert m.is_internal(internal())
    assert not m.is_internal(svc(annotations={P + "azure-load-balancer-internal": "True"}))
    assert not m.is_internal(svc())


def test_expected_lb_names():
    assert m.expected_lb_names(svc()) == ("kubernetes",)
    assert m.expected_lb_names(internal()) == ("kubernetes-internal",)
    assert m.expected_lb_names(svc(), cluster_name="capz-1") == ("capz-1",)
    override = m.ProviderConfig(load_balancer_name="mylb")
    assert m.expected_lb_names(internal(), config=override) == ("mylb-internal",)


def test_expected_lb_names_multiple_standard_lbs():
    cfg = m.config_from(
        cloud_config={
            "loadBalancerSku": "standard",
            "multipleStandardLoadBalancerConfigurations": [{"name": "kubernetes"}, {"name": "lb-2"}],
        }
    )
    assert m.expected_lb_names(svc(), config=cfg) == ("kubernetes", "lb-2")
    pinned = svc(annotations={P + "azure-load-balancer-configurations": " LB-2 "})
    assert m.expected_lb_names(pinned, config=cfg) == ("lb-2",)
    assert m.expected_lb_names(
        internal(annotations={P + "azure-load-balancer-configurations": "lb-2"}), config=cfg
    ) == ("lb-2-internal",)


def test_basic_lb_mode_adds_vm_set_names():
    cfg = m.ProviderConfig(load_balancer_sku="basic")
    mode = svc(annotations={P + "azure-load-balancer-mode": "pool2-as, __auto__"})
    assert m.expected_lb_names(mode, config=cfg) == ("kubernetes", "pool2-as")


# ---- frontend and rule names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subnet", "expected"),
    [
        ("shortsubnet", f"{BASE}-shortsubnet"),  # provider test
        ("a" + "-" * 50 + "z", f"{BASE}-a" + "-" * 40 + "_"),  # provider test: cut, "-" at the end becomes "_"
        (
            "averylonnnngggnnnnnnnnnnnnnnnnnnnnnngggggggggggggggggggggggggggggggggggggsubet",
            f"{BASE}-averylonnnngggnnnnnnnnnnnnnnnnnnnnnngggggg",  # provider test: cut, ends in a letter
        ),
        ("s" * 41 + "1tail", f"{BASE}-" + "s" * 41 + "_"),  # a digit at the cut becomes "_" too
    ],
)
def test_frontend_name_with_subnet(subnet, expected):
    assert m.default_frontend_name(internal(subnet)) == expected
    assert len(m.default_frontend_name(internal(subnet))) <= 75


def test_frontend_names_ignore_subnet_on_public_and_blank_subnet():
    assert m.default_frontend_name(svc(annotations={P + "azure-load-balancer-internal-subnet": "s1"})) == BASE
    assert m.default_frontend_name(internal("  ")) == BASE


def test_frontend_names_per_family():
    assert m.frontend_config_names(svc()) == (m.FrontendName(BASE, False),)
    dual = internal("shortsubnet", families=["IPv4", "IPv6"])
    assert m.frontend_config_names(dual) == (  # provider test
        m.FrontendName(f"{BASE}-shortsubnet", False),
        m.FrontendName(f"{BASE}-shortsubnet-IPv6", True),
    )
    # IPv6 single-stack: no suffix (only dual-stack Services suffix their IPv6 objects)
    assert m.frontend_config_names(svc(families=["IPv6"])) == (m.FrontendName(BASE, True),)


@pytest.mark.parametrize(
    ("subnet", "ipv6", "expected"),
    [
        ("shortsubnet", False, f"{BASE}-shortsubnet-TCP-9000"),
        ("shortsubnet", True, f"{BASE}-shortsubnet-TCP-9000-IPv6"),
        (
            "averylonnnngggnnnnnnnnnnnnnnnnnnnnnngggggggggggggggggggggggggggggggggggggsubet",
            False,
            f"{BASE}-averylonnnngggnnnnnnnnnnnnnnnnnnn-TCP-9000",
        ),
        (
            "averylonnnngggnnnnnnnnnnnnnnnnnnnnnngggggggggggggggggggggggggggggggggggggsubet",
            True,
            f"{BASE}-averylonnnngggnnnnnnnnnnnnnnnnnnn-TCP-9000-IPv6",
        ),
        (None, False, f"{BASE}-TCP-9000"),
        (None, True, f"{BASE}-TCP-9000-IPv6"),
    ],
)
def test_rule_names_provider_vectors(subnet, ipv6, expected):
    made = internal(subnet, families=["IPv4", "IPv6"]) if subnet else svc(families=["IPv4", "IPv6"])
    assert m.rule_name(made, "TCP", 9000, ipv6) == expected


# ---- rules and probes -------------------------------------------------------------------------------------------


def ports(*items):
    return [dict(item) for item in items]


HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 31080}
HTTPS = {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP", "nodePort": 31443}
DNS = {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP", "nodePort": 31053}


def test_cluster_policy_tcp_probe_on_node_port():
    [rule] = m.expected_rules(svc(ports=ports(HTTP)))
    assert (rule.name, rule.protocol, rule.frontend_port, rule.backend_port, rule.floating_ip) == (
        f"{BASE}-TCP-80",
        "Tcp",
        80,
        80,
        True,
    )
    assert rule.backend_pool == "kubernetes"
    assert rule.probe == m.ExpectedProbe(f"{BASE}-TCP-80", "Tcp", 31080, None, 5, 2, rule.probe.reason)
    assert "nodePort 31080" in rule.probe.reason


def test_udp_has_no_probe_and_port_annotations_drop_rules_or_probes():
    made = svc(
        ports=ports(HTTP, HTTPS, DNS),
        annotations={P + "port_443_no_lb_rule": "true", P + "port_80_no_probe_rule": "TRUE"},
    )
    rules = {r.service_port: r for r in m.expected_rules(made)}
    assert set(rules) == {80, 53}
    assert rules[80].probe is None
    assert rules[53].probe is None and rules[53].protocol == "Udp"
    assert m.expected_probes(made) == ()


def test_floating_ip_disabled_targets_node_port():
    made = svc(ports=ports(HTTP), annotations={P + "azure-disable-load-balancer-floating-ip": "true"})
    [rule] = m.expected_rules(made)
    assert (rule.backend_port, rule.floating_ip) == (31080, False)


def test_dual_stack_internal_ipv6_rule_has_no_floating_ip():
    made = internal(ports=ports(HTTP), families=["IPv4", "IPv6"])
    v4, v6 = m.expected_rules(made)
    assert (v4.name, v4.floating_ip, v4.backend_port, v4.backend_pool) == (f"{BASE}-TCP-80", True, 80, "kubernetes")
    assert (v6.name, v6.floating_ip, v6.backend_port, v6.backend_pool) == (
        f"{BASE}-TCP-80-IPv6",
        False,
        31080,
        "kubernetes-IPv6",
    )
    assert v6.probe.name == f"{BASE}-TCP-80-IPv6"


def test_local_policy_uses_health_check_node_port():
    made = svc(ports=ports(HTTP, HTTPS), external_traffic_policy="Local", healthCheckNodePort=32000)
    rules = m.expected_rules(made)
    assert {r.probe for r in rules} == {
        m.ExpectedProbe(f"{BASE}-TCP-32000", "Http", 32000, "/healthz", 5, 2, rules[0].probe.reason)
    }
    assert m.expected_probes(made)[0].name == f"{BASE}-TCP-32000"
    # a per-port probe port still gets its own probe
    override = svc(
        ports=ports(HTTP),
        external_traffic_policy="Local",
        healthCheckNodePort=32000,
        annotations={P + "port_80_health-probe_port": "10256"},
    )
    [rule] = m.expected_rules(override)
    assert (rule.probe.name, rule.probe.port, rule.probe.protocol) == (f"{BASE}-TCP-80", 10256, "Tcp")


def test_local_policy_with_pls_proxy_protocol_probes_node_ports():
    made = svc(
        ports=ports(HTTP),
        external_traffic_policy="Local",
        healthCheckNodePort=32000,
        annotations={P + "azure-pls-create": "true", P + "azure-pls-proxy-protocol": "true"},
    )
    [rule] = m.expected_rules(made)
    assert (rule.probe.protocol, rule.probe.port) == ("Tcp", 31080)


def test_shared_probe_mode():
    cfg = m.config_from(
        managed_cluster={
            "properties": {
                "networkProfile": {"loadBalancerProfile": {"clusterServiceLoadBalancerHealthProbeMode": "Shared"}}
            }
        }
    )
    made = svc(ports=ports(HTTP, DNS), annotations={P + "port_80_health-probe_protocol": "Http"})
    rules = m.expected_rules(made, cfg)
    assert all(r.probe.name == "cluster-service-shared-health-probe" for r in rules)
    assert (rules[0].probe.port, rules[0].probe.request_path, rules[0].probe.protocol) == (10256, "/healthz", "Http")
    # ETP Local keeps its own probe in shared mode
    local = svc(ports=ports(HTTP), external_traffic_policy="Local", healthCheckNodePort=32000)
    assert m.expected_rules(local, cfg)[0].probe.port == 32000


def test_app_protocol_http_probes_slash_since_124():
    made = svc(ports=ports({**HTTP, "appProtocol": "http"}, {**HTTPS, "appProtocol": "https"}))
    http, https = m.expected_rules(made)
    assert (http.probe.protocol, http.probe.request_path, http.probe.port) == ("Http", "/", 31080)
    assert (https.probe.protocol, https.probe.request_path) == ("Https", "/")
    assert "appProtocol http" in http.probe.reason
    old = m.config_from(version="v1.23.8")
    assert {r.probe.protocol for r in m.expected_rules(made, old)} == {"Tcp"}
    basic = m.ProviderConfig(load_balancer_sku="basic")
    assert m.expected_rules(made, basic)[1].probe.protocol == "Tcp"  # HTTPS probes need a Standard LB


def test_probe_protocol_precedence_and_path():
    made = svc(
        ports=ports({**HTTP, "appProtocol": "http"}, HTTPS, {**HTTP, "name": "alt", "port": 8080, "nodePort": 31808}),
        annotations={
            P + "azure-load-balancer-health-probe-protocol": "Https",
            P + "azure-load-balancer-health-probe-request-path": "/healthz",
            P + "port_8080_health-probe_protocol": " tcp ",
            P + "port_80_health-probe_request-path": "/ready",
        },
    )
    by_port = {r.service_port: r.probe for r in m.expected_rules(made)}
    assert (by_port[80].protocol, by_port[80].request_path) == ("Http", "/ready")  # appProtocol beats global
    assert (by_port[443].protocol, by_port[443].request_path) == ("Https", "/healthz")  # global annotation
    assert (by_port[8080].protocol, by_port[8080].request_path) == ("Tcp", None)  # per-port annotation


def test_probe_port_annotation_and_timing():
    made = svc(
        ports=ports(HTTP, HTTPS),
        annotations={
            P + "port_443_health-probe_port": "http",
            P + "port_80_health-probe_port": "443",
            P + "azure-load-balancer-health-probe-interval": "10",
            P + "port_80_health-probe_num-of-probe": "3",
        },
    )
    by_port = {r.service_port: r.probe for r in m.expected_rules(made)}
    assert (by_port[80].port, by_port[80].interval, by_port[80].threshold) == (31443, 10, 3)
    assert (by_port[443].port, by_port[443].interval, by_port[443].threshold) == (31080, 10, 2)
    bad = svc(ports=ports(HTTP), annotations={P + "port_80_health-probe_port": "metrics"})
    assert m.expected_rules(bad)[0].probe.port is None


def test_ha_ports_single_all_rule():
    made = internal(
        ports=ports(DNS, HTTP), annotations={P + "azure-load-balancer-enable-high-availability-ports": "true"}
    )
    [rule] = m.expected_rules(made)
    assert (rule.name, rule.protocol, rule.frontend_port, rule.backend_port, rule.ha_ports) == (
        f"{BASE}-UDP-53",
        "All",
        0,
        0,
        True,
    )
    # the UDP port has no probe, so the HA rule uses the first port that has one, under the HA rule's name
    assert (rule.probe.name, rule.probe.port) == (f"{BASE}-UDP-53", 31080)


# ---- public IPs -------------------------------------------------------------------------------------------------


def test_managed_public_ip_names():
    [pip] = m.expected_public_ip(svc())
    assert (pip.name, pip.ip, pip.managed, pip.resource_group) == (f"kubernetes-{BASE}", None, True, None)
    # provider tests (cluster "azure", UID "uid")
    assert m.expected_public_ip(svc(uid="uid"), cluster_name="azure")[0].name == "azure-auid"
    prefixed = svc(uid="uid", annotations={P + "azure-pip-prefix-id": "/subscriptions/x/publicIPPrefixes/prefix-id"})
    assert m.expected_public_ip(prefixed, "azure")[0].name == "azure-auid-prefix-id"
    lengthy = svc(
        uid="uid",
        families=["IPv4", "IPv6"],
        annotations={
            P + "azure-pip-prefix-id": "prefix-id",
            P + "azure-pip-prefix-id-ipv6": "prefix-id-ipv6-" + "a" * 64,
        },
    )
    v4, v6 = m.expected_public_ip(lengthy, "azure")
    assert v4.name == "azure-auid-prefix-id"
    assert v6.name == "azure-auid-prefix-id-ipv6-" + "a" * 49 + "-IPv6"
    assert len(v6.name) == 80


def test_public_ip_by_name_or_address():
    rg = {P + "azure-load-balancer-resource-group": " net-rg "}
    [named] = m.expected_public_ip(svc(annotations={P + "azure-pip-name": "web-pip", **rg}))
    assert (named.name, named.resource_group, named.managed) == ("web-pip", "net-rg", False)
    [by_ip] = m.expected_public_ip(svc(loadBalancerIP="20.1.2.3"))
    assert (by_ip.ip, by_ip.how) == ("20.1.2.3", "spec.loadBalancerIP")
    [by_ann] = m.expected_public_ip(
        svc(annotations={P + "azure-load-balancer-ipv4": "20.1.2.4"}, loadBalancerIP="9.9.9.9")
    )
    assert (by_ann.ip, by_ann.how) == ("20.1.2.4", f"annotation {P}azure-load-balancer-ipv4")
    assert m.expected_public_ip(internal()) == ()
    v4, v6 = m.expected_public_ip(svc(families=["IPv4", "IPv6"]))
    assert (v4.name, v6.name) == (f"kubernetes-{BASE}", f"kubernetes-{BASE}-IPv6")


def test_find_public_ip_respects_resource_group():
    pip = public_ip("web-pip", "20.1.2.3", rg="net-rg")
    other = public_ip("web-pip", "20.9.9.9")
    [expected] = m.expected_public_ip(
        svc(annotations={P + "azure-pip-name": "WEB-PIP", P + "azure-load-balancer-resource-group": "NET-RG"})
    )
    assert m.find_public_ip(expected, [other, pip]) is pip


def test_public_ips_tagged_for_service():
    web = svc("web")
    shared = public_ip(
        "a", "1.1.1.1", tags={"k8s-azure-service": "other/x, default/web", "k8s-azure-cluster-name": "kubernetes"}
    )
    legacy = public_ip("b", "1.1.1.2", tags={"service": "default/web"})
    foreign = public_ip("c", "1.1.1.3", tags={"k8s-azure-service": "default/web", "k8s-azure-cluster-name": "other"})
    byo = public_ip("d", "1.1.1.4")
    assert m.public_ips_tagged_for(web, [shared, legacy, foreign, byo]) == [shared, legacy]
    assert m.service_tag_values(shared) == ("other/x", "default/web")
    assert m.cluster_tag(legacy) is None


# ---- frontends on actual LBs ------------------------------------------------------------------------------------


def test_find_frontend_by_name_on_expected_lb():
    web = svc("web", ports=ports(HTTP))
    pip = managed_public_ip(web, "20.50.10.4")
    lb = load_balancer(services=[(web, {"public_ip_id": pip["id"]})])
    [match] = m.find_frontends(web, [lb], [pip])
    assert (match.how, match.expected_lb, match.ip, match.ipv6) == ("name", True, "20.50.10.4", False)
    assert match.ref == f"LB kubernetes frontend {BASE}"


def test_secondary_service_shares_the_frontend_by_requested_ip():
    primary = svc("web", uid="11111111-2222-3333-4444-555555555555", ports=ports(HTTP))
    secondary = svc("web-tls", ports=ports(HTTPS), loadBalancerIP="20.50.10.4")
    pip = managed_public_ip(primary, "20.50.10.4")
    lb = load_balancer(services=[(primary, {"public_ip_id": pip["id"]})])
    [match] = m.find_frontends(secondary, [lb], [pip])
    assert (match.how, match.frontend["name"], match.ip) == ("requested-ip", m.base_name(primary), "20.50.10.4")
    # by azure-pip-name
    by_name = svc("web-tls", ports=ports(HTTPS), annotations={P + "azure-pip-name": pip["name"]})
    assert m.find_frontends(by_name, [lb], [pip])[0].how == "pip-name"


def test_internal_secondary_and_status_ip_fallback():
    primary = internal(uid="11111111-2222-3333-4444-555555555555", ports=ports(HTTP))
    ilb = load_balancer("kubernetes-internal", services=[(primary, {"private_ip": "10.224.0.50"})])
    secondary = internal(ports=ports(HTTPS), annotations={P + "azure-load-balancer-ipv4": "10.224.0.50"})
    assert m.find_frontends(secondary, [ilb])[0].how == "requested-ip"
    drifted = internal(ports=ports(HTTPS), ingress_ip="10.224.0.50")
    [match] = m.find_frontends(drifted, [ilb])
    assert (match.how, match.ip) == ("status-ip", "10.224.0.50")
    # a public Service never matches an internal frontend
    assert m.find_frontends(svc(ingress_ip="10.224.0.50"), [ilb]) == ()


def test_frontend_on_unexpected_lb_of_same_kind():
    web = svc("web", ports=ports(HTTP))
    pip = managed_public_ip(web, "20.50.10.4")
    lb = load_balancer("capz-lb", services=[(web, {"public_ip_id": pip["id"]})])
    [match] = m.find_frontends(web, [lb], [pip])
    assert (match.how, match.expected_lb) == ("name", False)


def test_dual_stack_frontends_know_their_family():
    web = internal(ports=ports(HTTP), families=["IPv4", "IPv6"])
    lb = load_balancer("kubernetes-internal", services=[(web, {"private_ip": "10.224.0.9"})])
    fe6 = {**lb["properties"]["frontendIPConfigurations"][0]}
    fe6 = {**fe6, "name": f"{BASE}-IPv6", "properties": {"privateIPAddress": "fd00::9", "subnet": {"id": subnet_id()}}}
    lb["properties"]["frontendIPConfigurations"].append(fe6)
    found = {x.frontend["name"]: x.ipv6 for x in m.find_frontends(web, [lb])}
    assert found == {BASE: False, f"{BASE}-IPv6": True}


# ---- NSG rules --------------------------------------------------------------------------------------------------


def test_allow_rule_name_provider_vectors():
    # provider tests: securitygroup_test.go and accesscontrol_test.go
    assert (
        m.allow_rule_name("Tcp", "IPv4", ["foo", "bar"], [443])
        == "k8s-azure-lb_allow_IPv4_b5ae07e8a4177ea2d37162cdf2badf8b"
    )
    assert m.allow_rule_name("Udp", "IPv4", ["src_quo", "src_baz"], [56, 53]) == (
        "k8s-azure-lb_allow_IPv4_648b18e18a92d1a4b415033da37c79a5"
    )


def _md5_name(family, text):
    return f"k8s-azure-lb_allow_{family}_{hashlib.md5(text.encode()).hexdigest()}"


def test_nsg_rules_public_default_is_internet():
    names = m.nsg_rule_names(svc(ports=ports(HTTP, HTTPS, DNS)))
    assert names.managed
    assert [(r.protocol, r.sources, r.ports) for r in names.allow] == [
        ("Tcp", ("Internet",), ("443", "80")),
        ("Udp", ("Internet",), ("53",)),
    ]
    assert names.allow[0].name == _md5_name("IPv4", "Tcp_Internet_443,80")
    assert names.deny_all == ()
    assert names.legacy == (f"{BASE}-TCP-80-Internet", f"{BASE}-TCP-443-Internet", f"{BASE}-UDP-53-Internet")


def test_nsg_rules_with_source_ranges_and_tags():
    made = svc(
        ports=ports(HTTP),
        loadBalancerSourceRanges=["10.0.1.0/24", "10.0.0.0/24", "2001:db8::/32"],
        annotations={P + "azure-allowed-service-tags": "AzureFrontDoor.Backend"},
        families=["IPv4", "IPv6"],
    )
    names = m.nsg_rule_names(made)
    assert [(r.ip_family, r.sources) for r in names.allow] == [
        ("IPv4", ("AzureFrontDoor.Backend",)),
        ("IPv4", ("10.0.0.0/23",)),  # adjacent ranges aggregated
        ("IPv6", ("AzureFrontDoor.Backend",)),
        ("IPv6", ("2001:db8::/32",)),
    ]
    assert names.allow[1].name == _md5_name("IPv4", "Tcp_10.0.0.0/23_80")
    assert f"{BASE}-TCP-80-10.0.1.0_24" in names.legacy
    assert f"{BASE}-TCP-80-2001.db8.._32-IPv6" in names.legacy


def test_nsg_rules_allow_all_range_internal_and_deny_all():
    allow_all = m.nsg_rule_names(svc(ports=ports(HTTP), loadBalancerSourceRanges=["0.0.0.0/0"]))
    assert [r.sources for r in allow_all.allow] == [("0.0.0.0/0",)]
    assert m.nsg_rule_names(internal(ports=ports(HTTP))).allow == ()
    denied = m.nsg_rule_names(
        internal(
            ports=ports(HTTP),
            loadBalancerSourceRanges=["10.1.0.0/16"],
            annotations={P + "azure-deny-all-except-load-balancer-source-ranges": "true"},
        )
    )
    assert denied.deny_all == ("k8s-azure-lb_deny-all_IPv4",)
    invalid = m.nsg_rule_names(svc(ports=ports(HTTP), loadBalancerSourceRanges=["10.1.0.1/16", "1.2.3.4"]))
    assert invalid.invalid_ranges == ("10.1.0.1/16", "1.2.3.4")
    assert invalid.allow == ()  # no Internet when a range is invalid
    assert invalid.deny_all == ("k8s-azure-lb_deny-all_IPv4",)


def test_nsg_rules_node_ports_without_floating_ip_and_disabled():
    made = svc(ports=ports(HTTP), annotations={P + "azure-disable-load-balancer-floating-ip": "true"})
    assert m.nsg_rule_names(made).allow[0].ports == ("31080",)
    off = m.nsg_rule_names(svc(ports=ports(HTTP), annotations={P + "azure-disable-load-balancer-nsg-rule": "true"}))
    assert not off.managed
    shared = m.nsg_rule_names(svc(ports=ports(HTTP), annotations={P + "azure-shared-securityrule": "true"}))
    assert shared.legacy == ("shared-TCP-80-Internet",)


# ---- configuration and reach ------------------------------------------------------------------------------------


def test_config_from_cloud_config():
    cfg = m.config_from(
        cloud_config={
            "LoadBalancerName": "capz",
            "clusterServiceLoadBalancerHealthProbeMode": "shared",
            "clusterServiceSharedLoadBalancerHealthProbePort": 10257,
        }
    )
    assert (cfg.load_balancer_name, cfg.load_balancer_sku, cfg.shared_probe, cfg.shared_probe_port) == (
        "capz",
        "basic",  # the provider's default without loadBalancerSku
        True,
        10257,
    )
    assert m.config_from() == m.DEFAULT_CONFIG


def test_reaches_azure():
    assert m.reaches_azure(svc()) == (True, "")
    ok, why = m.reaches_azure(svc(loadBalancerClass="service.k8s.aws/nlb"))
    assert not ok and "loadBalancerClass" in why


def test_lb_kind():
    ilb = load_balancer("kubernetes-internal")
    assert m.lb_is_internal(ilb) is True
    assert m.lb_is_internal(load_balancer("kubernetes")) is None
    pip_id = res_id("Microsoft.Network/publicIPAddresses", "x")
    assert m.lb_is_internal(load_balancer(services=[(svc(), {"public_ip_id": pip_id})])) is False
