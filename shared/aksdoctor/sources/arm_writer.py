"""The Azure write side of fix actions: planned ARM and Microsoft Graph requests sent unchanged through azure-core
pipelines (the same transport, token cache and bounded retry as the live reads).

Writes retry only when Azure says it did not process them: a 429, waiting for its Retry-After within the run's
wait budget. A 5xx or a lost response may have done the write, and repeating a POST `addPassword` would make a
second secret, so those are reported, never retried. A refused write (403) names the role it needs
(knowledge/fixes.yaml `write_permissions`). Who the writes are made as comes from the access token's claims
(decoded, not verified: it is our own token), so the audit can name the Azure identity; the token itself is
never printed or logged.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

from aksdoctor import knowledge
from aksdoctor.errors import UnreachableError
from aksdoctor.fixes.base import ARM, GRAPH, Identity, Request, WriteError
from aksdoctor.sources.arm_clouds import Cloud, cloud_named
from aksdoctor.sources.arm_pipeline import (
    ARM as ARM_SERVICE,
)
from aksdoctor.sources.arm_pipeline import (
    GRAPH as GRAPH_SERVICE,
)
from aksdoctor.sources.arm_pipeline import (
    BudgetedRetryPolicy,
    CachedCredential,
    WaitBudget,
    _first_line,
    make_transport,
)
from aksdoctor.sources.azure_live import DEFAULT_MAX_WAIT, AzureLiveSource, _default_credential

_SERVICE = {ARM: ARM_SERVICE, GRAPH: GRAPH_SERVICE}


class SharedCredential(CachedCredential):
    """One sign-in for a run's reads and writes, remembering the tokens it handed out, so the audit can name the
    identity of a plan (which must not send a request) from the token its reads already got."""

    def __init__(self, factory: Callable[[], Any]):
        super().__init__(factory)
        self._issued: dict[tuple[str, ...], Any] = {}

    def get_token(self, *scopes: str, claims: str | None = None, **kwargs: Any) -> Any:
        token = super().get_token(*scopes, claims=claims, **kwargs)
        self._issued[scopes] = token
        return token

    def issued(self, scope: str) -> Any:
        """The last token handed out for `scope`, or None; never asks for one."""
        return self._issued.get((scope,))


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token, decoded without verifying it; {} when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def identity_from_claims(api: str, claims: Mapping[str, Any], via: str) -> Identity:
    """A user by name (upn), an application by app id; with the object id Azure RBAC knows it by."""
    oid, app_id = claims.get("oid"), claims.get("appid") or claims.get("azp")
    name = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username")
    who = str(name or (f"application {app_id}" if app_id else "") or (f"object {oid}" if oid else "") or "unknown")
    ids = [f"{k} {v}" for k, v in (("oid", oid), ("appid", app_id), ("tid", claims.get("tid"))) if v]
    return Identity(api, f"{who} ({', '.join(ids)})" if ids else who, via)


class WriteRetryPolicy(BudgetedRetryPolicy):
    """Retries a write only on 429 (Azure did not process it), honouring Retry-After within the wait budget; a
    response lost after sending is not retried either (the write may have happened)."""

    def __init__(self, budget: WaitBudget):
        super().__init__(budget, retry_read=0)

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        return response.http_response.status_code == 429 and super().is_retry(settings, response)


class ArmWriter:
    """Sends planned requests of one API (ARM or Graph) through an azure-core pipeline; see `AzureSession`."""

    def __init__(
        self,
        api: str,
        credential: SharedCredential,
        *,
        cloud: Cloud,
        url: str,
        transport: Any,
        budget: WaitBudget,
    ):
        if api not in _SERVICE:
            raise ValueError(f"ArmWriter sends ARM or Graph requests, not {api}")
        self.api = api
        self.service = _SERVICE[api]
        self.credential = credential
        self.url = url.rstrip("/")
        self.scope = cloud.arm_scope if api == ARM else cloud.graph_scope
        self.budget = budget
        self._transport = transport
        self._client: Any = None

    def execute(self, request: Request) -> Any:
        """One request, its body sent as planned; the response body parsed (None when empty). A GET may be sent
        too (actions re-read what they are about to change). Refusals are WriteError; no credentials, a 401 and
        network failures are UnreachableError."""
        from azure.core.rest import HttpRequest

        if request.api != self.api:
            raise WriteError(f"not a {self.service} request: {request.line}")
        headers = {"Accept": "application/json"}
        content = None
        if request.body is not None:
            headers["Content-Type"] = request.content_type
            content = json.dumps(request.body)
        http = HttpRequest(
            request.method, self.url + request.path, params=dict(request.query), headers=headers, content=content
        )
        try:
            response = self._pipeline().send_request(http)
        except ClientAuthenticationError as exc:
            raise UnreachableError(f"cannot sign in to {self.service}: {_first_line(exc)}") from None
        except ServiceRequestError as exc:
            raise UnreachableError(f"cannot reach {self.service} at {self.url}: {_first_line(exc)}") from None
        except ServiceResponseError as exc:
            raise UnreachableError(
                f"lost the connection to {self.service} at {self.url} after sending {request.line}: it may or may "
                f"not have been applied ({_first_line(exc)}); re-run the plan to see"
            ) from None
        if 200 <= response.status_code <= 299:
            try:
                return response.json() if response.content else None
            except ValueError:
                return None
        raise self._refused(request, response)

    def _refused(self, request: Request, response: Any) -> Exception:
        status = response.status_code
        code, message = _error_of(response)
        said = f"{code}: {message}" if message else code
        if status == 401:
            return UnreachableError(
                f"{self.service} rejected the credentials (401 {code}); sign in again (az login) and retry"
            )
        if status == 403:
            needs = needed_permission(request)
            return WriteError(f"HTTP 403 {said}" + (f"; this needs {needs}" if needs else ""), 403)
        if status == 429:
            after = response.headers.get("Retry-After") or "?"
            return WriteError(
                f"throttled by {self.service} (429, retry after {after} s) beyond the {self.budget.seconds:g} s this "
                "run may wait: not applied; try again later",
                429,
            )
        return WriteError(f"HTTP {status} {said}", status)

    def identities(self, *, probe: bool) -> list[Identity]:
        """From the access token's claims: with `probe`, a token is fetched if needed; without, only one the run's
        reads already got is used (no request)."""
        via = f"{self.service} access token claims"
        if probe:
            try:
                token = self.credential.get_token(self.scope)
            except ClientAuthenticationError as exc:
                return [Identity(self.api, "unknown", f"cannot sign in: {_first_line(exc)}")]
        else:
            token = self.credential.issued(self.scope)
            if token is None:
                return [Identity(self.api, "unknown", "not signed in yet (the plan read nothing from it)")]
        return [identity_from_claims(self.api, token_claims(token.token), via)]

    def _pipeline(self) -> Any:
        if self._client is None:
            from azure.core import PipelineClient
            from azure.core.pipeline import policies

            if self.api == ARM:
                from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

                auth: Any = ARMChallengeAuthenticationPolicy(self.credential, self.scope)
            else:
                auth = policies.BearerTokenCredentialPolicy(self.credential, self.scope)
            self._client = PipelineClient(
                self.url,
                policies=[
                    policies.RequestIdPolicy(),
                    policies.UserAgentPolicy("aksdoctor"),
                    WriteRetryPolicy(self.budget),
                    auth,
                    policies.HttpLoggingPolicy(),  # URLs and allowed headers only: never bodies (secrets)
                ],
                transport=self._transport,
            )
        return self._client


@dataclass
class AzureSession:
    """One credential, transport and retry budget for the Azure reads and writes of one fix run.

    `source()` is a new live source on every call (a re-check must not see the lists read before the change);
    `writers()` is the ARM and the Graph writer. `base_url`, `graph_url` and `connection_verify` point both
    elsewhere (tests: a loopback HTTPS fake).
    """

    cloud: Cloud = field(default_factory=lambda: cloud_named("AzureCloud"))
    credential: Any = None  # any TokenCredential; None: DefaultAzureCredential for the cloud, on first use
    base_url: str | None = None
    graph_url: str | None = None
    connection_verify: bool | str | None = None
    max_wait: float = DEFAULT_MAX_WAIT
    subscription_id: str | None = None

    def __post_init__(self) -> None:
        given = self.credential
        self.shared = SharedCredential(lambda: given if given is not None else _default_credential(self.cloud))
        self._budget = WaitBudget(self.max_wait)
        self._writers: dict[str, ArmWriter] | None = None

    def source(self) -> AzureLiveSource:
        return AzureLiveSource(
            self.shared,
            self.subscription_id,
            cloud=self.cloud,
            base_url=self.base_url,
            graph_url=self.graph_url,
            connection_verify=self.connection_verify,
            max_wait=self.max_wait,
        )

    def writers(self) -> dict[str, ArmWriter]:
        if self._writers is None:
            transport = make_transport(self.connection_verify)
            urls = {ARM: self.base_url or self.cloud.arm, GRAPH: self.graph_url or self.cloud.graph}
            self._writers = {
                api: ArmWriter(api, self.shared, cloud=self.cloud, url=url, transport=transport, budget=self._budget)
                for api, url in urls.items()
            }
        return self._writers


def needed_permission(request: Request) -> str:
    """What a refused request needs, from knowledge/fixes.yaml; "" when not known."""
    for rule in knowledge.load("fixes")["write_permissions"]:
        if rule["api"] == request.api and re.search(rule["path"], request.path, re.I):
            return str(rule["needs"])
    return ""


def _error_of(response: Any) -> tuple[str, str]:
    """(code, message) of an ARM or Graph error body: {"error": {"code", "message"}}."""
    try:
        error = (response.json() or {}).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = str(error.get("code") or response.reason or response.status_code)
    return code, " ".join(str(error.get("message") or "").split())
