"""The provider-error family: each check fires on its own categories, in every wrapper generation, once per cause.

Event texts are built the way the service controller writes them (`Error syncing load balancer: ...` around the
provider's error) from the documented shapes of the azcore, track-1 retry and autorest/adal wrappers.
"""

from __future__ import annotations

import json

import pytest
from builders import (
    NODE_RG,
    SUB,
    SYNC_FAILED,
    adal_error,
    autorest_error,
    azcore_error,
    event,
    findings,
    outcome,
    retriable_error,
    run_snapshot,
    service,
    write_snapshot,
)

from aksdoctor import kube
from aksdoctor.checks.provider_errors import log_time

CLIENT = "a7d3c2e1-5b4f-4a6e-9c8d-0f1e2d3c4b5a"
OBJECT = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
SHARED_RG = f"/subscriptions/{SUB}/resourceGroups/shared-ips-rg"
PIP_ID = f"{SHARED_RG}/providers/Microsoft.Network/publicIPAddresses/web-ip"
NODE_RG_ID = f"/subscriptions/{SUB}/resourceGroups/{NODE_RG}"
LB_ID = f"{NODE_RG_ID}/providers/Microsoft.Network/loadBalancers/kubernetes"
PIP_ANNOTATIONS = {
    "service.beta.kubernetes.io/azure-pip-name": "web-ip",
    "service.beta.kubernetes.io/azure-load-balancer-resource-group": "shared-ips-rg",
}
ALL = (
    "lb.auth-failed",
    "lb.permission-denied",
    "lb.quota-exceeded",
    "lb.throttled",
    "lb.public-ip-config",
    "lb.ilb-subnet",
)


def denied(action: str = "Microsoft.Network/publicIPAddresses/read", scope: str = PIP_ID) -> str:
    return (
        f"The client '{CLIENT}' with object id '{OBJECT}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials."
    )


AUTHZ_TEXTS = {
    "azcore": SYNC_FAILED + azcore_error(403, "Forbidden", "AuthorizationFailed", denied(), url=PIP_ID),
    "retriable": SYNC_FAILED + retriable_error(403, "AuthorizationFailed", denied()),
    "autorest": SYNC_FAILED
    + autorest_error(403, "AuthorizationFailed", denied(), client="network.PublicIPAddressesClient#Get"),
}


def scenario(tmp_path, svc, *events_, **kw):
    snap = write_snapshot(tmp_path, [svc, *events_], captured_kinds=["Event"], **kw)
    return run_snapshot(snap, service=f"{svc['metadata']['namespace']}/{svc['metadata']['name']}")


def pending(**kw):
    return service("web", ingress_ip=None, **kw)


# ---- lb.permission-denied -----------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapper", sorted(AUTHZ_TEXTS))
def test_authorization_failed_in_every_wrapper(tmp_path, wrapper):
    svc = pending(annotations=PIP_ANNOTATIONS)
    text = AUTHZ_TEXTS[wrapper]
    report = scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text, count=7))
    [finding] = findings(report, "lb.permission-denied")
    assert finding.severity.label == "error"
    assert finding.resource == "Service default/web"
    assert f"client {CLIENT}, object id {OBJECT}" in finding.cause
    assert f"lacks Microsoft.Network/publicIPAddresses/read on scope {PIP_ID}" in finding.cause
    assert "Seen 7 time(s) in 1 event(s), last at 2026-11-27T09:58:00Z" in finding.cause
    assert finding.evidence[0].source == "Event"
    assert finding.evidence[0].detail == text  # the full message is the proof
    assert "SyncLoadBalancerFailed x7" in finding.evidence[0].ref
    assert finding.fix.action == "grant-network-role"
    assert finding.fix.commands == (
        f"az role assignment create --assignee-object-id {OBJECT} --assignee-principal-type ServicePrincipal "
        f"--role 'Network Contributor' --scope {PIP_ID}",
    )
    assert f"or on its resource group {SHARED_RG}" in finding.fix.summary
    assert "cluster (control-plane) identity" in finding.fix.summary
    # the specific check explains the missing IP, so lb.pending stays out of the way
    assert findings(report, "lb.pending") == []
    assert outcome(report, "lb.pending")[0] == "not-applicable"


