"""Service annotation validation: realistic Services in, AnnotationProblems out; plus the knowledge file's shape."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aksdoctor import annotations, knowledge
from aksdoctor.annotations import AnnotationProblem, known_annotation, validate_service_annotations

P = "service.beta.kubernetes.io/"
SUB_A = "8ecadfc9-d1a3-4ea4-b844-0d9f87e4d7c8"
SUB_B = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
PIP_ID = f"/subscriptions/{SUB_A}/resourceGroups/net-rg/providers/Microsoft.Network/publicIPAddresses/shop-pip"


def svc(annotations: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A Service as `kubectl get svc -o json` prints it (only the fields the checks read)."""
    base_spec: dict[str, Any] = {
        "type": "LoadBalancer",
        "externalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": 8443, "nodePort": 31443, "protocol": "TCP"},
        ],
        "selector": {"app": "web"},
    }
    base_spec.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"v1","kind":"Service"}',
                "meta.helm.sh/release-name": "web",
                "meta.helm.sh/release-namespace": "shop",
                **(annotations or {}),
            },
        },
        "spec": base_spec,
    }


def only(problems: list[AnnotationProblem]) -> AnnotationProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------- clean Services


CLEAN = [
    pytest.param(
        svc(
            {
                P + "azure-dns-label-name": "shop-web",
                P + "azure-load-balancer-tcp-idle-timeout": "30",
                P + "azure-load-balancer-health-probe-request-path": "/healthz",
                P + "azure-load-balancer-health-probe-interval": "10",
                P + "azure-load-balancer-health-probe-num-of-probe": "3",
                P + "azure-pip-name": "shop-web-pip",
                P + "azure-load-balancer-resource-group": "net-rg",
                P + "azure-pip-tags": "env=prod,team=shop",
                P + "azure-allowed-service-tags": "AzureFrontDoor.Backend",
                P + "azure-allowed-ip-ranges": "203.0.113.0/24, 2001:db8::/32",
                P + "azure-load-balancer-disable-tcp-reset": "False",
                P + "port_443_health-probe_protocol": "Https",
                P + "port_443_health-probe_port": "http",
                "external-dns.alpha.kubernetes.io/hostname": "shop.example.com",
                "service.kubernetes.io/topology-mode": "Auto",
            }
        ),
        id="public",
    ),
    pytest.param(
        svc(
            {
                P + "azure-load-balancer-internal": "true",
                P + "azure-load-balancer-internal-subnet": "ilb-subnet",
                P + "azure-load-balancer-ipv4": "10.240.0.25",
                P + "azure-load-balancer-enable-high-availability-ports": "true",
                P + "azure-deny-all-except-load-balancer-source-ranges": "true",
                P + "azure-pls-create": "true",
                P + "azure-pls-name": "shop-pls",
                P + "azure-pls-ip-configuration-subnet": "pls-subnet",
                P + "azure-pls-ip-configuration-ip-address-count": "2",
                P + "azure-pls-ip-configuration-ip-address": "10.240.1.9 10.240.1.10",
                P + "azure-pls-fqdns": "shop.internal.example.com",
                P + "azure-pls-visibility": f"{SUB_A} {SUB_B}",
                P + "azure-pls-auto-approval": SUB_A,
            },
            loadBalancerSourceRanges=["10.0.0.0/8"],
        ),
        id="internal-with-pls",
    ),
    pytest.param(
        svc(
            {
                P + "azure-load-balancer-ipv4": "20.50.10.4",
                P + "azure-load-balancer-ipv6": "2603:1030::4",
                P + "azure-pip-name-ipv6": "shop-web-pip-v6",
                P + "port_80_no_probe_rule": "true",
            },
            ipFamilies=["IPv4", "IPv6"],
            ipFamilyPolicy="RequireDualStack",
        ),
        id="dual-stack",
    ),
    pytest.param(
        svc(
            {P + "port_32000_health-probe_interval": "10"},
            externalTrafficPolicy="Local",
            healthCheckNodePort=32000,
            allocateLoadBalancerNodePorts=False,
        ),
        id="local-policy-probe-on-health-check-node-port",
    ),
]


