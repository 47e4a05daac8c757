"""Error-text classifier: codes in every wrapper generation, extracted fields, and robustness.

Fixtures are written here from the documented shapes of each wrapper (azcore ResponseError, the track-1
`Retriable: ...` retry error, autorest/adal), not copied from any reference tree.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from aksdoctor import knowledge
from aksdoctor.azure.errors import CATEGORIES, AzureError, classify, classify_first

SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"
MC_RG = f"{SUB}/resourceGroups/MC_rg_aks_eastus"
LB_ID = f"{MC_RG}/providers/Microsoft.Network/loadBalancers/kubernetes"
PIP_ID = f"{SUB}/resourceGroups/ips/providers/Microsoft.Network/publicIPAddresses/web-ip"
CLIENT = "11111111-aaaa-bbbb-cccc-222222222222"
OBJECT = "33333333-dddd-eeee-ffff-444444444444"
SYNC = "Error syncing load balancer: failed to ensure load balancer: "

AUTHZ_MESSAGE = (
    f"The client '{CLIENT}' with object id '{OBJECT}' does not have authorization to perform action "
    f"'Microsoft.Network/loadBalancers/read' over scope '{LB_ID}' or the scope is invalid. "
    "If access was recently granted, please refresh your credentials."
)


def body(code: str, message: str, **extra: object) -> str:
    return json.dumps({"error": {"code": code, "message": message, **extra}}, separators=(",", ":"))


def retriable(status: int, raw: str, retry_after: str = "0s", retriable: bool = False) -> str:
    flag = "true" if retriable else "false"
    return f"Retriable: {flag}, RetryAfter: {retry_after}, HTTPStatusCode: {status}, RawError: {raw}"


def azcore(status: int, reason: str, code: str, raw: str, method: str = "GET", url: str = LB_ID) -> str:
    rule = "-" * 80
    return (
        f"{method} https://management.azure.com{url}?api-version=2024-05-01\n{rule}\n"
        f"RESPONSE {status}: {status} {reason}\nERROR CODE: {code}\n{rule}\n{raw}\n{rule}\n"
    )


def autorest(status: int, code: str, message: str, client: str = "network.LoadBalancersClient#Get") -> str:
    return (
        f"{client}: Failure responding to request: StatusCode={status} -- Original Error: autorest/azure: "
        f'Service returned an error. Status={status} Code="{code}" Message="{message}"'
    )


def adal(description: str) -> str:
    response = json.dumps({"error": "invalid_client", "error_description": description, "error_codes": [1]})
    return (
        "azure.BearerAuthorizer#WithAuthorization: Failed to refresh the Token for request to "
        f"https://management.azure.com{LB_ID}?api-version=2017-09-01: StatusCode=401 -- Original Error: "
        f"adal: Refresh request failed. Status Code = '401'. Response body: {response}"
    )


def azidentity(credential: str, status: str, response: dict[str, object], url: str) -> str:
    rule = "-" * 80
    return f"{credential} authentication failed\nPOST {url}\n{rule}\nRESPONSE {status}\n{rule}\n" + json.dumps(
        response, indent=2
    )


def one(text: str) -> AzureError:
    found = classify(text)
    assert len(found) == 1, found
    return found[0]


# --- the same code through every wrapper ----------------------------------------------------------------

AUTHZ_WRAPPED = {
    "azcore": azcore(403, "Forbidden", "AuthorizationFailed", body("AuthorizationFailed", AUTHZ_MESSAGE)),
    "azcore-pretty": azcore(
        403,
        "Forbidden",
        "AuthorizationFailed",
        json.dumps(json.loads(body("AuthorizationFailed", AUTHZ_MESSAGE)), indent=2),
    ),
    "retriable": SYNC + retriable(403, body("AuthorizationFailed", AUTHZ_MESSAGE)),
    "retriable-escaped": SYNC + retriable(403, json.dumps(body("AuthorizationFailed", AUTHZ_MESSAGE))[1:-1]),
    "retriable-around-autorest": retriable(403, autorest(403, "AuthorizationFailed", AUTHZ_MESSAGE)),
    "autorest": autorest(403, "AuthorizationFailed", AUTHZ_MESSAGE),
    "plain": body("AuthorizationFailed", AUTHZ_MESSAGE),
    "klog-quoted": 'E0101 00:00:00.000000 1 controller.go:1] "sync failed" err='
    + json.dumps(SYNC + retriable(403, body("AuthorizationFailed", AUTHZ_MESSAGE))),
}
EXPECTED_WRAPPER = {
    "azcore": "azcore",
    "azcore-pretty": "azcore",
    "retriable": "retriable",
    "retriable-escaped": "retriable",
    "retriable-around-autorest": "retriable",
    "autorest": "autorest",
    "plain": "plain",
    "klog-quoted": "retriable",
}


@pytest.mark.parametrize("name", sorted(AUTHZ_WRAPPED))
def test_authorization_failed_in_every_wrapper(name: str) -> None:
    err = one(AUTHZ_WRAPPED[name])
    assert err.code == "AuthorizationFailed"
    assert err.category == "permission"
    assert err.wrapper == EXPECTED_WRAPPER[name]
    assert err.http_status == (None if name == "plain" else 403)
    assert err.action == "Microsoft.Network/loadBalancers/read"
    assert err.scope == LB_ID
    assert err.principal == CLIENT
    assert err.object_id == OBJECT
    assert err.message == AUTHZ_MESSAGE
    assert err.meaning and err.fix


@pytest.mark.parametrize(
    ("text", "code", "status"),
    [
        (
            "Error creating load balancer (will retry): failed to ensure load balancer for service default/web: "
            "network.PublicIPAddressesClient#CreateOrUpdate: Failure sending request: StatusCode=400 -- Original "
            'Error: Code="PublicIPCountLimitReached" Message="Cannot create more than 10 public IP addresses for '
            'this subscription in this region." Details=[]',
            "PublicIPCountLimitReached",
            400,
        ),
        (
            "network.LoadBalancersClient#CreateOrUpdate: Failure sending request: StatusCode=0 -- Original Error: "
            'Code="PublicIPAndLBSkuDoNotMatch" Message="Basic sku load balancer /x cannot reference Standard sku '
            'publicIP /y."',
            "PublicIPAndLBSkuDoNotMatch",
            None,
        ),
    ],
)
def test_legacy_original_error_without_status_line(text: str, code: str, status: int | None) -> None:
    err = one(text)
    assert (err.code, err.wrapper, err.http_status) == (code, "autorest", status)
    assert err.message.startswith(("Cannot create more than 10", "Basic sku load balancer"))


def test_azcore_request_url_is_the_resource_id() -> None:
    url = f"{MC_RG}/providers/Microsoft.Network/publicIPAddresses/kubernetes-a1"
    err = one(azcore(403, "Forbidden", "AuthorizationFailed", body("AuthorizationFailed", AUTHZ_MESSAGE), url=url))
    assert err.resource_id == url
    assert err.scope == LB_ID


def test_arm_unicode_escapes_are_decoded() -> None:
    raw = body("AuthorizationFailed", AUTHZ_MESSAGE).replace("'", "\\u0027")
    err = one(retriable(403, raw))
    assert err.principal == CLIENT
    assert err.message == AUTHZ_MESSAGE


def test_linked_authorization_failed() -> None:
    message = (
        f"The client '{CLIENT}' with object id '{OBJECT}' has permission to perform action "
        f"'Microsoft.Network/loadBalancers/write' on scope '{LB_ID}'; however, it does not have permission to "
        f"perform action 'Microsoft.Network/publicIPAddresses/join/action' on the linked scope(s) '{PIP_ID}' "
        "or the linked scope(s) are invalid."
    )
    err = one(SYNC + retriable(403, body("LinkedAuthorizationFailed", message)))
    assert (err.code, err.category) == ("LinkedAuthorizationFailed", "permission")
    assert err.action == "Microsoft.Network/loadBalancers/write"
    assert err.scope == LB_ID
    assert err.linked_action == "Microsoft.Network/publicIPAddresses/join/action"
    assert err.linked_scope == PIP_ID
    assert err.principal == CLIENT
    assert err.resource_id is None


def test_scope_locked_reports_locked_scope_and_target() -> None:
    target = f"{MC_RG}/providers/Microsoft.Network/publicIPAddresses/kubernetes-a1"
    message = (
        f"The scope '{target}' cannot perform delete operation because following scope(s) are locked: "
        f"'{MC_RG}'. Please remove the lock and try again."
    )
    err = one("Error deleting load balancer: " + retriable(409, body("ScopeLocked", message)))
    assert (err.code, err.category, err.http_status) == ("ScopeLocked", "lock", 409)
    assert err.scope == MC_RG
    assert err.resource_id == target


# --- authentication --------------------------------------------------------------------------------------

AADSTS_CASES = [
    (
        "AADSTS7000215",
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client "
        "secret value, not the client secret ID, for a secret added to app '" + CLIENT + "'.\r\nTrace ID: x",
        "secret",
        CLIENT,
    ),
    (
        "AADSTS7000222",
        "AADSTS7000222: The provided client secret keys for app '" + CLIENT + "' are expired. Visit the Azure "
        "portal to create new keys for your app.\r\nTrace ID: x",
        "expired",
        CLIENT,
    ),
    (
        "AADSTS700016",
        "AADSTS700016: Application with identifier '" + CLIENT + "' was not found in the directory 'contoso'. "
        "This can happen if the application has not been installed by the administrator of the tenant.",
        "not found",
        CLIENT,
    ),
    (
        "AADSTS90002",
        "AADSTS90002: Tenant 'bad-tenant' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud.",
        "tenant",
        None,
    ),
    (
        "AADSTS900023",
        "AADSTS900023: Specified tenant identifier 'not a tenant' is neither a valid DNS name, nor a valid "
        "external domain.",
        "tenant",
        None,
    ),
    ("AADSTS123456", "AADSTS123456: Something new from Entra ID.", "sign in", None),
]


@pytest.mark.parametrize(("code", "description", "meaning_word", "principal"), AADSTS_CASES)
def test_aadsts_through_adal(code: str, description: str, meaning_word: str, principal: str | None) -> None:
    err = one(adal(description))
    assert err.code == code
    assert err.aadsts == code
    assert err.category == "auth"
    assert err.wrapper == "autorest"
    assert err.http_status == 401
    assert meaning_word in err.meaning.lower()
    assert err.principal == principal
    assert err.message.startswith(description.split(": ", 1)[1][:30])
    assert "Trace ID" not in err.message


def test_aadsts_through_azidentity() -> None:
    text = azidentity(
        "ClientSecretCredential",
        "401 Unauthorized",
        {
            "error": "invalid_client",
            "error_description": f"AADSTS7000222: The provided client secret keys for app '{CLIENT}' are expired."
            "\r\nTrace ID: 1\r\nCorrelation ID: 2",
            "error_codes": [7000222],
        },
        "https://login.microsoftonline.com/contoso/oauth2/v2.0/token",
    )
    err = one(text)
    assert (err.code, err.category, err.wrapper, err.http_status) == ("AADSTS7000222", "auth", "azcore", 401)
    assert err.principal == CLIENT
    assert err.message == f"The provided client secret keys for app '{CLIENT}' are expired."


def test_imds_identity_not_found_beats_generic_credential_failure() -> None:
    text = azidentity(
        "ManagedIdentityCredential",
        "400 Bad Request",
        {"error": "invalid_request", "error_description": "Identity not found"},
        "http://169.254.169.254/metadata/identity/oauth2/token",
    )
    assert [e.code for e in classify(text)] == ["identity-not-found"]
    assert classify_first(text).category == "auth"


def test_generic_credential_failure_is_a_fallback() -> None:
    text = azidentity(
        "ClientSecretCredential",
        "400 Bad Request",
        {"error": "invalid_request", "error_description": "something else"},
        "https://login.microsoftonline.com/contoso/oauth2/v2.0/token",
    )
    err = one(text)
    assert (err.code, err.category, err.wrapper) == ("credential-auth-failed", "auth", "azcore")


def test_adal_401_without_aadsts_is_auth() -> None:
    text = (
        "azure.BearerAuthorizer#WithAuthorization: Failed to refresh the Token for request to "
        f"https://management.azure.com{LB_ID}: StatusCode=401 -- Original Error: adal: Refresh request failed. "
        "Status Code = '401'. Response body: "
    )
    err = one(text)
    assert (err.code, err.category, err.wrapper, err.http_status) == ("adal-refresh-401", "auth", "autorest", 401)


# --- one example per category ----------------------------------------------------------------------------

CRP_THROTTLE = body(
    "OperationNotAllowed",
    "The server rejected the request because too many requests have been received for this subscription.",
    details=[
        {
            "code": "TooManyRequests",
            "target": "HighCostGetVMScaleSet30Min",
            "message": json.dumps(
                {
                    "operationGroup": "HighCostGetVMScaleSet30Min",
                    "startTime": "2024-01-01T00:00:00+00:00",
                    "endTime": "2024-01-01T00:30:00+00:00",
                    "allowedRequestCount": 900,
                    "measuredRequestCount": 1209,
                }
            ),
        }
    ],
    innerError={"internalErrorCode": "TooManyRequestsReceived"},
)

CATEGORY_CASES = [
    ("auth", "InvalidAuthenticationTokenTenant", retriable(401, body("InvalidAuthenticationTokenTenant", "wrong"))),
    (
        "policy",
        "RequestDisallowedByPolicy",
        retriable(
            403,
            body(
                "RequestDisallowedByPolicy",
                "Resource 'kubernetes-a1' was disallowed by policy. Reasons: 'No public IPs'. See error details.",
            ),
        ),
    ),
    (
        "quota",
        "StaticPublicIPCountLimitReached",
        autorest(
            400,
            "StaticPublicIPCountLimitReached",
            "Cannot create more than 20 public IP addresses with static allocation method for this subscription "
            "in this region.",
        ),
    ),
    (
        "quota",
        "LoadBalancerFrontendIPConfigurationCountLimitReached",
        retriable(
            400,
            body(
                "LoadBalancerFrontendIPConfigurationCountLimitReached",
                "A load balancer cannot have more than 10 FrontendIPConfigurations.",
            ),
        ),
    ),
    ("throttle", "OperationNotAllowed", azcore(429, "Too Many Requests", "OperationNotAllowed", CRP_THROTTLE)),
    (
        "throttle",
        "ResourceRequestsThrottled",
        retriable(429, body("ResourceRequestsThrottled", "Number of requests exceeded the limit."), "30s", True),
    ),
    (
        "transient",
        "GatewayError",
        retriable(
            429,
            json.dumps(
                {"Code": "GatewayError", "Message": "Error occurred in resource provider infrastructure services."}
            ),
            "5s",
            True,
        ),
    ),
    (
        "public-ip",
        "PublicIPAddressCannotBeDeleted",
        autorest(
            400,
            "PublicIPAddressCannotBeDeleted",
            f"Public IP address {PIP_ID} can not be deleted since it is still allocated to resource "
            f"{LB_ID}/frontendIPConfigurations/a1.",
            "network.PublicIPAddressesClient#Delete",
        ),
    ),
    ("public-ip", "PublicIPAddressInUse", retriable(400, body("PublicIPAddressInUse", "in use"))),
    (
        "public-ip",
        "user-ip-not-found",
        SYNC + "user supplied IP Address 20.1.2.3 was not found in resource group MC_rg_aks_eastus",
    ),
    (
        "public-ip",
        "pip-ip-not-found",
        SYNC + "findMatchedPIPByLoadBalancerIP: cannot find public IP with IP address 20.1.2.3 in resource group mc",
    ),
    (
        "public-ip",
        "pip-name-not-found",
        SYNC + "PublicIP from annotation azure-pip-name=web-ip for service default/web doesn't exist",
    ),
    (
        "public-ip",
        "pip-reconcile-not-found",
        SYNC + "reconcilePublicIP for service(default/web): pip(web-ip) not found",
    ),
    (
        "dns-label",
        "InvalidDomainNameLabel",
        retriable(
            400,
            body(
                "InvalidDomainNameLabel",
                "The domain name label web.contoso.com is invalid. It must conform to the following regular "
                "expression: ^[a-z][a-z0-9-]{1,61}[a-z0-9]$.",
            ),
        ),
    ),
    (
        "dns-label",
        "dns-label-in-use",
        SYNC + "ensurePublicIPExists for service(default/web): pip(web-ip) - there is an existing service "
        "default/other consuming the DNS label on the public IP, so the service cannot set the DNS label "
        "annotation with this value",
    ),
    (
        "ilb-subnet",
        "InvalidRequestFormat",
        retriable(
            400,
            body(
                "InvalidRequestFormat",
                "Cannot parse the request.",
                details=[
                    {
                        "code": "MissingJsonReferenceId",
                        "message": "Value for reference id is missing. Path "
                        "properties.frontendIPConfigurations[0].properties.subnet.",
                    }
                ],
            ),
        ),
    ),
    (
        "ilb-subnet",
        "MissingJsonReferenceId",
        autorest(
            400,
            "MissingJsonReferenceId",
            "Value for reference id is missing. Path properties.frontendIPConfigurations[0].properties.subnet.",
        ),
    ),
    ("config", "MissingJsonReferenceId", autorest(400, "MissingJsonReferenceId", "Path properties.backend.")),
    (
        "ilb-subnet",
        "NetworkInterfaceAndInternalLoadBalancerMustUseSameVnet",
        autorest(
            400,
            "NetworkInterfaceAndInternalLoadBalancerMustUseSameVnet",
            "Network interface uses a different vnet than the internal load balancer.",
        ),
    ),
    (
        "subnet",
        "subnet-not-found",
        SYNC + "ensure(default/web): lb(kubernetes-internal) - failed to get subnet: vnet/snet",
    ),
    (
        "conflict",
        "PreconditionFailed",
        retriable(412, body("PreconditionFailed", "Precondition failed: etag mismatch.")),
    ),
    (
        "conflict",
        "frontend-in-use",
        "isFrontendIPConfigUnsafeToDelete: frontend IP configuration with ID /x on LB kubernetes cannot be deleted "
        "because it is being referenced by load balancing rules of other services",
    ),
    (
        "node",
        "instance-not-found",
        'ensure(default/web): lb(kubernetes) - failed to ensure host in pool: "instance not found"',
    ),
    (
        "node",
        "not-vmss-instance",
        "ensure(default/web): backendPoolID(x) - failed to ensure host in pool: not a vmss instance",
    ),
    ("node", "providerid-empty", "providerID is empty, the node is not initialized yet"),
    (
        "node",
        "ReferencedResourceNotProvisioned",
        retriable(
            400,
            body(
                "ReferencedResourceNotProvisioned",
                f"Cannot proceed with operation because resource {MC_RG}/providers/Microsoft.Network/"
                f"networkInterfaces/nic-0/ipConfigurations/ipconfig1 used by resource {LB_ID} is not in Succeeded "
                "state. Resource is in Failed state and the last operation that updated/is updating the resource "
                "is PutNicOperation.",
            ),
        ),
    ),
    (
        "transient",
        "ReferencedResourceNotProvisioned",
        retriable(409, body("ReferencedResourceNotProvisioned", "Resource is still being provisioned.")),
    ),
    (
        "transient",
        "CanceledAndSupersededDueToAnotherOperation",
        retriable(409, body("canceledandsupersededduetoanotheroperation", "x")),
    ),
    ("config", "InvalidApiVersionParameter", retriable(400, body("InvalidApiVersionParameter", "bad api-version"))),
    (
        "config",
        "SecurityRuleParametersMissing",
        autorest(
            400,
            "SecurityRuleParametersMissing",
            "Required security rule parameters are missing for security rule with Id: /x. Security rule must "
            "specify SourceAddressPrefixes, SourceAddressPrefix, or SourceApplicationSecurityGroups.",
        ),
    ),
    (
        "config",
        "multi-slb-config-missing",
        'multiple standard load balancers are enabled but no configuration named "aks" is found',
    ),
    (
        "config",
        "invalid-source-ranges",
        'Found invalid spec.LoadBalancerSourceRanges ["10.0.0.0/33"], ignoring and adding a default DenyAll rule '
        "in security group.",
    ),
    ("config", "no-credentials", None),
    ("protocol", "sctp-internal-only", SYNC + "SCTP is only supported on standard loadbalancer in internal mode"),
    ("protocol", "protocol-unsupported", "only TCP, UDP and SCTP are supported for Azure LoadBalancers"),
    ("quota", "nsg-priorities-exhausted", SYNC + "reconcileSecurityGroup: securityGroup priorities are exhausted"),
    ("throttle", "provider-throttled", SYNC + "throttled due to too many requests"),
    ("throttle", "provider-rate-limited", "azure - cloud provider rate limited(read) for operation:GetVMSS"),
    ("unknown", "SomethingBrandNew", retriable(400, body("SomethingBrandNew", "A brand new failure."))),
]


@pytest.mark.parametrize(("category", "code", "text"), [c for c in CATEGORY_CASES if c[2] is not None])
def test_category(category: str, code: str, text: str) -> None:
    err = classify_first(text)
    assert err is not None
    assert (err.code, err.category) == (code, category)
    assert err.message


def test_no_credentials_is_auth() -> None:
    err = one("failed to get instance: no credentials provided for Azure cloud provider")
    assert (err.code, err.category, err.wrapper) == ("no-credentials", "auth", "provider")


def test_every_category_is_exercised() -> None:
    covered = {c for c, _, _ in CATEGORY_CASES} | {"permission", "lock", "auth"}
    assert covered == CATEGORIES


# --- subtleties ------------------------------------------------------------------------------------------


def test_crp_throttle_fields() -> None:
    err = one(azcore(429, "Too Many Requests", "OperationNotAllowed", CRP_THROTTLE, url=f"{MC_RG}/x"))
    assert err.category == "throttle"
    assert err.http_status == 429
    assert err.operation_group == "HighCostGetVMScaleSet30Min"
    assert err.limit == 900
    assert err.message.startswith("The server rejected the request")


def test_operation_not_allowed_without_too_many_requests_is_not_throttle() -> None:
    err = one(retriable(409, body("OperationNotAllowed", "Operation not allowed since the VM is deallocated.")))
    assert err.category == "conflict"


def test_operation_not_allowed_quota() -> None:
    message = (
        "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. "
        "Additional details - Location: eastus, Current Limit: 10, Current Usage: 8, Additional Required: 4."
    )
    err = one(autorest(409, "OperationNotAllowed", message, "compute.VirtualMachineScaleSetsClient#Update"))
    assert (err.category, err.quota, err.limit) == ("quota", "Total Regional Cores", 10)


def test_gateway_error_429_is_transient_not_throttle() -> None:
    raw = json.dumps(
        {"Code": "GatewayError", "Message": "Error occurred in resource provider infrastructure services."}
    )
    err = one(retriable(429, raw, "5s", True))
    assert (err.category, err.http_status, err.retry_after) == ("transient", 429, 5.0)


def test_public_ip_quota_limit() -> None:
    message = "Cannot create more than 10 public IP addresses for this subscription in this region."
    err = one("CreateOrUpdatePublicIPAddress " + retriable(400, body("PublicIPCountLimitReached", message)))
    assert (err.category, err.quota, err.limit) == ("quota", "PublicIPCountLimitReached", 10)


def test_lb_rule_limit() -> None:
    text = (
        SYNC + "selectLoadBalancer: cluster(kubernetes) service(default/web) isInternal(false) -  all available "
        "load balancers have exceeded maximum rule limit 250, vmSetNames ([pool1 pool2])"
    )
    err = one(text)
    assert (err.code, err.category, err.limit) == ("lb-rule-limit", "quota", 250)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (retriable(429, body("TooManyRequests", "slow down"), "12s", True), 12.0),
        (retriable(429, body("TooManyRequests", "slow down"), "1m30s", True), 90.0),
        (azcore(429, "Too Many Requests", "TooManyRequests", body("TooManyRequests", "x")) + "Retry-After: 30", 30.0),
        (
            retriable(
                429,
                body(
                    "SubscriptionRequestsThrottled",
                    "Number of requests for subscription 's' and operation 'GET' exceeded the limit of '50' for time "
                    "interval '00:05:00'. Please try again after '372' seconds.",
                ),
            ),
            372.0,
        ),
        (
            autorest(
                429,
                "RetryableError",
                "Operation DeleteRouteOperation is updating resource /x. The call can be retried in 11 seconds.",
            ),
            11.0,
        ),
        (retriable(403, body("AuthorizationFailed", AUTHZ_MESSAGE)), None),
    ],
)
def test_retry_after(text: str, seconds: float | None) -> None:
    assert classify_first(text).retry_after == seconds


def test_throttle_limit_from_message() -> None:
    text = retriable(
        429,
        body(
            "SubscriptionRequestsThrottled",
            "Number of requests exceeded the limit of '50' for time interval '00:05:00'. Please try again after "
            "'372' seconds.",
        ),
    )
    err = one(text)
    assert (err.category, err.limit, err.quota) == ("throttle", 50, None)


def test_details_codes_do_not_become_separate_causes() -> None:
    text = (
        autorest(
            400,
            "RetryableError",
            "A retryable error occurred.",
        )
        + ' Details=[{"code":"RetryableErrorDueToAnotherOperation","message":"updating"}]'
    )
    assert [e.code for e in classify(text)] == ["RetryableError"]


def test_dedupe_by_code_across_an_aggregated_error() -> None:
    parts = [
        retriable(403, body("AuthorizationFailed", AUTHZ_MESSAGE)),
        retriable(403, body("AuthorizationFailed", "second copy")),
        retriable(409, body("ScopeLocked", "locked")),
    ]
    found = classify("[" + ", ".join(parts) + "]")
    assert [e.code for e in found] == ["AuthorizationFailed", "ScopeLocked"]
    assert found[0].message == AUTHZ_MESSAGE
    assert found[1].http_status == 409


def test_arm_cause_and_provider_context_are_both_reported() -> None:
    subnet = f"{SUB}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet"
    message = AUTHZ_MESSAGE.replace("loadBalancers/read", "virtualNetworks/subnets/read").replace(LB_ID, subnet)
    text = (
        SYNC
        + "ensure(default/web): lb(kubernetes-internal) - failed to get subnet: vnet/snet: "
        + retriable(403, body("AuthorizationFailed", message))
    )
    found = classify(text)
    assert [(e.code, e.category) for e in found] == [
        ("subnet-not-found", "subnet"),
        ("AuthorizationFailed", "permission"),
    ]
    assert found[1].scope == subnet


def test_fallback_signature_yields_to_arm_code() -> None:
    text = "failed to ensure host in pool: " + retriable(
        400, body("ReferencedResourceNotProvisioned", "Resource is in Failed state. Cannot proceed.")
    )
    assert [e.code for e in classify(text)] == ["ReferencedResourceNotProvisioned"]
    assert [e.code for e in classify("failed to ensure host in pool: boom")] == ["host-pool-failed"]


def test_legacy_timeout_is_a_fallback_hint() -> None:
    err = one("Error deleting load balancer (will retry): timed out waiting for the condition")
    assert (err.code, err.category) == ("lb-sync-timeout", "transient")
    assert classify("timed out waiting for the condition") == []


def test_codes_are_canonicalised() -> None:
    err = one(retriable(409, body("canceledandsupersededduetoanotheroperation", "superseded")))
    assert err.code == "CanceledAndSupersededDueToAnotherOperation"


def test_unknown_code_keeps_code_and_message() -> None:
    err = one(autorest(400, "ContosoWidgetBroke", "The widget broke."))
    assert (err.code, err.category, err.message, err.http_status) == (
        "ContosoWidgetBroke",
        "unknown",
        "The widget broke.",
        400,
    )
    assert err.meaning


def test_unknown_limit_code_falls_to_pattern() -> None:
    err = one(retriable(400, body("InboundNatRuleCountLimitReached", "Cannot have more than 5 rules.")))
    assert (err.category, err.limit) == ("quota", 5)


# --- robustness ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Ensured load balancer",
        "Ensuring load balancer",
        "Updated load balancer with new hosts",
        "Deleted load balancer",
        "I0101 00:00:00.000000 1 azure_loadbalancer.go:100] reconcileLoadBalancer(default/web): finished",
        "I0101 00:00:00.000000 1 round_trippers.go:553] GET https://10.0.0.1:443/api/v1/nodes 200 OK in 3 milliseconds",
        "Normal  EnsuredLoadBalancer  2m  service-controller  Ensured load balancer",
        '{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}',
        "exit code 0",
        "Retriable: false, RetryAfter: 0s, HTTPStatusCode: 500, RawError: ",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert classify(text) == []
    assert classify_first(text) is None


@pytest.mark.parametrize(
    "text",
    [
        'Retriable: false, RetryAfter: 0s, HTTPStatusCode: 403, RawError: {"error":{"code":"Authoriz',
        'Retriable: false, RetryAfter: 0s, HTTPStatusCode: 0, RawError: {{{{"error":"code",, \\\\\\" ]]]',
        'RESPONSE 403: 403 Forbidden\nERROR CODE UNAVAILABLE\n{"message": "no code here"}',
        '{"error":{"code":',
        '\\\\\\"code\\\\\\":\\\\\\"',
        "AADSTS",
        'Code="',
        "\x00\x01\x02 code \udcff",
    ],
)
def test_garbage_never_raises_and_yields_no_half_codes(text: str) -> None:
    for err in classify(text):
        assert err.code not in ("Authoriz", "")


def test_truncated_body_keeps_code_and_partial_message() -> None:
    text = SYNC + retriable(403, body("AuthorizationFailed", AUTHZ_MESSAGE)[:150])
    err = one(text)
    assert err.code == "AuthorizationFailed"
    assert err.principal == CLIENT
    assert AUTHZ_MESSAGE.startswith(err.message)


def test_random_mutations_never_raise() -> None:
    rng = random.Random(1234)
    seeds = [*AUTHZ_WRAPPED.values(), CRP_THROTTLE, adal("AADSTS7000215: bad secret")]
    alphabet = "{}[]\":,\\' \nAADSTS0123456789codeCode=RESPONSE"
    for _ in range(400):
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 20)):
            i = rng.randrange(len(chars))
            op = rng.randrange(3)
            if op == 0:
                del chars[i]
            elif op == 1:
                chars.insert(i, rng.choice(alphabet))
            else:
                chars = chars[: rng.randrange(1, len(chars) + 1)]
                break
        for err in classify("".join(chars)):
            assert err.category in CATEGORIES


def test_ordinary_lines_yield_nothing() -> None:
    lines = [
        f"I0101 00:00:{i % 60:02d}.000000 1 azure_loadbalancer.go:{i}] reconcileLoadBalancer for service "
        f"default/web-{i}: lb(kubernetes) finished with {i} rules"
        for i in range(5000)
    ]
    assert not any(classify(line) for line in lines)


# --- knowledge file --------------------------------------------------------------------------------------

# Every code named in the error catalogue the tool is built from (domain research, section 3.4).
CATALOGUE_CODES = [
    "AuthorizationFailed",
    "LinkedAuthorizationFailed",
    "RequestDisallowedByPolicy",
    "ScopeLocked",
    "PublicIPCountLimitReached",
    "StaticPublicIPCountLimitReached",
    "LoadBalancerFrontendIPConfigurationCountLimitReached",
    "PublicIPAddressCannotBeDeleted",
    "PublicIPAddressInUse",
    "InvalidDomainNameLabel",
    "SecurityRuleParametersMissing",
    "SecurityRuleParametersMissingForPortRanges",
    "SecurityRuleParametersUnsupportedForPortRanges",
    "SecurityRuleParameterContainsUnsupportedValue",
    "PreconditionFailed",
    "PreconditionFailedEtagMismatch",
    "RetryableError",
    "RetryableErrorDueToAnotherOperation",
    "CanceledAndSupersededDueToAnotherOperation",
    "ReferencedResourceNotProvisioned",
    "ParentResourceNotFound",
    "NotFound",
    "NetworkInterfaceAndInternalLoadBalancerMustUseSameVnet",
    "InvalidApiVersionParameter",
    "InvalidRequestFormat",
    "MissingJsonReferenceId",
    "OperationNotAllowed",
    "SubscriptionRequestsThrottled",
    "ResourceRequestsThrottled",
    "GatewayError",
]
CATALOGUE_AADSTS = ["7000215", "7000222", "700016", "90002", "900023"]
CATALOGUE_SIGNATURES = [
    "no-credentials",
    "identity-not-found",
    "adal-refresh-401",
    "user-ip-not-found",
    "pip-ip-not-found",
    "pip-name-not-found",
    "pip-reconcile-not-found",
    "expected-ip-not-found",
    "dns-label-in-use",
    "subnet-not-found",
    "instance-not-found",
    "not-vmss-instance",
    "providerid-empty",
    "providerid-malformed",
    "nsg-priorities-exhausted",
    "lb-rule-limit",
    "provider-throttled",
    "provider-rate-limited",
    "sctp-internal-only",
    "protocol-unsupported",
    "multi-slb-config-missing",
    "invalid-source-ranges",
    "invalid-allowed-ip-ranges",
    "conflicting-source-ranges",
    "frontend-in-use",
    "concurrent-request",
    "operation-preempted",
    "vmss-vm-deleting",
    "vmss-vm-not-active",
]


def test_knowledge_covers_the_catalogue() -> None:
    data = knowledge.load("error_codes")
    assert set(CATALOGUE_CODES) <= set(data["codes"])
    assert set(CATALOGUE_AADSTS) <= {str(k) for k in data["aadsts"]}
    assert set(CATALOGUE_SIGNATURES) <= {s["id"] for s in data["signatures"]}


def test_knowledge_is_well_formed() -> None:
    data = knowledge.load("error_codes")
    entries = [*data["codes"].values(), *data["signatures"], *data["code_patterns"]]
    entries += [v for c in data["codes"].values() for v in c.get("variants", ())]
    for entry in entries:
        assert entry["category"] in CATEGORIES, entry
        assert entry["meaning"], entry
    for regex in [e.get("match") for e in entries] + [e.get("when") for e in entries]:
        if regex:
            re.compile(regex)
    for sig in data["signatures"]:
        assert sig["contains"] and all(c == c.lower() for c in sig["contains"]), sig["id"]
    ids = [s["id"] for s in data["signatures"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("sig", knowledge.load("error_codes")["signatures"], ids=lambda s: s["id"])
def test_every_signature_fires_on_its_own_text(sig: dict[str, object]) -> None:
    contains = sig["contains"]
    assert isinstance(contains, list)
    text = {
        "adal-refresh-401": "adal: Refresh request failed. Status Code = '401'. Response body: ",
        "user-ip-not-found": "user supplied IP Address 1.2.3.4 was not found in resource group rg",
        "pip-name-not-found": "PublicIP from annotation azure-pip-name=x for service default/web doesn't exist",
        "pip-reconcile-not-found": "reconcilePublicIP for service(default/web): pip(x) not found",
        "resource-failed-state": "Cannot proceed: resource x is not in Succeeded state. Resource is in Failed state",
        "lb-sync-timeout": "Error deleting load balancer (will retry): timed out waiting for the condition",
    }.get(str(sig["id"]), f"prefix {contains[0]} suffix")
    assert [e.code for e in classify(text)] == [sig["id"]]