def test_linked_authorization_failed_grants_on_the_linked_scope(tmp_path):
    message = (
        f"The client '{CLIENT}' with object id '{OBJECT}' has permission to perform action "
        f"'Microsoft.Network/loadBalancers/write' on scope '{LB_ID}'; however, it does not have permission to "
        f"perform action 'Microsoft.Network/publicIPAddresses/join/action' on the linked scope(s) '{PIP_ID}' or "
        "the linked scope(s) are invalid."
    )
    svc = pending(annotations=PIP_ANNOTATIONS)
    text = SYNC_FAILED + retriable_error(403, "LinkedAuthorizationFailed", message)
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.permission-denied")
    assert f"lacks Microsoft.Network/publicIPAddresses/join/action on the linked scope {PIP_ID}" in finding.cause
    assert f"may perform Microsoft.Network/loadBalancers/write on {LB_ID}" in finding.cause
    assert finding.fix.commands[0].endswith(f"--role 'Network Contributor' --scope {PIP_ID}")


def test_one_finding_per_cause_citing_the_newest_event(tmp_path):
    svc = pending()
    scope = NODE_RG_ID
    older = SYNC_FAILED + retriable_error(
        403, "AuthorizationFailed", denied("Microsoft.Network/loadBalancers/read", scope)
    )
    newer = SYNC_FAILED + autorest_error(
        403, "AuthorizationFailed", denied("Microsoft.Network/loadBalancers/read", scope)
    )
    other = SYNC_FAILED + retriable_error(
        403, "AuthorizationFailed", denied("Microsoft.Network/virtualNetworks/subnets/read", scope)
    )
    report = scenario(
        tmp_path,
        svc,
        event(svc, "SyncLoadBalancerFailed", older, count=5, last="2026-11-27T09:30:00Z"),
        event(svc, "SyncLoadBalancerFailed", newer, count=3, last="2026-11-27T09:55:00Z"),
        event(svc, "SyncLoadBalancerFailed", other, count=1, last="2026-11-27T09:50:00Z"),
    )
    found = findings(report, "lb.permission-denied")
    assert len(found) == 2  # two actions on the same scope: two causes
    [lb_read] = [f for f in found if "loadBalancers/read" in f.cause]
    assert "Seen 8 time(s) in 2 event(s), last at 2026-11-27T09:55:00Z" in lb_read.cause
    [cited] = [e for e in lb_read.evidence if e.source == "Event"]
    assert cited.detail == newer
    assert "x3" in cited.ref
    assert f"on scope {NODE_RG_ID} " in lb_read.cause
    assert "or on its resource group" not in lb_read.fix.summary  # already a resource group


def test_resolved_errors_are_history_at_info(tmp_path):
    svc = service("web")  # it has its IP again
    text = SYNC_FAILED + retriable_error(403, "AuthorizationFailed", denied())
    report = scenario(
        tmp_path,
        svc,
        event(svc, "SyncLoadBalancerFailed", text, count=4, last="2026-11-27T09:10:00Z"),
        event(svc, "EnsuredLoadBalancer", "Ensured load balancer", type="Normal", last="2026-11-27T09:20:00Z"),
    )
    [finding] = findings(report, "lb.permission-denied")
    assert finding.severity.label == "info"
    assert "Resolved since 2026-11-27T09:20:00Z" in finding.cause
    assert report.worst().label == "info"


def test_request_disallowed_by_policy_proposes_an_exemption(tmp_path):
    assignment = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/deny-public-ip"
    message = (
        'Resource \'kubernetes-a1b2\' was disallowed by policy. Policy identifiers: \'[{"policyAssignment":{"name":'
        f'"Deny public IPs","id":"{assignment}"}},"policyDefinition":{{"name":"Deny public IPs"}}}}]\'.'
    )
    svc = pending()
    text = SYNC_FAILED + retriable_error(403, "RequestDisallowedByPolicy", message)
    event_ = event(svc, "CreateOrUpdatePublicIPAddress", text, component="azure-cloud-provider")
    [finding] = findings(scenario(tmp_path, svc, event_), "lb.permission-denied")
    assert "An Azure Policy assignment denied" in finding.cause
    assert assignment in finding.cause
    assert finding.fix.commands == (
        f"az policy exemption create --name k8s-lb-web --policy-assignment {assignment} --exemption-category Waiver "
        f"--scope {NODE_RG_ID}",
    )