@pytest.mark.parametrize("service", CLEAN)
def test_clean_realistic_service_has_no_problems(service: dict[str, Any]) -> None:
    assert validate_service_annotations(service) == []


def test_service_without_annotations_or_spec_is_fine() -> None:
    assert validate_service_annotations({"metadata": {"name": "bare"}}) == []


# --------------------------------------------------------------------------- one problem each


@pytest.mark.parametrize(
    ("annotations_", "spec", "key", "kind", "severity", "message_part", "suggestion_part"),
    [
        # int ranges quote the provider
        (
            {P + "azure-load-balancer-tcp-idle-timeout": "2"},
            {},
            P + "azure-load-balancer-tcp-idle-timeout",
            "invalid-value",
            "error",
            "idle timeout value must be a whole number representing minutes between 4 and 100, actual value: 2",
            None,
        ),
        (
            {P + "azure-load-balancer-tcp-idle-timeout": "30m"},
            {},
            P + "azure-load-balancer-tcp-idle-timeout",
            "invalid-value",
            "error",
            "30m value must be a whole number",
            None,
        ),
        (
            {P + "azure-load-balancer-health-probe-interval": "3"},
            {},
            P + "azure-load-balancer-health-probe-interval",
            "invalid-value",
            "error",
            "the minimum value of interval is 5",
            None,
        ),
        (
            {P + "azure-load-balancer-health-probe-num-of-probe": "1"},
            {},
            P + "azure-load-balancer-health-probe-num-of-probe",
            "invalid-value",
            "error",
            "the minimum value of num-of-probe is 2",
            None,
        ),
        # bools: anything but "true" is silently false; fail-open keys are errors
        (
            {P + "azure-load-balancer-disable-tcp-reset": "yes"},
            {},
            P + "azure-load-balancer-disable-tcp-reset",
            "invalid-value",
            "warning",
            "silently off",
            None,
        ),
        (
            {P + "azure-load-balancer-internal": "1"},
            {},
            P + "azure-load-balancer-internal",
            "invalid-value",
            "error",
            'anything other than "true"',
            None,
        ),
        # enum falls back to Tcp
        (
            {P + "azure-load-balancer-health-probe-protocol": "grpc"},
            {},
            P + "azure-load-balancer-health-probe-protocol",
            "invalid-value",
            "warning",
            "falls back to a Tcp probe",
            None,
        ),
        # DNS label: the FQDN mistake
        (
            {P + "azure-dns-label-name": "shop.westeurope.cloudapp.azure.com"},
            {},
            P + "azure-dns-label-name",
            "invalid-value",
            "error",
            "It must conform to the following regular expression: ^[a-z][a-z0-9-]{1,61}[a-z0-9]$.",
            'full DNS name; give only the label, Azure appends .<region>.cloudapp.azure.com: use "shop"',
        ),
        (
            {P + "azure-dns-label-name": "Shop-Web"},
            {},
            P + "azure-dns-label-name",
            "invalid-value",
            "error",
            "The domain name label Shop-Web is invalid",
            'use lowercase "shop-web"',
        ),
        # empty strings with known bugs
        (
            {P + "azure-load-balancer-internal": "true", P + "azure-load-balancer-internal-subnet": ""},
            {},
            P + "azure-load-balancer-internal-subnet",
            "invalid-value",
            "error",
            "kubernetes#74497",
            "remove the annotation",
        ),
        (
            {P + "azure-load-balancer-resource-group": ""},
            {},
            P + "azure-load-balancer-resource-group",
            "invalid-value",
            "error",
            "kubernetes#79513",
            "remove the annotation",
        ),
        (
            {P + "azure-pip-name": ""},
            {},
            P + "azure-pip-name",
            "ineffective",
            "warning",
            "treats the annotation as not set",
            None,
        ),
        # CIDRs parsed like net/netip, one event for all bad entries
        (
            {P + "azure-allowed-ip-ranges": "10.0.0.1/24,1.2.3.4"},
            {},
            P + "azure-allowed-ip-ranges",
            "invalid-value",
            "error",
            'Found invalid service.beta.kubernetes.io/azure-allowed-ip-ranges ["10.0.0.1/24" "1.2.3.4"], '
            "ignoring and adding a default DenyAll rule in security group.",
            "masked form 10.0.0.0/24",
        ),
        (
            {P + "azure-allowed-ip-ranges": "203.0.113.0/24,"},
            {},
            P + "azure-allowed-ip-ranges",
            "invalid-value",
            "error",
            '[""]',
            None,
        ),
        (
            {},
            {"loadBalancerSourceRanges": ["203.0.113.0/24", "198.51.100.7/16"]},
            "spec.loadBalancerSourceRanges",
            "invalid-value",
            "error",
            'Found invalid spec.LoadBalancerSourceRanges ["198.51.100.7/16"], ignoring and adding a default DenyAll '
            "rule in security group.",
            "198.51.0.0/16",
        ),
        (
            {P + "azure-allowed-service-tags": "AzureCloud,10.0.0.0/8"},
            {},
            P + "azure-allowed-service-tags",
            "invalid-value",
            "error",
            "put IP ranges in service.beta.kubernetes.io/azure-allowed-ip-ranges",
            None,
        ),
        # IPs
        (
            {P + "azure-load-balancer-ipv4": "2603:1030::4"},
            {"ipFamilies": ["IPv4", "IPv6"]},
            P + "azure-load-balancer-ipv4",
            "invalid-value",
            "error",
            "not an IPv4 address",
            None,
        ),
        (
            {P + "azure-additional-public-ips": "20.1.2.3, 20.1.2.4"},
            {},
            P + "azure-additional-public-ips",
            "invalid-value",
            "error",
            "invalid CIDR ` 20.1.2.4`",
            "does not trim spaces",
        ),
        (
            {P + "azure-pip-name": PIP_ID},
            {},
            P + "azure-pip-name",
            "invalid-value",
            "error",
            "not its ID",
            None,
        ),
        (
            {P + "azure-pip-prefix-id": "my-prefix"},
            {},
            P + "azure-pip-prefix-id",
            "invalid-value",
            "error",
            "is not a public IP prefix resource ID",
            None,
        ),
        (
            {P + "azure-load-balancer-health-probe-request-path": "healthz"},
            {},
            P + "azure-load-balancer-health-probe-request-path",
            "invalid-value",
            "warning",
            'should start with "/"',
            'use "/healthz"',
        ),
        (
            {P + "azure-pip-tags": "env=prod,team"},
            {},
            P + "azure-pip-tags",
            "invalid-value",
            "warning",
            'pair "team" is not key=value',
            None,
        ),
        (
            {P + "port_80_health-probe_port": "metrics"},
            {},
            P + "port_80_health-probe_port",
            "invalid-value",
            "error",
            "port metrics not found in service",
            None,
        ),
        (
            {P + "azure-load-balancer-mode": "auto"},
            {},
            P + "azure-load-balancer-mode",
            "invalid-value",
            "warning",
            '"__auto__"',
            'use "__auto__"',
        ),
        # PLS
        (
            {
                P + "azure-load-balancer-internal": "true",
                P + "azure-pls-create": "true",
                P + "azure-pls-ip-configuration-ip-address-count": "9",
            },
            {},
            P + "azure-pls-ip-configuration-ip-address-count",
            "invalid-value",
            "error",
            "maximum number of private link service ipConfig is 8, 9 provided",
            None,
        ),
        (
            {
                P + "azure-load-balancer-internal": "true",
                P + "azure-pls-create": "true",
                P + "azure-pls-visibility": f"{SUB_A},{SUB_B}",
            },
            {},
            P + "azure-pls-visibility",
            "invalid-value",
            "error",
            "is not a subscription ID",
            f"space-separated, not comma-separated: {SUB_A} {SUB_B}",
        ),
        (
            {P + "azure-pls-create": "true"},
            {},
            P + "azure-pls-create",
            "conflict",
            "error",
            "service requiring private link service must be internal or disable floating ip",
            "azure-load-balancer-internal",
        ),
        (
            {P + "azure-pls-name": "shop-pls"},
            {},
            P + "azure-pls-name",
            "ineffective",
            "warning",
            "azure-pls-create",
            None,
        ),
        (
            {
                P + "azure-load-balancer-internal": "true",
                P + "azure-pls-create": "true",
                P + "azure-pls-visibility": SUB_A,
                P + "azure-pls-auto-approval": f"{SUB_A} {SUB_B}",
            },
            {},
            P + "azure-pls-auto-approval",
            "conflict",
            "error",
            f"auto-approved subscriptions {SUB_B} are not in",
            "add them to service.beta.kubernetes.io/azure-pls-visibility",
        ),
        (
            {
                P + "azure-load-balancer-internal": "true",
                P + "azure-pls-create": "true",
                P + "azure-pls-ip-configuration-ip-address": "10.240.1.9 10.240.1.10",
            },
            {},
            P + "azure-pls-ip-configuration-ip-address",
            "conflict",
            "error",
            "ipConfigCount(1) must be no smaller than number of static IPs specified(2)",
            "ip-address-count to at least the number of static IPs",
        ),
        # requires
        (
            {P + "azure-load-balancer-internal-subnet": "ilb-subnet"},
            {},
            P + "azure-load-balancer-internal-subnet",
            "ineffective",
            "warning",
            "only used for internal load balancers",
            'add service.beta.kubernetes.io/azure-load-balancer-internal: "true"',
        ),
        (
            {P + "azure-load-balancer-enable-high-availability-ports": "true"},
            {},
            P + "azure-load-balancer-enable-high-availability-ports",
            "ineffective",
            "warning",
            "only created on internal Standard load balancers",
            'add service.beta.kubernetes.io/azure-load-balancer-internal: "true"',
        ),
        (
            {P + "azure-load-balancer-internal": "true", P + "azure-dns-label-name": "shop"},
            {},
            P + "azure-dns-label-name",
            "ineffective",
            "warning",
            "no public IP",
            None,
        ),
        (
            {P + "azure-pip-name-ipv6": "pip-v6"},
            {},
            P + "azure-pip-name-ipv6",
            "ineffective",
            "warning",
            "no IPv6 family",
            None,
        ),
        (
            {P + "azure-load-balancer-health-probe-request-path": "/ready"},
            {"externalTrafficPolicy": "Local", "healthCheckNodePort": 32000},
            P + "azure-load-balancer-health-probe-request-path",
            "ineffective",
            "warning",
            "externalTrafficPolicy: Local",
            None,
        ),
        # per-port key naming a targetPort
        (
            {P + "port_8080_health-probe_protocol": "tcp"},
            {},
            P + "port_8080_health-probe_protocol",
            "ineffective",
            "warning",
            "port 8080 is not a port of this Service (spec.ports[].port: 80, 443)",
            "did you mean service.beta.kubernetes.io/port_80_health-probe_protocol?",
        ),
        # deprecated
        (
            {P + "azure-shared-securityrule": "true"},
            {},
            P + "azure-shared-securityrule",
            "deprecated",
            "warning",
            "deprecated since v1.29.0",
            "remove the annotation",
        ),
        (
            {},
            {"loadBalancerIP": "20.50.10.4"},
            "spec.loadBalancerIP",
            "deprecated",
            "warning",
            "deprecated since Kubernetes 1.24",
            'use service.beta.kubernetes.io/azure-load-balancer-ipv4: "20.50.10.4" instead',
        ),
        (
            {},
            {"loadBalancerIP": "2603:1030::4", "ipFamilies": ["IPv6"]},
            "spec.loadBalancerIP",
            "deprecated",
            "warning",
            "deprecated",
            'use service.beta.kubernetes.io/azure-load-balancer-ipv6: "2603:1030::4" instead',
        ),
        (
            {P + "external-traffic": "OnlyLocal"},
            {},
            P + "external-traffic",
            "deprecated",
            "warning",
            "removed Kubernetes beta annotation",
            "use spec.externalTrafficPolicy instead",
        ),
        # conflicts
        (
            {P + "azure-allowed-ip-ranges": "203.0.113.0/24"},
            {"loadBalancerSourceRanges": ["198.51.100.0/24"]},
            P + "azure-allowed-ip-ranges",
            "conflict",
            "error",
            "cannot set both spec.LoadBalancerSourceRanges and service annotation "
            "service.beta.kubernetes.io/azure-allowed-ip-ranges",
            "keep one of them",
        ),
        (
            {P + "azure-allowed-service-tags": "AzureFrontDoor.Backend"},
            {"loadBalancerSourceRanges": ["198.51.100.0/24"]},
            P + "azure-allowed-service-tags",
            "conflict",
            "warning",
            "Please use annotation service.beta.kubernetes.io/azure-allowed-ip-ranges instead of "
            "spec.loadBalancerSourceRanges while using service.beta.kubernetes.io/azure-allowed-service-tags "
            "annotation at the same time.",
            "move the CIDRs from spec.loadBalancerSourceRanges",
        ),
        (
            {P + "azure-load-balancer-configurations": "lb-a", P + "azure-pip-name": "shop-pip"},
            {},
            P + "azure-load-balancer-configurations",
            "conflict",
            "error",
            "conflicting load balancer configuration",
            "remove service.beta.kubernetes.io/azure-load-balancer-configurations",
        ),
        (
            {
                P + "azure-load-balancer-health-probe-interval": "30",
                P + "azure-load-balancer-health-probe-num-of-probe": "4",
            },
            {},
            P + "azure-load-balancer-health-probe-interval",
            "conflict",
            "error",
            "total probe should be less than 120, please adjust interval and number of probe accordingly",
            None,
        ),
        (
            {P + "port_443_health-probe_num-of-probe": "24"},
            {},
            P + "port_443_health-probe_num-of-probe",
            "conflict",
            "error",
            "interval 5s x 24 probes = 120s",
            None,
        ),
        (
            {P + "azure-disable-load-balancer-floating-ip": "true"},
            {"allocateLoadBalancerNodePorts": False, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
            "spec.allocateLoadBalancerNodePorts",
            "conflict",
            "error",
            "floating IP is disabled",
            "remove service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip",
        ),
        (
            {},
            {"allocateLoadBalancerNodePorts": False, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
            "spec.allocateLoadBalancerNodePorts",
            "conflict",
            "warning",
            "clusterServiceLoadBalancerHealthProbeMode: shared",
            "use externalTrafficPolicy: Local",
        ),
    ],
)
def test_each_kind_fires_once_with_the_right_verdict(
    annotations_: dict[str, str],
    spec: dict[str, Any],
    key: str,
    kind: str,
    severity: str,
    message_part: str,
    suggestion_part: str | None,
) -> None:
    problem = only(validate_service_annotations(svc(annotations_, **spec)))
    assert (problem.key, problem.kind, problem.severity) == (key, kind, severity)
    assert message_part in problem.message
    if suggestion_part is None:
        assert problem.suggestion is None
    else:
        assert problem.suggestion is not None and suggestion_part in problem.suggestion


def test_value_is_reported_as_found() -> None:
    problem = only(validate_service_annotations(svc({P + "azure-load-balancer-tcp-idle-timeout": " 200 "})))
    assert problem.value == " 200 "


def test_ip_annotation_and_spec_load_balancer_ip_together() -> None:
    problems = validate_service_annotations(
        svc({P + "azure-load-balancer-ipv4": "20.50.10.4"}, loadBalancerIP="20.50.10.4")
    )
    assert {(p.key, p.kind) for p in problems} == {
        ("spec.loadBalancerIP", "deprecated"),
        ("spec.loadBalancerIP", "conflict"),
    }


def test_source_ranges_annotation_counts_as_allowed_ip_ranges() -> None:
    problem = only(
        validate_service_annotations(
            svc({P + "load-balancer-source-ranges": "203.0.113.0/24"}, loadBalancerSourceRanges=["198.51.100.0/24"])
        )
    )
    assert (problem.key, problem.kind, problem.severity) == (P + "load-balancer-source-ranges", "conflict", "error")


@pytest.mark.parametrize(
    ("sku", "expected"),
    [(None, []), ("Basic", []), ("standard", [(P + "azure-load-balancer-mode", "ineffective", "warning")])],
)
def test_sku_dependent_rules_only_run_when_the_sku_is_known(sku: str | None, expected: list[tuple[str, ...]]) -> None:
    problems = validate_service_annotations(svc({P + "azure-load-balancer-mode": "__auto__"}), sku=sku)
    assert [(p.key, p.kind, p.severity) for p in problems] == expected


@pytest.mark.parametrize(
    ("spec", "message_part"),
    [({"type": "ClusterIP"}, "type ClusterIP"), ({"loadBalancerClass": "metallb.io/metallb"}, "loadBalancerClass")],
)
def test_annotations_on_services_the_provider_does_not_manage_are_ineffective(
    spec: dict[str, Any], message_part: str
) -> None:
    service = svc({P + "azure-load-balancer-internal": "true"}, loadBalancerSourceRanges=["1.2.3.4/8"], **spec)
    problem = only(validate_service_annotations(service))
    assert (problem.key, problem.kind, problem.severity) == (
        P + "azure-load-balancer-internal",
        "ineffective",
        "warning",
    )
    assert message_part in problem.message


def test_bool_false_does_not_need_its_prerequisites() -> None:
    service = svc({P + "azure-pls-create": "false", P + "azure-load-balancer-enable-high-availability-ports": "FALSE"})
    assert validate_service_annotations(service) == []


# --------------------------------------------------------------------------- typos, prefixes, other clouds

INTERNAL = P + "azure-load-balancer-internal"


@pytest.mark.parametrize(
    ("key", "suggested", "severity", "message_part"),
    [
        (P + "azure-load-balancer-interal", INTERNAL, "error", "unknown annotation"),
        (P + "azure-loadbalancer-internal", INTERNAL, "error", "unknown annotation"),
        (P + "Azure-Load-Balancer-Internal", INTERNAL, "error", "case-sensitive"),
        ("Service.Beta.Kubernetes.io/azure-load-balancer-internal", INTERNAL, "error", "case-sensitive"),
        ("service.kubernetes.io/azure-load-balancer-internal", INTERNAL, "error", "not under service.beta"),
        ("azure-load-balancer-internal", INTERNAL, "error", "not under service.beta"),
        (P + "azure-internal-load-balancer", INTERNAL, "error", "unknown annotation"),
        (P + "azure-dns-label", P + "azure-dns-label-name", "warning", "unknown annotation"),
        (P + "azure-load-balancer-ip", P + "azure-load-balancer-ipv4", "warning", "unknown annotation"),
        (P + "azure-pip-name-ipv4", P + "azure-pip-name", "warning", "unknown annotation"),
        (P + "azure-load-balancer-tcp-idle-timout", P + "azure-load-balancer-tcp-idle-timeout", "warning", "unknown"),
        (P + "azure-allowed-ip-range", P + "azure-allowed-ip-ranges", "error", "unknown annotation"),
        (P + "port_80_health_probe_protocol", P + "port_80_health-probe_protocol", "warning", "unknown annotation"),
        (P + "port-443-no-lb-rule", P + "port_443_no_lb_rule", "warning", "unknown annotation"),
    ],
)
def test_typos_suggest_the_closest_known_key(key: str, suggested: str, severity: str, message_part: str) -> None:
    problem = only(validate_service_annotations(svc({key: "true"})))
    assert (problem.key, problem.kind, problem.severity) == (key, "unknown", severity)
    assert problem.suggestion == f"did you mean {suggested}?"
    assert message_part in problem.message


@pytest.mark.parametrize("key", [P + "azure-something-new", P + "frobnicate", "service.kubernetes.io/azure-frobnicate"])
def test_unknown_keys_without_a_close_match_have_no_suggestion(key: str) -> None:
    problem = only(validate_service_annotations(svc({key: "x"})))
    assert (problem.kind, problem.severity, problem.suggestion) == ("unknown", "warning", None)


def test_not_an_annotation_at_all_says_so() -> None:
    problem = only(validate_service_annotations(svc({P + "azure-load-balancer-sku": "standard"})))
    assert problem.kind == "unknown" and "cluster-wide" in problem.message and problem.suggestion is None


@pytest.mark.parametrize(
    ("key", "cloud", "equivalent"),
    [
        (P + "aws-load-balancer-internal", "AWS", INTERNAL),
        (P + "aws-load-balancer-backend-protocol", "AWS", None),
        (P + "oci-load-balancer-shape", "Oracle", None),
        ("networking.gke.io/load-balancer-type", "GKE", INTERNAL),
        (P + "do-loadbalancer-protocol", "DigitalOcean", None),
    ],
)
def test_other_clouds_are_info_not_typos(key: str, cloud: str, equivalent: str | None) -> None:
    problem = only(validate_service_annotations(svc({key: "Internal"})))
    assert (problem.key, problem.kind, problem.severity) == (key, "other-cloud", "info")
    assert cloud in problem.message and "not used on Azure" in problem.message
    if equivalent:
        assert problem.suggestion is not None and equivalent in problem.suggestion
    else:
        assert problem.suggestion is None


@pytest.mark.parametrize(
    "key",
    [
        "kubectl.kubernetes.io/last-applied-configuration",
        "meta.helm.sh/release-name",
        "external-dns.alpha.kubernetes.io/hostname",
        "service.kubernetes.io/topology-mode",
        "prometheus.io/scrape",
        "argocd.argoproj.io/sync-wave",
        "kubernetes.azure.com/some-setting",
        "owner",
    ],
)
def test_foreign_prefixes_are_ignored(key: str) -> None:
    assert validate_service_annotations(svc({key: "x"})) == []


@pytest.mark.parametrize(
    ("key", "known"),
    [
        (INTERNAL, True),
        (P + "port_80_no_lb_rule", True),
        (P + "port_8080_health-probe_request-path", True),
        (P + "AZURE-LOAD-BALANCER-CONFIGURATIONS", True),  # the provider matches this key with EqualFold
        (P + "azure-shared-securityrule", True),
        (P + "load-balancer-source-ranges", True),
        (P + "port_080_no_lb_rule", False),
        (P + "port_x_no_lb_rule", False),
        (P + "azure-load-balancer-interal", False),
        (P + "aws-load-balancer-internal", False),
        ("spec.loadBalancerIP", False),
    ],
)
def test_known_annotation(key: str, known: bool) -> None:
    assert known_annotation(key) is known


# --------------------------------------------------------------------------- the knowledge file

DOMAIN_MD_SECTION_2 = [
    "azure-load-balancer-internal",
    "azure-load-balancer-internal-subnet",
    "azure-load-balancer-mode",
    "azure-load-balancer-configurations",
    "azure-dns-label-name",
    "azure-load-balancer-resource-group",
    "azure-pip-name",
    "azure-pip-name-ipv6",
    "azure-pip-prefix-id",
    "azure-pip-prefix-id-ipv6",
    "azure-pip-tags",
    "azure-pip-ip-tags",
    "azure-load-balancer-ipv4",
    "azure-load-balancer-ipv6",
    "azure-allowed-service-tags",
    "azure-allowed-ip-ranges",
    "azure-deny-all-except-load-balancer-source-ranges",
    "azure-disable-load-balancer-nsg-rule",
    "azure-load-balancer-tcp-idle-timeout",
    "azure-load-balancer-disable-tcp-reset",
    "azure-load-balancer-enable-high-availability-ports",
    "azure-disable-load-balancer-floating-ip",
    "azure-additional-public-ips",
    "azure-load-balancer-health-probe-protocol",
    "azure-load-balancer-health-probe-request-path",
    "azure-load-balancer-health-probe-interval",
    "azure-load-balancer-health-probe-num-of-probe",
    "port_{port}_no_lb_rule",
    "port_{port}_no_probe_rule",
    "port_{port}_health-probe_protocol",
    "port_{port}_health-probe_port",
    "port_{port}_health-probe_request-path",
    "port_{port}_health-probe_interval",
    "port_{port}_health-probe_num-of-probe",
    "azure-pls-create",
    "azure-pls-name",
    "azure-pls-resource-group",
    "azure-pls-ip-configuration-subnet",
    "azure-pls-ip-configuration-ip-address-count",
    "azure-pls-ip-configuration-ip-address",
    "azure-pls-fqdns",
    "azure-pls-proxy-protocol",
    "azure-pls-visibility",
    "azure-pls-auto-approval",
    "azure-shared-securityrule",
]

DATA = knowledge.load("annotations")
SEVERITIES = {"info", "warning", "error"}
KINDS = {"unknown", "deprecated", "invalid-value", "conflict", "ineffective", "other-cloud"}


def _conditions(condition: Any) -> list[str]:
    """Every operator used in a condition tree."""
    ((op, arg),) = condition.items()
    if op == "not":
        return [op, *_conditions(arg)]
    if op in ("any_of", "all_of"):
        return [op] + [o for c in arg for o in _conditions(c)]
    return [op]


def test_yaml_covers_domain_section_2() -> None:
    keys = {entry["key"] for entry in DATA["annotations"]}
    assert {P + name for name in DOMAIN_MD_SECTION_2} <= keys


@pytest.mark.parametrize("entry", DATA["annotations"] + DATA["spec_fields"], ids=lambda e: e["key"])
def test_every_entry_is_well_formed(entry: dict[str, Any]) -> None:
    assert entry["key"] and entry["type"] in DATA["types"] and entry["type"] in annotations._VALIDATORS
    assert entry["docs"] and all(url.startswith("https://") for url in entry["docs"])
    assert entry["key"].startswith((P, "spec."))
    assert "{port}" not in entry["key"] or entry["key"].startswith(P + "port_{port}_")
    if entry.get("deprecated"):
        assert {"since", "reason", "replacement"} <= set(entry["deprecated"])
    for requirement in entry.get("requires", ()):
        assert requirement["message"]
        assert requirement.get("severity", "warning") in SEVERITIES
        assert requirement.get("kind", "ineffective") in KINDS
        assert set(_conditions(requirement["when"])) <= set(annotations._CONDITIONS)
    constraints = entry.get("constraints") or {}
    for field in ("regex",):
        if field in constraints:
            re.compile(constraints[field])
    if entry["type"] in ("name", "resource-id"):
        assert {"what", "regex", "rule"} <= set(constraints)
    assert entry.get("ignored_severity", "warning") in SEVERITIES


def test_keys_are_unique() -> None:
    keys = [e["key"] for e in DATA["annotations"]]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("rule", DATA["rules"], ids=lambda r: r["id"])
def test_every_rule_is_well_formed(rule: dict[str, Any]) -> None:
    assert rule["key"] and rule["message"] and rule["docs"] and rule["severity"] in SEVERITIES
    assert "when" in rule or "check" in rule
    if "check" in rule:
        assert rule["check"] in annotations._CHECKS
    if "when" in rule:
        assert set(_conditions(rule["when"])) <= set(annotations._CONDITIONS)


def test_type_regexes_compile_and_mistakes_point_at_known_keys() -> None:
    for tdef in DATA["types"].values():
        assert tdef["on_invalid"] in SEVERITIES and "invalid" in tdef
        if "regex" in tdef:
            re.compile(tdef["regex"])
    for mistake in DATA["mistakes"]:
        assert not known_annotation(mistake["key"]) and mistake["kind"] in KINDS
        target = mistake.get("suggestion")
        assert target is None or known_annotation(target) or target.startswith("spec.")
    for key, equivalent in DATA["azure_equivalents"].items():
        assert any(key.startswith(o["prefix"]) for o in DATA["other_clouds"])
        assert known_annotation(equivalent.split(":")[0].split(" ")[0])