def test_scope_locked_lists_and_deletes_the_lock(tmp_path):
    target = f"{NODE_RG_ID}/providers/Microsoft.Network/publicIPAddresses/kubernetes-a1b2"
    message = (
        f"The scope '{target}' cannot perform delete operation because following scope(s) are locked: "
        f"'{NODE_RG_ID}'. Please remove the lock and try again."
    )
    svc = pending()
    text = "Error syncing load balancer: failed to delete load balancer: " + autorest_error(
        409, "ScopeLocked", message, client="network.PublicIPAddressesClient#Delete"
    )
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.permission-denied")
    assert f"A management lock on {NODE_RG_ID} blocks the provider's change on {target}" in finding.cause
    assert finding.fix.commands == (
        f"az lock list --resource-group {NODE_RG} --output table",
        f"az lock delete --name '<lock-name>' --resource-group {NODE_RG}",
    )


# ---- lb.auth-failed -----------------------------------------------------------------------------------------

EXPIRED = (
    f"AADSTS7000222: The provided client secret keys for app '{CLIENT}' are expired. Visit the Azure portal to "
    "create new keys for your app.\r\nTrace ID: 1\r\nCorrelation ID: 2"
)


def azidentity_error(description: str) -> str:
    """azidentity's error (azcore generation) for a client secret credential."""
    rule = "-" * 80
    body = json.dumps({"error": "invalid_client", "error_description": description}, indent=2)
    return (
        "ClientSecretCredential authentication failed\nPOST https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
        f"\n{rule}\nRESPONSE 401 Unauthorized\n{rule}\n{body}\n{rule}\n"
    )


@pytest.mark.parametrize("text", [adal_error(EXPIRED), azidentity_error(EXPIRED)], ids=["adal", "azidentity"])
def test_expired_secret_resets_the_service_principal(tmp_path, text):
    svc = pending()
    [finding] = findings(
        scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", SYNC_FAILED + text)), "lb.auth-failed"
    )
    assert finding.severity.label == "critical"
    assert f"The cloud provider identity (app {CLIENT}) cannot sign in" in finding.cause
    assert "AADSTS7000222" in finding.cause and "expired" in finding.cause
    assert finding.fix.action == "reset-sp-credential"
    assert finding.fix.commands == (
        f"SP_SECRET=$(az ad app credential reset --id {CLIENT} --query password --output tsv)",
        "az aks update-credentials --reset-service-principal --resource-group prod-rg --name prod-aks "
        f'--service-principal {CLIENT} --client-secret "$SP_SECRET"',
    )


def test_adal_401_without_app_id_looks_the_app_up_first(tmp_path):
    svc = pending()
    text = (
        "azure.BearerAuthorizer#WithAuthorization: Failed to refresh the Token for request to "
        f"https://management.azure.com{LB_ID}: StatusCode=401 -- Original Error: adal: Refresh request failed. "
        "Status Code = '401'. Response body: "
    )
    report = scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", SYNC_FAILED + text), meta={"cluster": {}})
    [finding] = findings(report, "lb.auth-failed")
    assert finding.fix.commands == (
        "SP_ID=$(az aks show --resource-group '<resource-group>' --name '<cluster-name>' "
        "--query servicePrincipalProfile.clientId --output tsv)",
        'SP_SECRET=$(az ad app credential reset --id "$SP_ID" --query password --output tsv)',
        "az aks update-credentials --reset-service-principal --resource-group '<resource-group>' "
        """--name '<cluster-name>' --service-principal "$SP_ID" --client-secret "$SP_SECRET\"""",
    )


def test_identity_not_found_advises_attaching_the_identity(tmp_path):
    svc = pending()
    text = (
        "ManagedIdentityCredential authentication failed\nGET http://169.254.169.254/metadata/identity/oauth2/token\n"
        + "-" * 80
        + '\nRESPONSE 400 Bad Request\n{"error":"invalid_request","error_description":"Identity not found"}'
    )
    [finding] = findings(
        scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", SYNC_FAILED + text)), "lb.auth-failed"
    )
    assert "identity-not-found" in finding.cause
    assert "userAssignedIdentityID" in finding.fix.summary
    assert finding.fix.commands[1] == (
        f"az vmss identity assign --resource-group {NODE_RG} --name '<vmss-name>' --identities '<identity-resource-id>'"
    )
    assert finding.fix.action is None


# ---- lb.quota-exceeded --------------------------------------------------------------------------------------


def test_public_ip_quota_points_at_orphaned_ips(tmp_path):
    svc = pending()
    text = autorest_error(
        400,
        "PublicIPCountLimitReached",
        "Cannot create more than 10 public IP addresses for this subscription in this region.",
        client="network.PublicIPAddressesClient#CreateOrUpdate",
    )
    event_ = event(svc, "CreateOrUpdatePublicIPAddress", text, component="azure-cloud-provider", count=12)
    [finding] = findings(scenario(tmp_path, svc, event_), "lb.quota-exceeded")
    assert finding.severity.label == "error"
    assert "PublicIPCountLimitReached (limit 10)" in finding.cause
    assert finding.fix.action == "delete-orphaned-ips"
    assert finding.fix.commands[0] == "az network list-usages --location westeurope --output table"
    assert finding.fix.commands[1].startswith("az network public-ip list --query '[?ipConfiguration==null")


def test_nsg_priorities_exhausted(tmp_path):
    svc = pending()
    text = SYNC_FAILED + "reconcileSecurityGroup(default/web): securityGroup priorities are exhausted"
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.quota-exceeded")
    assert "nsg-priorities-exhausted" in finding.cause
    assert finding.fix.commands[0].startswith(f"az network nsg list --resource-group {NODE_RG} --query")


# ---- lb.throttled -------------------------------------------------------------------------------------------


def test_throttled_sync_is_a_warning_with_retry_after(tmp_path):
    svc = pending()
    message = (
        f"Number of requests for subscription '{SUB}' and operation 'GET/SUBSCRIPTIONS/RESOURCEGROUPS/PROVIDERS/"
        "MICROSOFT.NETWORK/PUBLICIPADDRESSES' exceeded the limit of '50' for time interval '00:05:00'. Please try "
        "again after '372' seconds."
    )
    text = SYNC_FAILED + retriable_error(429, "SubscriptionRequestsThrottled", message, retry_after="6m12s")
    report = scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text))
    [finding] = findings(report, "lb.throttled")
    assert finding.severity.label == "warning"
    assert "SubscriptionRequestsThrottled (HTTP 429)" in finding.cause
    assert "retry after 372s" in finding.cause
    assert "arm.throttling" in finding.fix.summary
    assert outcome(report, "lb.pending")[0] == "not-applicable"


def test_crp_throttle_names_the_operation_group(tmp_path):
    svc = pending()
    details = [
        {
            "code": "TooManyRequests",
            "target": "HighCostGetVMScaleSet30Min",
            "message": '{"operationGroup":"HighCostGetVMScaleSet30Min","allowedRequestCount":900}',
        }
    ]
    message = "The server rejected the request because too many requests have been received for this subscription."
    text = SYNC_FAILED + azcore_error(429, "Too Many Requests", "OperationNotAllowed", message, details=details)
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.throttled")
    assert "OperationNotAllowed (HTTP 429)" in finding.cause
    assert "operation group HighCostGetVMScaleSet30Min" in finding.cause
    assert "limit 900 requests" in finding.cause
    assert "Compute RP" in finding.fix.summary


# ---- lb.public-ip-config ------------------------------------------------------------------------------------


def test_byo_pip_not_found_names_the_annotations(tmp_path):
    svc = pending(annotations=PIP_ANNOTATIONS)
    text = SYNC_FAILED + "PublicIP from annotation azure-pip-name=web-ip for service default/web doesn't exist"
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.public-ip-config")
    assert finding.severity.label == "error"
    assert "azure-pip-name='web-ip'" in finding.cause
    assert "azure-load-balancer-resource-group='shared-ips-rg'" in finding.cause
    refs = [e.ref for e in finding.evidence if e.source == "Service"]
    assert refs == [
        "Service default/web metadata.annotations[service.beta.kubernetes.io/azure-pip-name]",
        "Service default/web metadata.annotations[service.beta.kubernetes.io/azure-load-balancer-resource-group]",
    ]
    assert finding.fix.commands[0].startswith("az network public-ip show --resource-group shared-ips-rg --name web-ip")


def test_static_ip_in_another_resource_group(tmp_path):
    svc = pending(loadBalancerIP="20.61.7.9")
    text = (
        "Error creating load balancer (will retry): failed to ensure load balancer for service default/web: "
        f"user supplied IP Address 20.61.7.9 was not found in resource group {NODE_RG}"
    )
    [finding] = findings(scenario(tmp_path, svc, event(svc, "CreatingLoadBalancerFailed", text)), "lb.public-ip-config")
    assert "spec.loadBalancerIP='20.61.7.9'" in finding.cause
    assert finding.fix.commands == (
        'az network public-ip list --query \'[?ipAddress==`"20.61.7.9"`].{name:name, resourceGroup:resourceGroup, '
        "ip:ipAddress, sku:sku.name, attachedTo:ipConfiguration.id}' --output table",
    )


def test_dns_label_in_use(tmp_path):
    svc = pending(annotations={"service.beta.kubernetes.io/azure-dns-label-name": "shop"})
    text = (
        SYNC_FAILED + "ensurePublicIPExists for service(default/web): pip(kubernetes-a1b2) - there is an existing "
        "service default/other consuming the DNS label on the public IP, so the service cannot set the DNS label "
        "annotation with this value"
    )
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.public-ip-config")
    assert "azure-dns-label-name='shop'" in finding.cause
    assert 'domainNameLabel==`"shop"`' in finding.fix.commands[0]
    assert finding.fix.commands[1] == (
        "kubectl annotate service web 'service.beta.kubernetes.io/azure-dns-label-name=<label>' --overwrite "
        "--namespace default"
    )


# ---- lb.ilb-subnet ------------------------------------------------------------------------------------------

INTERNAL = {
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "service.beta.kubernetes.io/azure-load-balancer-internal-subnet": "snet-ilb",
}


def test_subnet_full_in_azcore_form(tmp_path):
    svc = pending(annotations=INTERNAL)
    subnet = (
        f"/subscriptions/{SUB}/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/snet-ilb"
    )
    text = SYNC_FAILED + azcore_error(
        400,
        "Bad Request",
        "SubnetIsFull",
        f"Subnet snet-ilb with address prefix 10.240.0.0/29 does not have enough capacity for 1 IP addresses. {subnet}",
        method="PUT",
    )
    [finding] = findings(scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text)), "lb.ilb-subnet")
    assert finding.severity.label == "error"
    assert "SubnetIsFull (HTTP 400)" in finding.cause
    assert "azure-load-balancer-internal-subnet='snet-ilb'" in finding.cause
    assert finding.fix.commands[0].startswith(
        "az network vnet subnet show --resource-group net-rg --vnet-name hub --name snet-ilb"
    )


def test_subnet_not_found_with_permission_error_reports_both(tmp_path):
    svc = pending(annotations=INTERNAL)
    subnet = (
        f"/subscriptions/{SUB}/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/snet-ilb"
    )
    text = (
        SYNC_FAILED
        + "ensure(default/web): lb(kubernetes-internal) - failed to get subnet: hub/snet-ilb: "
        + retriable_error(403, "AuthorizationFailed", denied("Microsoft.Network/virtualNetworks/subnets/read", subnet))
    )
    report = scenario(tmp_path, svc, event(svc, "SyncLoadBalancerFailed", text))
    [subnet_finding] = findings(report, "lb.ilb-subnet")
    [permission] = findings(report, "lb.permission-denied")
    assert "see lb.permission-denied" in subnet_finding.cause
    assert "see lb.ilb-subnet" in permission.cause
    assert "--vnet-name hub --name snet-ilb" in subnet_finding.fix.commands[0]
    assert permission.fix.commands[0].endswith(f"--scope {subnet}")


# ---- log lines, filtering, quiet and skipped ----------------------------------------------------------------


def test_controller_log_line_is_evidence(tmp_path):
    svc = pending()
    line = (
        "E1127 09:57:12.345678       1 controller.go:298] error processing service default/web (retrying with "
        "exponential backoff): failed to ensure load balancer: ensure(default/web): lb(kubernetes) - "
        + retriable_error(403, "AuthorizationFailed", denied("Microsoft.Network/loadBalancers/read", NODE_RG_ID))
    )
    logs = {"kube-system/cloud-controller-manager-7d9f8.log": f"I1127 09:57:00.000000 1 ok\n{line}\n"}
    report = scenario(tmp_path, svc, logs=logs)
    [finding] = findings(report, "lb.permission-denied")
    assert "Seen 1 time(s) in 1 controller log line(s), last at 2026-11-27T09:57:12Z" in finding.cause
    assert finding.evidence[0].source == "Log"
    assert finding.evidence[0].ref == "kube-system/cloud-controller-manager-7d9f8:2"
    assert finding.evidence[0].detail == line


def test_other_components_warnings_are_ignored(tmp_path):
    svc = pending()
    text = retriable_error(403, "AuthorizationFailed", denied())
    noise = event(svc, "DNSUpdateFailed", text, component="external-dns")
    report = scenario(tmp_path, svc, noise)
    for check_id in ALL:
        assert findings(report, check_id) == []


def test_quiet_on_a_healthy_service(tmp_path):
    svc = service("web")
    report = scenario(
        tmp_path,
        svc,
        event(svc, "EnsuringLoadBalancer", "Ensuring load balancer", type="Normal", last="2026-11-27T09:00:00Z"),
        event(svc, "EnsuredLoadBalancer", "Ensured load balancer", type="Normal", last="2026-11-27T09:00:30Z"),
    )
    for check_id in ALL:
        assert outcome(report, check_id) == ("passed", "")


def test_skipped_without_events(tmp_path):
    snap = write_snapshot(tmp_path, [pending()])
    report = run_snapshot(snap, service="default/web")
    for check_id in ALL:
        assert outcome(report, check_id) == ("skipped", "not in snapshot: events")


def test_log_line_older_than_the_last_success_is_history(tmp_path):
    svc = service("web")
    line = "E1127 09:20:00.000000       1 controller.go:298] error processing service default/web: " + retriable_error(
        403, "AuthorizationFailed", denied()
    )
    ensured = event(svc, "EnsuredLoadBalancer", "Ensured load balancer", type="Normal", last="2026-11-27T09:30:00Z")
    report = scenario(tmp_path, svc, ensured, logs={"kube-system/cloud-controller-manager-7d9f8.log": line})
    [finding] = findings(report, "lb.permission-denied")
    assert finding.severity.label == "info"
    assert "Resolved since 2026-11-27T09:30:00Z" in finding.cause


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("E1127 09:57:12.345678 1 x.go:1] boom", "2026-11-27T09:57:12Z"),
        ("E1231 23:59:59.000000 1 x.go:1] boom", "2025-12-31T23:59:59Z"),  # klog has no year: last year's
        ("2026-11-27T08:00:01.123456789Z E1127 08:00:01.123456 1 x.go:1] boom", "2026-11-27T08:00:01Z"),
        ("no time here 2026-11-27T08:00:01Z", None),
    ],
)
def test_log_time(line, expected):
    when = log_time(line, kube.parse_time("2026-11-27T10:00:00Z"))
    assert (kube.format_time(when) if when else None) == expected
